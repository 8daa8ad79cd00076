"""Fixtures of the model-adapter tests: the trainer tests' thread setting and tokenizer."""

from __future__ import annotations

from train.conftest import _one_thread, tok  # noqa: F401  (fixtures, found by name)
