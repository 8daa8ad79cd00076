"""Fused linear path: per-sequence log-probs (and SymPO) straight from hidden states.

At Llama-3 scale (H = 4096, V = 128256) the logits of 16 pairs x 2048 tokens are
16 GiB in bf16 before any gradient. :func:`fused_linear_sequence_logps` computes
``sequence_logps(hidden @ weight.T + bias, labels, ...)`` chunk by chunk over
tokens so that the full logits never exist:

* forward, per chunk of (counted) tokens: ``logits = hidden_chunk @ weight.T
  (+ bias)`` through ATen's GEMM, then the row kernel
  :func:`sympo_ext.ops.token_logps_and_lse`; only the per-token log-sum-exp
  (float32, one number per token) is kept for backward;
* backward, by VOCABULARY slices of the same logits budget: for a slice [v0, v1) the logits
  ``h @ weight[v0:v1].T`` of all counted tokens are recomputed, turned IN PLACE into the
  slice of ``grad_logits`` by :func:`sympo_ext.ops.token_logps_backward_` (it takes the
  full-row log-sum-exp saved by forward, so a slice needs nothing else), then
  ``grad_weight[v0:v1] = grad_logits.T @ hidden`` (one GEMM over all tokens: written once,
  no float32 [V, H] accumulator), ``grad_bias[v0:v1] = grad_logits.sum(0)`` and
  ``grad_hidden += grad_logits @ weight[v0:v1]`` (float32 accumulator the size of hidden).
  Only when even a 256-wide slice of every token exceeds the budget are the tokens split
  into blocks too (then grad_weight accumulates over blocks in float32).

Peak extra memory is O(chunk_size * V) for one logits chunk / slice, plus the outputs and a
float32 grad_hidden accumulator ([tokens, H]); none of it grows with N*T*V. The cost is a
second LM-head GEMM in backward (3 GEMMs of the unfused path become 4);
:class:`FusedLinearSymPOLoss` avoids it (3 GEMMs) by computing the gradients in forward.

Ignored tokens (``labels == ignore_index``: prompt tokens, padding) are
dropped before chunking: only counted rows are gathered (``index_select``: a
[chunk, H] copy in forward, a [counted tokens, H] copy in backward) and go through
the GEMMs, so padding and prompts cost no LM-head FLOPs at all. Finding them costs one host synchronisation per forward
and one per backward (the number of counted tokens sizes the loop); that
synchronisation also validates the labels (in [0, V) or ignore_index) and
``cu_seqlens`` with clear errors instead of device-side asserts.

Precision: the logits are computed in the input dtype (as the unfused path does), the row
kernels accumulate in float32, every GEMM accumulates in float32 internally; grad_weight and
grad_bias are one GEMM / reduction over all tokens (one rounding); grad_hidden is summed over
vocabulary slices in float32 (on CUDA with ``addmm``'s ``out_dtype`` when available, else by
adding each slice's product) and rounded once.

``chunk_size`` is the number of token rows per forward chunk; backward uses the same number
of logits elements (``chunk_size * V``) per vocabulary slice. ``chunk_size=None`` chooses it
from the shapes: a budget of bytes for one logits chunk ``[rows, V]`` in the input
dtype, divided by ``V * element_size``, rounded down to a multiple of 64 (when
above 64) and capped by the number of counted tokens. The budget is

* CUDA: a quarter of the memory free to the caching allocator
  (``torch.cuda.mem_get_info`` plus what PyTorch holds cached but unused),
  clamped to [32 MiB, 256 MiB] -- at V = 128256 in bf16 that is 1024 rows,
  GEMMs of 1024 x 4096 x 128256 (backward: 16k tokens x 4096 x 8192 slices), large
  enough to run near full speed (H100, bf16, H = 4096: a 512 MiB cap was 1% faster at
  16k tokens and 5% faster at 32k, for 250 MiB more);
* CPU: a fixed 256 MiB (:data:`CPU_CHUNK_BUDGET_BYTES`).

Why a ``torch.library.custom_op`` (not a Python ``autograd.Function``): the
chunk loop is data-dependent (its length comes from the counted tokens) and
must stay opaque to tracing -- Dynamo tracing an ``autograd.Function`` would
inline the loop, graph-break on the synchronisation, or let the compiler
re-fuse the chunks into the full logits. As two custom ops
(``sympo_ext::fused_linear_logps`` and ``sympo_ext::fused_linear_logps_backward``)
with fake kernels and ``register_autograd``, the path passes
``torch.library.opcheck`` and compiles with ``fullgraph=True``. Double
backward is not supported (the backward op has no derivative registered).
The loss-fused path of :class:`FusedLinearSymPOLoss` (gradients computed in forward)
stays a Python ``autograd.Function``: it runs ``sym_loss``'s own autograd inside its
forward to get d loss / d log-probs, which a custom op's implementation (running below
the autograd dispatch key) cannot; it is excluded from tracing (``torch._dynamo.disable``)
and the module switches to the custom-op path when it is being compiled.

Tied weights: the op returns grad_weight like any other op, so when ``weight``
is also the input embedding, autograd adds both contributions.
"""

from __future__ import annotations

from typing import Optional

import torch

from . import ops as _ops
from . import reference as _reference
from .modules import PairLossModule, SymPOLossOutput, preference_metrics

__all__ = ["fused_linear_sequence_logps", "FusedLinearSymPOLoss", "auto_chunk_size", "CPU_CHUNK_BUDGET_BYTES"]

CPU_CHUNK_BUDGET_BYTES = 256 * 2**20
CUDA_CHUNK_BUDGET_MIN = 32 * 2**20
CUDA_CHUNK_BUDGET_MAX = 256 * 2**20
_LOW_PRECISION = (torch.bfloat16, torch.float16)
_FLOATS = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
_NAME = "fused_linear_sequence_logps"


# --------------------------------------------------------------------------- #
# chunk size
# --------------------------------------------------------------------------- #


def auto_chunk_size(num_rows: int, vocab: int, dtype: torch.dtype, device: torch.device | str) -> int:
    """Rows per chunk chosen when ``chunk_size=None`` (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        budget = min(max(free // 4, CUDA_CHUNK_BUDGET_MIN), CUDA_CHUNK_BUDGET_MAX)
    else:
        budget = CPU_CHUNK_BUDGET_BYTES
    rows = budget // max(1, vocab * torch.empty((), dtype=dtype).element_size())
    if rows > 64:
        rows -= rows % 64
    return int(max(1, min(rows, max(1, num_rows))))


# --------------------------------------------------------------------------- #
# the chunk loop (eager; runs inside the custom ops)
# --------------------------------------------------------------------------- #


def _row_fns(dtype: torch.dtype):
    """The row kernels, looked up at call time so the fused ones are used when present.
    float64 (gradcheck only, not a speed path) goes to the pure-PyTorch reference rows."""
    if dtype == torch.float64:

        def backward_(logits, labels, lse, row_grad, ignore_index):
            return logits.copy_(_reference.token_logps_grad(logits, labels, lse, row_grad, ignore_index))

        return _reference.token_logps_and_lse, backward_
    return _ops.token_logps_and_lse, _ops.token_logps_backward_


def _geometry(hidden, labels, cu_seqlens):
    """(hidden2d [L, H], labels1d [L], number of sequences N, T for padded or None)."""
    if cu_seqlens is None:
        n, t = labels.shape
        return hidden.reshape(n * t, hidden.shape[-1]), labels.reshape(n * t), n, t
    return hidden, labels, cu_seqlens.shape[0] - 1, None


def _scan(labels1d, cu_seqlens, ignore_index: int, vocab: int):
    """Counted-row mask and indices (None when every row counts), with input validation.
    One host synchronisation."""
    mask = labels1d != ignore_index
    bad_labels = (mask & ((labels1d < 0) | (labels1d >= vocab))).sum()
    checks = [mask.sum(), bad_labels]
    if cu_seqlens is not None:
        steps = cu_seqlens[1:] - cu_seqlens[:-1]
        checks.append((steps < 0).sum() + (cu_seqlens[0] != 0).long() + (cu_seqlens[-1] != labels1d.shape[0]).long())
    values = torch.stack([c.long() for c in checks]).tolist()
    if values[1]:
        raise ValueError(
            f"{_NAME}: labels must be in [0, V={vocab}) or equal ignore_index={ignore_index}; "
            f"{values[1]} label(s) are out of range"
        )
    if cu_seqlens is not None and values[2]:
        raise ValueError(
            f"{_NAME}: cu_seqlens must start at 0, be non-decreasing and end at the number of "
            f"tokens L={labels1d.shape[0]}; got {cu_seqlens.tolist()[:16]}"
        )
    n_valid = values[0]
    if n_valid == labels1d.shape[0]:
        return mask, n_valid, None
    return mask, n_valid, torch.nonzero(mask).squeeze(1)


def _chunks(n_valid: int, idx, chunk_size: int):
    """Yield (slice or index tensor) per chunk of counted rows."""
    for start in range(0, n_valid, chunk_size):
        stop = min(start + chunk_size, n_valid)
        yield (slice(start, stop) if idx is None else idx[start:stop])


def _take(t, sel):
    return t[sel] if isinstance(sel, slice) else t.index_select(0, sel)


def _logits(h, weight, bias):
    return torch.mm(h, weight.t()) if bias is None else torch.addmm(bias, h, weight.t())


def _seq_ids(cu_seqlens, num_rows: int):
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    return torch.repeat_interleave(torch.arange(lengths.numel(), device=lengths.device), lengths, output_size=num_rows)


def _resolve_chunk(chunk_size: int, n_valid: int, weight) -> int:
    if chunk_size > 0:
        return chunk_size
    return auto_chunk_size(n_valid, weight.shape[0], weight.dtype, weight.device)


def _forward_impl(hidden, weight, bias, labels, cu_seqlens, ignore_index, average, chunk_size):
    h2, lab, n, t = _geometry(hidden, labels, cu_seqlens)
    out_dtype = torch.float64 if hidden.dtype == torch.float64 else torch.float32
    num_rows = lab.shape[0]
    mask, n_valid, idx = _scan(lab, cu_seqlens, ignore_index, weight.shape[0])
    tok = torch.zeros(num_rows, dtype=out_dtype, device=hidden.device)
    lse = torch.zeros(num_rows, dtype=out_dtype, device=hidden.device)
    row_fwd, _ = _row_fns(hidden.dtype)
    for sel in _chunks(n_valid, idx, _resolve_chunk(chunk_size, n_valid, weight)):
        logits = _logits(_take(h2, sel), weight, bias)
        tok_c, lse_c = row_fwd(logits, _take(lab, sel), ignore_index)
        del logits
        tok[sel] = tok_c.to(out_dtype)
        lse[sel] = lse_c.to(out_dtype)
    counted = mask.to(out_dtype)
    if cu_seqlens is None:
        total, count = tok.view(n, t).sum(1), counted.view(n, t).sum(1)
    else:
        seq = _seq_ids(cu_seqlens, num_rows)
        total = torch.zeros(n, dtype=out_dtype, device=hidden.device).index_add_(0, seq, tok)
        count = torch.zeros(n, dtype=out_dtype, device=hidden.device).index_add_(0, seq, counted)
    if average:
        total = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))
    return total, lse


def _backward_impl(grad_out, hidden, weight, bias, labels, cu_seqlens, lse, ignore_index, average, chunk_size,
                   need_hidden, need_weight, need_bias):
    h2, lab, n, t = _geometry(hidden, labels, cu_seqlens)
    num_rows, vocab = lab.shape[0], weight.shape[0]
    mask, n_valid, idx = _scan(lab, cu_seqlens, ignore_index, vocab)
    seq = None if cu_seqlens is None else _seq_ids(cu_seqlens, num_rows)

    # d out[n] / d token_logp[r] = g[n] (/ count[n] with average), per row.
    g = grad_out.to(lse.dtype)
    if average:
        counted = mask.to(lse.dtype)
        count = counted.view(n, t).sum(1) if seq is None else torch.zeros_like(g).index_add_(0, seq, counted)
        g = torch.where(count > 0, g / count.clamp(min=1), torch.zeros_like(g))
    row_grad = g.repeat_interleave(t) if seq is None else g[seq]
    row_grad = row_grad.to(torch.float32) if hidden.dtype != torch.float64 else row_grad

    grads = _vocab_sliced_backward(h2, weight, bias, lab, lse, row_grad, idx, n_valid,
                                   _resolve_chunk(chunk_size, n_valid, weight), need_hidden, need_weight, need_bias)
    # custom-op outputs may not alias each other: a fresh empty tensor for each one not wanted
    grad_h, grad_w, grad_b = (g if g is not None else hidden.new_empty(0) for g in grads)
    return (grad_h.view(hidden.shape) if grad_h.numel() else grad_h), grad_w, grad_b


_SLICE_PAD = 8  # -inf columns after each vocabulary slice: keeps leading dimensions multiples of 8
_MIN_SLICE = 256


def _vocab_sliced_backward(h2, weight, bias, lab, lse, row_grad, idx, n_valid, chunk, need_hidden, need_weight,
                           need_bias):
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
    low = dtype in _LOW_PRECISION
    acc_dtype = torch.float32 if low else dtype
    grad_h = grad_w = grad_b = None
    if need_hidden:
        grad_h = torch.empty_like(h2) if idx is None and n_valid else torch.zeros_like(h2)
    if n_valid == 0:
        return (grad_h, torch.zeros_like(weight) if need_weight else None,
                torch.zeros_like(bias) if need_bias else None)

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
        grad_w = torch.empty_like(weight) if n_blocks == 1 else torch.zeros(weight.shape, dtype=acc_dtype,
                                                                           device=weight.device)
    if need_bias:
        grad_b = torch.empty_like(bias) if n_blocks == 1 else torch.zeros(vocab, dtype=acc_dtype, device=bias.device)
    _, row_bwd = _row_fns(dtype)
    fp32_out_mm = low and weight.is_cuda

    for t0 in range(0, n_valid, block):
        t1 = min(t0 + block, n_valid)
        h, labs, lse_b, rg_b = hv[t0:t1], lv[t0:t1], lse_v[t0:t1], rg_v[t0:t1]
        acc_h = torch.zeros((t1 - t0, width), dtype=acc_dtype, device=h2.device) if need_hidden else None
        for v0 in range(0, vocab, vs):
            v1 = min(v0 + vs, vocab)
            w_s = weight[v0:v1]
            buf = torch.empty((t1 - t0, v1 - v0 + _SLICE_PAD), dtype=dtype, device=h2.device)
            buf[:, v1 - v0:] = float("-inf")
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
                elif fp32_out_mm and _addmm_fp32_out(acc_h, gl, w_s):
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


class _GradAccumulator:
    """grad_hidden / grad_weight / grad_bias from per-chunk grad_logits (see the module docstring)."""

    def __init__(self, h2, weight, bias, idx, n_valid, n_chunks, need_hidden, need_weight, need_bias):
        self.weight, self.bias, self.n_chunks = weight, bias, n_chunks
        self.low = weight.dtype in _LOW_PRECISION
        acc_dtype = torch.float32 if self.low else weight.dtype
        # Every row is written when every row counts; otherwise ignored rows stay 0.
        self.grad_h = None
        if need_hidden:
            self.grad_h = torch.empty_like(h2) if idx is None and n_valid else torch.zeros_like(h2)
        self.grad_w = None
        if need_weight:
            self.grad_w = torch.zeros(weight.shape, dtype=acc_dtype if n_chunks > 1 else weight.dtype,
                                      device=weight.device)
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
            if self.n_chunks == 1:
                torch.mm(gl.t(), h, out=self.grad_w)
            elif not self.low:
                self.grad_w.addmm_(gl.t(), h)
            elif self.fp32_out_mm and _addmm_fp32_out(self.grad_w, gl.t(), h):
                pass
            else:  # out_dtype unsupported here: upcast the chunk's operands instead
                self.fp32_out_mm = False
                self.grad_w.addmm_(gl.t().float(), h.float())
        if self.grad_b is not None:
            self.grad_b += gl.sum(0, dtype=self.grad_b.dtype)

    def result(self, hidden):
        # custom-op outputs may not alias each other: a fresh empty tensor for each one not wanted
        grad_hidden = self.grad_h.view(hidden.shape) if self.grad_h is not None else hidden.new_empty(0)
        grad_weight = self.grad_w.to(self.weight.dtype) if self.grad_w is not None else hidden.new_empty(0)
        grad_bias = self.grad_b.to(self.bias.dtype) if self.grad_b is not None else hidden.new_empty(0)
        return grad_hidden, grad_weight, grad_bias


def _addmm_fp32_out(acc, a, b) -> bool:
    """acc (fp32) += a @ b for bf16/fp16 a, b, with the GEMM writing fp32 directly."""
    try:
        torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
        return True
    except (RuntimeError, TypeError, NotImplementedError):
        return False


# --------------------------------------------------------------------------- #
# custom ops, fake kernels, autograd
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
    return _forward_impl(hidden, weight, bias, labels, cu_seqlens, ignore_index, average, chunk_size)


@_fused_linear_logps.register_fake
def _(hidden, weight, bias, labels, cu_seqlens, ignore_index, average, chunk_size):
    out_dtype = torch.float64 if hidden.dtype == torch.float64 else torch.float32
    n = labels.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
    return hidden.new_empty((n,), dtype=out_dtype), hidden.new_empty((labels.numel(),), dtype=out_dtype)


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
    return _backward_impl(grad_out, hidden, weight, bias, labels, cu_seqlens, lse, ignore_index, average,
                          chunk_size, need_hidden, need_weight, need_bias)


@_fused_linear_logps_backward.register_fake
def _(grad_out, hidden, weight, bias, labels, cu_seqlens, lse, ignore_index, average, chunk_size, need_hidden,
      need_weight, need_bias):
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
    gh, gw, gb = _fused_linear_logps_backward(
        grad_out.contiguous(), hidden, weight, bias, labels, cu_seqlens, lse, *ctx.options, need_h, need_w, need_b
    )
    return (gh if need_h else None, gw if need_w else None, gb if need_b else None, None, None, None, None, None)


_fused_linear_logps.register_autograd(_backward, setup_context=_setup_context)


# --------------------------------------------------------------------------- #
# public wrapper
# --------------------------------------------------------------------------- #


def _check_inputs(hidden, weight, labels, bias, cu_seqlens, chunk_size) -> None:
    for value, name in ((hidden, "hidden"), (weight, "weight"), (labels, "labels")):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{_NAME}: {name} must be a tensor, got {type(value).__name__}")
    for value, name in ((bias, "bias"), (cu_seqlens, "cu_seqlens")):
        if value is not None and not isinstance(value, torch.Tensor):
            raise TypeError(f"{_NAME}: {name} must be a tensor or None, got {type(value).__name__}")
    if hidden.dtype not in _FLOATS:
        raise TypeError(f"{_NAME}: hidden must be float32/float64/bfloat16/float16, got {hidden.dtype}")
    if weight.dtype != hidden.dtype:
        raise TypeError(f"{_NAME}: weight dtype {weight.dtype} must match hidden dtype {hidden.dtype}")
    if bias is not None and bias.dtype != hidden.dtype:
        raise TypeError(f"{_NAME}: bias dtype {bias.dtype} must match hidden dtype {hidden.dtype}")
    if labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{_NAME}: labels must be int64 or int32, got {labels.dtype}")
    if weight.dim() != 2:
        raise ValueError(f"{_NAME}: weight must be [V, H], got shape {tuple(weight.shape)}")
    vocab, width = weight.shape
    if vocab == 0:
        raise ValueError(f"{_NAME}: weight must have at least one row (V >= 1)")
    if hidden.shape[-1:] != (width,):
        raise ValueError(
            f"{_NAME}: hidden's last dimension {tuple(hidden.shape[-1:])} must equal weight's H={width} "
            f"(weight is [V, H] = {tuple(weight.shape)})"
        )
    if bias is not None and tuple(bias.shape) != (vocab,):
        raise ValueError(f"{_NAME}: bias must be [V={vocab}], got shape {tuple(bias.shape)}")
    if cu_seqlens is None:
        if hidden.dim() != 3:
            raise ValueError(
                f"{_NAME}: hidden must be [N, T, H] (or packed [L, H] with cu_seqlens), got shape {tuple(hidden.shape)}"
            )
        if labels.shape != hidden.shape[:2]:
            raise ValueError(
                f"{_NAME}: labels shape {tuple(labels.shape)} must equal hidden's [N, T] = {tuple(hidden.shape[:2])}"
            )
    else:
        if hidden.dim() != 2:
            raise ValueError(f"{_NAME}: with cu_seqlens, hidden must be packed [L, H], got shape {tuple(hidden.shape)}")
        if labels.shape != hidden.shape[:1]:
            raise ValueError(f"{_NAME}: labels shape {tuple(labels.shape)} must equal hidden's [L] = {tuple(hidden.shape[:1])}")
        if cu_seqlens.dim() != 1 or cu_seqlens.shape[0] < 1:
            raise ValueError(f"{_NAME}: cu_seqlens must be 1-D [N + 1], got shape {tuple(cu_seqlens.shape)}")
        if cu_seqlens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{_NAME}: cu_seqlens must be int64 or int32, got {cu_seqlens.dtype}")
    devices = {t.device for t in (hidden, weight, labels, bias, cu_seqlens) if t is not None}
    if len(devices) > 1:
        raise ValueError(f"{_NAME}: hidden, weight, labels, bias and cu_seqlens must be on one device, got {devices}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"{_NAME}: chunk_size must be a positive int or None (automatic), got {chunk_size!r}")


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
    """
    _check_inputs(hidden, weight, labels, bias, cu_seqlens, chunk_size)
    out, _ = _fused_linear_logps(
        hidden, weight, bias, labels, cu_seqlens, int(ignore_index), bool(average), int(chunk_size or 0)
    )
    return out


# --------------------------------------------------------------------------- #
# SymPO loss module
# --------------------------------------------------------------------------- #


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


def _loss_fused_impl(hidden, weight, bias, labels, cu_seqlens, ref_c, ref_r, pair_labels, pair_weights, ignore_index,
                     average, chunk_size, loss_kw, need_hidden, need_weight, need_bias):
    """SymPO loss AND its gradients in one pass (3 LM-head GEMMs instead of 4).

    Pairs are processed in groups (chosen and rejected rows of the group together): logits of
    the group's counted rows, row forward, the group's pair losses and d loss / d log-probs
    (sym_loss over those pairs: with reduction sum/mean every pair's loss depends on that pair
    only), then the same logits are turned in place into grad_logits and the GEMMs of the
    backward run right away. No logits are recomputed."""
    h2, lab, n, t = _geometry(hidden, labels, cu_seqlens)
    num_rows, pairs = lab.shape[0], n // 2
    mask, n_valid, idx = _scan(lab, cu_seqlens, ignore_index, weight.shape[0])
    counted = mask.to(torch.int64)
    if cu_seqlens is None:
        counts_t = counted.view(n, t).sum(1)
    else:
        counts_t = torch.zeros(n, dtype=torch.int64, device=lab.device).index_add_(0, _seq_ids(cu_seqlens, num_rows),
                                                                                   counted)
    counts = counts_t.tolist()
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + c)
    if idx is None:
        idx = torch.arange(num_rows, device=lab.device)

    rows = _resolve_chunk(chunk_size, n_valid, weight)
    groups = list(_pair_groups(counts, pairs, rows))
    acc = _GradAccumulator(h2, weight, bias, idx, n_valid, len(groups), need_hidden, need_weight, need_bias)
    row_fwd, row_bwd = _row_fns(hidden.dtype)
    math = torch.float64 if hidden.dtype == torch.float64 else torch.float32
    reduction = loss_kw["reduction"]
    kw = {k: v for k, v in loss_kw.items() if k != "reduction"}
    losses, rewards, logps = [], [], torch.zeros(n, dtype=math, device=hidden.device)

    def part(x, p0, p1):
        return None if x is None else x[p0:p1]

    for p0, p1 in groups:
        size = p1 - p0
        sel = torch.cat([idx[offsets[p0]:offsets[p1]], idx[offsets[pairs + p0]:offsets[pairs + p1]]])
        group_counts = counts[p0:p1] + counts[pairs + p0:pairs + p1]
        local = torch.repeat_interleave(torch.arange(2 * size, device=lab.device),
                                        torch.tensor(group_counts, device=lab.device), output_size=sel.numel())
        scale = torch.tensor([1.0 / c if (average and c) else 1.0 for c in group_counts], dtype=math,
                             device=hidden.device)
        h = h2.index_select(0, sel)
        lab_sel = lab.index_select(0, sel)
        logits = _logits(h, weight, bias)
        tok, lse = row_fwd(logits, lab_sel, ignore_index)
        seq = torch.zeros(2 * size, dtype=math, device=hidden.device).index_add_(0, local, tok.to(math)) * scale
        logps[p0:p1], logps[pairs + p0:pairs + p1] = seq[:size], seq[size:]
        pc, pr = seq[:size].detach().requires_grad_(), seq[size:].detach().requires_grad_()
        with torch.enable_grad():
            out = _ops.sym_loss(pc, pr, part(ref_c, p0, p1), part(ref_r, p0, p1), labels=part(pair_labels, p0, p1),
                                weights=part(pair_weights, p0, p1), reduction="sum", return_rewards=True, **kw)
            d_pc, d_pr = torch.autograd.grad(out.loss, (pc, pr))
        losses.append(out.loss.detach())
        rewards.append(torch.stack([out.chosen_rewards, out.rejected_rewards, out.margins]).detach())
        d_seq = torch.cat([d_pc, d_pr]).to(math) * scale
        if reduction == "mean":
            d_seq = d_seq / pairs
        row_grad = d_seq.index_select(0, local)
        gl = row_bwd(logits, lab_sel, lse, row_grad.to(torch.float32) if math == torch.float32 else row_grad,
                     ignore_index)
        acc.add(gl, h, sel)
        del logits, gl, h
    loss = torch.stack(losses).sum() if losses else torch.zeros((), dtype=math, device=hidden.device)
    if reduction == "mean":
        loss = loss / pairs
    rewards = torch.cat(rewards, dim=1) if rewards else torch.zeros(3, 0, dtype=math, device=hidden.device)
    return (loss, rewards, logps, *acc.result(hidden))


class _LossFusedFunction(torch.autograd.Function):
    """Autograd wrapper of :func:`_loss_fused_impl`: the gradients are computed in forward and
    scaled by the incoming gradient of the (scalar) loss in backward.

    A Python autograd.Function, not a custom op: computing d loss / d log-probs inside forward
    runs ``sym_loss``'s own autograd (which a custom op's implementation, running below the
    autograd dispatch key, cannot). torch.compile runs it eagerly (``torch._dynamo.disable``);
    the module uses the custom-op path (``fuse_backward=False``) when it is being compiled."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, labels, cu_seqlens, ref_c, ref_r, pair_labels, pair_weights, ignore_index,
                average, chunk_size, loss_kw, needs):
        loss, rewards, logps, gh, gw, gb = _loss_fused_impl(
            hidden, weight, bias, labels, cu_seqlens, ref_c, ref_r, pair_labels, pair_weights, ignore_index, average,
            chunk_size, loss_kw, *needs)
        ctx.needs = needs
        ctx.save_for_backward(gh, gw, gb)
        ctx.mark_non_differentiable(rewards, logps)
        return loss, rewards, logps

    @staticmethod
    def backward(ctx, grad_loss, _grad_rewards, _grad_logps):
        gh, gw, gb = ctx.saved_tensors
        # the stored gradients are for d loss = 1 (the usual case: loss.backward())
        unit = bool((grad_loss == 1).all())
        grads = [(g if unit else g * grad_loss.to(g.dtype)) if need else None for g, need in zip((gh, gw, gb), ctx.needs)]
        return (*grads, *([None] * 11))


@torch._dynamo.disable
def _loss_fused(*args):
    return _LossFusedFunction.apply(*args)



class FusedLinearSymPOLoss(PairLossModule):
    """SymPO (and DPO-family) loss from the policy's last hidden states and LM head.

    The batch is the concatenation [chosen; rejected] (TRL's convention): the first
    half of the sequences are the chosen responses, the second half the rejected ones,
    pair i being (i, i + B). Per-sequence log-probs come from
    :func:`fused_linear_sequence_logps` (the full logits never exist), the pair loss
    from :func:`sympo_ext.sym_loss` with every one of its options.

    Constructor args: ``loss_type``, ``beta``, ``clip``, ``reduction``, ``temperature``,
    ``slope``, ``epsilon`` as in :func:`sympo_ext.sym_loss`; ``average`` (length-normalised
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

    def __init__(self, loss_type: str = "sigmoid", beta: float = 0.1, *, chunk_size: int | None = None,
                 fuse_backward: bool | None = None, **options) -> None:
        super().__init__(loss_type, beta, **options)
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"FusedLinearSymPOLoss: chunk_size must be a positive int or None, got {chunk_size!r}")
        self.chunk_size, self.fuse_backward = chunk_size, fuse_backward

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, chunk_size={self.chunk_size}, fuse_backward={self.fuse_backward}"

    def forward(
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
    ) -> SymPOLossOutput:
        if (ref_chosen_logps is None) != (ref_rejected_logps is None):
            raise ValueError(
                "FusedLinearSymPOLoss: give both ref_chosen_logps and ref_rejected_logps, or neither (reference-free)"
            )
        _check_inputs(hidden, weight, labels, bias, cu_seqlens, self.chunk_size)
        num_seqs = hidden.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
        if num_seqs % 2:
            where = "hidden's first dimension" if cu_seqlens is None else "cu_seqlens (N + 1 offsets)"
            raise ValueError(
                f"FusedLinearSymPOLoss: the batch must hold 2B sequences [chosen; rejected], got {num_seqs} in {where}"
            )
        pairs = num_seqs // 2
        for value, name in ((ref_chosen_logps, "ref_chosen_logps"), (ref_rejected_logps, "ref_rejected_logps"),
                            (pair_labels, "pair_labels"), (weights, "weights")):
            if value is not None and (not isinstance(value, torch.Tensor) or tuple(value.shape) != (pairs,)):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"FusedLinearSymPOLoss: {name} must be a tensor of shape [B={pairs}], got {shape}")
        loss_kw = self.sym_loss_kwargs()
        needs = (hidden.requires_grad, weight.requires_grad, bias is not None and bias.requires_grad)
        fuse = self.fuse_backward
        if fuse is None:
            fuse = (self.reduction != "none" and torch.is_grad_enabled() and any(needs)
                    and not any(x is not None and x.requires_grad for x in (ref_chosen_logps, ref_rejected_logps, weights))
                    and not torch.compiler.is_compiling())
        elif fuse and self.reduction == "none":
            raise ValueError("FusedLinearSymPOLoss: fuse_backward=True needs reduction 'mean' or 'sum' (got 'none')")

        if fuse:
            loss, rewards, logps = _loss_fused(
                hidden, weight, bias, labels, cu_seqlens, ref_chosen_logps, ref_rejected_logps, pair_labels, weights,
                int(self.ignore_index), bool(self.average), int(self.chunk_size or 0), loss_kw, needs)
            out = _ops.SymLossOutput(loss, rewards[0], rewards[1], rewards[2])
        else:
            logps = fused_linear_sequence_logps(
                hidden, weight, labels, bias=bias, ignore_index=self.ignore_index, average=self.average,
                cu_seqlens=cu_seqlens, chunk_size=self.chunk_size,
            )
            out = _ops.sym_loss(logps[:pairs], logps[pairs:], ref_chosen_logps, ref_rejected_logps,
                                labels=pair_labels, weights=weights, return_rewards=True, **loss_kw)
        return SymPOLossOutput(out.loss, preference_metrics(out, logps[:pairs], logps[pairs:], pair_labels))
