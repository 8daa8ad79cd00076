"""sympo-audit's --output_dir: one audit at a time (a lock), outputs replaced as a whole (a directory
swap), checked before the scoring pass, the user's files never lost; uninformative margins and a model
with non-finite weights refused with a message that fits sympo-audit."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
import torch

from sympo_ext.audit import outdir, scoring
from sympo_ext.audit.cli import main as audit_main
from sympo_ext.audit.outdir import LOCK_NAME, OutputDir


def _audit(args, capsys):
    code = audit_main([str(a) for a in args] + ["--no_progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _locked_elsewhere(path) -> bool:
    """Whether another process fails to take the flock on ``path``."""
    code = (
        "import fcntl, sys\n"
        "f = open(sys.argv[1], 'a')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except OSError:\n    sys.exit(3)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 3


def _one_error_line(err):
    """Exactly one line of sympo-audit's (the model loader's progress bars aside), no traceback."""
    lines = [line for line in err.splitlines() if "sympo-audit" in line]
    return len(lines) == 1 and lines[0].startswith("sympo-audit: error: ") and "Traceback" not in err


def _files(d):
    return {p.name: p.read_bytes() for p in d.iterdir() if p.name != LOCK_NAME}


def test_a_second_audit_on_the_same_directory_is_refused(run_dir, tmp_path, monkeypatch, capsys):
    """Two audits into one --output_dir at once (hostile A98): the second exits 2 naming the directory and
    the holder's PID, and the first's results are the ones written."""
    out = tmp_path / "o"
    rival = {}
    real = scoring.score_pairs

    def scoring_with_a_rival(*a, **k):  # while the first audit scores, a second starts on the same directory
        if not rival:
            rival["code"] = audit_main(["--model", run_dir, "--output_dir", str(out), "--method", "sign"])
        return real(*a, **k)

    monkeypatch.setattr(scoring, "score_pairs", scoring_with_a_rival)
    code, _, err = _audit(["--model", run_dir, "--output_dir", out], capsys)
    assert code == 0, err
    assert rival["code"] == 2
    refusal = [line for line in err.splitlines() if "sympo-audit: error" in line]
    assert len(refusal) == 1 and f"--output_dir {str(out)!r} is in use by a running sympo-audit" in refusal[0]
    assert f"(PID {os.getpid()})" in refusal[0], refusal
    assert json.loads((out / "summary.json").read_text())["method_requested"] == "mixture"


def test_the_lock_is_held_through_the_swap(tmp_path):
    """The new directory's lock file is locked before it replaces the old one: the lock never lapses."""
    d = OutputDir(str(tmp_path / "o"))
    d.open()
    assert _locked_elsewhere(tmp_path / "o" / LOCK_NAME)
    with open(os.path.join(d.staging(), "audit.csv"), "w") as fh:
        fh.write("new")
    d.commit()
    assert _locked_elsewhere(tmp_path / "o" / LOCK_NAME)
    d.close()
    assert not _locked_elsewhere(tmp_path / "o" / LOCK_NAME)
    assert _files(tmp_path / "o") == {"audit.csv": b"new"}


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_outputs_are_replaced_as_a_whole_and_other_files_kept(tmp_path, monkeypatch, exchange):
    """The old outputs go together (none of them left beside the new ones, hostile A99), with one atomic
    exchange or, where unsupported, two renames; a user's file that appears in the directory while the
    audit runs is moved into the new one."""
    if not exchange:
        monkeypatch.setattr(outdir, "exchange_dirs", lambda a, b: False)
    o = tmp_path / "o"
    o.mkdir()
    for name in ("audit.csv", "summary.json", "margins.png"):
        (o / name).write_text("old")
    d = OutputDir(str(o))
    d.open()
    staging = d.staging()
    for name in ("audit.csv", "summary.json"):
        with open(os.path.join(staging, name), "w") as fh:
            fh.write("new")
    (o / "notes.txt").write_text("mine")  # written by the user during the audit
    d.commit()
    d.close()
    assert _files(o) == {"audit.csv": b"new", "summary.json": b"new", "notes.txt": b"mine"}
    assert sorted(os.listdir(tmp_path)) == ["o"]  # no hidden staging directory left


def test_a_failed_swap_keeps_the_old_outputs(tmp_path, monkeypatch):
    """The fallback's second rename fails: the first is undone, the old outputs stay where they were."""
    monkeypatch.setattr(outdir, "exchange_dirs", lambda a, b: False)
    o = tmp_path / "o"
    o.mkdir()
    (o / "audit.csv").write_text("old")
    d = OutputDir(str(o))
    d.open()
    with open(os.path.join(d.staging(), "audit.csv"), "w") as fh:
        fh.write("new")
    rename = os.rename

    def failing(a, b):
        if a == d.new:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return rename(a, b)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError, match="cross-device"):
        d.commit()
    d.discard()
    d.close()
    assert _files(o) == {"audit.csv": b"old"} and sorted(os.listdir(tmp_path)) == ["o"]


def test_a_killed_audits_leftovers_are_tidied_and_user_files_kept(tmp_path):
    """A kill -9 while writing leaves the hidden staging directory; a kill between the two renames of the
    fallback leaves the old outputs parked. The next audit removes the one and moves the other back; any
    other file in them goes into the output directory."""
    o, new, old = tmp_path / "o", tmp_path / ".o.sympo-audit-new", tmp_path / ".o.sympo-audit-old"
    o.mkdir()
    (tmp_path / ".o.sympo-audit-probe").mkdir()  # killed while checking the parent takes a sibling
    (o / "summary.json").write_text("old")
    new.mkdir()
    (new / "audit.csv").write_text("half-written")
    (new / "mine.txt").write_text("mine")
    d = OutputDir(str(o))
    d.open()
    d.close()
    assert _files(o) == {"summary.json": b"old", "mine.txt": b"mine"} and sorted(os.listdir(tmp_path)) == ["o"]

    (o / "mine.txt").unlink()
    o.rename(old)  # killed after the first rename: the output directory is absent, its outputs parked
    d = OutputDir(str(o))
    d.open()
    d.close()
    assert _files(o) == {"summary.json": b"old"} and not old.exists()


def test_an_output_dir_that_cannot_be_created_fails_before_scoring(run_dir, tmp_path, monkeypatch, capsys):
    """Hostile A47: --output_dir /proc/x failed with a bare errno after the whole scoring pass."""
    monkeypatch.setattr(scoring, "score_pairs", lambda *a, **k: pytest.fail("scored before checking --output_dir"))
    (tmp_path / "file").write_text("x")
    for bad in ("/proc/sympo-audit-test", tmp_path / "file" / "sub"):
        code, _, err = _audit(["--model", run_dir, "--output_dir", bad], capsys)
        assert code == 2 and f"--output_dir {str(bad)!r} cannot be created" in err, err
        assert _one_error_line(err), err


def test_margins_all_zero_are_refused(model_dir, data_file, tmp_path, capsys):
    """Hostile A64: the policy is the reference, so every margin is exactly 0: no noise rate, no cleaned set."""
    out = tmp_path / "o"
    code, _, err = _audit(
        ["--model", model_dir, "--ref_model", model_dir, "--data", data_file, "--output_dir", out], capsys
    )
    assert code == 2 and "margins are exactly 0" in err, err
    assert (
        f"--model {model_dir!r}" in err and f"--ref_model {model_dir!r}" in err and "the policy is the reference" in err
    )
    assert _one_error_line(err), err
    assert not out.exists()  # the refused audit removed the directory it had created


def test_a_model_with_nan_weights_is_refused_with_a_fitting_message(model_dir, data_file, tmp_path, capsys):
    """Hostile A62: the message said to pass --probe_logps_paths false (sympo-train's flag; skipping the probe
    cannot fix NaN weights) and not that the weights are non-finite."""
    from sympo_ext.hf.loading import load_policy

    model = load_policy(model_dir)
    with torch.no_grad():
        model.lm_head.weight[0, 0] = float("nan")
    nan_dir = tmp_path / "nan"
    model.save_pretrained(nan_dir)
    for name in os.listdir(model_dir):
        if "token" in name or name.endswith(".txt"):
            (nan_dir / name).write_bytes(open(os.path.join(model_dir, name), "rb").read())
    out = tmp_path / "o"
    code, _, err = _audit(
        ["--model", nan_dir, "--ref_model", model_dir, "--data", data_file, "--output_dir", out], capsys
    )
    assert code == 2 and f"--model {str(nan_dir)!r}" in err and "log-probs are non-finite" in err, err
    assert "weights hold non-finite values (lm_head.weight)" in err and "probe_logps_paths" not in err, err
    assert _one_error_line(err), err
    assert not out.exists()
