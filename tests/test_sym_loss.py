"""sym_loss: the fused kernel against the float64 reference, autograd, compile, dtypes, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from _helpers import FLOAT_DTYPES, GRAD_TOLERANCES, TOLERANCES, randn
from conftest import DEVICES

import sympo_ext
from sympo_ext import reference

# The per-pair losses (margin and pair kinds; the batch losses have their own
# tests in test_losses_new.py).
LOSS_TYPES = [name for name, info in sympo_ext.LOSSES.items() if info.kind != "batch"]
# Loss-specific parameters set away from their defaults, so a kernel that
# ignored them would fail.
LOSS_PARAMS = {
    "sigmoid": dict(temperature=1.7),
    "symmetric_ramp": dict(slope=0.8),
    "cdpo": dict(epsilon=0.2),
    "rdpo": dict(epsilon=0.3),
    "ropo": dict(alpha=5.0),
    "simpo": dict(gamma=0.3),
    "exo_pair": dict(epsilon=0.1),
    "discopop": dict(tau=0.3),
}


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


# --------------------------------------------------------------------------- #
# Values and gradients against the reference, float64
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# The symmetric property, through the op
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# dtypes, layouts, edge cases
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# torch.library / torch.compile
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


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


# --------------------------------------------------------------------------- #
# Every device (the DEVICES parametrisation; cuda skips without a GPU): the
# device's kernel against the CPU kernel's scalar lane path, which is the CUDA
# kernel's code (so on the CPU this checks SIMD == scalar).
# --------------------------------------------------------------------------- #

DEVICE_PARAMS = {
    "sigmoid": dict(temperature=1.3),
    "symmetric_ramp": dict(slope=0.7),
    "cdpo": dict(epsilon=0.1),
    "rdpo": dict(epsilon=0.2),
    "ropo": dict(alpha=3.0),
    "simpo": dict(gamma=0.2),
    "exo_pair": dict(epsilon=0.05),
    "discopop": dict(tau=0.2),
}
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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_device_matches_cpu_scalar_lanes(device, loss_type, dtype, reduction, monkeypatch):
    n = 3001
    cpu, dev = device_inputs(n, dtype, device)
    labels = torch.randint(0, 2, (n,))
    weights = torch.rand(n)
    kw = dict(loss_type=loss_type, beta=0.3, clip=2.5, reduction=reduction, **DEVICE_PARAMS.get(loss_type, {}))
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
