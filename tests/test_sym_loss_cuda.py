"""sym_loss on CUDA: the CUDA kernel against the CPU kernel; skipped without a GPU."""

from __future__ import annotations

import pytest
import torch
from _helpers import FLOAT_DTYPES

import sympo_ext

pytestmark = pytest.mark.cuda

LOSS_TYPES = list(sympo_ext.LOSSES)
PARAMS = {"sigmoid": dict(temperature=1.3), "symmetric_ramp": dict(slope=0.7), "cdpo": dict(epsilon=0.1),
          "rdpo": dict(epsilon=0.2)}


def inputs(n, dtype, requires_grad=True):
    ts = [(torch.randn(n, dtype=torch.float64) * 8).to(dtype) for _ in range(4)]
    cpu = [t.clone().requires_grad_(requires_grad) for t in ts]
    gpu = [t.cuda().requires_grad_(requires_grad) for t in ts]
    return cpu, gpu


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cuda_matches_cpu(loss_type, dtype, reduction):
    n = 3001
    cpu, gpu = inputs(n, dtype)
    labels = torch.randint(0, 2, (n,))
    weights = torch.rand(n)
    kw = dict(loss_type=loss_type, beta=0.3, clip=2.5, reduction=reduction, **PARAMS.get(loss_type, {}))
    out_c = sympo_ext.sym_loss(*cpu, labels=labels, weights=weights, return_rewards=True, **kw)
    out_g = sympo_ext.sym_loss(*gpu, labels=labels.cuda(), weights=weights.cuda(), return_rewards=True, **kw)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype != torch.float64 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(out_g, out_c):
        torch.testing.assert_close(a.cpu(), b, **tol)
    g = torch.rand_like(out_c.loss)
    grads_c = torch.autograd.grad(out_c.loss, cpu, g)
    grads_g = torch.autograd.grad(out_g.loss, gpu, g.cuda())
    for a, b in zip(grads_g, grads_c):
        assert a.dtype == dtype and a.is_cuda
        torch.testing.assert_close(a.cpu(), b, rtol=1e-2 if dtype in (torch.bfloat16, torch.float16) else tol["rtol"],
                                   atol=tol["atol"])


@pytest.mark.parametrize("n", [1, 255, 256, 257, 10**6 + 3])
def test_cuda_reduction_sizes_and_determinism(n):
    cpu, gpu = inputs(n, torch.float32, requires_grad=False)
    a = sympo_ext.sym_loss(*gpu, reduction="sum")
    b = sympo_ext.sym_loss(*gpu, reduction="sum")
    assert torch.equal(a, b), "the CUDA reduction must be deterministic"
    want = sympo_ext.reference.sym_loss(*[t.double() for t in cpu], reduction="sum")
    torch.testing.assert_close(a.cpu().double(), want, rtol=1e-5, atol=1e-4)


def test_cuda_no_host_synchronisation():
    _, gpu = inputs(4096, torch.bfloat16)
    labels = torch.randint(0, 2, (4096,), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for reduction in ("mean", "none"):
            loss = sympo_ext.sym_loss(*gpu, labels=labels, loss_type="sigmoid", reduction=reduction, clip=3.0)
            torch.autograd.grad(loss.sum(), gpu)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_cuda_invalid_labels_and_weights_give_nan():
    _, gpu = inputs(6, torch.float32, requires_grad=False)
    labels = torch.tensor([0, 1, 2, 1, 0, 1], device="cuda")
    weights = torch.tensor([1.0, 1.0, 1.0, -1.0, 1.0, 1.0], device="cuda")
    losses = sympo_ext.sym_loss(*gpu, labels=labels, weights=weights, reduction="none")
    assert torch.isnan(losses[2]) and torch.isnan(losses[3])
    assert torch.isfinite(losses[[0, 1, 4, 5]]).all()


def test_cuda_zero_pairs_and_device_mismatch():
    _, gpu = inputs(0, torch.float32)
    assert torch.isnan(sympo_ext.sym_loss(*gpu))
    assert sympo_ext.sym_loss(*gpu, reduction="sum").item() == 0.0
    _, gpu = inputs(5, torch.float32)
    with pytest.raises(RuntimeError, match="all tensors must be on one device"):
        sympo_ext.sym_loss(gpu[0], gpu[1].cpu())


def test_cuda_compile_and_opcheck():
    _, gpu = inputs(33, torch.float32)
    torch.library.opcheck(
        torch.ops.sympo_ext.sym_loss_forward.default,
        (*gpu, torch.randint(0, 2, (33,), device="cuda"), None, "cdpo", 0.1, None, 1.0, 0.5, 0.1, "mean"),
    )
    fn = torch.compile(lambda *t: sympo_ext.sym_loss(*t, loss_type="unhinged"), fullgraph=True)
    torch.testing.assert_close(fn(*gpu), sympo_ext.sym_loss(*gpu, loss_type="unhinged"))
