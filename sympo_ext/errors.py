"""The error a user can fix by changing an option, a file or a model choice.

One home below every layer: the trainer's option checks (:mod:`sympo_ext.train.config`) and the
model adapters (:mod:`sympo_ext.hf`) raise it; ``sympo-train`` turns it into one line and exit
status 2.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A bad option value, config file or model (the message says which and why)."""
