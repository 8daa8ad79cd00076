"""The ``sympo-train`` console script: the trainer's CLI, plus ``--demo``.

The demo (tiny Llama, synthetic task) lives with the experiments, above the trainer; this entry point
sits above both, so :mod:`sympo_ext.train.cli` (also run as ``python -m sympo_ext.train.cli`` under
torchrun) never imports the experiments. Every flag, ``--help`` included, is the trainer CLI's.
"""

from __future__ import annotations

import sys

from .train.cli import main as train_main

__all__ = ["main"]


def _run_demo(**kwargs):
    from .experiments.demo import run_demo  # imported only for --demo: it pulls in transformers and the task

    return run_demo(**kwargs)


def main(argv: list[str] | None = None) -> int:
    return train_main(argv, run_demo=_run_demo)


if __name__ == "__main__":
    sys.exit(main())
