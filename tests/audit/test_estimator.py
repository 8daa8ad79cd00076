"""The noise-rate estimators on margins drawn from a known mixture (sympo_ext.audit.estimator)."""

from __future__ import annotations

import numpy as np
import pytest

from sympo_ext.audit.estimator import (
    EPS_CAP,
    KS_C,
    KS_MAX,
    MIN_SEPARATION,
    estimate_noise,
    fit_mirrored_mixture,
    ks_distance,
    mixture_fit_check,
    precision_at_k,
    roc_auc,
)


def _draw(eps, n=20000, mu=1.5, sigma=1.0, seed=0):
    rng = np.random.default_rng(seed)
    flipped = rng.random(n) < eps
    m = rng.normal(mu, sigma, n)
    m[flipped] *= -1
    return m, flipped


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.4])
def test_mixture_recovers_the_flip_rate_and_components(eps):
    m, flipped = _draw(eps)
    e, mu, s = fit_mirrored_mixture(m)
    assert e == pytest.approx(flipped.mean(), abs=0.015)
    assert mu == pytest.approx(1.5, abs=0.05) and s == pytest.approx(1.0, abs=0.05)
    est = estimate_noise(m)
    assert est.method == "mixture" and not est.warnings  # the guard stays quiet on the model's own shape
    assert est.noise_rate == pytest.approx(e)
    assert est.params["ks_distance"] < 0.02
    # the suspicion is the posterior of a flip: decreasing in the margin, in [0, 1]
    order = np.argsort(m)
    assert np.all(np.diff(est.suspicion[order]) <= 1e-12)
    assert est.suspicion.min() >= 0 and est.suspicion.max() <= 1
    # calibrated: the mean posterior among flagged pairs matches their share of true flips
    f = est.flagged
    assert flipped[f].mean() == pytest.approx(est.suspicion[f].mean(), abs=0.03)


def test_sign_method_and_thresholds():
    m, flipped = _draw(0.2)
    est = estimate_noise(m, method="sign")
    assert est.noise_rate == pytest.approx(np.mean(m < 0))
    assert np.array_equal(est.flagged, m < 0)  # threshold 0.5 <=> sigmoid(-m) > 0.5
    assert estimate_noise(m, method="sign", threshold=1.0).flagged.sum() == 0
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="threshold must be in"):
            estimate_noise(m, threshold=bad)


def test_cleanlab_method():
    pytest.importorskip("cleanlab")
    m, flipped = _draw(0.3, n=4000)
    est = estimate_noise(m, method="cleanlab")
    assert est.noise_rate == pytest.approx(flipped.mean(), abs=0.05)
    assert roc_auc(est.suspicion, flipped) > 0.85
    with pytest.raises(ValueError, match="does not apply to --method cleanlab"):
        estimate_noise(m, method="cleanlab", threshold=0.5)


def test_bad_margins_refused():
    with pytest.raises(ValueError, match="empty"):
        estimate_noise([])
    with pytest.raises(ValueError, match="finite"):
        estimate_noise([1.0, float("nan")])
    with pytest.raises(ValueError, match="method must be"):
        estimate_noise([1.0], method="magic")


def test_identical_margins_do_not_crash():
    est = estimate_noise(np.full(10, 2.0))
    assert est.noise_rate < 0.05 and not est.flagged.any()


# --------------------------------------------------------------------------- #
# the guard: margins that are not a mirrored mixture never give eps >= 1/2 or every pair flagged silently
# --------------------------------------------------------------------------- #


def _assert_fell_back(est, m, reason):
    assert est.method == "sign" and est.params["fallback_from"] == "mixture"
    assert reason in est.params["fallback_reason"]
    assert any("fell back to --method sign" in w for w in est.warnings)
    assert est.noise_rate == pytest.approx(np.mean(m < 0))  # the sign method's numbers, exactly
    assert np.array_equal(est.flagged, m < 0)
    assert set(est.params["mixture_fit"]) == {"eps", "mu", "sigma", "ks_distance"}


@pytest.mark.parametrize("eps", [0.6, 0.7, 0.9])
def test_guard_most_labels_flipped(eps):
    """More than half of the labels against the scorer: the fit hits the cap, sign reports it, with the >= 50 % warning."""
    m, flipped = _draw(eps, n=5000)
    e, mu, s = fit_mirrored_mixture(m)
    assert e <= EPS_CAP  # never above the cap
    est = estimate_noise(m)
    _assert_fell_back(est, m, "cap")
    assert est.noise_rate == pytest.approx(flipped.mean(), abs=0.1)
    assert any(">= 50%" in w for w in est.warnings)


def test_guard_all_margins_negative_flags_everything_loudly():
    m = -np.abs(np.random.default_rng(1).normal(1.5, 1.0, 500))
    est = estimate_noise(m)
    assert est.method == "sign" and est.flagged.all()
    assert any("every pair (500) is flagged" in w for w in est.warnings)
    assert any(">= 50%" in w for w in est.warnings)


def test_guard_overlapping_components():
    """One Gaussian centred at 0: no mirrored pair to tell apart, eps is not identified."""
    m = np.random.default_rng(2).normal(0.0, 1.0, 4000)
    e, mu, s = fit_mirrored_mixture(m)
    assert mu / s < MIN_SEPARATION or e >= EPS_CAP - 1e-9
    est = estimate_noise(m)
    assert est.method == "sign" and est.params["fallback_from"] == "mixture"


@pytest.mark.parametrize(
    "draw",
    [
        lambda r: r.exponential(1.0, 3000) - 0.3,  # skewed, one-sided
        lambda r: r.lognormal(0.0, 1.0, 3000),
        lambda r: np.where(r.random(3000) < 0.6, r.normal(0.05, 0.05, 3000), r.normal(3.0, 1.0, 3000)),  # spike + bump
    ],
)
def test_guard_poor_fit(draw):
    m = draw(np.random.default_rng(3))
    _assert_fell_back(estimate_noise(m), m, "poor fit")


def test_guard_threshold_applies_after_the_fallback():
    m = np.random.default_rng(4).exponential(1.0, 2000) - 0.3
    est = estimate_noise(m, threshold=0.7)
    assert est.method == "sign" and est.threshold == 0.7
    assert np.array_equal(est.flagged, 1 / (1 + np.exp(m)) > 0.7)


def test_guard_boundaries():
    rng = np.random.default_rng(5)
    # eps just below the cap, well separated: the mixture is kept; at the cap: degenerate
    m, _ = _draw(0.46, n=20000, mu=3.0)
    e, mu, s = fit_mirrored_mixture(m)
    assert e < EPS_CAP and mixture_fit_check(m, e, mu, s)[0] is None
    assert estimate_noise(m).method == "mixture"
    assert "cap" in mixture_fit_check(m, EPS_CAP, mu, s)[0]
    # mu <= 0 (also exactly 0)
    for bad_mu in (0.0, -1.0):
        assert "mu = " in mixture_fit_check(m, 0.2, bad_mu, 1.0)[0]
    # the separation: at MIN_SEPARATION kept, just below refused
    x, _ = _draw(0.1, n=20000, mu=MIN_SEPARATION, sigma=1.0)
    assert mixture_fit_check(x, 0.1, MIN_SEPARATION, 1.0)[0] is None  # the true parameters, at the boundary
    assert "overlap" in mixture_fit_check(x, 0.1, 0.99 * MIN_SEPARATION, 1.0)[0]
    # the KS bound: max(KS_MAX, KS_C / sqrt(n)); small samples get the wider bound
    small, _ = _draw(0.2, n=40, seed=6)
    e, mu, s = fit_mirrored_mixture(small)
    ks = ks_distance(small, e, mu, s)
    assert KS_MAX < KS_C / np.sqrt(40) and ks < KS_C / np.sqrt(40)
    assert estimate_noise(small).method == "mixture"
    assert ks_distance(rng.normal(10, 1, 100), 0.2, 1.0, 1.0) > 0.99  # far off: the distance is ~1
    with pytest.raises(ValueError, match="eps_cap"):
        fit_mirrored_mixture(m, eps_cap=0.6)


def test_sign_and_cleanlab_warn_above_one_half():
    m, _ = _draw(0.7, n=2000)
    assert any(">= 50%" in w for w in estimate_noise(m, method="sign").warnings)
    m, _ = _draw(0.2, n=2000)
    assert not estimate_noise(m, method="sign").warnings


def test_roc_auc_and_precision_against_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    s = np.round(rng.normal(y * 1.0, 1.0), 1)  # ties on purpose
    assert roc_auc(s, y) == pytest.approx(sk.roc_auc_score(y, s))
    top = np.argsort(-s, kind="mergesort")[: y.sum()]
    assert precision_at_k(s, y) == pytest.approx(y[top].mean())
