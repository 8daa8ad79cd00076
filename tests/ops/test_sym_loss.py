"""sympo_ext.sym_loss (sympo_ext/ops.py) against the float64 oracle: every loss, reductions, labels, weights,
clip, reference-free, gradients, symmetry, dtypes, layouts, edge cases, opcheck and torch.compile."""

from __future__ import annotations

import itertools

import pytest
import torch
from _helpers import FLOAT_DTYPES, GRAD_TOLERANCES, TOLERANCES, randn

import sympo_ext
from sympo_ext import reference

from .sym_loss_helpers import LOSS_TYPES, make_pairs, options, per_pair_extras


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("labels,weights,clip", list(itertools.product([False, True], repeat=3)))
def test_matches_reference_float64(loss_type, reduction, labels, weights, clip):
    n = 257
    pc, pr, rc, rr = make_pairs(n, requires_grad=True)
    kw = options(loss_type, reduction=reduction, clip=1.5 if clip else None, **per_pair_extras(n, labels, weights))
    out = sympo_ext.sym_loss(pc, pr, rc, rr, return_rewards=True, **kw)
    ref = reference.sym_loss_with_rewards(pc, pr, rc, rr, **kw)
    assert out.loss.dtype == torch.float64 and out.loss.shape == ref[0].shape
    torch.testing.assert_close(out.loss, ref[0], **TOLERANCES[torch.float64])
    for got, want in zip(out[1:], ref[1:]):
        torch.testing.assert_close(got, want, **TOLERANCES[torch.float64])
    if clip:  # the clip must actually bite somewhere for the test to mean something
        assert (ref[1].abs() == 1.5).any()

    g = torch.randn_like(ref[0])
    grads = torch.autograd.grad(out.loss, (pc, pr, rc, rr), g)
    ref_grads = torch.autograd.grad(ref[0], (pc, pr, rc, rr), g)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, **GRAD_TOLERANCES[torch.float64])


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_reference_free(loss_type):
    pc, pr, _, _ = make_pairs(64, requires_grad=True)
    got = sympo_ext.sym_loss(pc, pr, **options(loss_type))
    want = reference.sym_loss(pc, pr, **options(loss_type))
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got, pc)[0], torch.autograd.grad(want, pc)[0])


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_gradcheck(loss_type):
    n = 9
    pc, pr, rc, rr = make_pairs(n, requires_grad=True)
    extras = per_pair_extras(n, labels=True, weights=True)
    # Random inputs sit far from the kinks of hinge/ramp (probability ~0).
    for reduction in ("mean", "none"):
        torch.autograd.gradcheck(
            lambda *t: sympo_ext.sym_loss(*t, **options(loss_type, reduction=reduction), **extras), (pc, pr, rc, rr)
        )


def test_gradients_only_for_inputs_that_require_them():
    pc, pr, rc, rr = make_pairs(33)
    pc.requires_grad_(True)
    loss = sympo_ext.sym_loss(pc, pr, rc, rr)
    loss.backward()
    assert pc.grad is not None and pr.grad is None and rc.grad is None


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_symmetry_property(loss_type):
    """l(s) + l(-s) is one constant for the symmetric losses, and is not for the others.

    Swapping chosen and rejected negates the margin, so the sum of the two
    per-pair losses is l(z) + l(-z)."""
    pc, pr, rc, rr = make_pairs(500)
    kw = options(loss_type, reduction="none", beta=1.0)
    total = sympo_ext.sym_loss(pc, pr, rc, rr, **kw) + sympo_ext.sym_loss(pr, pc, rr, rc, **kw)
    spread = (total.max() - total.min()).item()
    if sympo_ext.LOSSES[loss_type].symmetric:
        assert spread < 1e-12, f"{loss_type}: l(s)+l(-s) varies by {spread}"
        # And the same through labels: flipping every label flips s.
        flipped = sympo_ext.sym_loss(pc, pr, rc, rr, labels=torch.zeros(500), **kw)
        torch.testing.assert_close(flipped + sympo_ext.sym_loss(pc, pr, rc, rr, **kw), total)
    else:
        assert spread > 1e-3, f"{loss_type} should not be symmetric"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("loss_type", ["sigmoid", "logistic", "ipo", "symmetric_ramp"])
def test_dtypes(dtype, loss_type):
    n = 300
    pc, pr, rc, rr = make_pairs(n, dtype=dtype, requires_grad=True)
    kw = options(loss_type, reduction="none")
    loss = sympo_ext.sym_loss(pc, pr, rc, rr, **kw)
    math = torch.float64 if dtype == torch.float64 else torch.float32
    assert loss.dtype == math
    # Reference on the same (already rounded) values in float64: the kernel's
    # own error is fp32 arithmetic only.
    as64 = [t.detach().double().requires_grad_(True) for t in (pc, pr, rc, rr)]
    want = reference.sym_loss(*as64, **kw)
    torch.testing.assert_close(loss.double(), want, **TOLERANCES[dtype])
    g = torch.rand(n, dtype=torch.float64)
    grads = torch.autograd.grad(loss, (pc, pr, rc, rr), g.to(math))
    want_grads = torch.autograd.grad(want, as64, g)
    for got, w in zip(grads, want_grads):
        assert got.dtype == dtype
        torch.testing.assert_close(got.double(), w, **GRAD_TOLERANCES[dtype])


def test_mixed_dtypes():
    n = 100
    pc = randn(n, dtype=torch.bfloat16, scale=8, requires_grad=True)
    pr = randn(n, dtype=torch.float16, scale=8, requires_grad=True)
    rc = randn(n, dtype=torch.float32, scale=8, requires_grad=True)
    rr = randn(n, dtype=torch.float64, scale=8, requires_grad=True)
    loss = sympo_ext.sym_loss(pc, pr, rc, rr)
    assert loss.dtype == torch.float64  # one fp64 input makes the math fp64
    loss.backward()
    assert [t.grad.dtype for t in (pc, pr, rc, rr)] == [torch.bfloat16, torch.float16, torch.float32, torch.float64]
    labels = torch.rand(n) > 0.5
    as64 = [t.detach().double() for t in (pc, pr, rc, rr)]
    torch.testing.assert_close(
        sympo_ext.sym_loss(pc, pr, rc, rr, labels=labels), reference.sym_loss(*as64, labels=labels)
    )


def test_non_contiguous_inputs():
    base = randn(4, 50, scale=8)
    pc, pr, rc, rr = base[0, ::2], base[1, 1::2], base[2, ::2], base[3, :25]
    labels = torch.randint(0, 2, (50,))[::2]
    weights = torch.rand(75, dtype=torch.float64)[::3]
    assert not pc.is_contiguous()
    kw = dict(labels=labels, weights=weights, reduction="none", loss_type="symmetric_ramp")
    got = sympo_ext.sym_loss(pc, pr, rc, rr, **kw)
    want = reference.sym_loss(pc.contiguous(), pr.contiguous(), rc, rr, **kw)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("reduction,expected", [("mean", float("nan")), ("sum", 0.0), ("none", None)])
def test_zero_pairs(reduction, expected):
    pc, pr, rc, rr = make_pairs(0, requires_grad=True)
    out = sympo_ext.sym_loss(pc, pr, rc, rr, reduction=reduction, return_rewards=True)
    if expected is None:
        assert out.loss.shape == (0,)
    else:
        torch.testing.assert_close(out.loss, torch.tensor(expected, dtype=torch.float64), equal_nan=True)
    assert out.margins.shape == (0,)
    grads = torch.autograd.grad(out.loss.sum(), (pc, pr))
    assert all(g.shape == (0,) for g in grads)


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_nan_inputs_give_nan(loss_type):
    pc, pr, rc, rr = make_pairs(6, requires_grad=True)
    with torch.no_grad():
        pc[2] = float("nan")
    losses = sympo_ext.sym_loss(pc, pr, rc, rr, reduction="none", **options(loss_type))
    assert torch.isnan(losses[2]) and torch.isfinite(losses[[0, 1, 3, 4, 5]]).all()
    assert torch.isnan(sympo_ext.sym_loss(pc, pr, rc, rr, **options(loss_type)))
    # Clipping must not launder a NaN into a finite value.
    assert torch.isnan(sympo_ext.sym_loss(pc, pr, rc, rr, clip=1.0, reduction="none", **options(loss_type))[2])


def test_rewards_come_from_the_same_call_and_are_detached():
    pc, pr, rc, rr = make_pairs(20, requires_grad=True)
    out = sympo_ext.sym_loss(pc, pr, rc, rr, beta=0.5, clip=2.0, return_rewards=True)
    assert not out.chosen_rewards.requires_grad and not out.margins.requires_grad
    torch.testing.assert_close(out.chosen_rewards, (0.5 * (pc - rc)).clamp(-2, 2).detach())
    torch.testing.assert_close(out.margins, out.chosen_rewards - out.rejected_rewards)


def test_labels_accept_bool_int_float():
    pc, pr, rc, rr = make_pairs(40)
    lab = torch.rand(40) > 0.5
    results = [
        sympo_ext.sym_loss(pc, pr, rc, rr, labels=lab.to(dt))
        for dt in (torch.bool, torch.int64, torch.int32, torch.uint8, torch.float32)
    ]
    for r in results[1:]:
        torch.testing.assert_close(r, results[0])


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_opcheck(reduction):
    n = 17
    pc, pr, rc, rr = make_pairs(n, requires_grad=True)
    samples = [
        (pc, pr, rc, rr, None, None, ["sigmoid"], [1.0], [1.0], 0.1, None, reduction),
        (pc, pr, None, None, torch.randint(0, 2, (n,)), torch.rand(n), ["rdpo"], [1.0], [0.25], 0.2, 3.0, reduction),
        (
            pc.float().detach().requires_grad_(),
            pr.half().detach().requires_grad_(),
            rc,
            rr,
            None,
            None,
            ["hinge"],
            [1.0],
            [0.0],
            0.3,
            None,
            reduction,
        ),
    ]
    for args in samples:
        torch.library.opcheck(torch.ops.sympo_ext.sym_loss_forward.default, args)


def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()

    def step(pc, pr, rc, rr, labels):
        loss = sympo_ext.sym_loss(pc, pr, rc, rr, labels=labels, loss_type="sigmoid", beta=0.2, clip=3.0)
        return loss * 2.0

    compiled = torch.compile(step, fullgraph=True)
    pc, pr, rc, rr = make_pairs(64, dtype=torch.float32, requires_grad=True)
    labels = torch.randint(0, 2, (64,))
    eager_loss = step(pc, pr, rc, rr, labels)
    eager_grads = torch.autograd.grad(eager_loss, (pc, pr))
    comp_loss = compiled(pc, pr, rc, rr, labels)
    comp_grads = torch.autograd.grad(comp_loss, (pc, pr))
    torch.testing.assert_close(comp_loss, eager_loss)
    for a, b in zip(comp_grads, eager_grads):
        torch.testing.assert_close(a, b)
