"""The digits experiment's report: the summary table, the stored runs, the plots."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..losses import LOSSES
from . import common
from .digits_data import METRICS, NoiseSetting

METRIC_LABELS = {
    "test_acc_true": "test accuracy vs true (BT) label",
    "test_acc_order": "test accuracy vs digit order",
    "test_spearman": "Spearman(reward, digit), test images",
    "train_acc_noisy": "train fit to the noisy labels",
    "train_acc_true": "train accuracy vs true label",
}

# The paired comparison with logistic: its metrics, and the heading and explanation of its tables.
PAIRED_METRICS = ("test_spearman", "test_acc_true")
PAIRED_TEXT = (
    "Paired difference to logistic (DPO's loss)",
    "Per seed, the same data, labels and initial weights; cell: mean ± std of the "
    "difference over seeds (seeds where it is > 0 / seeds).\n",
)


def summary_markdown(rows: list[dict], losses, noises) -> str:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    noise_names = [n.name for n in noises]
    losses = [l for l in losses if any(r["loss"] == l for r in rows)]
    seeds = sorted({int(r["seed"]) for r in rows})
    oracle = common.mean_std(r["oracle_acc_true"] for r in rows if r["loss"] == losses[0])
    parts = [
        f"Mean ± std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); columns: label noise "
        "(`eps` symmetric, `eps_pos:eps_neg` asymmetric); bold: best mean per column. "
        f"Oracle (digit order) test accuracy vs the true BT label: {common.fmt_mean_std(oracle[0], oracle[1])}."
    ]
    label = lambda l: f"{l} (sym)" if LOSSES[l].symmetric else l
    bold_best = lambda metric: not metric.startswith("train")
    parts += common.metric_tables(
        summ, METRICS, METRIC_LABELS, losses, noise_names, row_label=label, bold_best=bold_best
    )
    if "logistic" in losses and len(losses) > 1:
        parts += common.paired_tables(rows, PAIRED_METRICS, losses, noise_names, *PAIRED_TEXT, row_label=label)
    return "\n".join(parts) + "\n"


def load_runs(path) -> list[dict]:
    """Rows of a runs.csv written by this module (noise names and seeds normalised)."""
    rows = common.read_csv(path)
    for r in rows:
        r["noise"] = NoiseSetting.parse(str(r["noise"])).name
        r["seed"] = int(r["seed"])
    return rows


def make_plots(rows: list[dict], losses, noises, out: Path) -> list[Path]:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    oracle = {"test_acc_true": common.mean_std(r["oracle_acc_true"] for r in rows if r["loss"] == losses[0])[0]}
    for s in summ:  # numeric x for the symmetric settings
        s["eps"] = NoiseSetting.parse(str(s["noise"])).eps_pos
    sym = [n for n in noises if n.symmetric]
    asym = [n for n in noises if not n.symmetric]
    accuracy = ("test_acc_true", "accuracy vs true (BT) label")
    spearman = ("test_spearman", "Spearman(reward, digit)")
    plot = partial(common.plot_lines, line_key="loss", lines=losses)
    paths = []
    if sym:
        sym_plot = partial(
            plot,
            [s for s in summ if NoiseSetting.parse(str(s["noise"])).symmetric],
            x_key="eps",
            x_values=[n.eps_pos for n in sym],
            x_label="symmetric flip rate eps",
        )
        for name, title, metrics, hline in (
            (
                "digits_accuracy.png",
                "Digits preference: test pair accuracy (mean ± std over seeds)",
                [accuracy, ("test_acc_order", "accuracy vs digit order")],
                oracle,
            ),
            (
                "digits_spearman.png",
                "Digits preference: rank preservation and memorisation",
                [spearman, ("train_acc_noisy", "train fit to noisy labels")],
                None,
            ),
        ):
            paths.append(sym_plot(metrics=metrics, title=title, path=out / name, hline=hline))
    if asym:
        names = [n.name for n in asym]
        paths.append(
            plot(
                [s for s in summ if s["noise"] in names],
                x_key="noise",
                x_values=names,
                x_labels=[f"{n.eps_pos:g}/{n.eps_neg:g}" for n in asym],
                metrics=[accuracy, spearman],
                x_label="asymmetric noise eps_pos/eps_neg",
                title="Digits preference: asymmetric label noise",
                path=out / "digits_asymmetric.png",
                hline=oracle,
            )
        )
    return paths


REPORT = common.GridReport(METRICS, summary_markdown, make_plots)
