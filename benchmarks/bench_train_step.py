"""One sympo-train optimizer step on the demo's model: time and peak memory per log-prob mode.

Each mode runs in its own process (peak resident memory is per process), on the demo's tiny
Llama (``sympo_ext.experiments.synthetic``) with a larger vocabulary option so the LM head matters,
32 pairs per step, precomputed reference, fp32, one intra-op thread. Modes:

* ``logits``             -- model logits, then ``sequence_logps``
* ``fused_linear``       -- hidden states + LM head, loss-fused (3 LM-head GEMMs; the trainer's default)
* ``fused_linear_recompute`` -- hidden states + LM head, backward recomputes the logits (4 GEMMs,
  lowest memory; ``--fuse_backward false``)

Usage::

    python benchmarks/bench_train_step.py [--steps 12] [--vocab_pad 32000] [--baseline_python PY]

``--baseline_python``: also run each mode with another interpreter (e.g. a venv whose
``sympo_ext`` is an earlier checkout), interleaved with this one, so "before" and "after" are
measured side by side in one run. Writes ``benchmarks/results/train_step_cpu.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MODES = ("logits", "fused_linear", "fused_linear_recompute")


def _child(mode: str, steps: int, vocab_pad: int) -> dict:
    import random

    import torch

    torch.set_num_threads(1)
    try:
        from sympo_ext.experiments import synthetic
    except ImportError:  # the layout before the synthetic task moved into sympo_ext.train
        from sympo_ext import synthetic
    from sympo_ext.data import PreferenceExample
    from sympo_ext.train.config import TrainConfig
    from sympo_ext.train.trainer import Trainer

    tok = synthetic.build_tokenizer()
    if vocab_pad > len(tok):  # a realistic LM-head width: pad the vocabulary with unused tokens
        tok.add_tokens([f"<extra_{i}>" for i in range(vocab_pad - len(tok))])
    model = synthetic.build_tiny_llama(tok, hidden_size=64, num_layers=2, num_heads=4, seed=0)
    rng = random.Random(0)
    topics = list(synthetic.TOPICS)
    examples = []
    for i in range(32 * (steps + 1)):
        t = rng.choice(topics)
        good = " ".join(rng.choice(synthetic.TOPICS[t]) for _ in range(rng.randint(6, 12)))
        bad = " ".join(rng.choice(synthetic.BAD_WORDS) for _ in range(rng.randint(6, 12)))
        examples.append(PreferenceExample(prompt=f"write about {t} please", chosen=good, rejected=bad, index=i))
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    quiet = dict(output_dir=None, progress=False, tensorboard="off", logging_steps=1, seed=0)
    values = dict(loss_type="sigmoid", beta=0.1, learning_rate=1e-4, batch_size=32, max_steps=steps, **quiet)
    values.update(reference="precomputed", logps_path="logits" if mode == "logits" else "fused_linear")
    if mode.startswith("fused_linear") and "fuse_backward" in fields:
        values["fuse_backward"] = mode == "fused_linear"
    elif mode == "fused_linear":  # an earlier trainer: its fused-linear path always recomputes the logits
        return {"mode": mode, "skipped": "this trainer has no loss-fused path"}
    config = TrainConfig(**{k: v for k, v in values.items() if k in fields})
    trainer = Trainer(config, model=model, tokenizer=tok, train_examples=examples)
    t0 = time.perf_counter()
    result = trainer.train()
    total = time.perf_counter() - t0
    elapsed = [row["elapsed_s"] for row in result.history if row["split"] == "train"]
    per_step = [b - a for a, b in zip(elapsed, elapsed[1:])][1:]  # drop the first (warm-up) step
    per_step.sort()
    return {
        "mode": mode,
        "step_ms": 1e3 * per_step[len(per_step) // 2],
        "steps": steps,
        "first_loss": result.history[0]["loss"],
        "last_loss": result.history[-1]["loss"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "total_s": total,
        "vocab": len(tok),
        "torch": torch.__version__,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--vocab_pad", type=int, default=32000, help="pad the vocabulary to this size (0: demo's own)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--baseline_python", help="interpreter of the earlier code to compare against")
    parser.add_argument("--repeats", type=int, default=1, help="runs per (code, mode); the median step is kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.steps, args.vocab_pad)))
        return
    codes = [("now", sys.executable)] + ([("baseline", args.baseline_python)] if args.baseline_python else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for mode in args.modes.split(","):
        for label, python in codes:
            runs = []
            for _ in range(args.repeats):
                out = subprocess.run(
                    [
                        python,
                        str(Path(__file__).resolve()),
                        "--child",
                        mode,
                        "--steps",
                        str(args.steps),
                        "--vocab_pad",
                        str(args.vocab_pad),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                    cwd="/",
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            row = sorted(runs, key=lambda r: r.get("step_ms", 0))[len(runs) // 2]
            row["label"] = label
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "train_step_cpu.csv"
    columns = [
        "label",
        "mode",
        "step_ms",
        "peak_rss_mib",
        "first_loss",
        "last_loss",
        "steps",
        "vocab",
        "total_s",
        "torch",
        "skipped",
    ]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print("\n| label | mode | step ms | peak RSS MiB | first loss |\n|---|---|---|---|---|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['label']} | {r['mode']} | skipped: {r['skipped']} | | |")
        else:
            print(
                f"| {r['label']} | {r['mode']} | {r['step_ms']:.1f} | {r['peak_rss_mib']:.0f} | {r['first_loss']:.6f} |"
            )


if __name__ == "__main__":
    main()
