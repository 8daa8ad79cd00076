"""Find the flipped labels of a preference data set with a trained policy's implicit-reward margins
(``sympo-audit``). Layers: estimator (pure math) <- scoring (hf/, data/) <- core, crossfit
(train/), outdir (the output directory's lock and swap; train.rundir's lock) <- cli. Nothing below
imports this package."""

from .core import AuditError, AuditOptions, audit
from .estimator import METHODS, NoiseEstimate, estimate_noise, fit_mirrored_mixture, precision_at_k, roc_auc
from .scoring import Scores, score_pairs

__all__ = [
    "AuditError",
    "AuditOptions",
    "audit",
    "METHODS",
    "NoiseEstimate",
    "estimate_noise",
    "fit_mirrored_mixture",
    "precision_at_k",
    "roc_auc",
    "Scores",
    "score_pairs",
]
