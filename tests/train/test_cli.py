"""The sympo-train command line (sympo_ext.train.cli): data formats, config files, bad input, --help."""

from __future__ import annotations

import json
import os

import pytest

from sympo_ext.train.metrics_log import read_metrics

from .helpers import clean_records, cli_base, cli_main, run_cli


def test_cli_trains_jsonl_and_conversational_json_with_config(model_dir, data_file, tmp_path, capsys):
    noise = ["--eval_fraction", "0.25", "--label_noise", "0.4", "--noise_seed", "3"]
    code, out, err = run_cli(cli_base(model_dir, data_file, tmp_path / "a") + noise, capsys)
    assert code == 0, err
    rows = read_metrics(str(tmp_path / "a"))
    assert {"train", "eval"} <= {r["split"] for r in rows}
    # injected noise: the original labels are kept as true labels, so both accuracies are reported
    assert all("rewards/true_accuracies" in r and "tokens_per_second" in r for r in rows if r["split"] == "train")
    assert os.path.isfile(tmp_path / "a" / "final" / "config.json")
    # conversational JSON (a list of records), options from a YAML config, one flag overriding it
    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps(clean_records(24, seed=8, conversational=True)))
    yaml_cfg = tmp_path / "c.yaml"
    yaml_cfg.write_text(
        f"model: {model_dir}\ntrain_data: {conv}\nloss_type: symmetric_ramp\nslope: 0.25\n"
        f"batch_size: 8\nmax_steps: 1\nmax_length: 32\nprogress: false\npacked: true\n"
    )
    code, out, err = run_cli(["--config", yaml_cfg, "--output_dir", tmp_path / "b", "--max_steps", "2"], capsys)
    assert code == 0, err
    stored = json.loads((tmp_path / "b" / "run.json").read_text())["config"]
    assert stored["loss_type"] == "symmetric_ramp" and stored["max_steps"] == 2 and stored["packed"] is True
    # the loss in words: printed at start and recorded in run.json (LossSpec.describe)
    described = json.loads((tmp_path / "b" / "run.json").read_text())["loss"]
    assert "1 x symmetric_ramp: l = clamp(0.5 - slope * s, 0, 1), slope=0.25; symmetric" in described
    assert "[sympo-train] loss" not in err  # --progress false: start-up lines are not printed


def test_cli_describes_trl_clashing_names(model_dir, data_file, tmp_path, capsys):
    losses = ["--loss_types", "sigmoid,dpo", "--loss_weights", "1,0.5", "--progress", "true"]
    code, out, err = run_cli(cli_base(model_dir, data_file, tmp_path / "d") + losses, capsys)
    assert code == 0, err
    described = json.loads((tmp_path / "d" / "run.json").read_text())["loss"]
    assert "[sympo-train] " + described in err  # printed at start
    lines = described.splitlines()
    assert lines[1].startswith("  1 x sigmoid: l = 1 / (1 + exp(temperature * s)), temperature=1; symmetric")
    assert "NOT TRL's `sigmoid` (that is `logistic`)" in lines[1]
    assert lines[2].startswith("  0.5 x logistic: l = log(1 + exp(-s))") and "not symmetric" in lines[2]
    assert "TRL's `sigmoid`" in lines[2]


def test_cli_bad_inputs_are_clear_and_write_nothing(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    # missing model path
    code, _, err = run_cli(cli_base(str(tmp_path / "nope"), data_file, out), capsys)
    assert code == 2 and "--model" in err and "no such directory" in err and not out.exists()
    # unknown loss type: argparse refuses it
    with pytest.raises(SystemExit) as e:
        cli_main(cli_base(model_dir, data_file, str(out)) + ["--loss_type", "dpo_v2"])  # "dpo" is an alias
    assert e.value.code == 2 and "invalid choice: 'dpo_v2'" in capsys.readouterr().err
    # an option the loss would ignore
    code, _, err = run_cli(
        cli_base(model_dir, data_file, out) + ["--loss_type", "logistic", "--epsilon", "0.1"], capsys
    )
    assert code == 2 and "epsilon=0.1 has no effect" in err and not out.exists()
    # unknown key in a config file
    bad_cfg = tmp_path / "bad.json"
    bad_cfg.write_text(json.dumps({"lr": 1e-3}))
    code, _, err = run_cli(["--config", bad_cfg] + cli_base(model_dir, data_file, out), capsys)
    assert code == 2 and "unknown option(s) 'lr'" in err and not out.exists()
    # malformed JSONL: file:line and the missing field; no run directory created
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(clean_records(1)[0]) + "\n" + json.dumps({"prompt": "x", "chosen": "y"}) + "\n")
    code, _, err = run_cli(cli_base(model_dir, str(broken), out), capsys)
    assert code == 2 and "broken.jsonl:2" in err and "rejected" in err and not out.exists()
    # a prompt longer than max_length, refused by policy
    code, _, err = run_cli(
        cli_base(model_dir, data_file, out) + ["--max_length", "4", "--too_long_policy", "error"], capsys
    )
    assert code == 2 and "max_length" in err and not out.exists()
    # resume with nothing to resume
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--resume"], capsys)
    assert code == 2 and "holds no checkpoint" in err and not out.exists()
    # an output directory with another run: refused, untouched; --overwrite replaces it
    assert run_cli(cli_base(model_dir, data_file, out), capsys)[0] == 0
    stamp = (out / "run.json").stat().st_mtime_ns
    code, _, err = run_cli(cli_base(model_dir, data_file, out), capsys)
    assert code == 2 and "already holds another sympo-train run" in err and "--resume" in err
    assert (out / "run.json").stat().st_mtime_ns == stamp
    # a directory of unrelated files is refused too
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    code, _, err = run_cli(cli_base(model_dir, data_file, tmp_path / "other"), capsys)
    assert code == 2 and "other files" in err and (tmp_path / "other" / "notes.txt").exists()
    # resume with a trajectory-changing option refused
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--resume", "--learning_rate", "1"], capsys)
    assert code == 2 and "learning_rate" in err
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--overwrite", "--max_steps", "1"], capsys)
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["config"]["max_steps"] == 1


def test_cli_trains_a_saved_hf_dataset(model_dir, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(clean_records(16, seed=10)).save_to_disk(str(tmp_path / "ds"))
    code, _, err = run_cli(cli_base(model_dir, str(tmp_path / "ds"), tmp_path / "run"), capsys)
    assert code == 0, err


def test_help_is_grouped_with_defaults_and_examples(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = capsys.readouterr().out
    for needle in (
        "Start here",
        "Loss (any sympo_ext.sym_loss",
        "Optimisation",
        "sympo-train --demo",
        "(default: sigmoid)",
        "torchrun",
    ):
        assert needle in text
