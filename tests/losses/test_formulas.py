"""The losses added from the official SymPO code and TRL: ropo, simpo, exo_pair, discopop, the
(c, r) losses and the batch (AOT) losses. The float64 comparisons, gradcheck, symmetry and the
scalar-lane path of every per-pair loss run in test_sym_loss.py (parametrised over the registry);
here: opcheck, compile, low precision, the batch losses, and bad parameters."""

from __future__ import annotations

import pytest
import torch
from _helpers import GRAD_TOLERANCES, LOSS_PARAMS, LOW_PRECISION, TOLERANCES, pairs

import sympo_ext
from sympo_ext import reference
from sympo_ext.losses import LOSSES

NEW = ["ropo", "simpo", "exo_pair", "discopop", "nca_pair", "bco_pair", "sppo_hard", "apo_zero", "apo_down"]
BATCH = ["aot", "aot_unpaired"]
needs_kernels = pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="needs the compiled kernels")


@needs_kernels
@pytest.mark.parametrize("loss_type", NEW)
def test_opcheck(loss_type):
    pc, pr, rc, rr = pairs(13)
    p = next(iter(LOSS_PARAMS.get(loss_type, {"_": 0.0}).values()))
    for reduction in ("mean", "none"):
        torch.library.opcheck(
            torch.ops.sympo_ext.sym_loss_forward.default,
            (
                pc,
                pr,
                rc,
                rr,
                torch.randint(0, 2, (13,)),
                torch.rand(13, dtype=torch.float64, requires_grad=True),
                [loss_type],
                [1.0],
                [p],
                0.3,
                None,
                reduction,
            ),
        )


@pytest.mark.parametrize("loss_type", NEW + BATCH)
def test_compile_fullgraph(loss_type):
    torch._dynamo.reset()

    def step(pc, pr, rc, rr, labels):
        return (
            sympo_ext.sym_loss(
                pc, pr, rc, rr, labels=labels, loss_type=loss_type, beta=0.2, **LOSS_PARAMS.get(loss_type, {})
            )
            * 2.0
        )

    pc, pr, rc, rr = pairs(40, dtype=torch.float32)
    labels = torch.randint(0, 2, (40,))
    eager = step(pc, pr, rc, rr, labels)
    comp = torch.compile(step, fullgraph=True)(pc, pr, rc, rr, labels)
    torch.testing.assert_close(comp, eager)
    for a, b in zip(torch.autograd.grad(comp, (pc, pr, rc, rr)), torch.autograd.grad(eager, (pc, pr, rc, rr))):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("dtype", LOW_PRECISION)
@pytest.mark.parametrize("loss_type", NEW + BATCH)
def test_low_precision(dtype, loss_type):
    n = 200
    ts = pairs(n, dtype=dtype)
    kw = dict(loss_type=loss_type, beta=0.3, reduction="none", **LOSS_PARAMS.get(loss_type, {}))
    loss = sympo_ext.sym_loss(*ts, **kw)
    assert loss.dtype == torch.float32
    as64 = [t.detach().double().requires_grad_(True) for t in ts]
    want = reference.sym_loss(*as64, **kw)
    torch.testing.assert_close(loss.double(), want, **TOLERANCES[dtype])
    g = torch.rand(n, dtype=torch.float64)
    for got, w in zip(torch.autograd.grad(loss, ts, g.float()), torch.autograd.grad(want, as64, g)):
        assert got.dtype == dtype
        torch.testing.assert_close(got.double(), w, **GRAD_TOLERANCES[dtype])


@pytest.mark.parametrize("loss_type", BATCH)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_ref", [True, False])
def test_batch_losses_match_reference_float64(loss_type, reduction, with_ref):
    n = 65
    pc, pr, rc, rr = pairs(n)
    if not with_ref:
        rc = rr = None
    labels = torch.randint(0, 2, (n,))
    kw = dict(loss_type=loss_type, beta=0.3, reduction=reduction, labels=labels, **LOSS_PARAMS[loss_type])
    out = sympo_ext.sym_loss(pc, pr, rc, rr, return_rewards=True, **kw)
    ref = reference.sym_loss_with_rewards(pc, pr, rc, rr, **kw)
    for got, want in zip(out, ref):
        torch.testing.assert_close(got, want, **TOLERANCES[torch.float64])
    inputs = [t for t in (pc, pr, rc, rr) if t is not None]
    g = torch.randn_like(ref[0])
    for a, b in zip(torch.autograd.grad(out.loss, inputs, g), torch.autograd.grad(ref[0], inputs, g)):
        torch.testing.assert_close(a, b, **GRAD_TOLERANCES[torch.float64])
    torch.autograd.gradcheck(lambda *t: sympo_ext.sym_loss(*t, **kw), tuple(inputs))


def test_batch_loss_sorts_across_the_batch():
    """AOT depends on the other pairs: permuting the batch permutes nothing in the mean loss,
    but changing one pair changes the per-position losses of others."""
    pc, pr, rc, rr = pairs(30, requires_grad=False)
    perm = torch.randperm(30)
    a = sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="aot")
    b = sympo_ext.sym_loss(pc[perm], pr[perm], rc[perm], rr[perm], loss_type="aot")
    torch.testing.assert_close(a, b)
    per_pair = LOSSES["cdpo"].reference(0.1 * ((pc - pr) - (rc - rr)), 0.0, 0.1).mean()
    assert (a - per_pair).abs() > 1e-6  # not the unsorted (DPO) loss


def test_batch_losses_refuse_weights_and_clip():
    pc, pr, rc, rr = pairs(8, requires_grad=False)
    with pytest.raises(ValueError, match="weights are not defined for the batch loss 'aot'"):
        sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="aot", weights=torch.ones(8))
    with pytest.raises(ValueError, match="clip is not defined for the batch loss 'aot_unpaired'"):
        sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="aot_unpaired", clip=2.0)


@pytest.mark.parametrize("loss_type", NEW)
def test_new_loss_symmetry_is_as_registered(loss_type):
    pc, pr, rc, rr = pairs(300, requires_grad=False)
    kw = dict(loss_type=loss_type, beta=1.0, reduction="none", **LOSS_PARAMS.get(loss_type, {}))
    total = sympo_ext.sym_loss(pc, pr, rc, rr, **kw) + sympo_ext.sym_loss(pr, pc, rr, rc, **kw)
    spread = (total.max() - total.min()).item()
    assert (spread < 1e-12) == LOSSES[loss_type].symmetric, f"{loss_type}: spread {spread}"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(loss_type="ropo", alpha=0.0), r"alpha must be a finite number > 0"),
        (dict(loss_type="ropo", alpha=-3.0), r"alpha must be a finite number > 0"),
        (dict(loss_type="discopop", tau=0.0), r"tau must be a finite number > 0"),
        (dict(loss_type="exo_pair", epsilon=0.0), r"epsilon must be in \(0, 1\)"),
        (dict(loss_type="exo_pair", epsilon=1.0), r"epsilon must be in \(0, 1\)"),
        (dict(loss_type="simpo", gamma=float("inf")), r"gamma must be in \(-inf, inf\)"),
        (dict(loss_type="aot", epsilon=1.5), r"epsilon must be in \[0, 1\]"),
        # rounds to the bound in float32: the kernel would divide by 1 - 2 * 0.5 = 0
        (dict(loss_type="rdpo", epsilon=0.49999999), r"epsilon must be in \[0, 0.5\).*it is 0.5 in float32"),
        (dict(loss_type="exo_pair", epsilon=1 - 1e-9), r"epsilon must be in \(0, 1\).*it is 1 in float32"),
        (dict(beta=1e300), r"beta must be a finite number > 0 in the float32 math.*it is inf"),
        (dict(beta=1e-50), r"beta must be a finite number > 0 in the float32 math"),
        (dict(clip=1e39), r"clip must be None \(no clipping\) or a finite number > 0 in the float32"),
        (dict(loss_type="ropo", alpha=1e39), r"alpha must be a finite number > 0.*float32"),
        (dict(loss_type="sigmoid", temperature=float("nan")), r"temperature must be a finite number > 0"),
        (dict(loss_type=["logistic", "hinge"], loss_weights=[1.0, 0.0]), r"loss_weights \(for 'hinge'\) must be"),
    ],
)
def test_bad_parameters_are_refused_in_the_math_dtype(kwargs, match):
    pc, pr, rc, rr = pairs(8, dtype=torch.float32, requires_grad=False)
    with pytest.raises(ValueError, match=match):
        sympo_ext.sym_loss(pc, pr, rc, rr, **kwargs)


def test_float64_math_accepts_what_float32_refuses():
    pc, pr, rc, rr = pairs(8, requires_grad=False)  # float64: the math is float64
    assert torch.isfinite(sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="rdpo", epsilon=0.49999999))
    with pytest.raises(ValueError, match="float32"):
        sympo_ext.sym_loss(pc.float(), pr.float(), rc.float(), rr.float(), loss_type="rdpo", epsilon=0.49999999)


@pytest.mark.parametrize("option", ["beta", "clip", "temperature", "slope", "epsilon", "alpha", "gamma", "tau"])
@pytest.mark.parametrize("value", ["0.1", [0.1], True, torch.tensor(0.1)])
def test_float_options_of_the_wrong_type_name_the_option(option, value):
    loss_of = {
        "temperature": "sigmoid",
        "slope": "symmetric_ramp",
        "epsilon": "cdpo",
        "alpha": "ropo",
        "gamma": "simpo",
        "tau": "discopop",
    }
    pc, pr = torch.randn(4), torch.randn(4)
    with pytest.raises(TypeError, match=rf"^{option} must be a real number"):
        sympo_ext.sym_loss(pc, pr, loss_type=loss_of.get(option, "logistic"), **{option: value})


def test_beta_none_names_beta():
    with pytest.raises(TypeError, match=r"^beta must be a real number, got NoneType None"):
        sympo_ext.sym_loss(torch.randn(4), torch.randn(4), beta=None)


@needs_kernels
def test_raw_op_checks_parameters_in_the_math_dtype():
    pc, pr = torch.randn(4), torch.randn(4)
    with pytest.raises(RuntimeError, match=r"epsilon must be a finite number in \[0, 0.5\).*float32"):
        torch.ops.sympo_ext.sym_loss_forward(
            pc, pr, None, None, None, None, ["rdpo"], [1.0], [0.49999999], 0.1, None, "mean"
        )
    torch.ops.sympo_ext.sym_loss_forward(
        pc.double(), pr, None, None, None, None, ["rdpo"], [1.0], [0.49999999], 0.1, None, "mean"
    )
    with pytest.raises(RuntimeError, match="beta must be a finite number > 0 in the float32"):
        torch.ops.sympo_ext.sym_loss_forward(
            pc, pr, None, None, None, None, ["logistic"], [1.0], [0.0], 1e300, None, "mean"
        )
    with pytest.raises(ValueError, match="loss_params\\[0\\] must be 0: loss 'hinge' has no parameter"):
        torch.ops.sympo_ext.sym_loss_forward(pc, pr, None, None, None, None, ["hinge"], [1.0], [0.3], 0.1, None, "mean")
