"""The noise-rate estimators on margins drawn from a known mixture (sympo_ext.audit.estimator)."""

from __future__ import annotations

import numpy as np
import pytest

from sympo_ext.audit.estimator import estimate_noise, fit_mirrored_mixture, precision_at_k, roc_auc


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
    assert est.noise_rate == pytest.approx(e)
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


def test_roc_auc_and_precision_against_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    s = np.round(rng.normal(y * 1.0, 1.0), 1)  # ties on purpose
    assert roc_auc(s, y) == pytest.approx(sk.roc_auc_score(y, s))
    top = np.argsort(-s, kind="mergesort")[: y.sum()]
    assert precision_at_k(s, y) == pytest.approx(y[top].mean())
