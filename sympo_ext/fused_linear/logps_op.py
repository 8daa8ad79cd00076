"""The log-prob custom ops ``sympo_ext::fused_linear_logps`` / ``fused_linear_logps_backward``:
chunked forward over tokens, backward by vocabulary slices of the recomputed logits (4 LM-head
GEMMs in all), fake kernels, autograd, input checks and the public function
:func:`fused_linear_sequence_logps`. Both ops are declared here, in Python
(``torch.library.custom_op``): their implementation is a Python loop over ATen GEMMs and the row
kernels of ``csrc/``, which no C++ schema would add anything to."""

from __future__ import annotations

from typing import Optional

import torch

from .. import oracle
from ..autodiff import under_func_autodiff
from ..dtypes import math_dtype
from ..sequences import average_or_zero, inverse_counts, per_sequence_sum, sequence_ids
from .chunking import (
    FLOATS,
    LOW_PRECISION,
    NAME,
    addmm_fp32_out,
    buffer_view,
    chunks,
    geometry,
    head_logits,
    resolve_chunk,
    row_fns,
    scan_counted,
    take,
    workspace,
)

__all__ = ["fused_linear_sequence_logps", "check_inputs", "SLICE_PAD"]


# --------------------------------------------------------------------------- #
# the custom ops: forward and backward (eager)
# --------------------------------------------------------------------------- #


@torch.library.custom_op("sympo_ext::fused_linear_logps", mutates_args=())
def _fused_linear_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    labels: torch.Tensor,
    cu_seqlens: Optional[torch.Tensor],
    ignore_index: int,
    average: bool,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (per-sequence log-probs [N], per-token log-sum-exp [L] saved for backward)."""
    h2, lab, n, t = geometry(hidden, labels, cu_seqlens)
    out_dtype = math_dtype(hidden)
    num_rows = lab.shape[0]
    mask, n_valid, idx = scan_counted(lab, cu_seqlens, ignore_index, weight.shape[0])
    tok = torch.zeros(num_rows, dtype=out_dtype, device=hidden.device)
    lse = torch.zeros(num_rows, dtype=out_dtype, device=hidden.device)
    row_fwd, _ = row_fns(hidden.dtype)
    chunk = resolve_chunk(chunk_size, n_valid, weight)
    flat = workspace(min(chunk, n_valid) * weight.shape[0], hidden.dtype, hidden.device)
    for sel in chunks(n_valid, idx, chunk):
        h = take(h2, sel)
        logits = head_logits(h, weight, bias, buffer_view(flat, h.shape[0], weight.shape[0]))
        tok_c, lse_c = row_fwd(logits, take(lab, sel), ignore_index)
        del logits
        tok[sel] = tok_c.to(out_dtype)
        lse[sel] = lse_c.to(out_dtype)
    seq = None if cu_seqlens is None else sequence_ids(cu_seqlens, num_rows)
    total = per_sequence_sum(tok, n, seq)
    if average:
        total = average_or_zero(total, per_sequence_sum(mask.to(out_dtype), n, seq))
    return total, lse


@torch.library.custom_op("sympo_ext::fused_linear_logps_backward", mutates_args=())
def _fused_linear_logps_backward(
    grad_out: torch.Tensor,
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    labels: torch.Tensor,
    cu_seqlens: Optional[torch.Tensor],
    lse: torch.Tensor,
    ignore_index: int,
    average: bool,
    chunk_size: int,
    need_hidden: bool,
    need_weight: bool,
    need_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns (grad_hidden, grad_weight, grad_bias); an empty tensor for each one not needed."""
    h2, lab, n, t = geometry(hidden, labels, cu_seqlens)
    num_rows, vocab = lab.shape[0], weight.shape[0]
    mask, n_valid, idx = scan_counted(lab, cu_seqlens, ignore_index, vocab)
    seq = None if cu_seqlens is None else sequence_ids(cu_seqlens, num_rows)

    # d out[n] / d token_logp[r] = g[n] (/ count[n] with average), per row.
    g = grad_out.to(lse.dtype)
    if average:
        g = g * inverse_counts(per_sequence_sum(mask.to(lse.dtype), n, seq))
    row_grad = g.repeat_interleave(t) if seq is None else g[seq]
    row_grad = row_grad.to(math_dtype(hidden))

    grads = _vocab_sliced_backward(
        h2,
        weight,
        bias,
        lab,
        lse,
        row_grad,
        idx,
        n_valid,
        resolve_chunk(chunk_size, n_valid, weight),
        need_hidden,
        need_weight,
        need_bias,
    )
    # custom-op outputs may not alias each other: a fresh empty tensor for each one not wanted
    grad_h, grad_w, grad_b = (g if g is not None else hidden.new_empty(0) for g in grads)
    return (grad_h.view(hidden.shape) if need_hidden else grad_h), grad_w, grad_b


SLICE_PAD = 8  # -inf columns after each vocabulary slice: keeps leading dimensions multiples of 8
_MIN_SLICE = 256


def _vocab_sliced_backward(
    h2, weight, bias, lab, lse, row_grad, idx, n_valid, chunk, need_hidden, need_weight, need_bias
):
    """Backward over VOCABULARY slices of all counted tokens (token blocks only when even a
    ``_MIN_SLICE``-wide slice of every token exceeds the budget of ``chunk * V`` logits).

    For a slice [v0, v1) the recomputed logits ``h @ weight[v0:v1].T`` are written into a
    buffer [rows, v1 - v0 + 8] whose last 8 columns are -inf; rows whose label lies outside the
    slice get label ``v1 - v0`` (a -inf column, softmax 0 there), so the row kernel, given the
    full-row log-sum-exp from forward, writes exactly the slice of grad_logits (its onehot
    lands in the discarded padding). Then ``grad_weight[v0:v1] = grad_logits.T @ h`` is ONE
    GEMM over all tokens (fp32 accumulation inside the GEMM, one rounding, no [V, H] float32
    accumulator), and ``grad_hidden += grad_logits @ weight[v0:v1]`` accumulates in float32
    over slices ([tokens, H], the size of hidden)."""
    num_rows, width = h2.shape
    vocab = weight.shape[0]
    dtype = h2.dtype
    low = dtype in LOW_PRECISION
    acc_dtype = torch.float32 if low else dtype
    grad_h = grad_w = grad_b = None
    if need_hidden:
        grad_h = torch.empty_like(h2) if idx is None and n_valid else torch.zeros_like(h2)
    if n_valid == 0:
        return (
            grad_h,
            torch.zeros_like(weight) if need_weight else None,
            torch.zeros_like(bias) if need_bias else None,
        )

    hv = h2 if idx is None else h2.index_select(0, idx)
    lv = lab if idx is None else lab.index_select(0, idx)
    lse_v = lse if idx is None else lse.index_select(0, idx)
    rg_v = row_grad if idx is None else row_grad.index_select(0, idx)
    budget = max(1, chunk) * vocab  # logits elements per step, as in forward
    min_slice = min(vocab, _MIN_SLICE)
    block = n_valid if n_valid * min_slice <= budget else max(1, budget // min_slice)
    vs = min(vocab, max(min_slice, budget // block))
    if vs < vocab and vs > 64:
        vs -= vs % 64
    n_blocks = -(-n_valid // block)
    if need_weight:
        grad_w = (
            torch.empty_like(weight)
            if n_blocks == 1
            else torch.zeros(weight.shape, dtype=acc_dtype, device=weight.device)
        )
    if need_bias:
        grad_b = torch.empty_like(bias) if n_blocks == 1 else torch.zeros(vocab, dtype=acc_dtype, device=bias.device)
    _, row_bwd = row_fns(dtype)
    fp32_out_mm = low and weight.is_cuda
    flat = workspace(min(block, n_valid) * (min(vs, vocab) + SLICE_PAD), dtype, h2.device)

    for t0 in range(0, n_valid, block):
        t1 = min(t0 + block, n_valid)
        h, labs, lse_b, rg_b = hv[t0:t1], lv[t0:t1], lse_v[t0:t1], rg_v[t0:t1]
        acc_h = torch.zeros((t1 - t0, width), dtype=acc_dtype, device=h2.device) if need_hidden else None
        for v0 in range(0, vocab, vs):
            v1 = min(v0 + vs, vocab)
            w_s = weight[v0:v1]
            buf = buffer_view(flat, t1 - t0, v1 - v0 + SLICE_PAD)
            buf[:, v1 - v0 :] = float("-inf")
            logits = buf[:, : v1 - v0]
            if bias is None:
                torch.mm(h, w_s.t(), out=logits)
            else:
                torch.addmm(bias[v0:v1], h, w_s.t(), out=logits)
            in_slice = (labs >= v0) & (labs < v1)
            lab_s = torch.where(in_slice, labs - v0, torch.full_like(labs, v1 - v0))
            # every row counts here (ignored rows were dropped); labels are >= 0, so -1 matches none
            buf = row_bwd(buf, lab_s, lse_b, rg_b, -1)
            gl = buf[:, : v1 - v0]
            if acc_h is not None:
                if not low:
                    acc_h.addmm_(gl, w_s)
                elif fp32_out_mm and addmm_fp32_out(acc_h, gl, w_s):
                    pass
                else:  # out_dtype unsupported here: add the chunk's product (the size of hidden) in fp32
                    fp32_out_mm = False
                    acc_h += torch.mm(gl, w_s)
            if grad_w is not None:
                if n_blocks == 1:
                    torch.mm(gl.t(), h, out=grad_w[v0:v1])
                elif not low:
                    grad_w[v0:v1].addmm_(gl.t(), h)
                else:
                    grad_w[v0:v1] += torch.mm(gl.t(), h)
            if grad_b is not None:
                if n_blocks == 1:
                    grad_b[v0:v1] = gl.sum(0, dtype=acc_dtype)
                else:
                    grad_b[v0:v1] += gl.sum(0, dtype=acc_dtype)
            del buf, logits, gl
        if acc_h is not None:
            if idx is None:
                grad_h[t0:t1] = acc_h
            else:
                grad_h.index_copy_(0, idx[t0:t1], acc_h.to(dtype))
    if grad_w is not None and grad_w.dtype != weight.dtype:
        grad_w = grad_w.to(weight.dtype)
    if grad_b is not None and grad_b.dtype != bias.dtype:
        grad_b = grad_b.to(bias.dtype)
    return grad_h, grad_w, grad_b


# --------------------------------------------------------------------------- #
# fake kernels, autograd
# --------------------------------------------------------------------------- #


@_fused_linear_logps.register_fake
def _(hidden, weight, bias, labels, cu_seqlens, ignore_index, average, chunk_size):
    out_dtype = math_dtype(hidden)
    n = labels.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
    return hidden.new_empty((n,), dtype=out_dtype), hidden.new_empty((labels.numel(),), dtype=out_dtype)


@_fused_linear_logps_backward.register_fake
def _(
    grad_out,
    hidden,
    weight,
    bias,
    labels,
    cu_seqlens,
    lse,
    ignore_index,
    average,
    chunk_size,
    need_hidden,
    need_weight,
    need_bias,
):
    return (
        torch.empty_like(hidden) if need_hidden else hidden.new_empty(0),
        torch.empty_like(weight) if need_weight else hidden.new_empty(0),
        torch.empty_like(bias) if (need_bias and bias is not None) else hidden.new_empty(0),
    )


def _setup_context(ctx, inputs, output):
    hidden, weight, bias, labels, cu_seqlens, ignore_index, average, chunk_size = inputs
    ctx.save_for_backward(hidden, weight, bias, labels, cu_seqlens, output[1])
    ctx.options = (ignore_index, average, chunk_size)
    ctx.mark_non_differentiable(output[1])


def _backward(ctx, grad_out, _grad_lse):
    hidden, weight, bias, labels, cu_seqlens, lse = ctx.saved_tensors
    need_h, need_w, need_b = ctx.needs_input_grad[:3]
    need_b = need_b and bias is not None
    if not (need_h or need_w or need_b):
        return (None,) * 8
    if torch.is_grad_enabled():  # create_graph=True: a differentiable gradient (see _double_backward)
        return (
            *_double_backward(ctx, grad_out, hidden, weight, bias, labels, cu_seqlens),
            None,
            None,
            None,
            None,
            None,
        )
    gh, gw, gb = _fused_linear_logps_backward(
        grad_out.contiguous(), hidden, weight, bias, labels, cu_seqlens, lse, *ctx.options, need_h, need_w, need_b
    )
    return (gh if need_h else None, gw if need_w else None, gb if need_b else None, None, None, None, None, None)


def _double_backward(ctx, grad_out, hidden, weight, bias, labels, cu_seqlens):
    """The gradient as a differentiable graph, for a gradient of the gradient (e.g. a gradient
    penalty): the reference's, through the full logits hidden @ weight.T + bias (the chunked
    kernels give first derivatives only; this path materialises the [tokens, V] logits)."""
    ignore_index, average, _ = ctx.options
    logits = torch.nn.functional.linear(hidden, weight, bias)
    out = oracle.sequence_logps(logits, labels, ignore_index=ignore_index, average=average, cu_seqlens=cu_seqlens)
    wanted = [
        t if need and t is not None else None for t, need in zip((hidden, weight, bias), ctx.needs_input_grad[:3])
    ]
    grads = iter(torch.autograd.grad(out, [t for t in wanted if t is not None], grad_out, create_graph=True))
    return tuple(next(grads) if t is not None else None for t in wanted)


_fused_linear_logps.register_autograd(_backward, setup_context=_setup_context)


# --------------------------------------------------------------------------- #
# public wrapper
# --------------------------------------------------------------------------- #


def check_inputs(hidden, weight, labels, bias, cu_seqlens, chunk_size) -> None:
    for value, name in ((hidden, "hidden"), (weight, "weight"), (labels, "labels")):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{NAME}: {name} must be a tensor, got {type(value).__name__}")
    for value, name in ((bias, "bias"), (cu_seqlens, "cu_seqlens")):
        if value is not None and not isinstance(value, torch.Tensor):
            raise TypeError(f"{NAME}: {name} must be a tensor or None, got {type(value).__name__}")
    if hidden.dtype not in FLOATS:
        raise TypeError(f"{NAME}: hidden must be float32/float64/bfloat16/float16, got {hidden.dtype}")
    if weight.dtype != hidden.dtype:
        raise TypeError(f"{NAME}: weight dtype {weight.dtype} must match hidden dtype {hidden.dtype}")
    if bias is not None and bias.dtype != hidden.dtype:
        raise TypeError(f"{NAME}: bias dtype {bias.dtype} must match hidden dtype {hidden.dtype}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{NAME}: labels must be int64 or int32, got {labels.dtype}")
    if weight.dim() != 2:
        raise ValueError(f"{NAME}: weight must be [V, H], got shape {tuple(weight.shape)}")
    vocab, width = weight.shape
    if vocab == 0:
        raise ValueError(f"{NAME}: weight must have at least one row (V >= 1)")
    if hidden.shape[-1:] != (width,):
        raise ValueError(
            f"{NAME}: hidden's last dimension {tuple(hidden.shape[-1:])} must equal weight's H={width} "
            f"(weight is [V, H] = {tuple(weight.shape)})"
        )
    if bias is not None and tuple(bias.shape) != (vocab,):
        raise ValueError(f"{NAME}: bias must be [V={vocab}], got shape {tuple(bias.shape)}")
    if cu_seqlens is None:
        if hidden.dim() != 3:
            raise ValueError(
                f"{NAME}: hidden must be [N, T, H] (or packed [L, H] with cu_seqlens), got shape {tuple(hidden.shape)}"
            )
        if labels.shape != hidden.shape[:2]:
            raise ValueError(
                f"{NAME}: labels shape {tuple(labels.shape)} must equal hidden's [N, T] = {tuple(hidden.shape[:2])}"
            )
    else:
        if hidden.dim() != 2:
            raise ValueError(f"{NAME}: with cu_seqlens, hidden must be packed [L, H], got shape {tuple(hidden.shape)}")
        if labels.shape != hidden.shape[:1]:
            raise ValueError(
                f"{NAME}: labels shape {tuple(labels.shape)} must equal hidden's [L] = {tuple(hidden.shape[:1])}"
            )
        if cu_seqlens.dim() != 1 or cu_seqlens.shape[0] < 1:
            raise ValueError(f"{NAME}: cu_seqlens must be 1-D [N + 1], got shape {tuple(cu_seqlens.shape)}")
        if cu_seqlens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{NAME}: cu_seqlens must be int64 or int32, got {cu_seqlens.dtype}")
    devices = {t.device for t in (hidden, weight, labels, bias, cu_seqlens) if t is not None}
    if len(devices) > 1:
        raise ValueError(f"{NAME}: hidden, weight, labels, bias and cu_seqlens must be on one device, got {devices}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"{NAME}: chunk_size must be a positive int or None (automatic), got {chunk_size!r}")


def fused_linear_sequence_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    ignore_index: int = -100,
    average: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-sequence log-probs from hidden states and the LM head, without the full logits.

    Same result as ``sequence_logps(hidden @ weight.T + bias, labels, ignore_index=...,
    average=..., cu_seqlens=...)``, computed ``chunk_size`` token rows at a time (see the
    module docstring for the algorithm, memory and precision).

    Args:
        hidden: [N, T, H] (padded) or [L, H] (packed, with ``cu_seqlens``); fp32/bf16/fp16
            (fp64 for checks).
        weight: the LM head [V, H], same dtype as ``hidden``; may be tied to the input embedding.
        labels: [N, T] or [L], int64/int32, already aligned (``labels[n, t]`` is the token
            ``hidden[n, t]`` predicts); positions equal to ``ignore_index`` do not count.
        bias: optional [V].
        average: divide each sequence's sum by its number of counted tokens (0 for none).
        cu_seqlens: [N + 1] offsets of the packed sequences (int64/int32).
        chunk_size: token rows per chunk; None chooses it from V, the dtype and free memory.

    Returns:
        float32 [N] (float64 for float64 inputs), differentiable in hidden, weight and bias.
        N = 0 sequences or T = 0 positions give the empty / zero result (zero gradients).
        Double backward (``create_graph=True``, e.g. a gradient penalty) and ``torch.func.grad``
        / ``jacrev`` / ``jvp`` are exact but unfused: they build the full ``[tokens, V]`` logits.
    """
    check_inputs(hidden, weight, labels, bias, cu_seqlens, chunk_size)
    if under_func_autodiff():  # torch.func.grad / jacrev / jvp: the unfused reference (full logits)
        logits = torch.nn.functional.linear(hidden, weight, bias)
        return oracle.sequence_logps(
            logits, labels, ignore_index=int(ignore_index), average=bool(average), cu_seqlens=cu_seqlens
        )
    out, _ = _fused_linear_logps(
        hidden, weight, bias, labels, cu_seqlens, int(ignore_index), bool(average), int(chunk_size or 0)
    )
    return out


# --------------------------------------------------------------------------- #
# SymPO loss module
# --------------------------------------------------------------------------- #
