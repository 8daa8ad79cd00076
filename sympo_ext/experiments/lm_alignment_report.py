"""The LM-alignment experiment's report: the summary tables (markdown), the plots and reading its CSV back
(:mod:`sympo_ext.experiments.lm_alignment` runs the grid)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from ..losses import LOSSES
from . import common

LOSS_NAMES = {
    "logistic": "DPO (logistic)",
    "cdpo": "cDPO",
    "rdpo": "rDPO",
    "ropo": "ROPO",
    "simpo": "SimPO",
    "sigmoid": "SymPO-sigmoid",
    "symmetric_ramp": "SymPO-symmetric_ramp",
}

METRICS = ("true_reward", "reward_gain", "win_rate", "acc_true", "acc_noisy", "reference_true_reward")

METRIC_LABELS = {
    "true_reward": "mean true reward of the policy's samples",
    "reward_gain": "true reward gain over the reference (policy - reference, same seed)",
    "win_rate": "win rate vs the reference (true reward, ties half)",
    "acc_true": "held-out implicit-reward accuracy vs TRUE labels",
    "acc_noisy": "held-out implicit-reward accuracy vs NOISY labels",
    "reference_true_reward": "reference policy's mean true reward",
}

# The paired comparison with DPO: its metrics, and the heading and explanation of its tables.
PAIRED_METRICS = ("true_reward", "win_rate", "acc_true")
PAIRED_TEXT = (
    "Paired difference to DPO (logistic)",
    "Per seed the same reference, pairs, labels and evaluation prompts/sampling seeds; cell: mean ± std of "
    "the difference over seeds (seeds where it is > 0 / seeds).\n",
)


def _label(loss: str) -> str:
    return LOSS_NAMES.get(loss, loss) + (" (sym)" if loss in LOSSES and LOSSES[loss].symmetric else "")


def _noise_name(n) -> str:
    return f"{float(n):g}"


def summary_markdown(rows: list[dict], losses, noises) -> str:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    losses = [l for l in losses if any(r["loss"] == l for r in rows)]
    seeds = sorted({int(r["seed"]) for r in rows})
    cols = [float(n) for n in noises]
    parts = [
        f"Mean ± std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); columns: symmetric label "
        "flip rate; bold: best mean per column."
    ]
    ref = common.summarize([r for r in rows if r["loss"] == losses[0]], ["noise"], ["reference_true_reward"])
    parts.append(
        "\nReference policy (the SFT model every policy starts from), mean true reward: "
        + ", ".join(
            f"noise {_noise_name(s['noise'])}: {common.fmt_mean_std(s['reference_true_reward_mean'], s['reference_true_reward_std'])}"
            for s in ref
        )
        + " (the same reference per seed at every noise level)."
    )
    bold_best = lambda metric: metric != "acc_noisy"
    tables = dict(row_label=_label, col_label=_noise_name, bold_best=bold_best)
    parts += common.metric_tables(summ, METRICS[:-1], METRIC_LABELS, losses, cols, **tables)
    if "logistic" in losses and len(losses) > 1:
        parts += common.paired_tables(rows, PAIRED_METRICS, losses, cols, *PAIRED_TEXT, row_label=_label)
    return "\n".join(parts) + "\n"


def make_plots(rows: list[dict], losses, noises, out: Path) -> list[Path]:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    xs = [float(n) for n in noises]
    losses = [l for l in losses if any(r["loss"] == l for r in rows)]
    # The reference policy as a line of its own (flat: the same reference at every noise level of a seed).
    ref_name = "reference (SFT)"
    for s in common.summarize([r for r in rows if r["loss"] == losses[0]], ["noise"], ["reference_true_reward"]):
        summ.append(
            {
                "loss": ref_name,
                "noise": s["noise"],
                "true_reward_mean": s["reference_true_reward_mean"],
                "true_reward_std": s["reference_true_reward_std"],
                "win_rate_mean": 0.5,
                "win_rate_std": 0.0,
            }
        )
    plot = partial(
        common.plot_lines, summ, x_key="noise", line_key="loss", x_values=xs, x_label="symmetric label flip rate"
    )
    reward_panels = [
        ("true_reward", "mean true reward of samples"),
        ("win_rate", "win rate vs reference (true reward)"),
    ]
    accuracy_panels = [
        ("acc_true", "held-out accuracy vs TRUE labels"),
        ("acc_noisy", "held-out accuracy vs NOISY labels"),
    ]
    paths = [
        plot(
            lines=[*losses, ref_name],
            metrics=reward_panels,
            path=out / "lm_reward_winrate.png",
            title="LM alignment under label noise (tiny Llama, synthetic task; mean ± std over seeds)",
        ),
        plot(
            lines=losses,
            metrics=accuracy_panels,
            path=out / "lm_accuracy.png",
            title="Implicit reward accuracy on held-out pairs (mean ± std over seeds)",
        ),
    ]
    return paths


def load_runs(path) -> list[dict]:
    rows = common.read_csv(path)
    for r in rows:
        r["seed"] = int(r["seed"])
        r["noise"] = float(r["noise"])
    return rows


REPORT = common.GridReport(METRICS, summary_markdown, make_plots)


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
