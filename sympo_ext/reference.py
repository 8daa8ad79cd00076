"""Alias of :mod:`sympo_ext.oracle`, the pure-PyTorch oracle of every op (the public name the
README, the CI smoke test and the benchmarks use). New code imports ``sympo_ext.oracle``."""

from .oracle import *  # noqa: F403
from .oracle import __all__  # noqa: F401
