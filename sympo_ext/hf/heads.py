"""How a causal LM's logits are made: ``logits = projection(transform(decoder(...)))``.

The fused-linear path needs the decoder's final hidden states and the output projection
separately: :func:`split_decoder_head` finds them (:class:`HeadParts`, with the head's
transform for BERT/RoBERTa-style heads: dense + activation + LayerNorm before the final
projection), :func:`projection_inputs` prepares them for the fused op (dtype and autocast
rule). :func:`post_processing_reason` holds the known-attribute fast rules (soft caps, logit
scales) -- a first filter, and the decision when the probe is switched off. Whether a split
really reproduces the model's logits is measured by :func:`sympo_ext.hf.probe.plan_logps`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["HeadParts", "HeadTransform", "post_processing_reason", "projection_inputs", "split_decoder_head"]

# Known config attributes that post-process the logits after the LM head: what a set one does, and
# the value that means "off" besides unset. A cap is off only when 0 (a cap of 1.0 squashes the
# logits into (-1, 1)); a scale is off when 1.
_SOFT_CAP, _SCALE = ("soft-caps", 0), ("scales", 1)
_LOGIT_POST_PROCESSING = {
    "final_logit_softcapping": _SOFT_CAP,
    "logits_soft_cap": _SOFT_CAP,
    "output_logit_soft_cap": _SOFT_CAP,
    "logit_softcapping": _SOFT_CAP,
    "final_logit_soft_cap": _SOFT_CAP,
    "logit_scale": _SCALE,
    "logits_scaling": _SCALE,
    "output_multiplier_scale": _SCALE,
    "logit_multiplier": _SCALE,
    "lm_head_multiplier": _SCALE,
}


def post_processing_reason(model: nn.Module) -> str | None:
    """The fast rules: why the model's config says its logits are not the head's output, or None.

    Only attributes known to post-process the logits are read; anything else (an unknown
    attribute, a custom forward) is for the probe to find."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    for attr, (effect, off) in _LOGIT_POST_PROCESSING.items():
        value = getattr(config, attr, None)
        if value is not None and value is not False and value != off:
            return f"config.{attr}={value} {effect} the logits"
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
