"""Scoring every pair: one no-grad pass of the policy and the reference, margins taken as labelled.

``margin_i = beta * ((log pi - log pi_ref)(preferred) - (log pi - log pi_ref)(other))`` where
"preferred" is the response the pair's label prefers (``chosen`` for label 1 / no label,
``rejected`` for label 0). The log-prob path and packing are decided by the same probe as the
trainer's (:func:`sympo_ext.hf.probe.plan_logps`); under torchrun every process scores a shard
of the pairs and the margins are gathered back in input order.

A pair the tokeniser skips (empty or identical responses, a prompt with no room left) keeps
its row with a NaN margin and the reason (:attr:`Scores.skipped`); it is never flagged.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..data import DataError, PackedCollator, PaddedCollator, PreferenceTokenizer
from ..hf.logps import SequenceLogps, model_inputs
from ..hf.probe import plan_logps
from ..train import dist as D
from ..train.sampling import sharded_batches

__all__ = ["Scores", "encode_examples", "score_pairs", "vocab_size_of"]


@dataclass
class Scores:
    margins: np.ndarray  # [N] float64, as labelled; NaN for skipped pairs
    labels: np.ndarray  # [N] int 0/1 (a missing label is 1)
    skipped: dict = field(default_factory=dict)  # position -> reason
    logps_plan: dict = field(default_factory=dict)
    pairs: list = field(default_factory=list)  # EncodedPair or None per position
    data_stats: dict = field(default_factory=dict)  # the encoding's counts (:func:`encode_examples`)


def vocab_size_of(model: nn.Module) -> int | None:
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    return getattr(emb, "num_embeddings", None)


def encode_examples(
    examples, tokenizer, *, max_length: int, max_prompt_length: int | None = None, truncation_mode: str = "keep_start"
):
    """(one EncodedPair or None per example, {position: skip reason}, the encoding's counts: the
    tokeniser's ``truncated_prompt`` / ``truncated_response`` (responses) / ``skipped_*`` and
    ``truncated_pairs``, the scored pairs whose margin covers only the tokens kept)."""
    ptok = PreferenceTokenizer(
        tokenizer, max_length=max_length, max_prompt_length=max_prompt_length, truncation_mode=truncation_mode
    )
    pairs, skipped, truncated = [], {}, 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every skip is reported per row
        for i, ex in enumerate(examples):
            before = dict(ptok.stats)
            enc = ptok.encode(ex)
            if enc is None:
                skipped[i] = next(
                    (k for k in ptok.stats if k.startswith("skipped") and ptok.stats[k] > before[k]), "skipped"
                )
            elif any(ptok.stats[k] > before[k] for k in ("truncated_prompt", "truncated_response")):
                truncated += 1
            pairs.append(enc)
    stats = {k: v for k, v in ptok.stats.items() if k != "encoded"}
    return pairs, skipped, {**stats, "truncated_pairs": truncated}


def _check_vocab(tokenizer, model: nn.Module, what: str) -> None:
    n = vocab_size_of(model)
    if n is not None and len(tokenizer) > n:
        raise DataError(
            f"the tokenizer has {len(tokenizer)} tokens but {what} embeds only {n}: they do not belong "
            f"together (pass the model's own tokenizer with --tokenizer)"
        )


@torch.no_grad()
def score_pairs(
    policy: nn.Module,
    tokenizer,
    examples,
    *,
    reference: nn.Module | None,
    beta: float,
    max_length: int = 1024,
    max_prompt_length: int | None = None,
    truncation_mode: str = "keep_start",
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    average_logps: bool = False,
    logps_path: str = "auto",
    packed: str = "auto",
    progress: bool = True,
) -> Scores:
    """The margin of every pair of ``examples`` (PreferenceExample list) under ``policy`` against
    ``reference`` (None = reference-free: rewards are ``beta * log pi``). Collective under torchrun."""
    if not examples:
        raise DataError("no preference pairs to audit (empty data)")
    if not (beta > 0 and np.isfinite(beta)):
        raise ValueError(f"--beta must be a finite number > 0, got {beta}")
    if batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
    _check_vocab(tokenizer, policy, "the model")
    if reference is not None:
        _check_vocab(tokenizer, reference, "the reference")
        if vocab_size_of(reference) != vocab_size_of(policy):
            raise DataError(
                f"the model's vocabulary ({vocab_size_of(policy)}) and the reference's "
                f"({vocab_size_of(reference)}) differ: the reference is not this policy's"
            )
    if str(device) not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {device!r}")
    dist = D.init_distributed(str(device))  # one GPU per process under torchrun; cpu / cuda otherwise
    dev = dist.device
    pairs, skipped, data_stats = encode_examples(
        examples, tokenizer, max_length=max_length, max_prompt_length=max_prompt_length, truncation_mode=truncation_mode
    )
    labels = np.array([1 if ex.label is None else int(ex.label) for ex in examples], dtype=np.int64)
    valid = [i for i, p in enumerate(pairs) if p is not None]
    margins = np.full(len(examples), np.nan)
    if not valid:
        raise DataError(
            f"none of the {len(examples)} pairs could be scored (all skipped: {sorted(set(skipped.values()))})"
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    modes = {m: m.training for m in (policy, reference) if m is not None}
    try:
        policy.to(dev).eval()
        plan = plan_logps(  # sympo-audit has no flag to skip the probe: its messages suggest none
            policy,
            logps_path=logps_path,
            packed=packed,
            probe=True,
            pad_token_id=pad,
            vocab_size=len(tokenizer),
            skip_probe=None,
        )
        plan = D.broadcast_object(plan, dist)
        collate = PackedCollator() if plan.packed else PaddedCollator(pad)
        pol = SequenceLogps(policy, path=plan.path, average=average_logps)
        ref = None
        if reference is not None:
            reference.to(dev).eval()
            ref = SequenceLogps(reference, path=plan.path, average=average_logps)
        out = torch.zeros(len(valid), dtype=torch.float64)
        bad = torch.zeros(2, dtype=torch.float64)  # batches with non-finite log-probs: [policy, reference]
        batches = list(sharded_batches(len(valid), batch_size, world_size=dist.world_size, rank=dist.rank))
        bar = None
        if progress and dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(batches), desc="sympo-audit scoring", unit="batch", file=sys.stderr, dynamic_ncols=True
            )
        for pos, real in batches:
            batch = collate([pairs[valid[j]] for j in pos])
            kw = model_inputs(batch, dev)
            lp = pol(**kw).double()
            bad[0] += float(not torch.isfinite(lp).all())
            if ref is not None:
                ref_lp = ref(**kw).double()
                bad[1] += float(not torch.isfinite(ref_lp).all())
                lp = lp - ref_lp
            b = len(pos)
            gap = beta * (lp[:b] - lp[b:]).cpu()
            if real:
                out[pos] = gap
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        out = D.all_reduce_sum(out.to(dev) if dev.type == "cuda" else out, dist).cpu()
        bad = D.all_reduce_sum(bad.to(dev) if dev.type == "cuda" else bad, dist).cpu()
    finally:
        for m, was in modes.items():
            m.train(was)
        D.destroy(dist)
    raw = out.numpy()
    if not np.all(np.isfinite(raw)):
        where = [valid[j] for j in np.flatnonzero(~np.isfinite(raw))[:5]]
        who = " and ".join(w for w, n in zip(("the model's (--model)", "the reference's (--ref_model)"), bad) if n)
        who = who or "the models'"
        raise DataError(
            f"non-finite margins at input positions {where}: {who} log-probs are not finite "
            "(non-finite weights, or an overflow in its dtype?)"
        )
    margins[valid] = np.where(labels[valid] == 1, raw, -raw)
    return Scores(
        margins=margins, labels=labels, skipped=skipped, logps_plan=plan.to_dict(), pairs=pairs, data_stats=data_stats
    )
