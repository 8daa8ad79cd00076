"""The math-dtype rule every op and oracle shares: float64 if any input is float64, else float32."""

from __future__ import annotations

import ctypes

import torch


def math_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """float64 if any (non-None) input is float64, else float32: the dtype the ops compute in."""
    return torch.float64 if any(t is not None and t.dtype == torch.float64 for t in tensors) else torch.float32


def to_math(x: torch.Tensor) -> torch.Tensor:
    """``x`` in its math dtype (float64 stays, everything else becomes float32)."""
    return x.to(math_dtype(x))


def round_to(value: float, dtype: torch.dtype) -> float:
    """A Python float as the kernel sees it: rounded to the math dtype (float32 or float64)."""
    return value if dtype == torch.float64 else ctypes.c_float(value).value


def dtype_name(dtype: torch.dtype) -> str:
    return "float64" if dtype == torch.float64 else "float32"
