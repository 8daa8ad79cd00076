"""sympo-train --demo (sympo_ext.cli, sympo_ext.experiments.demo)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_quick_preset_runs(capsys):
    from sympo_ext.experiments.demo import run_demo

    rows = run_demo(quick=True, overrides={"progress": False})
    out = capsys.readouterr().out
    assert [r["loss_type"] for r in rows] == ["sigmoid", "logistic"]
    assert "SymPO (sigmoid)" in out and "DPO (logistic)" in out and "win rate" in out
    for r in rows:
        assert 0.0 <= r["win_rate"] <= 1.0 and 0.0 <= r["acc_true"] <= 1.0


def test_console_script_is_the_top_level_entry_and_lists_demo(capsys):
    from pathlib import Path

    import tomllib

    from sympo_ext.cli import main

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sympo-train"] == "sympo_ext.cli:main"
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--demo" in text and "--quick" in text and "--train_data" in text


def test_trainer_cli_alone_refuses_demo_with_one_line(capsys):
    from sympo_ext.train.cli import main

    assert main(["--demo", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sympo-train: error: --demo is run by the sympo-train console script")


def test_quick_without_demo_is_refused_by_the_console_script(capsys):
    from sympo_ext.cli import main

    assert main(["--quick"]) == 2
    assert "--quick only applies to --demo" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_runs_the_quick_demo(capsys):
    from sympo_ext.cli import main

    assert main(["--demo", "--quick", "--progress", "false"]) == 0
    out = capsys.readouterr().out
    assert "SymPO (sigmoid)" in out and "DPO (logistic)" in out and "paired by seed" in out
