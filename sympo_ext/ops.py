"""Python glue for the compiled ops: fake kernels, autograd, public wrappers.

Every op's schema is declared once in C++ (``csrc/ops.cpp``); this module
registers its fake (shape-only) kernel and its autograd formula with
``torch.library`` so the ops work under ``torch.compile`` and export, and
exposes thin, documented wrappers.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from . import reference
from ._loading import AVAILABLE, use_kernels
from .losses import check_loss_options

__all__ = ["sym_loss", "SymLossOutput"]


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


def _math_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    return torch.float64 if any(t is not None and t.dtype == torch.float64 for t in tensors) else torch.float32


if AVAILABLE:

    @torch.library.register_fake("sympo_ext::sym_loss_forward")
    def _sym_loss_forward_fake(pc, pr, rc, rr, labels, weights, loss_type, beta, clip, temperature, slope,
                               epsilon, reduction):
        n = pc.shape[0]
        dtype = _math_dtype(pc, pr, rc, rr, weights)
        loss = pc.new_empty((n,) if reduction == "none" else (), dtype=dtype)
        return loss, pc.new_empty((2, n), dtype=dtype), pc.new_empty((3, n), dtype=dtype)

    @torch.library.register_fake("sympo_ext::sym_loss_backward")
    def _sym_loss_backward_fake(grad_loss, grad_coef, pc_dtype, pr_dtype, rc_dtype, rr_dtype):
        n = grad_coef.shape[1]
        return tuple(
            grad_coef.new_empty((n,), dtype=d) if d is not None else grad_coef.new_empty((0,))
            for d in (pc_dtype, pr_dtype, rc_dtype, rr_dtype)
        )

    def _sym_loss_setup_context(ctx, inputs, output):
        _, grad_coef, _ = output
        ctx.save_for_backward(grad_coef)
        ctx.logps_dtypes = tuple(t.dtype if t is not None else None for t in inputs[:4])
        ctx.mark_non_differentiable(output[1], output[2])

    def _sym_loss_backward(ctx, grad_loss, _grad_coef, _grad_rewards):
        (grad_coef,) = ctx.saved_tensors
        wanted = [d if need else None for d, need in zip(ctx.logps_dtypes, ctx.needs_input_grad[:4])]
        grads = torch.ops.sympo_ext.sym_loss_backward(grad_loss, grad_coef, *wanted)
        grads = [g if d is not None else None for g, d in zip(grads, wanted)]
        return (*grads, *([None] * 9))

    torch.library.register_autograd(
        "sympo_ext::sym_loss_forward", _sym_loss_backward, setup_context=_sym_loss_setup_context
    )


def _check_tensor(value, name: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, torch.Tensor):
        kind = "a tensor or None" if optional else "a tensor"
        raise TypeError(f"sym_loss: {name} must be {kind}, got {type(value).__name__}")


def sym_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor | None = None,
    ref_rejected_logps: torch.Tensor | None = None,
    *,
    loss_type: str = "sigmoid",
    beta: float = 0.1,
    clip: float | None = None,
    labels: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    reduction: str = "mean",
    temperature: float = 1.0,
    slope: float = 0.5,
    epsilon: float = 0.0,
    return_rewards: bool = False,
) -> torch.Tensor | SymLossOutput:
    """Fused pair-level preference loss (SymPO, DPO and robust baselines).

    For each pair i, with r = beta * (log pi - log pi_ref) (0 reference when the
    reference log-probs are None), optionally clamped to [-clip, clip]::

        margin_i = r(chosen_i) - r(rejected_i)
        s_i      = margin_i if labels_i == 1 else -margin_i
        loss     = reduce(weights_i * l(s_i))

    with l from :data:`sympo_ext.LOSSES` chosen by ``loss_type``. One kernel
    launch computes the loss, its reduction and d loss / d margin; backward is
    one elementwise kernel. Inputs may be fp32/fp64/bf16/fp16 (even mixed);
    the loss is fp32 (fp64 when an input is fp64), gradients come back in each
    input's dtype.

    Args:
        labels: per-pair 0/1 (bool, int or float); 1 (the default) means the
            first ("chosen") response is preferred. Other values raise on CPU;
            on CUDA (where checking would synchronise) they make that pair's
            loss NaN.
        weights: per-pair weights >= 0 (same CPU/CUDA rule as labels).
        reduction: "mean" (over pairs; NaN for zero pairs, like ``torch.mean``),
            "sum" (0 for zero pairs) or "none" (per-pair losses).
        temperature / slope / epsilon: used by sigmoid / symmetric_ramp /
            cdpo+rdpo only; any other loss refuses a non-default value.
        return_rewards: also return the detached per-pair chosen/rejected
            rewards and margins computed by the same launch.

    NaN inputs give NaN losses (and gradients); they never crash.
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
    check_loss_options(loss_type, temperature=temperature, slope=slope, epsilon=epsilon)

    if not use_kernels(policy_chosen_logps.device):
        loss, chosen, rejected, margins = reference.sym_loss_with_rewards(
            policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
            loss_type=loss_type, beta=beta, clip=clip, labels=labels, weights=weights,
            reduction=reduction, temperature=temperature, slope=slope, epsilon=epsilon,
        )
        return SymLossOutput(loss, chosen, rejected, margins) if return_rewards else loss

    loss, _, rewards = torch.ops.sympo_ext.sym_loss_forward(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, weights,
        loss_type, float(beta), None if clip is None else float(clip), float(temperature), float(slope),
        float(epsilon), reduction,
    )
    if not return_rewards:
        return loss
    rewards = rewards.detach()
    return SymLossOutput(loss, rewards[0], rewards[1], rewards[2])


# --------------------------------------------------------------------------- #
# sequence_logps (fused kernels land with the log-probs issue; until then the
# reference serves, with the final signature)
# --------------------------------------------------------------------------- #


def sequence_logps(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    average: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    inplace_backward: bool = False,
) -> torch.Tensor:
    """Per-sequence sum (or mean) of log softmax(logits)[label]; float32 [N]."""
    del inplace_backward
    return reference.sequence_logps(logits, labels, ignore_index=ignore_index, average=average, cu_seqlens=cu_seqlens)


def token_logps_and_lse(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100):
    """Row kernel: logits [R, V], labels [R] -> (token_logps float32 [R], lse float32 [R]).
    Building block of sequence_logps and the fused linear path."""
    return reference.token_logps_and_lse(logits, labels, ignore_index)


def token_logps_backward_(
    logits: torch.Tensor, labels: torch.Tensor, lse: torch.Tensor, row_grad: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Row kernel backward, IN PLACE: overwrite logits [R, V] with
    row_grad[r] * (onehot(label) - softmax(logits)) (0 on ignored rows); returns logits."""
    return logits.copy_(reference.token_logps_grad(logits, labels, lse, row_grad, ignore_index))
