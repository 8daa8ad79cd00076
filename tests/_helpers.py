"""Helpers shared by the test files (import as `from _helpers import ...`)."""

from __future__ import annotations

import torch

FLOAT_DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
LOW_PRECISION = [torch.bfloat16, torch.float16]

# Tolerances against a float64 reference, by the dtype the inputs are stored in.
# Low-precision inputs are first rounded, so the reference is computed on the
# rounded values: what remains is the kernel's own (fp32-math) error.
TOLERANCES = {
    torch.float64: dict(atol=1e-12, rtol=1e-10),
    torch.float32: dict(atol=1e-5, rtol=1e-5),
    torch.bfloat16: dict(atol=1e-5, rtol=1e-5),
    torch.float16: dict(atol=1e-5, rtol=1e-5),
}
# Gradients are returned in the input dtype, so they carry its rounding.
GRAD_TOLERANCES = {
    torch.float64: dict(atol=1e-12, rtol=1e-10),
    torch.float32: dict(atol=1e-6, rtol=1e-5),
    torch.bfloat16: dict(atol=1e-3, rtol=1.6e-2),
    torch.float16: dict(atol=1e-4, rtol=2e-3),
}


def rel_error(x: torch.Tensor, ref: torch.Tensor) -> float:
    """||x - ref|| / ||ref|| in float64 (NaN never passes a comparison with it)."""
    x, ref = x.double(), ref.double()
    return (torch.linalg.vector_norm(x - ref) / torch.linalg.vector_norm(ref).clamp_min(1e-300)).item()


def randn(*shape, dtype=torch.float64, device="cpu", scale=1.0, requires_grad=False):
    t = (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype=dtype, device=device)
    return t.requires_grad_(requires_grad)
