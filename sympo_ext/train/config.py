"""Training configuration: one dataclass, the single source of every option.

The CLI builds its flags from these fields (same names, same help, same
groups), config files (YAML or JSON) use the same keys, and
:meth:`TrainConfig.validate` checks them before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import ConfigError
from ..hf.logps import LOGPS_PATHS
from ..hf.probe import PACKED_MODES, packed_mode
from ..losses import ALIASES, LOSSES, PARAMS, LossSpec, help_text, param_help, with_param_fields
from .config_file import load_config_file
from .option_checks import FLOAT32_MAX, SEED_LIMIT, TOKENIZER_FILES, check_paths, check_ranges  # noqa: F401

__all__ = ["TrainConfig", "ConfigError", "load_config_file", "GROUPS"]


# Groups, in the order ``--help`` shows them.
GROUPS = {
    "model": "Model and reference",
    "load": "Model loading, LoRA adapters and memory",
    "data": "Data",
    "loss": "Loss (any sympo_ext.sym_loss loss type and option)",
    "optim": "Optimisation",
    "log": "Evaluation, logging and checkpoints",
    "run": "Run control (output directory, resume, devices, distributed)",
}


def _f(default, group: str, help: str, **kw):
    meta = {"group": group, "help": help}
    meta.update({k: kw.pop(k) for k in ("choices", "metavar", "const") if k in kw})
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
@with_param_fields(lambda name: _f(None, "loss", param_help(name)), after="clip")
class TrainConfig:
    # ---------------------------------------------------------------- model
    model: str | None = _f(
        None,
        "model",
        "policy: a local directory holding a Hugging Face causal LM, or a Hub id (org/name; from the local cache "
        "when offline)",
        metavar="DIR_OR_ID",
    )
    tokenizer: str | None = _f(None, "model", "tokenizer directory (default: the model directory)", metavar="DIR")
    reference: str = _f(
        "model",
        "model",
        "reference policy: 'model' = a frozen copy kept in memory; 'precomputed' = reference log-probs "
        "computed once before training and cached in OUTPUT_DIR (no reference in memory while training); "
        "'none' = reference-free (rewards are beta * log pi)",
        choices=("model", "precomputed", "none"),
    )
    ref_model: str | None = _f(None, "model", "reference model directory (default: the initial policy)", metavar="DIR")
    logps_path: str = _f(
        "auto",
        "model",
        "how sequence log-probs are computed: 'fused_linear' = from the final hidden states and the output "
        "projection without materialising the logits; 'logits' = model logits then sequence_logps; 'auto' = "
        "fused_linear when a probe at start-up shows it gives the model's own log-probs, else logits. A forced "
        "fused_linear that fails the probe is refused",
        choices=LOGPS_PATHS,
    )
    probe_logps_paths: bool = _f(
        True,
        "model",
        "before training, check --logps_path and --packed on the actual model: a tiny probe batch (4 short "
        "sequences) through the logits path and each candidate (about three small forwards); false = trust "
        "the known-attribute rules (for models you know)",
    )
    chunk_size: int | None = _f(None, "model", "token chunk size of the fused linear path (default: automatic)")
    fuse_backward: bool = _f(
        True,
        "model",
        "fused linear path: compute the loss AND its gradients in one pass over "
        "the LM head (3 GEMMs; keeps the head's gradients from forward to backward); false = recompute the logits "
        "in backward (4 GEMMs, the lowest memory)",
    )
    # ----------------------------------------------------------------- load
    torch_dtype: str = _f(
        "float32",
        "load",
        "dtype of the loaded weights (the trainable ones too; bf16 autocast is --precision)",
        choices=("float32", "bfloat16", "float16"),
    )
    attn_implementation: str | None = _f(
        None,
        "load",
        "attention implementation (default: the model's): eager, "
        "sdpa, flash_attention_2 (needs the flash-attn package and a GPU) or flex_attention",
        choices=("eager", "sdpa", "flash_attention_2", "flex_attention"),
    )
    gradient_checkpointing: bool = _f(
        False,
        "load",
        "recompute the decoder layers' activations in backward "
        "(Hugging Face gradient checkpointing): less memory, one more forward of the layers",
    )
    lora_r: int = _f(
        0,
        "load",
        "LoRA rank (0 = full fine-tuning); needs peft. The reference is the same model "
        "with the adapters disabled (no second copy)",
    )
    lora_alpha: float = _f(16.0, "load", "LoRA scaling alpha")
    lora_dropout: float = _f(0.0, "load", "dropout on the LoRA branch")
    lora_target_modules: str = _f(
        "all-linear",
        "load",
        "modules that get adapters: 'all-linear' (every linear "
        "layer but the LM head: the attention and MLP projections) or comma-separated names, e.g. q_proj,v_proj",
    )
    merge_lora: bool = _f(False, "load", "also write the merged full model to OUTPUT_DIR/final/merged")
    # ----------------------------------------------------------------- data
    train_data: str | None = _f(
        None,
        "data",
        "training pairs: a .jsonl/.json file or a saved Hugging Face dataset directory with fields prompt, "
        "chosen, rejected (strings or chat messages) and optional label (1 = chosen preferred)",
        metavar="PATH",
    )
    eval_data: str | None = _f(
        None, "data", "evaluation pairs (same formats); default: --eval_fraction of the training pairs", metavar="PATH"
    )
    eval_fraction: float = _f(
        0.0,
        "data",
        "fraction of the training pairs held out for evaluation when --eval_data is not given (0 = no evaluation)",
    )
    split: str | None = _f(None, "data", "split to use when the data is a DatasetDict directory")
    max_length: int = _f(
        512,
        "data",
        "maximum prompt + response tokens per sequence; longer responses are truncated (counted in the logs)",
    )
    max_prompt_length: int | None = _f(
        None,
        "data",
        "maximum prompt tokens (default: only --max_length applies); "
        "longer prompts keep their last tokens (the ones next to the response)",
    )
    truncation_mode: str = _f(
        "keep_start",
        "data",
        "when prompt + response exceeds --max_length: 'keep_start' "
        "truncates the responses' ends; 'keep_end' truncates the prompt's start",
        choices=("keep_start", "keep_end"),
    )
    too_long_policy: str = _f(
        "skip",
        "data",
        "a prompt that leaves no room for any response token: 'skip' (counted and warned) or 'error'",
        choices=("skip", "error"),
    )
    empty_policy: str = _f(
        "skip",
        "data",
        "pairs with an empty or identical chosen/rejected: 'skip' (counted and warned) or 'error'",
        choices=("skip", "error"),
    )
    packed: str | bool = _f(
        False,
        "data",
        "padding-free packed batches (one row, cu_seqlens) instead of padded ones: 'false'; 'true' (refused "
        "when the probe shows the model mixes packed sequences; a warning with eager/sdpa attention, which "
        "build a dense mask); 'auto' = packed only with flash_attention_2 / flex_attention and a passing "
        "probe",
        metavar="{false,true,auto}",
        const="true",
    )
    label_noise: float = _f(
        0.0,
        "data",
        "inject label noise for experiments (flip rate eps); the original labels "
        "are kept as true labels, so accuracy against them is reported",
    )
    noise_kind: str = _f(
        "symmetric",
        "data",
        "kind of injected noise: 'symmetric' flips every label with "
        "probability --label_noise; 'asymmetric' flips labels 1 / 0 with --noise_eps_pos / --noise_eps_neg",
        choices=("symmetric", "asymmetric"),
    )
    noise_eps_pos: float | None = _f(None, "data", "asymmetric noise: flip rate of labels 1 (default: --label_noise)")
    noise_eps_neg: float | None = _f(None, "data", "asymmetric noise: flip rate of labels 0 (default: --label_noise)")
    noise_seed: int = _f(0, "data", "seed of the injected noise")
    # ----------------------------------------------------------------- loss
    loss_type: str = _f(
        "sigmoid",
        "loss",
        "the pair loss, any sympo_ext loss or alias [its parameter=default]: "
        + help_text().replace("%", "%%")
        + ". sigmoid/symmetric_ramp/unhinged are SymPO's symmetric losses; "
        "logistic is DPO (TRL calls it 'sigmoid')",
        choices=(*LOSSES, *ALIASES),
        metavar="NAME",
    )
    loss_types: str | None = _f(
        None,
        "loss",
        "a weighted combination instead of --loss_type (TRL's "
        "loss_type=[...]): comma-separated names, e.g. sigmoid,bco_pair,sft ('sft' = the NLL term)",
        metavar="A,B,...",
    )
    loss_weights: str | None = _f(
        None, "loss", "weights of --loss_types, comma-separated (default: 1 each)", metavar="X,Y,..."
    )
    beta: float = _f(0.1, "loss", "reward scale: r = beta * (log pi - log pi_ref)")
    clip: float | None = _f(None, "loss", "clamp each reward to [-clip, clip] (SymPO's bounded reward)")
    # the loss parameters (--temperature, --slope, --epsilon, ...): generated from the registry
    # by with_param_fields, each float | None (None = the loss's own default)
    nll_weight: float = _f(
        0.0,
        "loss",
        "add nll_weight x the chosen responses' per-token NLL, per pair (RPO's "
        "alpha; SLiC = hinge + this term), from the same log-prob pass",
    )
    average_logps: bool = _f(
        False,
        "loss",
        "use the per-token mean log-prob instead of the sum (length normalisation, as in IPO/SimPO variants)",
    )
    # ---------------------------------------------------------------- optim
    learning_rate: float = _f(5e-6, "optim", "peak AdamW learning rate")
    weight_decay: float = _f(0.0, "optim", "AdamW weight decay (not applied to biases and norms)")
    adam_beta1: float = _f(0.9, "optim", "AdamW beta1")
    adam_beta2: float = _f(0.999, "optim", "AdamW beta2")
    adam_eps: float = _f(1e-8, "optim", "AdamW epsilon")
    batch_size: int = _f(
        8,
        "optim",
        "GLOBAL number of pairs per optimizer step (all processes, all "
        "accumulation micro-steps together); must be divisible by world_size * grad_accum",
    )
    eval_batch_size: int | None = _f(
        None, "optim", "pairs per evaluation batch per process (default: the per-process micro-batch)"
    )
    grad_accum: int = _f(1, "optim", "gradient accumulation micro-steps per optimizer step")
    num_epochs: float = _f(1.0, "optim", "epochs over the training pairs (ignored when --max_steps > 0)")
    max_steps: int = _f(0, "optim", "optimizer steps to run (0 = from --num_epochs)")
    warmup_steps: int = _f(0, "optim", "linear warmup steps (overrides --warmup_ratio when > 0)")
    warmup_ratio: float = _f(0.1, "optim", "warmup as a fraction of the total steps")
    min_lr_ratio: float = _f(0.0, "optim", "cosine decay floor, as a fraction of the peak learning rate")
    max_grad_norm: float = _f(1.0, "optim", "gradient clipping by global norm (0 = off)")
    precision: str = _f(
        "auto",
        "optim",
        "'bf16' = bfloat16 autocast; 'fp32'; 'auto' = bf16 on CUDA GPUs that support it, else fp32",
        choices=("auto", "bf16", "fp32"),
    )
    seed: int = _f(0, "optim", "seed of everything (data order, init of new heads, dropout)")
    # ------------------------------------------------------------------ log
    logging_steps: int = _f(1, "log", "log training metrics every N optimizer steps")
    eval_steps: int = _f(0, "log", "evaluate every N optimizer steps (0 = only at the end)")
    save_steps: int = _f(0, "log", "checkpoint every N optimizer steps (0 = only at the end)")
    save_total_limit: int = _f(2, "log", "checkpoints kept (oldest deleted; 0 = keep all)")
    save_final_model: bool = _f(True, "log", "write the final policy to OUTPUT_DIR/final (save_pretrained)")
    tensorboard: str = _f(
        "auto",
        "log",
        "TensorBoard event files in OUTPUT_DIR/tb: 'auto' = when tensorboard is installed",
        choices=("auto", "on", "off"),
    )
    progress: bool = _f(True, "log", "tqdm progress bar")
    # ------------------------------------------------------------------ run
    output_dir: str | None = _f(None, "run", "run directory: config, metrics.csv, checkpoints/, final/", metavar="DIR")
    resume: bool = _f(False, "run", "continue the run in OUTPUT_DIR from its latest checkpoint, exactly")
    overwrite: bool = _f(False, "run", "delete an existing run in OUTPUT_DIR and start afresh")
    device: str = _f(
        "auto",
        "run",
        "'auto' (cuda when available, one GPU per process under torchrun), 'cpu', 'cuda'",
        choices=("auto", "cpu", "cuda"),
    )
    distributed: str = _f(
        "ddp",
        "run",
        "under torchrun: 'ddp' = DistributedDataParallel (NCCL on GPUs, gloo on "
        "CPUs); 'fsdp' = FSDP2 fully_shard per decoder layer (parameters, gradients and optimizer state "
        "sharded; for models that do not fit one GPU)",
        choices=("ddp", "fsdp"),
    )

    # ---------------------------------------------------------------- helpers
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> TrainConfig:
        names = set(cls.field_names())
        unknown = sorted(set(values) - names)
        if unknown:
            import difflib

            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key.replace("-", "_"), names, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(f"{source}: unknown option(s) {', '.join(hints)}")
        return cls(**{k: _coerce(k, v, source) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _validate_loss(self, bad) -> None:
        """The loss options through the loss modules' own checks (sympo_ext.losses.LossSpec, in the
        float32 math the kernels use); the messages name the option as a flag."""
        if self.loss_weights and not self.loss_types:
            bad("--loss_weights needs --loss_types (comma-separated loss names)")
        if self.loss_types is not None:
            names = [t.strip() for t in self.loss_types.split(",")]
            if not all(names):
                bad(f"--loss_types {self.loss_types!r} has an empty name: give comma-separated loss names")
            if "sft" in names and self.nll_weight:  # the same NLL term twice: its weight would be their sum
                bad("--nll_weight and 'sft' in --loss_types are the same NLL term: give its weight once")
        try:
            self.loss_spec().validate(torch.float32)
        except (ValueError, TypeError) as e:
            msg = str(e)
            first = msg.split(" ", 1)[0].split("=", 1)[0]
            if first == "loss_type" and self.loss_types:
                first = "loss_types"
            flag = "loss_types" if self.loss_types else "loss_type"
            bad(f"--{msg}" if first in self.field_names() else f"--{flag}: {msg}")

    def loss_spec(self) -> LossSpec:
        """The pair loss of this run as one :class:`~sympo_ext.losses.LossSpec` (the NLL / SFT term
        is not part of it: see ``nll_weight``)."""
        return self._loss_parts()[0]

    def _loss_parts(self) -> tuple[LossSpec, float]:
        from ..loss_modules import split_sft

        opts = self.loss_options()
        loss_type, weights, nll = split_sft(opts.pop("loss_type"), opts.pop("loss_weights"), opts.pop("nll_weight"))
        return LossSpec.create(loss_type, loss_weights=weights, **opts), nll

    def loss_description(self) -> str:
        """What the run optimises, in words: the pair loss's terms, then the NLL term when it is on."""
        spec, nll = self._loss_parts()
        return spec.describe() + (f"\n  + {nll:g} x nll: the chosen response's mean per-token NLL" if nll else "")

    def loss_options(self, **overrides) -> dict[str, Any]:
        """The loss options of this run, as the loss modules (``sympo_ext.SymPOLoss`` /
        ``FusedLinearSymPOLoss``) take them: the loss type(s) and weights, beta, clip, every loss
        parameter (None = the loss's default) and nll_weight."""
        if self.loss_types:
            loss_type = [t.strip() for t in self.loss_types.split(",")]
            try:
                weights = None if not self.loss_weights else [float(w) for w in self.loss_weights.split(",")]
            except ValueError:
                raise ValueError(f"loss_weights must be comma-separated numbers, got {self.loss_weights!r}") from None
        else:
            loss_type, weights = self.loss_type, None
        options = dict(
            loss_type=loss_type,
            loss_weights=weights,
            beta=self.beta,
            clip=self.clip,
            nll_weight=self.nll_weight,
            **{name: getattr(self, name) for name in PARAMS},
        )
        options.update(overrides)
        return options

    def validate(self, *, need_model: bool = True, need_data: bool = True) -> None:
        """Check every option; raises :class:`ConfigError` naming the option. Nothing is written
        before this passes, so a refused start never blocks the rerun."""

        def bad(msg):
            raise ConfigError(msg)

        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name))
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and not (value is None and f.default is None) and value not in choices:
                bad(f"--{f.name}: {value!r} is not one of {', '.join(map(str, choices))}")
        if packed_mode(self.packed) not in PACKED_MODES:
            bad(f"--packed: {self.packed!r} is not one of {', '.join(PACKED_MODES)}")
        # Every float option is finite (NaN passes every '<' / '>' test, so this comes first).
        for name, kind in _FIELD_KINDS.items():
            value = getattr(self, name)
            if kind is float and value is not None and not math.isfinite(value):
                bad(f"--{name} must be a finite number, got {value}")
        self._validate_loss(bad)
        # The loss runs in float32: a value float32 cannot hold would overflow there.
        if not 0 < self.beta <= FLOAT32_MAX:
            bad(f"--beta must be > 0 (and within float32 range), got {self.beta}")
        if self.clip is not None and not 0 < self.clip <= FLOAT32_MAX:
            bad(f"--clip must be > 0 (or unset), got {self.clip}")
        check_paths(self, bad, need_model=need_model, need_data=need_data)
        check_ranges(self, bad)


def _field_kinds() -> dict[str, type]:
    """Each field's base type (bool / int / float / str), Optional unwrapped."""
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for f in dataclasses.fields(TrainConfig):
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        out[f.name] = args[0] if args else hints[f.name]
    return out


_FIELD_KINDS = _field_kinds()
# Fields whose type is a union of several kinds (e.g. packed: "auto" or a bool of older configs).
_OTHER_KINDS = {
    f.name: [a for a in typing.get_args(typing.get_type_hints(TrainConfig)[f.name]) if a is not type(None)][1:]
    for f in dataclasses.fields(TrainConfig)
}
_OPTIONAL = {
    f.name
    for f in dataclasses.fields(TrainConfig)
    if type(None) in typing.get_args(typing.get_type_hints(TrainConfig)[f.name])
}


def _coerce(name: str, value: Any, source: str) -> Any:
    """Numbers written as strings (YAML reads ``5e-7`` as a string) become numbers; ints become
    floats for float options. Anything else is left to :meth:`TrainConfig.validate`."""
    kind = _FIELD_KINDS.get(name)
    if isinstance(value, str) and kind in (int, float):
        if name in _OPTIONAL and value.strip().lower() in ("none", "null", ""):
            return None
        try:
            return kind(value.strip())
        except ValueError:
            raise ConfigError(
                f"{source}: --{name} expects {'an integer' if kind is int else 'a number'}, got {value!r}"
            ) from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _check_type(name: str, value: Any) -> None:
    kind = _FIELD_KINDS[name]
    if value is None:
        if name in _OPTIONAL:
            return
        raise ConfigError(f"--{name} must be set (got null)")
    checks = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }
    ok = any(checks[k](value) for k in [kind, *_OTHER_KINDS[name]])
    if not ok:
        what = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]
        raise ConfigError(f"--{name} expects {what}, got {value!r} ({type(value).__name__})")
