"""Preparing the policy for training: loading (local directory or Hugging Face Hub id, weight
dtype, attention implementation), dropout, gradient checkpointing and LoRA adapters.

Every function raises :class:`~sympo_ext.errors.ConfigError` (one clear line, exit status
2 from the CLI) for what the user can fix, and runs before anything is written.

Dropout: the policy trains in ``train()`` mode with every dropout of the base model set to 0
(TRL's ``disable_dropout``), so the policy and the reference agree at step 0 and the gradients are
deterministic; ``train()`` mode is what Hugging Face's gradient checkpointing needs (it is off in
``eval()`` mode), and LoRA's own dropout (``--lora_dropout``, added after) still applies.

LoRA: :func:`apply_lora` wraps the policy with ``peft`` adapters; the reference is the same
model with the adapters disabled (:func:`adapters_off`): no second copy of the weights.
"""

from __future__ import annotations

import contextlib
import os
import re

import torch
from torch import nn

from ..errors import ConfigError

__all__ = [
    "check_vocabulary",
    "is_hub_id",
    "load_tokenizer",
    "set_attn_implementation",
    "load_policy",
    "disable_dropout",
    "enable_gradient_checkpointing",
    "apply_lora",
    "is_peft_model",
    "adapters_off",
    "adapter_state_dict",
    "load_adapter_state_dict",
    "save_pretrained_final",
]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_hub_id(name: str) -> bool:
    """``name`` can only be a Hub repository id (``org/name`` or ``name``), not a local path."""
    return bool(_HUB_ID.match(name)) and not os.path.exists(name)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:200]}" if text else type(e).__name__


def load_policy(
    name: str, *, torch_dtype: str | None = None, attn_implementation: str | None = None, what: str = "--model"
) -> nn.Module:
    """A Hugging Face causal LM from a local directory or a Hub id (from the local cache when
    offline). A model that cannot be found or loaded is a one-line ConfigError naming it."""
    from transformers import AutoModelForCausalLM

    kwargs = {}
    if torch_dtype is not None:
        kwargs["dtype"] = getattr(torch, torch_dtype)  # a name of --torch_dtype's choices (config.py)
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if os.path.isdir(name):
        kwargs["local_files_only"] = True
    elif not is_hub_id(name):
        raise ConfigError(f"{what} {name!r}: no such directory, and not a Hugging Face Hub id (org/name)")
    try:
        return AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except Exception as e:
        first = _first_line(e)
        if attn_implementation is not None and "attention" in first.lower():
            raise ConfigError(f"--attn_implementation {attn_implementation}: {first}") from e
        where = "local directory" if os.path.isdir(name) else "Hub id (offline: only models in the local cache)"
        raise ConfigError(f"{what} {name!r} ({where}) could not be loaded: {first}") from e


def set_attn_implementation(model: nn.Module, attn_implementation: str) -> None:
    """Switch an in-memory model's attention implementation (clear error when unavailable)."""
    try:
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(attn_implementation)
        else:
            model.config._attn_implementation = attn_implementation
    except (ValueError, ImportError) as e:
        raise ConfigError(f"--attn_implementation {attn_implementation}: {str(e).strip().splitlines()[0]}") from e


def disable_dropout(model: nn.Module) -> None:
    """Set every dropout of ``model`` to 0: ``nn.Dropout`` modules and the float ``*dropout*``
    attributes attention modules read in training mode (e.g. Llama's ``attention_dropout``)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name, value in list(vars(module).items()):
            if "dropout" in name and isinstance(value, float):
                setattr(module, name, 0.0)


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Hugging Face gradient checkpointing of the decoder layers (non-reentrant: works with frozen
    inputs, LoRA and the fused-linear path, whose head runs outside the checkpointed layers)."""
    if not getattr(model, "supports_gradient_checkpointing", False) or not hasattr(
        model, "gradient_checkpointing_enable"
    ):
        raise ConfigError(
            f"--gradient_checkpointing: {type(model).__name__} does not support gradient "
            "checkpointing (supports_gradient_checkpointing is False)"
        )
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name (the old one warns)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if hasattr(model, "enable_input_require_grads"):
        # LoRA freezes the embeddings: without this the checkpointed layers would see inputs that
        # need no gradient (harmless with use_reentrant=False, but PEFT recommends it).
        model.enable_input_require_grads()


def is_peft_model(model: nn.Module) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def apply_lora(model: nn.Module, *, r: int, alpha: float, dropout: float, target_modules: str) -> nn.Module:
    """``peft`` LoRA adapters on ``target_modules`` ("all-linear": every linear layer but the LM head,
    i.e. the attention and MLP projections; or comma-separated module names). Only the adapters
    train."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:
        raise ConfigError("--lora_r needs the peft package: pip install 'sympo_ext[lora]' (or pip install peft)") from e
    targets = (
        target_modules
        if target_modules == "all-linear"
        else [t.strip() for t in target_modules.split(",") if t.strip()]
    )
    if targets != "all-linear":  # every name must match a module (peft only refuses a list matching none)
        names = [name for name, _ in model.named_modules()]
        missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
        if missing:
            leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
            raise ConfigError(
                f"--lora_target_modules {target_modules!r}: {', '.join(map(repr, missing))} not found: it "
                "matches no module of the model "
                f"(its linear layers: {', '.join(leaves)})"
            )
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none", task_type="CAUSAL_LM"
    )
    try:
        return get_peft_model(model, config)
    except ValueError as e:
        raise ConfigError(f"--lora_target_modules {target_modules!r}: {str(e).strip().splitlines()[0]}") from e


def adapters_off(model: nn.Module):
    """Context in which a PEFT model runs as its base model (the LoRA run's reference: no second
    copy of the weights); a no-op for any other model."""
    return model.disable_adapter() if is_peft_model(model) else contextlib.nullcontext()


def adapter_state_dict(model: nn.Module) -> dict:
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu() for k, v in get_peft_model_state_dict(model).items()}


def load_adapter_state_dict(model: nn.Module, state: dict) -> None:
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, state)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ValueError(f"adapter checkpoint does not match the model: unexpected keys {unexpected[:5]}")


def save_pretrained_final(
    model: nn.Module, directory: str, *, state_dict: dict | None = None, merge_lora: bool = False
) -> None:
    """``save_pretrained`` of the trained policy into ``directory``: for a LoRA run the adapter
    (``adapter_model.safetensors`` + ``adapter_config.json``) and, with ``merge_lora``, the merged
    full model in ``directory/merged``."""
    if is_peft_model(model):
        model.save_pretrained(directory)
        if merge_lora:
            import copy

            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(os.path.join(directory, "merged"))
        return
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(directory, state_dict=state_dict)
    else:
        os.makedirs(directory, exist_ok=True)
        torch.save(state_dict if state_dict is not None else model.state_dict(), os.path.join(directory, "model.pt"))


def load_tokenizer(path: str, what: str = "--tokenizer"):
    """The tokenizer of a local directory; ``what``: the option that named it (``--model`` when the
    tokenizer is the model's own)."""
    if not os.path.isdir(path):
        whose = ": the model's, unless --tokenizer names another" if what == "--model" else ""
        raise FileNotFoundError(
            f"{what} {path!r}: no such directory (the tokenizer is read from a local directory{whose})"
        )
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except Exception as e:
        raise ConfigError(
            f"tokenizer {path!r} could not be loaded ({_first_line(e)}); check its tokenizer and "
            "config files, or pass another --tokenizer"
        ) from e
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def _embedding_rows(model: nn.Module) -> int | None:
    """Rows of the model's input embedding and output layer (the smaller; None when unknown)."""
    rows = []
    inp = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if isinstance(getattr(inp, "num_embeddings", None), int):
        rows.append(inp.num_embeddings)
    try:
        out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    except (AttributeError, NotImplementedError):
        out = None
    weight = getattr(out, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.shape[0] > 0:
        rows.append(int(weight.shape[0]))
    return min(rows) if rows else None


def check_vocabulary(model: nn.Module, max_id: int, what: str = "--model", tokenizer=None) -> None:
    """Refuse data holding a token id the model has no embedding row for (it would fail at step 1,
    or index out of range on a GPU), and a ``tokenizer`` with more ids than the model's embedding
    (or output) rows: a ConfigError naming the model, the tokenizer and both sizes."""
    rows = _embedding_rows(model)
    if rows is None:
        return
    if max_id >= rows:
        raise ConfigError(
            f"{what}: the data holds token id {max_id} but the model's vocabulary has {rows} rows; "
            "the tokenizer does not belong to this model (pass the model's own --tokenizer, or "
            "resize the model's embeddings)"
        )
    try:
        size = len(tokenizer) if tokenizer is not None else None
    except TypeError:
        size = None
    if size is not None and size > rows:
        name = getattr(tokenizer, "name_or_path", None) or "the tokenizer"
        raise ConfigError(
            f"--tokenizer {name!r} has {size} token ids but {what} has {rows} embedding rows "
            f"(ids {rows}..{size - 1} have none): the tokenizer does not belong to this model; pass the "
            f"model's own --tokenizer, or resize the model's embeddings to at least {size} rows"
        )
