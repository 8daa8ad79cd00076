"""Shared inputs and float64 references of the tests in this directory (from test_sym_loss.py)."""

from __future__ import annotations

import torch
from _helpers import LOSS_PARAMS, randn
from conftest import DEVICES

import sympo_ext

# The per-pair losses (margin and pair kinds; the batch losses have their own
# tests in tests/losses/test_formulas.py).
LOSS_TYPES = [name for name, info in sympo_ext.LOSSES.items() if info.kind != "batch"]


def make_pairs(n, dtype=torch.float64, device="cpu", with_ref=True, requires_grad=False):
    """Random sequence log-probs of typical magnitude (sums over ~tens of tokens)."""

    def draw():
        return randn(n, dtype=dtype, device=device, scale=8.0, requires_grad=requires_grad)

    pc, pr = draw(), draw()
    rc, rr = (draw(), draw()) if with_ref else (None, None)
    return pc, pr, rc, rr


def options(loss_type, **extra):
    return {"loss_type": loss_type, "beta": 0.3, **LOSS_PARAMS.get(loss_type, {}), **extra}


def per_pair_extras(n, labels, weights, device="cpu"):
    out = {}
    if labels:
        out["labels"] = torch.randint(0, 2, (n,), device=device)
    if weights:
        out["weights"] = torch.rand(n, dtype=torch.float64, device=device) * 2
    return out


CUDA_ONLY = [d for d in DEVICES if not isinstance(d, str)]


def device_inputs(n, dtype, device, requires_grad=True):
    ts = [(torch.randn(n, dtype=torch.float64) * 8).to(dtype) for _ in range(4)]
    cpu = [t.clone().requires_grad_(requires_grad) for t in ts]
    dev = [t.to(device).requires_grad_(requires_grad) for t in ts]
    return cpu, dev


def scalar_lanes_cpu(fn, monkeypatch):
    with monkeypatch.context() as m:
        m.setenv("SYMPO_CPU_LANES", "scalar")
        return fn()
