"""Exit statuses of ``sympo-train`` and signals at the end of a run (#56): a SIGTERM once the training
steps are done lets the final writes finish and exits 0; one after the run has ended is ignored; a
second one during the final writes exits 130 naming what may be missing. Subprocesses: the signal
handlers of the console script's process are what is tested."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .helpers import ENV, ROOT, cli_base, run_cli

# The child signals itself at a chosen moment (deterministic: the handler runs at the next bytecode).
CHILD = r"""
import os, signal, sys, time
from sympo_ext.train import checkpoint
mode = sys.argv.pop(1)
if mode in ("during", "twice"):
    save_final = checkpoint.CheckpointManager.save_final

    def patched(self, tokenizer):
        for _ in range(1 if mode == "during" else 2):
            os.kill(os.getpid(), signal.SIGTERM)
        return save_final(self, tokenizer)

    checkpoint.CheckpointManager.save_final = patched
from sympo_ext.train.cli import main
code = main()
if mode == "after":  # after "done" was printed, before the process exits
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
sys.exit(code)
"""


def _run(mode, model_dir, data_file, out):
    args = [sys.executable, "-c", CHILD, mode, *cli_base(model_dir, data_file, str(out))]
    proc = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("mode", ["after", "during"])
def test_a_signal_once_the_steps_are_done_does_not_fail_the_run(mode, model_dir, data_file, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = _run(mode, model_dir, data_file, out)
    assert code == 0, err
    assert "done: 2 steps" in stdout and "Traceback" not in err
    assert (out / "final" / "model.safetensors").is_file() and not (out / "final.tmp").exists()
    if mode == "after":
        assert "SIGTERM received after the run ended: ignored" in err, err
    else:
        assert "the training steps are done: writing the final results" in err, err


def test_a_second_signal_during_the_final_writes_exits_130_naming_the_state(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = _run("twice", model_dir, data_file, out)
    assert code == 130 and "done:" not in stdout and "Traceback" not in err, err
    assert "interrupted while writing the final results" in err and "final may be missing" in err, err
    assert "step-000002" in err and "--resume" in err
    assert not (out / "final").exists()
    # The state named is the one on disk: --resume writes the final model and exits 0.
    code, stdout, err = run_cli([*cli_base(model_dir, data_file, str(out)), "--resume"], capsys)
    assert code == 0 and "done: 2 steps" in stdout, err
    assert (out / "final" / "model.safetensors").is_file()
