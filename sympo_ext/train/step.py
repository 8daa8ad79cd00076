"""The end of every optimiser step, shared by the trainer and the reward-model training: the
stop-before-update rule, clipping, the update and the scheduler step.

A non-finite loss or gradient norm stops training BEFORE ``optimizer.step()``: the gradients are
zeroed and :class:`NonFiniteLossError` is raised, so the parameters (and the last checkpoint)
stay finite.
"""

from __future__ import annotations

import math

from .dist import clip_grad_norm

__all__ = ["NonFiniteLossError", "optimizer_step", "NONFINITE_ADVICE"]

NONFINITE_ADVICE = (
    "Common causes: a learning rate too high, fp16 overflow, or degenerate pairs; lower "
    "--learning_rate, set --clip, or use --precision fp32."
)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stopped, the last good checkpoint is kept."""


def optimizer_step(
    optimizer,
    parameters,
    *,
    loss: float,
    where: str,
    scheduler=None,
    max_grad_norm: float = 0.0,
    loss_finite: bool | None = None,
    last_good: str | None = None,
    advice: str = NONFINITE_ADVICE,
) -> tuple[float, float]:
    """Check, clip, update, schedule; returns (global grad norm, the learning rate the update used).

    ``loss``: the step's (mean) loss, named in the message; ``loss_finite``: the caller's verdict
    when it knows more (another process's flag), default ``isfinite(loss)``. ``where``: e.g.
    "step 3". ``last_good``: the last good checkpoint, named in the message when given (the
    reward model has none). ``advice``: what to change (the default names sympo-train's options)."""
    finite = math.isfinite(loss) if loss_finite is None else loss_finite
    last = "" if last_good is None else f" Last good checkpoint: {last_good}."
    parameters = list(parameters)
    if not finite:
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteLossError(
            f"non-finite loss ({loss:g}) at {where}: training stopped before the update, so "
            f"the parameters stay finite.{last} {advice}"
        )
    grad_norm = clip_grad_norm(parameters, max_grad_norm)
    if not math.isfinite(grad_norm):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteLossError(
            f"non-finite gradient norm at {where} (the loss was finite): training stopped "
            f"before the update.{last} {advice}"
        )
    lr = scheduler.get_last_lr()[0] if scheduler is not None else optimizer.param_groups[0]["lr"]
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm, lr
