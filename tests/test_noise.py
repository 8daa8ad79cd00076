"""sympo_ext.noise: realised flip rates (binomial bounds), seeding, recorded flips, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from sympo_ext.noise import NoiseResult, flip_labels, instance_flip_prob

N = 20_000


def within_binomial(count: int, n: int, p: float, z: float = 5.0) -> bool:
    """|count - n p| <= z sigma (5 sigma: a false failure has probability < 1e-6 per check)."""
    return abs(count - n * p) <= z * math.sqrt(max(n * p * (1 - p), 1e-12)) + 1e-9


def mixed_labels(n=N, seed=0):
    return (torch.rand(n, generator=torch.Generator().manual_seed(seed)) < 0.6).long()


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_rate(eps, seed):
    y = mixed_labels(seed=seed + 10)
    res = flip_labels(y, eps=eps, seed=seed)
    assert isinstance(res, NoiseResult)
    assert res.labels.dtype == torch.long and res.flipped.dtype == torch.bool
    assert torch.equal(res.labels, torch.where(res.flipped, 1 - y, y))
    assert within_binomial(res.num_flipped, N, eps)
    # the rate is the same in both classes
    for cls in (0, 1):
        m = y == cls
        assert within_binomial(int(res.flipped[m].sum()), int(m.sum()), eps)
    assert res.rate == res.num_flipped / N


@pytest.mark.parametrize("eps_pos, eps_neg", [(0.3, 0.0), (0.1, 0.4), (0.0, 0.25)])
def test_asymmetric_rates(eps_pos, eps_neg):
    y = mixed_labels()
    res = flip_labels(y, kind="asymmetric", eps_pos=eps_pos, eps_neg=eps_neg, seed=3)
    pos, neg = y == 1, y == 0
    assert within_binomial(int(res.flipped[pos].sum()), int(pos.sum()), eps_pos)
    assert within_binomial(int(res.flipped[neg].sum()), int(neg.sum()), eps_neg)
    assert torch.equal(res.labels, torch.where(res.flipped, 1 - y, y))
    # eps fills in a missing side
    res2 = flip_labels(y, kind="asymmetric", eps=0.2, eps_pos=eps_pos, seed=3)
    assert within_binomial(int(res2.flipped[neg].sum()), int(neg.sum()), 0.2)


def test_instance_noise():
    margins = torch.randn(N, generator=torch.Generator().manual_seed(5)) * 2
    for eps in (0.1, 0.3, 0.5):
        p = instance_flip_prob(margins, eps)
        assert p.shape == (N,) and abs(float(p.mean()) - eps) < 1e-9
        assert float(p.max()) <= 0.5 + 1e-12 and float(p.min()) >= 0
        # harder pairs (small |margin|) flip more: p is non-increasing in |margin|
        order = margins.abs().argsort()
        assert bool((p[order][1:] <= p[order][:-1] + 1e-12).all())
        res = flip_labels(torch.ones(N, dtype=torch.long), kind="instance", flip_prob=p, seed=7)
        sigma = math.sqrt(float((p * (1 - p)).sum()))
        assert abs(res.num_flipped - float(p.sum())) <= 5 * sigma
        hard, easy = margins.abs() < margins.abs().median(), margins.abs() >= margins.abs().median()
        if eps < 0.5:
            assert res.flipped[hard].float().mean() > res.flipped[easy].float().mean()
    assert torch.allclose(instance_flip_prob(torch.ones(10), 0.2), torch.full((10,), 0.2, dtype=torch.float64))
    assert instance_flip_prob(margins, 0.0).sum() == 0
    p = instance_flip_prob(margins, 0.6, max_prob=1.0)
    assert abs(float(p.mean()) - 0.6) < 1e-9


def test_seeds_reproduce_and_differ():
    y = mixed_labels()
    a, b, c = (flip_labels(y, eps=0.3, seed=s) for s in (11, 11, 12))
    assert torch.equal(a.flipped, b.flipped) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.flipped, c.flipped)
    # the global RNG is untouched
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    flip_labels(y, eps=0.3, seed=1)
    assert torch.equal(torch.rand(3), before)
    # nested: raising eps only adds flips (same uniforms)
    lo, hi = flip_labels(y, eps=0.1, seed=4), flip_labels(y, eps=0.3, seed=4)
    assert bool((hi.flipped | ~lo.flipped).all())


def test_inputs_accepted():
    res = flip_labels([1, 0, 1, 1], eps=1.0)
    assert res.labels.tolist() == [0, 1, 0, 0] and res.flipped.all()
    assert flip_labels(torch.tensor([True, False]), eps=0.0).labels.tolist() == [1, 0]
    empty = flip_labels(torch.zeros(0, dtype=torch.long), eps=0.3)
    assert empty.labels.numel() == 0 and empty.rate == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eps=1.5), "eps must be in"),
        (dict(eps=-0.1), "eps must be in"),
        (dict(kind="uniform", eps=0.1), "unknown noise kind"),
        (dict(kind="asymmetric", eps_pos=0.1, eps_neg=2.0), "eps_neg must be in"),
        (dict(kind="instance"), "needs flip_prob"),
        (dict(kind="instance", flip_prob=torch.full((3,), 0.1)), "shape"),
        (dict(kind="instance", flip_prob=torch.full((4,), 1.1)), r"\[0, 1\]"),
        (dict(eps=0.1, eps_pos=0.2), "symmetric noise takes eps only"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        flip_labels(torch.tensor([0, 1, 1, 0]), **kwargs)


def test_bad_labels_and_margins():
    with pytest.raises(ValueError, match="must be 0/1, got 2"):
        flip_labels(torch.tensor([0, 2]), eps=0.1)
    with pytest.raises(ValueError, match="1-D"):
        flip_labels(torch.zeros(2, 2, dtype=torch.long), eps=0.1)
    with pytest.raises(ValueError, match="eps must be in"):
        instance_flip_prob(torch.randn(5), 0.6)
    with pytest.raises(ValueError, match="finite"):
        instance_flip_prob(torch.tensor([1.0, float("nan")]), 0.1)
