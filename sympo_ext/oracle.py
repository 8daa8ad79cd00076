"""The pure-PyTorch oracle of every sympo_ext op (``sympo_ext.reference`` is an alias).

"Oracle", not "reference": in this project the reference is the frozen policy pi_ref. The
functions define the semantics the fused kernels must match (tests compare against
them in float64) and are the baselines the benchmarks time. They favour
clarity over speed and materialise every intermediate.
"""

from __future__ import annotations

import torch

from .dtypes import math_dtype, to_math
from .losses import LossSpec
from .losses.formulas import clamp_midpoint
from .sequences import average_or_zero, per_sequence_sum, sequence_ids

__all__ = [
    "loss_values",
    "sym_loss",
    "sym_loss_with_rewards",
    "sequence_logps",
    "token_logps",
    "token_logps_and_lse",
    "token_logps_grad",
]


def loss_values(s: torch.Tensor, loss_type: str, *, beta: float = 0.1, **params) -> torch.Tensor:
    """l(s) elementwise for a margin loss, s = +/- the reward margin; parameters by name
    (default: the registry's)."""
    spec = LossSpec.create(loss_type, beta=beta, **params)
    (name,) = spec.loss_types
    info = spec.info(name)
    if info.kind != "margin":
        raise ValueError(f"loss_values: {name!r} is a {info.kind} loss, not a function of the margin")
    return info.reference(s, spec.param_value(name), beta)


def sym_loss_with_rewards(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor | None = None,
    ref_rejected_logps: torch.Tensor | None = None,
    *,
    labels: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    reduction: str = "mean",
    spec=None,
    **loss_options,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference of :func:`sympo_ext.sym_loss` (same arguments, or a ``spec=LossSpec``);
    returns (loss, chosen_rewards, rejected_rewards, margins)."""
    if spec is None:
        spec = LossSpec.create(**loss_options)
    elif loss_options:
        raise TypeError(f"sym_loss: give either spec= or loss options, not both (got {sorted(loss_options)})")
    dtype = math_dtype(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, weights)
    spec.validate(dtype)
    beta, clip = spec.beta, spec.clip
    pc = policy_chosen_logps.to(dtype)
    pr = policy_rejected_logps.to(dtype)
    rc = ref_chosen_logps.to(dtype) if ref_chosen_logps is not None else torch.zeros_like(pc)
    rr = ref_rejected_logps.to(dtype) if ref_rejected_logps is not None else torch.zeros_like(pr)
    chosen = beta * (pc - rc)
    rejected = beta * (pr - rr)
    if clip is not None:  # the midpoint subgradient AT +-clip, as at every loss kink (and in the kernels)
        chosen = clamp_midpoint(chosen, -clip, clip)
        rejected = clamp_midpoint(rejected, -clip, clip)
    margin = chosen - rejected
    flip = torch.zeros_like(margin, dtype=torch.bool) if labels is None else labels.to(dtype) == 0
    c, r = torch.where(flip, rejected, chosen), torch.where(flip, chosen, rejected)  # preferred, other
    losses = torch.zeros_like(margin)
    for name, w in zip(spec.loss_types, spec.weights):
        info, p = spec.info(name), spec.param_value(name)
        if info.kind == "margin":
            term = info.reference(c - r, p, beta)
        elif info.kind == "pair":
            term = info.reference(c, r, p, beta)
        else:  # batch: label-oriented log-probs of the whole batch
            term = info.reference(
                torch.where(flip, pr, pc),
                torch.where(flip, pc, pr),
                torch.where(flip, rr, rc),
                torch.where(flip, rc, rr),
                p,
                beta,
            )
        losses = losses + w * term
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
    logp = torch.log_softmax(to_math(logits), dim=-1)
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
    x = to_math(logits)
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
    x = to_math(logits)
    mask = labels != ignore_index
    safe = torch.where(mask, labels, torch.zeros_like(labels)).long()
    grad = -torch.exp(x - lse.unsqueeze(-1))
    grad.scatter_add_(-1, safe.unsqueeze(-1), torch.ones_like(grad[:, :1]))
    grad = grad * torch.where(mask, row_grad, torch.zeros_like(row_grad)).unsqueeze(-1).to(grad.dtype)
    return grad.to(logits.dtype)
