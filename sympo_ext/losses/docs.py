"""The markdown tables generated from the registry, and the files they live in.

``python -m sympo_ext.losses.docs [ROOT]`` rewrites them in place (README.md's loss table,
sympo_ext/integrations/README.md's ``sympo_<param>`` rows), between ``<!-- generated: KEY -->``
and ``<!-- end generated -->`` markers; ``tests/test_docs.py`` fails while a file differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .registry import markdown_table, param_fields_markdown

END = "<!-- end generated -->"
# file (relative to the repository root) -> {marker key: generator}
GENERATED = {
    "README.md": {"loss-table": markdown_table},
    "sympo_ext/integrations/README.md": {"sympo-param-fields": param_fields_markdown},
}


def _pattern(key: str) -> re.Pattern:
    return re.compile(rf"(<!-- generated: {re.escape(key)} -->\n)(?:.*?\n)?({re.escape(END)})", re.S)


def render(text: str, blocks: dict) -> str:
    """``text`` with each marked block replaced by its generator's output (ValueError: a marker is missing)."""
    for key, make in blocks.items():
        pattern = _pattern(key)
        if not pattern.search(text):
            raise ValueError(f"no '<!-- generated: {key} -->' ... '{END}' block")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def stale_files(root: Path) -> list[str]:
    """The files whose generated blocks differ from the registry."""
    return [
        rel for rel, blocks in GENERATED.items() if render((root / rel).read_text(), blocks) != (root / rel).read_text()
    ]


def write(root: Path) -> list[str]:
    """Regenerate every block under ``root``; returns the files changed."""
    changed = stale_files(root)
    for rel in changed:
        path = root / rel
        path.write_text(render(path.read_text(), GENERATED[rel]))
    return changed


if __name__ == "__main__":
    changed = write(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    print("rewrote: " + ", ".join(changed) if changed else "up to date")
