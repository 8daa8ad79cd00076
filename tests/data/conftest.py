"""Fixtures of the sympo_ext.data tests."""

from __future__ import annotations

import pytest

from sympo_ext.experiments.synthetic import build_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()
