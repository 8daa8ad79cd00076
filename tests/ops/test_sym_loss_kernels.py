"""The sym_loss kernels: the C++ table agrees with the registry, the scalar lane and every CPU instruction
set match the oracle, and (CUDA) the device kernel against the CPU scalar lanes."""

from __future__ import annotations

import math

import pytest
import torch
from _helpers import FLOAT_DTYPES, GRAD_TOLERANCES, LOSS_PARAMS, TOLERANCES, randn
from conftest import DEVICES

import sympo_ext
from sympo_ext import reference

from .sym_loss_helpers import (
    CUDA_ONLY,
    LOSS_TYPES,
    device_inputs,
    make_pairs,
    options,
    per_pair_extras,
    scalar_lanes_cpu,
)


def test_registry_matches_the_kernels():
    """Every registered name runs through the C++ op; the op's list of valid
    names (in its error message) is exactly the registry."""
    pc, pr, _, _ = make_pairs(4)
    for name in LOSS_TYPES:
        sympo_ext.sym_loss(pc, pr, loss_type=name)
    with pytest.raises(ValueError) as err:
        torch.ops.sympo_ext.sym_loss_forward(pc, pr, None, None, None, None, ["nope"], [1.0], [0.0], 0.1, None, "mean")
    listed = str(err.value).split("valid: ")[1].split("\n")[0].strip()
    assert listed.split(", ") == LOSS_TYPES
    # apo_zero = sigmoid(-c) + sigmoid(r): swapping the pair's roles adds up to 2.
    assert set(sympo_ext.SYMMETRIC_LOSSES) == {"sigmoid", "symmetric_ramp", "unhinged", "apo_zero"}


@pytest.mark.parametrize("lanes", ["scalar", "simd"])
def test_scalar_lane_path_matches_reference(lanes, monkeypatch):
    """SYMPO_CPU_LANES=scalar runs the CUDA kernel's scalar code on the CPU, so the
    math the GPU executes is checked here too (the default CPU path is SIMD)."""
    if lanes == "scalar":
        monkeypatch.setenv("SYMPO_CPU_LANES", "scalar")
    n = 301
    for loss_type in LOSS_TYPES:
        pc, pr, rc, rr = make_pairs(n, dtype=torch.float32, requires_grad=True)
        kw = options(loss_type, reduction="none", clip=2.0, **per_pair_extras(n, labels=True, weights=True))
        kw["weights"] = kw["weights"].float()
        got = sympo_ext.sym_loss(pc, pr, rc, rr, **kw)
        as64 = [t.detach().double().requires_grad_(True) for t in (pc, pr, rc, rr)]
        want = reference.sym_loss(*as64, **kw)
        torch.testing.assert_close(got.double(), want, **TOLERANCES[torch.float32])
        g = torch.autograd.grad(got.sum(), (pc, pr))
        gw = torch.autograd.grad(want.sum(), as64[:2])
        for a, b in zip(g, gw):
            torch.testing.assert_close(a.double(), b, **GRAD_TOLERANCES[torch.float32])


@pytest.mark.parametrize("cap", ["default", "avx2", None])
def test_cpu_instruction_sets_match_reference(cap, monkeypatch):
    """Each CPU kernel build (DEFAULT / AVX2 picked with ATEN_CPU_CAPABILITY, read at every
    call; None: the machine's best) against the float64 reference, in float32: their float
    lanes use different exp / log1p code (inline polynomials with AVX2 / AVX-512, ATen's
    per-element functions in the DEFAULT build). The margins span [-60, 60] so the
    exponentials reach far into their tails, with +-inf and NaN rows at the end."""
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    if cap is not None:
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", cap)
    n = 515
    pc = (torch.linspace(-200.0, 200.0, n) + randn(n, dtype=torch.float64)).float()
    pr = randn(n, dtype=torch.float32, scale=8.0)
    pc[-3:] = torch.tensor([math.inf, -math.inf, math.nan])
    pc.requires_grad_(True)
    labels = torch.randint(0, 2, (n,))
    for loss_type in LOSS_TYPES:
        kw = options(loss_type, reduction="none", labels=labels)
        got = sympo_ext.sym_loss(pc, pr, **kw)
        x = pc.detach().double().requires_grad_(True)
        want = reference.sym_loss(x, pr.double(), **kw)
        torch.testing.assert_close(got.double(), want, equal_nan=True, **TOLERANCES[torch.float32], msg=loss_type)
        g = torch.rand(n)
        got_g = torch.autograd.grad(got, pc, g)[0]
        want_g = torch.autograd.grad(want, x, g.double())[0]
        torch.testing.assert_close(got_g[:-3].double(), want_g[:-3], **GRAD_TOLERANCES[torch.float32], msg=loss_type)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_device_matches_cpu_scalar_lanes(device, loss_type, dtype, reduction, monkeypatch):
    n = 3001
    cpu, dev = device_inputs(n, dtype, device)
    labels = torch.randint(0, 2, (n,))
    weights = torch.rand(n)
    kw = dict(loss_type=loss_type, beta=0.3, clip=2.5, reduction=reduction, **LOSS_PARAMS.get(loss_type, {}))
    out_c = scalar_lanes_cpu(
        lambda: sympo_ext.sym_loss(*cpu, labels=labels, weights=weights, return_rewards=True, **kw), monkeypatch
    )
    out_g = sympo_ext.sym_loss(*dev, labels=labels.to(device), weights=weights.to(device), return_rewards=True, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype != torch.float64 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(out_g, out_c):
        torch.testing.assert_close(a.cpu(), b, **tol)
    g = torch.rand_like(out_c.loss)
    grads_c = torch.autograd.grad(out_c.loss, cpu, g)
    grads_g = torch.autograd.grad(out_g.loss, dev, g.to(device))
    for a, b in zip(grads_g, grads_c):
        assert a.dtype == dtype and a.device.type == device
        torch.testing.assert_close(
            a.cpu(), b, rtol=1e-2 if dtype in (torch.bfloat16, torch.float16) else tol["rtol"], atol=tol["atol"]
        )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 255, 256, 257, 10**6 + 3])
def test_device_reduction_sizes_and_determinism(device, n):
    cpu, dev = device_inputs(n, torch.float32, device, requires_grad=False)
    a = sympo_ext.sym_loss(*dev, reduction="sum")
    b = sympo_ext.sym_loss(*dev, reduction="sum")
    assert torch.equal(a, b), "the reduction must be deterministic"
    want = sympo_ext.reference.sym_loss(*[t.double() for t in cpu], reduction="sum")
    torch.testing.assert_close(a.cpu().double(), want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", CUDA_ONLY)
def test_device_no_host_synchronisation(device):
    _, dev = device_inputs(4096, torch.bfloat16, device)
    labels = torch.randint(0, 2, (4096,), device=device)
    weights = torch.rand(4096, device=device, requires_grad=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for reduction in ("mean", "none"):
            loss = sympo_ext.sym_loss(*dev, labels=labels, loss_type="sigmoid", reduction=reduction, clip=3.0)
            torch.autograd.grad(loss.sum(), dev)
        loss = sympo_ext.sym_loss(*dev, labels=labels, weights=weights, loss_type=["logistic", "bco_pair"])
        torch.autograd.grad(loss, (*dev, weights))
        torch.autograd.grad(sympo_ext.sym_loss(*dev, labels=labels, loss_type=["logistic", "aot"]), dev)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("device", DEVICES)
def test_device_invalid_labels_and_weights(device):
    """CUDA: NaN for those pairs (checking would synchronise); CPU: a clear error."""
    _, dev = device_inputs(6, torch.float32, device, requires_grad=False)
    labels = torch.tensor([0, 1, 2, 1, 0, 1], device=device)
    weights = torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0, 1.0], device=device)
    if device == "cpu":
        with pytest.raises(RuntimeError, match="labels must be 0 or 1"):
            sympo_ext.sym_loss(*dev, labels=labels, reduction="none")
        with pytest.raises(RuntimeError, match="weights must be >= 0"):
            sympo_ext.sym_loss(*dev, weights=weights, reduction="none")
        return
    losses = sympo_ext.sym_loss(*dev, labels=labels, weights=weights, reduction="none")
    assert torch.isnan(losses[2]) and torch.isnan(losses[3])
    assert torch.isfinite(losses[[0, 1, 4, 5]]).all()


@pytest.mark.parametrize("device", DEVICES)
def test_device_zero_pairs_and_device_mismatch(device):
    _, dev = device_inputs(0, torch.float32, device)
    assert torch.isnan(sympo_ext.sym_loss(*dev))
    assert sympo_ext.sym_loss(*dev, reduction="sum").item() == 0.0
    _, dev = device_inputs(5, torch.float32, device)
    other = "meta" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match="all tensors must be on one device"):
        sympo_ext.sym_loss(dev[0], dev[1].to(other))


@pytest.mark.parametrize("device", DEVICES)
def test_device_compile_and_opcheck(device):
    _, dev = device_inputs(33, torch.float32, device)
    torch.library.opcheck(
        torch.ops.sympo_ext.sym_loss_forward.default,
        (*dev, torch.randint(0, 2, (33,), device=device), None, ["cdpo"], [1.0], [0.1], 0.1, None, "mean"),
    )
    torch._dynamo.reset()
    fn = torch.compile(lambda *t: sympo_ext.sym_loss(*t, loss_type="unhinged"), fullgraph=True)
    torch.testing.assert_close(fn(*dev), sympo_ext.sym_loss(*dev, loss_type="unhinged"))


def test_int64_labels_read_like_float_labels_and_checked_at_every_position():
    """int64 labels (converted 8 at a time on AVX-512, the rest one by one) give the float
    labels' results, and a value other than 0 / 1 anywhere -- in a full group of 8 or in
    the tail, one that rounds to 1 as a float included -- is refused."""
    n = 37
    pc, pr, rc, rr = make_pairs(n, dtype=torch.float32)
    labels = torch.randint(0, 2, (n,))
    got = sympo_ext.sym_loss(pc, pr, rc, rr, labels=labels, reduction="none")
    want = sympo_ext.sym_loss(pc, pr, rc, rr, labels=labels.float(), reduction="none")
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    for i in (0, 7, 8, 31, 32, 36):
        for bad in (2, -1, 2**40 + 1):
            wrong = labels.clone()
            wrong[i] = bad
            with pytest.raises(RuntimeError, match="labels must be 0 or 1"):
                sympo_ext.sym_loss(pc, pr, rc, rr, labels=wrong)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_forward_without_rewards_writes_none_and_changes_nothing_else(device, reduction):
    """return_rewards=False (what sym_loss passes unless asked for the rewards): the rewards
    output is [3, 0], the loss and grad_coef are bit-for-bit those of the full forward, the
    fake kernel agrees (opcheck) and sym_loss's gradients are unchanged."""
    n = 301
    _, dev = device_inputs(n, torch.float32, device)
    labels = torch.randint(0, 2, (n,), device=device)
    args = (*dev, labels, None, ["sigmoid"], [1.0], [1.0], 0.1, 2.0, reduction)
    op = torch.ops.sympo_ext.sym_loss_forward.default
    full = op(*args)
    lean = op(*args, False)
    assert full[2].shape == (3, n) and lean[2].shape == (3, 0)
    for a, b in zip(lean[:2], full[:2]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.library.opcheck(op, (*args, False))
    out = sympo_ext.sym_loss(*dev, labels=labels, beta=0.1, clip=2.0, reduction=reduction, return_rewards=True)
    loss = sympo_ext.sym_loss(*dev, labels=labels, beta=0.1, clip=2.0, reduction=reduction)
    torch.testing.assert_close(loss, out.loss, rtol=0, atol=0)
    torch.testing.assert_close(out.chosen_rewards, full[2][0], rtol=0, atol=0)
    g = torch.rand_like(loss)
    for a, b in zip(torch.autograd.grad(loss, dev, g), torch.autograd.grad(out.loss, dev, g)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_return_rewards_keeps_its_truthiness_rule():
    """sym_loss reads return_rewards as a truth value, as before the op took it as an argument."""
    pc, pr, _, _ = make_pairs(4, dtype=torch.float32)
    assert isinstance(sympo_ext.sym_loss(pc, pr, return_rewards=1), sympo_ext.SymLossOutput)
    # A truthy non-bool (the op's bool argument alone would refuse it with a schema error).
    assert isinstance(sympo_ext.sym_loss(pc, pr, return_rewards="yes"), sympo_ext.SymLossOutput)
    assert isinstance(sympo_ext.sym_loss(pc, pr, return_rewards=None), torch.Tensor)
