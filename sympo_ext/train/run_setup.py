"""A run's parts, loaded and checked before its run directory is touched.

Everything that can refuse a run is done here, in this order: the tokenizer; the policy (gradient
checkpointing, dropout off, LoRA); the data; every token id against the policy's and the
reference's vocabularies; on ``--resume``, the inputs' fingerprints against the recorded ones; the
reference model; the log-prob path and packing (the probe). A refusal therefore leaves nothing on
disk, and the trainer only wires the parts together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data import PackedCollator, PaddedCollator
from ..hf.loading import (
    apply_lora,
    check_vocabulary,
    disable_dropout,
    enable_gradient_checkpointing,
    load_policy,
    load_tokenizer,
    set_attn_implementation,
)
from ..hf.probe import LogpsPlan, plan_logps
from . import dist as D
from . import rundir
from .datasets import prepare_datasets
from .fingerprints import max_token_id, run_inputs

__all__ = ["RunParts", "load_run_parts", "prepare_policy"]


@dataclass
class RunParts:
    tokenizer: Any
    policy: nn.Module
    ref_model: nn.Module | None  # None: the reference is a frozen copy of the policy, or none at all
    train_pairs: list
    eval_pairs: list
    data_stats: dict  # what the encoding truncated or dropped (DATA_STAT_KEYS per split)
    inputs: dict  # the inputs' fingerprints (run.json's "inputs")
    logps_plan: LogpsPlan
    collate: Callable

    def record(self, world_size: int, loss_description: str) -> dict:
        """What ``run.json`` records of the run besides its options."""
        return {
            "torch": torch.__version__,
            "world_size": world_size,
            "data_stats": self.data_stats,
            "train_pairs": len(self.train_pairs),
            "eval_pairs": len(self.eval_pairs),
            "logps_plan": self.logps_plan.to_dict(),
            "inputs": self.inputs,
            "loss": loss_description,
            "cwd": os.getcwd(),  # what the config's relative paths are relative to (sympo-audit reads them)
        }


def prepare_policy(cfg, model: nn.Module | None = None) -> nn.Module:
    """Load (or take) the policy, then gradient checkpointing, dropout off, LoRA."""
    if model is not None:
        if cfg.attn_implementation:
            set_attn_implementation(model, cfg.attn_implementation)
    else:
        model = load_policy(cfg.model, torch_dtype=cfg.torch_dtype, attn_implementation=cfg.attn_implementation)
    if cfg.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    disable_dropout(model)
    if cfg.lora_r:
        with torch.random.fork_rng(devices=[]):  # the adapters' initialisation is a function of --seed
            torch.manual_seed(cfg.seed)
            lora = {"alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout, "target_modules": cfg.lora_target_modules}
            model = apply_lora(model, r=cfg.lora_r, **lora)
    return model


def load_run_parts(
    cfg,
    dist,
    report,
    *,
    model=None,
    tokenizer=None,
    ref_model=None,
    train_examples=None,
    eval_examples=None,
    config_file: str | None = None,
) -> RunParts:
    """Load and check every part of a run (the module docstring). The parts handed in memory (the
    Python API) are taken as they are; ``report`` prints a start-up line on the main process."""
    if tokenizer is None:
        tok = load_tokenizer(cfg.tokenizer, "--tokenizer") if cfg.tokenizer else load_tokenizer(cfg.model, "--model")
    else:
        tok = tokenizer
    if tok.eos_token_id is None:  # the encoding appends eos only when there is one (data/tokenization.py)
        name = "the tokenizer given" if tokenizer is not None else f"--{'tokenizer' if cfg.tokenizer else 'model'}"
        report(
            f"warning: {name} {cfg.tokenizer or cfg.model or ''!r} has no eos token: the responses are trained "
            "without an end-of-sequence token (the model does not learn to stop); set eos_token in its "
            "tokenizer_config.json to have one appended"
        )
    policy = prepare_policy(cfg, model)
    train_pairs, eval_pairs, data_stats = prepare_datasets(cfg, tok, train_examples, eval_examples)
    check_vocabulary(policy, max_id := max_token_id(train_pairs + eval_pairs), tokenizer=tok)
    in_memory = {"model": model, "ref_model": ref_model, "tokenizer": tokenizer}
    inputs = run_inputs(cfg, train_pairs=train_pairs, eval_pairs=eval_pairs, config_file=config_file, **in_memory)
    if cfg.resume and cfg.output_dir:
        rundir.check_inputs_unchanged(cfg.output_dir, inputs)
    if ref_model is None and cfg.ref_model and cfg.reference != "none":
        ref_model = load_policy(
            cfg.ref_model, torch_dtype=cfg.torch_dtype, attn_implementation=cfg.attn_implementation, what="--ref_model"
        )
        check_vocabulary(ref_model, max_id, what="--ref_model", tokenizer=tok)
    if cfg.progress and (trunc := {k: v for k, v in data_stats.items() if v and "encoded" not in k}):
        report(f"data: {trunc}")  # what the encoding truncated or dropped

    # The log-prob path and packing, measured on the model (one decision for every process).
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    policy.to(dist.device)
    probe = {"probe": cfg.probe_logps_paths, "pad_token_id": pad, "vocab_size": len(tok)}
    plan = plan_logps(policy, logps_path=cfg.logps_path, packed=cfg.packed, **probe)
    plan = D.broadcast_object(plan, dist)
    for note in plan.notes:
        report(note)
    collate = PackedCollator() if plan.packed else PaddedCollator(pad)
    return RunParts(tok, policy, ref_model, train_pairs, eval_pairs, data_stats, inputs, plan, collate)
