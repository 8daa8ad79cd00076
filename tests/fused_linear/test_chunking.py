"""The chunking of the fused linear path (sympo_ext/fused_linear/chunking.py): chunk sizes, vocabulary slices,
skipped rows, the automatic chunk size and (CUDA) peak memory."""

from __future__ import annotations

import pytest
import torch
from _helpers import rel_error

import sympo_ext
from sympo_ext import fused_linear as fl
from sympo_ext import fused_linear_sequence_logps, reference
from sympo_ext.fused_linear.logps_op import SLICE_PAD

from .helpers import V, _grads, _make, _unfused64


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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_logits_workspace_shared_and_stale_contents_harmless(monkeypatch, dtype):
    # CPU: every chunk / slice of the log-prob op and every pair group of the loss-fused path is carved
    # from one logits buffer kept between calls; NaN left in it by an earlier call reaches nothing.
    from sympo_ext.fused_linear import chunking

    chunking.release_workspace()
    seen = set()
    fwd, bwd = sympo_ext.ops.token_logps_and_lse, sympo_ext.ops.token_logps_backward_

    def spy_fwd(logits, *args):
        seen.add(logits.untyped_storage().data_ptr())
        return fwd(logits, *args)

    def spy_bwd(logits, *args):
        seen.add(logits.untyped_storage().data_ptr())
        return bwd(logits, *args)

    monkeypatch.setattr(sympo_ext.ops, "token_logps_and_lse", spy_fwd)
    monkeypatch.setattr(sympo_ext.ops, "token_logps_backward_", spy_bwd)
    hidden, weight, bias, labels, _ = _make(dtype=dtype, n=4)
    kept = chunking.workspace(64 * (V + SLICE_PAD), dtype, torch.device("cpu"))
    tol = dict(atol=2e-5, rtol=1e-4) if dtype == torch.float32 else dict(atol=2e-2, rtol=2e-2)
    for chunk_size in (3, 64):
        kept.fill_(float("nan"))
        logps, leaves = _unfused64(hidden, weight, bias, labels, None)
        out = fused_linear_sequence_logps(hidden, weight, labels, bias=bias, chunk_size=chunk_size)
        grad_out = torch.randn_like(logps)
        for g, w in zip(_grads(out, (hidden, weight, bias), grad_out.to(out.dtype)), _grads(logps, leaves, grad_out)):
            torch.testing.assert_close(g.double(), w, **tol)
        kept.fill_(float("nan"))
        logps, leaves = _unfused64(hidden, weight, bias, labels, None)
        loss = sympo_ext.FusedLinearSymPOLoss("logistic", beta=0.5, chunk_size=chunk_size)(
            hidden, weight, labels, bias=bias
        ).loss
        want = -torch.nn.functional.logsigmoid(0.5 * (logps[:2] - logps[2:])).mean()
        for g, w in zip(_grads(loss, (hidden, weight, bias), None), _grads(want, leaves, None)):
            torch.testing.assert_close(g.double(), w, **tol)
    assert seen == {kept.data_ptr()}
    chunking.release_workspace()
    assert chunking.workspace(8, dtype, torch.device("cpu")).data_ptr() != kept.data_ptr()
