"""Pure-PyTorch references for every sympo_ext op.

They define the semantics the fused kernels must match (tests compare against
them in float64) and are the baselines the benchmarks time. They favour
clarity over speed and materialise every intermediate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .losses import check_loss_options
from .sequences import average_or_zero, per_sequence_sum, sequence_ids

__all__ = ["loss_values", "sym_loss", "sym_loss_with_rewards", "sequence_logps", "token_logps"]


def _softplus(x: torch.Tensor) -> torch.Tensor:
    # -logsigmoid(-x) == log(1 + exp(x)), exact everywhere (F.softplus switches
    # to the identity above its threshold, which changes the gradient slightly).
    return -F.logsigmoid(-x)


def loss_values(
    s: torch.Tensor,
    loss_type: str,
    *,
    beta: float = 0.1,
    temperature: float = 1.0,
    slope: float = 0.5,
    epsilon: float = 0.0,
) -> torch.Tensor:
    """l(s) elementwise, for s = +/- the reward margin."""
    if loss_type == "sigmoid":
        return torch.sigmoid(-temperature * s)
    if loss_type == "symmetric_ramp":
        return torch.clamp(0.5 - slope * s, 0.0, 1.0)
    if loss_type == "unhinged":
        return 1.0 - s
    if loss_type == "logistic":
        return _softplus(-s)
    if loss_type == "hinge":
        return torch.clamp(1.0 - s, min=0.0)
    if loss_type == "square":
        return (1.0 - s) ** 2
    if loss_type == "exp":
        return torch.exp(-s)
    if loss_type == "ramp":
        return torch.clamp(1.0 - s, 0.0, 1.0)
    if loss_type == "cdpo":
        return (1.0 - epsilon) * _softplus(-s) + epsilon * _softplus(s)
    if loss_type == "rdpo":
        return ((1.0 - epsilon) * _softplus(-s) - epsilon * _softplus(s)) / (1.0 - 2.0 * epsilon)
    if loss_type == "ipo":
        return (s / beta - 1.0 / (2.0 * beta)) ** 2
    raise ValueError(f"unknown loss_type {loss_type!r}")


def _math_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    return torch.float64 if any(t is not None and t.dtype == torch.float64 for t in tensors) else torch.float32


def sym_loss_with_rewards(
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
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference of :func:`sympo_ext.sym_loss`; returns (loss, chosen_rewards, rejected_rewards, margins)."""
    check_loss_options(loss_type, temperature=temperature, slope=slope, epsilon=epsilon)
    dtype = _math_dtype(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, weights)
    pc = policy_chosen_logps.to(dtype)
    pr = policy_rejected_logps.to(dtype)
    chosen = beta * (pc - ref_chosen_logps.to(dtype)) if ref_chosen_logps is not None else beta * pc
    rejected = beta * (pr - ref_rejected_logps.to(dtype)) if ref_rejected_logps is not None else beta * pr
    if clip is not None:
        chosen = chosen.clamp(-clip, clip)
        rejected = rejected.clamp(-clip, clip)
    margin = chosen - rejected
    s = margin if labels is None else torch.where(labels.to(dtype) == 0, -margin, margin)
    losses = loss_values(s, loss_type, beta=beta, temperature=temperature, slope=slope, epsilon=epsilon)
    if weights is not None:
        losses = losses * weights.to(dtype)
    if reduction == "mean":
        loss = losses.mean()
    elif reduction == "sum":
        loss = losses.sum()
    elif reduction == "none":
        loss = losses
    else:
        raise ValueError(f"unknown reduction {reduction!r}; valid: mean, sum, none")
    return loss, chosen.detach(), rejected.detach(), margin.detach()


def sym_loss(*args, **kwargs) -> torch.Tensor:
    """Reference of :func:`sympo_ext.sym_loss` (same arguments), in plain PyTorch."""
    return sym_loss_with_rewards(*args, **kwargs)[0]


def token_logps(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """log softmax(logits)[label] per position in float32 (0 where label == ignore_index)."""
    mask = labels != ignore_index
    safe = torch.where(mask, labels, torch.zeros_like(labels)).long()
    logp = torch.log_softmax(logits.float() if logits.dtype != torch.float64 else logits, dim=-1)
    picked = torch.gather(logp, -1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.where(mask, picked, torch.zeros_like(picked))


def sequence_logps(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = -100,
    average: bool = False,
    cu_seqlens: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reference of :func:`sympo_ext.sequence_logps`: log_softmax + gather + masked sum.

    Padded form: logits [N, T, V], labels [N, T]. Packed form: logits [L, V],
    labels [L], cu_seqlens [N + 1]. Returns float32 [N] (float64 for float64 logits).
    """
    per_token = token_logps(logits, labels, ignore_index)
    counted = (labels != ignore_index).to(per_token.dtype)
    n = labels.shape[0] if cu_seqlens is None else cu_seqlens.shape[0] - 1
    seq = None if cu_seqlens is None else sequence_ids(cu_seqlens, labels.shape[0], per_token.device)
    total = per_sequence_sum(per_token.reshape(-1), n, seq)
    return average_or_zero(total, per_sequence_sum(counted.reshape(-1), n, seq)) if average else total


def token_logps_and_lse(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100):
    """Row-level reference: logits [R, V], labels [R] -> (token_logps [R], lse [R]) in float32
    (float64 for float64 logits); token_logps is 0 where labels == ignore_index."""
    x = logits.float() if logits.dtype != torch.float64 else logits
    lse = torch.logsumexp(x, dim=-1)
    mask = labels != ignore_index
    safe = torch.where(mask, labels, torch.zeros_like(labels)).long()
    picked = torch.gather(x, -1, safe.unsqueeze(-1)).squeeze(-1) - lse
    return torch.where(mask, picked, torch.zeros_like(picked)), lse


def token_logps_grad(
    logits: torch.Tensor, labels: torch.Tensor, lse: torch.Tensor, row_grad: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Row-level reference backward: row_grad[r] * (onehot(label) - softmax(logits)) on counted rows,
    0 on ignored rows; in the logits' dtype."""
    x = logits.float() if logits.dtype != torch.float64 else logits
    mask = labels != ignore_index
    safe = torch.where(mask, labels, torch.zeros_like(labels)).long()
    grad = -torch.exp(x - lse.unsqueeze(-1))
    grad.scatter_add_(-1, safe.unsqueeze(-1), torch.ones_like(grad[:, :1]))
    grad = grad * torch.where(mask, row_grad, torch.zeros_like(row_grad)).unsqueeze(-1).to(grad.dtype)
    return grad.to(logits.dtype)
