"""Every pair-level loss: ONE entry each, the registration (name, kind, symmetry, parameter
with default / range / help, aliases, note, formula text) on its pure-PyTorch formula.

A leaf: it imports only torch and the registry. The formulas define the semantics the
kernels (``csrc/include/sympo/loss_list.h``, ``losses.h``) must match; tests compare them in
float64. Margin losses take s (the label-oriented margin), pair losses the rewards c
(preferred) and r (the other), batch losses the label-oriented log-probs of the whole batch;
each also gets its parameter p (None when it has none) and beta. At +-inf they give the
formula's limit and autograd gives its derivative's limit (README.md's rule), like the kernels.

Notation: c = beta (pi_c - ref_c), r = beta (pi_r - ref_r) after the optional clip, swapped
for label 0; s = c - r.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .registry import Param, loss

_INF = math.inf
# Parameters several losses share (one Param object = one definition, default and range).
_FLIP = "label-flip rate (TRL's label_smoothing)"
EPS_UNIT = Param("epsilon", 0.0, 0.0, True, 1.0, True, _FLIP, flip_rate=True)
EPS_HALF = Param("epsilon", 0.0, 0.0, True, 0.5, False, _FLIP, flip_rate=True)


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

    generate_vmap_rule = True  # forward / setup_context apart: torch.func transforms can run it

    @staticmethod
    def forward(x, lo, hi):
        return torch.clamp(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, lo, hi = inputs
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi

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


@loss(
    "sigmoid",
    formula="1 / (1 + exp(temperature * s))",
    symmetric=True,
    param=Param("temperature", 1.0, help="the temperature of SymPO's sigmoid loss"),
    note="SymPO's symmetric loss, NOT TRL's `sigmoid` (that is `logistic`)",
)
def sigmoid(s, temperature, beta):
    return torch.sigmoid(-temperature * s)


@loss(
    "symmetric_ramp",
    formula="clamp(0.5 - slope * s, 0, 1)",
    symmetric=True,
    param=Param("slope", 0.5, help="the slope of SymPO's symmetric ramp loss"),
)
def symmetric_ramp(s, slope, beta):
    return clamp_midpoint(0.5 - slope * s, 0.0, 1.0)


@loss("unhinged", formula="1 - s", symmetric=True)
def unhinged(s, p, beta):
    return 1.0 - s


@loss("logistic", formula="log(1 + exp(-s))   (DPO)", aliases=("dpo",), note="TRL's `sigmoid`")
def logistic(s, p, beta):
    return _softplus(-s)


@loss("hinge", formula="max(0, 1 - s)")
def hinge(s, p, beta):
    return clamp_midpoint(1.0 - s, 0.0)


@loss("square", formula="(1 - s)^2")
def square(s, p, beta):
    return (1.0 - s) ** 2


@loss("exp", formula="exp(-s)")
def exp(s, p, beta):
    return torch.exp(-s)


@loss("ramp", formula="clamp(1 - s, 0, 1)")
def ramp(s, p, beta):
    return clamp_midpoint(1.0 - s, 0.0, 1.0)


@loss(
    "cdpo",
    formula="(1 - epsilon) log(1 + exp(-s)) + epsilon log(1 + exp(s))",
    param=EPS_UNIT,
    robust_baseline=True,
    note="TRL's `sigmoid` with label_smoothing=epsilon",
)
def cdpo(s, epsilon, beta):
    return _mul0(1.0 - epsilon, _softplus(-s)) + _mul0(epsilon, _softplus(s))


@loss(
    "rdpo",
    formula="((1 - epsilon) log(1 + exp(-s)) - epsilon log(1 + exp(s))) / (1 - 2 epsilon)",
    param=EPS_HALF,
    robust_baseline=True,
    aliases=("robust",),
    note="TRL's `robust`",
)
def rdpo(s, epsilon, beta):
    return (_mul0(1.0 - epsilon, _softplus(-s)) - _mul0(epsilon, _softplus(s))) / (1.0 - 2.0 * epsilon)


@loss("ipo", formula="(s / beta - 1 / (2 beta))^2", robust_baseline=True)
def ipo(s, p, beta):
    return (s / beta - 1.0 / (2.0 * beta)) ** 2


@loss(
    "ropo",
    formula="4 alpha / (alpha + 1)^2 log(1 + exp(-s)) + 4 alpha^2 / (alpha + 1)^2 / (1 + exp(s))",
    param=Param("alpha", 14.0, help="ROPO's alpha (the official SymPO code's default 14)"),
    robust_baseline=True,
    note="official SymPO code",
)
def ropo(s, alpha, beta):
    return 4 * alpha / (alpha + 1) ** 2 * _softplus(-s) + 4 * alpha**2 / (alpha + 1) ** 2 * torch.sigmoid(-s)


@loss(
    "simpo",
    formula="log(1 + exp(-(s - gamma)))",
    param=Param("gamma", 0.5, -_INF, False, _INF, False, "SimPO's target margin, in reward units (TRL simpo_gamma)"),
    note="use with average=True log-probs and no reference",
)
def simpo(s, gamma, beta):
    return _softplus(-(s - gamma))


@loss(
    "exo_pair",
    formula="sigmoid(s) log(sigmoid(s) / (1 - epsilon)) + sigmoid(-s) log(sigmoid(-s) / epsilon)",
    param=Param("epsilon", 1e-3, 0.0, False, 1.0, False, "EXO's epsilon (TRL: label_smoothing, 1e-3 when 0)"),
    note="TRL's `exo_pair`",
)
def exo_pair(s, epsilon, beta):
    # sigmoid(s) (logsigmoid(s) - log(1 - eps)) + sigmoid(-s) (logsigmoid(-s) - log(eps)),
    # with each product 0 where its sigmoid is (s = -+inf).
    sf = _finite(s)
    pos = torch.sigmoid(sf) * (F.logsigmoid(sf) - math.log1p(-epsilon))
    neg = torch.sigmoid(-sf) * (F.logsigmoid(-sf) - math.log(epsilon))
    limit = torch.where(s > 0, -math.log1p(-epsilon), -math.log(epsilon)) + 0 * sf
    return torch.where(torch.isinf(s), limit, pos + neg)


@loss(
    "discopop",
    formula="log(1 + exp(-s)) (1 - m) + exp(-s) m,  m = sigmoid(s / tau)",
    param=Param("tau", 0.05, help="DiscoPOP's tau (TRL discopop_tau)"),
    note="TRL's `discopop`",
)
def discopop(s, tau, beta):
    # softplus(-s) (1 - m) + exp(-s) m with m = sigmoid(s / tau).
    sf = _finite(s)
    m = torch.sigmoid(sf / tau)
    finite = _softplus(-sf) * (1 - m) + torch.exp(-sf - _softplus(-sf / tau))
    # s = +inf: 0. s = -inf: +inf, with derivative -1 (tau <= 1) or -inf (tau > 1).
    at_minus_inf = -s if tau <= 1 else s * s
    return torch.where(s == math.inf, 0 * sf, torch.where(s == -math.inf, at_minus_inf, finite))


@loss(
    "nca_pair",
    formula="log(1 + exp(-c)) + log(1 + exp(c)) / 2 + log(1 + exp(r)) / 2",
    kind="pair",
    note="TRL's `nca_pair`",
)
def nca_pair(c, r, p, beta):
    return _softplus(-c) + 0.5 * _softplus(c) + 0.5 * _softplus(r)


@loss(
    "bco_pair",
    formula="log(1 + exp(-c)) + log(1 + exp(r))",
    kind="pair",
    note="TRL's `bco_pair` without the running-mean shift",
)
def bco_pair(c, r, p, beta):
    return _softplus(-c) + _softplus(r)


@loss(
    "sppo_hard",
    formula="(c / beta - 1 / (2 beta))^2 + (r / beta + 1 / (2 beta))^2",
    kind="pair",
    note="TRL's `sppo_hard`",
)
def sppo_hard(c, r, p, beta):
    return (c / beta - 0.5 / beta) ** 2 + (r / beta + 0.5 / beta) ** 2


@loss(
    "apo_zero",
    formula="1 - sigmoid(c) + sigmoid(r)",
    kind="pair",
    symmetric=True,
    note="TRL's `apo_zero`; l(c, r) + l(r, c) = 2",
)
def apo_zero(c, r, p, beta):
    return 1.0 - torch.sigmoid(c) + torch.sigmoid(r)


@loss("apo_down", formula="sigmoid(c) + 1 - sigmoid(c - r)", kind="pair", note="TRL's `apo_down`")
def apo_down(c, r, p, beta):
    return torch.sigmoid(c) + 1.0 - torch.sigmoid(c - r)


# The AOT losses: cDPO on the difference of two log-ratios, each sorted across the batch.
_AOT = dict(kind="batch", param=EPS_UNIT, fused_as="cdpo")


def _sorted_cdpo(x, y, epsilon, beta):
    """cDPO of beta (sort(x) - sort(y)): the two log-ratios sorted across the batch. Ties keep the
    pairs' order (stable): which tied pair gets which gradient is then defined."""
    return cdpo(beta * (torch.sort(x, stable=True).values - torch.sort(y, stable=True).values), epsilon, beta)


@loss(
    "aot",
    formula="cdpo(beta (sort(pi_c - pi_r) - sort(ref_c - ref_r)))",
    note="TRL's `aot`; sorts across the batch",
    **_AOT,
)
def aot(pc, pr, rc, rr, epsilon, beta):
    """AOT (paired): sort the policy and the reference log-ratio across the batch, then cDPO."""
    return _sorted_cdpo(pc - pr, rc - rr, epsilon, beta)


@loss(
    "aot_unpaired",
    formula="cdpo(beta (sort(pi_c - ref_c) - sort(pi_r - ref_r)))",
    note="TRL's `aot_unpaired` (unpaired data); sorts across the batch",
    **_AOT,
)
def aot_unpaired(pc, pr, rc, rr, epsilon, beta):
    """AOT (unpaired): sort the chosen and the rejected log-ratio across the batch, then cDPO."""
    return _sorted_cdpo(pc - rc, pr - rr, epsilon, beta)
