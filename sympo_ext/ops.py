"""Python glue for the compiled ops: fake kernels, autograd, public wrappers.

Every op's schema is declared once in C++ (``csrc/ops.cpp``); this module
registers its fake (shape-only) kernel and its autograd formula with
``torch.library`` so the ops work under ``torch.compile`` and export, and
exposes thin, documented wrappers.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

from . import oracle
from ._loading import AVAILABLE, use_kernels
from .autodiff import sym_loss_differentiable_grads, under_func_autodiff
from .dtypes import math_dtype
from .losses import DEFAULT_BETA, LOSSES, REDUCTIONS, LossSpec, params_doc

__all__ = ["sym_loss", "SymLossOutput", "sequence_logps", "token_logps_and_lse", "token_logps_backward_"]


class SymLossOutput(NamedTuple):
    """Result of ``sym_loss(..., return_rewards=True)``; the rewards are detached."""

    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor
    margins: torch.Tensor


# --------------------------------------------------------------------------- #
# sym_loss: fake kernels and autograd
# --------------------------------------------------------------------------- #

_LOGPS_ARGS = ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
_SYM_LOSS_ARGS = (*_LOGPS_ARGS, "labels", "weights")


def _check_same_device(op: str, tensors, names, allow_cpu: tuple[str, ...] = ()) -> None:
    """Refuse tensors on different devices, naming the argument (a ``meta`` tensor
    mixed with real ones would otherwise give uninitialised memory)."""
    device = tensors[0].device
    for t, name in zip(tensors[1:], names[1:]):
        if t is None or t.device == device:
            continue
        if name in allow_cpu and t.device.type == "cpu" and device.type != "meta":
            continue
        raise RuntimeError(
            f"{op}: {name} is on {t.device} but {names[0]} is on {device}; all tensors must be on one device"
        )


if AVAILABLE:

    @torch.library.register_fake("sympo_ext::sym_loss_forward")
    def _sym_loss_forward_fake(
        pc, pr, rc, rr, labels, weights, loss_types, loss_weights, loss_params, beta, clip, reduction
    ):
        _check_same_device("sym_loss", (pc, pr, rc, rr, labels, weights), _SYM_LOSS_ARGS)
        n = pc.shape[0]
        dtype = math_dtype(pc, pr, rc, rr, weights)
        loss = pc.new_empty((n,) if reduction == "none" else (), dtype=dtype)
        rows = 3 if weights is not None else 2
        return loss, pc.new_empty((rows, n), dtype=dtype), pc.new_empty((3, n), dtype=dtype)

    @torch.library.register_fake("sympo_ext::sym_loss_backward")
    def _sym_loss_backward_fake(grad_loss, grad_coef, pc_dtype, pr_dtype, rc_dtype, rr_dtype, w_dtype):
        n = grad_coef.shape[1]
        return tuple(
            grad_coef.new_empty((n,), dtype=d) if d is not None else grad_coef.new_empty((0,))
            for d in (pc_dtype, pr_dtype, rc_dtype, rr_dtype, w_dtype)
        )

    def _sym_loss_setup_context(ctx, inputs, output):
        _, grad_coef, _ = output
        # The inputs too (pair-sized vectors, alive anyway): double backward recomputes from them.
        ctx.save_for_backward(grad_coef, *inputs[:6])
        ctx.options = inputs[6:]
        ctx.input_dtypes = tuple(t.dtype if t is not None else None for t in inputs[:6])
        ctx.mark_non_differentiable(output[1], output[2])
        # The two non-differentiable outputs would otherwise get zero-filled gradients
        # (5 floats per pair written and never read) on every backward.
        ctx.set_materialize_grads(False)

    def _sym_loss_backward(ctx, grad_loss, _grad_coef, _grad_rewards):
        if grad_loss is None:
            return (None,) * 12
        grad_coef, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that must itself be differentiable
            return (
                *sym_loss_differentiable_grads(ctx.options, grad_loss, inputs, ctx.needs_input_grad[:6]),
                *([None] * 6),
            )
        wanted = [d if need else None for d, need in zip(ctx.input_dtypes, ctx.needs_input_grad[:6])]
        wanted[4] = None  # labels: never differentiable
        pc, pr, rc, rr, w = torch.ops.sympo_ext.sym_loss_backward(grad_loss, grad_coef, *wanted[:4], wanted[5])
        grads = [g if d is not None else None for g, d in zip((pc, pr, rc, rr, None, w), wanted)]
        return (*grads, *([None] * 6))

    torch.library.register_autograd(
        "sympo_ext::sym_loss_forward", _sym_loss_backward, setup_context=_sym_loss_setup_context
    )


def _check_tensor(value, name: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, torch.Tensor):
        kind = "a tensor or None" if optional else "a tensor"
        raise TypeError(f"sym_loss: {name} must be {kind}, got {type(value).__name__}")


def _option_key(value):
    """A hashable key that tells apart what LossSpec.create tells apart (1, 1.0 and True
    are equal as dict keys but not as options): the type goes with every value."""
    if isinstance(value, (list, tuple)):
        return type(value), tuple(_option_key(v) for v in value)
    hash(value)  # unhashable: TypeError, the caller validates without the cache
    return type(value), value


@functools.lru_cache(maxsize=256)
def _cached_spec(key, options_items, dtype) -> LossSpec:
    return LossSpec.create(**dict(options_items)).validate(dtype)


def _checked_spec(options: dict, dtype: torch.dtype) -> LossSpec:
    """LossSpec.create(**options) validated in the math dtype, memoised per distinct options:
    a training loop calls sym_loss with the same options every step, and the checks cost
    more than the kernel at small batches. Errors are raised (never cached) as without it."""
    if not torch.compiler.is_compiling():
        try:
            key = tuple((k, _option_key(v)) for k, v in options.items())
        except TypeError:
            pass
        else:
            frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())
            return _cached_spec(key, frozen, dtype)
    return LossSpec.create(**options).validate(dtype)


def _batch_term(spec: LossSpec, name: str, weight: float, pc, pr, rc, rr, labels, dtype, reduction):
    """A batch loss (AOT): the label-oriented log-ratios are sorted across the batch
    (torch.sort, differentiable), then the fused kernel runs its ``fused_as`` loss on
    the sorted values: one sort (of both rows) + one launch per batch loss."""
    info = LOSSES[name]

    def diff(x, y):  # x - y in the math dtype, an absent (None) reference being 0
        x, y = (t.to(dtype) if t is not None else None for t in (x, y))
        if x is None:
            return None if y is None else -y
        return x if y is None else x - y

    # aot: the policy and the reference log-ratio differences; aot_unpaired: the
    # chosen and the rejected log-ratios. Written to touch each pair as few times
    # as possible: every op here is a pass over the batch, and another in backward.
    a, b = (diff(pc, pr), diff(rc, rr)) if name == "aot" else (diff(pc, rc), diff(pr, rr))
    zero_b = b is None  # reference-free aot: b = 0, sorted or not
    if zero_b:
        b = torch.zeros_like(a)
    if labels is not None:
        valid = None if labels.dtype == torch.bool else (labels == 0) | (labels == 1)
        # As the kernel's host check for the other losses: a CPU check costs no device sync
        # (CUDA, and a traced graph, keep the NaN below).
        if (
            valid is not None
            and labels.device.type == "cpu"
            and not torch.compiler.is_compiling()
            and not bool(valid.all())
        ):
            raise RuntimeError(
                "sym_loss: labels must be 0 or 1 for every pair (1: the first response is "
                "preferred, 0: the second); found other values"
            )
        nan = torch.tensor(math.nan, dtype=dtype, device=a.device)
        if name == "aot":  # label 0 swaps the responses: both differences change sign (exactly)
            sign = labels.to(dtype) * 2 - 1
            if valid is not None:  # invalid labels: NaN (no device sync), as in the kernel
                sign = torch.where(valid, sign, nan)
            a, b = a * sign, b * sign
        else:
            flip = labels == 0
            a, b = torch.where(flip, b, a), torch.where(flip, a, b)
            if valid is not None:
                a = torch.where(valid, a, nan)
    if zero_b:
        a = torch.sort(a).values
    elif torch.compiler.is_compiling():
        # Two sorts when traced: inductor (torch 2.14) miscompiled the stacked form below
        # (wrong values and heap corruption with labels), the eager op is fine with it.
        a, b = torch.sort(a).values, torch.sort(b).values
    else:  # one sort of both rows: ATen sorts the rows of a 2-D tensor in parallel
        a, b = torch.sort(torch.stack((a, b)), dim=1).values.unbind(0)
    loss, _, _ = torch.ops.sympo_ext.sym_loss_forward(
        a, b, None, None, None, None, [info.fused_as], [weight], [spec.param_value(name)], spec.beta, None, reduction
    )
    return loss


def sym_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor | None = None,
    ref_rejected_logps: torch.Tensor | None = None,
    *,
    loss_type: str | list[str] = "sigmoid",
    beta: float = DEFAULT_BETA,
    clip: float | None = None,
    labels: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    reduction: str = "mean",
    loss_weights: list[float] | None = None,
    spec: LossSpec | None = None,
    return_rewards: bool = False,
    **loss_params: float | None,
) -> torch.Tensor | SymLossOutput:
    """Fused pair-level preference loss (SymPO, DPO, robust baselines, TRL's losses).

    For each pair i, with r = beta * (log pi - log pi_ref) (0 reference when the
    reference log-probs are None), optionally clamped to [-clip, clip]::

        c_i, r_i = chosen, rejected reward (swapped when labels_i == 0)
        loss     = reduce(weights_i * sum_k loss_weights[k] * l_k(c_i, r_i))

    with each l_k from :data:`sympo_ext.LOSSES` (a margin loss is l(c - r)):
    ``loss_type`` is one name or alias, or a list (TRL's weighted combination;
    ``loss_weights`` default to 1 each). All margin and pair losses of the call
    run in ONE kernel launch, which also computes the reduction, the derivatives
    and the rewards; backward is one elementwise kernel. A batch loss (``aot``,
    ``aot_unpaired``) adds one sort and one launch. Inputs may be
    fp32/fp64/bf16/fp16 (even mixed); the loss is fp32 (fp64 when an input is
    fp64), gradients come back in each input's dtype, for the four log-prob
    inputs and for ``weights`` if it requires grad.

    Args:
        labels: per-pair 0/1 (bool, int or float); 1 (the default) means the
            first ("chosen") response is preferred. Other values raise on CPU;
            on CUDA (where checking would synchronise) they make that pair's
            loss NaN.
        weights: per-pair weights >= 0 (same CPU/CUDA rule as labels); not
            defined for batch losses (sorting separates a pair from its weight).
        reduction: "mean" (over pairs; NaN for zero pairs, like ``torch.mean``),
            "sum" (0 for zero pairs) or "none" (per-pair losses).
        **loss_params: the losses' parameters by name (None: each loss's
            default); a value no chosen loss uses is refused. Every number is
            checked as the kernel uses it, in the math dtype. The parameters
            (from the registry) are listed below.
        spec: a :class:`sympo_ext.losses.LossSpec` instead of the loss options.
        return_rewards: also return the detached per-pair chosen/rejected
            rewards and margins computed by the same launch.

    NaN inputs give NaN losses (and gradients); +-inf inputs give the limits of
    the formulas (README.md, "## The losses"); they never crash.

    Higher order: a gradient taken with ``create_graph=True`` (e.g. for a gradient
    penalty) is the reference's, recomputed in plain PyTorch from the saved inputs,
    so its own gradient is exact; inside ``torch.func.grad`` / ``jacrev`` / ``jvp``
    (which cannot see the kernels' autograd) the reference runs instead.
    """
    for value, name in zip((policy_chosen_logps, policy_rejected_logps), _LOGPS_ARGS[:2]):
        _check_tensor(value, name)
    for value, name in (
        (ref_chosen_logps, _LOGPS_ARGS[2]),
        (ref_rejected_logps, _LOGPS_ARGS[3]),
        (labels, "labels"),
        (weights, "weights"),
    ):
        _check_tensor(value, name, optional=True)
    tensors = (policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, weights)
    _check_same_device("sym_loss", tensors, _SYM_LOSS_ARGS)
    dtype = math_dtype(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, weights)
    if spec is None:
        spec = _checked_spec(
            dict(loss_type=loss_type, beta=beta, clip=clip, loss_weights=loss_weights, **loss_params), dtype
        )
    elif not isinstance(spec, LossSpec):
        raise TypeError(f"sym_loss: spec must be a LossSpec, got {type(spec).__name__}")
    elif (loss_type, beta, clip, loss_weights) != ("sigmoid", DEFAULT_BETA, None, None) or any(
        v is not None for v in loss_params.values()
    ):
        raise TypeError("sym_loss: give either spec= or the loss options (loss_type, beta, ...), not both")
    else:
        spec.validate(dtype)
    if reduction not in REDUCTIONS:
        raise ValueError(f"sym_loss: unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    batch_terms = [(t, w) for t, w in zip(spec.loss_types, spec.weights) if LOSSES[t].kind == "batch"]
    if batch_terms and weights is not None:
        raise ValueError(
            f"sym_loss: weights are not defined for the batch loss {batch_terms[0][0]!r} "
            "(it sorts log-ratios across the batch, separating each pair from its weight)"
        )

    if not use_kernels(policy_chosen_logps.device) or under_func_autodiff():
        loss, chosen, rejected, margins = oracle.sym_loss_with_rewards(
            policy_chosen_logps,
            policy_rejected_logps,
            ref_chosen_logps,
            ref_rejected_logps,
            labels=labels,
            weights=weights,
            reduction=reduction,
            spec=spec,
        )
        return SymLossOutput(loss, chosen, rejected, margins) if return_rewards else loss

    types, term_weights, params = spec.kernel_terms()
    loss = rewards = None
    if types:
        loss, _, rewards = torch.ops.sympo_ext.sym_loss_forward(
            policy_chosen_logps,
            policy_rejected_logps,
            ref_chosen_logps,
            ref_rejected_logps,
            labels,
            weights,
            types,
            term_weights,
            params,
            spec.beta,
            spec.clip,
            reduction,
        )
    for name, w in batch_terms:
        term = _batch_term(
            spec,
            name,
            w,
            policy_chosen_logps,
            policy_rejected_logps,
            ref_chosen_logps,
            ref_rejected_logps,
            labels,
            dtype,
            reduction,
        )
        loss = term if loss is None else loss + term
    if not return_rewards:
        return loss
    if rewards is None:  # batch losses only: the rewards in plain torch (no loss launch computes them)
        _, chosen, rejected, margins = oracle.sym_loss_with_rewards(
            *(t.detach() if t is not None else None for t in tensors[:4]), spec=LossSpec(beta=spec.beta)
        )
        return SymLossOutput(loss, chosen, rejected, margins)
    rewards = rewards.detach()
    return SymLossOutput(loss, rewards[0], rewards[1], rewards[2])


sym_loss.__doc__ += params_doc()


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
        _check_same_device(
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
    _check_same_device(
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
