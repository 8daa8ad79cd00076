"""Cross-fitted scoring: K policies, each trained through the Trainer on the other folds, each
scoring its held-out fold (the out-of-sample scores confident learning recommends).

Cost: K trainings of the run's recipe on (K - 1) / K of the pairs each (the same number of
steps as the run), plus one scoring pass over the data -- about K times the original training.
Folds: a seeded permutation of the scorable positions cut into K near-equal parts.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch

__all__ = ["fold_assignment", "crossfit_margins"]


def fold_assignment(n: int, folds: int, *, seed: int = 0) -> np.ndarray:
    """fold[i] in 0..folds-1 for each of n positions (seeded, near-equal sizes)."""
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 2:
        raise ValueError(f"--folds must be an integer >= 2 (or 0/1 for in-sample scoring), got {folds!r}")
    if folds > n:
        raise ValueError(f"--folds {folds} is more than the {n} scorable pairs")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    fold = np.empty(n, dtype=np.int64)
    fold[perm] = np.arange(n) % folds
    return fold


def crossfit_margins(
    examples,
    *,
    folds: int,
    train_config,
    initial_policy,
    tokenizer,
    reference,
    score,
    seed: int = 0,
    progress: bool = True,
):
    """Margins of ``examples`` from K fold policies. ``train_config``: the TrainConfig recipe (its data,
    output and noise options are replaced: the folds are given in memory, nothing is written);
    ``initial_policy``: the model every fold starts from (copied); ``reference``: the frozen reference
    (or None); ``score(policy, examples) -> Scores``. Returns (margins [N], per-fold info)."""
    from ..train.trainer import Trainer

    n = len(examples)
    fold = fold_assignment(n, folds, seed=seed)
    margins = np.full(n, np.nan)
    info, last = [], None
    for k in range(folds):
        train_idx = np.flatnonzero(fold != k)
        held = np.flatnonzero(fold == k)
        cfg = dataclasses.replace(
            train_config,
            output_dir=None,
            train_data=None,
            eval_data=None,
            eval_fraction=0.0,
            label_noise=0.0,
            resume=False,
            overwrite=False,
            save_final_model=False,
            progress=progress,
            tensorboard="off",
        )
        cfg = dataclasses.replace(cfg, batch_size=min(cfg.batch_size, len(train_idx)))
        ref = None if reference is None or cfg.reference == "none" else reference
        result = Trainer(
            cfg,
            model=copy.deepcopy(initial_policy),
            tokenizer=tokenizer,
            ref_model=ref,
            train_examples=[examples[i] for i in train_idx],
        ).train()
        last = score(result.model, [examples[i] for i in held])
        margins[held] = last.margins
        info.append(
            {"fold": k, "train_pairs": int(train_idx.size), "held_out": int(held.size), "steps": result.global_step}
        )
    return margins, info
