"""fused_linear_sequence_logps (sympo_ext/fused_linear/logps_op.py) against the unfused float64 computation:
values, gradients, dtypes, tied weights, opcheck / compile, bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _helpers import LOW_PRECISION, rel_error
from conftest import DEVICES

from sympo_ext import fused_linear_sequence_logps, reference

from .helpers import H, N, T, V, _bad_cases, _compile_check, _grads, _make, _plain_in_dtype, _unfused64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("average", [False, True], ids=["sum", "avg"])
@pytest.mark.parametrize("chunk_size", [None, 1, 4, 5, 64])
def test_values_and_grads_fp32(device, packed, average, chunk_size):
    hidden, weight, bias, labels, cu = _make(device, packed=packed)
    out = fused_linear_sequence_logps(
        hidden, weight, labels, bias=bias, average=average, cu_seqlens=cu, chunk_size=chunk_size
    )
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
    fn = lambda h, w, b: fused_linear_sequence_logps(h, w, labels, bias=b, average=average, cu_seqlens=cu, chunk_size=3)
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


def _check_no_bias_then_backward(hidden, weight, labels, chunk_size):
    """The op without a bias equals the unfused float64 one; then both sums are backpropagated. Returns the
    float64 copies of (hidden, weight), whose .grad is the reference gradient."""
    out = fused_linear_sequence_logps(hidden, weight, labels, chunk_size=chunk_size)
    ref, (h64, w64, _) = _unfused64(hidden, weight, None, labels, None)
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    return h64, w64


def test_no_bias_frozen_weight_and_hidden_only():
    hidden, weight, _, labels, _ = _make(bias=False)
    weight.requires_grad_(False)
    h64, _ = _check_no_bias_then_backward(hidden, weight, labels, chunk_size=4)
    torch.testing.assert_close(hidden.grad.double(), h64.grad, atol=2e-5, rtol=1e-4)
    assert weight.grad is None


def test_weight_only_and_noncontiguous_hidden():
    base = torch.randn(H, T, N).requires_grad_()
    hidden = base.permute(2, 1, 0)  # [N, T, H], not contiguous
    weight = torch.randn(V, H, requires_grad=True)
    labels = torch.randint(0, V, (N, T))
    h64, w64 = _check_no_bias_then_backward(hidden, weight, labels, chunk_size=5)
    torch.testing.assert_close(weight.grad.double(), w64.grad, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(base.grad.permute(2, 1, 0).double(), h64.grad, atol=2e-5, rtol=1e-4)


def test_all_ignored_and_int32_labels():
    hidden, weight, bias, labels, _ = _make()
    labels = torch.full_like(labels, -100).to(torch.int32)
    out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, average=True)
    assert (out == 0).all()
    out.sum().backward()
    assert (hidden.grad == 0).all() and (weight.grad == 0).all() and (bias.grad == 0).all()


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


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_opcheck(packed):
    hidden, weight, bias, labels, cu = _make(packed=packed, n=3, t=4, h=8, v=10)
    if packed:
        cu = torch.tensor([0, 3, 3, 12])
    args = (hidden, weight, bias, labels, cu, -100, True, 5)
    torch.library.opcheck(torch.ops.sympo_ext.fused_linear_logps.default, args)
    _, lse = torch.ops.sympo_ext.fused_linear_logps(*args)
    bargs = (
        torch.randn(3),
        hidden.detach(),
        weight.detach(),
        bias.detach(),
        labels,
        cu,
        lse,
        -100,
        True,
        5,
        True,
        True,
        True,
    )
    torch.library.opcheck(torch.ops.sympo_ext.fused_linear_logps_backward.default, bargs)


def test_compile_aot_eager():
    _compile_check("cpu", "aot_eager")


@pytest.mark.cuda
def test_compile_inductor_cuda():
    _compile_check("cuda", "inductor")


@pytest.mark.parametrize("case", range(len(_bad_cases())))
def test_bad_inputs(case):
    h, w, b = torch.randn(2, 3, 4), torch.randn(5, 4), torch.randn(5)
    args = dict(hidden=h, weight=w, labels=torch.randint(0, 5, (2, 3)), bias=b)
    override, exc, match = _bad_cases()[case]
    args.update(override)
    with pytest.raises(exc, match=match):
        fused_linear_sequence_logps(args.pop("hidden"), args.pop("weight"), args.pop("labels"), **args)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_cuda_matches_cpu_auto_chunk(dtype):
    hidden, weight, bias, labels, _ = _make("cpu", dtype, n=4, t=64, h=64, v=1000)
    cpu = fused_linear_sequence_logps(hidden, weight, labels, bias=bias)
    gpu = fused_linear_sequence_logps(*(x.detach().cuda() for x in (hidden, weight, labels)), bias=bias.detach().cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-3 if dtype != torch.float32 else 1e-4, rtol=1e-3)
