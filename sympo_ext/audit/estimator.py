"""Noise-rate and suspicion estimators on margins taken as labelled (pure math, no model).

A margin ``m_i`` is the scorer's reward gap on pair ``i`` in the orientation its label gives
(labelled-preferred minus labelled-rejected). A correctly labelled pair should have ``m > 0``,
a flipped one ``m < 0``.

Methods
-------
* ``mixture`` (default): the symmetric-noise model. If the scorer ranks by a reward that label
  noise does not distort (SymPO's rank preservation) and a flip swaps the orientation, the
  labelled margins follow ``(1 - eps) f(m) + eps f(-m)``. With ``f = N(mu, s^2)`` this is a
  two-component Gaussian mixture with mirrored means and a shared variance, fitted by EM with
  ``eps`` kept in ``[0, EPS_CAP]`` (at 1/2 the mirrored mixture is symmetric and cannot say which
  side is right). ``eps`` is the noise-rate estimate; the suspicion of pair ``i`` is its posterior
  probability of being flipped, ``sigmoid(log(eps / (1 - eps)) - 2 mu m_i / s^2)`` -- monotone in
  the margin.

  **Guard** (the scorer's margins need not have that shape; an LM policy's often do not): the fit
  is *degenerate* when (a) ``mu <= 0`` (the scorer's margins do not side with the labels at
  all), (b) ``eps`` ends at the cap ``EPS_CAP`` (the likelihood wants half or more of the
  labels flipped), (c) ``mu / s < MIN_SEPARATION`` (the two components overlap: ``eps`` is not
  identified), or (d) the fit is poor: the Kolmogorov-Smirnov distance between the margins'
  empirical CDF and the fitted mixture's exceeds ``max(KS_MAX, KS_C / sqrt(n))`` (a 1 %-level
  KS bound for small ``n``). A degenerate fit is never used: the estimate falls back to
  ``sign`` (below), ``method`` says ``sign``, and ``params`` keeps the rejected fit, its KS
  distance and the reason (``fallback_from``, ``fallback_reason``); the reason is also in
  ``warnings``.
* ``sign``: the share of negative margins is the noise-rate estimate; the suspicion is
  ``sigmoid(-m_i)``, the Bradley-Terry probability under the scorer's reward that the labelled
  rejected response is the better one (calibrated when the margin is a BT logit, as DPO's is).
* ``cleanlab``: confident learning (cleanlab, the optional ``audit`` extra) on the pairs'
  probabilities ``sigmoid(m)`` (see :func:`cleanlab_estimate`).

A pair is flagged when its suspicion exceeds the threshold (default 0.5; ``cleanlab`` uses its
own per-class thresholds and takes none). Whatever the method, ``warnings`` says when the
estimate is 1/2 or more (the scorer disagrees with most labels) or every pair is flagged: such a
result is never returned silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "METHODS",
    "DEFAULT_THRESHOLD",
    "NoiseEstimate",
    "estimate_noise",
    "fit_mirrored_mixture",
    "mixture_fit_check",
    "EPS_CAP",
    "MIN_SEPARATION",
    "KS_MAX",
    "cleanlab_estimate",
    "roc_auc",
    "precision_at_k",
]

METHODS = ("mixture", "sign", "cleanlab")
DEFAULT_THRESHOLD = 0.5
EPS_CAP = 0.49  # the mixture's eps is kept below 1/2; a fit that ends here is degenerate
MIN_SEPARATION = 0.5  # mu / s below this: the mirrored components overlap, eps is not identified
KS_MAX = 0.06  # KS distance (empirical vs fitted CDF) above max(KS_MAX, KS_C / sqrt(n)): a poor fit
KS_C = 1.63  # the 1 %-level Kolmogorov-Smirnov bound c / sqrt(n)


@dataclass
class NoiseEstimate:
    """``suspicion`` in [0, 1] per margin (higher = more likely mislabelled); ``flagged`` bool."""

    method: str
    noise_rate: float
    suspicion: np.ndarray
    flagged: np.ndarray
    threshold: float | None
    params: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _check_margins(margins) -> np.ndarray:
    m = np.asarray(margins, dtype=np.float64).reshape(-1)
    if m.size == 0:
        raise ValueError("no margins to estimate from (empty data)")
    if not np.all(np.isfinite(m)):
        raise ValueError("margins must be finite (a NaN/inf margin: check the model's log-probs)")
    return m


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def fit_mirrored_mixture(
    margins, *, max_iter: int = 1000, tol: float = 1e-10, eps_cap: float = EPS_CAP
) -> tuple[float, float, float]:
    """EM fit of ``(1 - eps) N(mu, s^2) + eps N(-mu, s^2)`` with ``eps`` in ``[0, eps_cap]``; returns
    (eps, mu, s). ``mu`` may come out <= 0 (the margins do not side with the labels): the caller
    decides (:func:`mixture_fit_check`)."""
    m = _check_margins(margins)
    if not 0.0 < eps_cap <= 0.5:
        raise ValueError(f"eps_cap must be in (0, 0.5], got {eps_cap!r}")
    scale = float(np.sqrt(np.mean(m * m))) or 1.0
    floor = (1e-6 * scale) ** 2  # identical margins would give s = 0
    eps = float(np.clip(np.mean(m < 0), 0.01, min(0.49, eps_cap)))
    mu = float(np.mean(np.abs(m)))
    var = max(float(np.var(np.abs(m))), floor)
    for _ in range(max_iter):
        logit = math.log(eps / (1 - eps)) - 2.0 * mu * m / var
        w = _sigmoid(logit)  # P(flipped | m)
        # the M-step for eps under the box constraint: the mean posterior, clipped (concave in eps)
        new_eps = float(np.clip(np.mean(w), 1e-12, eps_cap))
        new_mu = float(np.mean((1.0 - 2.0 * w) * m))
        new_var = max(float(np.mean((1 - w) * (m - new_mu) ** 2 + w * (m + new_mu) ** 2)), floor)
        done = abs(new_eps - eps) < tol and abs(new_mu - mu) < tol * scale and abs(new_var - var) < tol * scale**2
        eps, mu, var = new_eps, new_mu, new_var
        if done:
            break
    return eps, mu, math.sqrt(var)


_erf = np.frompyfunc(math.erf, 1, 1)


def _mixture_cdf(x: np.ndarray, eps: float, mu: float, s: float) -> np.ndarray:
    def phi(z):
        return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(np.float64))

    return (1.0 - eps) * phi((x - mu) / s) + eps * phi((x + mu) / s)


def ks_distance(margins, eps: float, mu: float, s: float) -> float:
    """Kolmogorov-Smirnov distance between the margins' empirical CDF and the mirrored mixture's."""
    x = np.sort(_check_margins(margins))
    if s <= 0:
        return 1.0
    n = x.size
    cdf = _mixture_cdf(x, eps, mu, s)
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def mixture_fit_check(
    margins, eps: float, mu: float, s: float, *, eps_cap: float = EPS_CAP
) -> tuple[str | None, float]:
    """(why the fit is degenerate, or None; its KS distance) by the guard's rules (module docstring)."""
    m = _check_margins(margins)
    ks = ks_distance(m, eps, mu, s) if s > 0 else 1.0
    if mu <= 0:
        return f"mu = {mu:.3g} <= 0: the margins do not side with the labels (no mirrored-mixture shape)", ks
    if eps >= eps_cap - 1e-9:
        return f"eps reached the cap {eps_cap:g}: the fit wants half or more of the labels flipped", ks
    if mu / s < MIN_SEPARATION:
        return f"mu / s = {mu / s:.3g} < {MIN_SEPARATION:g}: the components overlap, eps is not identified", ks
    bound = max(KS_MAX, KS_C / math.sqrt(m.size))
    if ks > bound:
        return f"poor fit: KS distance {ks:.3f} > {bound:.3f} (the margins are not a mirrored Gaussian mixture)", ks
    return None, ks


def _flags(suspicion: np.ndarray, threshold: float) -> np.ndarray:
    return suspicion > threshold


def check_threshold(threshold) -> float:
    t = float(threshold)
    if not 0.0 <= t <= 1.0 or math.isnan(t):
        raise ValueError(f"threshold must be in [0, 1] (a suspicion level), got {threshold!r}")
    return t


def cleanlab_estimate(margins, *, seed: int = 0) -> NoiseEstimate:
    """Confident learning on the pairs as a binary task. Pair ``i`` is shown to cleanlab in a
    fixed random orientation (a seeded coin; both classes are needed and the problem is symmetric):
    given label ``y_i`` and ``P(y = 1) = sigmoid(m_i)`` in that orientation. Flags:
    ``cleanlab.filter.find_label_issues``; suspicion: 1 - self-confidence; noise rate: the
    off-diagonal mass of ``cleanlab.count.estimate_joint``."""
    m = _check_margins(margins)
    try:
        from cleanlab.count import estimate_joint
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError as e:
        raise ImportError(
            "--method cleanlab needs the cleanlab package: pip install 'sympo_ext[audit]' (or pip install cleanlab)"
        ) from e
    if m.size < 4:
        raise ValueError(f"--method cleanlab needs at least 4 scored pairs, got {m.size}")
    swap = np.random.default_rng(seed).random(m.size) < 0.5
    swap[0], swap[1] = False, True  # both classes present
    labels = np.where(swap, 0, 1)
    p1 = _sigmoid(np.where(swap, -m, m))
    p1 = np.clip(p1, 1e-12, 1 - 1e-12)
    probs = np.stack([1 - p1, p1], axis=1)
    flagged = np.asarray(find_label_issues(labels, probs, n_jobs=1), dtype=bool)  # no worker pool
    suspicion = 1.0 - np.asarray(get_label_quality_scores(labels, probs, method="self_confidence"))
    joint = estimate_joint(labels, probs)
    rate = float(joint[0, 1] + joint[1, 0])
    return NoiseEstimate("cleanlab", rate, np.clip(suspicion, 0.0, 1.0), flagged, None, {"orientation_seed": seed})


def estimate_noise(margins, *, method: str = "mixture", threshold: float | None = None) -> NoiseEstimate:
    """The noise rate, each margin's suspicion and the flags, by ``method`` (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "cleanlab":
        if threshold is not None:
            raise ValueError(
                "--threshold does not apply to --method cleanlab (confident learning sets its own "
                "per-class thresholds); drop it or use --method mixture / sign"
            )
        est = cleanlab_estimate(margins)
        return _general_warnings(est, est.suspicion.size)
    t = DEFAULT_THRESHOLD if threshold is None else check_threshold(threshold)
    m = _check_margins(margins)
    if method == "sign":
        return _general_warnings(_sign(m, t), m.size)
    eps, mu, s = fit_mirrored_mixture(m)
    reason, ks = mixture_fit_check(m, eps, mu, s)
    fit = {"eps": eps, "mu": mu, "sigma": s, "ks_distance": ks}
    if reason is not None:
        est = _sign(m, t)
        est.params = {"fallback_from": "mixture", "fallback_reason": reason, "mixture_fit": fit}
        est.warnings.append(f"mixture fit degenerate ({reason}); fell back to --method sign")
        return _general_warnings(est, m.size)
    suspicion = _sigmoid(math.log(eps / (1 - eps)) - 2.0 * mu * m / (s * s))
    est = NoiseEstimate("mixture", eps, suspicion, _flags(suspicion, t), t, {"mu": mu, "sigma": s, "ks_distance": ks})
    return _general_warnings(est, m.size)


def _sign(m: np.ndarray, t: float) -> NoiseEstimate:
    suspicion = _sigmoid(-m)
    return NoiseEstimate("sign", float(np.mean(m < 0)), suspicion, _flags(suspicion, t), t)


def _general_warnings(est: NoiseEstimate, n: int) -> NoiseEstimate:
    if est.noise_rate >= 0.5:
        est.warnings.append(
            f"estimated noise rate {est.noise_rate:.0%} >= 50%: the scorer disagrees with most labels (a wrong "
            "reference, an untrained or mis-specified policy, or labels with the opposite meaning); do not use "
            "cleaned.jsonl before checking"
        )
    if n and int(est.flagged.sum()) == n:
        est.warnings.append(f"every pair ({n}) is flagged: cleaned.jsonl would be empty; check the scorer")
    return est


# --------------------------------------------------------------------------- #
# evaluation against known flips (experiments, tests)
# --------------------------------------------------------------------------- #


def roc_auc(scores, positives) -> float:
    """ROC-AUC of ``scores`` for the boolean ``positives`` (ties half; Mann-Whitney)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size)
    sorted_s = s[order]
    i = 0
    while i < s.size:  # average ranks of ties
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def precision_at_k(scores, positives, k: int | None = None) -> float:
    """Share of true positives among the ``k`` highest scores (default k = number of positives)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    k = int(y.sum()) if k is None else int(k)
    if k <= 0:
        return float("nan")
    top = np.argsort(-s, kind="mergesort")[:k]
    return float(y[top].mean())
