"""Sequence log-probs of a causal LM on a preference batch, fused when possible.

:class:`SequenceLogps` wraps a policy so that ``forward(batch)`` returns the
summed (or averaged) response log-prob of every sequence in the batch. It is the
module handed to DistributedDataParallel / FSDP2, so gradient synchronisation
sees a normal forward call.

Two paths, same result:

* ``fused_linear``: run the decoder to its final hidden states, then
  ``sympo_ext.fused_linear_sequence_logps(hidden, lm_head.weight, targets)``,
  which never materialises the [tokens, vocab] logits. Used when the model
  exposes ``get_decoder()`` (or ``.model``) and a plain ``nn.Linear`` LM head
  (``get_output_embeddings()`` / ``.lm_head``) and its config has no logit
  post-processing (``final_logit_softcapping``, ``logit_scale``).
* ``logits``: ``model(...).logits`` then ``sympo_ext.sequence_logps``.

Batches follow the contract of :mod:`sympo_ext.data`: padded (``input_ids``
[2B, T], ``attention_mask``, ``target_ids`` aligned with the logits) or packed
(``input_ids`` [1, L], ``position_ids`` restarting at 0 per sequence,
``target_ids`` [L], ``cu_seqlens``). Packed batches rely on the model treating
position-id restarts as sequence boundaries: Hugging Face models do when no
attention mask is passed (transformers >= 4.56 builds the block-diagonal mask
from ``position_ids`` for sdpa/eager/flex, flash-attention uses them directly).
A custom module must do the same, or use padded batches.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .. import ops

__all__ = ["SequenceLogps", "fused_linear_available", "load_causal_lm", "load_tokenizer", "split_decoder_head"]


def fused_linear_available():
    """``sympo_ext.fused_linear_sequence_logps`` if it is importable, else None."""
    try:
        from ..fused_linear import fused_linear_sequence_logps
    except ImportError:
        return None
    return fused_linear_sequence_logps


def split_decoder_head(model: nn.Module):
    """(decoder, lm_head) when ``model`` exposes them in the HF way and its logits are
    exactly ``lm_head(decoder(...).last_hidden_state)``; else None."""
    config = getattr(model, "config", None)
    for attr in ("final_logit_softcapping", "logit_scale", "output_multiplier_scale", "logits_scaling"):
        value = getattr(config, attr, None)
        if value not in (None, 1, 1.0, 0, False):
            return None
    decoder = None
    if hasattr(model, "get_decoder"):
        try:
            decoder = model.get_decoder()
        except (AttributeError, NotImplementedError):
            decoder = None
    if decoder is None or decoder is model:
        decoder = getattr(model, "model", None)
    head = None
    if hasattr(model, "get_output_embeddings"):
        try:
            head = model.get_output_embeddings()
        except (AttributeError, NotImplementedError):
            head = None
    if head is None:
        head = getattr(model, "lm_head", None)
    if not isinstance(decoder, nn.Module) or not isinstance(head, nn.Linear):
        return None
    return decoder, head


class SequenceLogps(nn.Module):
    """Wrap a causal LM: ``forward(batch) -> float32 [num_sequences]`` response log-probs."""

    def __init__(self, model: nn.Module, *, path: str = "auto", chunk_size: int | None = None,
                 average: bool = False):
        super().__init__()
        self.model = model
        self.average = average
        self.chunk_size = chunk_size
        parts = split_decoder_head(model)
        fused = fused_linear_available()
        if path == "fused_linear":
            if parts is None:
                raise ValueError("logps_path='fused_linear': the model does not expose a decoder and a plain "
                                 "nn.Linear LM head (or post-processes its logits); use 'logits' or 'auto'")
            if fused is None:
                raise ValueError("logps_path='fused_linear': sympo_ext.fused_linear_sequence_logps is not "
                                 "available in this build; use 'logits' or 'auto'")
        elif path not in ("auto", "logits"):
            raise ValueError(f"unknown logps path {path!r}: auto, fused_linear or logits")
        self.path = "fused_linear" if (path != "logits" and parts is not None and fused is not None) else "logits"
        self._fused = fused

    def forward(self, input_ids, target_ids, attention_mask=None, position_ids=None, cu_seqlens=None):
        kwargs = {"input_ids": input_ids}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if self.path == "fused_linear":
            decoder, head = split_decoder_head(self.model)
            out = decoder(**kwargs, use_cache=False)
            hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
            if cu_seqlens is not None:
                hidden = hidden.reshape(-1, hidden.shape[-1])
            return self._fused(hidden, head.weight, target_ids, bias=head.bias, average=self.average,
                               cu_seqlens=cu_seqlens, chunk_size=self.chunk_size)
        try:
            out = self.model(**kwargs, use_cache=False)
        except TypeError:  # a plain nn.Module without use_cache
            out = self.model(**kwargs)
        logits = out.logits if hasattr(out, "logits") else (out[0] if isinstance(out, (tuple, list)) else out)
        if cu_seqlens is not None:
            logits = logits.reshape(-1, logits.shape[-1])
        return ops.sequence_logps(logits, target_ids, average=self.average, cu_seqlens=cu_seqlens)


def batch_logps(module: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
    """Run ``module`` (a SequenceLogps, possibly wrapped by DDP/FSDP) on a collated batch."""
    kw = {"input_ids": batch["input_ids"].to(device), "target_ids": batch["target_ids"].to(device)}
    if batch.get("cu_seqlens") is not None:
        kw["position_ids"] = batch["position_ids"].to(device)
        kw["cu_seqlens"] = batch["cu_seqlens"].to(device)
    else:
        kw["attention_mask"] = batch["attention_mask"].to(device)
    return module(**kw)


def load_causal_lm(path: str, *, dtype: torch.dtype | None = None) -> nn.Module:
    """A Hugging Face causal LM from a local directory (never downloads)."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"model directory {path!r} does not exist")
    from transformers import AutoModelForCausalLM

    kwargs = {"local_files_only": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_tokenizer(path: str):
    if not os.path.isdir(path):
        raise FileNotFoundError(f"tokenizer directory {path!r} does not exist")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok
