"""Pair-level metrics, written once: accuracy of a reward margin against (noisy or true) labels,
and the TRL-named batch metrics of the loss modules, the trainer, the reward model and the
experiments.

The accuracy rule: a pair is right when its margin has the sign of the preference (margin > 0
for label 1, < 0 for label 0), wrong when it has the other sign, and counts HALF when the margin
is exactly 0 (a tie ranks neither response first; e.g. at step 0, when the policy equals the
reference, every margin is 0 and the accuracy is 0.5, chance). A NaN margin counts as wrong.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "pair_correct",
    "pair_accuracy",
    "METRIC_NAMES",
    "STAT_KEYS",
    "preference_stats",
    "metrics_from_stats",
    "preference_metrics",
]


def pair_correct(margins: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Per pair: 1.0 right, 0.0 wrong, 0.5 for a zero margin (see the module docstring).
    ``labels``: 0/1 per pair (1: the first response preferred); None means all 1."""
    margins = margins.detach()
    sign = torch.ones_like(margins) if labels is None else labels.to(margins.device, margins.dtype) * 2 - 1
    signed = margins * sign
    return torch.where(signed == 0, torch.full_like(margins, 0.5), (signed > 0).to(margins.dtype))


def pair_accuracy(margins: torch.Tensor, labels: torch.Tensor | None = None) -> float:
    """Mean of :func:`pair_correct` (NaN for no pairs)."""
    if margins.numel() == 0:
        return math.nan
    return pair_correct(margins.double(), labels).mean().item()


# The metric names, the one list (the trainer's CSV columns, the reward model's history): TRL's
# DPOTrainer names where one exists; rewards/true_accuracies is ours (accuracy of the implicit
# reward against the true labels, when they are known).
METRIC_NAMES = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "rewards/true_accuracies",
    "logps/chosen",
    "logps/rejected",
    "nll_loss",  # the NLL / SFT term, when --nll_weight > 0 (TRL's name)
)

# Sums over pairs, in the order the trainer all-reduces them: the pair count, the metrics that are
# means over all pairs, then the true-label count and the true accuracy (a mean over those pairs).
# (nll_loss is summed only when the loss has the term.)
STAT_KEYS = (
    "pairs",
    *(k for k in METRIC_NAMES if k not in ("rewards/true_accuracies", "nll_loss")),
    "true_known",
    "rewards/true_accuracies",
)


def preference_stats(
    out,
    chosen_logps: torch.Tensor,
    rejected_logps: torch.Tensor,
    labels: torch.Tensor | None = None,
    true_labels: torch.Tensor | None = None,
    loss_sum: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Per-batch SUMS (float64 0-d tensors, keys :data:`STAT_KEYS`; the two true-label keys only
    when ``true_labels`` is given, ``nll_loss`` only when ``out`` carries an ``nll``) from
    ``sym_loss(..., return_rewards=True)``-like ``out`` (chosen_rewards, rejected_rewards,
    margins). ``true_labels``: clean labels where known, -1 where not. ``loss_sum``: the batch's
    summed loss, when the caller wants it aggregated too."""
    with torch.no_grad():
        margins = out.margins.detach().double()
        zero = margins.new_zeros(())
        stats = {
            "pairs": margins.new_tensor(float(margins.numel())),
            "loss": zero if loss_sum is None else loss_sum.detach().double().sum(),
            "rewards/chosen": out.chosen_rewards.detach().double().sum(),
            "rewards/rejected": out.rejected_rewards.detach().double().sum(),
            "rewards/margins": margins.sum(),
            "rewards/accuracies": pair_correct(margins, labels).sum(),
            "logps/chosen": chosen_logps.detach().double().sum(),
            "logps/rejected": rejected_logps.detach().double().sum(),
        }
        nll = getattr(out, "nll", None)
        if nll is not None:  # the NLL / SFT term of the loss modules, per pair
            stats["nll_loss"] = nll.detach().double().sum()
        if true_labels is not None:
            true_labels = true_labels.to(margins.device)
            known = true_labels >= 0
            stats["true_known"] = known.double().sum()
            stats["rewards/true_accuracies"] = (pair_correct(margins, true_labels.clamp(min=0)) * known).sum()
    return stats


def metrics_from_stats(stats: dict) -> dict:
    """Means from (summed) :func:`preference_stats`: TRL's metric names, plus
    ``rewards/true_accuracies`` when true labels were known for some pairs. Values keep their
    type (0-d tensors stay tensors, floats stay floats)."""
    n = stats["pairs"]
    n = n.clamp(min=1) if isinstance(n, torch.Tensor) else max(n, 1.0)
    out = {
        k: stats[k] / n
        for k in (*STAT_KEYS, "nll_loss")
        if k in stats and k not in ("pairs", "true_known", "rewards/true_accuracies")
    }
    if "true_known" in stats and float(stats["true_known"]) > 0:
        out["rewards/true_accuracies"] = stats["rewards/true_accuracies"] / stats["true_known"]
    return out


def preference_metrics(
    out, chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, pair_labels: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """TRL-named batch means (detached 0-d tensors in the rewards' dtype) of the loss modules:
    rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies, logps/chosen,
    logps/rejected, and nll_loss when ``out`` carries the NLL term."""
    stats = preference_stats(out, chosen_logps, rejected_logps, pair_labels)
    means = metrics_from_stats(stats)
    means.pop("loss")
    dtype = out.margins.dtype
    return {k: v.to(dtype) for k, v in means.items()}
