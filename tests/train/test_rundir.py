"""Run-directory policy (sympo_ext.train.rundir): states, the run lock, creatability, leftovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sympo_ext.train import rundir
from sympo_ext.train.config import ConfigError, TrainConfig
from sympo_ext.train.rundir import LOCK_NAME, RunDirError, RunLock


def test_run_state_ignores_the_lock_file(tmp_path):
    assert rundir.run_state(str(tmp_path / "nope")) == "absent"
    (tmp_path / "d").mkdir()
    assert rundir.run_state(str(tmp_path / "d")) == "empty"
    (tmp_path / "d" / LOCK_NAME).write_text("123\n")  # what a refused start may leave behind
    assert rundir.run_state(str(tmp_path / "d")) == "empty"
    (tmp_path / "d" / "run.json").write_text("{}")
    assert rundir.run_state(str(tmp_path / "d")) == "run"
    (tmp_path / "f").write_text("x")
    assert rundir.run_state(str(tmp_path / "f")) == "foreign"


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    first, second = RunLock(str(tmp_path)), RunLock(str(tmp_path))
    assert first.acquire()
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    with pytest.raises(RunDirError, match=rf"in use by a running sympo-train \(PID {os.getpid()}\)"):
        second.acquire()
    first.release()
    assert second.acquire() and second.held
    second.release()


def test_lock_is_not_created_when_asked_not_to(tmp_path):
    assert RunLock(str(tmp_path)).acquire(create=False) is False
    assert not (tmp_path / LOCK_NAME).exists()


def test_stale_lock_of_a_killed_process_never_blocks(tmp_path):
    # A process takes the lock and is killed -9: the OS releases it, the file stays.
    # (The holder locks the file the way RunLock does, without importing torch: a fast subprocess.)
    code = textwrap.dedent(f"""
        import fcntl, os, time
        fd = os.open({str(tmp_path / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{{os.getpid()}}\\n".encode())
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError, match=f"PID {proc.pid}"):
            RunLock(str(tmp_path)).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(proc.pid)  # stale file left behind
    lock = RunLock(str(tmp_path))
    assert lock.acquire()
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    lock.release()


def test_check_creatable(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="cannot be created: .*file' is a file"):
        rundir.check_creatable(str(tmp_path / "file" / "run"))
    with pytest.raises(RunDirError, match="is a file, not a directory"):
        rundir.check_creatable(str(tmp_path / "file"))
    rundir.check_creatable(str(tmp_path / "a" / "b" / "c"))  # creatable: nothing raised, nothing made
    assert not (tmp_path / "a").exists()
    # A read-only parent (simulated: the tests may run as root, for whom chmod does not bite).
    real_access = os.access
    monkeypatch.setattr(rundir.os, "access", lambda p, m: False if str(p) == str(tmp_path) else real_access(p, m))
    with pytest.raises(RunDirError, match="is not writable"):
        rundir.check_creatable(str(tmp_path / "run"))


def _cfg(out, **kw):
    return TrainConfig(output_dir=str(out), **kw)


def test_check_output_dir_rules(tmp_path):
    out = tmp_path / "run"
    rundir.check_output_dir(_cfg(out), RunLock(str(out)))  # absent: fine, nothing written
    assert not out.exists()
    with pytest.raises(RunDirError, match="holds no checkpoint of a sympo-train run"):
        rundir.check_output_dir(_cfg(out, resume=True), None)
    with pytest.raises(ConfigError, match="--resume needs --output_dir"):
        rundir.check_output_dir(TrainConfig(resume=True), None)
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="already holds other files"):
        rundir.check_output_dir(_cfg(out), RunLock(str(out)))
    assert sorted(os.listdir(out)) == ["notes.txt"]  # no lock file dropped into a foreign directory
    (out / "notes.txt").unlink()
    (out / "run.json").write_text(json.dumps({"config": _cfg(out, beta=0.2).to_dict()}))
    with pytest.raises(RunDirError, match="already holds another sympo-train run"):
        rundir.check_output_dir(_cfg(out), RunLock(str(out)))
    with pytest.raises(RunDirError, match="options differ.*beta: run has 0.2, now 0.1"):
        rundir.check_output_dir(_cfg(out, resume=True), None)
    rundir.check_output_dir(_cfg(out, resume=True, beta=0.2, logging_steps=5), None)  # mutable option
    (out / "run.json").write_text("{not json")
    with pytest.raises(RunDirError, match="run.json: unreadable"):
        rundir.stored_config(str(out))


def test_a_live_run_is_refused_with_and_without_resume_or_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"config": _cfg(out).to_dict()}))
    holder = RunLock(str(out))
    holder.acquire()
    try:
        for kw in ({}, {"resume": True}, {"overwrite": True}):
            with pytest.raises(RunDirError, match=f"in use by a running sympo-train \\(PID {os.getpid()}\\)"):
                rundir.check_output_dir(_cfg(out, **kw), RunLock(str(out)))
    finally:
        holder.release()
    assert (out / "run.json").exists()


def test_prepare_overwrite_keeps_the_lock_file_and_cleans_leftovers(tmp_path):
    out = tmp_path / "run"
    ck = out / "checkpoints"
    (ck / "step-000002").mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"config": {}}))
    (out / "metrics.csv").write_text("step\n")
    lock = RunLock(str(out))
    cfg = _cfg(out, overwrite=True)
    rundir.check_output_dir(cfg, lock)
    assert lock.held
    inode = os.stat(out / LOCK_NAME).st_ino
    rundir.prepare_output_dir(cfg, lock, {"world_size": 1})
    assert sorted(os.listdir(out)) == [LOCK_NAME, "run.json"]
    assert os.stat(out / LOCK_NAME).st_ino == inode  # the held lock file itself was not deleted
    assert json.loads((out / "run.json").read_text())["world_size"] == 1
    lock.release()
    # Leftovers of a killed run are removed when the next run (here a resume) takes the lock.
    (ck / "step-000004").mkdir(parents=True)
    (ck / ".tmp-step-000006").mkdir()
    (ck / ".del-step-000002").mkdir()
    (ck / "latest.tmp-31337").write_text("step-000004")
    (out / "metrics.csv.tmp-77").write_text("")
    (out / "run.json.tmp-78").write_text("")
    (out / "final.tmp").mkdir()
    lock = RunLock(str(out))
    rundir.prepare_output_dir(_cfg(out, resume=True), lock, {})
    lock.release()
    assert sorted(os.listdir(out)) == [LOCK_NAME, "checkpoints", "run.json"]
    assert os.listdir(ck) == ["step-000004"]


def test_prepare_reports_an_uncreatable_directory(tmp_path, monkeypatch):
    def refuse(path, exist_ok=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rundir.os, "makedirs", refuse)
    with pytest.raises(RunDirError, match="cannot be created: Permission denied"):
        rundir.prepare_output_dir(_cfg(tmp_path / "x"), RunLock(str(tmp_path / "x")), {})


def test_a_run_that_appeared_after_the_unlocked_check_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    cfg = _cfg(out)
    lock = RunLock(str(out))
    rundir.check_output_dir(cfg, lock)  # absent: checked without a lock
    assert not lock.held
    out.mkdir()  # meanwhile another run started, finished and released the lock
    (out / "run.json").write_text(json.dumps({"config": {"beta": 0.5}}))
    with pytest.raises(RunDirError, match="already holds another sympo-train run"):
        rundir.prepare_output_dir(cfg, lock, {})
    assert json.loads((out / "run.json").read_text()) == {"config": {"beta": 0.5}}
    lock.release()


def _run_dir(path):
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"config": _cfg(path).to_dict()}))
    return path


def test_an_output_dir_inside_another_run_is_refused(tmp_path):
    run = _run_dir(tmp_path / "o")
    (run / "checkpoints" / "step-000001").mkdir(parents=True)
    for kw in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(
            RunDirError, match=r"'.*o/checkpoints' lies inside the sympo-train run directory '.*o' \(a run\)"
        ):
            rundir.check_output_dir(_cfg(run / "checkpoints", **kw), RunLock(str(run / "checkpoints")))
    assert os.listdir(run / "checkpoints") == ["step-000001"]  # nothing emptied, no lock file dropped
    # A live run's directory (its lock held), deeper down: named with the holder's PID.
    live = tmp_path / "live"
    live.mkdir()
    holder = RunLock(str(live))
    holder.acquire()
    try:
        with pytest.raises(
            RunDirError, match=rf"inside the sympo-train run directory .*live' \(a live run, PID {os.getpid()}\)"
        ):
            rundir.check_output_dir(_cfg(live / "a" / "b"), RunLock(str(live / "a" / "b")))
    finally:
        holder.release()
    rundir.check_output_dir(_cfg(tmp_path / "elsewhere"), RunLock(str(tmp_path / "elsewhere")))  # a sibling: fine


def test_overwrite_refuses_a_directory_holding_another_run_below_it(tmp_path):
    out = tmp_path / "o"
    inner = _run_dir(out / "inner")
    holder = RunLock(str(inner))
    holder.acquire()
    try:
        with pytest.raises(
            RunDirError, match=rf"--overwrite would delete '.*o/inner' \(a live run, PID {os.getpid()}\)"
        ):
            rundir.check_output_dir(_cfg(out, overwrite=True), RunLock(str(out)))
    finally:
        holder.release()
    with pytest.raises(RunDirError, match=r"--overwrite would delete '.*o/inner' \(a sympo-train run\)"):
        rundir.check_output_dir(_cfg(out, overwrite=True), RunLock(str(out)))
    assert (inner / "run.json").exists()
