"""Per-sequence reductions of per-token values: the one place for the padded/packed geometry and
the "average, 0 when a sequence has no counted token" rule.

Used by the pure-PyTorch oracle (:mod:`sympo_ext.oracle`) and the chunked LM-head path
(:mod:`sympo_ext.fused_linear`), so both reduce tokens to sequences the same way:

* padded: values ``[N * T]`` (or ``[N, T]``) belong to sequence ``row // T``;
* packed: values ``[L]`` with offsets ``cu_seqlens [N + 1]``; sequence n is rows ``c_n .. c_{n+1}``.
"""

from __future__ import annotations

import torch

__all__ = ["sequence_ids", "per_sequence_sum", "average_or_zero", "inverse_counts"]


def sequence_ids(cu_seqlens: torch.Tensor, num_rows: int, device: torch.device | None = None) -> torch.Tensor:
    """Sequence index of every packed row ``[L]`` (int64) from ``cu_seqlens [N + 1]``."""
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    if device is not None:
        lengths = lengths.to(device)
    return torch.repeat_interleave(torch.arange(lengths.numel(), device=lengths.device), lengths, output_size=num_rows)


def per_sequence_sum(values: torch.Tensor, num_seqs: int, seq_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of per-row ``values`` per sequence ``[N]``: padded rows (``seq_ids`` None: ``values`` holds
    ``num_seqs`` equal-length sequences back to back) or packed rows (``seq_ids`` from :func:`sequence_ids`)."""
    if seq_ids is None:
        return values.reshape(num_seqs, values.numel() // max(num_seqs, 1)).sum(1)  # (N = 0: no -1 to infer)
    return torch.zeros(num_seqs, dtype=values.dtype, device=values.device).index_add_(0, seq_ids, values)


def average_or_zero(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``total / count`` per sequence, 0 (and gradient 0) for a sequence with no counted token."""
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))


def inverse_counts(count: torch.Tensor) -> torch.Tensor:
    """d mean / d sum per sequence: ``1 / count``, 0 where nothing is counted (the rule of
    :func:`average_or_zero`, differentiated)."""
    return average_or_zero(torch.ones_like(count), count)
