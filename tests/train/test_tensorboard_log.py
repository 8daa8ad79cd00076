"""The TensorBoard log and metrics.csv (sympo_ext/train/metrics_log.py): written in the trainer's thread, readable by
TensorBoard, purged on resume, recreated (tb/, metrics.csv) when deleted under a live run, a failed write is status 4."""

from __future__ import annotations

import errno
import shutil

import pytest

from sympo_ext.train import metrics_log
from sympo_ext.train.metrics_log import MetricsLogger

from .faults_helpers import args_for, one_clear_line
from .helpers import run_cli

pytest.importorskip("tensorboard")


def _scalars(logdir, tag="train/loss"):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return [(e.step, round(e.value, 6)) for e in acc.Scalars(tag)]


def test_events_are_readable_and_a_resume_purges_the_replayed_steps(tmp_path):
    log = MetricsLogger(str(tmp_path), tensorboard="on")
    for step in (1, 2, 3):
        log.log(step, "train", {"loss": float(step)})
    log.close()
    log = MetricsLogger(str(tmp_path), tensorboard="on", resume_step=2)  # step 3 is logged again
    log.log(3, "train", {"loss": 30.0})
    assert _scalars(tmp_path / "tb") == [(1, 1.0), (2, 2.0), (3, 30.0)]


def test_a_deleted_tb_directory_is_recreated_with_one_line(tmp_path, capsys):
    log = MetricsLogger(str(tmp_path), tensorboard="on")
    log.log(1, "train", {"loss": 1.0})
    shutil.rmtree(tmp_path / "tb")
    log.log(2, "train", {"loss": 2.0})
    err = capsys.readouterr().err
    assert "tb was deleted while the run was live: recreated it" in err and "Traceback" not in err
    assert _scalars(tmp_path / "tb") == [(2, 2.0)]


def test_a_deleted_metrics_csv_is_recreated_with_its_header_and_one_line(tmp_path, capsys):
    log = MetricsLogger(str(tmp_path), tensorboard="off")
    log.log(1, "train", {"loss": 1.0})
    log.log(2, "train", {"loss": 2.0})
    (tmp_path / "metrics.csv").unlink()
    log.log(3, "train", {"loss": 3.0})
    log.log(3, "eval", {"loss": 3.5})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.csv was deleted while the run was live: recreated it" in err
    assert "the 2 row(s) logged before are gone; it goes on from step 3" in err
    rows = metrics_log.read_metrics(str(tmp_path))
    assert [(r["step"], r["split"]) for r in rows] == [(3, "train"), (3, "eval")]


def test_tb_deleted_during_a_run_the_run_goes_on(model_dir, data_file, tmp_path, capsys, monkeypatch):
    real_log = MetricsLogger.log

    def deleting(self, step, split, values):
        if step == 2:
            shutil.rmtree(tmp_path / "run" / "tb", ignore_errors=True)
        return real_log(self, step, split, values)

    monkeypatch.setattr(MetricsLogger, "log", deleting)
    args = args_for(model_dir, data_file, tmp_path / "run", ["--max_steps", "3", "--tensorboard", "on"])
    code, stdout, err = run_cli(args, capsys)
    assert code == 0 and "done: 3 steps" in stdout, err
    assert "Traceback" not in err and "Exception in thread" not in err
    assert "was deleted while the run was live" in err
    assert [s for s, _ in _scalars(tmp_path / "run" / "tb")] == [2, 3]


@pytest.mark.parametrize("victim", ["tb/events.out.tfevents", "metrics.csv"])
def test_a_log_that_cannot_be_written_stops_with_status_4(model_dir, data_file, tmp_path, capsys, monkeypatch, victim):
    real_open = open
    calls = []

    def full(path, mode="r", *a, **kw):
        if victim in str(path) and "a" in mode:
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(metrics_log, "open", full, raising=False)
    extra = ["--max_steps", "4", "--save_steps", "1", "--tensorboard", "on"]
    code, _, err = run_cli(args_for(model_dir, data_file, tmp_path / "run", extra), capsys)
    assert code == 4 and one_clear_line(err), err
    assert victim in err and "no space left" in err and "training stopped at step 2" in err
    assert "step-000001" in err and "--resume" in err
