"""A run's data: load, noise, split and tokenise the pairs a :class:`TrainConfig` names."""

from __future__ import annotations

import torch

from ..data import PreferenceDataset, PreferenceTokenizer, load_preference_data
from ..noise import inject_label_noise

__all__ = ["prepare_datasets"]

# The options of TrainConfig that PreferenceTokenizer takes, under the same names.
ENCODING_OPTIONS = ("max_length", "max_prompt_length", "truncation_mode", "empty_policy", "too_long_policy")


def prepare_datasets(config, tokenizer, train_examples=None, eval_examples=None):
    """Load, noise, split and tokenise the pairs of a run; returns (train_pairs, eval_pairs, stats).

    ``config`` carries the data options of :class:`sympo_ext.train.TrainConfig` (train_data,
    eval_data, split, label_noise, noise_*, eval_fraction, seed, max_length, ...). Every data
    error is raised here, before anything is written."""
    if train_examples is None:
        train_examples = load_preference_data(config.train_data, split=config.split)
    if eval_examples is None and config.eval_data:
        eval_examples = load_preference_data(config.eval_data, split=config.split)
    train_examples = list(train_examples)
    if config.label_noise > 0 or config.noise_kind == "asymmetric":
        train_examples, _ = inject_label_noise(
            train_examples,
            eps=config.label_noise,
            kind=config.noise_kind,
            eps_pos=config.noise_eps_pos,
            eps_neg=config.noise_eps_neg,
            seed=config.noise_seed,
        )
    if eval_examples is None and config.eval_fraction > 0:
        g = torch.Generator().manual_seed(config.seed)
        order = torch.randperm(len(train_examples), generator=g).tolist()
        n_eval = max(1, int(round(config.eval_fraction * len(train_examples))))
        eval_examples = [train_examples[i] for i in sorted(order[:n_eval])]
        train_examples = [train_examples[i] for i in sorted(order[n_eval:])]
    ptok = PreferenceTokenizer(tokenizer, **{name: getattr(config, name) for name in ENCODING_OPTIONS})
    train = PreferenceDataset.from_examples(train_examples, ptok)
    stats = {"train/" + k: v for k, v in train.stats.items()}
    evals = None
    if eval_examples:
        evals = PreferenceDataset.from_examples(eval_examples, ptok)
        stats.update({"eval/" + k: v for k, v in evals.stats.items()})
    return train.pairs, (evals.pairs if evals is not None else []), stats
