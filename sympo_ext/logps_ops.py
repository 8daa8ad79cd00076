"""Python glue for the log-prob ops: ``sequence_logps`` and the row kernels (``token_logps_and_lse``,
``token_logps_backward_``) the fused-linear path is built on -- fake kernels, autograd, public wrappers
(the schemas are in ``csrc/ops.cpp``; ``sym_loss`` is :mod:`sympo_ext.ops`)."""

from __future__ import annotations

import torch

from . import oracle
from ._loading import AVAILABLE, use_kernels
from .autodiff import under_func_autodiff
from .dtypes import math_dtype
from .tensor_checks import check_same_device

__all__ = ["sequence_logps", "token_logps_and_lse", "token_logps_backward_"]


# --------------------------------------------------------------------------- #
# sequence_logps and the row kernels: fake kernels, autograd, public wrappers
# --------------------------------------------------------------------------- #


def _seq_geometry(logits: torch.Tensor, cu_seqlens: torch.Tensor | None) -> tuple[int, int]:
    """(number of sequences N, number of rows R) of the padded or packed form."""
    if logits.dim() == 3:
        return logits.shape[0], logits.shape[0] * logits.shape[1]
    if cu_seqlens is None:
        raise ValueError("sequence_logps: 2-D logits [L, V] are the packed form and need cu_seqlens")
    return cu_seqlens.shape[0] - 1, logits.shape[0]


if AVAILABLE:

    @torch.library.register_fake("sympo_ext::token_logps_forward")
    def _token_logps_forward_fake(logits, labels, ignore_index):
        rows, dtype = logits.shape[0], math_dtype(logits)
        return logits.new_empty((rows,), dtype=dtype), logits.new_empty((rows,), dtype=dtype)

    @torch.library.register_fake("sympo_ext::token_logps_backward_")
    def _token_logps_backward_fake(logits, labels, lse, row_grad, ignore_index):
        return None

    @torch.library.register_fake("sympo_ext::sequence_logps_forward")
    def _sequence_logps_forward_fake(logits, labels, cu_seqlens, ignore_index, average, inplace_backward=False):
        check_same_device(
            "sequence_logps",
            (logits, labels, cu_seqlens),
            ("logits", "labels", "cu_seqlens"),
            allow_cpu=("cu_seqlens",),
        )
        n, rows = _seq_geometry(logits, cu_seqlens)
        dtype = math_dtype(logits)
        return (
            logits.new_empty((n,), dtype=dtype),
            logits.new_empty((rows,), dtype=dtype),
            logits.new_empty((n,), dtype=dtype),
        )

    @torch.library.register_fake("sympo_ext::sequence_logps_backward")
    def _sequence_logps_backward_fake(grad, logits, labels, lse, counts, cu_seqlens, ignore_index, average):
        return logits.new_empty(logits.shape)  # contiguous, like the kernels' output

    @torch.library.register_fake("sympo_ext::sequence_logps_backward_")
    def _sequence_logps_backward_inplace_fake(grad, logits, labels, lse, counts, cu_seqlens, ignore_index, average):
        return None

    # -- autograd of the sequence op: backward from the saved lse ------------- #

    def _sequence_logps_setup_context(ctx, inputs, output):
        logits, labels, cu_seqlens, ignore_index, average, inplace_backward = (*inputs, False)[:6]
        _, lse, counts = output
        ctx.save_for_backward(logits, labels, cu_seqlens, lse, counts)
        ctx.ignore_index, ctx.average, ctx.inplace_backward = ignore_index, average, inplace_backward
        ctx.mark_non_differentiable(lse, counts)

    def _sequence_logps_backward(ctx, grad_logps, _grad_lse, _grad_counts):
        if not ctx.needs_input_grad[0] or grad_logps is None:
            return (None,) * 6
        logits, labels, cu_seqlens, lse, counts = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable gradient, from the reference
            # (the kernels give first derivatives only; nothing is written in place here).
            ref = oracle.sequence_logps(
                logits, labels, ignore_index=ctx.ignore_index, average=ctx.average, cu_seqlens=cu_seqlens
            )
            (grad_logits,) = torch.autograd.grad(ref, logits, grad_logps, create_graph=True)
            return grad_logits, None, None, None, None, None
        args = (labels, lse, counts, cu_seqlens, ctx.ignore_index, ctx.average)
        if ctx.inplace_backward:
            torch.ops.sympo_ext.sequence_logps_backward_(grad_logps, logits, *args)
            grad_logits = logits
        else:
            grad_logits = torch.ops.sympo_ext.sequence_logps_backward(grad_logps, logits, *args)
        return grad_logits, None, None, None, None, None

    torch.library.register_autograd(
        "sympo_ext::sequence_logps_forward", _sequence_logps_backward, setup_context=_sequence_logps_setup_context
    )

    # -- autograd of the row op (the fused-linear path calls the kernels directly) -- #

    def _token_logps_setup_context(ctx, inputs, output):
        logits, labels, ignore_index = inputs
        ctx.save_for_backward(logits, labels, output[1])
        ctx.ignore_index = ignore_index

    def _token_logps_backward(ctx, grad_token_logps, grad_lse):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        logits, labels, lse = ctx.saved_tensors
        if grad_token_logps is None:
            grad_token_logps = lse.new_zeros(lse.shape)
        grad = logits.detach().clone(memory_format=torch.contiguous_format)
        torch.ops.sympo_ext.token_logps_backward_(grad, labels, lse, grad_token_logps, ctx.ignore_index)
        if grad_lse is not None:  # d lse / d logits = softmax
            x = logits.detach().to(lse.dtype)
            grad = (grad.to(lse.dtype) + grad_lse.unsqueeze(-1) * torch.exp(x - lse.unsqueeze(-1))).to(logits.dtype)
        return grad, None, None

    torch.library.register_autograd(
        "sympo_ext::token_logps_forward", _token_logps_backward, setup_context=_token_logps_setup_context
    )


def _last_dim_contiguous(logits: torch.Tensor) -> torch.Tensor:
    """The kernels need a contiguous vocabulary dimension (any other strides are fine)."""
    return logits if logits.stride(-1) == 1 or logits.shape[-1] <= 1 else logits.contiguous()


def sequence_logps(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    average: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    inplace_backward: bool = False,
) -> torch.Tensor:
    """Per-sequence sum (or mean) of log softmax(logits)[label], fused: float32 [N].

    Forms:
        * padded: ``logits`` [N, T, V], ``labels`` [N, T] (int64 or int32), already aligned:
          ``labels[n, t]`` is the token ``logits[n, t]`` predicts (for a causal LM pass
          ``logits[:, :-1]`` and ``input_ids[:, 1:]``; the shifted view is read in place,
          without a copy).
        * packed (padding-free): ``logits`` [L, V], ``labels`` [L], ``cu_seqlens`` [N + 1]
          offsets ``0 = c_0 <= c_1 <= ... <= c_N = L``; sequence n is rows ``c_n .. c_{n+1}``.
          Pass ``cu_seqlens`` on the CPU (recommended): it is checked there (start 0,
          non-decreasing, end L) and copied to the GPU without synchronising. A CUDA
          ``cu_seqlens`` is used as is (checking would synchronise): a sequence whose range
          is decreasing or outside ``[0, L]`` gets NaN.

    Positions whose label equals ``ignore_index`` do not count. ``average=True`` divides each
    sequence's sum by its number of counted positions (SimPO-style length normalisation); a
    sequence with none counted gives 0 (and gradient 0). The result is float32 (float64 for
    float64 logits); logits may be float32, bfloat16, float16 or float64, accumulated in
    float32 (float64). Logits of large magnitude and ``-inf`` entries (masked vocabulary) are
    fine; a ``-inf`` target gives ``-inf``; a row of only ``-inf``, or with NaN / ``+inf``,
    gives NaN.

    Labels outside ``[0, V)`` that are not ``ignore_index`` raise on the CPU; on CUDA
    (checking would synchronise) they make that position's log-prob, hence the sequence's
    result, NaN, and that row's gradient NaN, never a device-side assert.

    Backward: ``grad_logits = g[n] * scale[n] * (onehot(label) - softmax(logits))`` on counted
    positions, 0 elsewhere, in the logits' dtype, from the log-sum-exp saved by the forward:
    the forward reads the logits once, the backward reads them once and writes the gradient
    once. With ``inplace_backward=True`` the gradient is written INTO the logits' storage and
    no logits-sized buffer is allocated: the logits' values are destroyed by the backward, so
    they must not be used afterwards (by you or another op's backward). It needs logits that
    are not a leaf requiring grad (the gradient would alias the leaf), e.g. the output of the
    LM head. A logits tensor whose last dimension is not contiguous is copied first (then the
    copy, not your tensor, receives the in-place gradient).

    Double backward (``create_graph=True``) and ``torch.func.grad`` / ``jacrev`` / ``jvp`` use
    the pure-PyTorch reference (materialising the log-softmax), so they are exact.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"sequence_logps: logits must be a tensor, got {type(logits).__name__}")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"sequence_logps: labels must be a tensor, got {type(labels).__name__}")
    if cu_seqlens is not None and not isinstance(cu_seqlens, torch.Tensor):
        raise TypeError(f"sequence_logps: cu_seqlens must be a tensor or None, got {type(cu_seqlens).__name__}")
    # A meta tensor mixed with real ones would reach the shape-only kernel and return
    # uninitialised memory: refuse it by name. cu_seqlens may stay on the CPU.
    check_same_device(
        "sequence_logps", (logits, labels, cu_seqlens), ("logits", "labels", "cu_seqlens"), allow_cpu=("cu_seqlens",)
    )
    if inplace_backward and logits.is_leaf and logits.requires_grad:
        raise ValueError(
            "sequence_logps: inplace_backward=True needs logits computed by an op (e.g. the LM head); "
            "for a leaf tensor that requires grad the gradient would overwrite the leaf itself"
        )
    if not use_kernels(logits.device) or under_func_autodiff():
        return oracle.sequence_logps(logits, labels, ignore_index=ignore_index, average=average, cu_seqlens=cu_seqlens)
    logps, _, _ = torch.ops.sympo_ext.sequence_logps_forward(
        _last_dim_contiguous(logits), labels, cu_seqlens, int(ignore_index), bool(average), bool(inplace_backward)
    )
    return logps


def token_logps_and_lse(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100):
    """Row kernel: logits [R, V], labels [R] -> (token_logps [R], lse [R]), float32 (float64 for
    float64 logits). token_logps[r] = logits[r, labels[r]] - lse[r] (0 where labels[r] ==
    ignore_index), lse[r] = logsumexp(logits[r]). Building block of sequence_logps and of the
    fused linear path; label values are checked as in :func:`sequence_logps`. Differentiable."""
    if not use_kernels(logits.device) or under_func_autodiff():
        return oracle.token_logps_and_lse(logits, labels, ignore_index)
    return torch.ops.sympo_ext.token_logps_forward(_last_dim_contiguous(logits), labels, int(ignore_index))


def token_logps_backward_(
    logits: torch.Tensor, labels: torch.Tensor, lse: torch.Tensor, row_grad: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Row kernel backward, IN PLACE: overwrite logits [R, V] with
    row_grad[r] * (onehot(labels[r]) - exp(logits[r] - lse[r])) (0 on ignored rows) in the
    logits' dtype, and return logits. Not differentiable (call it outside autograd)."""
    if not use_kernels(logits.device):
        return logits.copy_(oracle.token_logps_grad(logits, labels, lse, row_grad, ignore_index))
    if logits.dim() == 2 and logits.stride(-1) != 1 and logits.shape[-1] > 1:
        tmp = logits.contiguous()
        torch.ops.sympo_ext.token_logps_backward_(tmp, labels, lse, row_grad, int(ignore_index))
        return logits.copy_(tmp)
    torch.ops.sympo_ext.token_logps_backward_(logits, labels, lse, row_grad, int(ignore_index))
    return logits
