"""A run directory's inputs, checked: the audit scores against the run's reference and data only while
they are the ones the policy was trained on.

``run.json`` records the fingerprints of the run's inputs (:mod:`sympo_ext.train.fingerprints`). When
the audit takes the reference or the data from ``run.json`` (not given as ``--ref_model`` / ``--data``),
the same fingerprints are computed now, by the trainer's own functions (the reference's files; the
training pairs as the trainer encoded them: its loading, noise, split and encoding), and a difference is
refused: a re-exported reference or an edited data file would be scored as if it were the run's. A run
that predates fingerprints, or an input the run held in memory, is not checked. Cost: one pass over the
reference's files and one tokenisation of the data, no forward pass.
"""

from __future__ import annotations

__all__ = ["changed_run_inputs"]


def changed_run_inputs(opts, tokenizer, run_inputs: dict | None) -> list[str]:
    """What changed since training, as phrases naming it, among the defaults taken from ``run.json``
    (recorded in ``opts.from_run``: ``ref_model`` -> the run.json key it came from, ``data``)."""
    from ..train.fingerprints import IN_MEMORY, pairs_fingerprint, path_fingerprint

    if not run_inputs:
        return []
    changed = []
    key = opts.from_run.get("ref_model")  # "ref_model", or "model" (the run's initial policy)
    stored = run_inputs.get(key) if key else None
    if stored not in (None, IN_MEMORY) and path_fingerprint(opts.ref_model) != stored:
        changed.append(f"the reference {opts.ref_model!r} (re-exported or replaced: its files differ)")
    stored = run_inputs.get("train_pairs")
    if opts.from_run.get("data") and stored not in (None, IN_MEMORY):
        if pairs_fingerprint(_training_pairs(opts, tokenizer)) != stored:
            changed.append(f"the training data {opts.data!r} (edited, reordered, appended or relabelled)")
    return changed


def _training_pairs(opts, tokenizer):
    """The run's training pairs as the trainer builds them, from the data as it is now."""
    from ..data import DataError
    from ..train.config import TrainConfig
    from ..train.datasets import prepare_datasets

    values = dict(opts.run_config, train_data=opts.data)
    try:
        cfg = TrainConfig.from_dict(values, source=f"{opts.model}/run.json")
        # the evaluation file is not read: with --eval_data the training pairs do not depend on it
        train, _, _ = prepare_datasets(cfg, tokenizer, eval_examples=[] if cfg.eval_data else None)
    except (DataError, ValueError) as e:
        raise DataError(f"--data {opts.data!r} (taken from {opts.model}/run.json): {e}") from None
    return train
