"""The LM-alignment experiment's report: the summary tables (markdown), the plots and reading its CSV back
(:mod:`sympo_ext.experiments.lm_alignment` runs the grid)."""

from __future__ import annotations

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
    for metric in METRICS[:-1]:
        parts.append(f"\n### {METRIC_LABELS[metric]} (`{metric}`)\n")
        parts.append(
            common.pivot_markdown(
                summ,
                row_key="loss",
                col_key="noise",
                metric=metric,
                row_order=losses,
                col_order=cols,
                row_label=_label,
                col_label=_noise_name,
                bold_best=metric != "acc_noisy",
            )
        )
    if "logistic" in losses and len(losses) > 1:
        for metric in ("true_reward", "win_rate", "acc_true"):
            parts.append(f"\n### Paired difference to DPO (logistic): `{metric}`\n")
            parts.append(
                "Per seed the same reference, pairs, labels and evaluation prompts/sampling seeds; cell: mean ± std of "
                "the difference over seeds (seeds where it is > 0 / seeds).\n"
            )
            parts.append(
                common.paired_markdown(
                    rows,
                    baseline="logistic",
                    metric=metric,
                    line_key="loss",
                    col_key="noise",
                    lines=losses,
                    col_order=cols,
                    row_label=_label,
                )
            )
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
    paths = [
        common.plot_lines(
            summ,
            x_key="noise",
            line_key="loss",
            lines=[*losses, ref_name],
            x_values=xs,
            metrics=[
                ("true_reward", "mean true reward of samples"),
                ("win_rate", "win rate vs reference (true reward)"),
            ],
            x_label="symmetric label flip rate",
            path=out / "lm_reward_winrate.png",
            title="LM alignment under label noise (tiny Llama, synthetic task; mean ± std over seeds)",
        ),
        common.plot_lines(
            summ,
            x_key="noise",
            line_key="loss",
            lines=losses,
            x_values=xs,
            metrics=[
                ("acc_true", "held-out accuracy vs TRUE labels"),
                ("acc_noisy", "held-out accuracy vs NOISY labels"),
            ],
            x_label="symmetric label flip rate",
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


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
