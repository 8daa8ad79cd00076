"""``sympo-train --demo``: SymPO vs DPO under 40% label noise, on a CPU, nothing downloaded.

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

:func:`run_demo` runs them for SymPO (sigmoid) and DPO (logistic) on the same pairs, for
three seeds (the LM-alignment experiment's runner), and prints the table, the paired
difference with its spread over the seeds, and one line on what it means.
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
from ..experiments.common import mean_std
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
    label_noise: float = 0.4  # flip rate of the task's pair labels (training and evaluation pairs)
    eval_prompts: int = 512
    seeds: tuple[int, ...] = (0, 1, 2)  # the demo's seeds: a reference, pairs and noise each
    train: dict = field(default_factory=lambda: dict(
        # 8 epochs of 32 pairs: long enough for the noisy labels to bite (the LM-alignment experiment's
        # measured 512-step setting; at 128 steps every loss is still in its small-margin regime)
        max_steps=512,
        batch_size=32, learning_rate=3e-4, beta=0.1, warmup_ratio=0.05, max_length=64))

    def with_train(self, **overrides) -> "DemoPreset":
        """This preset with some TrainConfig values replaced."""
        return replace(self, train={**self.train, **overrides})


PRESETS = {
    "full": DemoPreset(),
    "quick": DemoPreset(sft_examples=512, sft_steps=25, sft_batch_size=16, train_pairs=64, eval_pairs=32,
                        eval_prompts=32, seeds=(0,)).with_train(max_steps=8, batch_size=8),
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


def train_policy(reference_model, tokenizer, train_examples, eval_examples=None, /, *, loss_type: str,
                 preset: DemoPreset = PRESETS["full"], seed: int = 0, output_dir: str | None = None,
                 progress: bool = True, **options) -> TrainResult:
    """Train a copy of ``reference_model`` with ``loss_type`` (any TrainConfig option may be passed, e.g.
    ``epsilon=0.3`` for cdpo/rdpo, ``clip=...``, ``reference="none"``); the reference model stays
    untouched. The result's ``model`` is the trained policy."""
    values = dict(reference="precomputed", seed=seed, output_dir=output_dir, progress=progress, logging_steps=1,
                  save_final_model=output_dir is not None, tensorboard="off" if output_dir is None else "auto")
    values.update(preset.train)
    values.update(options, loss_type=loss_type)
    config = TrainConfig(**values)
    policy = copy.deepcopy(reference_model)
    trainer = Trainer(config, model=policy, tokenizer=tokenizer, train_examples=train_examples,
                      eval_examples=eval_examples or None)
    return trainer.train()


@torch.no_grad()
def evaluate_policy(policy, reference, tokenizer, task, *, n_prompts: int = 512, seed: int = 12345) -> dict:
    """True reward of the policy's and the reference's samples (same prompts) and the win rate."""
    res = task.win_rate(policy, reference, tokenizer, n_prompts, seed=seed)
    return {"true_reward": res["policy_reward"], "reference_true_reward": res["reference_reward"],
            "win_rate": res["win_rate"]}


def _mean_sd(values) -> tuple[float, float]:
    return mean_std(values)[:2]  # mean and sample std over the seeds


def format_table(rows: list[dict], *, noise: float, steps: int, seeds) -> str:
    """The demo's table: one row per method, means (± sd over seeds), then SymPO - DPO per seed."""
    head = (f"{'method':<18} {'true reward':>17} {'vs ref':>8} {'win rate':>9} {'acc (noisy)':>12} "
            f"{'acc (true)':>11}")
    ref = _mean_sd([r["reference_true_reward"] for r in rows[0]["per_seed"]])[0]
    lines = [f"label noise {noise:.0%}, {steps} steps, {len(seeds)} seed(s) {tuple(seeds)}; reference policy true "
             f"reward {ref:+.3f}", head, "-" * len(head)]
    for r in rows:
        m, sd = _mean_sd([x["true_reward"] for x in r["per_seed"]])
        lines.append(f"{r['method']:<18} {m:>+9.3f} ± {sd:.3f} {m - ref:>+8.3f} {r['win_rate']:>9.3f} "
                     f"{r['acc_noisy']:>12.3f} {r['acc_true']:>11.3f}")
    return "\n".join(lines)


def paired_difference(rows: list[dict]) -> tuple[float, float, list[float]]:
    """(mean, sd over seeds, per-seed values) of the first method's true reward minus the second's,
    paired by seed (same reference and pairs)."""
    diffs = [a["true_reward"] - b["true_reward"] for a, b in zip(rows[0]["per_seed"], rows[1]["per_seed"])]
    return (*_mean_sd(diffs), diffs)


def honest_reading(mean: float, sd: float, diffs: list[float], noise: float) -> str:
    """One line on what the numbers mean (and do not)."""
    scope = f"{len(diffs)} seed(s) of a tiny synthetic task, not a benchmark"
    if len(diffs) > 1 and all(d > 0 for d in diffs):
        return (f"SymPO's policy is ahead of DPO's in every seed (mean {mean:+.3f}, sd {sd:.3f}): with {noise:.0%} "
                f"flipped labels the symmetric loss keeps more of the improvement, as the paper claims; {scope}.")
    if len(diffs) > 1 and all(d < 0 for d in diffs):
        return f"DPO's policy is ahead in every seed (mean {mean:+.3f}): the paper's claim does not show here; {scope}."
    return (f"The difference ({mean:+.3f}, sd {sd:.3f}) is not consistent across seeds: no winner at this size; "
            f"{scope}.")


def run_demo(*, quick: bool = False, overrides: dict | None = None,
             losses=(("SymPO (sigmoid)", "sigmoid"), ("DPO (logistic)", "logistic")), verbose: bool = True,
             workers: int | None = None):
    """The README's main job: SymPO vs DPO on the same noisy pairs, per seed (a reference, pairs and
    noise each, as in :mod:`sympo_ext.experiments.lm_alignment`, whose runner it uses). Returns one
    row per method: means over the seeds and ``per_seed``.

    ``overrides``: TrainConfig values from the command line (``--beta``, ``--learning_rate``,
    ``--max_steps``, ...; ``--label_noise`` sets the task's noise; ``--seed`` shifts the seeds;
    ``--output_dir`` receives ``demo_runs.csv``). Each run uses one intra-op thread (the model is
    tiny); ``workers`` processes (default: 2, or 1 for a single seed) run them side by side."""
    from ..experiments import common
    from ..experiments.lm_alignment import run_grid

    t0 = time.perf_counter()
    preset = PRESETS["quick" if quick else "full"]
    overrides = dict(overrides or {})
    if "label_noise" in overrides:  # noise of the task's pairs (train and eval), not injected by the trainer
        preset = replace(preset, label_noise=overrides.pop("label_noise"))
    if "seed" in overrides:
        preset = replace(preset, seeds=tuple(overrides.pop("seed") + s for s in preset.seeds))
    out_root = overrides.pop("output_dir", None)
    progress = overrides.pop("progress", True) and verbose
    overrides.pop("loss_type", None)
    preset = preset.with_train(**overrides)  # every other TrainConfig option given on the command line
    if workers is None:
        workers = 1 if len(preset.seeds) == 1 else min(2, os.cpu_count() or 1)
    if verbose:
        print(f"[demo] {'quick' if quick else 'full'} preset: tiny Llama (hidden {preset.hidden_size}, "
              f"{preset.num_layers} layers), {preset.train_pairs} training pairs with {preset.label_noise:.0%} "
              f"flipped labels, {preset.train['max_steps']} steps of {preset.train['batch_size']} pairs per method, "
              f"seeds {preset.seeds}, {workers} worker process(es)", file=sys.stderr)
    with warnings.catch_warnings():
        # Skipped pairs (e.g. an empty sampled response) are counted in the "[sympo-train] data:" line.
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        runs, _ = run_grid(losses=[loss for _, loss in losses], noises=(preset.label_noise,), seeds=preset.seeds,
                           preset=preset, workers=workers, threads=int(os.environ.get("SYMPO_DEMO_THREADS", "1")),
                           progress=progress)
    rows = []
    for name, loss_type in losses:
        mine = [r for r in runs if r["loss"] == loss_type]
        row = {"method": name, "loss_type": loss_type, "per_seed": mine}
        for key in ("true_reward", "reference_true_reward", "win_rate", "acc_noisy", "acc_true",
                    "final_train_loss"):
            row[key] = _mean_sd([r[key] for r in mine])[0]
        rows.append(row)
    if out_root:
        os.makedirs(out_root, exist_ok=True)
        common.write_csv(runs, os.path.join(out_root, "demo_runs.csv"))
    if verbose:
        print()
        print(format_table(rows, noise=preset.label_noise, steps=preset.train["max_steps"], seeds=preset.seeds))
        mean, sd, diffs = paired_difference(rows)
        print(f"\n{rows[0]['method']} - {rows[1]['method']}, true reward, paired by seed: {mean:+.3f} ± {sd:.3f} "
              f"(per seed: {', '.join(f'{d:+.3f}' for d in diffs)})")
        print(honest_reading(mean, sd, diffs, preset.label_noise))
        print(f"\n(true reward: mean over {preset.eval_prompts} prompts of one sampled response, judged by the task's "
              f"true reward; win rate: policy vs reference sample, ties half; accuracies: the implicit reward on "
              f"{preset.eval_pairs} held-out pairs against their noisy and their true labels)")
        print(f"demo wall time: {time.perf_counter() - t0:.0f}s")
    return rows
