"""Shared inputs and float64 references of the tests in this directory (from test_fused_linear.py)."""

from __future__ import annotations

import torch

from sympo_ext import fused_linear_sequence_logps, reference

N, T, H, V = 3, 7, 16, 37  # 21 tokens: chunk sizes 4 and 5 do not divide it, 64 exceeds it


def _make(device="cpu", dtype=torch.float32, packed=False, bias=True, ignore_index=-100, n=N, t=T, h=H, v=V):
    """Random inputs (leaves requiring grad) with some ignored positions and, when packed,
    a zero-length and a fully-ignored sequence."""
    hidden = (torch.randn(n, t, h, dtype=torch.float64) * 0.5).to(dtype)
    weight = (torch.randn(v, h, dtype=torch.float64) * 0.5).to(dtype)
    b = (torch.randn(v, dtype=torch.float64) * 0.5).to(dtype) if bias else None
    labels = torch.randint(0, v, (n, t))
    labels[0, :2] = ignore_index  # prompt
    labels[1, -3:] = ignore_index  # padding
    labels[-1, :] = ignore_index  # a fully ignored sequence
    cu = None
    if packed:
        hidden, labels = hidden.reshape(n * t, h), labels.reshape(n * t)
        cu = torch.tensor([0, 5, 5, 12, n * t])  # includes a zero-length sequence
        labels[12:] = ignore_index  # last sequence fully ignored
        cu = cu.to(device)
    leaves = [x.to(device).requires_grad_() if x is not None else None for x in (hidden, weight, b)]
    return (*leaves, labels.to(device), cu)


def _unfused64(hidden, weight, bias, labels, cu, **kw):
    """The unfused computation in float64 on the same (possibly rounded) values; returns leaves too."""
    h = hidden.detach().double().requires_grad_()
    w = weight.detach().double().requires_grad_()
    b = bias.detach().double().requires_grad_() if bias is not None else None
    logits = h @ w.T + (b if b is not None else 0)
    return reference.sequence_logps(logits, labels, cu_seqlens=cu, **kw), (h, w, b)


def _grads(out, leaves, grad_out):
    grads = torch.autograd.grad(out, [x for x in leaves if x is not None], grad_out)
    it = iter(grads)
    return [next(it) if x is not None else None for x in leaves]


def _plain_in_dtype(hidden, weight, bias, labels, average):
    """What plain PyTorch computes in the low-precision dtype (no upcast anywhere)."""
    h, w, b = (x.detach().clone().requires_grad_() for x in (hidden, weight, bias))
    logp = torch.log_softmax(h @ w.T + b, dim=-1)
    mask = labels != -100
    picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    out = picked.sum(-1)
    if average:
        out = out / mask.sum(-1).clamp(min=1)
    return out, (h, w, b)


def _compile_check(device, backend):
    hidden, weight, bias, labels, cu = _make(device)

    def fn(h, w, b):
        return fused_linear_sequence_logps(h, w, labels, bias=b, average=True, chunk_size=4).mul(2.0).sum()

    torch._dynamo.reset()
    compiled = torch.compile(fn, backend=backend, fullgraph=True)
    loss = compiled(hidden, weight, bias)
    grads = torch.autograd.grad(loss, (hidden, weight, bias))
    loss_e = fn(hidden, weight, bias)
    grads_e = torch.autograd.grad(loss_e, (hidden, weight, bias))
    torch.testing.assert_close(loss, loss_e)
    for g, ge in zip(grads, grads_e):
        torch.testing.assert_close(g, ge)


LOSS_CASES = [
    ("sigmoid", dict(temperature=2.0)),
    ("symmetric_ramp", dict(slope=0.3)),
    ("logistic", {}),
    ("ipo", {}),
    ("cdpo", dict(epsilon=0.1)),
    ("rdpo", dict(epsilon=0.2)),
]


def _bad_cases():
    h, w, b = torch.randn(2, 3, 4), torch.randn(5, 4), torch.randn(5)
    lab = torch.randint(0, 5, (2, 3))
    return [
        (dict(hidden=h.reshape(6, 4)), ValueError, "hidden must be \\[N, T, H\\]"),
        (dict(labels=lab[:, :2]), ValueError, "labels shape"),
        (dict(weight=torch.randn(5, 3)), ValueError, "weight's H"),
        (dict(weight=torch.randn(5, 4, 1)), ValueError, "weight must be \\[V, H\\]"),
        (dict(bias=torch.randn(4)), ValueError, "bias must be \\[V=5\\]"),
        (dict(weight=w.double()), TypeError, "weight dtype"),
        (dict(bias=b.half()), TypeError, "bias dtype"),
        (dict(hidden=h.long(), weight=w.long()), TypeError, "hidden must be float"),
        (dict(labels=lab.float()), TypeError, "labels must be int64 or int32"),
        (dict(labels=lab.clone().fill_(5)), ValueError, "labels must be in \\[0, V=5\\)"),
        (dict(labels=lab.clone().fill_(-3)), ValueError, "labels must be in"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
        (dict(chunk_size=-4), ValueError, "chunk_size"),
        (dict(chunk_size=2.5), ValueError, "chunk_size"),
        (dict(chunk_size=True), ValueError, "chunk_size"),
        (
            dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0, 2, 5])),
            ValueError,
            "cu_seqlens must start at 0",
        ),
        (
            dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0, 4, 2, 6])),
            ValueError,
            "non-decreasing",
        ),
        (
            dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0.0, 6.0])),
            TypeError,
            "cu_seqlens must be int64",
        ),
        (dict(hidden=h.reshape(6, 4), labels=lab, cu_seqlens=torch.tensor([0, 6])), ValueError, "labels shape"),
        (dict(hidden=h, cu_seqlens=torch.tensor([0, 6])), ValueError, "with cu_seqlens, hidden must be packed"),
        (dict(hidden=[1.0]), TypeError, "hidden must be a tensor"),
    ]
