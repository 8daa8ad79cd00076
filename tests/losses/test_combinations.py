"""Weighted combinations of losses (TRL's loss_type list + loss_weights, e.g. MPO)."""

from __future__ import annotations

import pytest
import torch
from _helpers import GRAD_TOLERANCES, TOLERANCES, randn
from torch.utils._python_dispatch import TorchDispatchMode

import sympo_ext
from sympo_ext import reference

COMBOS = [
    (["logistic", "bco_pair"], [1.0, 0.5]),
    (["sigmoid", "cdpo", "nca_pair", "apo_down"], [0.7, 1.3, 0.2, 2.0]),
    (["ropo", "exo_pair", "discopop", "simpo", "sppo_hard"], [1.0, 0.5, 0.25, 2.0, 0.01]),
    (["dpo", "aot"], [1.0, 0.5]),
]


def pairs(n, dtype=torch.float64):
    return [randn(n, dtype=dtype, scale=8.0, requires_grad=True) for _ in range(4)]


class CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("types,weights", COMBOS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_combination_matches_reference_float64(types, weights, reduction):
    n = 97
    pc, pr, rc, rr = pairs(n)
    eps = dict(epsilon=0.1) if {"cdpo", "exo_pair", "aot"} & set(types) else {}
    kw = dict(
        loss_type=types, loss_weights=weights, beta=0.3, reduction=reduction, labels=torch.randint(0, 2, (n,)), **eps
    )
    if "aot" not in types:
        kw["clip"] = 2.0
    out = sympo_ext.sym_loss(pc, pr, rc, rr, return_rewards=True, **kw)
    ref = reference.sym_loss_with_rewards(pc, pr, rc, rr, **kw)
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, **TOLERANCES[torch.float64])
    g = torch.randn_like(ref[0])
    for a, b in zip(
        torch.autograd.grad(out.loss, (pc, pr, rc, rr), g), torch.autograd.grad(ref[0], (pc, pr, rc, rr), g)
    ):
        torch.testing.assert_close(a, b, **GRAD_TOLERANCES[torch.float64])


def test_combination_is_the_weighted_sum_of_its_losses():
    pc, pr, rc, rr = pairs(50)
    combo = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=["sigmoid", "bco_pair"], loss_weights=[1.0, 0.5])
    parts = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="sigmoid") + 0.5 * sympo_ext.sym_loss(
        pc, pr, rc, rr, loss_type="bco_pair"
    )
    torch.testing.assert_close(combo, parts)


@pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="needs the compiled kernels")
def test_one_forward_launch_for_all_per_pair_losses():
    pc, pr, rc, rr = pairs(20)
    with CountOps() as mode:
        loss = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=["logistic", "bco_pair", "ropo", "apo_zero"])
    assert mode.calls.count("sympo_ext.sym_loss_forward") == 1
    with CountOps() as mode:
        loss.backward()
    assert mode.calls.count("sympo_ext.sym_loss_backward") == 1
    with CountOps() as mode:  # a batch loss adds its own launch, which sorts inside on the CPU
        loss = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=["logistic", "aot"])
    assert mode.calls.count("sympo_ext.sym_loss_forward") == 1
    assert mode.calls.count("sympo_ext.sym_loss_batch_forward") == 1
    assert not [c for c in mode.calls if "sort" in c]
    with CountOps() as mode:  # and its backward is the same elementwise kernel
        loss.backward()
    assert mode.calls.count("sympo_ext.sym_loss_backward") == 2


@pytest.mark.parametrize("lanes", ["scalar", "simd"])
def test_combination_scalar_and_simd_paths(lanes, monkeypatch):
    if lanes == "scalar":
        monkeypatch.setenv("SYMPO_CPU_LANES", "scalar")
    pc, pr, rc, rr = pairs(301, dtype=torch.float32)
    kw = dict(
        loss_type=["sigmoid", "cdpo", "nca_pair", "discopop"],
        loss_weights=[1.0, 0.5, 0.3, 0.2],
        epsilon=0.1,
        reduction="none",
        labels=torch.randint(0, 2, (301,)),
        weights=torch.rand(301),
    )
    got = sympo_ext.sym_loss(pc, pr, rc, rr, **kw)
    as64 = [t.detach().double().requires_grad_(True) for t in (pc, pr, rc, rr)]
    want = reference.sym_loss(*as64, **kw)
    torch.testing.assert_close(got.double(), want, **TOLERANCES[torch.float32])
    for a, b in zip(torch.autograd.grad(got.sum(), (pc, pr)), torch.autograd.grad(want.sum(), as64[:2])):
        torch.testing.assert_close(a.double(), b, **GRAD_TOLERANCES[torch.float32])


def test_combination_gradcheck_and_compile():
    pc, pr, rc, rr = pairs(7)
    kw = dict(loss_type=["logistic", "bco_pair", "aot"], loss_weights=[1.0, 0.5, 0.3], beta=0.4)
    torch.autograd.gradcheck(lambda *t: sympo_ext.sym_loss(*t, **kw), (pc, pr, rc, rr))
    torch._dynamo.reset()
    f = torch.compile(lambda *t: sympo_ext.sym_loss(*t, **kw), fullgraph=True)
    torch.testing.assert_close(f(pc, pr, rc, rr), sympo_ext.sym_loss(pc, pr, rc, rr, **kw))


def test_combination_errors():
    pc, pr = torch.randn(4), torch.randn(4)
    with pytest.raises(ValueError, match="names a loss twice"):
        sympo_ext.sym_loss(pc, pr, loss_type=["dpo", "logistic"])
    with pytest.raises(ValueError, match=r"loss_weights \(for 'hinge'\) must be a finite number > 0"):
        sympo_ext.sym_loss(pc, pr, loss_type=["logistic", "hinge"], loss_weights=[1.0, -1.0])
    with pytest.raises(TypeError, match=r"loss_weights\[1\] must be a real number"):
        sympo_ext.sym_loss(pc, pr, loss_type=["logistic", "hinge"], loss_weights=[1.0, "x"])
    with pytest.raises(ValueError, match="loss_type names 2 losses"):
        sympo_ext.sym_loss(pc, pr, loss_type=["logistic", "hinge"], loss_weights=[1.0, 2.0, 3.0])
    if sympo_ext.KERNELS_AVAILABLE:
        with pytest.raises(ValueError, match="loss_types must name 1 to 8 losses"):
            torch.ops.sympo_ext.sym_loss_forward(pc, pr, None, None, None, None, [], [], [], 0.1, None, "mean")
