"""``sympo-train --demo``: SymPO vs DPO under 40% label noise, on a CPU, nothing downloaded.

The steps are :mod:`sympo_ext.experiments.pipeline`'s (reference, preference data, policy training,
evaluation; the LM-alignment experiment calls them for many losses, noise levels and seeds).

:func:`run_demo` runs them for SymPO (sigmoid) and DPO (logistic) on the same pairs, for
three seeds (the LM-alignment experiment's runner), and prints the table, the paired
difference with its spread over the seeds, and one line on what it means.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import replace

from . import common
from .common import mean_std
from .lm_alignment import run_grid
from .pipeline import PRESETS

__all__ = ["run_demo", "format_table", "paired_difference", "honest_reading"]


def _mean_sd(values) -> tuple[float, float]:
    return mean_std(values)[:2]  # mean and sample std over the seeds


def format_table(rows: list[dict], *, noise: float, steps: int, seeds) -> str:
    """The demo's table: one row per method, means (± sd over seeds), then SymPO - DPO per seed."""
    head = f"{'method':<18} {'true reward':>17} {'vs ref':>8} {'win rate':>9} {'acc (noisy)':>12} {'acc (true)':>11}"
    ref = _mean_sd([r["reference_true_reward"] for r in rows[0]["per_seed"]])[0]
    lines = [
        f"label noise {noise:.0%}, {steps} steps, {len(seeds)} seed(s) {tuple(seeds)}; reference policy true "
        f"reward {ref:+.3f}",
        head,
        "-" * len(head),
    ]
    for r in rows:
        m, sd = _mean_sd([x["true_reward"] for x in r["per_seed"]])
        lines.append(
            f"{r['method']:<18} {m:>+9.3f} ± {sd:.3f} {m - ref:>+8.3f} {r['win_rate']:>9.3f} "
            f"{r['acc_noisy']:>12.3f} {r['acc_true']:>11.3f}"
        )
    return "\n".join(lines)


def paired_difference(rows: list[dict]) -> tuple[float, float, list[float]]:
    """(mean, sd over seeds, per-seed values) of the first method's true reward minus the second's,
    paired by seed (same reference and pairs)."""
    diffs = [a["true_reward"] - b["true_reward"] for a, b in zip(rows[0]["per_seed"], rows[1]["per_seed"])]
    return (*_mean_sd(diffs), diffs)


def audit_line(rows: list[dict], noise: float) -> str:
    """The audit of the SymPO policies' training pairs (sympo-audit's in-sample scoring, mixture method)."""
    runs = [r for row in rows if row["loss_type"] == "sigmoid" for r in row["per_seed"]]
    if not runs:
        return "audit: no SymPO policy in this demo"
    found, flips = sum(r["audit_flips_in_top"] for r in runs), sum(r["audit_num_flips"] for r in runs)
    est = _mean_sd([r["audit_noise_rate"] for r in runs])[0]
    realised = _mean_sd([r["flip_rate"] for r in runs])[0]
    used = [r.get("audit_method") or "mixture" for r in runs]
    how = (
        "mixture"
        if set(used) == {"mixture"}
        else f"{used.count('sign')} of {len(used)} by sign: mixture fit degenerate"
    )
    return (
        f"audit (sympo-audit on the SymPO policies' own training pairs): {found} of the {flips} flipped pairs are "
        f"among the top-{flips} suspects ({found / max(flips, 1):.0%}; chance {realised:.0%}); estimated noise "
        f"rate {est:.1%} ({how}) vs {noise:.0%} injected ({realised:.1%} realised)"
    )


def honest_reading(mean: float, sd: float, diffs: list[float], noise: float) -> str:
    """One line on what the numbers mean (and do not)."""
    scope = f"{len(diffs)} seed(s) of a tiny synthetic task, not a benchmark"
    if len(diffs) > 1 and all(d > 0 for d in diffs):
        return (
            f"SymPO's policy is ahead of DPO's in every seed (mean {mean:+.3f}, sd {sd:.3f}): with {noise:.0%} "
            f"flipped labels the symmetric loss keeps more of the improvement, as the paper claims; {scope}."
        )
    if len(diffs) > 1 and all(d < 0 for d in diffs):
        return f"DPO's policy is ahead in every seed (mean {mean:+.3f}): the paper's claim does not show here; {scope}."
    return f"The difference ({mean:+.3f}, sd {sd:.3f}) is not consistent across seeds: no winner at this size; {scope}."


def run_demo(
    *,
    quick: bool = False,
    overrides: dict | None = None,
    losses=(("SymPO (sigmoid)", "sigmoid"), ("DPO (logistic)", "logistic")),
    verbose: bool = True,
    workers: int | None = None,
):
    """The README's main job: SymPO vs DPO on the same noisy pairs, per seed (a reference, pairs and
    noise each, as in :mod:`sympo_ext.experiments.lm_alignment`, whose runner it uses). Returns one
    row per method: means over the seeds and ``per_seed``.

    ``overrides``: TrainConfig values from the command line (``--beta``, ``--learning_rate``,
    ``--max_steps``, ...; ``--label_noise`` sets the task's noise; ``--seed`` shifts the seeds;
    ``--output_dir`` receives ``demo_runs.csv``). Each run uses one intra-op thread (the model is
    tiny); ``workers`` processes (default: 2, or 1 for a single seed) run them side by side."""
    t0 = time.perf_counter()
    preset = PRESETS["quick" if quick else "full"]
    overrides = dict(overrides or {})
    if "label_noise" in overrides:  # noise of the task's pairs (train and eval), not injected by the trainer
        preset = replace(preset, label_noise=overrides.pop("label_noise"))
    if "seed" in overrides:
        preset = replace(preset, seeds=tuple(overrides.pop("seed") + s for s in preset.seeds))
    out_root = overrides.pop("output_dir", None)
    progress = overrides.pop("progress", True) and verbose
    overrides.pop("loss_type", None)
    preset = preset.with_train(**overrides)  # every other TrainConfig option given on the command line
    if workers is None:
        workers = 1 if len(preset.seeds) == 1 else min(2, os.cpu_count() or 1)
    if verbose:
        print(
            f"[demo] {'quick' if quick else 'full'} preset: tiny Llama (hidden {preset.hidden_size}, "
            f"{preset.num_layers} layers), {preset.train_pairs} training pairs with {preset.label_noise:.0%} "
            f"flipped labels, {preset.train['max_steps']} steps of {preset.train['batch_size']} pairs per method, "
            f"seeds {preset.seeds}, {workers} worker process(es)",
            file=sys.stderr,
        )
    with warnings.catch_warnings():
        # Skipped pairs (e.g. an empty sampled response) are counted in the "[sympo-train] data:" line.
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        runs, _ = run_grid(
            losses=[loss for _, loss in losses],
            noises=(preset.label_noise,),
            seeds=preset.seeds,
            preset=preset,
            workers=workers,
            threads=int(os.environ.get("SYMPO_DEMO_THREADS", "1")),
            progress=progress,
        )
    rows = []
    for name, loss_type in losses:
        mine = [r for r in runs if r["loss"] == loss_type]
        row = {"method": name, "loss_type": loss_type, "per_seed": mine}
        for key in ("true_reward", "reference_true_reward", "win_rate", "acc_noisy", "acc_true", "final_train_loss"):
            row[key] = _mean_sd([r[key] for r in mine])[0]
        rows.append(row)
    if out_root:
        os.makedirs(out_root, exist_ok=True)
        common.write_csv(runs, os.path.join(out_root, "demo_runs.csv"))
    if verbose:
        print()
        print(format_table(rows, noise=preset.label_noise, steps=preset.train["max_steps"], seeds=preset.seeds))
        mean, sd, diffs = paired_difference(rows)
        print(
            f"\n{rows[0]['method']} - {rows[1]['method']}, true reward, paired by seed: {mean:+.3f} ± {sd:.3f} "
            f"(per seed: {', '.join(f'{d:+.3f}' for d in diffs)})"
        )
        print(honest_reading(mean, sd, diffs, preset.label_noise))
        print(audit_line(rows, preset.label_noise))
        print(
            f"\n(true reward: mean over {preset.eval_prompts} prompts of one sampled response, judged by the task's "
            f"true reward; win rate: policy vs reference sample, ties half; accuracies: the implicit reward on "
            f"{preset.eval_pairs} held-out pairs against their noisy and their true labels)"
        )
        print(f"demo wall time: {time.perf_counter() - t0:.0f}s")
    return rows
