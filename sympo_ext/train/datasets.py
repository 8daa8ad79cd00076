"""A run's data: load, noise, split and tokenise the pairs a :class:`TrainConfig` names."""

from __future__ import annotations

import torch

from ..data import DataError, PreferenceDataset, PreferenceTokenizer, load_preference_data
from ..noise import inject_label_noise

__all__ = ["prepare_datasets"]

# The options of TrainConfig that PreferenceTokenizer takes, under the same names.
ENCODING_OPTIONS = ("max_length", "max_prompt_length", "truncation_mode", "empty_policy", "too_long_policy")


def _where(option: str, path) -> str:
    return f"{option} {str(path)!r}" if path else option


def _load(option: str, path, split):
    """The pairs of a data option's file; a DataError naming the option when it cannot be read or is empty."""
    try:
        examples = load_preference_data(path, split=split)
    except (DataError, FileNotFoundError) as e:
        raise DataError(f"{option}: {e}") from None
    if not examples:
        raise DataError(f"{_where(option, path)}: no preference pairs (an empty file?)")
    return examples


def prepare_datasets(config, tokenizer, train_examples=None, eval_examples=None):
    """Load, noise, split and tokenise the pairs of a run; returns (train_pairs, eval_pairs, stats).

    ``config`` carries the data options of :class:`sympo_ext.train.TrainConfig` (train_data,
    eval_data, split, label_noise, noise_*, eval_fraction, seed, max_length, ...). Every data
    error is raised here, before anything is written."""
    if train_examples is None:
        train_examples = _load("--train_data", config.train_data, config.split)
    if eval_examples is None and config.eval_data:
        eval_examples = _load("--eval_data", config.eval_data, config.split)
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
        if n_eval >= len(train_examples):
            raise DataError(
                f"--eval_fraction {config.eval_fraction}: {n_eval} of the {len(train_examples)} pairs would go to "
                "evaluation, leaving none to train on; give a smaller --eval_fraction (or --eval_data)"
            )
        eval_examples = [train_examples[i] for i in sorted(order[:n_eval])]
        train_examples = [train_examples[i] for i in sorted(order[n_eval:])]
    ptok = PreferenceTokenizer(tokenizer, **{name: getattr(config, name) for name in ENCODING_OPTIONS})
    train = PreferenceDataset.from_examples(train_examples, ptok, where=_where("--train_data", config.train_data))
    stats = {"train/" + k: v for k, v in train.stats.items()}
    evals = None
    if eval_examples:
        where = _where("--eval_data", config.eval_data) if config.eval_data else "the --eval_fraction pairs"
        evals = PreferenceDataset.from_examples(eval_examples, ptok, where=where)
        stats.update({"eval/" + k: v for k, v in evals.stats.items()})
    return train.pairs, (evals.pairs if evals is not None else []), stats
