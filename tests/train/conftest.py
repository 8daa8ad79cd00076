"""Fixtures of the trainer tests (helpers in tests/train/helpers.py)."""

from __future__ import annotations

import json

import pytest
import torch

from sympo_ext.train.cli import main as cli_main

from .faults_helpers import TRAINED, args_for, final_state
from .helpers import clean_records, save_tiny_model, synthetic


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one intra-op thread is fastest, and far faster on a busy 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="package")
def tok():
    # Package scope: one tokenizer (nothing changes it) also where tests/audit and tests/experiments import it.
    return synthetic.build_tokenizer()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tok):
    return save_tiny_model(tmp_path_factory.mktemp("tiny_llama"), tok)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    with open(path, "w") as fh:
        for rec in clean_records(48, seed=1):
            fh.write(json.dumps(rec) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def trained(model_dir, data_file, tmp_path_factory):
    """A finished 4-step run (checkpoints at steps 2 and 4, an evaluation at the end)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    torch.set_num_threads(1)
    assert cli_main(args_for(model_dir, data_file, out, TRAINED)) == 0
    return str(out), final_state(str(out))
