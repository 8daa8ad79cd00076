"""``nn.Module`` front ends: SymPO (and every other pair loss) straight from LM logits."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .losses import REDUCTIONS, check_loss_options
from .ops import sequence_logps, sym_loss

__all__ = ["PairLossModule", "SymPOLoss", "SymPOLossOutput", "preference_metrics"]


class SymPOLossOutput(NamedTuple):
    """``loss`` (differentiable) and ``metrics``: detached 0-d tensors keyed like TRL's logs."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


def preference_metrics(
    out, chosen_logps: torch.Tensor, rejected_logps: torch.Tensor, pair_labels: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """TRL-named batch metrics (detached 0-d tensors) from ``sym_loss(..., return_rewards=True)``.

    ``rewards/accuracies`` is the fraction of pairs whose margin has the sign of the preference
    (margin > 0 when the pair label is 1, < 0 when it is 0)."""
    with torch.no_grad():
        margins = out.margins.detach()
        correct = margins > 0
        if pair_labels is not None:
            correct = torch.where(pair_labels.to(margins.device) == 0, margins < 0, correct)
        return {
            "rewards/chosen": out.chosen_rewards.detach().mean(),
            "rewards/rejected": out.rejected_rewards.detach().mean(),
            "rewards/margins": margins.mean(),
            "rewards/accuracies": correct.float().mean(),
            "logps/chosen": chosen_logps.detach().mean(),
            "logps/rejected": rejected_logps.detach().mean(),
        }


class PairLossModule(nn.Module):
    """Holds and validates every :func:`sympo_ext.sym_loss` option, plus how sequence
    log-probs are formed (``average``, ``ignore_index``); the loss modules derive from it."""

    def __init__(
        self,
        loss_type: str = "sigmoid",
        beta: float = 0.1,
        *,
        clip: float | None = None,
        reduction: str = "mean",
        temperature: float = 1.0,
        slope: float = 0.5,
        epsilon: float = 0.0,
        average: bool = False,
        ignore_index: int = -100,
    ) -> None:
        super().__init__()
        check_loss_options(loss_type, temperature=temperature, slope=slope, epsilon=epsilon)
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
        self.loss_type, self.beta, self.clip, self.reduction = loss_type, beta, clip, reduction
        self.temperature, self.slope, self.epsilon = temperature, slope, epsilon
        self.average, self.ignore_index = average, ignore_index

    def sym_loss_kwargs(self) -> dict:
        return dict(loss_type=self.loss_type, beta=self.beta, clip=self.clip, reduction=self.reduction,
                    temperature=self.temperature, slope=self.slope, epsilon=self.epsilon)

    def extra_repr(self) -> str:
        return (f"loss_type={self.loss_type!r}, beta={self.beta}, clip={self.clip}, reduction={self.reduction!r}, "
                f"average={self.average}, ignore_index={self.ignore_index}")


class SymPOLoss(PairLossModule):
    """Preference loss from the policy logits of the concatenated batch ``[chosen; rejected]``.

    TRL's convention: the first half of the sequences are the chosen responses, the second
    half the rejected ones (pair i is sequences i and B + i). The per-sequence log-probs come
    from the fused :func:`sympo_ext.sequence_logps` (its backward never materialises a
    log-softmax), the pair loss and the rewards from one :func:`sympo_ext.sym_loss` launch.

    The same interface as :class:`sympo_ext.FusedLinearSymPOLoss`, which starts from hidden
    states instead of logits.

    Args (constructor): every :func:`sympo_ext.sym_loss` option -- ``loss_type`` (default
    ``"sigmoid"``, SymPO's symmetric sigmoid loss), ``beta``, ``clip``, ``reduction``,
    ``temperature``, ``slope``, ``epsilon`` -- plus ``average`` (length-normalised log-probs,
    SimPO-style), ``ignore_index`` (label value that does not count) and ``inplace_backward``
    (write the logits' gradient into the logits, see :func:`sympo_ext.sequence_logps`).

    ``forward(logits, labels, ref_chosen_logps=None, ref_rejected_logps=None, *,
    cu_seqlens=None, pair_labels=None, weights=None)``:
        logits: [2B, T, V] (padded) or [L, V] (packed, with ``cu_seqlens`` [2B + 1]).
        labels: token ids aligned with ``logits`` ([2B, T] or [L]), ``ignore_index`` on prompt
            and padding positions.
        ref_chosen_logps / ref_rejected_logps: the reference model's log-probs [B] (computed
            the same way, e.g. with ``average``), or both ``None`` for reference-free training.
        pair_labels: optional per-pair 0/1 (1: chosen is preferred, the default; 0: the
            pair is flipped), e.g. noisy labels; ``sym_loss``'s ``labels``.
        weights: optional per-pair weights >= 0.

    Returns :class:`SymPOLossOutput` ``(loss, metrics)``; ``metrics`` holds batch means of
    ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``, ``rewards/accuracies``
    (fraction of pairs whose reward margin agrees with the preference label) and
    ``logps/chosen``, ``logps/rejected``, all detached.
    """

    def __init__(self, loss_type: str = "sigmoid", beta: float = 0.1, *, inplace_backward: bool = False,
                 **options) -> None:
        super().__init__(loss_type, beta, **options)
        self.inplace_backward = inplace_backward

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        ref_chosen_logps: torch.Tensor | None = None,
        ref_rejected_logps: torch.Tensor | None = None,
        *,
        cu_seqlens: torch.Tensor | None = None,
        pair_labels: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> SymPOLossOutput:
        logps = sequence_logps(
            logits,
            labels,
            ignore_index=self.ignore_index,
            average=self.average,
            cu_seqlens=cu_seqlens,
            inplace_backward=self.inplace_backward,
        )
        num_seqs = logps.shape[0]
        if num_seqs % 2 != 0:
            raise ValueError(
                f"SymPOLoss: expected the concatenated batch [chosen; rejected] (an even number of "
                f"sequences), got {num_seqs}"
            )
        half = num_seqs // 2
        chosen, rejected = logps[:half], logps[half:]
        # sym_loss checks the reference tensors (both or neither, one entry per pair).
        out = sym_loss(
            chosen,
            rejected,
            None if ref_chosen_logps is None else ref_chosen_logps.detach(),
            None if ref_rejected_logps is None else ref_rejected_logps.detach(),
            labels=pair_labels,
            weights=weights,
            **self.sym_loss_kwargs(),
            return_rewards=True,
        )
        return SymPOLossOutput(out.loss, preference_metrics(out, chosen, rejected, pair_labels))
