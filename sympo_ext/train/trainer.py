"""The SymPO trainer: DPO-style preference optimisation with any ``sym_loss`` loss.

It composes its rooms: the run's parts, loaded and checked before anything is written
(:mod:`.run_setup`), the data order (:mod:`.sampling`), the reference policy
(:mod:`.reference_policy`), the optimiser and schedule (:mod:`.optim`), the end of a step
(:mod:`.step`), checkpoints (:mod:`.checkpoint`), the distributed details (:mod:`.dist`), the
metrics log (:mod:`.metrics_log`) and what the user is told (:mod:`.reporting`).

One optimizer step consumes ``batch_size`` pairs (GLOBAL: all processes and all
accumulation micro-steps together). The loss of a step is the mean over those
pairs of the per-pair loss; every micro-step backpropagates
``sum(per-pair losses) * world_size / batch_size`` so that, after DDP averages
the gradients over ``world_size`` processes and the micro-steps accumulate, the
gradient is exactly that of the mean -- whatever the number of processes or
accumulation steps (up to floating-point summation order). The data order is a pure
function of (seed, epoch), so ``--resume`` replays exactly the remaining batches.

Dropout is disabled (every dropout of the policy set to 0, TRL's default
``disable_dropout=True``; the policy itself runs in ``train()`` mode, which gradient
checkpointing needs), so the policy and the reference agree at step 0. With LoRA
(``--lora_r``) only the adapters train and the reference is the same model with the adapters
disabled (see :mod:`sympo_ext.hf.loading`).
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from ..hf.logps import model_inputs
from ..metrics import STAT_KEYS, metrics_from_stats, preference_stats
from . import dist as D
from . import rundir
from .checkpoint import CheckpointManager
from .checkpoint_files import CheckpointWriteError
from .config import ConfigError, TrainConfig
from .metrics_log import MetricsLogger
from .optim import optimizer_from_config
from .policy_loss import PolicyLoss
from .reference_policy import ReferencePolicy
from .reporting import Reporter, StepProgress, StopSignals
from .run_setup import load_run_parts
from .rundir import RunDirError, run_state  # re-exported (their home is rundir.py)
from .sampling import StepSampler, set_seed, sharded_batches
from .step import NonFiniteLossError, optimizer_step

__all__ = ["Trainer", "TrainResult", "NonFiniteLossError", "RunDirError", "set_seed", "run_state"]


@dataclass
class TrainResult:
    global_step: int
    output_dir: str | None
    train_metrics: dict = field(default_factory=dict)  # last logged training metrics
    eval_metrics: dict = field(default_factory=dict)  # final evaluation (empty without eval data)
    history: list = field(default_factory=list)  # every logged row: {"step", "split", ...metrics}
    interrupted: int | None = None  # the signal number when stopped by SIGINT/SIGTERM
    checkpoint: str | None = None  # the last checkpoint written
    model: nn.Module | None = None  # the trained policy (unwrapped)
    data_stats: dict = field(default_factory=dict)


class Trainer:
    """Train a causal-LM policy with ``sympo_ext.sym_loss`` on preference pairs.

    Args:
        config: every option (see :class:`TrainConfig` / ``sympo-train --help``).
        model: an in-memory policy (HF causal LM or an nn.Module with its interface);
            default: loaded from ``config.model``.
        tokenizer: default: loaded from ``config.tokenizer`` or ``config.model``.
        ref_model: an in-memory reference (default: a frozen copy of the initial
            policy, or ``config.ref_model``).
        train_examples / eval_examples: lists of :class:`sympo_ext.data.PreferenceExample`
            (default: loaded from ``config.train_data`` / ``config.eval_data``).

    ``config.output_dir`` may be None in the Python API: nothing is written (no
    checkpoints, no CSV); metrics are returned in ``TrainResult.history``.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        model: nn.Module | None = None,
        tokenizer=None,
        ref_model: nn.Module | None = None,
        train_examples=None,
        eval_examples=None,
        config_file: str | None = None,
    ):
        self.config = config
        self._config_file = config_file  # the --config file the options came from (fingerprinted)
        # What the Python API hands in memory (None: loaded from the config).
        self._given = dict(
            model=model,
            tokenizer=tokenizer,
            ref_model=ref_model,
            train_examples=train_examples,
            eval_examples=eval_examples,
        )
        self.dist = None
        self.report = Reporter(lambda: self.dist is None or self.dist.is_main)
        # Graceful stop needs somewhere to save: without an output directory, Ctrl-C raises
        # KeyboardInterrupt as usual (so a sweep calling train() many times stops as a whole).
        self.signals = StopSignals(self.report, enabled=bool(config.output_dir))
        self.history: list[dict] = []

    # ------------------------------------------------------------------ setup
    def _setup(self):
        cfg, config_file = self.config, self._config_file
        need_data = self._given["train_examples"] is None
        cfg.validate(need_model=self._given["model"] is None, need_data=need_data)
        if need_data and not cfg.output_dir:
            raise ConfigError("--output_dir is required")
        self.dist = D.init_distributed(cfg.device)
        ws = self.dist.world_size
        # The main process takes the run's lock here when the directory exists (see rundir.py).
        self._lock = rundir.RunLock(cfg.output_dir) if cfg.output_dir and self.dist.is_main else None
        rundir.check_output_dir(cfg, self._lock, config_file)
        D.barrier(self.dist)  # every process has checked before any writes
        self.parts = parts = load_run_parts(cfg, self.dist, self.report, config_file=config_file, **self._given)
        self.tokenizer, self.policy = parts.tokenizer, parts.policy
        self.train_pairs, self.eval_pairs = parts.train_pairs, parts.eval_pairs
        self.collate = parts.collate
        self.sampler = StepSampler.from_config(cfg, len(self.train_pairs), world_size=ws, rank=self.dist.rank)
        self.steps_per_epoch = self.sampler.steps_per_epoch
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.num_epochs * self.steps_per_epoch))
        self.eval_bs = cfg.eval_batch_size or self.sampler.micro
        # What is optimised, in words (one line per term; TRL-clashing names noted): recorded, and told
        # with --progress (like the other start-up lines; an error exit then stays one clear line).
        self.loss_description = cfg.loss_description()
        if cfg.progress:
            self.report(self.loss_description)
        # The run directory (only now: everything above could still fail).
        if cfg.output_dir and self.dist.is_main:
            rundir.prepare_output_dir(cfg, self._lock, parts.record(ws, self.loss_description), config_file)
        D.barrier(self.dist)

        set_seed(cfg.seed)
        dev = self.device = self.dist.device
        self.use_bf16 = cfg.precision == "bf16" or (
            cfg.precision == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        self.policy.to(dev)
        self.policy.train()  # its dropout is 0 (see the module docstring)
        if hasattr(self.policy, "config") and hasattr(self.policy.config, "use_cache"):
            self.policy.config.use_cache = False
        self.policy_loss = PolicyLoss(
            self.policy,
            path=parts.logps_plan.path,
            loss_options=cfg.loss_options(reduction="sum"),
            average=cfg.average_logps,
            chunk_size=cfg.chunk_size,
            fuse_backward=cfg.fuse_backward,
        )
        fsdp = self.dist.enabled and cfg.distributed == "fsdp"  # state dicts are gathered / scattered whole
        self.reference = ReferencePolicy(
            cfg, parts, dist=self.dist, fsdp=fsdp, autocast=self._autocast, batch_size=self.eval_bs
        )
        self.ref_module = self.reference.module
        self.module = D.wrap_model(self.policy_loss, self.policy, self.dist, cfg.distributed)
        self.optimizer, self.scheduler = optimizer_from_config(cfg, self.policy, self.total_steps)
        self.checkpoints = CheckpointManager(
            cfg,
            policy=self.policy,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            dist=self.dist,
            fsdp=fsdp,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
            report=self.report,
        )

    def _autocast(self):
        if self.use_bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # -------------------------------------------------------------- one step
    def _batch_stats(self, module: nn.Module, batch, positions, split: str):
        """(summed loss, per-batch metric sums as one float64 tensor in STAT_KEYS order) of one batch."""
        rc, rr = self.reference.logps(batch, positions, split)
        labels = batch["labels"].to(self.device)
        with self._autocast():
            out = module(
                **model_inputs(batch, self.device), ref_chosen_logps=rc, ref_rejected_logps=rr, pair_labels=labels
            )
        stats = preference_stats(
            out, out.chosen_logps, out.rejected_logps, labels, batch["true_labels"].to(self.device), loss_sum=out.loss
        )
        return out.loss, torch.stack([stats[k] for k in self._stat_keys])

    @property
    def _stat_keys(self) -> tuple[str, ...]:
        """The summed metrics of a batch, in the order they are all-reduced."""
        return STAT_KEYS + (("nll_loss",) if self.policy_loss.loss.nll_weight else ())

    def _finish(self, sums: torch.Tensor) -> dict:
        return metrics_from_stats(dict(zip(self._stat_keys, sums.tolist())))

    def _train_step(self, step: int) -> dict:
        cfg = self.config
        t0 = time.perf_counter()
        scale = self.dist.world_size / cfg.batch_size
        sums = torch.zeros(len(self._stat_keys), dtype=torch.float64, device=self.device)
        tokens = 0
        micro = self.sampler.positions(step)
        for m, positions in enumerate(micro):
            batch = self.collate([self.train_pairs[i] for i in positions])
            tokens += batch["num_tokens"]
            with D.no_sync(self.module, self.dist, m < len(micro) - 1):
                loss_sum, s = self._batch_stats(self.module, batch, positions, "train")
                (loss_sum * scale).backward()
            sums += s
        loss_at = STAT_KEYS.index("loss")
        flags = [float(tokens), float(not torch.isfinite(sums[loss_at])), float(self.signals.received is not None)]
        extra = torch.tensor(flags, dtype=torch.float64, device=self.device)  # summed over processes
        D.all_reduce_sum(sums, self.dist)
        D.all_reduce_sum(extra, self.dist)
        mean_loss = sums[loss_at].item() / max(sums[STAT_KEYS.index("pairs")].item(), 1)
        grad_norm, lr = optimizer_step(
            self.optimizer,
            self.policy.parameters(),
            scheduler=self.scheduler,
            max_grad_norm=cfg.max_grad_norm,
            loss=mean_loss,
            loss_finite=not (extra[1] > 0 or not torch.isfinite(sums[loss_at])),
            where=f"step {step + 1}",
            last_good=self.checkpoints.last_good,
        )
        # Stop only on the flag every process agreed on (a signal arriving after the reduction is seen at
        # the next step), so that all processes save the same checkpoint together.
        self._stop_now = bool(extra[2] > 0)
        elapsed = time.perf_counter() - t0
        m = self._finish(sums.cpu())
        tokens = extra[0].item()
        m.update(learning_rate=lr, num_tokens=int(tokens), tokens_per_second=tokens / max(elapsed, 1e-9))
        m.update(epoch=(step + 1) / self.steps_per_epoch, grad_norm=grad_norm)
        return m

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Metrics over the evaluation pairs (all processes together); {} without eval data."""
        if not self.eval_pairs:
            return {}
        sums = torch.zeros(len(self._stat_keys), dtype=torch.float64, device=self.device)
        for pos, real in sharded_batches(
            len(self.eval_pairs), self.eval_bs, world_size=self.dist.world_size, rank=self.dist.rank
        ):
            batch = self.collate([self.eval_pairs[i] for i in pos])
            # The unwrapped module: DDP's forward is not needed without gradients.
            _, s = self._batch_stats(self.policy_loss, batch, pos, "eval")
            if real:
                sums += s
        D.all_reduce_sum(sums, self.dist)
        return self._finish(sums.cpu())

    def save_checkpoint(self, step: int) -> str | None:
        """Write checkpoints/step-XXXXXX atomically (collective; see :class:`CheckpointManager`)."""
        return self.checkpoints.save(step)

    def _log(self, step: int, split: str, metrics: dict) -> None:
        self.history.append({"step": step, "split": split, **metrics})
        try:
            self.logger.log(step, split, metrics)
        except CheckpointWriteError as e:  # metrics.csv or tb/ could not be written (status 4)
            raise CheckpointWriteError(
                e.errno,
                f"{e.strerror}; training stopped at step {step}. The last checkpoint ({self.checkpoints.last_good}) "
                "is intact: fix that, then continue with --resume",
            ) from None

    def train(self) -> TrainResult:
        """Run (or resume) training; returns a :class:`TrainResult`."""
        self._lock = None
        try:
            with self.signals:
                result = self._train()
                # Every process is past its last write (the main one saves the final model) before any
                # of them tears the process group down; a rank leaving early has aborted gloo's teardown.
                D.barrier(self.dist)
            return result
        finally:
            if getattr(self, "logger", None) is not None:
                self.logger.close()
            if self.dist is not None:
                D.destroy(self.dist)
            if self._lock is not None:  # the run directory is free again
                self._lock.release()

    def _train(self) -> TrainResult:
        self._setup()
        cfg = self.config
        start = self.checkpoints.resume() if cfg.resume else 0
        self.logger = MetricsLogger(
            cfg.output_dir or "",
            enabled=bool(cfg.output_dir) and self.dist.is_main,
            tensorboard=cfg.tensorboard,
            resume_step=start if cfg.resume else None,
        )
        bar = StepProgress(
            self.total_steps,
            initial=start,
            desc=f"sympo-train {cfg.loss_type}",
            enabled=cfg.progress and self.dist.is_main,
        )
        result = TrainResult(global_step=start, output_dir=cfg.output_dir, data_stats=self.parts.data_stats)
        t_start = time.perf_counter()
        step = start
        last = {}
        try:
            while step < self.total_steps:
                metrics = self._train_step(step)
                step += 1
                metrics["elapsed_s"] = time.perf_counter() - t_start
                last = metrics
                if step % cfg.logging_steps == 0 or step == self.total_steps:
                    self._log(step, "train", metrics)
                bar.update(metrics)
                if cfg.eval_steps and step % cfg.eval_steps == 0 and step < self.total_steps:
                    self._log(step, "eval", self.evaluate())
                if self._stop_now:
                    result.checkpoint = self.save_checkpoint(step)
                    result.interrupted = int(self.signals.received or signal.SIGTERM)
                    self.report(
                        f"stopped at step {step}/{self.total_steps}; checkpoint {result.checkpoint}. "
                        "Continue with the same command plus --resume."
                    )
                    break
                if cfg.save_steps and step % cfg.save_steps == 0 and step < self.total_steps:
                    result.checkpoint = self.save_checkpoint(step)
        finally:
            bar.close()
        self.signals.finishing = True  # a signal from now on lets the final writes finish (reporting.py)
        result.global_step = step
        result.train_metrics = last
        if result.interrupted is None:
            result.eval_metrics = self.evaluate()
            if result.eval_metrics:
                self._log(step, "eval", result.eval_metrics)
            result.checkpoint = self.save_checkpoint(step) if cfg.output_dir else None
            self.checkpoints.save_final(self.tokenizer)
        result.history = self.history
        result.model = self.policy
        return result
