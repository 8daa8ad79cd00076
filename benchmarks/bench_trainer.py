"""Benchmark: TRL's DPOTrainer vs sympo-train (sympo_ext.train.Trainer), same model, same batches.

Both train the same tiny Llama (built from a config, nothing downloaded) with DPO (TRL
``loss_type="sigmoid"``, sympo-train ``loss_type="logistic"``) on the same pairs, in the same
order (TRL: ``train_sampling_strategy="sequential"``; sympo-train: the pairs are handed over
permuted so that its seeded epoch order replays them sequentially), with a reference model that
differs from the policy (so the first-step loss depends on the batch and its agreement means
something). Configurations, each in its own process:

  trl             trl.DPOTrainer (its chunked fused LM head; TRL >= 1.16)
  trl_liger       the same with use_liger_kernel=True (GPU with liger_kernel installed only)
  sympotrainer    sympo_ext.integrations.trl.SymPOTrainer (TRL's trainer, sympo_ext's log-probs for the
                  policy and the reference, sympo_loss_type="logistic")
  sympo_padded    sympo-train, padded batches, logits path (model logits -> sympo_ext.sequence_logps)
  sympo_fused     sympo-train, padded batches, fused-linear path (hidden states + LM head,
                  sympo_ext.fused_linear_sequence_logps; the logits never exist)
  sympo_packed    sympo-train, packed (padding-free) batches, fused-linear path
  sympo_fused_loss / sympo_fused_noloss
                  fused-linear with TrainConfig.fuse_backward=True / False, when the installed
                  TrainConfig has that field (else reported as skipped)

Reported per configuration: steady-state tokens/s (real tokens of prompt + chosen + rejected
over the steps after the warm-up ones, wall time between step ends, data loading included), the
same per second of the process's CPU time (steadier than wall time on a machine shared with
other jobs; with one thread per worker the two agree on an idle machine),
peak RSS of the process (CPU; on CUDA torch.cuda.max_memory_allocated), the RSS growth during
training, the first-step loss (its difference to TRL's) and the last-step loss. Each
configuration's fastest of --repeats runs is reported (runs interleaved across configurations).

  python benchmarks/bench_trainer.py [--device cpu|cuda] [--steps 8] [--warmup 2] [--repeats 2] [--out DIR]
  python benchmarks/bench_trainer.py --plot-only benchmarks/results/bench_trainer_cpu.csv

Writes DIR/bench_trainer_<device>.csv, .md (table) and .png (default DIR: benchmarks/results/).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CONFIGS = [
    "trl",
    "trl_liger",
    "sympotrainer",
    "sympo_padded",
    "sympo_fused",
    "sympo_packed",
    "sympo_fused_loss",
    "sympo_fused_noloss",
]
SYMPO = {  # name -> TrainConfig overrides
    "sympo_padded": {"logps_path": "logits", "packed": False},
    "sympo_fused": {"logps_path": "fused_linear", "packed": False},
    "sympo_packed": {"logps_path": "fused_linear", "packed": True},
    "sympo_fused_loss": {"logps_path": "fused_linear", "packed": False, "fuse_backward": True},
    "sympo_fused_noloss": {"logps_path": "fused_linear", "packed": False, "fuse_backward": False},
}

# The model and data: a tiny Llama with a realistic-size vocabulary (the LM head dominates, as
# in real LMs), 8 pairs per step, prompts of 16-32 and responses of 24-64 words.
VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE = 16384, 192, 4, 4, 512
BATCH, BETA, LR, MAX_LENGTH = 8, 0.1, 1e-4, 256


class Skip(Exception):
    pass


def build_tokenizer():
    """Word-level tokenizer over VOCAB synthetic words; adds bos itself (like Llama's), so TRL's
    tokenisation and sympo-train's agree token for token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + [f"w{i}" for i in range(VOCAB - len(specials))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def build_model(tokenizer, seed: int):
    from sympo_ext.experiments.synthetic import build_tiny_llama

    return build_tiny_llama(
        tokenizer,
        hidden_size=HIDDEN,
        num_layers=LAYERS,
        num_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=MAX_LENGTH,
        seed=seed,
    )


def records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def words(lo, hi):  # responses carry their leading space: TRL joins prompt + response as text
        return " ".join(f"w{rng.randrange(VOCAB - 4)}" for _ in range(rng.randint(lo, hi)))

    return [{"prompt": words(16, 32), "chosen": " " + words(24, 64), "rejected": " " + words(24, 64)} for _ in range(n)]


def pair_tokens(tokenizer, rec: dict) -> int:
    """Real tokens of [bos] prompt chosen eos + [bos] prompt rejected eos."""
    n = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    return 2 * (1 + n(rec["prompt"])) + n(rec["chosen"]) + n(rec["rejected"]) + 2


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _clock(device: str) -> tuple[float, float]:
    """(wall, CPU time of this process) in seconds, after the GPU has finished."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter(), time.process_time()


def _peak_mb(device: str) -> float:
    if device == "cuda":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- #
# workers (one configuration per process)
# --------------------------------------------------------------------------- #


def run_trl(name: str, device: str, steps: int, data: list[dict], tokenizer):
    """(step-end clocks, per-step losses, RSS before training) of TRL's DPOTrainer (or SymPOTrainer)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    extra = {}
    if name == "sympotrainer":
        from sympo_ext.integrations.trl import SymPOConfig as DPOConfig
        from sympo_ext.integrations.trl import SymPOTrainer as DPOTrainer

        extra = {"sympo_loss_type": "logistic"}

    if name == "trl_liger":
        if device != "cuda":
            raise Skip("use_liger_kernel needs a GPU")
        try:
            import liger_kernel  # noqa: F401
        except ImportError:
            raise Skip("liger_kernel is not installed") from None
    args = DPOConfig(
        output_dir="/tmp/bench_trainer_trl",
        report_to="none",
        max_steps=steps,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        beta=BETA,
        loss_type=["sigmoid"],
        max_length=MAX_LENGTH,
        logging_steps=steps,
        save_strategy="no",
        seed=0,
        train_sampling_strategy="sequential",
        use_cpu=device == "cpu",
        bf16=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        lr_scheduler_type="constant",
        use_liger_kernel=name == "trl_liger",
        **extra,
    )
    trainer = DPOTrainer(
        model=build_model(tokenizer, 0),
        ref_model=build_model(tokenizer, 1),
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
    )
    ends: list[tuple[float, float]] = []
    losses: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, *a, **k):
            ends.append(_clock(device))

    trainer.add_callback(StepClock())
    compute_loss = trainer.compute_loss

    def recording(*a, **k):
        out = compute_loss(*a, **k)
        losses.append(float(out.detach()))
        return out

    trainer.compute_loss = recording
    rss0 = _rss_mb()
    start = _clock(device)
    trainer.train()
    return [start] + ends, losses, rss0


def run_sympo(name: str, device: str, steps: int, data: list[dict], tokenizer):
    """(step-end clocks, per-step losses, RSS before training) of sympo-train."""
    from sympo_ext.data import PreferenceExample
    from sympo_ext.train.config import TrainConfig
    from sympo_ext.train.trainer import Trainer

    try:
        from sympo_ext.train.sampling import epoch_order as _epoch_order
    except ImportError:  # a version before sampling.py
        from sympo_ext.train.trainer import _epoch_order

    overrides = SYMPO[name]
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    missing = [k for k in overrides if k not in fields]
    if missing:
        raise Skip(f"TrainConfig has no field {', '.join(missing)} in this version")
    cfg = TrainConfig(
        loss_type="logistic",
        beta=BETA,
        batch_size=BATCH,
        max_steps=steps,
        learning_rate=LR,
        warmup_ratio=0.0,
        min_lr_ratio=1.0,
        max_length=MAX_LENGTH,
        precision="fp32",
        device=device,
        progress=False,
        tensorboard="off",
        output_dir=None,
        save_final_model=False,
        logging_steps=1,
        seed=0,
        **overrides,
    )
    # Hand the pairs over so that the trainer's seeded epoch order visits them as TRL does: in order.
    order = _epoch_order(len(data), cfg.seed, 0)
    arranged = [None] * len(data)
    for i, j in enumerate(order):
        arranged[j] = data[i]
    examples = [
        PreferenceExample(
            prompt=r["prompt"], chosen=r["chosen"], rejected=r["rejected"], label=1, true_label=1, index=i
        )
        for i, r in enumerate(arranged)
    ]
    trainer = Trainer(
        cfg,
        model=build_model(tokenizer, 0),
        tokenizer=tokenizer,
        ref_model=build_model(tokenizer, 1),
        train_examples=examples,
    )
    ends: list[tuple[float, float]] = []
    train_step = trainer._train_step

    def timed_step(step):  # the same clock as TRL's on_step_end
        metrics = train_step(step)
        ends.append(_clock(device))
        return metrics

    trainer._train_step = timed_step
    rss0 = _rss_mb()
    start = _clock(device)
    result = trainer.train()
    rows = [h for h in result.history if h.get("split") == "train"]
    return [start] + ends, [h["loss"] for h in rows], rss0


def worker(name: str, device: str, steps: int, warmup: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    tokenizer = build_tokenizer()
    data = records(BATCH * steps)
    tokens = [sum(pair_tokens(tokenizer, r) for r in data[k * BATCH : (k + 1) * BATCH]) for k in range(steps)]
    run = run_trl if name.startswith("trl") or name == "sympotrainer" else run_sympo
    ends, losses, rss0 = run(name, device, steps, data, tokenizer)
    if len(ends) != steps + 1 or len(losses) < steps:
        raise RuntimeError(f"{name}: expected {steps} steps, saw {len(ends) - 1} step ends and {len(losses)} losses")
    seconds = ends[-1][0] - ends[warmup][0]
    cpu_seconds = ends[-1][1] - ends[warmup][1]
    return {
        "config": name,
        "tokens_per_s": sum(tokens[warmup:]) / seconds,
        "s_per_step": seconds / (steps - warmup),
        "tokens_per_cpu_s": sum(tokens[warmup:]) / cpu_seconds,
        "peak_mb": _peak_mb(device),
        "train_growth_mb": _peak_mb(device) - rss0 if device == "cpu" else None,
        "first_loss": losses[0],
        "last_loss": losses[steps - 1],
    }


# --------------------------------------------------------------------------- #
# driver
# --------------------------------------------------------------------------- #


def measure(name: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--vocab",
        str(args.vocab),
        "--device",
        args.device,
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--threads",
        str(args.threads),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"config": name, "skipped": f"failed (rc={proc.returncode}): {' | '.join(tail)}"}
    row = json.loads(lines[-1])
    row["wall_s"] = time.perf_counter() - t0
    return row


def add_ratios(rows: list[dict]) -> None:
    base = next((r for r in rows if r["config"] == "trl" and "tokens_per_s" in r), None)
    for r in rows:
        if base is None or "tokens_per_s" not in r:
            continue
        r["speed_vs_trl"] = r["tokens_per_s"] / base["tokens_per_s"]
        r["cpu_speed_vs_trl"] = r["tokens_per_cpu_s"] / base["tokens_per_cpu_s"]
        r["memory_vs_trl"] = r["peak_mb"] / base["peak_mb"]
        r["first_loss_diff"] = abs(r["first_loss"] - base["first_loss"])
        r["last_loss_diff"] = abs(r["last_loss"] - base["last_loss"])


COLUMNS = [
    "config",
    "tokens_per_s",
    "s_per_step",
    "tokens_per_cpu_s",
    "peak_mb",
    "train_growth_mb",
    "speed_vs_trl",
    "cpu_speed_vs_trl",
    "memory_vs_trl",
    "first_loss",
    "first_loss_diff",
    "last_loss",
    "last_loss_diff",
    "skipped",
]


def plot(rows: list[dict], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)")
        return
    done = [r for r in rows if r.get("tokens_per_s")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [r["config"] for r in done]
    colors = ["tab:gray" if n.startswith("trl") else "tab:blue" for n in names]
    axes[0].barh(names, [float(r["tokens_per_s"]) for r in done], color=colors)
    axes[0].set_xlabel("tokens/s (higher is better)")
    axes[1].barh(names, [float(r["peak_mb"]) for r in done], color=colors)
    axes[1].set_xlabel("peak memory, MB (lower is better)")
    for ax in axes:
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[1].set_yticklabels([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv=None) -> None:
    global VOCAB
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per configuration (default 8)")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out of the timing (default 2)")
    p.add_argument("--vocab", type=int, default=VOCAB, help=f"vocabulary size of the model (default {VOCAB})")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="rounds over the configurations; each reports its fastest run (default 2)",
    )
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ", ".join(CONFIGS))
    p.add_argument("--timeout", type=float, default=300, help="seconds per configuration before giving up")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--plot-only", metavar="CSV")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps <= args.warmup:
        p.error("--steps must be larger than --warmup")

    VOCAB = args.vocab
    if args.worker:
        try:
            row = worker(args.worker, args.device, args.steps, args.warmup, args.threads)
        except Skip as exc:
            row = {"config": args.worker, "skipped": str(exc)}
        print(json.dumps(row))
        return

    from _common import machine_name, markdown_table, print_table, write_csv

    out = Path(args.out)
    stem = out / (f"bench_trainer_{args.device}" + ("" if args.vocab == 16384 else f"_v{args.vocab}"))
    if args.plot_only:
        with open(args.plot_only) as fh:
            rows = list(csv.DictReader(fh))
        plot(rows, Path(args.plot_only).with_suffix(".png"), "bench_trainer")
        return
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        p.error(f"unknown configs {unknown}; choose from {CONFIGS}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA GPU available")
    title = (
        f"{machine_name(args.device)}; tiny Llama (vocab {VOCAB}, hidden {HIDDEN}, {LAYERS} layers), "
        f"{BATCH} pairs/step, {args.steps} steps ({args.warmup} warm-up), {args.threads} thread(s)/worker, "
        f"best of {args.repeats}"
    )
    print(title)
    # Rounds over all configurations (not all repeats of one, then the next), keeping each one's
    # fastest run: load from other processes on a shared machine then hits every configuration alike.
    best: dict[str, dict] = {}
    for rnd in range(args.repeats):
        for name in args.configs.split(","):
            if rnd and "skipped" in best[name]:
                continue
            row = measure(name, args)
            print(
                f"  [{rnd + 1}/{args.repeats}] {name}: "
                + (
                    row.get("skipped")
                    or f"{row['tokens_per_s']:.0f} tokens/s, {row['peak_mb']:.0f} MB peak, {row['wall_s']:.0f} s"
                )
            )
            old = best.get(name)
            if old is None or "skipped" in old or row.get("tokens_per_s", 0) > old["tokens_per_s"]:
                best[name] = row
    rows = [best[name] for name in args.configs.split(",")]
    add_ratios(rows)
    print_table(rows, COLUMNS)
    write_csv(stem.with_suffix(".csv"), [{c: r.get(c) for c in COLUMNS} for r in rows])
    stem.with_suffix(".md").write_text(f"{title}\n\n{markdown_table(rows, COLUMNS)}\n")
    print(f"wrote {stem.with_suffix('.csv')} and {stem.with_suffix('.md')}")
    plot(rows, stem.with_suffix(".png"), title)


if __name__ == "__main__":
    main()
