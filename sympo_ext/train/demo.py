"""``sympo-train --demo``: SymPO vs DPO under 30% label noise, on a CPU, nothing downloaded.

Steps (each a reusable function; the LM-alignment experiment calls them for
many losses, noise levels and seeds):

1. :func:`build_reference` -- a local word-level tokenizer, a tiny Llama and the
   synthetic task of :mod:`sympo_ext.train.synthetic` (true reward computable); the
   model is briefly fine-tuned (SFT) to become the reference policy.
2. :func:`make_preference_data` -- pairs sampled from the reference, ordered by a
   Bradley-Terry draw on the true reward, then labels flipped at rate ``noise``
   (:mod:`sympo_ext.noise`; the true labels are kept).
3. :func:`train_policy` -- the :class:`~sympo_ext.train.trainer.Trainer` with a
   given loss (reference log-probs precomputed once).
4. :func:`evaluate_policy` -- mean true reward of the policy's samples, win rate
   against the reference (judged by the true reward), and the implicit reward's
   accuracy on held-out pairs against the noisy and the true labels.

:func:`run_demo` chains them for SymPO (sigmoid) and DPO (logistic) and prints a
table.
"""

from __future__ import annotations

import copy
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace

import torch

from .config import TrainConfig
from ..noise import inject_label_noise
from .trainer import Trainer, TrainResult

__all__ = ["DemoPreset", "PRESETS", "build_reference", "make_preference_data", "train_policy", "evaluate_policy",
           "run_demo", "format_table"]


@dataclass(frozen=True)
class DemoPreset:
    """A demo / experiment setting: the task's sizes, plus ``train``: overrides of
    :class:`~sympo_ext.train.config.TrainConfig` for every policy trained on it (same option names
    as ``sympo-train``). The defaults are the full demo (a few minutes on 2 CPU cores)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    sft_examples: int = 4096
    sft_steps: int = 200
    sft_batch_size: int = 32
    sft_lr: float = 3e-3
    train_pairs: int = 2048
    eval_pairs: int = 256
    label_noise: float = 0.3  # flip rate of the task's pair labels (training and evaluation pairs)
    eval_prompts: int = 512
    train: dict = field(default_factory=lambda: dict(
        max_steps=128,  # 2 epochs of 32 pairs
        batch_size=32, learning_rate=3e-4, beta=0.1, warmup_ratio=0.05, max_length=64))

    def with_train(self, **overrides) -> "DemoPreset":
        """This preset with some TrainConfig values replaced."""
        return replace(self, train={**self.train, **overrides})


PRESETS = {
    "full": DemoPreset(),
    "quick": DemoPreset(sft_examples=512, sft_steps=25, sft_batch_size=16, train_pairs=64, eval_pairs=32,
                        eval_prompts=32).with_train(max_steps=8, batch_size=8),
}


def build_reference(preset: DemoPreset = PRESETS["full"], *, seed: int = 0, verbose: bool = False):
    """(tokenizer, reference model, task): a tiny Llama briefly fine-tuned on the task's SFT data."""
    from .synthetic import SyntheticTask, build_tiny_llama, build_tokenizer, sft_train

    task = SyntheticTask(seed)
    tok = build_tokenizer()
    model = build_tiny_llama(tok, hidden_size=preset.hidden_size, num_layers=preset.num_layers,
                             num_heads=preset.num_heads, seed=seed)
    t0 = time.perf_counter()
    losses = sft_train(model, tok, task.sft_examples(preset.sft_examples, seed=seed), steps=preset.sft_steps,
                       batch_size=preset.sft_batch_size, lr=preset.sft_lr, seed=seed)
    if verbose:
        print(f"[demo] SFT of the reference: {preset.sft_steps} steps, loss {losses[0]:.3f} -> "
              f"{sum(losses[-5:]) / min(5, len(losses)):.3f} ({time.perf_counter() - t0:.1f}s)", file=sys.stderr)
    model.eval()
    return tok, model, task


def make_preference_data(reference, tokenizer, task, *, n_train: int, n_eval: int, noise: float, seed: int = 0,
                         noise_kind: str = "symmetric", eps_pos: float | None = None,
                         eps_neg: float | None = None, noise_eval: bool = True):
    """(train_examples, eval_examples): pairs sampled from ``reference`` (true label 1 by the task's
    Bradley-Terry draw), labels flipped with :func:`sympo_ext.noise.flip_labels` at rate ``noise`` (train,
    and eval when ``noise_eval``); ``true_label`` keeps the clean label."""
    # Separate draws, so the training pairs do not depend on n_eval.
    train = task.preference_pairs(reference, tokenizer, n_train, seed=seed + 1)
    evals = task.preference_pairs(reference, tokenizer, n_eval, seed=seed + 100_003) if n_eval else []

    def noisy(part, noise_seed):
        flip_prob = None
        if noise_kind == "instance":  # harder pairs (small true reward gap) flip more, mean rate = noise
            from ..noise import instance_flip_prob

            gaps = torch.tensor([ex.meta["chosen_reward"] - ex.meta["rejected_reward"] for ex in part])
            flip_prob = instance_flip_prob(gaps, noise)
        return inject_label_noise(part, eps=noise, kind=noise_kind, eps_pos=eps_pos, eps_neg=eps_neg,
                                  flip_prob=flip_prob, seed=noise_seed)[0]

    if noise > 0 or noise_kind != "symmetric":
        train = noisy(train, seed + 2)
        if noise_eval and evals:
            evals = noisy(evals, seed + 3)
    return train, evals


def train_policy(reference, tokenizer, train_examples, eval_examples=None, *, loss_type: str,
                 preset: DemoPreset = PRESETS["full"], seed: int = 0, output_dir: str | None = None,
                 progress: bool = True, **options) -> TrainResult:
    """Train a copy of ``reference`` with ``loss_type`` (any TrainConfig option may be passed, e.g.
    ``epsilon=0.3`` for cdpo/rdpo, ``clip=...``); the reference stays untouched. The result's ``model``
    is the trained policy."""
    values = dict(reference="precomputed", seed=seed, output_dir=output_dir, progress=progress, logging_steps=1,
                  save_final_model=output_dir is not None, tensorboard="off" if output_dir is None else "auto")
    values.update(preset.train)
    values.update(options, loss_type=loss_type)
    config = TrainConfig(**values)
    policy = copy.deepcopy(reference)
    trainer = Trainer(config, model=policy, tokenizer=tokenizer, train_examples=train_examples,
                      eval_examples=eval_examples or None)
    return trainer.train()


@torch.no_grad()
def evaluate_policy(policy, reference, tokenizer, task, *, n_prompts: int = 512, seed: int = 12345) -> dict:
    """True reward of the policy's and the reference's samples (same prompts) and the win rate."""
    res = task.win_rate(policy, reference, tokenizer, n_prompts, seed=seed)
    return {"true_reward": res["policy_reward"], "reference_true_reward": res["reference_reward"],
            "win_rate": res["win_rate"]}


def format_table(rows: list[dict], *, noise: float, reference_reward: float) -> str:
    head = (f"{'method':<22} {'true reward':>11} {'vs ref':>8} {'win rate':>9} {'acc (noisy)':>12} "
            f"{'acc (true)':>11}")
    lines = [f"label noise {noise:.0%}; reference policy true reward {reference_reward:+.3f}", head,
             "-" * len(head)]
    for r in rows:
        lines.append(f"{r['method']:<22} {r['true_reward']:>+11.3f} {r['true_reward'] - reference_reward:>+8.3f} "
                     f"{r['win_rate']:>9.3f} {r.get('acc_noisy', float('nan')):>12.3f} "
                     f"{r.get('acc_true', float('nan')):>11.3f}")
    return "\n".join(lines)


def run_demo(*, quick: bool = False, seed: int = 0, overrides: dict | None = None,
             losses=(("SymPO (sigmoid)", "sigmoid"), ("DPO (logistic)", "logistic")), verbose: bool = True):
    """The README's main job. Returns the rows of the printed table.

    ``overrides``: TrainConfig values from the command line (e.g. ``--beta``, ``--learning_rate``,
    ``--max_steps``, ``--batch_size``, ``--seed``, ``--label_noise``, ``--output_dir``: when given,
    each run's metrics/checkpoints go to OUTPUT_DIR/<loss_type>). Runs with one intra-op thread
    (the model is tiny), or ``$SYMPO_DEMO_THREADS``."""
    # The demo's model is tiny: one intra-op thread is fastest (more threads only add synchronisation, and
    # on a busy 2-core machine a descheduled OpenMP worker makes every matmul wait).
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SYMPO_DEMO_THREADS", "1")))
    try:
        with warnings.catch_warnings():
            # Skipped pairs (e.g. an empty sampled response) are counted in the "[sympo-train] data:" line.
            warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
            return _run_demo(quick=quick, seed=seed, overrides=overrides, losses=losses, verbose=verbose)
    finally:
        torch.set_num_threads(threads)


def _run_demo(*, quick, seed, overrides, losses, verbose):
    t0 = time.perf_counter()
    preset = PRESETS["quick" if quick else "full"]
    overrides = dict(overrides or {})
    if "label_noise" in overrides:  # noise of the task's pairs (train and eval), not injected by the trainer
        preset = replace(preset, label_noise=overrides.pop("label_noise"))
    seed = overrides.pop("seed", seed)
    out_root = overrides.pop("output_dir", None)
    progress = overrides.pop("progress", True)
    overrides.pop("loss_type", None)
    preset = preset.with_train(**overrides)  # every other TrainConfig option given on the command line
    if verbose:
        print(f"[demo] {'quick' if quick else 'full'} preset: tiny Llama (hidden {preset.hidden_size}, "
              f"{preset.num_layers} layers), {preset.train_pairs} training pairs with {preset.label_noise:.0%} "
              f"flipped labels, {preset.train['max_steps']} steps of {preset.train['batch_size']} pairs per method", file=sys.stderr)
    tok, ref, task = build_reference(preset, seed=seed, verbose=verbose)
    t1 = time.perf_counter()
    train, evals = make_preference_data(ref, tok, task, n_train=preset.train_pairs, n_eval=preset.eval_pairs,
                                        noise=preset.label_noise, seed=seed)
    flipped = sum(int(ex.label != ex.true_label) for ex in train)
    if verbose:
        print(f"[demo] {len(train)} + {len(evals)} pairs sampled from the reference; {flipped} training labels "
              f"flipped ({time.perf_counter() - t1:.1f}s)", file=sys.stderr)
    rows = []
    ref_reward = None
    for name, loss_type in losses:
        out = os.path.join(out_root, loss_type) if out_root else None
        result = train_policy(ref, tok, train, evals, loss_type=loss_type, preset=preset, seed=seed,
                              output_dir=out, progress=progress)
        ev = evaluate_policy(result.model, ref, tok, task, n_prompts=preset.eval_prompts, seed=seed + 12345)
        ref_reward = ev["reference_true_reward"]
        row = {"method": name, "loss_type": loss_type, **ev}
        if result.eval_metrics:
            row["acc_noisy"] = result.eval_metrics["rewards/accuracies"]
            row["acc_true"] = result.eval_metrics.get("rewards/true_accuracies", float("nan"))
        row["final_train_loss"] = result.train_metrics.get("loss")
        rows.append(row)
    if verbose:
        print()
        print(format_table(rows, noise=preset.label_noise, reference_reward=ref_reward))
        print(f"\n(accuracies: the implicit reward on {len(evals)} held-out pairs, against their noisy and their "
              f"true labels; win rate: policy sample vs reference sample on {preset.eval_prompts} prompts, "
              f"judged by the true reward, ties count half)")
        print(f"demo wall time: {time.perf_counter() - t0:.0f}s")
    return rows
