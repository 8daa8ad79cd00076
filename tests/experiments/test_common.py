"""sympo_ext.experiments.common: statistics, CSV round trip and the markdown tables, on known numbers."""

from __future__ import annotations

import math

import pytest

from sympo_ext.experiments import common


def test_mean_std_sample_std_and_finite_values_only():
    mean, std, n = common.mean_std([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4) and std == pytest.approx(math.sqrt(5 / 3), rel=1e-12)  # sample std (n - 1)
    assert common.mean_std([2.0, float("nan"), None, 4.0]) == (3.0, pytest.approx(math.sqrt(2)), 2)
    assert common.mean_std([7.0]) == (7.0, 0.0, 1)
    mean, std, n = common.mean_std([float("nan")])
    assert math.isnan(mean) and math.isnan(std) and n == 0


def test_summarize_groups_in_first_seen_order():
    rows = [
        dict(loss="b", seed=0, acc=5.0, gain=1.0),
        dict(loss="a", seed=0, acc=1.0, gain=0.0),
        dict(loss="a", seed=1, acc=3.0, gain=2.0),
    ]
    out = common.summarize(rows, ["loss"], ["acc", "gain"])
    assert [s["loss"] for s in out] == ["b", "a"]
    assert out[0] == dict(loss="b", acc_mean=5.0, acc_std=0.0, gain_mean=1.0, gain_std=0.0, n=1)
    assert out[1]["acc_mean"] == 2.0 and out[1]["acc_std"] == pytest.approx(math.sqrt(2))
    assert out[1]["gain_mean"] == 1.0 and out[1]["n"] == 2


def test_csv_round_trip(tmp_path):
    rows = [dict(loss="sigmoid", noise=0.2, acc=0.75), dict(loss="logistic", noise=0, acc=1)]
    path = common.write_csv(rows, tmp_path / "sub" / "runs.csv", columns=["acc", "loss", "noise"])
    assert path.read_text().splitlines()[0] == "acc,loss,noise"
    assert common.read_csv(path) == [
        dict(acc=0.75, loss="sigmoid", noise=0.2),
        dict(acc=1.0, loss="logistic", noise=0.0),
    ]
    with pytest.raises(ValueError):  # a key the columns do not name is refused, not dropped
        common.write_csv(rows, tmp_path / "bad.csv", columns=["loss", "noise"])


def test_pivot_markdown_bolds_the_best_mean_per_column():
    summary = [
        dict(loss="a", noise=0, m_mean=0.5, m_std=0.1),
        dict(loss="a", noise=0.2, m_mean=0.4, m_std=0.0),
        dict(loss="b", noise=0, m_mean=0.7, m_std=0.05),
    ]
    assert common.pivot_markdown(summary, row_key="loss", col_key="noise", metric="m") == (
        "| loss | 0 | 0.2 |\n|---|---|---|\n| a | 0.500 ± 0.100 | **0.400 ± 0.000** |\n| b | **0.700 ± 0.050** |  |"
    )


def test_paired_markdown_differences_to_the_baseline_by_seed():
    rows = [
        dict(loss=loss, noise=0.4, seed=s, m=v)
        for loss, vals in (("dpo", (0.5, 0.5, 0.5)), ("sym", (0.6, 0.4, 0.7)))
        for s, v in enumerate(vals)
    ]
    # diffs 0.1, -0.1, 0.2: mean 1/15 = 0.067, sample std sqrt(0.07 / 3) = 0.153, 2 of 3 seeds ahead
    assert common.paired_markdown(rows, baseline="dpo", metric="m") == (
        "| loss - dpo | 0.4 |\n|---|---|\n| sym | +0.067 ± 0.153 (2/3) |"
    )
