"""The digits experiment's report: the summary table, the stored runs, the plots."""

from __future__ import annotations

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
    for metric in METRICS:
        parts.append(f"\n### {METRIC_LABELS[metric]} (`{metric}`)\n")
        parts.append(
            common.pivot_markdown(
                summ,
                row_key="loss",
                col_key="noise",
                metric=metric,
                row_order=losses,
                col_order=noise_names,
                row_label=lambda l: f"{l} (sym)" if LOSSES[l].symmetric else l,
                bold_best=not metric.startswith("train"),
            )
        )
    if "logistic" in losses and len(losses) > 1:
        for metric in ("test_spearman", "test_acc_true"):
            parts.append(f"\n### Paired difference to logistic (DPO's loss): `{metric}`\n")
            parts.append(
                "Per seed, the same data, labels and initial weights; cell: mean ± std of the "
                "difference over seeds (seeds where it is > 0 / seeds).\n"
            )
            parts.append(
                common.paired_markdown(
                    rows,
                    baseline="logistic",
                    metric=metric,
                    lines=losses,
                    col_order=noise_names,
                    row_label=lambda l: f"{l} (sym)" if LOSSES[l].symmetric else l,
                )
            )
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
    oracle = common.mean_std(r["oracle_acc_true"] for r in rows if r["loss"] == losses[0])[0]
    for s in summ:  # numeric x for the symmetric settings
        s["eps"] = NoiseSetting.parse(str(s["noise"])).eps_pos
    sym = [n for n in noises if n.symmetric]
    asym = [n for n in noises if not n.symmetric]
    paths = []
    if sym:
        ss = [s for s in summ if NoiseSetting.parse(str(s["noise"])).symmetric]
        paths.append(
            common.plot_lines(
                ss,
                x_key="eps",
                line_key="loss",
                lines=losses,
                x_values=[n.eps_pos for n in sym],
                metrics=[
                    ("test_acc_true", "accuracy vs true (BT) label"),
                    ("test_acc_order", "accuracy vs digit order"),
                ],
                x_label="symmetric flip rate eps",
                title="Digits preference: test pair accuracy (mean ± std over seeds)",
                path=out / "digits_accuracy.png",
                hline={"test_acc_true": oracle},
            )
        )
        paths.append(
            common.plot_lines(
                ss,
                x_key="eps",
                line_key="loss",
                lines=losses,
                x_values=[n.eps_pos for n in sym],
                metrics=[
                    ("test_spearman", "Spearman(reward, digit)"),
                    ("train_acc_noisy", "train fit to noisy labels"),
                ],
                x_label="symmetric flip rate eps",
                title="Digits preference: rank preservation and memorisation",
                path=out / "digits_spearman.png",
            )
        )
    if asym:
        names = [n.name for n in asym]
        sa = [s for s in summ if s["noise"] in names]
        paths.append(
            common.plot_lines(
                sa,
                x_key="noise",
                line_key="loss",
                lines=losses,
                x_values=names,
                x_labels=[f"{n.eps_pos:g}/{n.eps_neg:g}" for n in asym],
                metrics=[
                    ("test_acc_true", "accuracy vs true (BT) label"),
                    ("test_spearman", "Spearman(reward, digit)"),
                ],
                x_label="asymmetric noise eps_pos/eps_neg",
                title="Digits preference: asymmetric label noise",
                path=out / "digits_asymmetric.png",
                hline={"test_acc_true": oracle},
            )
        )
    return paths
