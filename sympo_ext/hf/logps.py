"""Sequence log-probs of a causal LM: the ONE dispatch between the fused-linear and the logits path.

Every caller -- the trainer's :class:`~sympo_ext.train.policy_loss.PolicyLoss`, the reference
policy's :class:`SequenceLogps`, the probe and TRL's ``SymPOTrainer`` -- goes through
:func:`logps_inputs` (one forward of the model) and :func:`logps_from_inputs` (the log-prob op),
or both at once through :func:`policy_logps`:

* ``fused_linear``: the decoder runs to its final hidden states, the head's transform (if any)
  is applied, and ``sympo_ext.fused_linear_sequence_logps(hidden, projection.weight, targets,
  bias=projection.bias)`` computes the log-probs without materialising the [tokens, vocab]
  logits (:mod:`sympo_ext.hf.heads` finds the parts);
* ``logits``: ``model(...).logits`` then ``sympo_ext.sequence_logps``.

Which path a model gets is measured by :func:`sympo_ext.hf.probe.plan_logps`, never guessed.

Batches follow the contract of :mod:`sympo_ext.data`: padded (``input_ids`` [2B, T],
``attention_mask``, ``target_ids`` aligned with the logits) or packed (``input_ids`` [1, L],
``position_ids`` restarting at 0 per sequence, ``target_ids`` [L], ``cu_seqlens``). A packed row
is only correct for models that treat position-id restarts as sequence boundaries when no
attention mask is given; many Hugging Face models do, many do not (OPT, Mamba, the BERT family,
...): the probe checks it. TRL's batches (completions after the prompt, targets shifted by one)
select their positions with ``positions=slice(-T - 1, -1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import ops
from ..fused_linear import fused_linear_sequence_logps
from .heads import HeadParts, post_processing_reason, projection_inputs, split_decoder_head

__all__ = [
    "LOGPS_PATHS",
    "RESOLVED_LOGPS_PATHS",
    "LogpsInputs",
    "SequenceLogps",
    "batch_logps",
    "check_logps_path",
    "forward_kwargs",
    "logps_from_inputs",
    "logps_inputs",
    "model_inputs",
    "model_logits",
    "policy_logps",
]

LOGPS_PATHS = ("auto", "fused_linear", "logits")  # what a user may ask for
RESOLVED_LOGPS_PATHS = ("fused_linear", "logits")  # what runs ('auto' is decided by the probe)


def check_logps_path(path: Any, *, what: str = "logps_path", resolved: bool = False) -> str:
    """``path`` if it is one of :data:`LOGPS_PATHS` (``resolved``: of :data:`RESOLVED_LOGPS_PATHS`),
    else a ValueError naming ``what``."""
    valid = RESOLVED_LOGPS_PATHS if resolved else LOGPS_PATHS
    if path not in valid:
        raise ValueError(f"{what} must be one of {', '.join(valid)}; got {what}={path!r}")
    return path


def _call_model(model: nn.Module, kwargs: dict):
    try:
        return model(**kwargs, use_cache=False)
    except TypeError:  # a plain nn.Module without use_cache
        return model(**kwargs)


def forward_kwargs(input_ids, attention_mask=None, position_ids=None) -> dict:
    """The model-forward keyword arguments of a padded (attention_mask) or packed (position_ids) batch."""
    kwargs = {"input_ids": input_ids}
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask
    if position_ids is not None:
        kwargs["position_ids"] = position_ids
    return kwargs


def _logits_of(out) -> torch.Tensor:
    return out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, (tuple, list)) else out)


def model_logits(model: nn.Module, input_ids, attention_mask=None, position_ids=None) -> torch.Tensor:
    """``model(...).logits`` (or the first output of a plain module), without a KV cache."""
    return _logits_of(_call_model(model, forward_kwargs(input_ids, attention_mask, position_ids)))


@dataclass
class LogpsInputs:
    """What the log-prob op of ``path`` takes, from one forward of the model: on the fused path the
    projection's inputs (``hidden`` [N, T, H] or packed [L, H], ``weight``, ``bias``), on the logits
    path ``logits`` [N, T, V] or packed [L, V] and the model's ``outputs`` (auxiliary losses)."""

    path: str
    hidden: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    outputs: Any = None


def logps_inputs(
    model: nn.Module,
    path: str,
    model_kwargs: dict,
    *,
    parts: HeadParts | None = None,
    positions: slice | None = None,
    packed: bool = False,
) -> LogpsInputs:
    """Run ``model`` (its decoder only, on the fused path) on ``model_kwargs`` (``input_ids`` and
    ``attention_mask`` or ``position_ids``, plus any extra model input).

    ``parts``: the model's :class:`HeadParts` (found once by the caller; found here when None).
    ``positions``: the time positions whose log-probs count (before the head, so the fused path
    never projects the others). ``packed``: the batch is one packed row: flatten to [L, ...]."""
    check_logps_path(path, resolved=True)
    if path == "fused_linear":
        parts = parts if parts is not None else split_decoder_head(model)
        if parts is None:
            raise ValueError(
                "logps_path='fused_linear': the model does not expose a decoder and an nn.Linear output "
                "projection; use 'logits' or 'auto'"
            )
        out = parts.decoder(**model_kwargs, use_cache=False)
        hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        if positions is not None:
            hidden = hidden[:, positions]
        hidden, weight, bias = projection_inputs(parts, hidden)
        if packed:
            hidden = hidden.reshape(-1, hidden.shape[-1])
        return LogpsInputs(path, hidden=hidden, weight=weight, bias=bias)
    outputs = _call_model(model, model_kwargs)
    logits = _logits_of(outputs)
    if positions is not None:
        logits = logits[:, positions]
    if packed:
        logits = logits.reshape(-1, logits.shape[-1])
    return LogpsInputs(path, logits=logits, outputs=outputs)


def logps_from_inputs(
    inputs: LogpsInputs,
    targets: torch.Tensor,
    *,
    average: bool = False,
    cu_seqlens: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-sequence log-probs (float32 [N]) from :func:`logps_inputs`. The fused op runs with autocast
    off: its inputs already are in the dtype autocast would use (:func:`~sympo_ext.hf.heads.projection_inputs`)
    and its GEMMs write into preallocated buffers."""
    if inputs.path == "fused_linear":
        with torch.autocast(inputs.hidden.device.type, enabled=False):
            return fused_linear_sequence_logps(
                inputs.hidden,
                inputs.weight,
                targets,
                bias=inputs.bias,
                average=average,
                cu_seqlens=cu_seqlens,
                chunk_size=chunk_size,
            )
    return ops.sequence_logps(inputs.logits, targets, average=average, cu_seqlens=cu_seqlens)


def policy_logps(
    model: nn.Module,
    path: str,
    model_kwargs: dict,
    targets: torch.Tensor,
    *,
    parts: HeadParts | None = None,
    positions: slice | None = None,
    cu_seqlens: torch.Tensor | None = None,
    average: bool = False,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """:func:`logps_inputs` then :func:`logps_from_inputs`: the log-probs of ``targets`` under ``model``."""
    inputs = logps_inputs(model, path, model_kwargs, parts=parts, positions=positions, packed=cu_seqlens is not None)
    return logps_from_inputs(inputs, targets, average=average, cu_seqlens=cu_seqlens, chunk_size=chunk_size)


class SequenceLogps(nn.Module):
    """Wrap a causal LM: ``forward(batch) -> float32 [num_sequences]`` response log-probs.

    ``path``: 'fused_linear', 'logits', or 'auto' = fused_linear when the model splits into
    :class:`HeadParts` and the fast rules see no post-processing (no probe: the trainer passes
    the path :func:`~sympo_ext.hf.probe.plan_logps` measured)."""

    def __init__(self, model: nn.Module, *, path: str = "auto", chunk_size: int | None = None, average: bool = False):
        super().__init__()
        check_logps_path(path, what="SequenceLogps: path")
        self.model = model
        self.average = average
        self.chunk_size = chunk_size
        parts = split_decoder_head(model)
        if path == "fused_linear" and parts is None:
            raise ValueError(
                "logps_path='fused_linear': the model does not expose a decoder and an "
                "nn.Linear output projection; use 'logits' or 'auto'"
            )
        if path == "auto":
            path = "fused_linear" if parts is not None and post_processing_reason(model) is None else "logits"
        self.path = path
        self._parts = parts  # found once: the split walks the module tree

    def forward(self, input_ids, target_ids, attention_mask=None, position_ids=None, cu_seqlens=None):
        return policy_logps(
            self.model,
            self.path,
            forward_kwargs(input_ids, attention_mask, position_ids),
            target_ids,
            parts=self._parts,
            cu_seqlens=cu_seqlens,
            average=self.average,
            chunk_size=self.chunk_size,
        )


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
