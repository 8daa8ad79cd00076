"""sympo_ext: fused C++/CUDA kernels for robust preference optimization (SymPO).

Public API:
    fused_linear_sequence_logps / FusedLinearSymPOLoss
                        per-sequence log-probs / SymPO loss from hidden states + LM head,
                        chunked so the full logits never exist
    sym_loss            fused pair-level loss (SymPO's symmetric losses, DPO, cDPO, rDPO, IPO, ...)
    sequence_logps      fused per-sequence log-probs from LM logits (padded or packed)
    SymPOLoss           nn.Module: pair loss + metrics from the logits of [chosen; rejected]
    LOSSES / ALIASES    registry of the loss types (formula, parameter, symmetry; TRL-name aliases)
    LossSpec            one validated set of loss options (a loss or a weighted combination)
    oracle              pure-PyTorch oracle of every op (alias: reference)
"""

from __future__ import annotations

from . import oracle, reference
from ._loading import AVAILABLE as KERNELS_AVAILABLE
from ._loading import LOAD_ERROR, WITH_CUDA
from .fused_linear import fused_linear_sequence_logps
from .loss_modules import FusedLinearSymPOLoss, PairOutputs, SymPOLoss, SymPOLossOutput
from .losses import ALIASES, LOSSES, REDUCTIONS, SYMMETRIC_LOSSES, LossInfo, LossSpec
from .ops import SymLossOutput, sequence_logps, sym_loss

__version__ = "0.1.0"

__all__ = [
    "ALIASES",
    "FusedLinearSymPOLoss",
    "KERNELS_AVAILABLE",
    "LOAD_ERROR",
    "LOSSES",
    "LossInfo",
    "LossSpec",
    "REDUCTIONS",
    "SYMMETRIC_LOSSES",
    "SymLossOutput",
    "SymPOLoss",
    "SymPOLossOutput",
    "PairOutputs",
    "WITH_CUDA",
    "oracle",
    "reference",
    "fused_linear_sequence_logps",
    "sequence_logps",
    "sym_loss",
]
