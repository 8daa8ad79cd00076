"""Hugging Face model adapters: the layer between the ops / loss modules and their users.

The trainer (:mod:`sympo_ext.train`), the TRL integration and the audit all take a model's
log-probs through this package:

* :mod:`~sympo_ext.hf.heads`: how the logits are made (decoder, head transform, projection);
* :mod:`~sympo_ext.hf.logps`: the one log-prob dispatch (fused-linear or logits path);
* :mod:`~sympo_ext.hf.probe`: which path and packing give the model's own log-probs, measured;
* :mod:`~sympo_ext.hf.loading`: loading (local directory or Hub id), tokenizer, dropout,
  gradient checkpointing, LoRA adapters.

It imports nothing above it (no ``sympo_ext.train``).
"""

from __future__ import annotations

from .heads import HeadParts, post_processing_reason, projection_inputs, split_decoder_head
from .logps import (
    LOGPS_PATHS,
    RESOLVED_LOGPS_PATHS,
    LogpsInputs,
    SequenceLogps,
    batch_logps,
    check_logps_path,
    logps_from_inputs,
    logps_inputs,
    model_inputs,
    model_logits,
    policy_logps,
)
from .probe import PACKED_MODES, LogpsPathError, LogpsPlan, packed_mode, plan_logps

__all__ = [
    "LOGPS_PATHS",
    "PACKED_MODES",
    "RESOLVED_LOGPS_PATHS",
    "HeadParts",
    "LogpsInputs",
    "LogpsPathError",
    "LogpsPlan",
    "SequenceLogps",
    "batch_logps",
    "check_logps_path",
    "logps_from_inputs",
    "logps_inputs",
    "model_inputs",
    "model_logits",
    "packed_mode",
    "plan_logps",
    "policy_logps",
    "post_processing_reason",
    "projection_inputs",
    "split_decoder_head",
]
