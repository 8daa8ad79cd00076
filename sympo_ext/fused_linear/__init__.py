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
float32 grad_hidden accumulator ([tokens, H]); none of it grows with N*T*V. Every chunk and
slice of a call is carved from ONE logits buffer; on CPU it is also kept for the next call (per
thread and dtype, up to :data:`CPU_WORKSPACE_KEEP_BYTES`; :func:`release_workspace` frees it),
since a fresh buffer of that size pays a page fault per 4 KiB on first touch (at V = 128256
that made the forward GEMM ~1.5x slower). The cost is a
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
* CPU: a fixed 128 MiB (:data:`CPU_CHUNK_BUDGET_BYTES`). The buffer is kept between calls (below), so
  it is held while the model body's backward runs: 256 MiB was 3 % faster per step at V = 128256
  but put SymPOTrainer's peak memory at 0.655x TRL's (128 MiB: 0.62x).

Why a ``torch.library.custom_op`` (not a Python ``autograd.Function``): the
chunk loop is data-dependent (its length comes from the counted tokens) and
must stay opaque to tracing -- Dynamo tracing an ``autograd.Function`` would
inline the loop, graph-break on the synchronisation, or let the compiler
re-fuse the chunks into the full logits. As two custom ops
(``sympo_ext::fused_linear_logps`` and ``sympo_ext::fused_linear_logps_backward``)
with fake kernels and ``register_autograd``, the path passes
``torch.library.opcheck`` and compiles with ``fullgraph=True``. Double
backward is not supported (the backward op has no derivative registered).
The loss-fused path of :class:`sympo_ext.FusedLinearSymPOLoss` (gradients computed in forward)
stays a Python ``autograd.Function`` (see :mod:`.loss_fused`).

Tied weights: the op returns grad_weight like any other op, so when ``weight``
is also the input embedding, autograd adds both contributions.

Layout of this package:

* :mod:`.chunking`   -- chunk size, padded/packed geometry, counted-row scan, row kernels;
* :mod:`.logps_op`   -- the two custom ops and :func:`fused_linear_sequence_logps`;
* :mod:`.loss_fused` -- loss + gradients in one pass (3 GEMMs), used by
  :class:`sympo_ext.FusedLinearSymPOLoss` (which lives with the other loss modules in
  :mod:`sympo_ext.loss_modules`).
"""

from __future__ import annotations

from .chunking import (
    CPU_CHUNK_BUDGET_BYTES,
    CPU_WORKSPACE_KEEP_BYTES,
    CUDA_CHUNK_BUDGET_MAX,
    CUDA_CHUNK_BUDGET_MIN,
    auto_chunk_size,
    release_workspace,
)
from .logps_op import fused_linear_sequence_logps

__all__ = [
    "fused_linear_sequence_logps",
    "auto_chunk_size",
    "release_workspace",
    "CPU_CHUNK_BUDGET_BYTES",
    "CPU_WORKSPACE_KEEP_BYTES",
    "CUDA_CHUNK_BUDGET_MIN",
    "CUDA_CHUNK_BUDGET_MAX",
]
