"""Pure-PyTorch references for every sympo_ext op.

They define the semantics the fused kernels must match (tests compare against
them in float64) and are the baselines the benchmarks time. They favour
clarity over speed and materialise every intermediate.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .sequences import average_or_zero, per_sequence_sum, sequence_ids

__all__ = ["loss_values", "sym_loss", "sym_loss_with_rewards", "sequence_logps", "token_logps"]

# --------------------------------------------------------------------------- #
# The losses, one function each (the registry, sympo_ext/losses.py, points here).
# Margin losses take s (the label-oriented margin), pair losses the rewards c
# (preferred) and r (the other), batch losses the label-oriented log-probs of
# the whole batch; each also gets its parameter p (None when it has none) and beta.
# At +-inf they give the formula's limit and autograd gives its derivative's
# limit (the rule documented in README.md), like the kernels.
# --------------------------------------------------------------------------- #


def _softplus(x: torch.Tensor) -> torch.Tensor:
    # -logsigmoid(-x) == log(1 + exp(x)), exact everywhere (F.softplus switches
    # to the identity above its threshold, which changes the gradient slightly).
    return -F.logsigmoid(-x)


def _mul0(coef, x: torch.Tensor) -> torch.Tensor:
    """coef * x, with 0 where coef == 0 (0 * inf is the 0 the limit gives)."""
    if isinstance(coef, torch.Tensor):
        return torch.where(coef == 0, torch.zeros_like(x), coef * x)
    return torch.zeros_like(x) if coef == 0 else coef * x


def _finite(s: torch.Tensor) -> torch.Tensor:
    """s with +-inf replaced by 0, for a branch whose value is not used there (its
    gradient must not be inf * 0 = NaN)."""
    return torch.where(torch.isinf(s), torch.zeros_like(s), s)


class _ClampMidpoint(torch.autograd.Function):
    """torch.clamp whose derivative AT a bound is 1/2, the midpoint of the two one-sided
    derivatives (torch.clamp's own is 0 there): the one subgradient convention of every
    loss kink, shared with the kernels (clamp_slope in csrc/include/sympo/losses.h)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return torch.clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = ~torch.isnan(x)  # NaN: slope 0, like the kernels (the loss is NaN anyway)
        at_bound = torch.zeros_like(inside)
        if ctx.lo is not None:  # an absent bound (the hinge's upper one): no kink, even at +inf
            inside, at_bound = inside & (x > ctx.lo), at_bound | (x == ctx.lo)
        if ctx.hi is not None:
            inside, at_bound = inside & (x < ctx.hi), at_bound | (x == ctx.hi)
        slope = torch.where(inside, 1.0, torch.where(at_bound, 0.5, 0.0))
        return grad * slope.to(grad.dtype), None, None


def clamp_midpoint(x: torch.Tensor, lo: float | None = None, hi: float | None = None) -> torch.Tensor:
    """torch.clamp(x, lo, hi) with the midpoint subgradient (1/2) at the bounds."""
    return _ClampMidpoint.apply(x, lo, hi)


def sigmoid(s, temperature, beta):
    return torch.sigmoid(-temperature * s)


def symmetric_ramp(s, slope, beta):
    return clamp_midpoint(0.5 - slope * s, 0.0, 1.0)


def unhinged(s, p, beta):
    return 1.0 - s


def logistic(s, p, beta):
    return _softplus(-s)


def hinge(s, p, beta):
    return clamp_midpoint(1.0 - s, 0.0)


def square(s, p, beta):
    return (1.0 - s) ** 2


def exp(s, p, beta):
    return torch.exp(-s)


def ramp(s, p, beta):
    return clamp_midpoint(1.0 - s, 0.0, 1.0)


def cdpo(s, epsilon, beta):
    return _mul0(1.0 - epsilon, _softplus(-s)) + _mul0(epsilon, _softplus(s))


def rdpo(s, epsilon, beta):
    return (_mul0(1.0 - epsilon, _softplus(-s)) - _mul0(epsilon, _softplus(s))) / (1.0 - 2.0 * epsilon)


def ipo(s, p, beta):
    return (s / beta - 1.0 / (2.0 * beta)) ** 2


def ropo(s, alpha, beta):
    return 4 * alpha / (alpha + 1) ** 2 * _softplus(-s) + 4 * alpha**2 / (alpha + 1) ** 2 * torch.sigmoid(-s)


def simpo(s, gamma, beta):
    return _softplus(-(s - gamma))


def exo_pair(s, epsilon, beta):
    # sigmoid(s) (logsigmoid(s) - log(1 - eps)) + sigmoid(-s) (logsigmoid(-s) - log(eps)),
    # with each product 0 where its sigmoid is (s = -+inf).
    sf = _finite(s)
    pos = torch.sigmoid(sf) * (F.logsigmoid(sf) - math.log1p(-epsilon))
    neg = torch.sigmoid(-sf) * (F.logsigmoid(-sf) - math.log(epsilon))
    limit = torch.where(s > 0, -math.log1p(-epsilon), -math.log(epsilon)) + 0 * sf
    return torch.where(torch.isinf(s), limit, pos + neg)


def discopop(s, tau, beta):
    # softplus(-s) (1 - m) + exp(-s) m with m = sigmoid(s / tau).
    sf = _finite(s)
    m = torch.sigmoid(sf / tau)
    finite = _softplus(-sf) * (1 - m) + torch.exp(-sf - _softplus(-sf / tau))
    # s = +inf: 0. s = -inf: +inf, with derivative -1 (tau <= 1) or -inf (tau > 1).
    at_minus_inf = -s if tau <= 1 else s * s
    return torch.where(s == math.inf, 0 * sf, torch.where(s == -math.inf, at_minus_inf, finite))


def nca_pair(c, r, p, beta):
    return _softplus(-c) + 0.5 * _softplus(c) + 0.5 * _softplus(r)


def bco_pair(c, r, p, beta):
    return _softplus(-c) + _softplus(r)


def sppo_hard(c, r, p, beta):
    return (c / beta - 0.5 / beta) ** 2 + (r / beta + 0.5 / beta) ** 2


def apo_zero(c, r, p, beta):
    return 1.0 - torch.sigmoid(c) + torch.sigmoid(r)


def apo_down(c, r, p, beta):
    return torch.sigmoid(c) + 1.0 - torch.sigmoid(c - r)


def aot(pc, pr, rc, rr, epsilon, beta):
    """AOT (paired): sort the policy and the reference log-ratio across the batch, then cDPO."""
    delta = torch.sort(pc - pr).values - torch.sort(rc - rr).values
    return cdpo(beta * delta, epsilon, beta)


def aot_unpaired(pc, pr, rc, rr, epsilon, beta):
    """AOT (unpaired): sort the chosen and the rejected log-ratio across the batch, then cDPO."""
    delta = torch.sort(pc - rc).values - torch.sort(pr - rr).values
    return cdpo(beta * delta, epsilon, beta)


def loss_values(s: torch.Tensor, loss_type: str, *, beta: float = 0.1, **params) -> torch.Tensor:
    """l(s) elementwise for a margin loss, s = +/- the reward margin; parameters by name
    (default: the registry's)."""
    from .losses import LossSpec

    spec = LossSpec.create(loss_type, beta=beta, **params)
    (name,) = spec.loss_types
    info = spec.info(name)
    if info.kind != "margin":
        raise ValueError(f"loss_values: {name!r} is a {info.kind} loss, not a function of the margin")
    return info.reference(s, spec.param_value(name), beta)


def _math_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    return torch.float64 if any(t is not None and t.dtype == torch.float64 for t in tensors) else torch.float32


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
    from .losses import LossSpec

    if spec is None:
        spec = LossSpec.create(**loss_options)
    elif loss_options:
        raise TypeError(f"sym_loss: give either spec= or loss options, not both (got {sorted(loss_options)})")
    dtype = _math_dtype(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, weights)
    spec.validate(dtype)
    beta, clip = spec.beta, spec.clip
    pc = policy_chosen_logps.to(dtype)
    pr = policy_rejected_logps.to(dtype)
    rc = ref_chosen_logps.to(dtype) if ref_chosen_logps is not None else torch.zeros_like(pc)
    rr = ref_rejected_logps.to(dtype) if ref_rejected_logps is not None else torch.zeros_like(pr)
    chosen = beta * (pc - rc)
    rejected = beta * (pr - rr)
    if clip is not None:
        chosen = chosen.clamp(-clip, clip)
        rejected = rejected.clamp(-clip, clip)
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
            term = info.reference(torch.where(flip, pr, pc), torch.where(flip, pc, pr),
                                  torch.where(flip, rr, rc), torch.where(flip, rc, rr), p, beta)
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
