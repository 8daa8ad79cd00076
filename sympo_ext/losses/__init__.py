"""The registry of pair-level losses, and ``LossSpec``: one definition per loss.

* :mod:`.registry`: ``Param``, ``LossInfo``, the :func:`~.registry.loss` decorator and every
  table derived from the entries (``LOSSES``, ``ALIASES``, ``PARAMS``, README's table, help);
* :mod:`.formulas`: each loss ONE entry, the registration on its pure-PyTorch formula;
* :mod:`.spec`: ``LossSpec``, the one validated options object.

The kernels implement the same list in ``csrc/include/sympo/loss_list.h`` (formulas in
``csrc/include/sympo/losses.h``); ``tests/losses/test_registry.py`` fails if the two layers,
the formulas or README's table disagree.

Kinds (notation: c = beta (pi_c - ref_c), r = beta (pi_r - ref_r) after the optional clip,
swapped for label 0; s = c - r):

* ``margin``: l(s), a function of the margin;
* ``pair``: l(c, r), a function of both rewards (TRL's nca_pair, bco_pair, ...);
* ``batch``: needs the whole batch (TRL's AOT sorts log-ratios across it); the sort runs as
  a torch op, the loss on the sorted values is fused (``fused_as``).
"""

from __future__ import annotations

from . import formulas  # noqa: F401  (registers every loss)
from .registry import (
    ALIASES,
    DEFAULT_BETA,
    KINDS,
    LOSSES,
    PARAMS,
    REDUCTIONS,
    LossInfo,
    Param,
    canonical_name,
    flip_rate_options,
    help_text,
    loss,
    markdown_table,
    param_fields_markdown,
    param_help,
    param_users,
    params_doc,
    symmetric_losses,
    takes_flip_rate,
    with_param_fields,
)
from .spec import LossSpec

SYMMETRIC_LOSSES = symmetric_losses()
PARAM_NAMES = tuple(PARAMS)

__all__ = [
    "ALIASES",
    "DEFAULT_BETA",
    "KINDS",
    "LOSSES",
    "LossInfo",
    "LossSpec",
    "PARAMS",
    "PARAM_NAMES",
    "Param",
    "REDUCTIONS",
    "SYMMETRIC_LOSSES",
    "canonical_name",
    "flip_rate_options",
    "help_text",
    "loss",
    "markdown_table",
    "param_fields_markdown",
    "param_help",
    "params_doc",
    "param_users",
    "symmetric_losses",
    "takes_flip_rate",
    "with_param_fields",
]
