"""fused_linear_sequence_logps / FusedLinearSymPOLoss against the unfused float64 computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import LOW_PRECISION, rel_error
from conftest import DEVICES

import sympo_ext
from sympo_ext import fused_linear as fl
from sympo_ext.fused_linear.logps_op import SLICE_PAD
from sympo_ext import reference
from sympo_ext import FusedLinearSymPOLoss, fused_linear_sequence_logps

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


# --------------------------------------------------------------------------- #
# values and gradients
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("average", [False, True], ids=["sum", "avg"])
@pytest.mark.parametrize("chunk_size", [None, 1, 4, 5, 64])
def test_values_and_grads_fp32(device, packed, average, chunk_size):
    hidden, weight, bias, labels, cu = _make(device, packed=packed)
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, average=average, cu_seqlens=cu,
                                      chunk_size=chunk_size)
    ref, ref_leaves = _unfused64(hidden, weight, bias, labels, cu, average=average)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    assert out[-1].item() == 0.0  # the fully ignored sequence

    grad_out = torch.randn_like(ref)
    got = _grads(out, (hidden, weight, bias), grad_out.float())
    want = _grads(ref, ref_leaves, grad_out)
    for g, w, name in zip(got, want, ("hidden", "weight", "bias")):
        assert g.dtype == torch.float32, name
        torch.testing.assert_close(g.double(), w, atol=2e-5, rtol=1e-4, msg=lambda m: f"grad {name}: {m}")


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("average", [False, True], ids=["sum", "avg"])
def test_gradcheck_float64(packed, average):
    hidden, weight, bias, labels, cu = _make(dtype=torch.float64, packed=packed, n=2, t=5, h=4, v=6)
    if packed:
        cu = torch.tensor([0, 3, 3, 10])
    fn = lambda h, w, b: fused_linear_sequence_logps(h, w, labels, bias=b, average=average, cu_seqlens=cu,  # noqa: E731
                                                     chunk_size=3)
    assert torch.autograd.gradcheck(fn, (hidden, weight, bias))


@pytest.mark.parametrize("ignore_index", [-1, 0])
def test_ignore_index(ignore_index):
    # ignore_index = 0 is also a valid vocabulary id: those positions must not count.
    hidden, weight, bias, labels, cu = _make(ignore_index=ignore_index)
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, ignore_index=ignore_index, chunk_size=4)
    ref, _ = _unfused64(hidden, weight, bias, labels, cu, ignore_index=ignore_index)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    (g,) = torch.autograd.grad(out.sum(), hidden)
    assert (g[labels == ignore_index] == 0).all()


def test_no_bias_frozen_weight_and_hidden_only():
    hidden, weight, _, labels, _ = _make(bias=False)
    weight.requires_grad_(False)
    out = fused_linear_sequence_logps(hidden, weight, labels, chunk_size=4)
    ref, (h64, _, _) = _unfused64(hidden, weight, None, labels, None)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(hidden.grad.double(), h64.grad, atol=2e-5, rtol=1e-4)
    assert weight.grad is None


def test_weight_only_and_noncontiguous_hidden():
    base = torch.randn(H, T, N).requires_grad_()
    hidden = base.permute(2, 1, 0)  # [N, T, H], not contiguous
    weight = torch.randn(V, H, requires_grad=True)
    labels = torch.randint(0, V, (N, T))
    out = fused_linear_sequence_logps(hidden, weight, labels, chunk_size=5)
    ref, (h64, w64, _) = _unfused64(hidden, weight, None, labels, None)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(weight.grad.double(), w64.grad, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(base.grad.permute(2, 1, 0).double(), h64.grad, atol=2e-5, rtol=1e-4)


def test_all_ignored_and_int32_labels():
    hidden, weight, bias, labels, _ = _make()
    labels = torch.full_like(labels, -100).to(torch.int32)
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, average=True)
    assert (out == 0).all()
    out.sum().backward()
    assert (hidden.grad == 0).all() and (weight.grad == 0).all() and (bias.grad == 0).all()


# --------------------------------------------------------------------------- #
# chunking: the row kernels never see more than chunk_size rows, nor ignored rows
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("chunk_size", [4, 64])
def test_chunking_and_skipping(monkeypatch, chunk_size):
    seen = {"fwd": [], "bwd": []}
    fwd, bwd = sympo_ext.ops.token_logps_and_lse, sympo_ext.ops.token_logps_backward_

    def spy_fwd(logits, labels, ignore_index=-100):
        seen["fwd"].append(tuple(logits.shape))
        assert (labels != ignore_index).all()
        return fwd(logits, labels, ignore_index)

    def spy_bwd(logits, labels, lse, row_grad, ignore_index=-100):
        seen["bwd"].append(tuple(logits.shape))
        out = bwd(logits, labels, lse, row_grad, ignore_index)
        assert out.data_ptr() == logits.data_ptr()  # in place
        return out

    monkeypatch.setattr(sympo_ext.ops, "token_logps_and_lse", spy_fwd)
    monkeypatch.setattr(sympo_ext.ops, "token_logps_backward_", spy_bwd)
    hidden, weight, bias, labels, _ = _make()
    counted = int((labels != -100).sum())
    fused_linear_sequence_logps(hidden, weight, labels, bias=bias, chunk_size=chunk_size).sum().backward()
    rows = [r for r, _ in seen["fwd"]]  # forward: token chunks of full rows
    assert sum(rows) == counted and max(rows) <= chunk_size and all(v == V for _, v in seen["fwd"])
    # backward: vocabulary slices (+ 8 -inf padding columns) of counted rows, same logits budget
    cells = [r * (c - SLICE_PAD) for r, c in seen["bwd"]]
    assert sum(cells) == counted * V and max(cells) <= chunk_size * V


@pytest.mark.parametrize("chunk_size", [5, 20, None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_vocab_slices_and_token_blocks(chunk_size, dtype):
    # V = 1000, 21 tokens (17 counted): chunk 20 -> 2 vocabulary slices; chunk 5 -> token blocks x 4 slices
    # (grad_weight accumulated over blocks); None -> one slice.
    hidden, weight, bias, labels, _ = _make(v=1000, dtype=dtype)
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, chunk_size=chunk_size)
    ref, ref_leaves = _unfused64(hidden, weight, bias, labels, None)
    # bf16: the logits themselves are rounded to bf16 (as in the unfused path)
    tol = dict(atol=2e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out.double(), ref, **tol)
    grad_out = torch.randn_like(ref)
    got = _grads(out, (hidden, weight, bias), grad_out.to(out.dtype))
    want = _grads(ref, ref_leaves, grad_out)
    for g, w, name in zip(got, want, ("hidden", "weight", "bias")):
        assert g.dtype == dtype
        if dtype == torch.float32:
            torch.testing.assert_close(g.double(), w, atol=2e-5, rtol=1e-4, msg=lambda m: f"grad {name}: {m}")
        else:  # one bf16 rounding of the exact value (plus the rounded logits' own error)
            assert rel_error(g, w) < 1.5e-2, name


def test_auto_chunk_size():
    assert fl.auto_chunk_size(10, V, torch.float32, "cpu") == 10  # capped by the rows
    rows = fl.auto_chunk_size(10**9, 128256, torch.bfloat16, "cpu")
    assert rows * 128256 * 2 <= fl.CPU_CHUNK_BUDGET_BYTES and rows % 64 == 0 and rows >= 512
    assert fl.auto_chunk_size(10**9, 10**10, torch.float32, "cpu") == 1  # never 0


# --------------------------------------------------------------------------- #
# low precision: fused error <= 2x plain PyTorch's error in the same dtype
# --------------------------------------------------------------------------- #


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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
@pytest.mark.parametrize("average", [False, True], ids=["sum", "avg"])
def test_low_precision_rule(device, dtype, average):
    n, t, h, v = 4, 24, 64, 300
    hidden, weight, bias, labels, _ = _make(device, dtype, n=n, t=t, h=h, v=v)
    labels[-1, :5] = 3  # keep every sequence counted: relative errors stay meaningful
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, average=average, chunk_size=20)
    ref, ref_leaves = _unfused64(hidden, weight, bias, labels, None, average=average)
    plain, plain_leaves = _plain_in_dtype(hidden, weight, bias, labels, average)
    assert out.dtype == torch.float32
    assert rel_error(out, ref) <= 2 * rel_error(plain, ref) + 1e-7

    grad_out = torch.randn(n, dtype=torch.float64, device=device)
    got = _grads(out, (hidden, weight, bias), grad_out.float())
    want = _grads(ref, ref_leaves, grad_out)
    base = _grads(plain, plain_leaves, grad_out.to(dtype))
    for g, w, p, name in zip(got, want, base, ("hidden", "weight", "bias")):
        assert g.dtype == dtype, name
        assert rel_error(g, w) <= 2 * rel_error(p, w) + 1e-7, name


# --------------------------------------------------------------------------- #
# tied weights
# --------------------------------------------------------------------------- #


def test_tied_weights():
    ids = torch.randint(0, V, (N, T))
    labels = torch.roll(ids, -1, dims=1)
    labels[:, -1] = -100
    mix = torch.randn(H, H, dtype=torch.float64) * 0.3
    w0 = torch.randn(V, H, dtype=torch.float64) * 0.5

    def run(fused: bool, dtype, tied=True):
        w = w0.to(dtype).requires_grad_()
        emb = F.embedding(ids, w if tied else w.detach())  # tied: the input embedding IS the LM head
        hidden = torch.tanh(emb @ mix.to(dtype))
        if fused:
            out = fused_linear_sequence_logps(hidden, w, labels, chunk_size=4)
        else:
            out = reference.sequence_logps(hidden @ w.T, labels)
        (out * torch.arange(1, N + 1, dtype=out.dtype)).sum().backward()
        return out, w.grad

    out, g = run(True, torch.float32)
    ref, g_ref = run(False, torch.float64)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(g.double(), g_ref, atol=2e-5, rtol=1e-4)
    # the embedding's contribution is really there: the head-only gradient differs
    _, g_head = run(False, torch.float64, tied=False)
    assert rel_error(g_ref - g_head, g_ref) > 1e-2


# --------------------------------------------------------------------------- #
# custom op: opcheck and torch.compile
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_opcheck(packed):
    hidden, weight, bias, labels, cu = _make(packed=packed, n=3, t=4, h=8, v=10)
    if packed:
        cu = torch.tensor([0, 3, 3, 12])
    args = (hidden, weight, bias, labels, cu, -100, True, 5)
    torch.library.opcheck(torch.ops.sympo_ext.fused_linear_logps.default, args)
    _, lse = torch.ops.sympo_ext.fused_linear_logps(*args)
    bargs = (torch.randn(3), hidden.detach(), weight.detach(), bias.detach(), labels, cu, lse, -100, True, 5,
             True, True, True)
    torch.library.opcheck(torch.ops.sympo_ext.fused_linear_logps_backward.default, bargs)


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


def test_compile_aot_eager():
    _compile_check("cpu", "aot_eager")


@pytest.mark.cuda
def test_compile_inductor_cuda():
    _compile_check("cuda", "inductor")


# --------------------------------------------------------------------------- #
# the loss module
# --------------------------------------------------------------------------- #

LOSS_CASES = [
    ("sigmoid", dict(temperature=2.0)),
    ("symmetric_ramp", dict(slope=0.3)),
    ("logistic", {}),
    ("ipo", {}),
    ("cdpo", dict(epsilon=0.1)),
    ("rdpo", dict(epsilon=0.2)),
]


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
        logps[:b_pairs], logps[b_pairs:], None if ref_c is None else ref_c.double(),
        None if ref_r is None else ref_r.double(), loss_type=loss_type, labels=pair_labels,
        weights=weights.double(), **kw,
    )
    torch.testing.assert_close(loss.double(), ref_loss, atol=1e-5, rtol=1e-5)
    got = _grads(loss, (hidden, weight, bias), None)
    want = _grads(ref_loss, leaves, None)
    for g, w in zip(got, want):
        torch.testing.assert_close(g.double(), w, atol=1e-5, rtol=1e-4)

    assert set(metrics) == {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                            "logps/chosen", "logps/rejected"}
    assert not any(m.requires_grad for m in metrics.values())
    correct = torch.where(pair_labels.cpu() == 0, margins.cpu() < 0, margins.cpu() > 0).double().mean()
    expected = {"rewards/chosen": chosen.mean(), "rewards/rejected": rejected.mean(),
                "rewards/margins": margins.mean(), "rewards/accuracies": correct,
                "logps/chosen": logps[:b_pairs].mean(), "logps/rejected": logps[b_pairs:].mean()}
    for key, value in expected.items():
        torch.testing.assert_close(metrics[key].double().cpu(), value.detach().double().cpu(), atol=1e-5, rtol=1e-5,
                                   msg=lambda m: f"{key}: {m}")


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


# --------------------------------------------------------------------------- #
# bad inputs: clear errors naming the argument
# --------------------------------------------------------------------------- #


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
        (dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0, 2, 5])), ValueError,
         "cu_seqlens must start at 0"),
        (dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0, 4, 2, 6])), ValueError,
         "non-decreasing"),
        (dict(hidden=h.reshape(6, 4), labels=lab.reshape(6), cu_seqlens=torch.tensor([0.0, 6.0])), TypeError,
         "cu_seqlens must be int64"),
        (dict(hidden=h.reshape(6, 4), labels=lab, cu_seqlens=torch.tensor([0, 6])), ValueError, "labels shape"),
        (dict(hidden=h, cu_seqlens=torch.tensor([0, 6])), ValueError, "with cu_seqlens, hidden must be packed"),
        (dict(hidden=[1.0]), TypeError, "hidden must be a tensor"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_cases())))
def test_bad_inputs(case):
    h, w, b = torch.randn(2, 3, 4), torch.randn(5, 4), torch.randn(5)
    args = dict(hidden=h, weight=w, labels=torch.randint(0, 5, (2, 3)), bias=b)
    override, exc, match = _bad_cases()[case]
    args.update(override)
    with pytest.raises(exc, match=match):
        fused_linear_sequence_logps(args.pop("hidden"), args.pop("weight"), args.pop("labels"), **args)


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


# --------------------------------------------------------------------------- #
# CUDA only: automatic chunking and peak memory
# --------------------------------------------------------------------------- #


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_cuda_matches_cpu_auto_chunk(dtype):
    hidden, weight, bias, labels, _ = _make("cpu", dtype, n=4, t=64, h=64, v=1000)
    cpu = fused_linear_sequence_logps(hidden, weight, labels, bias=bias)
    gpu = fused_linear_sequence_logps(*(x.detach().cuda() for x in (hidden, weight, labels)), bias=bias.detach().cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3 if dtype != torch.float32 else 1e-4, rtol=1e-3)


@pytest.mark.cuda
def test_cuda_peak_memory_independent_of_tokens():
    torch.cuda.empty_cache()
    v, h = 32000, 256
    weight = (torch.randn(v, h, device="cuda") * 0.05).bfloat16().requires_grad_()

    def peak(n_tokens, fused):
        hidden = torch.randn(n_tokens // 512, 512, h, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        labels = torch.randint(0, v, hidden.shape[:2], device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        if fused:
            out = fused_linear_sequence_logps(hidden, weight, labels, chunk_size=1024)
        else:
            out = reference.sequence_logps(hidden @ weight.T, labels)
        out.sum().backward()
        torch.cuda.synchronize()
        weight.grad = None
        return torch.cuda.max_memory_allocated() - base

    small, large = peak(4096, True), peak(16384, True)
    unfused = peak(16384, False)
    chunk_bytes = 1024 * v * 2
    # growth with N*T is only hidden + grad_hidden (+ labels, lse), not logits
    assert large - small < 3 * 12288 * h * 2 + 12288 * 16 + chunk_bytes
    assert large * 4 <= unfused


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
