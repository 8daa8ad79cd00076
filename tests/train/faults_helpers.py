"""Shared helpers of the fault and CLI-error tests: argument lists, damage functions (the trained run: the
`trained` fixture in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import torch

from .helpers import ENV, ROOT, cli_base

TRAINED = ["--max_steps", "4", "--save_steps", "2", "--save_total_limit", "0", "--eval_fraction", "0.25"]


def args_for(model_dir, data_file, out, extra=()):
    args = cli_base(model_dir, data_file, str(out))
    i = args.index("--max_steps")
    del args[i : i + 2]
    return args + list(extra)


def final_state(out):
    from safetensors.torch import load_file

    return load_file(os.path.join(out, "final", "model.safetensors"))


def same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def one_clear_line(err):
    lines = [x for x in err.splitlines() if x.strip() and "it/s]" not in x]  # transformers' loading bar aside
    return "Traceback" not in err and len(lines) == 1 and lines[0].startswith("sympo-train: error:")


def copy_run(trained, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(trained[0], dst)
    return dst


BAD_OPTIONS = [
    ("--weight_decay", "nan"),
    ("--max_grad_norm", "nan"),
    ("--beta", "inf"),
    ("--beta", "1e300"),
    ("--learning_rate", "nan"),
    ("--adam_beta1", "1"),
    ("--adam_beta2", "-0.1"),
    ("--adam_eps", "0"),
    ("--warmup_ratio", "nan"),
    ("--min_lr_ratio", "2"),
    ("--clip", "nan"),
    ("--temperature", "inf"),
    ("--eval_fraction", "nan"),
    ("--label_noise", "-inf"),
    ("--num_epochs", "nan"),
    ("--max_steps", str(2**63)),  # past any run: a warmup over 10 % of it trained at a learning rate of ~0
    ("--warmup_steps", "1000000001"),
    ("--save_steps", "1000000001"),
    ("--eval_steps", "1000000001"),
    ("--logging_steps", "1000000001"),
    ("--grad_accum", "1000000001"),
]


def _truncate(p):
    p.write_bytes(p.read_bytes()[:100])


def _zero(p):
    p.write_bytes(b"")


def _flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x04
    p.write_bytes(bytes(data))


def _wait_for_rows(out, proc, rows=3, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        path = out / "metrics.csv"
        if path.exists() and len(path.read_text().splitlines()) >= rows:
            return
        time.sleep(0.1)
    raise AssertionError(f"the run did not log {rows - 1} steps: {proc.poll()}")


def _start_long_run(model_dir, data_file, out):
    args = args_for(model_dir, data_file, out, ["--max_steps", "100000"])
    return subprocess.Popen(
        [sys.executable, "-m", "sympo_ext.train.cli", *args],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
