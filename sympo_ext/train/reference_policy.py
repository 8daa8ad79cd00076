"""The reference policy of a run: ``model`` (a frozen module run at every step), ``precomputed``
(the log-probs of every pair computed once, then cached in OUTPUT_DIR) or ``none``.

Without ``--ref_model`` the reference is the initial policy: a frozen copy (``model``), the policy
itself before its first update (``precomputed``), or, for a LoRA policy, the same model with its
adapters disabled (no second copy). The precomputed cache is keyed by :func:`pairs_fingerprint`
of the training and evaluation pairs, so a resume over different or REORDERED data is refused
instead of pairing old reference log-probs with new pairs. The cache also records a sha256 of
its own values (:func:`cache_checksum`), checked when it is loaded: a cache whose values were
edited or damaged since it was written is recomputed (it is a pure function of the initial
policy and the data, and the reference is set up before a resume restores the trained weights).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import warnings

import torch
from torch import nn

from ..hf.loading import adapters_off, is_peft_model
from ..hf.logps import SequenceLogps, model_inputs
from . import dist as D
from .checkpoint_files import atomic_torch_save
from .fingerprints import pairs_fingerprint
from .rundir import REFERENCE_CACHE, RunDirError
from .sampling import sharded_batches

__all__ = ["ReferencePolicy", "pairs_fingerprint", "cache_checksum"]


def cache_checksum(cache: dict) -> str:
    """sha256 of a reference cache's key and values (shape, dtype and bytes of each split)."""
    h = hashlib.sha256(json.dumps(cache.get("key"), sort_keys=True).encode())
    for split in ("train", "eval"):
        t = cache.get(split)
        h.update(f"|{split}:".encode())
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().contiguous()
            h.update(f"{tuple(t.shape)}{t.dtype}:".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(repr(t).encode())
    return h.hexdigest()


class ReferencePolicy:
    """Reference log-probs of a batch: :meth:`logps` (None, None for ``reference="none"``).

    Args: ``cfg`` (reference, output_dir, resume, chunk_size, average_logps), the run's ``parts``
    (:class:`~sympo_ext.train.run_setup.RunParts`: the policy, the loaded reference model or None,
    the log-prob path, the collate function, the pairs for ``precomputed``), ``dist``, whether the
    policy is sharded by FSDP, the ``autocast`` context factory and the precomputation's
    ``batch_size``."""

    def __init__(self, cfg, parts, *, dist, fsdp: bool, autocast, batch_size: int):
        policy, ref = parts.policy, parts.ref_model
        self.cfg, self.policy, self.path, self.dist, self.fsdp = cfg, policy, parts.logps_plan.path, dist, fsdp
        self.device = dist.device
        self.autocast, self.collate, self.batch_size = autocast, parts.collate, batch_size
        self.module: SequenceLogps | None = None  # reference="model"
        self.cache: dict | None = None  # reference="precomputed"
        if cfg.reference == "none":
            return
        if cfg.reference == "model":
            if ref is None and is_peft_model(policy):
                self.module = self._sequence_logps(policy)  # run with the adapters off
            else:
                self.module = self._frozen(copy.deepcopy(policy) if ref is None else ref)
        else:
            self.cache = self._precompute(ref, parts.train_pairs, parts.eval_pairs)

    def _context(self):
        """Reference log-probs are computed with a LoRA policy's adapters off (harmless when the
        reference is another model)."""
        return adapters_off(self.policy)

    def _sequence_logps(self, model: nn.Module) -> SequenceLogps:
        """The log-prob module of a reference (no loss, no gradients)."""
        return SequenceLogps(model, path=self.path, chunk_size=self.cfg.chunk_size, average=self.cfg.average_logps)

    def _frozen(self, ref: nn.Module) -> SequenceLogps:
        ref.to(self.device)
        ref.eval()
        ref.requires_grad_(False)
        module = self._sequence_logps(ref)
        if self.fsdp:
            D.wrap_model(module, ref, self.dist, "fsdp")
        return module

    @torch.no_grad()
    def _compute(self, module: nn.Module, pairs) -> torch.Tensor:
        out = torch.zeros(len(pairs), 2, dtype=torch.float32)
        for pos, real in sharded_batches(
            len(pairs), self.batch_size, world_size=self.dist.world_size, rank=self.dist.rank
        ):
            batch = self.collate([pairs[i] for i in pos])
            with self.autocast():
                lp = module(**model_inputs(batch, self.device)).float().cpu()
            if real:
                b = len(pos)
                out[pos, 0], out[pos, 1] = lp[:b], lp[b:]
        return D.all_reduce_sum(out.to(self.device) if self.device.type == "cuda" else out, self.dist).cpu()

    def _precompute(self, ref: nn.Module | None, train_pairs, eval_pairs) -> dict:
        """Reference log-probs of every train/eval pair, computed once (then cached in OUTPUT_DIR)."""
        cfg = self.cfg
        path = os.path.join(cfg.output_dir, REFERENCE_CACHE) if cfg.output_dir else None
        key = {
            "train": len(train_pairs),
            "eval": len(eval_pairs),
            "sha256": {"train": pairs_fingerprint(train_pairs), "eval": pairs_fingerprint(eval_pairs)},
        }
        if cfg.resume and path and os.path.isfile(path):
            cache = torch.load(path, weights_only=True)
            if cache.get("key") != key:
                raise RunDirError(
                    f"{path}: cached reference log-probs do not match the data (its pairs, labels or "
                    "their order changed); cannot resume exactly"
                )
            if cache.get("sha256") == cache_checksum(cache):
                return cache
            if self.dist.is_main:
                why = "records no checksum" if "sha256" not in cache else "does not match the checksum recorded"
                print(
                    f"[sympo-train] {path}: its reference log-probs {why} when it was written (edited or "
                    "damaged?); recomputing them from the initial policy",
                    file=sys.stderr,
                    flush=True,
                )
        if ref is None:  # reference = the initial policy: no copy needed
            module = self._sequence_logps(self.policy)
            if self.fsdp:
                warnings.warn(
                    "reference=precomputed with FSDP computes the reference before sharding: "
                    "each process holds the full model once",
                    stacklevel=3,
                )
        else:
            module = self._frozen(ref)
        state = torch.get_rng_state()
        with self._context():
            cache = {
                "key": key,
                "train": self._compute(module, train_pairs),
                "eval": self._compute(module, eval_pairs) if eval_pairs else None,
            }
        cache["sha256"] = cache_checksum(cache)
        torch.set_rng_state(state)
        del module
        if path and self.dist.is_main:
            atomic_torch_save(cache, path)
        return cache

    def logps(self, batch, positions, split: str):
        """(chosen, rejected) reference log-probs of ``batch`` (the pairs at ``positions`` of the
        ``split`` "train" / "eval"); (None, None) without a reference."""
        if self.cache is not None:
            table = self.cache[split][positions].to(self.device)
            return table[:, 0], table[:, 1]
        if self.module is not None:
            with torch.no_grad(), self.autocast(), self._context():
                lp = self.module(**model_inputs(batch, self.device)).float()
            b = len(positions)
            return lp[:b], lp[b:]
        return None, None
