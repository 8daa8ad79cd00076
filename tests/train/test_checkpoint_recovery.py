"""Recovery from faults (sympo_ext/train/checkpoint.py, checkpoint_files.py, rundir.py): damaged
checkpoints skipped on --resume, disk full, non-finite parameters, runs killed at any moment, leftovers."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sympo_ext.train import checkpoint_files
from sympo_ext.train.checkpoint_files import list_checkpoints, verify_checkpoint
from sympo_ext.train.metrics_log import read_metrics
from sympo_ext.train.rundir import LOCK_NAME

from .faults_helpers import (
    TRAINED,
    _flip,
    _start_long_run,
    _truncate,
    _wait_for_rows,
    _zero,
    args_for,
    copy_run,
    final_state,
    one_clear_line,
    same_state,
)
from .helpers import ENV, ROOT, run_cli


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


def test_disk_full_while_checkpointing_stops_cleanly(model_dir, data_file, trained, tmp_path, capsys, monkeypatch):
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


def test_nonfinite_parameters_are_never_checkpointed(model_dir, data_file, tmp_path, capsys, monkeypatch):
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


def test_a_corrupted_reference_cache_is_recomputed_on_resume(model_dir, data_file, tmp_path, capsys):
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


@pytest.mark.slow
def test_kill_9_before_the_first_checkpoint_then_resume(model_dir, data_file, tmp_path):
    out = tmp_path / "run"
    proc = _start_long_run(model_dir, data_file, out)
    _wait_for_rows(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "checkpoints").exists()
    # --resume starts it afresh with the stored options (100000 steps); SIGTERM then saves a checkpoint.
    resumed = subprocess.Popen(
        [sys.executable, "-m", "sympo_ext.train.cli", "--output_dir", str(out), "--resume"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
    assert [(r["step"], r["split"]) for r in read_metrics(str(tmp_path))] == [
        (1, "train"),
        (2, "train"),
        (3, "train"),
        (3, "eval"),
    ]
    log.log(3, "eval", {"loss": 7.0})  # the final evaluation, logged again after a kill
    log.log(4, "train", {"loss": 1.0})
    rows = read_metrics(str(tmp_path))
    assert [(r["step"], r["split"]) for r in rows] == [
        (1, "train"),
        (2, "train"),
        (3, "train"),
        (3, "eval"),
        (4, "train"),
    ]
    assert rows[3]["loss"] == 7.0
