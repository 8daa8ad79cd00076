"""The batch losses' CPU op (sympo_ext::sym_loss_batch_forward: the sort inside, csrc/cpu/sym_loss_batch.h):
ties in the pairs' order (torch.sort(stable=True)), special values, every instruction set, any thread count,
the registration (opcheck, torch.compile) and its argument errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import sympo_ext
from sympo_ext import reference

pytestmark = pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="needs the compiled kernels")

OP = torch.ops.sympo_ext.sym_loss_batch_forward if sympo_ext.KERNELS_AVAILABLE else None


def stable_reference(pc, pr, rc, rr, labels, loss_type, epsilon, beta, reduction):
    """AOT with torch.sort(stable=True): the sorted rows in the math dtype (as the op forms them),
    cDPO in float64. Differentiable (the sort's gradient follows the stable order)."""
    dtype = (
        torch.float64 if any(t is not None and t.dtype == torch.float64 for t in (pc, pr, rc, rr)) else torch.float32
    )
    pc, pr = pc.to(dtype), pr.to(dtype)
    rc, rr = (rc.to(dtype), rr.to(dtype)) if rc is not None else (torch.zeros_like(pc), torch.zeros_like(pc))
    label_one = torch.ones_like(pc, dtype=torch.bool) if labels is None else labels != 0
    if loss_type == "aot":
        sign = label_one.to(dtype) * 2 - 1
        u, v = (pc - pr) * sign, (rc - rr) * sign
    else:
        a, b = pc - rc, pr - rr
        u, v = torch.where(label_one, a, b), torch.where(label_one, b, a)
    us, vs = (torch.sort(x, stable=True).values.double() for x in (u, v))
    margin = beta * us - beta * vs
    loss = (1 - epsilon) * F.softplus(-margin) + epsilon * F.softplus(margin)
    return loss.mean() if reduction == "mean" else loss.sum()


def tied_pairs(n, dtype, seed=0):
    """Log-probs on a coarse grid: most log-ratio differences tie with many others."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(-3, 4, (n,), generator=g) * 0.5).to(dtype).requires_grad_(True) for _ in range(4)]


@pytest.mark.parametrize("n", [9, 1000, 50_000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired"])
@pytest.mark.parametrize("with_ref", [True, False])
def test_ties_keep_the_pairs_order(n, dtype, loss_type, with_ref):
    """With many ties the loss is torch.sort's (the sorted values do not depend on how ties are
    ordered), and every gradient is the stable sort's: a tie is broken by the pairs' order."""
    pc, pr, rc, rr = tied_pairs(n, dtype)
    if not with_ref:
        rc = rr = None
    labels = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(1))
    inputs = [t for t in (pc, pr, rc, rr) if t is not None]
    kw = dict(loss_type=loss_type, labels=labels, beta=0.3, epsilon=0.2)
    for reduction in ("mean", "sum"):
        got = sympo_ext.sym_loss(pc, pr, rc, rr, reduction=reduction, **kw)
        u = (pc - pr).detach()
        assert torch.unique(u).numel() < n  # there are ties
        want = reference.sym_loss(pc, pr, rc, rr, reduction=reduction, **kw)
        stable = stable_reference(pc, pr, rc, rr, labels, loss_type, 0.2, 0.3, reduction)
        tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-6, atol=1e-6)
        torch.testing.assert_close(got.double(), want.double(), **tol)
        torch.testing.assert_close(got.double(), stable, **tol)
        for a, b in zip(torch.autograd.grad(got, inputs), torch.autograd.grad(stable, inputs)):
            torch.testing.assert_close(a, b, **tol)


def test_nan_sorts_last_and_signed_zeros_tie():
    """torch.sort's order of special values: -0 and +0 tie (stable: the pairs' order), a NaN
    (any sign) is last, -inf first."""
    nan = float("nan")
    pc = torch.tensor([0.0, -0.0, float("inf"), -nan, 1.0, -0.0, float("-inf"), 0.0], dtype=torch.float64)
    pc.requires_grad_(True)
    pr = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    rc, rr = torch.zeros(8, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
    loss = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="aot_unpaired", reduction="sum")
    assert torch.isnan(loss)
    finite = [0, 1, 4, 5, 7]  # no inf, no NaN: a finite loss, the stable sort's gradient
    args = [t[finite].detach().requires_grad_(True) for t in (pc, pr, rc, rr)]
    got = sympo_ext.sym_loss(*args, loss_type="aot_unpaired", reduction="sum", epsilon=0.1)
    stable = stable_reference(*args, None, "aot_unpaired", 0.1, 0.1, "sum")
    torch.testing.assert_close(got, stable, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(got, args[:2]), torch.autograd.grad(stable, args[:2])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # Infinities: the formula's limits, as the reference (the sort puts -inf first, +inf last).
    inf_pc = pc.detach().nan_to_num(nan=2.0)
    got = sympo_ext.sym_loss(inf_pc, pr, rc, rr, loss_type="aot", reduction="mean")
    want = reference.sym_loss(inf_pc, pr, rc, rr, loss_type="aot", reduction="mean")
    torch.testing.assert_close(got, want, equal_nan=True)


@pytest.mark.parametrize("isa", ["default", "avx2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_every_instruction_set_matches(isa, dtype, monkeypatch):
    n = 5000
    g = torch.Generator().manual_seed(3)
    pc, pr, rc, rr = ((torch.randn(n, generator=g) * 8).to(dtype) for _ in range(4))
    labels = torch.randint(0, 2, (n,), generator=g).bool()
    for loss_type in ("aot", "aot_unpaired"):
        best = OP(pc, pr, rc, rr, labels, loss_type, 0.7, 0.1, 0.2, "mean")
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", isa)
        other = OP(pc, pr, rc, rr, labels, loss_type, 0.7, 0.1, 0.2, "mean")
        monkeypatch.delenv("ATEN_CPU_CAPABILITY")
        tol = dict(rtol=1e-12, atol=0) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-9)
        for a, b in zip(best, other):
            torch.testing.assert_close(a, b, **tol)


def test_any_thread_count_gives_the_same_bits():
    n = 70_000  # two rows sorted in parallel, three blocks of the loss pass
    g = torch.Generator().manual_seed(4)
    pc, pr, rc, rr = (torch.randn(n, generator=g) * 8 for _ in range(4))
    labels = torch.randint(0, 2, (n,), generator=g)
    threads = torch.get_num_threads()
    try:
        outs = []
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            outs.append(OP(pc, pr, rc, rr, labels, "aot", 1.0, 0.1, 0.1, "mean"))
    finally:
        torch.set_num_threads(threads)
    for loss, coef in outs[1:]:
        assert torch.equal(loss, outs[0][0]) and torch.equal(coef, outs[0][1])


def test_opcheck_and_compile():
    n = 37
    g = torch.Generator().manual_seed(5)
    pc, pr, rc, rr = (torch.randn(n, generator=g, dtype=torch.float64).requires_grad_(True) for _ in range(4))
    labels = torch.randint(0, 2, (n,), generator=g)
    for args in (
        (pc, pr, rc, rr, labels, "aot", 1.0, 0.1, 0.3, "mean"),
        (pc.float(), pr.bfloat16(), None, None, None, "aot_unpaired", 0.5, 0.0, 0.1, "sum"),
    ):
        torch.library.opcheck(OP, args)
    compiled = torch.compile(sympo_ext.sym_loss, backend="aot_eager", fullgraph=True)
    kw = dict(loss_type=["logistic", "aot"], labels=labels, epsilon=0.1)
    got = compiled(pc, pr, rc, rr, **kw)
    want = reference.sym_loss(pc, pr, rc, rr, **kw)
    torch.testing.assert_close(got, want)
    for a, b in zip(torch.autograd.grad(got, (pc, rc)), torch.autograd.grad(want, (pc, rc))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(loss_type="cdpo"), "loss_type must be 'aot' or 'aot_unpaired'"),
        (dict(reduction="none"), "reduction must be 'mean' or 'sum'"),
        (dict(beta=0.0), "beta must be a finite number > 0"),
        (dict(epsilon=1.5), r"epsilon must be in \[0, 1\]"),
        (dict(loss_weight=float("inf")), "the loss weight must be a finite number > 0"),
        (dict(rr=None), "give both ref_chosen_logps and ref_rejected_logps, or neither"),
        (dict(pr=torch.zeros(5)), "policy_rejected_logps has 5 entries but policy_chosen_logps has 4"),
        (dict(pc=torch.zeros(4, dtype=torch.int64)), "policy_chosen_logps must hold log-probabilities"),
        (dict(labels=torch.tensor([1, 0, 2, 1])), "labels must be 0 or 1 for every pair"),
    ],
)
def test_errors_name_the_argument(change, message):
    args = dict(
        pc=torch.zeros(4),
        pr=torch.zeros(4),
        rc=torch.zeros(4),
        rr=torch.zeros(4),
        labels=None,
        loss_type="aot",
        loss_weight=1.0,
        epsilon=0.1,
        beta=0.1,
        reduction="mean",
    )
    args.update(change)
    with pytest.raises((RuntimeError, ValueError), match=message):
        OP(*args.values())


@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired"])
def test_unreduced_path_breaks_ties_the_same_way(loss_type):
    """reduction="none" (torch.sort(stable=True) + the pair-level kernel) and the op give the same
    gradients with ties: one tie convention whichever path runs."""
    pc, pr, rc, rr = tied_pairs(3000, torch.float64, seed=7)
    labels = torch.randint(0, 2, (3000,), generator=torch.Generator().manual_seed(8))
    kw = dict(loss_type=loss_type, labels=labels, epsilon=0.3)
    summed = sympo_ext.sym_loss(pc, pr, rc, rr, reduction="sum", **kw)
    per_pair = sympo_ext.sym_loss(pc, pr, rc, rr, reduction="none", **kw)
    torch.testing.assert_close(per_pair.sum(), summed)
    inputs = (pc, pr, rc, rr)
    for a, b in zip(torch.autograd.grad(summed, inputs), torch.autograd.grad(per_pair.sum(), inputs)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
