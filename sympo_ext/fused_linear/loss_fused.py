"""The loss-fused path of :class:`sympo_ext.FusedLinearSymPOLoss`: the pair loss AND its
gradients w.r.t. hidden / weight / bias in ONE pass over the LM head (3 GEMMs instead of 4).

Pairs are processed in groups (chosen and rejected rows of the group together): logits of the
group's counted rows, row forward, the group's pair losses and d loss / d log-probs (``sym_loss``
over those pairs: with reduction sum/mean every pair's loss depends on that pair only), then the
same logits are turned in place into grad_logits and the GEMMs of the backward run right away.
No logits are recomputed; the gradients are kept from forward to backward (as Liger-Kernel does).

A Python ``autograd.Function``, not a custom op: computing d loss / d log-probs inside forward runs
``sym_loss``'s own autograd, which a custom op's implementation (running below the autograd
dispatch key) cannot. torch.compile runs it eagerly (``torch._dynamo.disable``); the module uses
the custom-op path when it is being compiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch

from .. import ops as _ops
from ..dtypes import math_dtype
from ..sequences import inverse_counts, per_sequence_sum, sequence_ids
from .chunking import (
    LOW_PRECISION,
    addmm_fp32_out,
    buffer_view,
    geometry,
    head_logits,
    resolve_chunk,
    row_fns,
    scan_counted,
    workspace,
)

__all__ = ["LossFusedOptions", "PairInputs", "loss_fused"]


class PairInputs(NamedTuple):
    """Per-pair tensors [B] (or None) of the loss; none of them may require grad on this path."""

    ref_chosen: Optional[torch.Tensor]
    ref_rejected: Optional[torch.Tensor]
    labels: Optional[torch.Tensor]
    weights: Optional[torch.Tensor]

    def part(self, p0: int, p1: int) -> PairInputs:
        return PairInputs(*(None if x is None else x[p0:p1] for x in self))


@dataclass(frozen=True)
class LossFusedOptions:
    ignore_index: int
    average: bool
    chunk_size: int  # token rows per group budget; 0 = automatic
    loss_kwargs: dict  # sym_loss options, including reduction ("mean" or "sum")
    needs: tuple[bool, bool, bool]  # gradients wanted for hidden, weight, bias
    nll_weight: float = 0.0  # the NLL / SFT term: nll_weight * the chosen rows' per-token NLL, per pair


class _GradAccumulator:
    """grad_hidden / grad_weight / grad_bias from per-group grad_logits."""

    def __init__(self, h2, weight, bias, idx, n_valid, n_chunks, need_hidden, need_weight, need_bias):
        self.weight, self.bias, self.n_chunks = weight, bias, n_chunks
        self.low = weight.dtype in LOW_PRECISION
        acc_dtype = torch.float32 if self.low else weight.dtype
        # Every row is written when every row counts; otherwise ignored rows stay 0.
        self.grad_h = None
        if need_hidden:
            self.grad_h = torch.empty_like(h2) if idx is None and n_valid else torch.zeros_like(h2)
        self.grad_w = None
        # the first group's GEMM writes grad_w (no zero fill, no read of it) unless it accumulates in fp32
        self.first = n_chunks >= 1 and (not self.low or n_chunks == 1)
        if need_weight:
            alloc = torch.empty if self.first else torch.zeros
            self.grad_w = alloc(weight.shape, dtype=acc_dtype if n_chunks > 1 else weight.dtype, device=weight.device)
        self.grad_b = torch.zeros(weight.shape[0], dtype=acc_dtype, device=weight.device) if need_bias else None
        self.fp32_out_mm = self.low and n_chunks > 1 and weight.is_cuda

    def add(self, gl, h, sel) -> None:
        if self.grad_h is not None:
            gh = torch.mm(gl, self.weight)
            if isinstance(sel, slice):
                self.grad_h[sel] = gh
            else:
                self.grad_h.index_copy_(0, sel, gh)
            del gh
        if self.grad_w is not None:
            if self.first:
                torch.mm(gl.t(), h, out=self.grad_w)
                self.first = False
            elif not self.low:
                self.grad_w.addmm_(gl.t(), h)
            elif self.fp32_out_mm and addmm_fp32_out(self.grad_w, gl.t(), h):
                pass
            else:  # out_dtype unsupported here: upcast the chunk's operands instead
                self.fp32_out_mm = False
                self.grad_w.addmm_(gl.t().float(), h.float())
        if self.grad_b is not None:
            self.grad_b += gl.sum(0, dtype=self.grad_b.dtype)

    def result(self, hidden):
        # autograd.Function outputs: a fresh empty tensor for each one not wanted
        grad_hidden = self.grad_h.view(hidden.shape) if self.grad_h is not None else hidden.new_empty(0)
        grad_weight = self.grad_w.to(self.weight.dtype) if self.grad_w is not None else hidden.new_empty(0)
        grad_bias = self.grad_b.to(self.bias.dtype) if self.grad_b is not None else hidden.new_empty(0)
        return grad_hidden, grad_weight, grad_bias


def _pair_groups(counts: list[int], pairs: int, rows: int):
    """Consecutive pair ranges [p0, p1) whose counted rows (chosen + rejected) fit in ``rows``
    (a single pair that does not fit forms its own group)."""
    p0, acc = 0, 0
    for p in range(pairs):
        need = counts[p] + counts[pairs + p]
        if p > p0 and acc + need > rows:
            yield p0, p
            p0, acc = p, 0
        acc += need
    if pairs:
        yield p0, pairs


def _loss_fused_impl(hidden, weight, bias, labels, cu_seqlens, pair: PairInputs, opts: LossFusedOptions):
    """(loss, rewards [3, B], logps [2B], grad_hidden, grad_weight, grad_bias) for d loss = 1."""
    h2, lab, n, t = geometry(hidden, labels, cu_seqlens)
    num_rows, pairs = lab.shape[0], n // 2
    mask, n_valid, idx = scan_counted(lab, cu_seqlens, opts.ignore_index, weight.shape[0])
    seq = None if cu_seqlens is None else sequence_ids(cu_seqlens, num_rows)
    counts = per_sequence_sum(mask.to(torch.int64), n, seq).tolist()
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + c)
    if idx is None:
        idx = torch.arange(num_rows, device=lab.device)

    groups = list(_pair_groups(counts, pairs, resolve_chunk(opts.chunk_size, n_valid, weight)))
    acc = _GradAccumulator(h2, weight, bias, idx, n_valid, len(groups), *opts.needs)
    row_fwd, row_bwd = row_fns(hidden.dtype)
    group_rows = [sum(counts[p0:p1]) + sum(counts[pairs + p0 : pairs + p1]) for p0, p1 in groups]
    flat = workspace(max(group_rows, default=0) * weight.shape[0], hidden.dtype, hidden.device)
    math = math_dtype(hidden)
    reduction = opts.loss_kwargs["reduction"]
    kw = {k: v for k, v in opts.loss_kwargs.items() if k != "reduction"}
    losses, rewards, logps = [], [], torch.zeros(n, dtype=math, device=hidden.device)

    for p0, p1 in groups:
        size = p1 - p0
        sel = torch.cat([idx[offsets[p0] : offsets[p1]], idx[offsets[pairs + p0] : offsets[pairs + p1]]])
        group_counts = counts[p0:p1] + counts[pairs + p0 : pairs + p1]
        local = torch.repeat_interleave(
            torch.arange(2 * size, device=lab.device),
            torch.tensor(group_counts, device=lab.device),
            output_size=sel.numel(),
        )
        inv_counts = inverse_counts(torch.tensor(group_counts, dtype=math, device=hidden.device))
        scale = inv_counts if opts.average else torch.ones(2 * size, dtype=math, device=hidden.device)
        h = h2.index_select(0, sel)
        lab_sel = lab.index_select(0, sel)
        logits = head_logits(h, weight, bias, buffer_view(flat, h.shape[0], weight.shape[0]))
        tok, lse = row_fwd(logits, lab_sel, opts.ignore_index)
        group_logps = per_sequence_sum(tok.to(math), 2 * size, local) * scale
        logps[p0:p1], logps[pairs + p0 : pairs + p1] = group_logps[:size], group_logps[size:]
        pc, pr = group_logps[:size].detach().requires_grad_(), group_logps[size:].detach().requires_grad_()
        part = pair.part(p0, p1)
        with torch.enable_grad():
            out = _ops.sym_loss(
                pc,
                pr,
                part.ref_chosen,
                part.ref_rejected,
                labels=part.labels,
                weights=part.weights,
                reduction="sum",
                return_rewards=True,
                **kw,
            )
            group_loss = out.loss
            if opts.nll_weight:  # per pair: the chosen response's per-token NLL
                per_token = pc if opts.average else pc * inv_counts[:size]
                group_loss = group_loss - opts.nll_weight * per_token.sum()
            d_pc, d_pr = torch.autograd.grad(group_loss, (pc, pr))
        losses.append(group_loss.detach())
        rewards.append(torch.stack([out.chosen_rewards, out.rejected_rewards, out.margins]).detach())
        d_seq = torch.cat([d_pc, d_pr]).to(math) * scale
        if reduction == "mean":
            d_seq = d_seq / pairs
        row_grad = d_seq.index_select(0, local)
        gl = row_bwd(
            logits, lab_sel, lse, row_grad.to(torch.float32) if math == torch.float32 else row_grad, opts.ignore_index
        )
        acc.add(gl, h, sel)
        del logits, gl, h
    loss = torch.stack(losses).sum() if losses else torch.zeros((), dtype=math, device=hidden.device)
    if reduction == "mean":
        loss = loss / pairs
    rewards = torch.cat(rewards, dim=1) if rewards else torch.zeros(3, 0, dtype=math, device=hidden.device)
    return (loss, rewards, logps, *acc.result(hidden))


class _LossFusedFunction(torch.autograd.Function):
    """The gradients are computed in forward and scaled by the incoming gradient of the (scalar)
    loss in backward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, cu_seqlens, pair, opts):
        loss, rewards, logps, gh, gw, gb = _loss_fused_impl(hidden, weight, bias, labels, cu_seqlens, pair, opts)
        ctx.needs = opts.needs
        ctx.save_for_backward(gh, gw, gb)
        ctx.mark_non_differentiable(rewards, logps)
        return loss, rewards, logps

    @staticmethod
    def backward(ctx, grad_loss, _grad_rewards, _grad_logps):
        gh, gw, gb = ctx.saved_tensors
        # the stored gradients are for d loss = 1 (the usual case: loss.backward())
        unit = bool((grad_loss == 1).all())
        grads = [
            (g if unit else g * grad_loss.to(g.dtype)) if need else None for g, need in zip((gh, gw, gb), ctx.needs)
        ]
        return (*grads, None, None, None, None)


@torch._dynamo.disable
def loss_fused(hidden, weight, bias, labels, cu_seqlens, pair: PairInputs, opts: LossFusedOptions):
    """(loss, rewards [3, B], logps [2B]); differentiable in hidden, weight and bias."""
    return _LossFusedFunction.apply(hidden, weight, bias, labels, cu_seqlens, pair, opts)
