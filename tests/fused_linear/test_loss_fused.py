"""FusedLinearSymPOLoss and its loss-fused path (sympo_ext/fused_linear/loss_fused.py) against the unfused
float64 computation: every loss kind, packed batches, reductions, bad inputs, one logits pass, compile."""

from __future__ import annotations

import pytest
import torch
from _helpers import METRIC_KEYS
from conftest import DEVICES

import sympo_ext
from sympo_ext import FusedLinearSymPOLoss, reference

from .helpers import LOSS_CASES, V, _grads, _make, _unfused64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss_type,params", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
@pytest.mark.parametrize("with_ref", [True, False], ids=["ref", "ref_free"])
@pytest.mark.parametrize("fuse_backward", [None, False], ids=["fuse_bwd", "recompute"])
def test_module_matches_unfused(device, loss_type, params, with_ref, fuse_backward):
    b_pairs = 3
    hidden, weight, bias, labels, _ = _make(device, n=2 * b_pairs, t=6)
    labels[-1, 0] = 5  # no fully ignored sequence here
    ref_c = torch.randn(b_pairs, device=device) * 3 - 10 if with_ref else None
    ref_r = torch.randn(b_pairs, device=device) * 3 - 10 if with_ref else None
    pair_labels = torch.tensor([1, 0, 1], device=device)
    weights = torch.tensor([1.0, 0.5, 2.0], device=device)
    kw = dict(beta=0.2, clip=None if loss_type != "logistic" else 5.0, average=True, **params)
    module = FusedLinearSymPOLoss(loss_type, chunk_size=5, fuse_backward=fuse_backward, **kw)
    loss, metrics = module(hidden, weight, labels, ref_c, ref_r, bias=bias, pair_labels=pair_labels, weights=weights)

    logps, leaves = _unfused64(hidden, weight, bias, labels, None, average=True)
    kw.pop("average")
    ref_loss, chosen, rejected, margins = reference.sym_loss_with_rewards(
        logps[:b_pairs],
        logps[b_pairs:],
        None if ref_c is None else ref_c.double(),
        None if ref_r is None else ref_r.double(),
        loss_type=loss_type,
        labels=pair_labels,
        weights=weights.double(),
        **kw,
    )
    torch.testing.assert_close(loss.double(), ref_loss, atol=1e-5, rtol=1e-5)
    got = _grads(loss, (hidden, weight, bias), None)
    want = _grads(ref_loss, leaves, None)
    for g, w in zip(got, want):
        torch.testing.assert_close(g.double(), w, atol=1e-5, rtol=1e-4)

    assert set(metrics) == METRIC_KEYS
    assert not any(m.requires_grad for m in metrics.values())
    correct = torch.where(pair_labels.cpu() == 0, margins.cpu() < 0, margins.cpu() > 0).double().mean()
    expected = {
        "rewards/chosen": chosen.mean(),
        "rewards/rejected": rejected.mean(),
        "rewards/margins": margins.mean(),
        "rewards/accuracies": correct,
        "logps/chosen": logps[:b_pairs].mean(),
        "logps/rejected": logps[b_pairs:].mean(),
    }
    for key, value in expected.items():
        torch.testing.assert_close(
            metrics[key].double().cpu(),
            value.detach().double().cpu(),
            atol=1e-5,
            rtol=1e-5,
            msg=lambda m: f"{key}: {m}",
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_module_packed_and_reductions(reduction, dtype):
    hidden, weight, bias, labels, _ = _make(packed=True, n=4, t=5, dtype=dtype)
    cu = torch.tensor([0, 4, 9, 15, 20])
    labels = torch.randint(0, V, (20,))
    labels[0:4] = -100  # a fully ignored chosen sequence
    labels[10] = -100
    module = FusedLinearSymPOLoss("unhinged", beta=0.5, reduction=reduction, chunk_size=3)
    loss, metrics = module(hidden, weight, labels, bias=bias, cu_seqlens=cu)
    logps, leaves = _unfused64(hidden, weight, bias, labels, cu)
    ref_loss = reference.sym_loss(logps[:2], logps[2:], loss_type="unhinged", beta=0.5, reduction=reduction)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(loss.double(), ref_loss, **tol)
    gout = torch.rand_like(ref_loss) + 0.5  # also a non-unit incoming gradient
    for g, w in zip(_grads(loss, (hidden, weight, bias), gout.float()), _grads(ref_loss, leaves, gout)):
        assert g.dtype == dtype
        torch.testing.assert_close(g.double(), w, **(tol if dtype == torch.float32 else dict(atol=3e-2, rtol=3e-2)))
    assert metrics["rewards/margins"].shape == ()


def test_module_bad_inputs():
    hidden, weight, _, labels, _ = _make(n=3)
    with pytest.raises(ValueError, match="2B sequences"):
        FusedLinearSymPOLoss()(hidden, weight, labels)
    hidden, weight, _, labels, _ = _make(n=4)
    with pytest.raises(ValueError, match="ref_chosen_logps and ref_rejected_logps"):
        FusedLinearSymPOLoss()(hidden, weight, labels, torch.zeros(2))
    with pytest.raises(ValueError, match="pair_labels must be a tensor of shape \\[B=2\\]"):
        FusedLinearSymPOLoss()(hidden, weight, labels, pair_labels=torch.ones(3))
    with pytest.raises(ValueError, match="unknown loss_type"):
        FusedLinearSymPOLoss("nope")
    with pytest.raises(ValueError, match="epsilon"):
        FusedLinearSymPOLoss("sigmoid", epsilon=0.1)
    with pytest.raises(ValueError, match="reduction"):
        FusedLinearSymPOLoss(reduction="max")
    with pytest.raises(ValueError, match="chunk_size"):
        FusedLinearSymPOLoss(chunk_size=0)


@pytest.mark.parametrize("fuse_backward", [None, False], ids=["fuse_bwd", "recompute"])
def test_module_fused_backward_computes_logits_once(monkeypatch, fuse_backward):
    calls = {"fwd": 0, "bwd": 0, "rows": []}
    fwd, bwd = sympo_ext.ops.token_logps_and_lse, sympo_ext.ops.token_logps_backward_

    def spy_fwd(logits, labels, ignore_index=-100):
        calls["fwd"] += 1
        calls["rows"].append(logits.shape[0])
        return fwd(logits, labels, ignore_index)

    def spy_bwd(logits, labels, lse, row_grad, ignore_index=-100):
        calls["bwd"] += 1
        return bwd(logits, labels, lse, row_grad, ignore_index)

    monkeypatch.setattr(sympo_ext.ops, "token_logps_and_lse", spy_fwd)
    monkeypatch.setattr(sympo_ext.ops, "token_logps_backward_", spy_bwd)
    hidden, weight, bias, labels, _ = _make(n=6, t=4)
    labels[-1, 0] = 1
    module = FusedLinearSymPOLoss("sigmoid", chunk_size=9, fuse_backward=fuse_backward)
    loss, _ = module(hidden, weight, labels, bias=bias)
    grads_in_forward = calls["bwd"]
    loss.backward()
    if fuse_backward is None:  # gradients made in forward, from the same logits: no recompute
        assert grads_in_forward == calls["fwd"] == calls["bwd"] > 1
        assert max(calls["rows"]) <= 9  # pairs hold at most 8 counted rows here: grouped under chunk_size
    else:
        assert grads_in_forward == 0 and calls["bwd"] == calls["fwd"] > 1


def test_module_compiles_fullgraph_and_ignored_pairs():
    # under torch.compile the module takes the custom-op path (fuse_backward=None -> recompute)
    hidden, weight, bias, labels, _ = _make(n=4, t=5)
    labels[0] = -100
    labels[2] = -100  # pair 0: both responses fully ignored
    module = FusedLinearSymPOLoss("cdpo", epsilon=0.1, chunk_size=3)

    def fn(h, w, b):
        loss, metrics = module(h, w, labels, bias=b)
        return loss, metrics["rewards/margins"]

    torch._dynamo.reset()
    loss_c, margins_c = torch.compile(fn, backend="aot_eager", fullgraph=True)(hidden, weight, bias)
    grads_c = torch.autograd.grad(loss_c, (hidden, weight, bias))
    loss_e, margins_e = fn(hidden, weight, bias)  # eager: the loss-fused path
    grads_e = torch.autograd.grad(loss_e, (hidden, weight, bias))
    torch.testing.assert_close(loss_c, loss_e)
    torch.testing.assert_close(margins_c, margins_e)
    for gc, ge in zip(grads_c, grads_e):
        torch.testing.assert_close(gc, ge, atol=1e-6, rtol=1e-5)
    assert (grads_e[0][0] == 0).all() and (grads_e[0][2] == 0).all()
