"""The option checks of :meth:`TrainConfig.validate` that read files and ranges (kept apart from the
option declarations in :mod:`sympo_ext.train.config`): every message names the flag."""

from __future__ import annotations

import math
import os

import torch

from ..hf.loading import is_hub_id

__all__ = ["FLOAT32_MAX", "SEED_LIMIT", "STEP_LIMIT", "TOKENIZER_FILES", "check_paths", "check_ranges"]

# Files of which at least one marks a directory as holding a Hugging Face tokenizer.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
FLOAT32_MAX = 3.4028234663852886e38
SEED_LIMIT = 2**63
# The most steps a step-count option may name (a billion: far beyond any run, and a 2**63 typo refused
# rather than trained at a warmup learning rate of ~0).
STEP_LIMIT = 10**9


def check_paths(cfg, bad, *, need_model: bool, need_data: bool) -> None:
    """The model, tokenizer, reference and data paths exist and hold what they should."""
    if need_model and not cfg.model:
        bad("--model is required (a local directory with a Hugging Face causal LM), or use --demo")
    if need_model and cfg.model:
        if not os.path.isdir(cfg.model) and not is_hub_id(cfg.model):
            bad(f"--model {cfg.model!r}: no such directory, and not a Hugging Face Hub id (org/name)")
        if os.path.isdir(cfg.model) and not os.path.isfile(os.path.join(cfg.model, "config.json")):
            bad(f"--model {cfg.model!r}: not a Hugging Face model directory (no config.json)")
    for name in ("tokenizer", "ref_model"):
        path = getattr(cfg, name)
        if path and not os.path.isdir(path):
            bad(f"--{name} {path!r}: no such directory")
    tok_dir = cfg.tokenizer or (cfg.model if need_model else None)
    if (
        tok_dir
        and os.path.isdir(tok_dir)
        and not any(os.path.isfile(os.path.join(tok_dir, n)) for n in TOKENIZER_FILES)
    ):
        which = "--tokenizer" if cfg.tokenizer else "--model"
        bad(
            f"{which} {tok_dir!r} holds no tokenizer (none of {', '.join(TOKENIZER_FILES[:3])}, ...)"
            + ("; pass --tokenizer DIR" if not cfg.tokenizer else "")
        )
    if cfg.ref_model and not os.path.isfile(os.path.join(cfg.ref_model, "config.json")):
        bad(f"--ref_model {cfg.ref_model!r}: not a Hugging Face model directory (no config.json)")
    if cfg.ref_model and cfg.reference == "none":
        bad("--ref_model was given but --reference none makes training reference-free")
    if need_data and not cfg.train_data:
        bad("--train_data is required (a .jsonl/.json file or a dataset directory)")
    for name in ("train_data", "eval_data"):
        path = getattr(cfg, name)
        if need_data and path and not os.path.exists(path):
            bad(f"--{name} {path!r}: no such file or directory")
    if need_data and not cfg.output_dir:
        bad("--output_dir is required")


def check_ranges(cfg, bad) -> None:
    """Every numeric option in its range, and the combinations that cannot run."""
    if cfg.max_length < 2:
        bad(f"--max_length must be >= 2, got {cfg.max_length}")
    if cfg.max_prompt_length is not None and not 1 <= cfg.max_prompt_length < cfg.max_length:
        bad(f"--max_prompt_length must be in [1, max_length), got {cfg.max_prompt_length}")
    if not 0.0 <= cfg.eval_fraction < 1.0:
        bad(f"--eval_fraction must be in [0, 1), got {cfg.eval_fraction}")
    if not 0.0 <= cfg.label_noise <= 1.0:
        bad(f"--label_noise must be in [0, 1], got {cfg.label_noise}")
    for name in ("noise_eps_pos", "noise_eps_neg"):
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value <= 1.0:
            bad(f"--{name} must be in [0, 1], got {value}")
    if cfg.noise_kind == "symmetric" and (cfg.noise_eps_pos is not None or cfg.noise_eps_neg is not None):
        bad("--noise_eps_pos / --noise_eps_neg are for --noise_kind asymmetric")
    for name in ("batch_size", "grad_accum", "logging_steps"):
        if getattr(cfg, name) < 1:
            bad(f"--{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("max_steps", "warmup_steps", "eval_steps", "save_steps", "save_total_limit"):
        if getattr(cfg, name) < 0:
            bad(f"--{name} must be >= 0, got {getattr(cfg, name)}")
    for name in ("max_steps", "warmup_steps", "eval_steps", "save_steps", "logging_steps", "grad_accum"):
        if getattr(cfg, name) > STEP_LIMIT:
            bad(f"--{name} must be <= {STEP_LIMIT} (10**9), got {getattr(cfg, name)}")
    for name in ("seed", "noise_seed"):
        if not 0 <= getattr(cfg, name) < SEED_LIMIT:
            bad(f"--{name} must be in [0, 2**63), got {getattr(cfg, name)}")
    if cfg.eval_batch_size is not None and cfg.eval_batch_size < 1:
        bad(f"--eval_batch_size must be >= 1, got {cfg.eval_batch_size}")
    if cfg.max_steps == 0 and cfg.num_epochs <= 0:
        bad("--num_epochs must be > 0 when --max_steps is 0")
    if cfg.num_epochs < 0:
        bad(f"--num_epochs must be >= 0, got {cfg.num_epochs}")
    for name in ("learning_rate", "weight_decay", "max_grad_norm"):
        if getattr(cfg, name) < 0:
            bad(f"--{name} must be >= 0, got {getattr(cfg, name)}")
    for name in ("adam_beta1", "adam_beta2"):
        if not 0.0 <= getattr(cfg, name) < 1.0:
            bad(f"--{name} must be in [0, 1), got {getattr(cfg, name)}")
    if not cfg.adam_eps > 0:
        bad(f"--adam_eps must be > 0, got {cfg.adam_eps}")
    for name in ("warmup_ratio", "min_lr_ratio"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            bad(f"--{name} must be in [0, 1], got {getattr(cfg, name)}")
    if cfg.resume and cfg.overwrite:
        bad("--resume and --overwrite exclude each other")
    if cfg.lora_r < 0:
        bad(f"--lora_r must be >= 0 (0 = no LoRA), got {cfg.lora_r}")
    if cfg.lora_r and not (cfg.lora_alpha > 0 and math.isfinite(cfg.lora_alpha)):
        bad(f"--lora_alpha must be a finite number > 0, got {cfg.lora_alpha}")
    if not 0.0 <= cfg.lora_dropout < 1.0:
        bad(f"--lora_dropout must be in [0, 1), got {cfg.lora_dropout}")
    if cfg.merge_lora and not cfg.lora_r:
        bad("--merge_lora needs --lora_r > 0")
    if cfg.chunk_size is not None and cfg.chunk_size < 1:
        bad(f"--chunk_size must be >= 1, got {cfg.chunk_size}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        bad("--device cuda: no CUDA GPU is available (use --device cpu or auto)")
    on_cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
    if cfg.torch_dtype == "float16" and on_cpu:
        bad(
            "--torch_dtype float16 cannot train on the CPU: float16 weights updated in float16 on the CPU "
            "turn into NaN within a step (no fp16 loss scaling there); use --torch_dtype bfloat16 or float32"
        )
    if cfg.nll_weight < 0:
        bad(f"--nll_weight must be >= 0 (0 = no NLL term), got {cfg.nll_weight}")
