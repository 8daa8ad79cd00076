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

  floor           not a trainer: the LM-head GEMMs a step cannot avoid (policy forward, the two
                  backward GEMMs -- d hidden and d weight --, reference forward), on the counted rows
                  only (the non-padded response tokens), timed with torch.matmul of exactly those
                  shapes in its own process; each row's floor_share is floor / its CPU s per step

With --profile each trainer runs one more step under torch.profiler (left out of the timing and the
losses) and the table gets where that step's time goes, by op family: LM-head GEMMs, the transformer
body (forward and backward), the log-prob kernel (sympo_ext's fused op, or TRL's chunked head with its
entropy / mean logits / top-1), optimizer, other (collation, loss, Python, the profiler itself).

Reported per configuration: steady-state tokens/s (real tokens of prompt + chosen + rejected
over the steps after the warm-up ones, wall time between step ends, data loading included), the
same per second of the process's CPU time (steadier than wall time on a machine shared with
other jobs; with one thread per worker the two agree on an idle machine),
peak RSS of the process (CPU; on CUDA torch.cuda.max_memory_allocated), the RSS growth during
training, the first-step loss (its difference to TRL's) and the last-step loss. Each
configuration's fastest of --repeats runs is reported (runs interleaved across configurations).

  python benchmarks/bench_trainer.py [--device cpu|cuda] [--steps 8] [--warmup 2] [--repeats 2] [--out DIR]
                                     [--vocab V] [--configs trl,sympotrainer,sympo_fused,floor] [--profile]
                                     [--stem NAME]
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
    "floor",
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

    sizes = {"hidden_size": HIDDEN, "num_layers": LAYERS, "num_heads": HEADS, "intermediate_size": INTERMEDIATE}
    return build_tiny_llama(tokenizer, max_position_embeddings=MAX_LENGTH, seed=seed, **sizes)


def records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)

    def words(lo, hi):  # responses carry their leading space: TRL joins prompt + response as text
        return " ".join(f"w{rng.randrange(VOCAB - 4)}" for _ in range(rng.randint(lo, hi)))

    return [{"prompt": words(16, 32), "chosen": " " + words(24, 64), "rejected": " " + words(24, 64)} for _ in range(n)]


def pair_tokens(tokenizer, rec: dict) -> int:
    """Real tokens of [bos] prompt chosen eos + [bos] prompt rejected eos."""
    n = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    return 2 * (1 + n(rec["prompt"])) + n(rec["chosen"]) + n(rec["rejected"]) + 2


def response_rows(tokenizer, rec: dict) -> int:
    """Counted rows of a pair (the tokens whose log-prob the loss takes): chosen eos + rejected eos."""
    n = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])
    return n(rec["chosen"]) + n(rec["rejected"]) + 2


# --------------------------------------------------------------------------- #
# profile of one step, by op family
# --------------------------------------------------------------------------- #

FAMILIES = ["lm_head_gemms", "body", "logprob_kernel", "optimizer", "other"]
_MM = {"aten::mm", "aten::addmm", "aten::addmm_", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm"}
# sympo_ext's custom ops and autograd nodes, TRL's chunked head (forward labelled here, backward node)
_KERNEL_MARKS = ("sympo_ext::", "logprob_kernel", "ChunkedLogProb", "LossFused", "sympo_ext.")


class StepProfiler:
    """torch.profiler around one step; labels the decoder's forward ('body') and TRL's chunked head
    ('logprob_kernel') so that their ops can be told apart from the rest."""

    def __init__(self, models):
        import torch

        self.torch = torch
        self.prof = None
        self.handles = []
        for model in models:
            body = model.get_decoder()
            self.handles.append(body.register_forward_pre_hook(self._enter))
            self.handles.append(body.register_forward_hook(self._exit))
        self._open = []
        try:  # TRL's head: its forward is an autograd.Function (no range of its own)
            from trl.trainer import utils as trl_utils

            fn = trl_utils._ChunkedLogProbFunction
            original = fn.apply

            def labelled(*args):
                with torch.profiler.record_function("logprob_kernel"):
                    return original(*args)

            fn.apply = staticmethod(labelled)
        except ImportError:
            pass

    def _enter(self, module, args):
        if self.prof is not None:
            rf = self.torch.profiler.record_function("body")
            rf.__enter__()
            self._open.append(rf)

    def _exit(self, module, args, output):
        if self._open:
            self._open.pop().__exit__(None, None, None)

    def start(self):
        self.prof = self.torch.profiler.profile(
            activities=[self.torch.profiler.ProfilerActivity.CPU], record_shapes=True
        )
        self.prof.__enter__()
        self.t0 = time.perf_counter()

    def stop(self) -> dict:
        wall = time.perf_counter() - self.t0
        self.prof.__exit__(None, None, None)
        out = dict.fromkeys(FAMILIES, 0.0)
        for ev in self.prof.events():
            out[_family(ev)] += ev.self_cpu_time_total / 1e6
        named = sum(v for k, v in out.items() if k != "other")
        out["other"] = max(wall - named, 0.0)  # incl. Python between ops and the profiler's own cost
        out["step_s"] = wall
        self.prof = None
        return out


def _family(ev) -> str:
    chain, node = [], ev
    while node is not None:
        chain.append(node.name)
        node = node.cpu_parent
    if any(n.startswith("Optimizer.") for n in chain):
        return "optimizer"
    in_head = any(mark in n for n in chain for mark in _KERNEL_MARKS)
    if ev.name in _MM and (in_head or any(VOCAB in shape for shape in (ev.input_shapes or []) if shape)):
        return "lm_head_gemms"  # the head's GEMMs, also where a kernel tiles the vocabulary
    if in_head:
        return "logprob_kernel"
    if "body" in chain or any(n.startswith("autograd::engine::evaluate_function") for n in chain):
        return "body"  # the decoder's forward, and every backward node that is not the head's
    return "other"


# --------------------------------------------------------------------------- #
# the floor: the LM-head GEMMs of a step, timed alone
# --------------------------------------------------------------------------- #


def run_floor(device: str, steps: int, warmup: int, data: list[dict], tokenizer, reps: int = 3) -> dict:
    """Per timed step: policy forward h @ W^T, d hidden = g @ W, d weight = g^T @ h, reference forward
    h @ W^T, on [rows, HIDDEN] x [VOCAB, HIDDEN] with rows = the step's counted response tokens;
    each GEMM the fastest of ``reps`` by CPU time. Also the floor of the profiled step, if there is one."""
    import torch

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(VOCAB, HIDDEN, generator=gen).to(device)

    def step_floor(k: int) -> tuple[float, float, int]:
        rows = sum(response_rows(tokenizer, r) for r in data[k * BATCH : (k + 1) * BATCH])
        h = torch.randn(rows, HIDDEN, generator=gen).to(device)
        g = torch.randn(rows, VOCAB, generator=gen).to(device)
        wall = cpu = 0.0
        for a, b, times in (
            (h, weight.t(), 2),  # policy and reference forward: h @ W^T
            (g, weight, 1),  # d hidden = g @ W
            (g.t(), h, 1),  # d weight = g^T @ h
        ):
            torch.matmul(a, b)  # warm
            best = None
            for _ in range(reps):  # the fastest by CPU time (steadier than wall time under load)
                w0, c0 = _clock(device)
                torch.matmul(a, b)
                w1, c1 = _clock(device)
                best = (w1 - w0, c1 - c0) if best is None or c1 - c0 < best[1] else best
            wall += times * best[0]
            cpu += times * best[1]
        return wall, cpu, rows

    timed = [step_floor(k) for k in range(warmup, steps)]
    n = steps - warmup
    row = {
        "config": "floor",
        "s_per_step": sum(t[0] for t in timed) / n,
        "cpu_s_per_step": sum(t[1] for t in timed) / n,
        "floor_share": 1.0,
        "rows_per_step": sum(t[2] for t in timed) / n,
    }
    if len(data) > steps * BATCH:  # --profile: the extra step
        _, row["profiled_step_floor_s"], row["profiled_step_rows"] = step_floor(steps)
    flops = 8 * row["rows_per_step"] * HIDDEN * VOCAB  # 4 GEMMs of 2 * rows * H * V
    row["gemm_gflops"] = flops / row["cpu_s_per_step"] / 1e9
    return row


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


def run_trl(name: str, device: str, steps: int, data: list[dict], tokenizer, profile: bool = False):
    """(step-end clocks, per-step losses, RSS before training, peak after ``steps``, profile or None) of
    TRL's DPOTrainer (or SymPOTrainer); with ``profile`` one more step runs under :class:`StepProfiler`."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    if name == "sympotrainer":
        from sympo_ext.integrations.trl import SymPOConfig as DPOConfig
        from sympo_ext.integrations.trl import SymPOTrainer as DPOTrainer

        extra = {"sympo_loss_type": "logistic"}  # TRL's loss_type stays unset: SymPOConfig refuses 'sigmoid'
    else:
        extra = {"loss_type": ["sigmoid"]}

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
        max_steps=steps + profile,
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        beta=BETA,
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
    policy, ref = build_model(tokenizer, 0), build_model(tokenizer, 1)
    trainer = DPOTrainer(
        model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer
    )
    ends: list[tuple[float, float]] = []
    losses: list[float] = []
    prof = StepProfiler([policy, ref]) if profile else None
    result = {}

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **k):
            if prof is not None and state.global_step == steps:
                result["peak_mb"] = _peak_mb(device)
                prof.start()

        def on_step_end(self, args, state, control, **k):
            if state.global_step > steps:
                result["profile"] = prof.stop()
                return
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
    return [start] + ends, losses[:steps], rss0, result.get("peak_mb", _peak_mb(device)), result.get("profile")


def run_sympo(name: str, device: str, steps: int, data: list[dict], tokenizer, profile: bool = False):
    """As :func:`run_trl`, for sympo-train."""
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
        max_steps=steps + profile,
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
    policy, ref = build_model(tokenizer, 0), build_model(tokenizer, 1)
    trainer = Trainer(cfg, model=policy, tokenizer=tokenizer, ref_model=ref, train_examples=examples)
    ends: list[tuple[float, float]] = []
    train_step = trainer._train_step
    prof = StepProfiler([policy, ref]) if profile else None
    result = {}

    def timed_step(step):  # the same clock as TRL's on_step_end
        if len(ends) == steps:  # the extra, profiled step
            result["peak_mb"] = _peak_mb(device)
            prof.start()
            metrics = train_step(step)
            result["profile"] = prof.stop()
            return metrics
        metrics = train_step(step)
        ends.append(_clock(device))
        return metrics

    trainer._train_step = timed_step
    rss0 = _rss_mb()
    start = _clock(device)
    history = trainer.train().history
    losses = [h["loss"] for h in history if h.get("split") == "train"][:steps]
    return [start] + ends, losses, rss0, result.get("peak_mb", _peak_mb(device)), result.get("profile")


def worker(name: str, device: str, steps: int, warmup: int, threads: int, profile: bool = False) -> dict:
    import torch

    torch.set_num_threads(threads)
    tokenizer = build_tokenizer()
    data = records(BATCH * (steps + profile))  # the first steps' pairs do not depend on profile
    if name == "floor":
        return run_floor(device, steps, warmup, data, tokenizer)
    tokens = [sum(pair_tokens(tokenizer, r) for r in data[k * BATCH : (k + 1) * BATCH]) for k in range(steps)]
    run = run_trl if name.startswith("trl") or name == "sympotrainer" else run_sympo
    ends, losses, rss0, peak, prof = run(name, device, steps, data, tokenizer, profile)
    if len(ends) != steps + 1 or len(losses) < steps:
        raise RuntimeError(f"{name}: expected {steps} steps, saw {len(ends) - 1} step ends and {len(losses)} losses")
    seconds = ends[-1][0] - ends[warmup][0]
    cpu_seconds = ends[-1][1] - ends[warmup][1]
    return {
        "config": name,
        "tokens_per_s": sum(tokens[warmup:]) / seconds,
        "s_per_step": seconds / (steps - warmup),
        "cpu_s_per_step": cpu_seconds / (steps - warmup),
        "tokens_per_cpu_s": sum(tokens[warmup:]) / cpu_seconds,
        "peak_mb": peak,  # before the profiled step, if any
        "train_growth_mb": peak - rss0 if device == "cpu" else None,
        "first_loss": losses[0],
        "last_loss": losses[steps - 1],
        "profile": prof,
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
        *(["--profile"] if args.profile else []),
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


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "n/a"


def profile_row(row: dict, floor: dict | None) -> dict:
    prof = row["profile"]
    out = {"config": row["config"], "step_s": prof["step_s"]}
    if floor is not None and "profiled_step_floor_s" in floor:  # the same step's LM-head GEMMs, timed alone
        out["gemm_floor_s"] = floor["profiled_step_floor_s"]
        out["gemms_vs_floor"] = prof["lm_head_gemms"] / floor["profiled_step_floor_s"]
    for fam in FAMILIES:
        out[f"{fam}_s"] = prof[fam]
        out[f"{fam}_pct"] = 100 * prof[fam] / prof["step_s"]
    return out


def add_ratios(rows: list[dict]) -> None:
    base = next((r for r in rows if r["config"] == "trl" and "tokens_per_s" in r), None)
    floor = next((r for r in rows if r["config"] == "floor" and "cpu_s_per_step" in r), None)
    for r in rows:
        if floor is not None and r.get("tokens_per_s"):
            r["floor_share"] = floor["cpu_s_per_step"] / r["cpu_s_per_step"]
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
    "cpu_s_per_step",
    "floor_share",
    "rows_per_step",
    "gemm_gflops",
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
    p.add_argument("--profile", action="store_true", help="one more step per trainer under torch.profiler")
    p.add_argument("--stem", help="file name of the results, without suffix (default bench_trainer_<device>[_v<V>])")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps <= args.warmup:
        p.error("--steps must be larger than --warmup")

    VOCAB = args.vocab
    if args.worker:
        try:
            row = worker(args.worker, args.device, args.steps, args.warmup, args.threads, args.profile)
        except Skip as exc:
            row = {"config": args.worker, "skipped": str(exc)}
        print(json.dumps(row))
        return

    from _common import machine_name, markdown_table, print_table, write_csv

    out = Path(args.out)
    stem = out / (args.stem or (f"bench_trainer_{args.device}" + ("" if args.vocab == 16384 else f"_v{args.vocab}")))
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
    title += f"; load average at the start {_loadavg()}"
    print(title)
    # Rounds over all configurations (not all repeats of one, then the next), keeping each one's
    # fastest run: load from other processes on a shared machine then hits every configuration alike.
    best: dict[str, dict] = {}
    for rnd in range(args.repeats):
        for name in args.configs.split(","):
            if rnd and "skipped" in best[name]:
                continue
            row = measure(name, args)
            row["load"] = _loadavg()
            if "skipped" in row:
                what = row["skipped"]
            elif name == "floor":
                what = f"{row['s_per_step']:.3f} s/step ({row['cpu_s_per_step']:.3f} CPU s)"
            else:
                what = f"{row['tokens_per_s']:.0f} tokens/s, {row['peak_mb']:.0f} MB peak, {row['wall_s']:.0f} s"
            print(f"  [{rnd + 1}/{args.repeats}] {name}: {what} (load {row['load']})")
            old = best.get(name)
            if old is None or "skipped" in old or ("skipped" not in row and row["s_per_step"] < old["s_per_step"]):
                best[name] = row
    rows = [best[name] for name in args.configs.split(",")]
    add_ratios(rows)
    print_table(rows, COLUMNS)
    write_csv(stem.with_suffix(".csv"), [{c: r.get(c) for c in COLUMNS} for r in rows])
    text = f"{title}\n\n{markdown_table(rows, COLUMNS)}\n"
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        floor = next((r for r in rows if r["config"] == "floor" and "cpu_s_per_step" in r), None)
        table = [profile_row(r, floor) for r in profiled]
        write_csv(stem.parent / f"{stem.name}_profile.csv", table)
        text += (
            "\nWhere one step's time goes (torch.profiler, one extra step per trainer, self CPU time of the ops by "
            "family; 'other' = the step's wall time minus the named families: collation, loss, Python, the profiler's "
            f"own cost)\n\n{markdown_table(table, list(table[0]))}\n"
        )
    stem.with_suffix(".md").write_text(text)
    print(f"wrote {stem.with_suffix('.csv')} and {stem.with_suffix('.md')}")
    plot(rows, stem.with_suffix(".png"), title)


if __name__ == "__main__":
    main()
