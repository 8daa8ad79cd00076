"""Digits-preference experiment: data construction, noise, the run function and a learnability check."""

from __future__ import annotations

import csv
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sympo_ext.experiments import digits
from sympo_ext.experiments.digits import DigitsConfig, NoiseSetting


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_by_image_has_no_leakage(seed):
    data = digits.build_data(seed)
    train, test = set(data.train_images.tolist()), set(data.test_images.tolist())
    assert not train & test
    assert train | test == set(range(len(data.X)))
    assert abs(len(test) - 0.3 * len(data.X)) <= 1
    # every image of a training pair is a training image, every image of a test pair a test image
    assert set(data.train_pairs.flatten().tolist()) <= train
    assert set(data.test_pairs.flatten().tolist()) <= test
    # pairs of different digits only
    d = data.digits
    assert (d[data.train_pairs[:, 0]] != d[data.train_pairs[:, 1]]).all()
    assert (d[data.test_pairs[:, 0]] != d[data.test_pairs[:, 1]]).all()
    assert len(data.train_pairs) > 800 and len(data.test_pairs) > 1500


def test_validation_split_never_touches_test_images():
    real = digits.build_data(3)
    val = digits.build_data(3, replace(DigitsConfig(), validation=True))
    real_test = set(real.test_images.tolist())
    assert not set(val.train_images.tolist()) & real_test
    assert not set(val.test_images.tolist()) & real_test
    assert not set(val.train_images.tolist()) & set(val.test_images.tolist())


def test_bt_labels_follow_bradley_terry_probabilities():
    rng = np.random.default_rng(0)
    n = 20_000
    for diff in range(-9, 10):
        if diff == 0:
            continue
        d_a = np.full(n, max(diff, 0))
        d_b = d_a - diff
        labels = digits.bt_preferences(d_a, d_b, rng)
        p = 1 / (1 + math.exp(-diff))
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(labels.mean() - p) <= 4.5 * sigma + 1e-12, (diff, labels.mean(), p)


def test_bt_labels_in_built_pairs_are_consistent():
    # pooled over seeds: P(label = 1 | d_a - d_b = k) matches sigmoid(k) for the common differences
    counts: dict[int, list[int]] = {}
    for seed in range(4):
        data = digits.build_data(seed)
        diff = (data.digits[data.test_pairs[:, 0]] - data.digits[data.test_pairs[:, 1]]).numpy()
        for k, lab in zip(diff, data.test_true.numpy()):
            counts.setdefault(int(k), []).append(int(lab))
    checked = 0
    for k, labs in counts.items():
        if len(labs) < 200:
            continue
        p = 1 / (1 + math.exp(-k))
        sigma = math.sqrt(p * (1 - p) / len(labs))
        assert abs(np.mean(labs) - p) <= 5 * sigma + 1e-3, (k, np.mean(labs), p)
        checked += 1
    assert checked >= 8
    # the order inside a pair is random: the class prior is ~1/2
    assert abs(np.mean([x for v in counts.values() for x in v]) - 0.5) < 0.03


def test_noise_rates_are_realised():
    n = 40_000
    true = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(0))
    for noise in (NoiseSetting(0.0, 0.0), NoiseSetting(0.2, 0.2), NoiseSetting(0.4, 0.4), NoiseSetting(0.1, 0.3)):
        noisy, flipped = digits.noisy_labels(true, noise, seed=5)
        assert torch.equal(noisy != true, flipped)
        for cls, eps in ((1, noise.eps_pos), (0, noise.eps_neg)):
            rate = flipped[true == cls].float().mean().item()
            m = int((true == cls).sum())
            assert abs(rate - eps) <= 4.5 * math.sqrt(max(eps * (1 - eps), 1e-12) / m) + 1e-9, (noise, cls, rate)
        # deterministic in the seed, different across seeds
        again, _ = digits.noisy_labels(true, noise, seed=5)
        assert torch.equal(noisy, again)
        if noise.mean > 0:
            other, _ = digits.noisy_labels(true, noise, seed=6)
            assert not torch.equal(noisy, other)


def test_noise_setting_parse():
    assert NoiseSetting.parse("0.2") == NoiseSetting(0.2, 0.2)
    a = NoiseSetting.parse("0.1:0.3")
    assert (a.eps_pos, a.eps_neg, a.kind, a.name) == (0.1, 0.3, "asymmetric", "0.1:0.3")
    assert a.mean == pytest.approx(0.2)
    assert NoiseSetting.parse("0.2,0.4") == NoiseSetting(0.2, 0.4)
    for bad in ("x", "1.0", "0.6:0.6", "-0.1"):
        with pytest.raises(ValueError):
            NoiseSetting.parse(bad)


def test_quick_preset_runs_and_writes_csv(tmp_path):
    rows = digits.main(
        [
            "--quick",
            "--out",
            str(tmp_path),
            "--losses",
            "logistic",
            "sigmoid",
            "rdpo",
            "--noise",
            "0",
            "0.1:0.3",
            "--epochs",
            "3",
            "--no-progress",
        ]
    )
    assert len(rows) == 6
    with open(tmp_path / "runs.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == digits.CSV_COLUMNS
        csv_rows = list(reader)
    assert len(csv_rows) == 6
    for row in csv_rows:
        for key in ("test_acc_true", "test_acc_order", "test_spearman", "train_acc_noisy", "oracle_acc_true"):
            assert math.isfinite(float(row[key])), (key, row)
        assert 0.0 <= float(row["test_acc_true"]) <= 1.0
        assert -1.0 <= float(row["test_spearman"]) <= 1.0
        assert abs(float(row["reward_max"])) <= DigitsConfig().clamp + 1e-6
    rdpo = [r for r in csv_rows if r["loss"] == "rdpo" and r["noise"] == "0.1:0.3"][0]
    assert float(rdpo["loss_epsilon"]) == pytest.approx(0.2)  # the mean flip rate
    assert (tmp_path / "summary.md").read_text().count("|") > 20
    assert (tmp_path / "summary.csv").exists()
    assert (tmp_path / "digits_accuracy.png").stat().st_size > 1000
    assert (tmp_path / "digits_asymmetric.png").stat().st_size > 1000


def test_clean_labels_learn_a_rank_preserving_reward():
    """Can fail: a reward trained with clean labels must rank the digits, and one trained on
    coin-flip labels must not."""
    cfg = DigitsConfig()
    data = digits.build_data(0, cfg)
    clean = NoiseSetting(0.0, 0.0)
    model, _ = digits.fit_digits_model(data, data.train_true, "logistic", clean, 0, cfg)
    m = digits.evaluate(model, data, data.train_true)
    assert m["test_spearman"] > 0.85, m
    assert m["test_acc_order"] > 0.85, m
    assert m["test_acc_true"] > m["oracle_acc_true"] - 0.1, m

    coin = torch.randint(0, 2, data.train_true.shape, generator=torch.Generator().manual_seed(1))
    model, _ = digits.fit_digits_model(data, coin, "logistic", clean, 0, replace(cfg, epochs=10))
    m = digits.evaluate(model, data, coin)
    assert abs(m["test_spearman"]) < 0.35, m


def test_common_summaries():
    from sympo_ext.experiments import common

    rows = [{"loss": "logistic", "noise": "0.2", "seed": s, "m": v} for s, v in enumerate([0.5, 0.7])] + [
        {"loss": "sigmoid", "noise": "0.2", "seed": s, "m": v} for s, v in enumerate([0.6, 0.6])
    ]
    summ = common.summarize(rows, ["loss", "noise"], ["m"])
    assert summ[0]["m_mean"] == pytest.approx(0.6) and summ[0]["m_std"] == pytest.approx(math.sqrt(0.02))
    assert summ[1]["m_std"] == 0.0 and summ[1]["n"] == 2
    table = common.pivot_markdown(summ, row_key="loss", col_key="noise", metric="m")
    assert "**0.600 ± 0.000**" in table and "**0.600 ± 0.141**" in table  # ties are both bold
    paired = common.paired_markdown(rows, baseline="logistic", metric="m")
    assert "+0.000 ± 0.141 (1/2)" in paired
