"""The synthetic LM-alignment pipeline shared by ``sympo-train --demo`` and the LM-alignment experiment.

1. :func:`build_reference` -- a local word-level tokenizer, a tiny Llama and the
   synthetic task of :mod:`sympo_ext.experiments.synthetic` (true reward computable); the
   model is briefly fine-tuned (SFT) to become the reference policy.
2. :func:`make_preference_data` -- pairs sampled from the reference, ordered by a
   Bradley-Terry draw on the true reward, then labels flipped at rate ``noise``
   (:mod:`sympo_ext.noise`; the true labels are kept).
3. :func:`train_policy` -- the :class:`~sympo_ext.train.trainer.Trainer` with a
   given loss (reference log-probs precomputed once).
4. :func:`evaluate_policy` -- mean true reward of the policy's samples, win rate
   against the reference (judged by the true reward), and the implicit reward's
   accuracy on held-out pairs against the noisy and the true labels.

:class:`DemoPreset` / :data:`PRESETS` size them (``full``: the demo and the experiment; ``quick``: CI).
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field, replace

import torch

from ..noise import inject_label_noise
from ..train.config import TrainConfig
from ..train.trainer import Trainer, TrainResult
from .synthetic import SyntheticTask, build_tiny_llama, build_tokenizer, sft_train

__all__ = ["DemoPreset", "PRESETS", "build_reference", "make_preference_data", "train_policy", "evaluate_policy"]


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
    train: dict = field(
        default_factory=lambda: dict(
            # 8 epochs of 32 pairs: long enough for the noisy labels to bite (the LM-alignment experiment's
            # measured 512-step setting; at 128 steps every loss is still in its small-margin regime)
            max_steps=512,
            batch_size=32,
            learning_rate=3e-4,
            beta=0.1,
            warmup_ratio=0.05,
            max_length=64,
        )
    )

    def with_train(self, **overrides) -> DemoPreset:
        """This preset with some TrainConfig values replaced."""
        return replace(self, train={**self.train, **overrides})


PRESETS = {
    "full": DemoPreset(),
    "quick": DemoPreset(
        sft_examples=512, sft_steps=25, sft_batch_size=16, train_pairs=64, eval_pairs=32, eval_prompts=32, seeds=(0,)
    ).with_train(max_steps=8, batch_size=8),
}


def build_reference(preset: DemoPreset = PRESETS["full"], *, seed: int = 0, verbose: bool = False):
    """(tokenizer, reference model, task): a tiny Llama briefly fine-tuned on the task's SFT data."""
    task = SyntheticTask(seed)
    tok = build_tokenizer()
    model = build_tiny_llama(
        tok, hidden_size=preset.hidden_size, num_layers=preset.num_layers, num_heads=preset.num_heads, seed=seed
    )
    t0 = time.perf_counter()
    losses = sft_train(
        model,
        tok,
        task.sft_examples(preset.sft_examples, seed=seed),
        steps=preset.sft_steps,
        batch_size=preset.sft_batch_size,
        lr=preset.sft_lr,
        seed=seed,
    )
    if verbose:
        print(
            f"[demo] SFT of the reference: {preset.sft_steps} steps, loss {losses[0]:.3f} -> "
            f"{sum(losses[-5:]) / min(5, len(losses)):.3f} ({time.perf_counter() - t0:.1f}s)",
            file=sys.stderr,
        )
    model.eval()
    return tok, model, task


def make_preference_data(
    reference,
    tokenizer,
    task,
    *,
    n_train: int,
    n_eval: int,
    noise: float,
    seed: int = 0,
    noise_kind: str = "symmetric",
    eps_pos: float | None = None,
    eps_neg: float | None = None,
    noise_eval: bool = True,
):
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
        return inject_label_noise(
            part, eps=noise, kind=noise_kind, eps_pos=eps_pos, eps_neg=eps_neg, flip_prob=flip_prob, seed=noise_seed
        )[0]

    if noise > 0 or noise_kind != "symmetric":
        train = noisy(train, seed + 2)
        if noise_eval and evals:
            evals = noisy(evals, seed + 3)
    return train, evals


def train_policy(
    reference_model,
    tokenizer,
    train_examples,
    eval_examples=None,
    /,
    *,
    loss_type: str,
    preset: DemoPreset = PRESETS["full"],
    seed: int = 0,
    output_dir: str | None = None,
    progress: bool = True,
    **options,
) -> TrainResult:
    """Train a copy of ``reference_model`` with ``loss_type`` (any TrainConfig option may be passed, e.g.
    ``epsilon=0.3`` for cdpo/rdpo, ``clip=...``, ``reference="none"``); the reference model stays
    untouched. The result's ``model`` is the trained policy."""
    values = dict(
        reference="precomputed",
        seed=seed,
        output_dir=output_dir,
        progress=progress,
        logging_steps=1,
        save_final_model=output_dir is not None,
        tensorboard="off" if output_dir is None else "auto",
    )
    values.update(preset.train)
    values.update(options, loss_type=loss_type)
    config = TrainConfig(**values)
    policy = copy.deepcopy(reference_model)
    trainer = Trainer(
        config, model=policy, tokenizer=tokenizer, train_examples=train_examples, eval_examples=eval_examples or None
    )
    return trainer.train()


@torch.no_grad()
def evaluate_policy(policy, reference, tokenizer, task, *, n_prompts: int = 512, seed: int = 12345) -> dict:
    """True reward of the policy's and the reference's samples (same prompts) and the win rate."""
    res = task.win_rate(policy, reference, tokenizer, n_prompts, seed=seed)
    return {
        "true_reward": res["policy_reward"],
        "reference_true_reward": res["reference_reward"],
        "win_rate": res["win_rate"],
    }
