"""Helpers shared by the experiments: runs, CSVs, summaries, markdown tables, plots.

Nothing here knows about a particular experiment: an experiment produces a list
of flat dict rows (one per run), and these helpers write them, aggregate them
over seeds and plot them.
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing as mp
import os
import platform
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ..losses import LOSSES, canonical_name

# --------------------------------------------------------------------------- #
# running
# --------------------------------------------------------------------------- #


def set_threads(n: int = 1) -> None:
    """Pin torch to ``n`` intra-op threads (experiments share small machines)."""
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set in this process
        pass


def _init_worker(threads: int) -> None:
    set_threads(threads)


def run_tasks(
    fn: Callable[[Any], dict],
    tasks: Sequence[Any],
    *,
    workers: int = 1,
    threads: int = 1,
    desc: str = "runs",
    progress: bool = True,
) -> list[dict]:
    """``[fn(t) for t in tasks]`` with a tqdm bar, optionally over a process pool.

    Workers are spawned (never forked: a forked torch process can deadlock in
    OpenMP) and each is pinned to ``threads`` threads. Results keep task order.
    ``fn`` must be a module-level function (picklable).
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=desc, disable=not progress, dynamic_ncols=True)
    results: list[dict] = []
    try:
        if workers <= 1:
            set_threads(threads)
            for task in tasks:
                results.append(fn(task))
                bar.update(1)
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(threads,)) as pool:
                for row in pool.imap(fn, tasks, chunksize=1):
                    results.append(row)
                    bar.update(1)
    finally:
        bar.close()
    return results


# The TrainConfig options of a training that stays in this process (self-checks, tests, benchmarks):
# no output directory, saved model, progress bar or TensorBoard; a log row every step.
IN_MEMORY_RUN = dict(output_dir=None, save_final_model=False, progress=False, tensorboard="off", logging_steps=1)


def in_memory_config(**options):
    """A :class:`~sympo_ext.train.config.TrainConfig` of :data:`IN_MEMORY_RUN` and ``options``
    (which take precedence)."""
    from ..train.config import TrainConfig

    return TrainConfig(**{**IN_MEMORY_RUN, **options})


def machine_info() -> str:
    """One line describing the CPU / GPU / torch this ran on (for results documents; the
    thread count is this process's, workers set their own)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs visible, {gpu}; torch {torch.__version__}, "
        f"Python {platform.python_version()}"
    )


# --------------------------------------------------------------------------- #
# CSV and summaries
# --------------------------------------------------------------------------- #


def write_csv(rows: Sequence[dict], path: str | os.PathLike, columns: Sequence[str] | None = None) -> Path:
    """Write dict rows to a CSV (columns: ``columns`` or the first row's keys, in order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def read_csv(path: str | os.PathLike) -> list[dict]:
    """Read a CSV written by :func:`write_csv`; numeric-looking fields become float."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed = {}
            for key, value in row.items():
                try:
                    parsed[key] = float(value)
                except (TypeError, ValueError):
                    parsed[key] = value
            out.append(parsed)
    return out


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, sample std (0 for one value), n) of the finite values; NaNs for none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return math.nan, math.nan, 0
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return statistics.fmean(vals), std, len(vals)


def summarize(rows: Sequence[dict], group_by: Sequence[str], metrics: Sequence[str]) -> list[dict]:
    """Aggregate rows over everything not in ``group_by`` (typically the seeds).

    Returns one dict per group (in first-seen order) with the group keys and,
    per metric, ``<metric>_mean``, ``<metric>_std`` and ``n``.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in group_by), []).append(row)
    out = []
    for key, members in groups.items():
        entry = dict(zip(group_by, key))
        for metric in metrics:
            mean, std, n = mean_std(m[metric] for m in members)
            entry[f"{metric}_mean"] = mean
            entry[f"{metric}_std"] = std
        entry["n"] = len(members)
        out.append(entry)
    return out


def fmt_mean_std(mean: float, std: float, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def pivot_markdown(
    summary: Sequence[dict],
    *,
    row_key: str,
    col_key: str,
    metric: str,
    row_order: Sequence[Any] | None = None,
    col_order: Sequence[Any] | None = None,
    row_label: Callable[[Any], str] = str,
    col_label: Callable[[Any], str] = str,
    digits: int = 3,
    bold_best: bool = True,
) -> str:
    """A markdown table of ``metric`` (mean ± std) with one row per ``row_key`` value and
    one column per ``col_key`` value; the best mean of each column is bold."""
    cells = {(s[row_key], s[col_key]): (s[f"{metric}_mean"], s[f"{metric}_std"]) for s in summary}
    rows = list(row_order) if row_order is not None else list(dict.fromkeys(s[row_key] for s in summary))
    cols = list(col_order) if col_order is not None else list(dict.fromkeys(s[col_key] for s in summary))
    best = {}
    for c in cols:
        means = [cells[(r, c)][0] for r in rows if (r, c) in cells and math.isfinite(cells[(r, c)][0])]
        best[c] = max(means) if means else None
    lines = ["| " + " | ".join([row_key, *(col_label(c) for c in cols)]) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        parts = [row_label(r)]
        for c in cols:
            if (r, c) not in cells:
                parts.append("")
                continue
            mean, std = cells[(r, c)]
            text = fmt_mean_std(mean, std, digits)
            is_best = best[c] is not None and math.isfinite(mean) and round(mean, digits) == round(best[c], digits)
            if bold_best and is_best:
                text = f"**{text}**"
            parts.append(text)
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


def paired_markdown(
    rows: Sequence[dict],
    *,
    baseline: str,
    metric: str,
    line_key: str = "loss",
    col_key: str = "noise",
    unit_key: str = "seed",
    lines: Sequence[Any] | None = None,
    col_order: Sequence[Any] | None = None,
    row_label: Callable[[Any], str] = str,
    digits: int = 3,
) -> str:
    """Paired comparison against ``baseline``: per cell, the mean ± std over units (seeds) of
    ``metric(line) - metric(baseline)`` on the same unit, and in how many units it is > 0."""
    val = {(r[line_key], r[col_key], r[unit_key]): float(r[metric]) for r in rows}
    lines = list(lines) if lines is not None else list(dict.fromkeys(r[line_key] for r in rows))
    cols = list(col_order) if col_order is not None else list(dict.fromkeys(r[col_key] for r in rows))
    units = list(dict.fromkeys(r[unit_key] for r in rows))
    out = ["| " + " | ".join([f"{line_key} - {baseline}", *map(str, cols)]) + " |", "|---" * (len(cols) + 1) + "|"]
    for line in lines:
        if line == baseline:
            continue
        parts = [row_label(line)]
        for c in cols:
            diffs = [
                val[(line, c, u)] - val[(baseline, c, u)]
                for u in units
                if (line, c, u) in val and (baseline, c, u) in val
            ]
            mean, std, n = mean_std(diffs)
            wins = sum(d > 0 for d in diffs)
            parts.append(f"{mean:+.{digits}f} ± {std:.{digits}f} ({wins}/{n})" if n else "")
        out.append("| " + " | ".join(parts) + " |")
    return "\n".join(out)


def metric_tables(summary, metrics, labels: dict, losses, noises, *, row_label, col_label=str, bold_best) -> list[str]:
    """Markdown parts: per metric, a heading (``labels[metric]``) and its :func:`pivot_markdown`
    table, one row per loss and one column per noise setting (``bold_best(metric)``: bold the best?)."""
    axes = dict(row_key="loss", col_key="noise", row_order=losses, col_order=noises)
    parts = []
    for metric in metrics:
        table = pivot_markdown(
            summary, metric=metric, row_label=row_label, col_label=col_label, bold_best=bold_best(metric), **axes
        )
        parts += [f"\n### {labels[metric]} (`{metric}`)\n", table]
    return parts


def paired_tables(rows, metrics, losses, noises, heading: str, explanation: str, *, row_label) -> list[str]:
    """Markdown parts: per metric, a heading, ``explanation`` and the :func:`paired_markdown` table
    of each loss against logistic (DPO's loss), one column per noise setting."""
    parts = []
    for metric in metrics:
        table = paired_markdown(
            rows, baseline="logistic", metric=metric, lines=losses, col_order=noises, row_label=row_label
        )
        parts += [f"\n### {heading}: `{metric}`\n", explanation, table]
    return parts


# --------------------------------------------------------------------------- #
# plots
# --------------------------------------------------------------------------- #

_FAMILY_STYLE = {
    # symmetric losses: solid, thick, filled markers; others: dashed / dotted, thin
    "symmetric": dict(linestyle="-", linewidth=2.4, marker="o", markersize=6),
    "classic": dict(linestyle="--", linewidth=1.3, marker="x", markersize=5),
    "robust baseline": dict(linestyle=":", linewidth=1.6, marker="s", markersize=4),
}
_SYMMETRIC_COLORS = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2"]
_OTHER_COLORS = ["#1f77b4", "#2ca02c", "#17becf", "#9467bd", "#7f7f7f", "#bcbd22", "#393b79", "#637939"]


def loss_styles(losses: Sequence[str]) -> dict[str, dict]:
    """Matplotlib kwargs per loss: symmetric losses in warm colours with solid thick
    lines, classic losses dashed, robust baselines (cDPO/rDPO/IPO) dotted."""
    styles = {}
    sym_i = other_i = 0
    for name in losses:
        family = LOSSES[name].family if name in LOSSES else "classic"
        style = dict(_FAMILY_STYLE.get(family, _FAMILY_STYLE["classic"]))
        if family == "symmetric":
            style["color"] = _SYMMETRIC_COLORS[sym_i % len(_SYMMETRIC_COLORS)]
            sym_i += 1
        else:
            style["color"] = _OTHER_COLORS[other_i % len(_OTHER_COLORS)]
            other_i += 1
        style["label"] = f"{name} (symmetric)" if family == "symmetric" else name
        styles[name] = style
    return styles


def plot_lines(
    summary: Sequence[dict],
    *,
    x_key: str,
    line_key: str,
    metrics: Sequence[tuple[str, str]],
    path: str | os.PathLike,
    x_values: Sequence[Any] | None = None,
    x_labels: Sequence[str] | None = None,
    x_label: str = "",
    title: str = "",
    lines: Sequence[str] | None = None,
    hline: dict[str, float] | None = None,
) -> Path:
    """One panel per (metric, y-label); in each, one line per ``line_key`` value
    (mean with a ±std band) against ``x_key``. Categorical x when ``x_labels`` is given.
    ``hline`` maps metric -> value of a reference line (e.g. an oracle)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = list(lines) if lines is not None else list(dict.fromkeys(s[line_key] for s in summary))
    xs = list(x_values) if x_values is not None else sorted(dict.fromkeys(s[x_key] for s in summary))
    styles = loss_styles(lines)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.2), squeeze=False)
    for ax, (metric, ylabel) in zip(axes[0], metrics):
        for name in lines:
            pts = {s[x_key]: s for s in summary if s[line_key] == name}
            px = [i if x_labels is not None else x for i, x in enumerate(xs) if x in pts]
            mean = [pts[x][f"{metric}_mean"] for x in xs if x in pts]
            std = [pts[x][f"{metric}_std"] for x in xs if x in pts]
            if not px:
                continue
            style = styles[name]
            ax.plot(px, mean, **style)
            ax.fill_between(
                px,
                [m - s for m, s in zip(mean, std)],
                [m + s for m, s in zip(mean, std)],
                color=style["color"],
                alpha=0.10 if style["linestyle"] != "-" else 0.18,
                linewidth=0,
            )
        if hline and metric in hline and math.isfinite(hline[metric]):
            ax.axhline(hline[metric], color="black", linewidth=0.8, linestyle="-.", label="oracle (digit order)")
        if x_labels is not None:
            ax.set_xticks(range(len(xs)))
            ax.set_xticklabels(list(x_labels), rotation=20)
        ax.set_xlabel(x_label)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- #
# the command line of a grid experiment (losses x noise x seeds)
# --------------------------------------------------------------------------- #


def grid_parser(
    prog: str, description: str, *, out: str, quick_help: str, seeds_help: str, losses_help: str, noise_type, noise_help
) -> argparse.ArgumentParser:
    """The flags every grid experiment has first: ``--quick``, ``--out``, ``--seeds``, ``--losses``
    (any loss name or alias) and ``--noise`` (values of ``noise_type``)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=out, help="output directory (CSV, summary, plots)")
    p.add_argument("--seeds", type=int, nargs="+", help=seeds_help)
    p.add_argument("--losses", nargs="+", type=canonical_name, metavar="LOSS", help=losses_help)
    p.add_argument("--noise", nargs="+", type=noise_type, help=noise_help)
    return p


def add_run_flags(p: argparse.ArgumentParser, *, threads_help: str, report_help: str) -> argparse.ArgumentParser:
    """The flags every grid experiment has last: ``--workers``, ``--threads``, ``--report-only``,
    ``--no-plots``, ``--no-progress``."""
    p.add_argument("--workers", type=int, default=1, help="worker processes (each 1 torch thread by default)")
    p.add_argument("--threads", type=int, default=1, help=threads_help)
    p.add_argument("--report-only", action="store_true", help=report_help)
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def run_options(args) -> dict:
    """:func:`run_tasks`' options from the flags of :func:`add_run_flags`."""
    return dict(workers=args.workers, threads=args.threads, progress=not args.no_progress)


def given(**flags) -> dict:
    """The flags that were given (not None): a preset's overrides."""
    return {k: v for k, v in flags.items() if v is not None}


def grid_axes(args, *, losses: tuple, noises: tuple, seeds: tuple) -> tuple[tuple, tuple, tuple]:
    """(losses, noises, seeds) of the command line: each flag's values, else the (quick, full)
    default pair's quick or full one."""
    pick = 0 if args.quick else 1
    return tuple(
        tuple(value if value is not None else default[pick])
        for value, default in ((args.losses, losses), (args.noise, noises), (args.seeds, seeds))
    )


def stored_axes(args, rows, losses, noises, noises_of_rows) -> tuple[tuple, tuple]:
    """(losses, noises) of a --report-only run: those of the stored ``rows`` (the losses in their
    order, the noise settings by ``noises_of_rows(rows)``) where the flags named none."""
    if args.losses is None:
        losses = tuple(dict.fromkeys(r["loss"] for r in rows))
    return losses, noises_of_rows(rows) if args.noise is None else noises


def print_plan(args, setting: str, losses, noise_names, seeds, note: str = "") -> None:
    """What a grid experiment is about to run (or re-render), on stdout."""
    print(f"machine: {machine_info()}")
    print(setting)
    print(f"losses: {', '.join(losses)}\nnoise: {', '.join(noise_names)}\nseeds: {seeds}")
    print(f"workers: {args.workers} x {args.threads} torch thread(s){note}", flush=True)


class GridReport(NamedTuple):
    """How a grid experiment reports its rows: the metrics it summarises over seeds, the summary's
    markdown ``markdown(rows, losses, noises)`` and its plots ``plots(rows, losses, noises, out)``."""

    metrics: Sequence[str]
    markdown: Callable[..., str]
    plots: Callable[..., list[Path]]

    def write(self, rows, losses, noises, stem: Path, header: str, *, plots: bool = True) -> None:
        """``<stem>.csv`` (the summary) and ``<stem>.md`` (``header`` + the markdown); prints the
        markdown, and the paths of the plots (made in stem's folder)."""
        write_csv(summarize(rows, ["loss", "noise"], self.metrics), stem.with_name(stem.name + ".csv"))
        text = self.markdown(rows, losses, noises)
        stem.with_name(stem.name + ".md").write_text(header + text)
        print(text)
        for path in self.plots(rows, list(losses), noises, stem.parent) if plots else ():
            print(f"plot: {path}")
