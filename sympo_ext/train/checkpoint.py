"""Atomic, verifiable checkpoints of a run: :class:`CheckpointManager` orchestrates the saves and
resumes (RNG states of every process, failure agreement across processes, the trainer state, the
final model); the file layer (atomic writes, manifest, verification, pruning) is
:mod:`sympo_ext.train.checkpoint_files`.

Layout of a run directory::

    OUTPUT_DIR/
      run.json               marks the directory as a sympo-train run (run id, config, input fingerprints, versions)
      .sympo-train.lock      held (flock) by the live run; see rundir.py
      metrics.csv            one row per logged step / evaluation
      checkpoints/step-000040/
          model.pt           full policy state dict (a LoRA run: the adapters)
          optimizer.pt       full AdamW state
          trainer_state.pt   step, scheduler, data position, config
          rng-rank0.pt ...   python / numpy / torch / cuda RNG states of every process
          manifest.json      sha256 and size of every file above, the run id (written last)
      checkpoints/latest     name of the newest complete checkpoint
      final/                 the trained policy (save_pretrained) and tokenizer
"""

from __future__ import annotations

import os
import shutil

import torch  # noqa: F401 - tests patch torch.save through this module (ckpt.torch)

from ..hf.loading import adapter_state_dict, is_peft_model, load_adapter_state_dict, save_pretrained_final
from . import dist as D
from .checkpoint_files import (
    DELETE_PREFIX,
    CheckpointWriteError,
    capture_rng,
    checkpoint_dir,
    full_model_state,
    full_optim_state,
    latest_checkpoint,
    list_checkpoints,
    load_full_state,
    load_resumable,
    nonfinite_entries,
    restore_rng,
    save_checkpoint,
    write_failure,
)
from .rundir import RESUME_EXTENDABLE, RESUME_MUTABLE, RunDirError, record_extension, stored_run_id
from .step import NonFiniteLossError

__all__ = ["CheckpointManager"]


class CheckpointManager:
    """Save / resume a run's policy, optimizer, scheduler, RNG and data position (collective: every
    process calls :meth:`save` and :meth:`resume` together).

    ``output_dir`` None: nothing is saved. ``report``: prints a message on the main process.
    :attr:`last` is the last good checkpoint (None before the first)."""

    def __init__(
        self, cfg, *, policy, optimizer, scheduler, dist, fsdp: bool, steps_per_epoch: int, total_steps: int, report
    ):
        self.cfg, self.policy, self.optimizer, self.scheduler = cfg, policy, optimizer, scheduler
        self.dist, self.fsdp, self.report = dist, fsdp, report
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.dir = checkpoint_dir(cfg.output_dir) if cfg.output_dir else None
        self.last: str | None = None
        # Recorded in every checkpoint's manifest: a resume refuses another run's checkpoint (rundir.py).
        self.run_id = stored_run_id(cfg.output_dir) if cfg.output_dir and dist.is_main else None

    @property
    def last_good(self) -> str:
        return self.last or "none written yet"

    @property
    def _adapters_only(self) -> bool:
        return is_peft_model(self.policy) and not self.fsdp  # a LoRA run: only the adapters change

    def model_state(self) -> dict:
        if self._adapters_only:
            return adapter_state_dict(self.policy)
        return full_model_state(self.policy, fsdp=self.fsdp)

    def trainer_state(self, step: int) -> dict:
        cfg = self.cfg
        return {
            "scheduler": self.scheduler.state_dict(),
            "config": cfg.to_dict(),
            "world_size": self.dist.world_size,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "data_position": {
                "epoch": step // self.steps_per_epoch,
                "batch_in_epoch": step % self.steps_per_epoch,
                "pairs_seen": step * cfg.batch_size,
            },
        }

    def save(self, step: int) -> str | None:
        """Write checkpoints/step-XXXXXX atomically.

        Refuses (NonFiniteLossError) parameters holding NaN/inf, so a checkpoint reported as good is
        finite; a failed write (disk full, ...) raises CheckpointWriteError on every process, the
        previous checkpoint intact."""
        if self.dir is None:
            return None
        model_sd = self.model_state()
        optim_sd = full_optim_state(self.policy, self.optimizer, fsdp=self.fsdp)
        bad = nonfinite_entries(model_sd)  # the full state on the main process (FSDP: empty elsewhere)
        if D.any_process(bool(bad), self.dist):
            raise NonFiniteLossError(
                f"the parameters hold NaN/inf after step {step} ({', '.join(bad) or 'on another process'}): "
                f"no checkpoint written. Last good checkpoint: {self.last_good}. "
                "Common causes: a learning rate too high, --weight_decay too large, fp16 overflow."
            )
        rngs = D.all_gather_object(capture_rng(), self.dist)
        path, failure = os.path.join(self.dir, f"step-{step:06d}"), None
        if self.dist.is_main:
            try:
                path = save_checkpoint(
                    self.dir,
                    step,
                    model_state=model_sd,
                    optim_state=optim_sd,
                    rng_states=rngs,
                    keep=self.cfg.save_total_limit,
                    run_id=self.run_id,
                    trainer_state=self.trainer_state(step),
                )
            except CheckpointWriteError as e:
                failure = e
        if D.any_process(failure is not None, self.dist):
            raise CheckpointWriteError(
                f"{failure.strerror if failure else 'the main process could not write the checkpoint'}; "
                f"training stopped at step {step}. The last good checkpoint ({self.last_good}) is intact: free "
                "space, then continue with --resume."
            )
        D.barrier(self.dist)
        self.last = path
        return path

    def resume(self) -> int:
        """Restore the checkpoint ``latest`` names or, when it fails verification, the newest intact
        older one (saying which were skipped and why). A run with no checkpoint yet (killed before
        the first one) starts afresh from step 0 with its stored options; returns the step."""
        found, loaded, skipped = load_resumable(self.dir, self.dist.rank, preferred=latest_checkpoint(self.dir))
        for where, why in skipped:
            self.report(f"--resume: skipped {where}: {why}")
        if found is None:
            self.report(
                f"--resume: {self.cfg.output_dir!r} has no checkpoint yet (the run stopped before its "
                "first one): starting afresh from step 0 with its stored options"
            )
            self.last = None
            return 0
        if skipped:
            self.report(f"--resume: continuing from {found}")
        state = loaded["trainer_state"]
        if state["world_size"] != self.dist.world_size:
            raise RunDirError(
                f"{found} was written by {state['world_size']} process(es); resume with the same "
                f"number (now {self.dist.world_size}) for an exact continuation"
            )
        if changed := self._changed_since(state.get("config")):
            raise RunDirError(
                f"--resume: {found} was trained with other options than run.json now records "
                f"({changed}): run.json was edited since. Restore it, or start a new run "
                "(another --output_dir, or --overwrite)"
            )
        if self._adapters_only:  # a LoRA run's checkpoint holds the adapters only
            load_adapter_state_dict(self.policy, loaded["model"])
            self.optimizer.load_state_dict(loaded["optimizer"])
        else:
            load_full_state(self.policy, self.optimizer, loaded["model"], loaded["optimizer"], fsdp=self.fsdp)
        step = int(state["step"])
        if self.total_steps < step:
            raise RunDirError(
                f"--resume: the run in {self.cfg.output_dir!r} is at step {step}, past the "
                f"{self.total_steps} steps asked now; give a larger --max_steps / --num_epochs to "
                "extend it"
            )
        self.scheduler.load_state_dict(state["scheduler"])
        if state["total_steps"] != self.total_steps:
            self._extend(step, state["total_steps"])
        restore_rng(loaded["rng"])
        self.last = found
        if self.dist.is_main:
            self._prune_before(step)
        return step

    def _changed_since(self, trained: dict | None) -> str:
        """The options (``key: old -> new``) that differ between a checkpoint's recorded config and this
        run's, those that may change on --resume aside; '' when none (or none recorded)."""
        if not isinstance(trained, dict):
            return ""
        now, free = self.cfg.to_dict(), RESUME_MUTABLE | RESUME_EXTENDABLE
        keys = sorted(k for k in trained.keys() & now.keys() if k not in free and trained[k] != now[k])
        return "; ".join(f"{k}: {trained[k]!r} -> {now[k]!r}" for k in keys)

    def _prune_before(self, step: int) -> None:
        """On resume, apply --save_total_limit to the checkpoints up to the one resumed from (kept) before
        anything new is written: on a full disk the space they hold is what the next save needs.
        Newer ones (skipped as damaged) stay until their step comes again and replaces them."""
        keep = self.cfg.save_total_limit
        older = [path for s, path in list_checkpoints(self.dir) if s <= step]
        if keep > 0 and len(older) > keep:
            for path in older[:-keep]:
                doomed = os.path.join(self.dir, DELETE_PREFIX + os.path.basename(path))
                try:  # renamed first, as prune_checkpoints does: a kill never leaves half a checkpoint
                    os.replace(path, doomed)
                except OSError:
                    continue
                shutil.rmtree(doomed, ignore_errors=True)

    def _extend(self, step: int, old_total: int) -> None:
        """A resume with a larger --max_steps / --num_epochs: the run continues to the new total with the
        learning-rate schedule recomputed for it (warmup and cosine over the new total, at the same step,
        as Hugging Face's Trainer does when resumed with a longer schedule); data order, optimizer state
        and RNG continue unchanged. run.json records the new total."""
        for group, base, lam in zip(self.optimizer.param_groups, self.scheduler.base_lrs, self.scheduler.lr_lambdas):
            group["lr"] = base * lam(step)
        self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]
        self.report(
            f"--resume: extending the run from {old_total} to {self.total_steps} steps at step {step} "
            "(the learning-rate schedule is recomputed for the new total)"
        )
        if self.dist.is_main:
            record_extension(self.cfg)

    def save_final(self, tokenizer) -> None:
        """OUTPUT_DIR/final: the trained policy (``save_pretrained``; LoRA merged with --merge_lora) and
        the tokenizer, written to final.tmp and renamed (collective: FSDP gathers the state)."""
        cfg = self.cfg
        sd = self.model_state()
        if not (cfg.output_dir and self.dist.is_main):
            return
        final = os.path.join(cfg.output_dir, "final")
        if not cfg.save_final_model:
            if os.path.isdir(final):  # an extended run: final/ is the model of an earlier end, left as it is
                self.report(
                    f"--save_final_model false: {final} is left from an earlier end of this run, not the model "
                    f"of step {self.total_steps} (that one is {self.last or 'in no checkpoint'})"
                )
            return
        tmp = final + ".tmp"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            save_pretrained_final(self.policy, tmp, state_dict=sd, merge_lora=cfg.merge_lora)
            if hasattr(tokenizer, "save_pretrained"):
                tokenizer.save_pretrained(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except Exception as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CheckpointWriteError(
                f"{write_failure(final, e).strerror} (the final model); the last checkpoint "
                f"({self.last}) is intact: free space, then --resume writes the final model"
            ) from None
