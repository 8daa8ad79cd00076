"""The README's loss table is the registry's: documentation cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from sympo_ext.losses import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_loss_table_matches_the_registry():
    assert markdown_table() in README.read_text(), (
        "README.md's loss table differs from sympo_ext.LOSSES; paste sympo_ext.losses.markdown_table()"
    )
