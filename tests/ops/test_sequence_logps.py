"""sympo_ext.sequence_logps (sympo_ext/ops.py) against the float64 oracle: padded and packed forms,
gradients, low precision, hard inputs and edge shapes, layouts, in-place backward, bad inputs."""

from __future__ import annotations

import pytest
import torch
from _helpers import GRAD_TOLERANCES, LOW_PRECISION, TOLERANCES, randn, rel_error
from conftest import DEVICES

import sympo_ext
from sympo_ext import reference
from sympo_ext.ops import token_logps_and_lse, token_logps_backward_

from .logps_helpers import (
    DTYPES,
    IGNORE,
    assert_close,
    fused_logps_and_grad,
    make_labels,
    plain_pytorch,
    ref_logps_and_grad,
)

pytestmark = pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="compiled kernels not built")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("vocab", [37, 1000])
def test_padded_matches_reference(device, dtype, average, vocab):
    n, t = 3, 9
    logits = randn(n, t, vocab, dtype=dtype, device=device, scale=3.0)
    labels = make_labels((n, t), vocab, device)
    labels[1] = IGNORE  # an all-ignored sequence
    g = randn(n, device=device)
    out, grad = fused_logps_and_grad(logits, labels, g, average=average)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g, average=average)
    assert out.shape == (n,) and out.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert grad.dtype == dtype and grad.shape == logits.shape
    assert out[1].item() == 0.0 and (grad[1] == 0).all()
    assert_close(out, ref, TOLERANCES[dtype])
    assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("cu_dtype", [torch.int64, torch.int32])
def test_packed_matches_reference(device, dtype, average, cu_dtype):
    lengths = [4, 0, 7, 1, 5]
    total, vocab = sum(lengths), 53
    cu = torch.tensor([0] + torch.tensor(lengths).cumsum(0).tolist(), dtype=cu_dtype)
    logits = randn(total, vocab, dtype=dtype, device=device, scale=2.0)
    labels = make_labels((total,), vocab, device, dtype=torch.int32 if cu_dtype == torch.int32 else torch.int64)
    g = randn(len(lengths), device=device)
    out, grad = fused_logps_and_grad(logits, labels, g, average=average, cu_seqlens=cu)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g, average=average, cu_seqlens=cu)
    assert out.shape == (len(lengths),) and out[1].item() == 0.0
    assert_close(out, ref, TOLERANCES[dtype])
    assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])
    # The same sequences, padded, give the same numbers.
    if dtype == torch.float32:
        t = max(lengths)
        padded = torch.zeros(len(lengths), t, vocab, dtype=dtype, device=device)
        plabels = torch.full((len(lengths), t), IGNORE, dtype=torch.int64, device=device)
        for i, (b, e) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
            padded[i, : e - b] = logits[b:e]
            plabels[i, : e - b] = labels[b:e]
        torch.testing.assert_close(sympo_ext.sequence_logps(padded, plabels, average=average), out)


@pytest.mark.parametrize("device", DEVICES)
def test_packed_with_device_cu_seqlens(device):
    lengths = [3, 5, 2]
    cu = torch.tensor([0, 3, 8, 10], device=device)
    logits = randn(10, 17, dtype=torch.float32, device=device)
    labels = make_labels((10,), 17, device)
    torch.testing.assert_close(
        sympo_ext.sequence_logps(logits, labels, cu_seqlens=cu),
        reference.sequence_logps(logits.double(), labels, cu_seqlens=cu).float(),
    )
    assert len(lengths) == 3


def test_gradcheck_float64():
    torch.manual_seed(1)
    logits = randn(2, 3, 6, requires_grad=True)
    labels = make_labels((2, 3), 6)
    for average in (False, True):
        assert torch.autograd.gradcheck(
            lambda x: sympo_ext.sequence_logps(x, labels, average=average), (logits,), eps=1e-6, atol=1e-7
        )
    packed = randn(7, 5, requires_grad=True)
    plabels = make_labels((7,), 5)
    cu = torch.tensor([0, 2, 2, 7])
    for average in (False, True):
        assert torch.autograd.gradcheck(
            lambda x: sympo_ext.sequence_logps(x, plabels, cu_seqlens=cu, average=average),
            (packed,),
            eps=1e-6,
            atol=1e-7,
        )
    # The differentiable row op, through both outputs.
    rows = randn(5, 4, requires_grad=True)
    rlabels = make_labels((5,), 4)
    assert torch.autograd.gradcheck(lambda x: token_logps_and_lse(x, rlabels), (rows,), eps=1e-6, atol=1e-7)


@pytest.mark.cuda
def test_gradcheck_float64_cuda():
    logits = randn(2, 3, 6, device="cuda", requires_grad=True)
    labels = make_labels((2, 3), 6, "cuda")
    assert torch.autograd.gradcheck(
        lambda x: sympo_ext.sequence_logps(x, labels, average=True), (logits,), eps=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_low_precision_error_rule(device, dtype):
    n, t, vocab = 4, 16, 3001
    logits = randn(n, t, vocab, dtype=dtype, device=device, scale=4.0)
    labels = make_labels((n, t), vocab, device)
    g = randn(n, device=device)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g)
    out, grad = fused_logps_and_grad(logits, labels, g)
    plain, plain_grad = plain_pytorch(logits, labels, g)
    assert rel_error(out, ref) <= 2 * rel_error(plain, ref) + 1e-7
    assert rel_error(grad, ref_grad) <= 2 * rel_error(plain_grad, ref_grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_large_magnitudes(device, dtype):
    logits = randn(2, 5, 300, dtype=dtype, device=device, scale=1e4)
    labels = make_labels((2, 5), 300, device)
    g = randn(2, device=device)
    out, grad = fused_logps_and_grad(logits, labels, g)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g)
    assert torch.isfinite(out).all() and torch.isfinite(grad.float()).all()
    torch.testing.assert_close(out.double().cpu(), ref.cpu(), rtol=1e-6, atol=1e-2)
    assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64])
def test_masked_vocabulary_and_minus_inf_target(device, dtype):
    n, t, vocab = 2, 6, 40
    logits = randn(n, t, vocab, dtype=dtype, device=device)
    labels = make_labels((n, t), vocab, device, ignore_frac=0.0)
    masked = torch.rand(n, t, vocab, device=device) < 0.5
    masked.scatter_(-1, labels.unsqueeze(-1), False)  # never the targets
    logits = logits.masked_fill(masked, float("-inf"))
    g = randn(n, device=device)
    out, grad = fused_logps_and_grad(logits, labels, g)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g)
    assert torch.isfinite(out).all()
    assert_close(out, ref, TOLERANCES[dtype])
    assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])
    assert (grad[masked] == 0).all()
    # A -inf target gives -inf (not NaN); the other sequence is unaffected.
    logits2 = logits.clone()
    logits2[0, 2, labels[0, 2]] = float("-inf")
    out2 = sympo_ext.sequence_logps(logits2, labels)
    assert out2[0].item() == float("-inf")
    torch.testing.assert_close(out2[1], out[1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("vocab", [1, 2, 3, 7, 9, 17, 4099])
def test_small_and_odd_vocab(device, vocab):
    logits = randn(3, 5, vocab, dtype=torch.bfloat16, device=device)
    labels = make_labels((3, 5), vocab, device)
    g = randn(3, device=device)
    out, grad = fused_logps_and_grad(logits, labels, g)
    ref, ref_grad = ref_logps_and_grad(logits, labels, g)
    assert_close(out, ref, TOLERANCES[torch.bfloat16])
    assert_close(grad, ref_grad, GRAD_TOLERANCES[torch.bfloat16])
    if vocab == 1:
        assert (out == 0).all() and (grad == 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_empty_shapes(device):
    for shape in [(0, 4, 11), (3, 0, 11)]:
        logits = randn(*shape, device=device, dtype=torch.float32, requires_grad=True)
        labels = torch.zeros(shape[:2], dtype=torch.int64, device=device)
        out = sympo_ext.sequence_logps(logits, labels, average=True)
        assert out.shape == (shape[0],) and (out == 0).all()
        out.sum().backward()
        assert logits.grad.shape == logits.shape


@pytest.mark.parametrize("device", DEVICES)
def test_ignore_index_value_and_all_ignored(device):
    logits = randn(3, 4, 10, device=device, dtype=torch.float32)
    labels = make_labels((3, 4), 10, device, ignore_index=-1)
    labels[2] = -1
    for average in (False, True):
        out = sympo_ext.sequence_logps(logits, labels, ignore_index=-1, average=average)
        ref = reference.sequence_logps(logits.double(), labels, ignore_index=-1, average=average)
        assert_close(out, ref, TOLERANCES[torch.float32])
        assert out[2].item() == 0.0
    # With the default ignore_index, -1 is an invalid label: a clear error on the CPU.
    if device == "cpu":
        with pytest.raises(RuntimeError, match=r"labels must be token ids in \[0, V\)"):
            sympo_ext.sequence_logps(logits, labels)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_contiguous_logits(device, dtype):
    n, t, vocab = 3, 8, 29
    full = randn(n, t + 1, vocab + 3, dtype=dtype, device=device)
    labels = make_labels((n, t), vocab, device)
    g = randn(n, device=device)
    views = {
        "shifted": full[:, :-1, :vocab],  # strided rows, read in place
        "time-major": full[:, :-1, :vocab].transpose(0, 1).contiguous().transpose(0, 1),
        "last-dim-strided": full.transpose(1, 2).contiguous().transpose(1, 2)[:, :-1, :vocab],
    }
    assert views["last-dim-strided"].stride(-1) != 1
    for _name, view in views.items():
        assert not view.is_contiguous()
        out, grad = fused_logps_and_grad(view, labels, g)
        ref, ref_grad = ref_logps_and_grad(view, labels, g)
        assert_close(out, ref, TOLERANCES[dtype])
        assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])
    # Packed rows with a row stride larger than V.
    rows = full.reshape(-1, vocab + 3)[:, 1 : vocab + 1]
    plabels = make_labels((rows.shape[0],), vocab, device)
    cu = torch.tensor([0, 5, rows.shape[0]])
    out, grad = fused_logps_and_grad(rows, plabels, g[:2], cu_seqlens=cu)
    ref, ref_grad = ref_logps_and_grad(rows, plabels, g[:2], cu_seqlens=cu)
    assert_close(out, ref, TOLERANCES[dtype])
    assert_close(grad, ref_grad, GRAD_TOLERANCES[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("packed", [False, True])
def test_inplace_backward(device, dtype, packed):
    n, t, vocab = 2, 5, 31
    weight = randn(vocab, 8, dtype=dtype, device=device, requires_grad=True)
    hidden = randn(n, t, 8, dtype=dtype, device=device)
    labels = make_labels((n, t), vocab, device)
    cu = torch.tensor([0, 3, n * t]) if packed else None
    g = randn(2, device=device)

    def run(inplace):
        weight.grad = None
        logits = hidden @ weight.t()
        if packed:
            logits = logits.reshape(n * t, vocab)
        seen = {}
        logits.register_hook(lambda gr: seen.update(ptr=gr.data_ptr(), grad=gr.detach().clone()))
        ptr = logits.data_ptr()
        out = sympo_ext.sequence_logps(
            logits, labels.reshape(-1) if packed else labels, cu_seqlens=cu, inplace_backward=inplace
        )
        (out * g.to(out.dtype)).sum().backward()
        return out, seen, ptr, weight.grad.clone()

    out_a, seen_a, ptr_a, wgrad_a = run(False)
    out_b, seen_b, ptr_b, wgrad_b = run(True)
    assert seen_a["ptr"] != ptr_a  # a fresh gradient buffer
    assert seen_b["ptr"] == ptr_b  # written into the logits' storage
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    torch.testing.assert_close(seen_a["grad"], seen_b["grad"], rtol=0, atol=0)
    torch.testing.assert_close(wgrad_a, wgrad_b, rtol=0, atol=0)


def test_inplace_backward_refuses_leaf():
    logits = randn(2, 3, 5, requires_grad=True)
    with pytest.raises(ValueError, match="inplace_backward"):
        sympo_ext.sequence_logps(logits, make_labels((2, 3), 5), inplace_backward=True)


def test_bad_inputs():
    logits = randn(2, 3, 7, dtype=torch.float32)
    labels = make_labels((2, 3), 7)
    seq = sympo_ext.sequence_logps
    with pytest.raises(RuntimeError, match=r"labels must have shape \[2, 3\]"):
        seq(logits, labels[:, :2])
    with pytest.raises(RuntimeError, match="labels must be int64 or int32"):
        seq(logits, labels.float())
    with pytest.raises(RuntimeError, match="logits must be float32, bfloat16, float16 or float64"):
        seq(logits.to(torch.int32), labels)
    with pytest.raises(RuntimeError, match=r"logits must be \[N, T, V\] \(padded\) or \[L, V\] \(packed\)"):
        seq(logits[0, 0], labels[0, 0])
    bad = labels.clone()
    bad[1, 2] = 7
    with pytest.raises(RuntimeError, match=r"labels must be token ids in \[0, V\) = \[0, 7\).*found 7"):
        seq(logits, bad)
    bad[1, 2] = -5
    with pytest.raises(RuntimeError, match="found -5"):
        seq(logits, bad)
    with pytest.raises(RuntimeError, match="cu_seqlens is only for the packed form"):
        seq(logits, labels, cu_seqlens=torch.tensor([0, 6]))
    with pytest.raises(RuntimeError, match="need cu_seqlens"):
        seq(logits.reshape(6, 7), labels.reshape(6))
    flat, flat_labels = logits.reshape(6, 7), labels.reshape(6)
    for cu, msg in [
        ([0, 4, 3, 6], "cu_seqlens must be non-decreasing"),
        ([1, 3, 6], "cu_seqlens must start at 0"),
        ([0, 3, 5], r"cu_seqlens must end at the number of packed tokens L = 6"),
        ([0, 3, 7], r"cu_seqlens must end at the number of packed tokens L = 6"),
    ]:
        with pytest.raises(RuntimeError, match=msg):
            seq(flat, flat_labels, cu_seqlens=torch.tensor(cu))
    with pytest.raises(RuntimeError, match="cu_seqlens must be int64 or int32"):
        seq(flat, flat_labels, cu_seqlens=torch.tensor([0.0, 6.0]))
    with pytest.raises(RuntimeError, match=r"cu_seqlens must be 1-D"):
        seq(flat, flat_labels, cu_seqlens=torch.tensor([[0, 6]]))
    with pytest.raises(RuntimeError, match=r"labels must have shape \[6\]"):
        seq(flat, flat_labels[:5], cu_seqlens=torch.tensor([0, 6]))
    with pytest.raises(TypeError, match="labels must be a tensor"):
        seq(logits, [1, 2, 3])
    with pytest.raises(RuntimeError, match="vocabulary dimension V >= 1"):
        seq(logits[..., :0], labels)
    # Row op: lse / row_grad shapes.
    rows, rlabels = logits.reshape(6, 7), labels.reshape(6)
    _, lse = token_logps_and_lse(rows, rlabels)
    with pytest.raises(RuntimeError, match=r"row_grad must have shape \[6\]"):
        token_logps_backward_(rows, rlabels, lse, torch.ones(5))
    with pytest.raises(RuntimeError, match=r"lse must have shape \[6\]"):
        token_logps_backward_(rows, rlabels, lse[:3], torch.ones(6))
