"""Shared inputs and float64 references of the tests in this directory (from test_sequence_logps.py)."""

from __future__ import annotations

import torch

import sympo_ext
from sympo_ext import reference

ops = torch.ops.sympo_ext


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


IGNORE = -100


def make_labels(shape, vocab, device="cpu", ignore_frac=0.25, ignore_index=IGNORE, dtype=torch.int64):
    labels = torch.randint(0, vocab, shape)
    labels[torch.rand(shape) < ignore_frac] = ignore_index
    return labels.to(device=device, dtype=dtype)


def ref_logps_and_grad(logits, labels, g, **kw):
    """float64 reference result and d(sum g * logps)/d logits, on the (already rounded) logits."""
    x = logits.detach().double().requires_grad_(True)
    out = reference.sequence_logps(x, labels, **kw)
    (out * g.double()).sum().backward()
    return out.detach(), x.grad


def fused_logps_and_grad(logits, labels, g, **kw):
    x = logits.detach().requires_grad_(True)  # keeps the strides (a clone would not)
    out = sympo_ext.sequence_logps(x, labels, **kw)
    (out * g.to(out.dtype)).sum().backward()
    return out.detach(), x.grad


def assert_close(actual, expected, tol):
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), **tol)


def plain_pytorch(logits, labels, g):
    """The usual code, entirely in the logits' dtype."""
    x = logits.detach().clone().requires_grad_(True)
    mask = labels != IGNORE
    logp = torch.log_softmax(x, dim=-1).gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    out = (logp * mask).sum(-1)
    (out * g.to(out.dtype)).sum().backward()
    return out.detach(), x.grad
