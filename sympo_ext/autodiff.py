"""Higher-order autograd for the ops: the kernels give first derivatives only, so a gradient
that must itself be differentiable (``create_graph=True``, e.g. a gradient penalty) and the
torch.func differentiation transforms use the pure-PyTorch reference (same math, same kink
convention, exact to any order)."""

from __future__ import annotations

import torch

from . import oracle
from .losses import LOSSES, LossSpec

__all__ = ["under_func_autodiff", "sym_loss_differentiable_grads"]


def under_func_autodiff() -> bool:
    """True inside a torch.func differentiation transform (grad, vjp, jacrev, jvp, jacfwd, ...).
    They cannot differentiate the kernels (torch.library autograd formulas), so the ops then
    run their pure-PyTorch reference: the same values, transforms of any order, no fusion."""
    if torch.compiler.is_compiling():
        return False
    from torch._C._functorch import TransformType, get_interpreter_stack

    stack = get_interpreter_stack() or ()
    return any(level.key() in (TransformType.Grad, TransformType.Jvp) for level in stack)


def sym_loss_differentiable_grads(options, grad_loss, inputs, needs_input_grad):
    """The gradients of ``sympo_ext::sym_loss_forward`` as a differentiable graph, recomputed by
    the reference from the op's saved inputs (pc, pr, rc, rr, labels, weights) and its options
    (loss_types, loss_weights, loss_params, beta, clip, reduction); None where not needed."""
    types, term_weights, params, beta, clip, reduction = options
    spec = LossSpec(
        loss_types=tuple(types),
        weights=tuple(term_weights),
        beta=beta,
        clip=clip,
        params=tuple(sorted({LOSSES[t].param.name: p for t, p in zip(types, params) if LOSSES[t].param}.items())),
    )
    wanted = [
        t if t is not None and need and i != 4 else None  # labels (4): never differentiable
        for i, (t, need) in enumerate(zip(inputs, needs_input_grad))
    ]
    loss = oracle.sym_loss(*inputs[:4], labels=inputs[4], weights=inputs[5], reduction=reduction, spec=spec)
    grads = iter(
        torch.autograd.grad(loss, [t for t in wanted if t is not None], grad_loss, create_graph=True, allow_unused=True)
    )
    return [next(grads) if t is not None else None for t in wanted]
