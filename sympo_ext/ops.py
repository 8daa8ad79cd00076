"""Python glue for the compiled ops: fake kernels, autograd, public wrappers.

Every op's schema is declared once in C++ (``csrc/ops.cpp``); this module and
:mod:`sympo_ext.logps_ops` (the log-prob ops, re-exported here) register each op's fake
(shape-only) kernel and its autograd formula with ``torch.library`` so the ops work under
``torch.compile`` and export, and expose thin, documented wrappers. This module holds
``sym_loss``.
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
from .tensor_checks import check_same_device

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


if AVAILABLE:

    @torch.library.register_fake("sympo_ext::sym_loss_forward")
    def _sym_loss_forward_fake(
        pc,
        pr,
        rc,
        rr,
        labels,
        weights,
        loss_types,
        loss_weights,
        loss_params,
        beta,
        clip,
        reduction,
        return_rewards=True,
    ):
        check_same_device("sym_loss", (pc, pr, rc, rr, labels, weights), _SYM_LOSS_ARGS)
        n = pc.shape[0]
        dtype = math_dtype(pc, pr, rc, rr, weights)
        loss = pc.new_empty((n,) if reduction == "none" else (), dtype=dtype)
        rows = 3 if weights is not None else 2
        return loss, pc.new_empty((rows, n), dtype=dtype), pc.new_empty((3, n if return_rewards else 0), dtype=dtype)

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
        ctx.options = inputs[6:12]  # the loss options (not return_rewards)
        ctx.input_dtypes = tuple(t.dtype if t is not None else None for t in inputs[:6])
        ctx.mark_non_differentiable(output[1], output[2])
        # The two non-differentiable outputs would otherwise get zero-filled gradients
        # (5 floats per pair written and never read) on every backward.
        ctx.set_materialize_grads(False)

    def _sym_loss_backward(ctx, grad_loss, _grad_coef, _grad_rewards):
        if grad_loss is None:
            return (None,) * 13
        grad_coef, *inputs = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient that must itself be differentiable
            return (
                *sym_loss_differentiable_grads(ctx.options, grad_loss, inputs, ctx.needs_input_grad[:6]),
                *([None] * 7),
            )
        wanted = [d if need else None for d, need in zip(ctx.input_dtypes, ctx.needs_input_grad[:6])]
        wanted[4] = None  # labels: never differentiable
        pc, pr, rc, rr, w = torch.ops.sympo_ext.sym_loss_backward(grad_loss, grad_coef, *wanted[:4], wanted[5])
        grads = [g if d is not None else None for g, d in zip((pc, pr, rc, rr, None, w), wanted)]
        return (*grads, *([None] * 7))

    torch.library.register_autograd(
        "sympo_ext::sym_loss_forward", _sym_loss_backward, setup_context=_sym_loss_setup_context
    )

    # The batch losses on the CPU: one op sorts and computes cDPO (csrc/cpu/sym_loss_batch.h),
    # its grad_coef rows feed sym_loss_backward like the pair-level op's.
    @torch.library.register_fake("sympo_ext::sym_loss_batch_forward")
    def _sym_loss_batch_forward_fake(pc, pr, rc, rr, labels, loss_type, loss_weight, epsilon, beta, reduction):
        check_same_device("sym_loss", (pc, pr, rc, rr, labels), _SYM_LOSS_ARGS[:5])
        dtype = math_dtype(pc, pr, rc, rr)
        return pc.new_empty((), dtype=dtype), pc.new_empty((2, pc.shape[0]), dtype=dtype)

    def _sym_loss_batch_setup_context(ctx, inputs, output):
        ctx.save_for_backward(output[1], *inputs[:5])
        ctx.options = inputs[5:]
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)

    def _sym_loss_batch_backward(ctx, grad_loss, _grad_coef):
        if grad_loss is None:
            return (None,) * 10
        grad_coef, *inputs = ctx.saved_tensors
        loss_type, loss_weight, epsilon, beta, reduction = ctx.options
        needs = (*ctx.needs_input_grad[:4], False, False)
        if torch.is_grad_enabled():  # create_graph=True: the reference's differentiable gradient
            options = ([loss_type], [loss_weight], [epsilon], beta, None, reduction)
            grads = sym_loss_differentiable_grads(options, grad_loss, (*inputs, None), needs)
            return (*grads[:4], *([None] * 6))
        want = [t.dtype if t is not None and need else None for t, need in zip(inputs[:4], needs)]
        # grad_coef rows: aot d/d(pc - pr), d/d(rc - rr); aot_unpaired d/d(pc - rc), d/d(pr - rr).
        order = (0, 2, 1, 3) if loss_type == "aot" else (0, 1, 2, 3)
        out = torch.ops.sympo_ext.sym_loss_backward(grad_loss, grad_coef, *(want[i] for i in order), None)
        grads = [None] * 4
        for slot, i in enumerate(order):
            grads[i] = out[slot] if want[i] is not None else None
        return (*grads, *([None] * 6))

    torch.library.register_autograd(
        "sympo_ext::sym_loss_batch_forward", _sym_loss_batch_backward, setup_context=_sym_loss_batch_setup_context
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
    """A batch loss (AOT): the label-oriented log-ratios are sorted across the batch, then
    its ``fused_as`` loss (cDPO) runs on the sorted values. CPU, reduced: one op does it all
    (csrc/cpu/sym_loss_batch.h). Otherwise torch.sort (stable, differentiable) + one launch."""
    info = LOSSES[name]
    if pc.device.type == "cpu" and reduction != "none" and pc.shape[0] < 2**31:
        # The CPU op sorts inside (a stable radix sort: ties in the pairs' order, as
        # torch.sort(stable=True)) and fuses the backward's scatter into its grad_coef.
        loss, _ = torch.ops.sympo_ext.sym_loss_batch_forward(
            pc, pr, rc, rr, labels, name, weight, spec.param_value(name), spec.beta, reduction
        )
        return loss

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
        a = torch.sort(a, stable=True).values
    elif torch.compiler.is_compiling():
        # Two sorts when traced: inductor (torch 2.14) miscompiled the stacked form below
        # (wrong values and heap corruption with labels), the eager op is fine with it.
        a, b = torch.sort(a, stable=True).values, torch.sort(b, stable=True).values
    else:  # one sort of both rows: ATen sorts the rows of a 2-D tensor in parallel
        a, b = torch.sort(torch.stack((a, b)), dim=1, stable=True).values.unbind(0)
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
    ``aot_unpaired``) adds one launch that sorts inside (CPU; elsewhere one sort and one
    launch); tied values keep the pairs' order (``torch.sort(stable=True)``). Inputs may be
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
    check_same_device("sym_loss", tensors, _SYM_LOSS_ARGS)
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
            bool(return_rewards),  # False: the kernel writes no rewards (a fifth of its memory traffic)
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


# The log-prob ops (sequence_logps and the row kernels of the fused-linear path).
from .logps_ops import sequence_logps, token_logps_and_lse, token_logps_backward_  # noqa: E402
