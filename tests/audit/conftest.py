"""Fixtures of the audit tests: a tiny Llama, noisy pairs with known flips, a finished sympo-train run."""

from __future__ import annotations

import json
import random

import pytest
from train.conftest import _one_thread, tok  # noqa: F401  (the trainer tests' fixtures)
from train.faults_helpers import args_for
from train.helpers import clean_records, save_tiny_model


@pytest.fixture(scope="package")
def model_dir(tmp_path_factory, tok):
    return save_tiny_model(tmp_path_factory.mktemp("audit_model"), tok)


def noisy_records(n=48, seed=1, rate=0.3):
    recs = clean_records(n, seed=seed)
    rng = random.Random(seed + 99)
    for r in recs:
        r["true_label"] = r["label"]
        if rng.random() < rate:
            r["label"] = 1 - r["label"]
    return recs


def write_jsonl(path, records):
    with open(path, "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return str(path)


@pytest.fixture(scope="package")
def data_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("audit_data") / "pairs.jsonl", noisy_records())


@pytest.fixture(scope="package")
def run_dir(tmp_path_factory, model_dir, data_file):
    from sympo_ext.train.cli import main

    out = tmp_path_factory.mktemp("audit_run") / "run"
    extra = ["--loss_type", "sigmoid", "--max_steps", "12", "--learning_rate", "5e-3", "--beta", "0.2"]
    code = main(args_for(model_dir, data_file, out, extra))
    assert code == 0
    return str(out)
