"""LM-alignment-under-noise experiment: the quick preset end to end, paired data, cDPO/rDPO epsilon."""

from __future__ import annotations

import csv
import math
from dataclasses import replace

import pytest

from sympo_ext.experiments import lm_alignment as lm

# Smaller than the quick preset: these tests check plumbing, not learning.
TINY = replace(
    lm.QUICK_PRESET, sft_examples=256, sft_steps=10, train_pairs=32, eval_pairs=16, eval_prompts=16
).with_train(max_steps=4, batch_size=8)

# The columns every run fills with a finite number (eval_margin is left out: NaN where no held-out margin).
FINITE_COLUMNS = ("true_reward", "reference_true_reward", "reward_gain", "win_rate", "acc_true", "acc_noisy")
FINITE_COLUMNS += ("final_train_loss", "flip_rate", "seconds")


@pytest.mark.slow
def test_quick_preset_end_to_end(tmp_path):
    rows = lm.main(["--quick", "--out", str(tmp_path), "--no-progress"])
    assert [r["loss"] for r in rows] == list(lm.QUICK_LOSSES)
    with open(tmp_path / "lm_runs.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == lm.CSV_COLUMNS
        written = list(reader)
    assert len(written) == len(lm.QUICK_LOSSES) * len(lm.QUICK_NOISE) * len(lm.QUICK_SEEDS)
    for r in written:
        for key in FINITE_COLUMNS:
            assert math.isfinite(float(r[key])), (key, r[key])
        assert -1.0 <= float(r["true_reward"]) <= 1.0
        assert 0.0 <= float(r["win_rate"]) <= 1.0
        assert 0.0 <= float(r["acc_true"]) <= 1.0 and 0.0 <= float(r["acc_noisy"]) <= 1.0
        assert float(r["reward_gain"]) == pytest.approx(float(r["true_reward"]) - float(r["reference_true_reward"]))
        assert int(r["steps"]) == lm.QUICK_PRESET.train["max_steps"]
        assert 0.0 < float(r["flip_rate"]) < 0.5  # noise 0.2 was injected
    for name in ("lm_summary.md", "lm_summary.csv", "lm_reward_winrate.png", "lm_accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "SymPO-sigmoid" in (tmp_path / "lm_summary.md").read_text()


def test_loss_options_give_cdpo_rdpo_the_noise_rate():
    assert lm.loss_options("cdpo", 0.2) == {"epsilon": 0.2}
    assert lm.loss_options("rdpo", 0.4) == {"epsilon": 0.4}
    assert lm.loss_options("cdpo", 0.0) == {"epsilon": 0.0}
    for loss in ("logistic", "sigmoid", "symmetric_ramp"):
        assert lm.loss_options(loss, 0.4) == {}
    with pytest.raises(ValueError, match="unknown loss"):
        lm.loss_options("nope", 0.1)


def test_preset_overrides_apply_to_every_loss():
    args = lm.build_parser().parse_args(["--steps", "128", "--beta", "0.5"])
    preset = lm.preset_from_args(args)
    assert (preset.train["max_steps"], preset.train["beta"]) == (128, 0.5)
    assert preset.train["learning_rate"] == lm.FULL_PRESET.train["learning_rate"]
    assert preset.train_pairs == lm.FULL_PRESET.train_pairs
    assert lm.FULL_PRESET.train["max_steps"] == 512  # the demo's preset itself is untouched
    quick = lm.preset_from_args(lm.build_parser().parse_args(["--quick"]))
    assert quick == lm.QUICK_PRESET


def test_grid_is_paired_and_passes_epsilon(monkeypatch):
    calls = []
    real = lm.train_policy

    def spy(reference, tokenizer, train, evals, **kw):
        calls.append({"reference": id(reference), "train": train, "evals": evals, **kw})
        return real(reference, tokenizer, train, evals, **kw)

    monkeypatch.setattr(lm, "train_policy", spy)
    losses, noises = ("logistic", "cdpo", "rdpo", "sigmoid"), (0.0, 0.3)
    rows, info = lm.run_grid(losses, noises, (0,), TINY, workers=1, progress=False)
    assert len(rows) == len(calls) == len(losses) * len(noises) and [i["seed"] for i in info] == [0]

    # cdpo / rdpo trained with epsilon = the true flip rate; the other losses without epsilon
    for c, r in zip(calls, rows):
        assert c["loss_type"] == r["loss"]
        if r["loss"] in ("cdpo", "rdpo"):
            assert c["epsilon"] == r["noise"] == r["epsilon"]
        else:
            assert "epsilon" not in c and math.isnan(r["epsilon"])
    # one reference for the whole seed, the same pairs (and labels) for every loss at a noise level
    assert len({c["reference"] for c in calls}) == 1
    for noise in noises:
        mine = [(c, r) for c, r in zip(calls, rows) if r["noise"] == noise]
        assert all(c["train"] is mine[0][0]["train"] and c["evals"] is mine[0][0]["evals"] for c, _ in mine)
        assert len({r["data_hash"] for _, r in mine}) == 1
        assert len({r["reference_true_reward"] for _, r in mine}) == 1  # same reference, same eval prompts
    # across noise levels: the same sampled responses, different (flipped) labels
    clean = [r for r in rows if r["noise"] == 0.0]
    noisy = [r for r in rows if r["noise"] == 0.3]
    assert clean[0]["pairs_hash"] == noisy[0]["pairs_hash"]
    assert clean[0]["data_hash"] != noisy[0]["data_hash"]
    assert all(r["flip_rate"] == 0.0 for r in clean) and all(r["flip_rate"] > 0.0 for r in noisy)
    # at noise 0, cDPO (epsilon 0) is DPO: the same training on the same data
    by = {(r["loss"], r["noise"]): r for r in rows}
    assert by[("cdpo", 0.0)]["final_train_loss"] == pytest.approx(by[("logistic", 0.0)]["final_train_loss"], rel=1e-4)


@pytest.mark.slow
def test_process_pool_matches_in_process():
    losses, noises = ("logistic", "cdpo"), (0.2,)
    serial, _ = lm.run_grid(losses, noises, (1,), TINY, workers=1, progress=False)
    pooled, _ = lm.run_grid(losses, noises, (1,), TINY, workers=2, progress=False)
    for a, b in zip(serial, pooled):
        assert a["data_hash"] == b["data_hash"]
        for key in ("true_reward", "win_rate", "acc_true", "final_train_loss"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), key
