"""Exit statuses of ``sympo-train`` and signals at the end of a run (#56): a SIGTERM once the training
steps are done lets the final writes finish and exits 0; one after the run has ended is ignored; a
second one during the final writes exits 130 naming what may be missing. Subprocesses: the signal
handlers of the console script's process are what is tested."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .helpers import ENV, ROOT, cli_base, run_cli

# The child signals itself at a chosen moment (deterministic: the handler runs at the next bytecode).
CHILD = r"""
import os, signal, sys, time
from sympo_ext.train import checkpoint
mode = sys.argv.pop(1)
if mode == "bug":  # an unexpected error inside the trainer
    from sympo_ext.train import trainer

    def broken(self):
        raise RuntimeError("a bug")

    trainer.Trainer.train = broken
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


# Every exit status sympo-train returns, and a test that sees it (the README's and --help's list).
STATUSES = {
    0: "tests/train/test_cli.py and most CLI tests",
    1: "test_an_unexpected_error_exits_1_with_its_traceback",
    2: "test_usage_errors_exit_2_and_help_0, tests/train/test_cli_errors.py",
    3: "tests/train/test_checkpoint_recovery.py (non-finite)",
    4: "tests/train/test_checkpoint_recovery.py (disk full)",
    130: "test_a_second_signal_during_the_final_writes_exits_130_naming_the_state, "
    "test_signal_saves_checkpoint_and_exits_cleanly[SIGINT]",
    143: "test_signal_saves_checkpoint_and_exits_cleanly[SIGTERM]",
}


def test_every_exit_status_is_documented():
    cli = open(os.path.join(ROOT, "sympo_ext", "train", "cli.py"), encoding="utf-8").read()
    returned = {int(n) for n in re.findall(r"return (\d+)\b(?! \+)", cli)} | {128 + 2, 128 + 15}  # 128 + signal
    assert returned <= set(STATUSES) and returned | {1} == set(STATUSES)  # 1: Python's status for a traceback
    readme = open(os.path.join(ROOT, "sympo_ext", "train", "README.md"), encoding="utf-8").read()
    bullet = readme[readme.index("* Exit statuses") :].split("\n* ")[0]
    epilog = cli[cli.index("exit status:") :].split('"""')[0]
    for code in STATUSES:
        assert re.search(rf"\b{code}\b", bullet), f"README.md's exit statuses lack {code}"
        assert re.search(rf"\b{code}\b", epilog), f"--help's exit statuses lack {code}"


def test_an_unexpected_error_exits_1_with_its_traceback(model_dir, data_file, tmp_path):
    code, _, err = _run("bug", model_dir, data_file, tmp_path / "run")
    assert code == 1 and "Traceback" in err and "RuntimeError: a bug" in err, err


def test_usage_errors_exit_2_and_help_0(capsys):
    from sympo_ext.train.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--max_steps", "abc"])
    assert e.value.code == 2 and "invalid int value" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "exit status:" in capsys.readouterr().out
