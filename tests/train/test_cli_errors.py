"""sympo-train (sympo_ext/train/cli.py) under bad input: one clear line and exit status 2, nothing written,
for bad options, tokenizer-less models, uncreatable output directories, unknown chat roles, a live run."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
import torch

from sympo_ext.train.rundir import LOCK_NAME

from .faults_helpers import BAD_OPTIONS, _start_long_run, _wait_for_rows, args_for, one_clear_line
from .helpers import clean_records, run_cli


def test_bad_numeric_options_are_refused_before_anything_is_written(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    for flag, value in BAD_OPTIONS:
        code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2", f"{flag}={value}"]), capsys)
        assert code == 2 and flag in err and one_clear_line(err), (flag, value, err)
        assert not out.exists(), (flag, value)
    # the rerun with a good value is never blocked by the refused starts
    code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2", "--weight_decay", "0.01"]), capsys)
    assert code == 0, err


def test_model_directory_without_tokenizer(model_dir, data_file, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in os.listdir(model_dir):
        if name in ("config.json", "generation_config.json") or name.startswith("model"):
            shutil.copy(os.path.join(model_dir, name), bare / name)
    code, _, err = run_cli(args_for(str(bare), data_file, tmp_path / "run", ["--max_steps", "2"]), capsys)
    assert code == 2 and "holds no tokenizer" in err and "--tokenizer" in err and one_clear_line(err)
    assert not (tmp_path / "run").exists()
    # the tokenizer from another directory makes it work
    code, _, err = run_cli(
        args_for(str(bare), data_file, tmp_path / "run", ["--max_steps", "2", "--tokenizer", model_dir]), capsys
    )
    assert code == 0, err


def test_output_directory_that_cannot_be_created(model_dir, data_file, tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    for out, needle in ((tmp_path / "afile" / "run", "is a file"), (tmp_path / "afile", "is a file, not a directory")):
        code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2"]), capsys)
        assert code == 2 and needle in err and one_clear_line(err), err
    assert (tmp_path / "afile").read_text() == "x"
    # a read-only parent (simulated: tests may run as root, for whom chmod does not bite)
    from sympo_ext.train import rundir

    real = os.access
    monkeypatch.setattr(rundir.os, "access", lambda p, m: False if str(p) == str(tmp_path) else real(p, m))
    code, _, err = run_cli(args_for(model_dir, data_file, tmp_path / "ro", ["--max_steps", "2"]), capsys)
    assert code == 2 and "is not writable" in err and one_clear_line(err) and not (tmp_path / "ro").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_device_cuda_without_gpu(model_dir, data_file, tmp_path, capsys):
    code, _, err = run_cli(
        args_for(model_dir, data_file, tmp_path / "run", ["--max_steps", "2", "--device", "cuda"]), capsys
    )
    assert code == 2 and "--device cuda" in err and one_clear_line(err) and not (tmp_path / "run").exists()


def test_chat_roles_outside_the_template_are_refused_with_file_and_line(model_dir, tmp_path, capsys):
    recs = clean_records(16, seed=8, conversational=True)
    recs[5]["prompt"][0]["role"] = "human"
    path = tmp_path / "conv.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, _, err = run_cli(args_for(model_dir, str(path), tmp_path / "run", ["--max_steps", "1"]), capsys)
    assert code == 2 and f"{path}:6" in err and "'human'" in err and "prompt[0].role" in err and one_clear_line(err)
    assert not (tmp_path / "run").exists()
    recs[5]["prompt"][0]["role"] = "user"
    recs[2]["chosen"][0]["role"] = "bot"
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(recs))
    code, _, err = run_cli(args_for(model_dir, str(path), tmp_path / "run", ["--max_steps", "1"]), capsys)
    assert code == 2 and "conv.json record 2" in err and "'bot'" in err and "chosen[0].role" in err


def test_template_roles_reads_the_roles_a_template_tests():
    from sympo_ext.data import STANDARD_ROLES, template_roles

    tpl = (
        "{% for m in messages %}{% if m['role'] == 'ipython' %}x{% elif message.role != \"developer\" %}y"
        "{% elif 'function' == m[\"role\"] %}{% endif %}{% if m['role'] not in ['critic', 'judge'] %}{% endif %}"
        "{% endfor %}"
    )
    assert template_roles(tpl) == frozenset(STANDARD_ROLES) | {"ipython", "developer", "function", "critic", "judge"}
    # a template that prints any role (ChatML-like): only the standard roles are taken as known
    assert template_roles("{% for m in messages %}<|im_start|>{{ m['role'] }}{% endfor %}") == frozenset(STANDARD_ROLES)
    assert "tool_use" in template_roles({"default": "{% if m['role'] == 'tool_use' %}{% endif %}", "x": None})


@pytest.mark.slow
def test_a_second_run_on_a_live_directory_is_refused_with_the_pid(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    proc = _start_long_run(model_dir, data_file, out)
    try:
        _wait_for_rows(out, proc)
        for extra in ([], ["--resume"], ["--overwrite"]):
            code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "100000", *extra]), capsys)
            assert code == 2 and f"in use by a running sympo-train (PID {proc.pid})" in err, (extra, err)
            assert one_clear_line(err)
        assert (out / "run.json").exists() and proc.poll() is None  # --overwrite deleted nothing
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    # the lock of the killed run is stale: it never blocks
    assert (out / LOCK_NAME).exists()
    code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2", "--overwrite"]), capsys)
    assert code == 0, err


def test_a_missing_model_directory_is_named_as_model(data_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = "nosuchmodel"  # could be a Hub id (no slash), so only loading finds it missing
    code, _, err = run_cli(args_for(missing, data_file, tmp_path / "run", ["--max_steps", "1"]), capsys)
    assert code == 2 and one_clear_line(err), err
    assert f"--model '{missing}': no such directory" in err and "tokenizer directory" not in err


@pytest.mark.parametrize("option", ["--train_data", "--eval_data"])
def test_an_empty_data_file_is_refused_naming_the_option(model_dir, data_file, tmp_path, capsys, option):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    args = args_for(model_dir, data_file, tmp_path / "run", ["--max_steps", "1", option, empty])
    code, _, err = run_cli(args, capsys)
    assert code == 2 and one_clear_line(err), err
    assert f"{option} '{empty}': no preference pairs" in err and not (tmp_path / "run").exists()


def test_an_eval_fraction_leaving_no_training_pairs_names_the_counts(model_dir, tmp_path, capsys):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in clean_records(16, seed=3)))
    code, _, err = run_cli(
        args_for(model_dir, data, tmp_path / "run", ["--max_steps", "1", "--eval_fraction", "0.99"]), capsys
    )
    assert code == 2 and one_clear_line(err), err
    assert "--eval_fraction 0.99: 16 of the 16 pairs" in err and "encoded" not in err


def test_a_plain_directory_as_train_data_lists_the_formats_read(model_dir, tmp_path, capsys):
    plain = tmp_path / "dd"
    plain.mkdir()
    (plain / "notes.txt").write_text("x")
    code, _, err = run_cli(args_for(model_dir, plain, tmp_path / "run", ["--max_steps", "1"]), capsys)
    assert code == 2 and one_clear_line(err), err
    assert f"--train_data: {plain}: a directory, but not a saved Hugging Face dataset" in err
    assert ".jsonl" in err and ".json" in err and "Dataset` directory" not in err


def test_a_chat_response_that_is_a_user_turn_is_refused_with_file_and_line(model_dir, tmp_path, capsys):
    recs = clean_records(16, seed=8, conversational=True)
    recs[2]["chosen"][0]["role"] = "user"
    path = tmp_path / "conv.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, _, err = run_cli(args_for(model_dir, path, tmp_path / "run", ["--max_steps", "1"]), capsys)
    assert code == 2 and one_clear_line(err), err
    assert f"{path}:3: field 'chosen[0].role' is 'user'" in err and "must be an assistant turn" in err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--loss_type", "hinge", "--loss_types", "sigmoid,logistic"], "both given"),
        (["--loss_types", ""], "has an empty name"),
        (["--loss_types", "sigmoid,,logistic"], "has an empty name"),
        (["--loss_types", "sigmoid,sft", "--nll_weight", "0.5"], "same NLL term"),
        (
            ["--loss_types", "sigmoid,symmetric_ramp,unhinged,logistic,hinge,square,exp,ramp,ipo"],
            "at most 8 can be combined",
        ),
    ],
)
def test_loss_options_that_would_be_dropped_or_fail_later_are_refused(
    model_dir, data_file, tmp_path, capsys, extra, needle
):
    out = tmp_path / "run"
    code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "1", *extra]), capsys)
    assert code == 2 and needle in err and one_clear_line(err), err
    assert not out.exists()


def test_the_recorded_loss_names_the_nll_term(model_dir, data_file, tmp_path, capsys):
    for name, extra in (
        ("a", ["--nll_weight", "0.5"]),
        ("b", ["--loss_types", "sigmoid,sft", "--loss_weights", "1,0.5"]),
    ):
        code, _, err = run_cli(args_for(model_dir, data_file, tmp_path / name, ["--max_steps", "1", *extra]), capsys)
        assert code == 0, err
        loss = json.loads((tmp_path / name / "run.json").read_text())["loss"]
        assert "1 x sigmoid" in loss and "+ 0.5 x nll" in loss, loss
    code, _, err = run_cli(args_for(model_dir, data_file, tmp_path / "c", ["--max_steps", "1"]), capsys)
    assert code == 0 and "nll" not in json.loads((tmp_path / "c" / "run.json").read_text())["loss"]


def test_a_tokenizer_without_eos_is_named_in_one_warning(model_dir, data_file, tmp_path, capsys):
    tok_dir = tmp_path / "tok"
    shutil.copytree(model_dir, tok_dir)
    conf = json.loads((tok_dir / "tokenizer_config.json").read_text())
    conf["eos_token"] = None
    (tok_dir / "tokenizer_config.json").write_text(json.dumps(conf))
    if (tok_dir / "special_tokens_map.json").exists():
        os.remove(tok_dir / "special_tokens_map.json")
    args = args_for(model_dir, data_file, tmp_path / "run", ["--max_steps", "1", "--tokenizer", str(tok_dir)])
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert err.count("has no eos token") == 1 and f"--tokenizer '{tok_dir}'" in err, err


def test_empty_policy_error_names_the_pair_by_file_and_line(model_dir, tmp_path, capsys):
    data = tmp_path / "x.jsonl"
    recs = clean_records(16, seed=3)
    recs[6]["rejected"] = recs[6]["chosen"]
    data.write_text("".join(json.dumps(r) + "\n" for r in recs))
    args = args_for(model_dir, str(data), tmp_path / "run", ["--max_steps", "1", "--empty_policy", "error"])
    code, _, err = run_cli(args, capsys)
    assert code == 2 and one_clear_line(err), err
    assert f"{data}:7: identical 'chosen' and 'rejected'" in err and not (tmp_path / "run").exists()


def test_a_value_argparse_takes_for_an_option_names_the_equals_form(model_dir, data_file, tmp_path, capsys):
    for flag, value in (("--learning_rate", "-1e-3"), ("--beta", "-inf")):
        with pytest.raises(SystemExit) as exit_info:  # argparse's own exit
            run_cli(args_for(model_dir, data_file, tmp_path / "run", [flag, value]), capsys)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"is given as {flag}=VALUE" in err.splitlines()[-1], err
    assert not (tmp_path / "run").exists()
