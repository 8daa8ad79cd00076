"""``nn.Module`` front ends: SymPO (and every other pair loss) straight from LM logits."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .losses import REDUCTIONS, check_loss_options
from .ops import sequence_logps, sym_loss

__all__ = ["SymPOLoss", "SymPOLossOutput"]


class SymPOLossOutput(NamedTuple):
    """``loss`` (differentiable) and ``metrics``: detached 0-d tensors keyed like TRL's logs."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


class SymPOLoss(nn.Module):
    """Preference loss from the policy logits of the concatenated batch ``[chosen; rejected]``.

    TRL's convention: the first half of the sequences are the chosen responses, the second
    half the rejected ones (pair i is sequences i and B + i). The per-sequence log-probs come
    from the fused :func:`sympo_ext.sequence_logps` (its backward never materialises a
    log-softmax), the pair loss and the rewards from one :func:`sympo_ext.sym_loss` launch.

    Args (constructor): every :func:`sympo_ext.sym_loss` option -- ``loss_type`` (default
    ``"sigmoid"``, SymPO's symmetric sigmoid loss), ``beta``, ``clip``, ``reduction``,
    ``temperature``, ``slope``, ``epsilon`` -- plus ``ignore_index`` (label value that does not
    count), ``average_log_prob`` (length-normalised log-probs, SimPO-style) and
    ``inplace_backward`` (write the logits' gradient into the logits, see
    :func:`sympo_ext.sequence_logps`).

    ``forward(logits, labels, ref_logps=None, *, cu_seqlens=None, preference_labels=None,
    weights=None)``:
        logits: [2B, T, V] (padded) or [L, V] (packed, with ``cu_seqlens`` [2B + 1]).
        labels: token ids aligned with ``logits`` ([2B, T] or [L]), ``ignore_index`` on prompt
            and padding positions.
        ref_logps: reference-model log-probs of the same 2B sequences in the same order
            ([2B], e.g. ``sequence_logps`` of the reference logits under ``torch.no_grad``), or
            ``None`` for reference-free training.
        preference_labels: optional per-pair 0/1 (1: chosen is preferred, the default; 0: the
            pair is flipped), e.g. noisy labels.
        weights: optional per-pair weights >= 0.

    Returns :class:`SymPOLossOutput` ``(loss, metrics)``; ``metrics`` holds batch means of
    ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``, ``rewards/accuracies``
    (fraction of pairs whose reward margin agrees with the preference label) and
    ``logps/chosen``, ``logps/rejected``, all detached.
    """

    def __init__(
        self,
        loss_type: str = "sigmoid",
        *,
        beta: float = 0.1,
        clip: float | None = None,
        reduction: str = "mean",
        temperature: float = 1.0,
        slope: float = 0.5,
        epsilon: float = 0.0,
        ignore_index: int = -100,
        average_log_prob: bool = False,
        inplace_backward: bool = False,
    ) -> None:
        super().__init__()
        check_loss_options(loss_type, temperature=temperature, slope=slope, epsilon=epsilon)
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
        self.loss_type = loss_type
        self.beta = beta
        self.clip = clip
        self.reduction = reduction
        self.temperature = temperature
        self.slope = slope
        self.epsilon = epsilon
        self.ignore_index = ignore_index
        self.average_log_prob = average_log_prob
        self.inplace_backward = inplace_backward

    def extra_repr(self) -> str:
        return (
            f"loss_type={self.loss_type!r}, beta={self.beta}, clip={self.clip}, reduction={self.reduction!r}, "
            f"average_log_prob={self.average_log_prob}, ignore_index={self.ignore_index}"
        )

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        ref_logps: torch.Tensor | None = None,
        *,
        cu_seqlens: torch.Tensor | None = None,
        preference_labels: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> SymPOLossOutput:
        logps = sequence_logps(
            logits,
            labels,
            ignore_index=self.ignore_index,
            average=self.average_log_prob,
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
        ref_chosen = ref_rejected = None
        if ref_logps is not None:
            if not isinstance(ref_logps, torch.Tensor) or ref_logps.shape != (num_seqs,):
                shape = tuple(ref_logps.shape) if isinstance(ref_logps, torch.Tensor) else type(ref_logps).__name__
                raise ValueError(
                    f"SymPOLoss: ref_logps must be a [{num_seqs}] tensor of reference log-probs in the "
                    f"same [chosen; rejected] order, got {shape}"
                )
            ref_logps = ref_logps.detach()
            ref_chosen, ref_rejected = ref_logps[:half], ref_logps[half:]
        out = sym_loss(
            chosen,
            rejected,
            ref_chosen,
            ref_rejected,
            loss_type=self.loss_type,
            beta=self.beta,
            clip=self.clip,
            labels=preference_labels,
            weights=weights,
            reduction=self.reduction,
            temperature=self.temperature,
            slope=self.slope,
            epsilon=self.epsilon,
            return_rewards=True,
        )
        with torch.no_grad():
            margins = out.margins
            agree = margins > 0
            if preference_labels is not None:
                agree = torch.where(preference_labels.to(margins.device) == 0, margins < 0, agree)
            metrics = {
                "rewards/chosen": out.chosen_rewards.mean(),
                "rewards/rejected": out.rejected_rewards.mean(),
                "rewards/margins": margins.mean(),
                "rewards/accuracies": agree.float().mean(),
                "logps/chosen": chosen.detach().mean(),
                "logps/rejected": rejected.detach().mean(),
            }
        return SymPOLossOutput(out.loss, metrics)
