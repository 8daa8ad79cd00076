"""Chunk planning and the small pieces shared by the log-prob op and the loss-fused path:
the chunk size (bytes budget), the geometry of padded/packed inputs, the counted-row scan (with
input validation) and the row kernels. See the package docstring for the algorithm."""

from __future__ import annotations

import threading

import torch

from .. import ops as _ops
from .. import oracle as _oracle

__all__ = [
    "auto_chunk_size",
    "release_workspace",
    "CPU_CHUNK_BUDGET_BYTES",
    "CPU_WORKSPACE_KEEP_BYTES",
    "CUDA_CHUNK_BUDGET_MIN",
    "CUDA_CHUNK_BUDGET_MAX",
]

CPU_CHUNK_BUDGET_BYTES = 128 * 2**20
CPU_WORKSPACE_KEEP_BYTES = 2 * CPU_CHUNK_BUDGET_BYTES  # the largest logits buffer kept between calls
CUDA_CHUNK_BUDGET_MIN = 32 * 2**20
CUDA_CHUNK_BUDGET_MAX = 256 * 2**20
LOW_PRECISION = (torch.bfloat16, torch.float16)
FLOATS = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
NAME = "fused_linear_sequence_logps"


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
# the logits buffer
# --------------------------------------------------------------------------- #

_kept = threading.local()  # CPU: {dtype: flat buffer} of this thread


def workspace(numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised flat buffer of at least ``numel`` elements for the logits of one chunk /
    slice; a call carves each chunk's [rows, cols] out of it (:func:`buffer_view`), so its
    chunks share one allocation. On CPU the buffer is also kept for the next call (one per
    thread and dtype, up to :data:`CPU_WORKSPACE_KEEP_BYTES`; :func:`release_workspace` frees
    it): a fresh buffer of this size comes from the OS and costs a page fault per 4 KiB on
    first touch, which at V = 128256 (fp32, 512 rows) made the forward GEMM ~1.5x slower. CUDA:
    ``torch.empty`` (the caching allocator already reuses memory). Nothing returned by the ops
    aliases it."""
    device = torch.device(device)
    if device.type != "cpu":
        return torch.empty(numel, dtype=dtype, device=device)
    kept = getattr(_kept, "buffers", None)
    if kept is None:
        kept = _kept.buffers = {}
    flat = kept.get(dtype)
    if flat is not None and flat.numel() >= numel:
        return flat
    kept.pop(dtype, None)  # a larger one replaces it (the old one is freed first)
    del flat
    flat = torch.empty(numel, dtype=dtype)
    if numel * flat.element_size() <= CPU_WORKSPACE_KEEP_BYTES:
        kept[dtype] = flat
    return flat


def buffer_view(flat: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """The contiguous [rows, cols] view at the start of a :func:`workspace` buffer."""
    return flat[: rows * cols].view(rows, cols)


def release_workspace() -> None:
    """Free the logits buffers this thread keeps between calls (CPU)."""
    _kept.buffers = {}


# --------------------------------------------------------------------------- #
# geometry, counted rows, row kernels
# --------------------------------------------------------------------------- #


def row_fns(dtype: torch.dtype):
    """The row kernels, looked up at call time so the fused ones are used when present.
    float64 (gradcheck only, not a speed path) goes to the pure-PyTorch oracle rows."""
    if dtype == torch.float64:

        def backward_(logits, labels, lse, row_grad, ignore_index):
            return logits.copy_(_oracle.token_logps_grad(logits, labels, lse, row_grad, ignore_index))

        return _oracle.token_logps_and_lse, backward_
    return _ops.token_logps_and_lse, _ops.token_logps_backward_


def geometry(hidden, labels, cu_seqlens):
    """(hidden2d [L, H], labels1d [L], number of sequences N, T for padded or None)."""
    if cu_seqlens is None:
        n, t = labels.shape
        return hidden.reshape(n * t, hidden.shape[-1]), labels.reshape(n * t), n, t
    return hidden, labels, cu_seqlens.shape[0] - 1, None


def scan_counted(labels1d, cu_seqlens, ignore_index: int, vocab: int):
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
            f"{NAME}: labels must be in [0, V={vocab}) or equal ignore_index={ignore_index}; "
            f"{values[1]} label(s) are out of range"
        )
    if cu_seqlens is not None and values[2]:
        raise ValueError(
            f"{NAME}: cu_seqlens must start at 0, be non-decreasing and end at the number of "
            f"tokens L={labels1d.shape[0]}; got {cu_seqlens.tolist()[:16]}"
        )
    n_valid = values[0]
    if n_valid == labels1d.shape[0]:
        return mask, n_valid, None
    return mask, n_valid, torch.nonzero(mask).squeeze(1)


def chunks(n_valid: int, idx, chunk_size: int):
    """Yield (slice or index tensor) per chunk of counted rows."""
    for start in range(0, n_valid, chunk_size):
        stop = min(start + chunk_size, n_valid)
        yield (slice(start, stop) if idx is None else idx[start:stop])


def take(t, sel):
    return t[sel] if isinstance(sel, slice) else t.index_select(0, sel)


def head_logits(h, weight, bias, out):
    """h @ weight.T (+ bias) written into ``out`` [rows, V]."""
    if bias is None:
        return torch.mm(h, weight.t(), out=out)
    return torch.addmm(bias, h, weight.t(), out=out)


def resolve_chunk(chunk_size: int, n_valid: int, weight) -> int:
    if chunk_size > 0:
        return chunk_size
    return auto_chunk_size(n_valid, weight.shape[0], weight.dtype, weight.device)


def addmm_fp32_out(acc, a, b) -> bool:
    """acc (fp32) += a @ b for bf16/fp16 a, b, with the GEMM writing fp32 directly."""
    try:
        torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
        return True
    except (RuntimeError, TypeError, NotImplementedError):
        return False
