"""Fixtures of the audit tests: a tiny Llama, noisy pairs with known flips, a finished sympo-train run."""

from __future__ import annotations

import json
import random

import pytest
from train.conftest import _one_thread  # noqa: F401  (the trainer tests' one-thread fixture)
from train.helpers import clean_records, synthetic, tiny_model


@pytest.fixture(scope="package")
def tok():
    return synthetic.build_tokenizer()


@pytest.fixture(scope="package")
def model_dir(tmp_path_factory, tok):
    path = tmp_path_factory.mktemp("audit_model")
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


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
    code = main(
        [
            "--model",
            model_dir,
            "--train_data",
            data_file,
            "--output_dir",
            str(out),
            "--loss_type",
            "sigmoid",
            "--batch_size",
            "8",
            "--max_steps",
            "12",
            "--learning_rate",
            "5e-3",
            "--max_length",
            "32",
            "--progress",
            "false",
            "--tensorboard",
            "off",
            "--beta",
            "0.2",
        ]
    )
    assert code == 0
    return str(out)
