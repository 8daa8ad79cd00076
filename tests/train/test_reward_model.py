"""Reward-model mode: sympo_ext.train.train_reward_model (reward modelling as classification)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sympo_ext.losses import LOSSES
from sympo_ext.train.reward_model import pair_accuracy, reward_scores, train_reward_model


def linear_task(n_items=300, n_pairs=1200, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_items, dim, generator=g)
    true_r = X @ torch.randn(dim, generator=g)
    a = torch.randint(0, n_items, (n_pairs,), generator=g)
    b = torch.randint(0, n_items, (n_pairs,), generator=g)
    keep = true_r[a] != true_r[b]
    a, b = a[keep], b[keep]
    return X, true_r, a, b, (true_r[a] > true_r[b]).float()


def mlp(dim=6, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 1))


def spearman(x, y):
    rx, ry = x.argsort().argsort().double(), y.argsort().argsort().double()
    return torch.corrcoef(torch.stack([rx, ry]))[0, 1].item()


@pytest.mark.parametrize("loss_type", ["sigmoid", "logistic"])
def test_reward_model_learns_the_ranking_under_noise(loss_type):
    X, true_r, a, b, y = linear_task()
    g = torch.Generator().manual_seed(1)
    noisy = torch.where(torch.rand(len(y), generator=g) < 0.3, 1 - y, y)
    res = train_reward_model(
        mlp(),
        a,
        b,
        noisy,
        pool=X,
        loss_type=loss_type,
        epochs=15,
        batch_size=128,
        lr=1e-2,
        true_labels=y,
        eval_pairs=(a, b, y),
    )
    scores = reward_scores(res.model, X)
    assert scores.shape == (len(X),)
    assert spearman(scores, true_r) > 0.8
    last = res.history[-1]
    assert last["rewards/true_accuracies"] > 0.8 and last["eval_rewards/accuracies"] > 0.8, last
    assert (
        last["rewards/accuracies"] < last["rewards/true_accuracies"]
    )  # the noisy labels are harder to fit than the truth
    assert res.history[-1]["loss"] < res.history[0]["loss"]


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_every_loss_trains_a_reward_model_on_direct_inputs(loss_type):
    X, _, a, b, y = linear_task(n_pairs=200)
    kw = {"cdpo": dict(epsilon=0.1), "rdpo": dict(epsilon=0.1)}.get(loss_type, {})
    model = mlp()
    clip = None if LOSSES[loss_type].kind == "batch" else 10.0  # AOT sorts log-ratios: no clip there
    res = train_reward_model(
        model, X[a], X[b], y, loss_type=loss_type, epochs=1, batch_size=64, lr=1e-3, clip=clip, **kw
    )
    assert res.model is model and len(res.history) == 1 and res.final_loss == res.final_loss  # finite


def test_reward_model_is_seeded_and_leaves_the_global_rng_alone():
    X, _, a, b, y = linear_task(n_pairs=200)
    runs = [train_reward_model(mlp(), a, b, y, pool=X, epochs=2, seed=3).model for _ in range(2)]
    for p, q in zip(runs[0].parameters(), runs[1].parameters()):
        assert torch.equal(p, q)
    model = mlp(seed=5)
    before = torch.get_rng_state()
    train_reward_model(model, a, b, y, pool=X, epochs=1, seed=3)
    assert torch.equal(torch.get_rng_state(), before)


def test_reward_model_bad_inputs():
    X, _, a, b, y = linear_task(n_pairs=50)
    with pytest.raises(ValueError, match="unknown loss_type"):
        train_reward_model(mlp(), a, b, y, pool=X, loss_type="dpo_v2")  # "dpo" is an alias of logistic
    with pytest.raises(ValueError, match="same length"):
        train_reward_model(mlp(), a, b[:-1], y, pool=X)
    with pytest.raises(ValueError, match="one score per input"):
        train_reward_model(nn.Linear(6, 3), a, b, y, pool=X)
    assert pair_accuracy(torch.tensor([1.0, -1.0, 0.0]), torch.tensor([1, 1, 0])) == pytest.approx(0.5)
