"""Op-level reliability (issue 17): the subgradient at the losses' kinks, double backward,
invalid labels of the batch losses, empty inputs and torch.func transforms."""

from __future__ import annotations

import pytest
import torch
from conftest import DEVICES

import sympo_ext
from sympo_ext import reference

# Each kinked loss, its parameters, and margins s AT its kinks (plus one point either side),
# all exact in binary so kernel and reference see the same s.
KINKS = {
    "ramp": (dict(), [0.0, 1.0]),  # v = 1 - s in {1, 0}
    "hinge": (dict(), [1.0]),  # v = 1 - s = 0
    "symmetric_ramp": (dict(slope=0.5), [-1.0, 1.0]),  # v = 0.5 - 0.5 s in {1, 0}
}


@pytest.mark.parametrize("lanes", ["scalar", "simd", "simd-default", "simd-avx2"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("loss_type", list(KINKS))
def test_kink_subgradient_is_the_midpoint_in_kernel_and_reference(loss_type, dtype, lanes, monkeypatch):
    """Every CPU lane path (the scalar one is the CUDA kernel's code) against the reference."""
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    if lanes == "scalar":
        monkeypatch.setenv("SYMPO_CPU_LANES", "scalar")
    elif lanes != "simd":  # the DEFAULT / AVX2 builds of the kernel (None: the machine's best)
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", lanes.split("-")[1])
    params, kinks = KINKS[loss_type]
    margins = [k + d for k in kinks for d in (-0.25, 0.0, 0.25)]
    s = torch.tensor(margins * 3, dtype=torch.float64)  # several copies: full SIMD vectors and a tail
    labels = (torch.arange(s.numel()) % 2).to(torch.float64)
    # label 0 swaps the responses: the label-oriented margin is -(pc - pr), so flip s there.
    oriented = torch.where(labels == 1, s, -s)
    pr = torch.arange(s.numel(), dtype=torch.float64) * 0.25 - 3.0  # exact: pc - pr == oriented
    pc = pr + oriented
    got_in = [t.to(dtype).requires_grad_(True) for t in (pc, pr)]
    ref_in = [t.clone().requires_grad_(True) for t in (pc, pr)]
    kw = dict(loss_type=loss_type, beta=1.0, labels=labels, reduction="sum", **params)
    got = sympo_ext.sym_loss(*got_in, **kw)
    want = reference.sym_loss(*ref_in, **kw)
    g, gw = torch.autograd.grad(got, got_in), torch.autograd.grad(want, ref_in)
    torch.testing.assert_close(got.double(), want, rtol=0, atol=0)
    for a, b in zip(g, gw):
        torch.testing.assert_close(a.double(), b, rtol=0, atol=0)
    # The convention itself: dl/ds at a kink is the midpoint of the one-sided slopes.
    slope = params.get("slope", 1.0)
    at_kink = torch.isin(s, torch.tensor(kinks, dtype=torch.float64))
    dl_ds = torch.where(labels == 1, g[0].double(), -g[0].double())
    torch.testing.assert_close(dl_ds[at_kink], torch.full_like(dl_ds[at_kink], -0.5 * slope), rtol=0, atol=0)


@pytest.mark.parametrize("lanes", ["scalar", "simd", "simd-default", "simd-avx2"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("loss_type", ["logistic", "sigmoid"])
def test_clip_bound_subgradient_is_the_midpoint_in_kernel_and_reference(loss_type, dtype, lanes, monkeypatch):
    """A reward AT +-clip gets half the unclipped gradient (the kink convention), inside the whole of
    it, outside none: the same in every CPU lane path and the reference."""
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    if lanes == "scalar":
        monkeypatch.setenv("SYMPO_CPU_LANES", "scalar")
    elif lanes != "simd":
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", lanes.split("-")[1])
    clip = 0.5
    chosen = [-0.75, -0.5, -0.25, 0.25, 0.5, 0.75] * 3  # rewards (beta = 1, reference 0), exact in binary
    pc = torch.tensor(chosen, dtype=torch.float64)
    pr = torch.full_like(pc, 0.125).flip(0) * torch.tensor([1.0, -1.0]).repeat(9)  # inside the bound
    pr[0], pr[1] = 0.5, -0.5  # rejected rewards at the bound too
    zeros = torch.zeros_like(pc)
    slopes = {}
    for name, c in (("clip", clip), ("none", None)):
        kw = dict(loss_type=loss_type, beta=1.0, clip=c, reduction="sum")
        got_in = [t.to(dtype).requires_grad_(True) for t in (pc, pr)]
        ref_in = [t.clone().requires_grad_(True) for t in (pc, pr)]
        got = sympo_ext.sym_loss(got_in[0], got_in[1], zeros.to(dtype), zeros.to(dtype), **kw)
        want = reference.sym_loss(ref_in[0], ref_in[1], zeros, zeros, **kw)
        g, gw = torch.autograd.grad(got, got_in), torch.autograd.grad(want, ref_in)
        tol = dict(rtol=1e-14, atol=1e-16) if dtype == torch.float64 else dict(rtol=2e-6, atol=1e-7)
        for a, b in zip(g, gw):
            torch.testing.assert_close(a.double(), b, **tol)
        slopes[name] = gw
    same_margin = (pc.abs() <= clip) & (pr.abs() <= clip)  # no reward clamped away: the same s either way
    for x, g_clip, g_none in zip((pc, pr), slopes["clip"], slopes["none"]):
        factor = torch.where(x.abs() < clip, 1.0, 0.5).double()
        torch.testing.assert_close(g_clip[same_margin], (factor * g_none)[same_margin], rtol=0, atol=1e-15)
        assert (g_clip[x.abs() > clip] == 0).all()
    assert (pc.abs() == clip).any() and (pr.abs() == clip).any()


def test_symmetric_ramp_derivative_is_symmetric_at_its_kinks():
    """l'(s) = l'(-s) for symmetric_ramp, kinks included (the midpoint keeps it)."""
    s = torch.tensor([-1.0, 1.0, -0.5, 0.5, -2.0, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(reference.loss_values(s, "symmetric_ramp", slope=0.5).sum(), s)
    torch.testing.assert_close(g[0::2], g[1::2], rtol=0, atol=0)


# --------------------------------------------------------------------------- #
# Invalid labels of the batch losses: raise on the CPU, NaN (no sync) elsewhere
# --------------------------------------------------------------------------- #

LABEL_MESSAGE = r"sym_loss: labels must be 0 or 1 for every pair"


@pytest.mark.parametrize("bad", [2.0, 0.5, -1.0, float("nan")])
@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired", ["logistic", "aot_unpaired"], ["aot", "aot_unpaired"]])
def test_batch_losses_refuse_invalid_labels_on_cpu(loss_type, bad):
    pc, pr, rc, rr = (torch.randn(6, dtype=torch.float64) for _ in range(4))
    labels = torch.tensor([1.0, 0.0, 1.0, bad, 0.0, 1.0], dtype=torch.float64)
    with pytest.raises(RuntimeError, match=LABEL_MESSAGE):
        sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=loss_type, labels=labels)
    with pytest.raises(RuntimeError, match=LABEL_MESSAGE):  # reference-free
        sympo_ext.sym_loss(pc, pr, loss_type=loss_type, labels=labels)
    for ints in (torch.tensor([1, 0, 1, 2, 0, 1]), torch.tensor([1, 0, 1, -1, 0, 1], dtype=torch.int32)):
        with pytest.raises(RuntimeError, match=LABEL_MESSAGE):
            sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=loss_type, labels=ints)
    # Valid labels (float, int, bool) still give the reference's value.
    for good in (labels.nan_to_num(1.0).clamp(0, 1).round(), torch.tensor([1, 0, 1, 1, 0, 1])):
        for lab in (good, good.bool()):
            torch.testing.assert_close(
                sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=loss_type, labels=lab),
                reference.sym_loss(pc, pr, rc, rr, loss_type=loss_type, labels=lab),
            )


@pytest.mark.parametrize("device", DEVICES[1:])
@pytest.mark.parametrize("loss_type", ["aot", "aot_unpaired"])
def test_batch_losses_invalid_labels_give_nan_on_device(loss_type, device):
    pc, pr, rc, rr = (torch.randn(6, dtype=torch.float64, device=device) for _ in range(4))
    labels = torch.tensor([1.0, 0.0, 1.0, 2.0, 0.0, 1.0], dtype=torch.float64, device=device)
    assert torch.isnan(sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=loss_type, labels=labels)).item()


# --------------------------------------------------------------------------- #
# Double backward (a gradient penalty): equal to the reference's in float64
# --------------------------------------------------------------------------- #


def _gradient_penalty(fn, inputs):
    """d/dx [ f(x) + ||df/dx||^2 ] for every x in inputs: needs the gradient of the gradient."""
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, create_graph=True)
    total = out + sum((g**2).sum() for g in grads)
    return torch.autograd.grad(total, inputs)


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_(True) for t in tensors]


SYM_CASES = [
    dict(loss_type="sigmoid", temperature=1.3),
    dict(loss_type="logistic", clip=0.9),
    dict(loss_type="cdpo", epsilon=0.2, reduction="sum"),
    dict(loss_type="ipo"),
    dict(loss_type="apo_down"),
    dict(loss_type=["sigmoid", "nca_pair", "exo_pair"], loss_weights=[1.0, 0.5, 2.0], epsilon=0.1),
    dict(loss_type="aot", epsilon=0.1),
    dict(loss_type=["logistic", "aot_unpaired"]),
]


@pytest.mark.parametrize("kw", SYM_CASES, ids=lambda kw: str(kw["loss_type"]))
def test_sym_loss_gradient_penalty_matches_reference(kw):
    torch.manual_seed(0)
    n = 13
    data = [torch.randn(n, dtype=torch.float64) * 4 for _ in range(4)]
    labels = (torch.rand(n) > 0.3).double()
    extra = dict(labels=labels, beta=0.3)
    if "aot" not in str(kw["loss_type"]):
        extra["weights"] = torch.rand(n, dtype=torch.float64) + 0.1
    inputs = _leaves(*data) + ([_leaves(extra["weights"])[0]] if "weights" in extra else [])

    def run(op):
        def fn(pc, pr, rc, rr, *w):
            options = dict(extra, **kw)
            if w:
                options["weights"] = w[0]
            return op(pc, pr, rc, rr, **options)

        return fn

    got = _gradient_penalty(run(sympo_ext.sym_loss), inputs)
    want = _gradient_penalty(run(reference.sym_loss), _leaves(*inputs))
    assert any(g.abs().max() > 0 for g in got)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_sequence_logps_gradient_penalty_matches_reference(packed, average):
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 7, dtype=torch.float64) * 2
    labels = torch.randint(0, 7, (3, 5))
    labels[0, :2] = -100
    kw = dict(average=average)
    if packed:
        logits, labels = logits.reshape(15, 7), labels.reshape(15)
        kw["cu_seqlens"] = torch.tensor([0, 4, 4, 15])
    weights = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    got = _gradient_penalty(lambda x: (sympo_ext.sequence_logps(x, labels, **kw) * weights).sum(), _leaves(logits))
    want = _gradient_penalty(lambda x: (reference.sequence_logps(x, labels, **kw) * weights).sum(), _leaves(logits))
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("with_bias", [False, True])
def test_fused_linear_gradient_penalty_matches_reference(with_bias):
    torch.manual_seed(2)
    hidden, weight = torch.randn(2, 6, 4, dtype=torch.float64), torch.randn(9, 4, dtype=torch.float64)
    bias = torch.randn(9, dtype=torch.float64)
    labels = torch.randint(0, 9, (2, 6))
    labels[1, 4:] = -100
    inputs = _leaves(hidden, weight) + (_leaves(bias) if with_bias else [])

    def fused(h, w, *b):
        return sympo_ext.fused_linear_sequence_logps(h, w, labels, bias=b[0] if b else None, chunk_size=5).sum()

    def unfused(h, w, *b):
        return reference.sequence_logps(torch.nn.functional.linear(h, w, b[0] if b else None), labels).sum()

    got, want = _gradient_penalty(fused, inputs), _gradient_penalty(unfused, _leaves(*inputs))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- #
# Empty inputs and torch.func transforms
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("shape", [(0, 5), (2, 0), (0, 0)])
def test_empty_inputs_give_the_reference_result_and_gradients(shape, average):
    h, v = 4, 9
    hidden = torch.randn(*shape, h, dtype=torch.float64)
    weight, bias = torch.randn(v, h, dtype=torch.float64), torch.randn(v, dtype=torch.float64)
    labels = torch.randint(0, v, shape)
    logits = torch.randn(*shape, v, dtype=torch.float64)
    cases = [
        (
            lambda x, w, b: sympo_ext.fused_linear_sequence_logps(x, w, labels, bias=b, average=average),
            lambda x, w, b: reference.sequence_logps(torch.nn.functional.linear(x, w, b), labels, average=average),
            (hidden, weight, bias),
        ),
        (
            lambda x: sympo_ext.sequence_logps(x, labels, average=average),
            lambda x: reference.sequence_logps(x, labels, average=average),
            (logits,),
        ),
    ]
    for op, ref, inputs in cases:
        got_in, ref_in = _leaves(*inputs), _leaves(*inputs)
        got, want = op(*got_in), ref(*ref_in)
        assert got.shape == want.shape == (shape[0],)
        torch.testing.assert_close(got, want)
        got.sum().backward()
        want.sum().backward()
        for a, b in zip(got_in, ref_in):
            assert a.grad.shape == a.shape
            torch.testing.assert_close(a.grad, b.grad)
    # packed, no sequences / empty sequences
    for cu in ([0], [0, 0, 0]):
        cu = torch.tensor(cu)
        x = torch.randn(0, h, dtype=torch.float64, requires_grad=True)
        out = sympo_ext.fused_linear_sequence_logps(x, weight, labels.new_zeros(0), cu_seqlens=cu, average=average)
        assert out.shape == (cu.numel() - 1,) and not out.any()
        out.sum().backward()
        assert x.grad.shape == x.shape


def _func_cases():
    torch.manual_seed(3)
    pr, rc, rr = (torch.randn(5, dtype=torch.float64) * 3 for _ in range(3))
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    tok = torch.randint(0, 7, (2, 3))
    weight = torch.randn(7, 4, dtype=torch.float64)
    return {
        "sym_loss": (
            lambda x, op: op(x, pr, rc, rr, loss_type="sigmoid", labels=labels, reduction="none"),
            sympo_ext.sym_loss,
            reference.sym_loss,
            torch.randn(5, dtype=torch.float64) * 3,
        ),
        "sym_loss_aot": (
            lambda x, op: op(x, pr, rc, rr, loss_type="aot", labels=labels, reduction="none"),
            sympo_ext.sym_loss,
            reference.sym_loss,
            torch.randn(5, dtype=torch.float64) * 3,
        ),
        "sequence_logps": (
            lambda x, op: op(x, tok),
            sympo_ext.sequence_logps,
            reference.sequence_logps,
            torch.randn(2, 3, 7, dtype=torch.float64),
        ),
        "fused_linear_sequence_logps": (
            lambda x, op: op(x, weight, tok),
            sympo_ext.fused_linear_sequence_logps,
            lambda h, w, t: reference.sequence_logps(torch.nn.functional.linear(h, w), t),
            torch.randn(2, 3, 4, dtype=torch.float64),
        ),
    }


@pytest.mark.parametrize("transform", ["grad", "jacrev", "jacfwd", "vmap", "vmap_grad", "hessian"])
@pytest.mark.parametrize("case", list(_func_cases()))
def test_torch_func_transforms_match_reference(case, transform):
    fn, op, ref_op, x = _func_cases()[case]

    def apply(which):
        f = lambda x: fn(x, which)
        scalar = lambda x: f(x).sum()
        if transform == "grad":
            return torch.func.grad(scalar)(x)
        if transform == "jacrev":
            return torch.func.jacrev(f)(x)
        if transform == "jacfwd":
            return torch.func.jacfwd(f)(x)
        if transform == "hessian":
            return torch.func.hessian(scalar)(x)
        batch = torch.stack((x, 2 * x))
        if transform == "vmap":
            return torch.func.vmap(f)(batch)
        return torch.func.vmap(torch.func.grad(scalar))(batch)

    got, want = apply(op), apply(ref_op)
    assert got.abs().max() > 0
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss_type, clip", [("logistic", 1.0), ("ramp", None), ("hinge", None)])
def test_torch_func_grad_through_the_kinks_matches_plain_autograd(loss_type, clip):
    """The midpoint-kink helper of the references runs under torch.func (grad, vmap), at a kink or
    clip bound and off it, with the same gradient as plain autograd."""
    x = torch.tensor([1.0, 0.3, -1.0, 2.5], dtype=torch.float64)  # 1.0 and -1.0 sit on the kinks / bound
    z = torch.zeros(4, dtype=torch.float64)

    def loss(a):
        return sympo_ext.sym_loss(a, z, loss_type=loss_type, beta=1.0, clip=clip, reduction="sum")

    a = x.clone().requires_grad_()
    loss(a).backward()
    torch.testing.assert_close(torch.func.grad(loss)(x), a.grad, rtol=1e-12, atol=1e-12)
    batched = torch.func.vmap(torch.func.grad(loss))(torch.stack((x, x)))
    torch.testing.assert_close(batched, torch.stack((a.grad, a.grad)), rtol=1e-12, atol=1e-12)
    assert a.grad.abs().max() > 0
