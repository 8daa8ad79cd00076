"""sympo-train under bad input and faults: one clear line and exit status 2 (nothing written) for bad
options, tokenizer-less models, uncreatable output directories and unknown chat roles; damaged
checkpoints skipped on --resume; disk full; a run killed before its first checkpoint; the run lock;
leftovers of killed runs. Tiny model, 2-4 steps per run."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sympo_ext.train import checkpoint as ckpt
from sympo_ext.train import checkpoint_files
from sympo_ext.train.checkpoint import list_checkpoints, verify_checkpoint
from sympo_ext.train.cli import main as cli_main
from sympo_ext.train.metrics_log import read_metrics
from sympo_ext.train.rundir import LOCK_NAME
from .helpers import ENV, ROOT, clean_records, cli_base, run_cli

TRAINED = ["--max_steps", "4", "--save_steps", "2", "--save_total_limit", "0", "--eval_fraction", "0.25"]


def args_for(model_dir, data_file, out, extra=()):
    args = cli_base(model_dir, data_file, str(out))
    i = args.index("--max_steps")
    del args[i:i + 2]
    return args + list(extra)


def final_state(out):
    from safetensors.torch import load_file

    return load_file(os.path.join(out, "final", "model.safetensors"))


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def one_clear_line(err):
    lines = [x for x in err.splitlines() if x.strip() and "it/s]" not in x]  # transformers' loading bar aside
    return "Traceback" not in err and len(lines) == 1 and lines[0].startswith("sympo-train: error:")


@pytest.fixture(scope="module")
def trained(model_dir, data_file, tmp_path_factory):  # noqa: F811
    """A finished 4-step run (checkpoints at steps 2 and 4, an evaluation at the end)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    torch.set_num_threads(1)
    assert cli_main(args_for(model_dir, data_file, out, TRAINED)) == 0
    return str(out), final_state(str(out))


def copy_run(trained, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(trained[0], dst)
    return dst


# --------------------------------------------------------------------------- #
# Refused at parse time / before the model loads: exit 2, one line, nothing written
# --------------------------------------------------------------------------- #

BAD_OPTIONS = [("--weight_decay", "nan"), ("--max_grad_norm", "nan"), ("--beta", "inf"), ("--beta", "1e300"),
               ("--learning_rate", "nan"), ("--adam_beta1", "1"), ("--adam_beta2", "-0.1"), ("--adam_eps", "0"),
               ("--warmup_ratio", "nan"), ("--min_lr_ratio", "2"), ("--clip", "nan"), ("--temperature", "inf"),
               ("--eval_fraction", "nan"), ("--label_noise", "-inf"), ("--num_epochs", "nan")]


def test_bad_numeric_options_are_refused_before_anything_is_written(model_dir, data_file, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    for flag, value in BAD_OPTIONS:
        code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2", f"{flag}={value}"]), capsys)
        assert code == 2 and flag in err and one_clear_line(err), (flag, value, err)
        assert not out.exists(), (flag, value)
    # the rerun with a good value is never blocked by the refused starts
    code, _, err = run_cli(args_for(model_dir, data_file, out, ["--max_steps", "2", "--weight_decay", "0.01"]), capsys)
    assert code == 0, err


def test_model_directory_without_tokenizer(model_dir, data_file, tmp_path, capsys):  # noqa: F811
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in os.listdir(model_dir):
        if name in ("config.json", "generation_config.json") or name.startswith("model"):
            shutil.copy(os.path.join(model_dir, name), bare / name)
    code, _, err = run_cli(args_for(str(bare), data_file, tmp_path / "run", ["--max_steps", "2"]), capsys)
    assert code == 2 and "holds no tokenizer" in err and "--tokenizer" in err and one_clear_line(err)
    assert not (tmp_path / "run").exists()
    # the tokenizer from another directory makes it work
    code, _, err = run_cli(args_for(str(bare), data_file, tmp_path / "run", ["--max_steps", "2", "--tokenizer",
                                                                             model_dir]), capsys)
    assert code == 0, err


def test_output_directory_that_cannot_be_created(model_dir, data_file, tmp_path, capsys, monkeypatch):  # noqa: F811
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
def test_device_cuda_without_gpu(model_dir, data_file, tmp_path, capsys):  # noqa: F811
    code, _, err = run_cli(args_for(model_dir, data_file, tmp_path / "run", ["--max_steps", "2", "--device", "cuda"]),
                           capsys)
    assert code == 2 and "--device cuda" in err and one_clear_line(err) and not (tmp_path / "run").exists()


def test_chat_roles_outside_the_template_are_refused_with_file_and_line(model_dir, tmp_path, capsys):  # noqa: F811
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

    tpl = ("{% for m in messages %}{% if m['role'] == 'ipython' %}x{% elif message.role != \"developer\" %}y"
           "{% elif 'function' == m[\"role\"] %}{% endif %}{% if m['role'] not in ['critic', 'judge'] %}{% endif %}"
           "{% endfor %}")
    assert template_roles(tpl) == frozenset(STANDARD_ROLES) | {"ipython", "developer", "function", "critic", "judge"}
    # a template that prints any role (ChatML-like): only the standard roles are taken as known
    assert template_roles("{% for m in messages %}<|im_start|>{{ m['role'] }}{% endfor %}") == frozenset(STANDARD_ROLES)
    assert "tool_use" in template_roles({"default": "{% if m['role'] == 'tool_use' %}{% endif %}", "x": None})


# --------------------------------------------------------------------------- #
# Damaged checkpoints, disk full
# --------------------------------------------------------------------------- #


def _truncate(p):
    p.write_bytes(p.read_bytes()[:100])


def _zero(p):
    p.write_bytes(b"")


def _flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x04
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _zero, _flip], ids=["truncated", "zero_length", "bit_flip"])
def test_resume_skips_a_damaged_checkpoint(trained, tmp_path, capsys, damage):
    out = copy_run(trained, tmp_path)
    shutil.rmtree(out / "final")
    damage(out / "checkpoints" / "step-000004" / "model.pt")
    code, stdout, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert "Traceback" not in err and "PytorchStreamReader" not in err
    assert "skipped" in err and "step-000004/model.pt" in err and "continuing from" in err and "step-000002" in err
    assert "done: 4 steps" in stdout
    assert same_state(final_state(str(out)), trained[1])  # replayed steps 3-4 exactly


def test_resume_with_no_intact_checkpoint_names_the_files(trained, tmp_path, capsys):
    out = copy_run(trained, tmp_path)
    _zero(out / "checkpoints" / "step-000004" / "trainer_state.pt")
    _truncate(out / "checkpoints" / "step-000002" / "optimizer.pt")
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and "Traceback" not in err and "no intact checkpoint" in err
    assert "step-000004/trainer_state.pt" in err and "step-000002/optimizer.pt" in err


def test_disk_full_while_checkpointing_stops_cleanly(model_dir, data_file, trained, tmp_path, capsys, monkeypatch):  # noqa: F811
    from .test_checkpoint import _FullDisk

    real_open = open

    def fake_open(path, mode="r", *a, **kw):  # the disk fills up while step 4's checkpoint is written
        fh = real_open(path, mode, *a, **kw)
        return _FullDisk(fh, budget=0) if "w" in mode and ".tmp-step-000004" in str(path) else fh

    monkeypatch.setattr(checkpoint_files, "open", fake_open, raising=False)
    out = tmp_path / "run"
    code, _, err = run_cli(args_for(model_dir, data_file, out, TRAINED), capsys)
    monkeypatch.undo()
    assert code == 4 and one_clear_line(err), err
    assert "no space left" in err and "training stopped at step 4" in err and "step-000002" in err
    assert "inline_container" not in err
    assert [s for s, _ in list_checkpoints(str(out / "checkpoints"))] == [2]
    verify_checkpoint(str(out / "checkpoints" / "step-000002"))
    assert not [n for n in os.listdir(out / "checkpoints") if n.startswith(".tmp")]
    assert not (out / "final").exists()
    # after freeing space, --resume finishes the run exactly
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert same_state(final_state(str(out)), trained[1])


def test_disk_full_while_writing_the_final_model(trained, tmp_path, capsys, monkeypatch):
    import transformers

    out = copy_run(trained, tmp_path)
    shutil.rmtree(out / "final")

    def full(self, path, *a, **kw):
        os.makedirs(path, exist_ok=True)
        (Path(path) / "model.safetensors").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", full)
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    monkeypatch.undo()
    assert code == 4 and one_clear_line(err) and "no space left" in err and "final model" in err, err
    assert not (out / "final").exists() and not (out / "final.tmp").exists()
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert same_state(final_state(str(out)), trained[1])


def test_nonfinite_parameters_are_never_checkpointed(model_dir, data_file, tmp_path, capsys, monkeypatch):  # noqa: F811
    # The last optimizer step turns a weight NaN (what --weight_decay nan did, before it was refused):
    # the step-4 checkpoint is refused and the last good one reported is step 2. (A NaN weight at an
    # earlier step is caught by the next step's non-finite loss, before any save.)
    real_step, calls = torch.optim.AdamW.step, []

    def poisoned(self, *a, **kw):
        out = real_step(self, *a, **kw)
        calls.append(1)
        if len(calls) == 4:
            with torch.no_grad():
                self.param_groups[0]["params"][0].view(-1)[0] = float("nan")
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned)
    out = tmp_path / "run"
    code, _, err = run_cli(args_for(model_dir, data_file, out, TRAINED), capsys)
    assert code == 3 and "Traceback" not in err, err
    assert "NaN" in err and "step-000002" in err
    assert [s for s, _ in list_checkpoints(str(out / "checkpoints"))] == [2]
    assert not (out / "final").exists()


# --------------------------------------------------------------------------- #
# Killed runs: before the first checkpoint, after the final evaluation, leftovers
# --------------------------------------------------------------------------- #


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_afresh(trained, tmp_path, capsys):
    out = copy_run(trained, tmp_path)
    shutil.rmtree(out / "checkpoints")  # what a kill at step 1 leaves: run.json, metrics.csv rows
    shutil.rmtree(out / "final")
    code, stdout, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert "no checkpoint yet" in err and "starting afresh from step 0" in err and "done: 4 steps" in stdout
    assert same_state(final_state(str(out)), trained[1])
    rows = read_metrics(str(out))
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4]
    assert [r["loss"] for r in rows] == [r["loss"] for r in read_metrics(trained[0])]


def test_a_corrupted_reference_cache_is_recomputed_on_resume(model_dir, data_file, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "run"
    extra = [*TRAINED, "--reference", "precomputed"]
    assert run_cli(args_for(model_dir, data_file, out, extra), capsys)[0] == 0
    full = final_state(str(out))
    cache = out / "ref_logps.pt"
    cache.write_bytes(cache.read_bytes()[:50])
    shutil.rmtree(out / "checkpoints" / "step-000004")
    shutil.rmtree(out / "final")
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0 and "Traceback" not in err and "ref_logps.pt cannot be read" in err, err
    assert same_state(final_state(str(out)), full)


def test_a_kill_after_the_final_evaluation_does_not_duplicate_its_row(trained, tmp_path, capsys):
    out = copy_run(trained, tmp_path)
    shutil.rmtree(out / "final")  # killed after the final evaluation and checkpoint, before final/
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    rows = read_metrics(str(out))
    assert [(r["step"], r["split"]) for r in rows] == [(r["step"], r["split"]) for r in read_metrics(trained[0])]
    assert sum(1 for r in rows if r["split"] == "eval" and r["step"] == 4) == 1
    assert (out / "final" / "model.safetensors").exists()


def test_leftovers_of_killed_runs_are_cleaned_on_resume(trained, tmp_path, capsys):
    out = copy_run(trained, tmp_path)
    ck = out / "checkpoints"
    (ck / ".del-step-000000").mkdir()  # a kill during pruning
    (ck / ".del-step-000000" / "optimizer.pt").write_bytes(b"half")
    (ck / ".tmp-step-000006").mkdir()  # a kill during saving
    (ck / "latest.tmp-99999").write_text("step-000004")
    (out / "metrics.csv.tmp-99999").write_text("")
    (out / "final.tmp").mkdir()
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(ck)) == ["latest", "step-000002", "step-000004"]
    assert sorted(os.listdir(out)) == sorted(os.listdir(trained[0]))


# --------------------------------------------------------------------------- #
# Two live processes on one output directory
# --------------------------------------------------------------------------- #


def _wait_for_rows(out, proc, rows=3, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        path = out / "metrics.csv"
        if path.exists() and len(path.read_text().splitlines()) >= rows:
            return
        time.sleep(0.1)
    raise AssertionError(f"the run did not log {rows - 1} steps: {proc.poll()}")


def _start_long_run(model_dir, data_file, out):  # noqa: F811
    args = args_for(model_dir, data_file, out, ["--max_steps", "100000"])
    return subprocess.Popen([sys.executable, "-m", "sympo_ext.train.cli", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_second_run_on_a_live_directory_is_refused_with_the_pid(model_dir, data_file, tmp_path, capsys):  # noqa: F811
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


@pytest.mark.slow
def test_kill_9_before_the_first_checkpoint_then_resume(model_dir, data_file, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    proc = _start_long_run(model_dir, data_file, out)
    _wait_for_rows(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "checkpoints").exists()
    # --resume starts it afresh with the stored options (100000 steps); SIGTERM then saves a checkpoint.
    resumed = subprocess.Popen([sys.executable, "-m", "sympo_ext.train.cli", "--output_dir", str(out), "--resume"],
                               cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120  # the resumed run holds the lock (its signal handlers are set by then)
    while (out / LOCK_NAME).read_text().strip() != str(resumed.pid) and time.time() < deadline:
        assert resumed.poll() is None
        time.sleep(0.1)
    resumed.send_signal(signal.SIGTERM)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 128 + signal.SIGTERM, err
    assert "starting afresh from step 0" in err and "Traceback" not in err
    assert len(list_checkpoints(str(out / "checkpoints"))) == 1


def test_metrics_rows_cut_by_a_kill_and_relogged_rows_are_not_duplicated(tmp_path):
    from sympo_ext.train.metrics_log import MetricsLogger

    log = MetricsLogger(str(tmp_path), tensorboard="off")
    for step in (1, 2, 3):
        log.log(step, "train", {"loss": 0.5 + step})
    log.log(3, "eval", {"loss": 9.0})
    with open(tmp_path / "metrics.csv", "a") as fh:
        fh.write("4,tra")  # a kill while the step-4 row was written
    with open(tmp_path / "metrics.csv", "a") as fh:
        fh.write("\n3,train,,")  # a cut row whose step would be kept
    log = MetricsLogger(str(tmp_path), tensorboard="off", resume_step=3)
    assert [(r["step"], r["split"]) for r in read_metrics(str(tmp_path))] == [(1, "train"), (2, "train"),
                                                                              (3, "train"), (3, "eval")]
    log.log(3, "eval", {"loss": 7.0})  # the final evaluation, logged again after a kill
    log.log(4, "train", {"loss": 1.0})
    rows = read_metrics(str(tmp_path))
    assert [(r["step"], r["split"]) for r in rows] == [(1, "train"), (2, "train"), (3, "train"), (3, "eval"),
                                                       (4, "train")]
    assert rows[3]["loss"] == 7.0
