"""sympo_ext.metrics: the pair-accuracy rule (ties half, labels honoured, NaN wrong) and the
TRL-named metrics from summed stats, against hand-computed numbers."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from sympo_ext.metrics import (
    METRIC_NAMES,
    STAT_KEYS,
    metrics_from_stats,
    pair_accuracy,
    pair_correct,
    preference_metrics,
    preference_stats,
)


def test_pair_correct_signs_ties_labels_and_nan():
    margins = torch.tensor([2.0, -1.0, 0.0, float("nan"), -3.0, 0.5])
    labels = torch.tensor([1, 1, 1, 1, 0, 0])
    assert pair_correct(margins, labels).tolist() == [1.0, 0.0, 0.5, 0.0, 1.0, 0.0]
    assert pair_correct(margins).tolist() == [1.0, 0.0, 0.5, 0.0, 0.0, 1.0]  # no labels: all 1
    assert pair_accuracy(margins, labels) == pytest.approx(2.5 / 6)
    assert math.isnan(pair_accuracy(torch.empty(0)))


def test_step_zero_is_chance():
    assert pair_accuracy(torch.zeros(7), torch.randint(0, 2, (7,))) == 0.5


def _out(chosen, rejected, nll=None):
    chosen, rejected = torch.tensor(chosen, dtype=torch.float64), torch.tensor(rejected, dtype=torch.float64)
    return SimpleNamespace(chosen_rewards=chosen, rejected_rewards=rejected, margins=chosen - rejected, nll=nll)


def test_stats_are_sums_and_metrics_are_means():
    out = _out([1.0, 0.0, -2.0], [0.5, 0.0, -1.0], nll=torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64))
    logps_c, logps_r = torch.tensor([-3.0, -4.0, -5.0]), torch.tensor([-6.0, -7.0, -8.0])
    labels, true = torch.tensor([1, 1, 0]), torch.tensor([1, -1, 1])
    stats = preference_stats(out, logps_c, logps_r, labels, true, loss_sum=torch.tensor(1.5))
    assert set(STAT_KEYS) <= set(stats) and "nll_loss" in stats
    assert float(stats["pairs"]) == 3 and float(stats["loss"]) == 1.5
    assert float(stats["rewards/accuracies"]) == 1.0 + 0.5 + 1.0  # margins 0.5, 0, -1 (label 0)
    assert float(stats["true_known"]) == 2 and float(stats["rewards/true_accuracies"]) == 1.0  # pair 3 wrong
    m = metrics_from_stats(stats)
    assert float(m["loss"]) == pytest.approx(0.5)
    assert float(m["rewards/margins"]) == pytest.approx((0.5 + 0.0 - 1.0) / 3)
    assert float(m["rewards/accuracies"]) == pytest.approx(2.5 / 3)
    assert float(m["rewards/true_accuracies"]) == pytest.approx(0.5)
    assert float(m["logps/rejected"]) == pytest.approx(-7.0) and float(m["nll_loss"]) == pytest.approx(0.4)
    assert set(m) <= set(METRIC_NAMES)


def test_no_true_labels_known_gives_no_true_accuracy_and_batch_means_keep_dtype():
    out = _out([1.0, 2.0], [0.0, 3.0])
    stats = preference_stats(out, torch.zeros(2), torch.zeros(2), None, torch.tensor([-1, -1]))
    assert "rewards/true_accuracies" not in metrics_from_stats(stats)
    means = preference_metrics(out, torch.zeros(2), torch.zeros(2))
    assert "loss" not in means and means["rewards/accuracies"].dtype == torch.float64
    assert float(means["rewards/accuracies"]) == 0.5


def test_metric_names_are_the_one_list():
    assert len(set(METRIC_NAMES)) == len(METRIC_NAMES)
    assert STAT_KEYS[0] == "pairs" and {k for k in STAT_KEYS if k not in ("pairs", "true_known")} <= set(METRIC_NAMES)
