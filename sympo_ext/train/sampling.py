"""Which pairs a step, an evaluation or the reference precomputation visits, on which process.

Data order is a pure function of (seed, epoch): epoch e visits the pairs in
``torch.randperm(n, generator=seed(seed, e))`` order and global step s takes the slice
``[(s mod steps_per_epoch) * batch_size, ...)``; an incomplete final batch is dropped. The data
position of a checkpoint is therefore just the step, and a resume replays exactly the remaining
batches.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["epoch_order", "set_seed", "StepSampler", "sharded_batches"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (the initialisation of new heads, dropout)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The visiting order of ``n`` pairs in ``epoch`` (a permutation of 0..n-1)."""
    # Wrapped into the generator's 64-bit range (every --seed up to 2**63 works; small seeds unchanged).
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**64)
    return torch.randperm(n, generator=g).tolist()


class StepSampler:
    """This process's micro-batch positions at each global step.

    ``batch_size`` pairs per step (all processes and accumulation micro-steps together), split
    into ``grad_accum`` micro-batches, each split across ``world_size`` processes."""

    def __init__(self, n: int, batch_size: int, *, seed: int, grad_accum: int = 1, world_size: int = 1, rank: int = 0):
        if batch_size % (world_size * grad_accum):
            raise ValueError(
                f"batch_size {batch_size} must be divisible by world_size ({world_size}) * grad_accum ({grad_accum})"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.grad_accum, self.rank = grad_accum, rank
        self.micro = batch_size // (world_size * grad_accum)  # pairs per process per micro-step
        self.steps_per_epoch = n // batch_size
        self._order: dict[int, list[int]] = {}  # the current epoch's order only

    @classmethod
    def from_config(cls, cfg, n: int, *, world_size: int, rank: int) -> StepSampler:
        """The sampler of a run (``--batch_size``, ``--grad_accum``, ``--seed``); a ConfigError naming the
        option when the batch does not divide over the processes or exceeds the pairs."""
        from ..errors import ConfigError

        G, acc = cfg.batch_size, cfg.grad_accum
        if G % (world_size * acc):
            raise ConfigError(f"--batch_size {G} must be divisible by world_size ({world_size}) * grad_accum ({acc})")
        if n < G:
            raise ConfigError(f"--batch_size {G} is larger than the {n} usable training pairs")
        return cls(n, G, seed=cfg.seed, grad_accum=acc, world_size=world_size, rank=rank)

    def positions(self, step: int) -> list[list[int]]:
        """Positions (into the training pairs) of this process's micro-batches at ``step``."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch not in self._order:
            self._order = {epoch: epoch_order(self.n, self.seed, epoch)}
        glob = self._order[epoch][k * self.batch_size : (k + 1) * self.batch_size]
        per_micro = self.batch_size // self.grad_accum
        mbs = (glob[m * per_micro : (m + 1) * per_micro] for m in range(self.grad_accum))
        return [mb[self.rank * self.micro : (self.rank + 1) * self.micro] for mb in mbs]


def sharded_batches(n: int, batch_size: int, *, world_size: int = 1, rank: int = 0):
    """This process's share of positions 0..n-1 in batches, as (positions, real); every process gets
    the same number of batches (padding batches ``([0], False)``) so that collective forwards
    (FSDP) stay in step."""
    mine = list(range(rank, n, world_size))
    per = -(-n // world_size)
    nb = max(1, -(-per // batch_size))
    for b in range(nb):
        chunk = mine[b * batch_size : (b + 1) * batch_size]
        yield (chunk, True) if chunk else ([0], False)
