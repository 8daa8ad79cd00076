"""sympo-train --demo (sympo_ext.train.demo)."""

from __future__ import annotations


import pytest



@pytest.mark.slow
def test_demo_quick_preset_runs(capsys):
    from sympo_ext.train.demo import run_demo

    rows = run_demo(quick=True, overrides={"progress": False})
    out = capsys.readouterr().out
    assert [r["loss_type"] for r in rows] == ["sigmoid", "logistic"]
    assert "SymPO (sigmoid)" in out and "DPO (logistic)" in out and "win rate" in out
    for r in rows:
        assert 0.0 <= r["win_rate"] <= 1.0 and 0.0 <= r["acc_true"] <= 1.0
