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


# The metrics a loss module returns with its loss (TRL's DPOTrainer names).
METRIC_KEYS = {
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
}


def rel_error(x: torch.Tensor, ref: torch.Tensor) -> float:
    """||x - ref|| / ||ref|| in float64 (NaN never passes a comparison with it)."""
    x, ref = x.double(), ref.double()
    return (torch.linalg.vector_norm(x - ref) / torch.linalg.vector_norm(ref).clamp_min(1e-300)).item()


# Loss-specific parameters set away from their defaults, so that a kernel (or a reference) that ignored
# them would fail: the one set every loss test passes (per-pair and batch losses).
LOSS_PARAMS = {
    "sigmoid": dict(temperature=1.7),
    "symmetric_ramp": dict(slope=0.8),
    "cdpo": dict(epsilon=0.2),
    "rdpo": dict(epsilon=0.3),
    "ropo": dict(alpha=5.0),
    "simpo": dict(gamma=0.3),
    "exo_pair": dict(epsilon=0.1),
    "discopop": dict(tau=0.3),
    "aot": dict(epsilon=0.1),
    "aot_unpaired": dict(epsilon=0.2),
}


def randn(*shape, dtype=torch.float64, device="cpu", scale=1.0, requires_grad=False):
    t = (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype=dtype, device=device)
    return t.requires_grad_(requires_grad)


def pairs(n, dtype=torch.float64, requires_grad=True):
    """Four random sequence log-prob vectors (policy chosen/rejected, reference chosen/rejected) of typical
    magnitude (sums over ~tens of tokens)."""
    return [randn(n, dtype=dtype, scale=8.0, requires_grad=requires_grad) for _ in range(4)]
