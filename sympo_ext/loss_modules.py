"""``nn.Module`` front ends: SymPO (and every other pair loss) from LM logits
(:class:`SymPOLoss`) or from final hidden states and the LM head (:class:`FusedLinearSymPOLoss`).

Both take the concatenated batch ``[chosen; rejected]`` (TRL's convention) and return
``(loss, metrics)``; :meth:`pair_outputs` gives the per-pair values instead of batch means
(the trainer aggregates them over micro-batches and processes)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from . import ops as _ops
from .fused_linear.logps_op import check_inputs as _check_fused_inputs
from .fused_linear.logps_op import fused_linear_sequence_logps
from .fused_linear.loss_fused import LossFusedOptions, PairInputs, loss_fused
from .losses import DEFAULT_BETA, LOSSES, REDUCTIONS, LossSpec, params_doc
from .metrics import preference_metrics
from .ops import sequence_logps
from .sequences import inverse_counts, per_sequence_sum, sequence_ids

__all__ = ["PairLossModule", "SymPOLoss", "FusedLinearSymPOLoss", "SymPOLossOutput", "PairOutputs"]


class SymPOLossOutput(NamedTuple):
    """``loss`` (differentiable) and ``metrics``: detached 0-d tensors keyed like TRL's logs."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]


class PairOutputs(NamedTuple):
    """Per-pair results of a loss module (all detached except ``loss``)."""

    loss: torch.Tensor  # the reduced (or per-pair, reduction="none") loss, differentiable
    chosen_rewards: torch.Tensor  # [B]
    rejected_rewards: torch.Tensor  # [B]
    margins: torch.Tensor  # [B]
    chosen_logps: torch.Tensor  # [B] policy log-probs
    rejected_logps: torch.Tensor  # [B]
    nll: torch.Tensor | None = None  # [B] the NLL / SFT term per pair, when nll_weight > 0

    def metrics(self, pair_labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """TRL-named batch means (``nll_loss`` too, TRL's name for the term, when there is one)."""
        return preference_metrics(self, self.chosen_logps, self.rejected_logps, pair_labels)


def split_sft(loss_type, loss_weights, nll_weight: float):
    """TRL's ``"sft"`` loss type is the NLL term: (the other loss types, their weights, nll_weight with the
    sft weight added)."""
    names = [loss_type] if isinstance(loss_type, str) else list(loss_type)
    weights = None if loss_weights is None else list(loss_weights)
    if "sft" not in names:
        return loss_type, loss_weights, nll_weight
    i = names.index("sft")
    sft_weight = 1.0 if weights is None else float(weights[i])
    if not (math.isfinite(sft_weight) and sft_weight >= 0):  # a negative one would maximise the NLL
        raise ValueError(
            f"loss_weights: the weight of 'sft' (the NLL term) must be a finite number >= 0, got {sft_weight}"
        )
    nll_weight = nll_weight + sft_weight
    names.pop(i)
    if weights is not None:
        weights.pop(i)
    if not names:
        raise ValueError(
            "loss_type: 'sft' alone is not a preference loss; combine it with one "
            "(e.g. ['sigmoid', 'sft']) or use nll_weight"
        )
    return (names[0] if len(names) == 1 and weights is None else names), weights, nll_weight


def nll_per_pair(chosen_logps: torch.Tensor, chosen_counts: torch.Tensor, average: bool) -> torch.Tensor:
    """The NLL / SFT term of each pair: the chosen response's mean negative log-prob per token
    (``average`` log-probs already are means); 0 for a response with no counted token."""
    if average:
        return -chosen_logps
    return -chosen_logps * inverse_counts(chosen_counts.to(chosen_logps.dtype))


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    return values.mean() if reduction == "mean" else values.sum() if reduction == "sum" else values


class PairLossModule(nn.Module):
    """Holds and validates every :func:`sympo_ext.sym_loss` option (one
    :class:`sympo_ext.losses.LossSpec`), plus how sequence log-probs are formed (``average``,
    ``ignore_index``) and the NLL / SFT term; the loss modules derive from it.

    ``loss_type``: a loss name or alias, or a list (a weighted combination, with ``loss_weights``;
    TRL's ``"sft"`` in the list is the NLL term). A loss parameter left at None takes that loss's
    default. ``nll_weight`` (RPO's alpha; SLiC = hinge + this term): adds ``nll_weight`` times
    the chosen responses' per-token negative log-likelihood (per pair, reduced like the loss),
    from the same log-prob pass -- never a second forward. TRL averages that term over all the
    chosen tokens of the batch instead; the per-pair form keeps the loss a sum over pairs, so
    gradient accumulation and data parallelism give the same gradient."""

    def __init__(
        self,
        loss_type: str | list[str] = "sigmoid",
        beta: float = DEFAULT_BETA,
        *,
        loss_weights: list[float] | None = None,
        clip: float | None = None,
        reduction: str = "mean",
        nll_weight: float = 0.0,
        average: bool = False,
        ignore_index: int = -100,
        **loss_params: float | None,
    ) -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
        if (
            isinstance(nll_weight, bool)
            or not isinstance(nll_weight, (int, float))
            or not (math.isfinite(nll_weight) and nll_weight >= 0)
        ):
            raise ValueError(f"{type(self).__name__}: nll_weight must be a finite number >= 0, got {nll_weight!r}")
        loss_type, loss_weights, nll_weight = split_sft(loss_type, loss_weights, float(nll_weight))
        self.spec = LossSpec.create(loss_type, beta=beta, clip=clip, loss_weights=loss_weights, **loss_params)
        self.reduction, self.nll_weight = reduction, nll_weight
        self.average, self.ignore_index = average, ignore_index

    @property
    def loss_type(self):
        return self.spec.loss_type

    @property
    def beta(self) -> float:
        return self.spec.beta

    def sym_loss_kwargs(self) -> dict:
        return dict(self.spec.sym_loss_kwargs(), reduction=self.reduction)

    def _with_nll(self, out, chosen_logps: torch.Tensor, chosen_counts) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(loss + nll_weight * reduced NLL, the per-pair NLL or None)."""
        if not self.nll_weight:
            return out.loss, None
        nll = nll_per_pair(chosen_logps, chosen_counts, self.average)
        return out.loss + self.nll_weight * _reduce(nll, self.reduction).to(out.loss.dtype), nll.detach()

    def forward(self, *inputs, **options) -> SymPOLossOutput:
        """``(loss, metrics)``: :meth:`pair_outputs` (same arguments) reduced to TRL's batch metrics."""
        out = self.pair_outputs(*inputs, **options)
        return SymPOLossOutput(out.loss, out.metrics(options.get("pair_labels")))

    def _sym_loss_outputs(self, logps, labels, cu_seqlens, ref_chosen_logps, ref_rejected_logps, pair_labels, weights):
        """:class:`PairOutputs` of the sequence log-probs ``logps`` [2B] ([chosen; rejected]): the pair
        loss and the rewards from one :func:`sympo_ext.sym_loss` launch, plus the NLL term."""
        pairs = logps.shape[0] // 2
        chosen, rejected = logps[:pairs], logps[pairs:]
        # sym_loss checks the reference tensors (both or neither, one entry per pair).
        out = _ops.sym_loss(
            chosen,
            rejected,
            ref_chosen_logps,
            ref_rejected_logps,
            labels=pair_labels,
            weights=weights,
            return_rewards=True,
            **self.sym_loss_kwargs(),
        )
        counts = self._counts(labels, logps.shape[0], cu_seqlens)[:pairs] if self.nll_weight else None
        loss, nll = self._with_nll(out, chosen, counts)
        return PairOutputs(
            loss, out.chosen_rewards, out.rejected_rewards, out.margins, chosen.detach(), rejected.detach(), nll
        )

    def _counts(self, labels: torch.Tensor, num_seqs: int, cu_seqlens) -> torch.Tensor:
        """Counted tokens per sequence, from the labels (no second pass over the logits)."""
        seq = None if cu_seqlens is None else sequence_ids(cu_seqlens, labels.numel(), labels.device)
        return per_sequence_sum((labels.reshape(-1) != self.ignore_index).to(torch.float32), num_seqs, seq)

    def extra_repr(self) -> str:
        return (
            f"loss_type={self.loss_type!r}, beta={self.beta}, clip={self.spec.clip}, "
            f"reduction={self.reduction!r}, nll_weight={self.nll_weight}, average={self.average}, "
            f"ignore_index={self.ignore_index}"
        )


PairLossModule.__doc__ += params_doc()


class SymPOLoss(PairLossModule):
    """Preference loss from the policy logits of the concatenated batch ``[chosen; rejected]``.

    TRL's convention: the first half of the sequences are the chosen responses, the second
    half the rejected ones (pair i is sequences i and B + i). The per-sequence log-probs come
    from the fused :func:`sympo_ext.sequence_logps` (its backward never materialises a
    log-softmax), the pair loss and the rewards from one :func:`sympo_ext.sym_loss` launch.

    The same interface as :class:`sympo_ext.FusedLinearSymPOLoss`, which starts from hidden
    states instead of logits.

    Args (constructor): every :func:`sympo_ext.sym_loss` option -- ``loss_type`` (default
    ``"sigmoid"``, SymPO's symmetric sigmoid loss; a name, alias or a list), ``loss_weights``,
    ``beta``, ``clip``, ``reduction`` and the loss parameters by name (None = the loss's
    default; listed in :class:`PairLossModule`'s docstring, from the registry) -- plus
    ``nll_weight`` (the NLL / SFT term), ``average`` (length-normalised log-probs, SimPO-style),
    ``ignore_index`` (label value that does not count) and ``inplace_backward`` (write the
    logits' gradient into the logits, see :func:`sympo_ext.sequence_logps`).

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

    def __init__(
        self,
        loss_type: str | list[str] = "sigmoid",
        beta: float = DEFAULT_BETA,
        *,
        inplace_backward: bool = False,
        **options,
    ) -> None:
        super().__init__(loss_type, beta, **options)
        self.inplace_backward = inplace_backward

    def pair_outputs(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        ref_chosen_logps: torch.Tensor | None = None,
        ref_rejected_logps: torch.Tensor | None = None,
        *,
        cu_seqlens: torch.Tensor | None = None,
        pair_labels: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> PairOutputs:
        """The loss and the per-pair rewards / log-probs (``forward``'s arguments, see the class docstring)."""
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
        refs = (None if ref is None else ref.detach() for ref in (ref_chosen_logps, ref_rejected_logps))
        return self._sym_loss_outputs(logps, labels, cu_seqlens, *refs, pair_labels, weights)


class FusedLinearSymPOLoss(PairLossModule):
    """SymPO (and DPO-family) loss from the policy's last hidden states and LM head.

    The batch is the concatenation [chosen; rejected] (TRL's convention): the first
    half of the sequences are the chosen responses, the second half the rejected ones,
    pair i being (i, i + B). Per-sequence log-probs come from
    :func:`fused_linear_sequence_logps` (the full logits never exist), the pair loss
    from :func:`sympo_ext.sym_loss` with every one of its options.

    Constructor args: ``loss_type`` (a name, alias or list), ``loss_weights``, ``beta``,
    ``clip``, ``reduction`` and the loss parameters as in :func:`sympo_ext.sym_loss`;
    ``nll_weight`` (the NLL / SFT term, see :class:`PairLossModule`); ``average`` (length-normalised
    log-probs), ``ignore_index`` and ``chunk_size`` as in :func:`fused_linear_sequence_logps`;
    ``fuse_backward``:

    * True (the default, ``None``, picks it when reduction is "mean"/"sum", a gradient is
      needed, the reference log-probs and pair weights need none, and the module is not being
      compiled): the loss and the gradients of hidden / weight / bias are computed in ONE pass
      over the LM head, by groups of whole pairs: the group's logits are computed once, give
      the log-probs, the pair losses and d loss / d log-probs (each pair's loss depends on that
      pair only), then are turned in place into grad_logits. 3 LM-head GEMMs (like the unfused
      path) instead of 4; the gradients are kept from forward to backward (as Liger-Kernel
      does). A group holds as many pairs as fit in ``chunk_size`` counted rows, at least one
      pair: the peak is O(max(chunk_size, counted tokens of one pair) * V).
    * False: :func:`fused_linear_sequence_logps` (backward recomputes the logits, 4 GEMMs,
      peak O(chunk_size * V)) then :func:`sympo_ext.sym_loss`; works with every reduction and
      under ``torch.compile(fullgraph=True)``.

    ``forward(hidden, weight, labels, ref_chosen_logps=None, ref_rejected_logps=None, *,
    bias=None, cu_seqlens=None, pair_labels=None, weights=None)``:

    * ``hidden`` [2B, T, H] (or packed [L, H] with ``cu_seqlens`` [2B + 1]), ``weight`` [V, H],
      ``labels`` the target tokens [2B, T] (or [L]);
    * ``ref_chosen_logps`` / ``ref_rejected_logps`` [B]: the reference model's log-probs
      (computed the same way, e.g. with ``average``); both None means reference-free;
    * ``pair_labels`` [B]: sym_loss's ``labels`` (1: the first response is preferred,
      0: the second; default all 1); ``weights`` [B]: per-pair weights.

    Returns :class:`sympo_ext.SymPOLossOutput` ``(loss, metrics)``; metrics are detached scalars (means over pairs):
    ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``, ``rewards/accuracies``
    (fraction of pairs whose margin has the sign of the preference: margin > 0 when the
    pair label is 1, < 0 when it is 0), ``logps/chosen``, ``logps/rejected``.
    """

    def __init__(
        self,
        loss_type: str | list[str] = "sigmoid",
        beta: float = DEFAULT_BETA,
        *,
        chunk_size: int | None = None,
        fuse_backward: bool | None = None,
        **options,
    ) -> None:
        super().__init__(loss_type, beta, **options)
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        ):
            raise ValueError(f"FusedLinearSymPOLoss: chunk_size must be a positive int or None, got {chunk_size!r}")
        self.chunk_size, self.fuse_backward = chunk_size, fuse_backward

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, chunk_size={self.chunk_size}, fuse_backward={self.fuse_backward}"

    def pair_outputs(
        self,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        labels: torch.Tensor,
        ref_chosen_logps: torch.Tensor | None = None,
        ref_rejected_logps: torch.Tensor | None = None,
        *,
        bias: torch.Tensor | None = None,
        cu_seqlens: torch.Tensor | None = None,
        pair_labels: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> PairOutputs:
        """The loss and the per-pair rewards / log-probs (``forward``'s arguments, see the class docstring)."""
        if (ref_chosen_logps is None) != (ref_rejected_logps is None):
            raise ValueError(
                "FusedLinearSymPOLoss: give both ref_chosen_logps and ref_rejected_logps, or neither (reference-free)"
            )
        _check_fused_inputs(hidden, weight, labels, bias, cu_seqlens, self.chunk_size)
        num_seqs = hidden.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
        if num_seqs % 2:
            where = "hidden's first dimension" if cu_seqlens is None else "cu_seqlens (N + 1 offsets)"
            raise ValueError(
                f"FusedLinearSymPOLoss: the batch must hold 2B sequences [chosen; rejected], got {num_seqs} in {where}"
            )
        pairs = num_seqs // 2
        for value, name in (
            (ref_chosen_logps, "ref_chosen_logps"),
            (ref_rejected_logps, "ref_rejected_logps"),
            (pair_labels, "pair_labels"),
            (weights, "weights"),
        ):
            if value is not None and (not isinstance(value, torch.Tensor) or tuple(value.shape) != (pairs,)):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"FusedLinearSymPOLoss: {name} must be a tensor of shape [B={pairs}], got {shape}")
        needs = (hidden.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
        pair = PairInputs(ref_chosen_logps, ref_rejected_logps, pair_labels, weights)
        if not self._use_loss_fused(needs, pair):
            logps = fused_linear_sequence_logps(
                hidden,
                weight,
                labels,
                bias=bias,
                ignore_index=self.ignore_index,
                average=self.average,
                cu_seqlens=cu_seqlens,
                chunk_size=self.chunk_size,
            )
            return self._sym_loss_outputs(logps, labels, cu_seqlens, *pair)
        opts = LossFusedOptions(
            int(self.ignore_index),
            bool(self.average),
            int(self.chunk_size or 0),
            self.sym_loss_kwargs(),
            needs,
            float(self.nll_weight),
        )
        loss, rewards, logps = loss_fused(hidden, weight, bias, labels, cu_seqlens, pair, opts)
        nll = None
        if self.nll_weight:
            counts = self._counts(labels, num_seqs, cu_seqlens)[:pairs]
            nll = nll_per_pair(logps[:pairs], counts, self.average).detach()
        return PairOutputs(
            loss, rewards[0], rewards[1], rewards[2], logps[:pairs].detach(), logps[pairs:].detach(), nll
        )

    def _use_loss_fused(self, needs: tuple[bool, bool, bool], pair: PairInputs) -> bool:
        """``fuse_backward`` resolved for this call (see the class docstring)."""
        batch_losses = [t for t in self.spec.loss_types if LOSSES[t].kind == "batch"]
        if batch_losses:  # a batch loss (AOT) needs every pair at once, not pair groups
            if self.fuse_backward:
                raise ValueError(
                    f"FusedLinearSymPOLoss: fuse_backward=True cannot run the batch loss "
                    f"{batch_losses[0]!r} (it sorts across the whole batch); use fuse_backward=None/False"
                )
            return False
        if self.fuse_backward is None:
            return (
                self.reduction != "none"
                and torch.is_grad_enabled()
                and any(needs)
                and not any(
                    x is not None and x.requires_grad for x in (pair.ref_chosen, pair.ref_rejected, pair.weights)
                )
                and not torch.compiler.is_compiling()
            )
        if self.fuse_backward and self.reduction == "none":
            raise ValueError("FusedLinearSymPOLoss: fuse_backward=True needs reduction 'mean' or 'sum' (got 'none')")
        return self.fuse_backward
