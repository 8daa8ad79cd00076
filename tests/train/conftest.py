"""Fixtures of the trainer tests (helpers in tests/train/helpers.py)."""

from __future__ import annotations

import json

import pytest
import torch

from .helpers import clean_records, synthetic, tiny_model


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one intra-op thread is fastest, and far faster on a busy 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tok():
    return synthetic.build_tokenizer()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tok):
    path = tmp_path_factory.mktemp("tiny_llama")
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    with open(path, "w") as fh:
        for rec in clean_records(48, seed=1):
            fh.write(json.dumps(rec) + "\n")
    return str(path)
