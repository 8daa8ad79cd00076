"""sym_loss under hostile input (issue 12): weights that require grad, mixed / meta devices,
+-inf and NaN inputs for every loss. No silent wrong answer."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from _helpers import LOSS_PARAMS, pairs

import sympo_ext
from sympo_ext import reference
from sympo_ext.losses import LOSSES

ALL = list(LOSSES)
PER_PAIR = [n for n, i in LOSSES.items() if i.kind != "batch"]


# --------------------------------------------------------------------------- #
# weights that require grad
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("loss_type", PER_PAIR)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weights_gradient_matches_reference(loss_type, reduction):
    n = 11
    pc, pr, rc, rr = pairs(n)
    w = (torch.rand(n, dtype=torch.float64) + 0.1).requires_grad_(True)
    kw = dict(
        loss_type=loss_type,
        reduction=reduction,
        beta=0.3,
        labels=torch.randint(0, 2, (n,)),
        **LOSS_PARAMS.get(loss_type, {}),
    )
    loss = sympo_ext.sym_loss(pc, pr, rc, rr, weights=w, **kw)
    want = reference.sym_loss(pc, pr, rc, rr, weights=w, **kw)
    g = torch.randn_like(want)
    got_grads = torch.autograd.grad(loss, (pc, w), g)
    want_grads = torch.autograd.grad(want, (pc, w), g)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b)
    torch.autograd.gradcheck(lambda wt, p: sympo_ext.sym_loss(p, pr, rc, rr, weights=wt, **kw), (w, pc))


def test_weights_gradient_is_the_per_pair_loss():
    pc, pr, rc, rr = pairs(6, requires_grad=False)
    w = torch.ones(6, dtype=torch.float64, requires_grad=True)
    sympo_ext.sym_loss(pc, pr, rc, rr, weights=w, loss_type="logistic", reduction="sum").backward()
    torch.testing.assert_close(w.grad, sympo_ext.sym_loss(pc, pr, rc, rr, loss_type="logistic", reduction="none"))
    w32 = torch.ones(6, requires_grad=True)  # float32 weights get a float32 gradient
    sympo_ext.sym_loss(pc.float(), pr.float(), weights=w32).backward()
    assert w32.grad.dtype == torch.float32


# --------------------------------------------------------------------------- #
# mixed devices, including meta
# --------------------------------------------------------------------------- #

ARGS = ["policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps", "labels", "weights"]


@pytest.mark.parametrize("arg", ARGS)
@pytest.mark.parametrize("meta_side", ["argument", "policy_chosen"])
def test_sym_loss_refuses_meta_mixed_with_cpu(arg, meta_side):
    n = 5
    vals = dict(
        policy_chosen_logps=torch.randn(n),
        policy_rejected_logps=torch.randn(n),
        ref_chosen_logps=torch.randn(n),
        ref_rejected_logps=torch.randn(n),
        labels=torch.ones(n),
        weights=torch.ones(n),
    )
    if meta_side == "argument":
        vals[arg] = vals[arg].to("meta")
    else:
        vals = {k: (v.to("meta") if k in ("policy_chosen_logps",) else v) for k, v in vals.items()}
        vals = {k: v for k, v in vals.items() if k in ("policy_chosen_logps", arg) or k in ARGS[:1]}
        if arg not in vals:
            vals[arg] = torch.ones(n)
    pos = [
        vals.pop(k, None)
        for k in ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    ]
    if (pos[2] is None) != (pos[3] is None):  # the pair of references goes together
        pos[2 if pos[2] is None else 3] = torch.randn(n)
    with pytest.raises(RuntimeError, match="is on (meta|cpu) but policy_chosen_logps is on (cpu|meta)"):
        sympo_ext.sym_loss(*pos, **vals)


@pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="needs the compiled kernels")
def test_raw_op_refuses_meta_mixed_with_cpu():
    pc, pr = torch.randn(4), torch.randn(4)
    with pytest.raises(RuntimeError, match="labels is on meta"):
        torch.ops.sympo_ext.sym_loss_forward(
            pc, pr, None, None, torch.ones(4, device="meta"), None, ["logistic"], [1.0], [0.0], 0.1, None, "mean"
        )
    out = torch.ops.sympo_ext.sym_loss_forward(
        pc.to("meta"), pr.to("meta"), None, None, None, None, ["logistic"], [1.0], [0.0], 0.1, None, "mean"
    )  # all meta: fine
    assert out[0].device.type == "meta"


@pytest.mark.parametrize("arg", ["labels", "cu_seqlens", "logits"])
def test_sequence_logps_refuses_meta_mixed_with_cpu(arg):
    logits, labels = torch.randn(6, 5), torch.randint(0, 5, (6,))
    cu = torch.tensor([0, 2, 6])
    if arg == "labels":
        labels = labels.to("meta")
    elif arg == "cu_seqlens":
        cu = cu.to("meta")
    else:
        logits = logits.to("meta")
    with pytest.raises(RuntimeError, match=f"{'labels' if arg == 'logits' else arg} is on"):
        sympo_ext.sequence_logps(logits, labels, cu_seqlens=cu)


# --------------------------------------------------------------------------- #
# +-inf and NaN: kernel == reference, values and gradients, for every loss
# --------------------------------------------------------------------------- #


def special_inputs():
    """Rows: finite; policy_rejected -inf (margin +inf); policy_chosen -inf (margin -inf);
    both -inf (inf - inf: NaN); ref_chosen -inf (chosen reward +inf); NaN."""
    inf, nan = math.inf, math.nan
    pc = torch.tensor([-3.0, -2.0, -inf, -inf, -4.0, nan], dtype=torch.float64)
    pr = torch.tensor([-5.0, -inf, -1.0, -inf, -2.0, -1.0], dtype=torch.float64)
    rc = torch.tensor([-4.0, -1.0, -2.0, -1.0, -inf, -2.0], dtype=torch.float64)
    rr = torch.tensor([-4.5, -1.5, -2.5, -1.5, -3.0, -2.0], dtype=torch.float64)
    return [t.requires_grad_(True) for t in (pc, pr, rc, rr)]


@pytest.mark.parametrize("loss_type", PER_PAIR)
@pytest.mark.parametrize("labels", [None, "flip"])
def test_infinities_kernel_equals_reference(loss_type, labels):
    pc, pr, rc, rr = special_inputs()
    kw = dict(loss_type=loss_type, beta=0.5, reduction="none", **LOSS_PARAMS.get(loss_type, {}))
    if labels:
        kw["labels"] = torch.tensor([1, 0, 1, 0, 0, 1])
    got = sympo_ext.sym_loss(pc, pr, rc, rr, **kw)
    want = reference.sym_loss(pc, pr, rc, rr, **kw)
    torch.testing.assert_close(got, want, equal_nan=True)
    assert not torch.isnan(got[:3]).any() and not torch.isnan(got[4]), f"{loss_type}: NaN where the limit exists"
    assert torch.isnan(got[5]), "NaN input must give NaN"
    for row in range(6):  # each row's gradient on its own (a NaN row would spread through a sum)
        g = torch.zeros(6, dtype=torch.float64)
        g[row] = 1.0
        a = torch.autograd.grad(got, (pc, pr, rc, rr), g, retain_graph=True)
        b = torch.autograd.grad(want, (pc, pr, rc, rr), g, retain_graph=True)
        if row == 5:  # NaN in: NaN gradient (the reference's autograd gives unhinged's constant slope)
            assert torch.isnan(a[0][row]), f"{loss_type}: a NaN input must give a NaN gradient"
            continue
        for x, y in zip(a, b):
            torch.testing.assert_close(x[row], y[row], equal_nan=True, msg=f"{loss_type} row {row}")
        if row in (0, 1, 2, 4):
            assert not any(torch.isnan(x[row]) for x in a), f"{loss_type} row {row}: NaN gradient"


@pytest.mark.parametrize("loss_type", PER_PAIR)
def test_infinities_through_the_float32_simd_and_scalar_paths(loss_type, monkeypatch):
    ts = [t.detach().float() for t in special_inputs()]
    kw = dict(loss_type=loss_type, beta=0.5, reduction="none", **LOSS_PARAMS.get(loss_type, {}))
    simd = sympo_ext.sym_loss(*ts, **kw)
    monkeypatch.setenv("SYMPO_CPU_LANES", "scalar")
    scalar = sympo_ext.sym_loss(*ts, **kw)
    want = reference.sym_loss(*[t.double() for t in ts], **kw)
    torch.testing.assert_close(simd.double(), want, equal_nan=True, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scalar.double(), want, equal_nan=True, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired"])
def test_batch_losses_with_infinities_and_nan(loss_type):
    pc, pr, rc, rr = special_inputs()
    got = sympo_ext.sym_loss(pc[:3], pr[:3], rc[:3], rr[:3], loss_type=loss_type, reduction="none")
    want = reference.sym_loss(pc[:3], pr[:3], rc[:3], rr[:3], loss_type=loss_type, reduction="none")
    torch.testing.assert_close(got, want, equal_nan=True)
    assert torch.isnan(sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=loss_type))


def test_readme_documents_the_infinity_rule():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "limit of the" in text and "+-inf" in text and "NaN in any input" in text
