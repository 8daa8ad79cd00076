"""sympo_ext.train: a thin, fast trainer around sympo_ext's ops.

* :class:`Trainer` / :class:`TrainConfig` -- DPO-style preference optimisation of a causal
  LM with any ``sym_loss`` loss (SymPO's symmetric losses, DPO, cDPO, rDPO, IPO, ...);
  padded or packed batches, fused linear log-probs, reference frozen / precomputed / none,
  gradient accumulation, bf16 autocast, DDP / FSDP2 under torchrun, atomic checkpoints and
  exact resume. The ``sympo-train`` command (:mod:`sympo_ext.train.cli`) exposes it all.
* :func:`train_reward_model` -- reward modelling as classification: a scalar reward model
  trained on pairs with any ``sym_loss`` loss and (noisy) labels.
* :func:`pairs_fingerprint` -- the order-sensitive sha256 of a run's encoded pairs.

Heavy imports (transformers) happen lazily, inside the functions that need them.
"""

from __future__ import annotations

from .config import ConfigError, TrainConfig
from .reference_policy import pairs_fingerprint
from .reward_model import RewardModelResult, reward_scores, train_reward_model
from .rundir import RunDirError
from .step import NonFiniteLossError
from .trainer import Trainer, TrainResult

__all__ = [
    "ConfigError",
    "NonFiniteLossError",
    "RewardModelResult",
    "RunDirError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "pairs_fingerprint",
    "reward_scores",
    "train_reward_model",
]
