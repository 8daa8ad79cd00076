"""The log-prob kernels behind sequence_logps: the row kernels of the fused-linear path, the CPU
instruction sets, the registration (opcheck, torch.compile) and the CUDA-only cases."""

from __future__ import annotations

import pytest
import torch
from _helpers import GRAD_TOLERANCES, TOLERANCES, randn
from conftest import DEVICES

import sympo_ext
from sympo_ext import reference
from sympo_ext.ops import token_logps_and_lse, token_logps_backward_

from .logps_helpers import DTYPES, IGNORE, assert_close, fused_logps_and_grad, make_labels, ops, ref_logps_and_grad

pytestmark = pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="compiled kernels not built")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_kernels(device, dtype):
    rows, vocab = 11, 203
    full = randn(rows, vocab + 5, dtype=dtype, device=device, scale=2.0)
    logits = full[:, 2 : vocab + 2]  # strided rows, unaligned start
    labels = make_labels((rows,), vocab, device)
    logps, lse = token_logps_and_lse(logits, labels)
    ref_logps, ref_lse = reference.token_logps_and_lse(logits.double(), labels)
    assert logps.dtype == lse.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert_close(logps, ref_logps, TOLERANCES[dtype])
    assert_close(lse, ref_lse, TOLERANCES[dtype])
    row_grad = randn(rows, device=device).to(lse.dtype)
    expected = reference.token_logps_grad(logits.double(), labels, ref_lse, row_grad.double())
    before = full.clone()
    result = token_logps_backward_(logits, labels, lse, row_grad)
    assert result.data_ptr() == logits.data_ptr()
    assert_close(logits, expected, GRAD_TOLERANCES[dtype])
    # Only the view was written.
    assert torch.equal(full[:, :2], before[:, :2]) and torch.equal(full[:, vocab + 2 :], before[:, vocab + 2 :])
    # A view whose vocabulary dimension is not contiguous is written back too.
    t = randn(vocab, rows, dtype=dtype, device=device).t()
    expected = reference.token_logps_grad(
        t.double(), labels, reference.token_logps_and_lse(t.double(), labels)[1], row_grad.double()
    )
    _, lse_t = token_logps_and_lse(t, labels)
    token_logps_backward_(t, labels, lse_t, row_grad)
    assert_close(t, expected, GRAD_TOLERANCES[dtype])


def test_cpu_instruction_sets_agree(monkeypatch):
    """The DEFAULT / AVX2 builds of the CPU kernel (picked with ATEN_CPU_CAPABILITY, read at
    every call) agree with the one this machine picks by itself."""
    x = randn(3, 5, 1037, dtype=torch.bfloat16, scale=3.0)
    y = make_labels((3, 5), 1037)
    g = randn(3)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    best = fused_logps_and_grad(x, y, g)
    for cap in ("default", "avx2"):
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", cap)
        out, grad = fused_logps_and_grad(x, y, g)
        torch.testing.assert_close(out, best[0], rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(grad, best[1], **GRAD_TOLERANCES[torch.bfloat16])


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    padded = randn(2, 4, 13, dtype=torch.float32, device=device, requires_grad=True)
    labels = make_labels((2, 4), 13, device)
    packed = randn(6, 13, dtype=torch.bfloat16, device=device, requires_grad=True)
    plabels = make_labels((6,), 13, device)
    cu = torch.tensor([0, 2, 6], device=device)
    samples = [
        (ops.sequence_logps_forward, (padded, labels, None, IGNORE, False, False)),
        (ops.sequence_logps_forward, (padded, labels, None, IGNORE, True, False)),
        (ops.sequence_logps_forward, (packed, plabels, cu, IGNORE, False, False)),
        (ops.token_logps_forward, (packed, plabels, IGNORE)),
    ]
    for op, args in samples:
        torch.library.opcheck(op, args)
    _, lse, counts = ops.sequence_logps_forward(padded.detach(), labels, None, IGNORE, True)
    grad = randn(2, device=device, dtype=torch.float32)
    torch.library.opcheck(ops.sequence_logps_backward, (grad, padded.detach(), labels, lse, counts, None, IGNORE, True))
    rows = randn(6, 13, device=device, dtype=torch.float32)
    _, row_lse = ops.token_logps_forward(rows, plabels, IGNORE)
    torch.library.opcheck(
        ops.token_logps_backward_, (rows, plabels, row_lse, randn(6, device=device, dtype=torch.float32), IGNORE)
    )
    torch.library.opcheck(
        ops.sequence_logps_backward_, (grad, padded.detach().clone(), labels, lse, counts, None, IGNORE, True)
    )


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
@pytest.mark.parametrize("inplace", [False, True])
def test_torch_compile_fullgraph(backend, inplace):
    torch._dynamo.reset()

    def loss_fn(hidden, weight, labels, cu):
        logits = hidden @ weight.t()  # not a leaf: in-place backward allowed
        padded = sympo_ext.sequence_logps(logits, labels, average=True)
        packed = sympo_ext.sequence_logps(
            (hidden @ weight.t()).reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            cu_seqlens=cu,
            inplace_backward=inplace,
        )
        return (padded * padded).sum() + packed.sum()

    compiled = torch.compile(loss_fn, fullgraph=True, backend=backend)
    hidden = randn(2, 5, 6, dtype=torch.float32)
    weight = randn(17, 6, dtype=torch.float32)
    labels = make_labels((2, 5), 17)
    cu = torch.tensor([0, 4, 10])
    w1 = weight.clone().requires_grad_(True)
    w2 = weight.clone().requires_grad_(True)
    eager = loss_fn(hidden, w1, labels, cu)
    eager.backward()
    out = compiled(hidden, w2, labels, cu)
    out.backward()
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(w2.grad, w1.grad)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("vocab", [32000, 32003, 128256 + 5])
def test_cuda_matches_cpu_large_vocab(dtype, vocab):
    n, t = 2, 6
    full = randn(n, t + 1, vocab + 1, dtype=dtype, scale=3.0)
    logits = full[:, 1:, 1:]  # unaligned base pointer and row stride
    labels = make_labels((n, t), vocab)
    g = randn(n)
    cpu_out, cpu_grad = fused_logps_and_grad(logits, labels, g)
    cuda_logits = full.cuda()[:, 1:, 1:]  # (.cuda() of the view would be contiguous)
    assert cuda_logits.stride() == logits.stride()
    cuda_out, cuda_grad = fused_logps_and_grad(cuda_logits, labels.cuda(), g.cuda())
    ref, ref_grad = ref_logps_and_grad(logits, labels, g)
    assert_close(cuda_out, ref, dict(atol=1e-4, rtol=1e-5))
    assert_close(cuda_out, cpu_out, dict(atol=1e-4, rtol=1e-5))
    assert_close(cuda_grad, ref_grad, GRAD_TOLERANCES[dtype])
    # In place on CUDA, with the aligned layout.
    x = logits.contiguous().cuda() * 1.0
    x.requires_grad_(False)
    y = x.clone().requires_grad_(True)
    z = y * 1.0
    out = sympo_ext.sequence_logps(z, labels.cuda(), inplace_backward=True)
    (out * g.cuda().float()).sum().backward()
    assert_close(y.grad, ref_grad, GRAD_TOLERANCES[dtype])


@pytest.mark.cuda
def test_cuda_invalid_labels_and_cu_seqlens_give_nan():
    logits = randn(2, 4, 11, dtype=torch.float32, device="cuda", requires_grad=True)
    labels = make_labels((2, 4), 11, "cuda", ignore_frac=0.0)
    labels[1, 2] = 11  # out of range, not ignore_index: NaN for sequence 1, no device assert
    out = sympo_ext.sequence_logps(logits, labels)
    assert torch.isfinite(out[0]) and torch.isnan(out[1])
    out.sum().backward()
    assert torch.isfinite(logits.grad[0]).all() and torch.isnan(logits.grad[1, 2]).all()
    # Unchecked device cu_seqlens: an out-of-range sequence is NaN, the others are fine.
    flat = logits.detach().reshape(8, 11)
    flat_labels = make_labels((8,), 11, "cuda")
    cu = torch.tensor([0, 3, 9], device="cuda")
    out = sympo_ext.sequence_logps(flat, flat_labels, cu_seqlens=cu)
    assert torch.isfinite(out[0]) and torch.isnan(out[1])
    torch.cuda.synchronize()


@pytest.mark.cuda
def test_cuda_int64_offsets():
    """N * T * V beyond 2**31 elements (bf16: ~4.3 GB of logits)."""
    vocab, rows = 65537, 32770  # rows * vocab > 2**31
    if torch.cuda.get_device_properties(0).total_memory < 24 * 2**30:
        pytest.skip("needs a GPU with >= 24 GiB")
    logits = torch.empty(rows, vocab, dtype=torch.bfloat16, device="cuda").normal_(0, 2)
    labels = torch.randint(0, vocab, (rows,), device="cuda")
    cu = torch.tensor([0, rows - 3, rows])
    logits.requires_grad_(True)
    x = logits * 1.0
    out = sympo_ext.sequence_logps(x, labels, cu_seqlens=cu, inplace_backward=True)
    out.sum().backward()
    tail = logits.detach()[-3:].double()
    ref = reference.sequence_logps(tail, labels[-3:], cu_seqlens=torch.tensor([0, 3]))
    torch.testing.assert_close(out[1:].double(), ref, rtol=1e-5, atol=1e-3)
    ref_grad = reference.token_logps_grad(
        tail, labels[-3:], torch.logsumexp(tail, -1), torch.ones(3, device="cuda", dtype=torch.float64)
    )
    torch.testing.assert_close(logits.grad[-3:].double(), ref_grad, **GRAD_TOLERANCES[torch.bfloat16])
