"""Shared helpers of the trainer tests: a tiny Llama, clean preference records, configs, CLI runs."""

from __future__ import annotations

import os
import random
import shutil

import pytest

from sympo_ext.data import PreferenceExample
from sympo_ext.train.checkpoint_files import list_checkpoints
from sympo_ext.train.cli import main as cli_main
from sympo_ext.train.config import TrainConfig

synthetic = pytest.importorskip("sympo_ext.experiments.synthetic")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}


# Tiny model and clean pairs (on-topic response preferred over a rude one)


def tiny_model(tok, seed=0):
    return synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, seed=seed)


def save_tiny_model(path, tok):
    """Save a tiny Llama and its tokenizer to ``path`` (what ``--model`` loads); returns ``str(path)``."""
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def clean_records(n, seed=0, conversational=False):
    rng = random.Random(seed)
    topics = list(synthetic.TOPICS)
    out = []
    for _ in range(n):
        t = rng.choice(topics)
        prompt = f"write about {t} please"
        good = " ".join(rng.choice(synthetic.TOPICS[t]) for _ in range(rng.randint(2, 5)))
        bad = " ".join(rng.choice(synthetic.BAD_WORDS) for _ in range(rng.randint(2, 5)))
        label = 1
        if rng.random() < 0.3:  # some pairs list the worse response first, labelled 0
            good, bad, label = bad, good, 0
        if conversational:
            rec = {
                "prompt": [{"role": "user", "content": prompt}],
                "chosen": [{"role": "assistant", "content": good}],
                "rejected": [{"role": "assistant", "content": bad}],
                "label": label,
            }
        else:
            rec = {"prompt": prompt, "chosen": good, "rejected": bad, "label": label}
        out.append(rec)
    return out


def examples(records):
    return [
        PreferenceExample(
            prompt=r["prompt"],
            chosen=r["chosen"],
            rejected=r["rejected"],
            label=r["label"],
            true_label=r["label"],
            index=i,
        )
        for i, r in enumerate(records)
    ]


def cfg(**kw):
    base = dict(
        batch_size=8,
        max_steps=4,
        learning_rate=5e-3,
        max_length=32,
        progress=False,
        warmup_ratio=0.0,
        tensorboard="off",
        output_dir=None,
        save_final_model=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def stopped_at(full, part, step):
    """Copy the run directory ``full`` to ``part`` as it was after its checkpoint at ``step`` (a run that
    stopped there): the later checkpoints removed, ``latest`` naming that one. Returns ``part``."""
    shutil.copytree(full, part)
    ckpts = part / "checkpoints"
    for later, path in list_checkpoints(str(ckpts)):
        if later > step:
            shutil.rmtree(path)
    (ckpts / "latest").write_text(f"step-{step:06d}")
    return part


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_cli(args, capsys):
    code = cli_main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_base(model_dir, data, out):
    return [
        "--model",
        model_dir,
        "--train_data",
        data,
        "--output_dir",
        out,
        "--batch_size",
        "8",
        "--max_steps",
        "2",
        "--max_length",
        "32",
        "--progress",
        "false",
        "--tensorboard",
        "off",
    ]
