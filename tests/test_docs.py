"""The tables generated from the loss registry match the files: documentation cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from sympo_ext.losses import docs, markdown_table, param_fields_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_loss_table_matches_the_registry():
    assert markdown_table() in README.read_text(), (
        "README.md's loss table differs from sympo_ext.LOSSES; run python -m sympo_ext.losses.docs"
    )


def test_integrations_readme_lists_every_sympo_param_field():
    assert param_fields_markdown() in (ROOT / "sympo_ext/integrations/README.md").read_text()


def test_every_generated_block_is_up_to_date():
    assert docs.stale_files(ROOT) == [], "run python -m sympo_ext.losses.docs to regenerate the tables"


def test_render_replaces_only_the_marked_block_and_refuses_a_missing_marker():
    text = "a\n<!-- generated: k -->\nold\nrows\n<!-- end generated -->\nb"
    assert docs.render(text, {"k": lambda: "new"}) == "a\n<!-- generated: k -->\nnew\n<!-- end generated -->\nb"
    with pytest.raises(ValueError, match="generated: other"):
        docs.render(text, {"other": lambda: "x"})
