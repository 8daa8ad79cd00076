"""Sequence log-probs of a causal LM on a preference batch, fused when possible.

:class:`SequenceLogps` wraps a policy so that ``forward(batch)`` returns the
summed (or averaged) response log-prob of every sequence in the batch. It is the
module handed to DistributedDataParallel / FSDP2, so gradient synchronisation
sees a normal forward call.

Two paths, same result when the model allows it:

* ``fused_linear``: run the decoder to its final hidden states, apply the head's
  transform if it has one (BERT/RoBERTa-style heads: dense + activation +
  LayerNorm before the final projection), then
  ``sympo_ext.fused_linear_sequence_logps(hidden, projection.weight, targets,
  bias=projection.bias)``, which never materialises the [tokens, vocab] logits.
  :func:`split_decoder_head` finds the parts (:class:`HeadParts`).
* ``logits``: ``model(...).logits`` then ``sympo_ext.sequence_logps``.

Whether the fused path (and packing) gives the model's own log-probs is not
guessed from the architecture: :func:`sympo_ext.train.logps_probe.plan_logps`
measures it on the actual model before training. :func:`post_processing_reason`
holds the known-attribute fast rules (a first filter, and the decision when the
probe is switched off).

Batches follow the contract of :mod:`sympo_ext.data`: padded (``input_ids``
[2B, T], ``attention_mask``, ``target_ids`` aligned with the logits) or packed
(``input_ids`` [1, L], ``position_ids`` restarting at 0 per sequence,
``target_ids`` [L], ``cu_seqlens``). A packed row is only correct for models that
treat position-id restarts as sequence boundaries when no attention mask is
given; many Hugging Face models do, many do not (OPT, Mamba, the BERT family,
...): the probe checks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from .. import ops
from ..fused_linear import fused_linear_sequence_logps

__all__ = ["HeadParts", "SequenceLogps", "batch_logps", "load_tokenizer", "model_inputs",
           "fused_projection_inputs", "model_logits", "post_processing_reason", "projection_inputs",
           "split_decoder_head"]

# Known config attributes that post-process the logits after the LM head. A cap is off only
# when unset/0 (a cap of 1.0 squashes the logits into (-1, 1)); a scale is off when unset or 1.
_LOGIT_CAPS = ("final_logit_softcapping", "logits_soft_cap", "output_logit_soft_cap", "logit_softcapping",
               "final_logit_soft_cap")
_LOGIT_SCALES = ("logit_scale", "logits_scaling", "output_multiplier_scale", "logit_multiplier",
                 "lm_head_multiplier")


def post_processing_reason(model: nn.Module) -> str | None:
    """The fast rules: why the model's config says its logits are not the head's output, or None.

    Only attributes known to post-process the logits are read; anything else (an unknown
    attribute, a custom forward) is for the probe to find."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    for attr in _LOGIT_CAPS:
        value = getattr(config, attr, None)
        if value is not None and value is not False and value != 0:
            return f"config.{attr}={value} soft-caps the logits"
    for attr in _LOGIT_SCALES:
        value = getattr(config, attr, None)
        if value is not None and value is not False and value != 1:
            return f"config.{attr}={value} scales the logits"
    return None


@dataclass(frozen=True)
class HeadParts:
    """A causal LM split as ``logits = projection(transform(decoder(...).last_hidden_state))``.

    ``transform`` is None for a bare ``nn.Linear`` head (Llama, GPT-2, ...); for heads with
    layers before the final projection (BERT/RoBERTa: dense + activation + LayerNorm) it runs
    those layers, so that only ``projection`` is fused and every head parameter gets its
    gradient. Whether the split reproduces the model's logits is checked by the probe."""

    decoder: nn.Module
    transform: nn.Module | None
    projection: nn.Linear

    def hidden_for_projection(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden if self.transform is None else self.transform(hidden)


def projection_inputs(parts: HeadParts, hidden: torch.Tensor):
    """(hidden, weight, bias) for the fused projection, from the decoder's hidden states: the
    head's transform applied; under autocast all three in the autocast dtype (as autocast runs
    the model's own head), else the hidden states in the weight's dtype (as HF heads do, e.g.
    Mamba's float32 final norm in a bf16 model). The fused op then runs with autocast off."""
    hidden = parts.hidden_for_projection(hidden)
    weight, bias = parts.projection.weight, parts.projection.bias
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        return hidden.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype)
    return hidden.to(weight.dtype), weight, bias


def fused_projection_inputs(parts: HeadParts, input_ids, attention_mask=None, position_ids=None, cu_seqlens=None):
    """The decoder's forward on a padded or packed batch, then :func:`projection_inputs`: (hidden
    [N, T, H] or, packed, [L, H]; weight; bias) for the fused-linear ops."""
    kwargs = {"input_ids": input_ids, "use_cache": False}
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    out = parts.decoder(**kwargs)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    hidden, weight, bias = projection_inputs(parts, hidden)
    if cu_seqlens is not None:
        hidden = hidden.reshape(-1, hidden.shape[-1])
    return hidden, weight, bias


class _Captured(Exception):
    pass


class HeadTransform(nn.Module):
    """The part of an LM head module that runs before its final projection.

    Runs ``head`` on the hidden states and stops at the projection's input (captured by a
    forward pre-hook), so the projection itself -- the [tokens, vocab] GEMM -- is never
    computed here. Generic over head modules that call the projection once, last; the probe
    verifies the result."""

    def __init__(self, head: nn.Module, projection: nn.Linear):
        super().__init__()
        self.head = head
        self._projection = [projection]  # a plain list: not a registered child

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def stop(module, args):
            captured.append(args[0])
            raise _Captured

        handle = self._projection[0].register_forward_pre_hook(stop)
        try:
            self.head(hidden)
        except _Captured:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"{type(self.head).__name__} did not call its output projection")
        return captured[0]


def _contains(module: nn.Module, target: nn.Module) -> bool:
    return any(m is target for m in module.modules())


def _head_module(model: nn.Module, projection: nn.Linear, decoder: nn.Module) -> nn.Module | None:
    """The head module (lm_head, cls, ...): the outermost module on the way down to the projection
    that no longer holds the decoder (wrappers such as PEFT's hold both)."""
    path = next((name for name, m in model.named_modules() if m is projection), None)
    if not path:
        return None
    module = model
    for part in path.split("."):
        module = getattr(module, part)
        if not _contains(module, decoder):
            return module
    return None


def split_decoder_head(model: nn.Module) -> HeadParts | None:
    """The model's :class:`HeadParts` when it exposes them the Hugging Face way
    (``get_decoder()`` / ``.model``, ``get_output_embeddings()`` / ``.lm_head``), else None.

    Structural only: post-processing of the logits is for :func:`post_processing_reason`
    (known attributes) and the probe (everything else)."""
    decoder = None
    if hasattr(model, "get_decoder"):
        try:
            decoder = model.get_decoder()
        except (AttributeError, NotImplementedError, ValueError):
            decoder = None
    if decoder is None or decoder is model:
        decoder = getattr(model, "model", None)
    projection = None
    if hasattr(model, "get_output_embeddings"):
        try:
            projection = model.get_output_embeddings()
        except (AttributeError, NotImplementedError):
            projection = None
    if projection is None:
        projection = getattr(model, "lm_head", None)
    if not isinstance(decoder, nn.Module) or decoder is model or not isinstance(projection, nn.Linear):
        return None
    if _contains(decoder, projection):
        return None
    head = _head_module(model, projection, decoder)
    if head is None:
        return None
    transform = None if head is projection else HeadTransform(head, projection)
    return HeadParts(decoder, transform, projection)


def _call_model(model: nn.Module, kwargs: dict):
    try:
        return model(**kwargs, use_cache=False)
    except TypeError:  # a plain nn.Module without use_cache
        return model(**kwargs)


def model_logits(model: nn.Module, input_ids, attention_mask=None, position_ids=None) -> torch.Tensor:
    """``model(...).logits`` (or the first output of a plain module), without a KV cache."""
    kwargs = {"input_ids": input_ids}
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    out = _call_model(model, kwargs)
    return out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, (tuple, list)) else out)


class SequenceLogps(nn.Module):
    """Wrap a causal LM: ``forward(batch) -> float32 [num_sequences]`` response log-probs.

    ``path``: 'fused_linear', 'logits', or 'auto' = fused_linear when the model splits into
    :class:`HeadParts` and the fast rules see no post-processing (no probe: the trainer passes
    the path :func:`~sympo_ext.train.logps_probe.plan_logps` measured)."""

    def __init__(self, model: nn.Module, *, path: str = "auto", chunk_size: int | None = None,
                 average: bool = False):
        super().__init__()
        self.model = model
        self.average = average
        self.chunk_size = chunk_size
        parts = split_decoder_head(model)
        if path == "fused_linear":
            if parts is None:
                raise ValueError("logps_path='fused_linear': the model does not expose a decoder and an "
                                 "nn.Linear output projection; use 'logits' or 'auto'")
        elif path not in ("auto", "logits"):
            raise ValueError(f"unknown logps path {path!r}: auto, fused_linear or logits")
        if path == "auto":
            path = "fused_linear" if parts is not None and post_processing_reason(model) is None else "logits"
        self.path = path
        self._parts = parts  # found once: the split walks the module tree

    def forward(self, input_ids, target_ids, attention_mask=None, position_ids=None, cu_seqlens=None):
        if self.path == "fused_linear":
            hidden, weight, bias = fused_projection_inputs(self._parts, input_ids, attention_mask, position_ids,
                                                           cu_seqlens)
            with torch.autocast(hidden.device.type, enabled=False):
                return fused_linear_sequence_logps(hidden, weight, target_ids, bias=bias, average=self.average,
                                                   cu_seqlens=cu_seqlens, chunk_size=self.chunk_size)
        logits = model_logits(self.model, input_ids, attention_mask, position_ids)
        if cu_seqlens is not None:
            logits = logits.reshape(-1, logits.shape[-1])
        return ops.sequence_logps(logits, target_ids, average=self.average, cu_seqlens=cu_seqlens)


def model_inputs(batch: dict, device: torch.device) -> dict:
    """The tensors of a collated batch that a :class:`SequenceLogps` (or the trainer's
    ``PolicyLoss``) forward takes, on ``device``."""
    kw = {"input_ids": batch["input_ids"].to(device), "target_ids": batch["target_ids"].to(device)}
    if batch.get("cu_seqlens") is not None:
        kw["position_ids"] = batch["position_ids"].to(device)
        kw["cu_seqlens"] = batch["cu_seqlens"].to(device)
    else:
        kw["attention_mask"] = batch["attention_mask"].to(device)
    return kw


def batch_logps(module: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
    """Run ``module`` (a SequenceLogps, possibly wrapped by DDP/FSDP) on a collated batch."""
    return module(**model_inputs(batch, device))


def load_tokenizer(path: str):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"tokenizer directory {path!r} does not exist")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
