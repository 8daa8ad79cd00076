"""The SymPO trainer: DPO-style preference optimisation with any ``sym_loss`` loss.

One optimizer step consumes ``batch_size`` pairs (GLOBAL: all processes and all
accumulation micro-steps together). The loss of a step is the mean over those
pairs of the per-pair loss; every micro-step backpropagates
``sum(per-pair losses) * world_size / batch_size`` so that, after DDP averages
the gradients over ``world_size`` processes and the micro-steps accumulate, the
gradient is exactly that of the mean -- whatever the number of processes or
accumulation steps (up to floating-point summation order).

Data order is a pure function of (seed, epoch): epoch e visits the pairs in
``torch.randperm(n, generator=seed(seed, e))`` order, global step s takes the
slice ``[(s mod steps_per_epoch) * batch_size, ...)``; an incomplete final batch
is dropped. The data position saved in a checkpoint is therefore just the step,
and ``--resume`` replays exactly the remaining batches.

Dropout is disabled (every dropout of the policy set to 0, TRL's default
``disable_dropout=True``; the policy itself runs in ``train()`` mode, which gradient
checkpointing needs), so the policy and the reference agree at step 0. With LoRA
(``--lora_r``) only the adapters train and the reference is the same model with the adapters
disabled (see :mod:`sympo_ext.train.model_setup`).
"""

from __future__ import annotations

import copy
import math
import os
import random
import shutil
import signal
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .datasets import prepare_datasets
from ..metrics import STAT_KEYS, metrics_from_stats, preference_stats
from . import checkpoint as ckpt
from . import dist as D
from . import rundir
from .config import ConfigError, TrainConfig
from .metrics import MetricsLogger
from .model_setup import (adapter_state_dict, adapters_off, apply_lora, disable_dropout, enable_gradient_checkpointing,
                          is_peft_model, load_adapter_state_dict, load_policy, save_pretrained_final,
                          set_attn_implementation)
from .modeling import SequenceLogps, load_tokenizer, model_inputs
from .policy_loss import PolicyLoss
from .rundir import RunDirError, run_state  # noqa: F401 - re-exported (their home is rundir.py)

__all__ = ["Trainer", "TrainResult", "NonFiniteLossError", "RunDirError", "set_seed", "run_state"]

class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stopped, the last good checkpoint is kept."""


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


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)




def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


# --------------------------------------------------------------------------- #
# Trainer
# --------------------------------------------------------------------------- #


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

    def __init__(self, config: TrainConfig, *, model: nn.Module | None = None, tokenizer=None,
                 ref_model: nn.Module | None = None, train_examples=None, eval_examples=None):
        self.config = config
        self._model_arg = model
        self._tokenizer_arg = tokenizer
        self._ref_arg = ref_model
        self._train_examples = train_examples
        self._eval_examples = eval_examples
        self._stop_signal: int | None = None
        self.history: list[dict] = []

    # ------------------------------------------------------------------ setup
    def _check_output_dir(self) -> None:
        # The main process takes the run's lock here when the directory exists (see rundir.py).
        out = self.config.output_dir
        self._lock = rundir.RunLock(out) if out and self.dist.is_main else None
        rundir.check_output_dir(self.config, self._lock)

    def _setup(self):
        cfg = self.config
        cfg.validate(need_model=self._model_arg is None, need_data=self._train_examples is None)
        if self._train_examples is None and not cfg.output_dir:
            raise ConfigError("--output_dir is required")
        self.dist = D.init_distributed(cfg.device)
        self._check_output_dir()
        D.barrier(self.dist)  # every process has checked before any writes
        # Load everything that can fail before writing anything.
        tok = self._tokenizer_arg
        if tok is None:
            tok = load_tokenizer(cfg.tokenizer or cfg.model)
        self.tokenizer = tok
        self.policy = self._prepare_policy()
        self.train_pairs, self.eval_pairs, self.data_stats = prepare_datasets(
            cfg, tok, self._train_examples, self._eval_examples)
        n = len(self.train_pairs)
        G, ws, acc = cfg.batch_size, self.dist.world_size, cfg.grad_accum
        if G % (ws * acc):
            raise ConfigError(f"--batch_size {G} must be divisible by world_size ({ws}) * grad_accum ({acc})")
        self.micro = G // (ws * acc)  # pairs per process per micro-step
        self.steps_per_epoch = n // G
        if self.steps_per_epoch == 0:
            raise ConfigError(f"--batch_size {G} is larger than the {n} usable training pairs")
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.num_epochs * self.steps_per_epoch))
        self.eval_bs = cfg.eval_batch_size or self.micro
        if self.dist.is_main and self.data_stats and cfg.progress:
            trunc = {k: v for k, v in self.data_stats.items() if v and "encoded" not in k}
            if trunc:
                print(f"[sympo-train] data: {trunc}", file=sys.stderr)

        from ..data import PackedCollator, PaddedCollator

        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        # --- log-prob path and packing, measured on the model before anything is written (logps_probe)
        from .logps_probe import plan_logps

        self.policy.to(self.dist.device)
        self.logps_plan = plan_logps(self.policy, logps_path=cfg.logps_path, packed=cfg.packed,
                                     probe=cfg.probe_logps_paths, pad_token_id=pad, vocab_size=len(tok))
        self.logps_plan = D.broadcast_object(self.logps_plan, self.dist)  # one decision for every process
        if self.dist.is_main:
            for note in self.logps_plan.notes:
                print(f"[sympo-train] {note}", file=sys.stderr)
        self.collate = PackedCollator() if self.logps_plan.packed else PaddedCollator(pad)
        # --- end of the log-prob plan

        # The run directory (only now: everything above could still fail).
        out = cfg.output_dir
        if out and self.dist.is_main:
            rundir.prepare_output_dir(cfg, self._lock, {
                "torch": torch.__version__, "world_size": ws, "data_stats": self.data_stats, "train_pairs": n,
                "eval_pairs": len(self.eval_pairs),
                "logps_plan": self.logps_plan.to_dict()})
        D.barrier(self.dist)

        set_seed(cfg.seed)
        dev = self.dist.device
        self.device = dev
        self.use_bf16 = cfg.precision == "bf16" or (
            cfg.precision == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported())
        self.policy.to(dev)
        self.policy.train()  # its dropout is 0 (see the module docstring)
        if hasattr(self.policy, "config") and hasattr(self.policy.config, "use_cache"):
            self.policy.config.use_cache = False
        self.policy_loss = PolicyLoss(self.policy, path=self.logps_plan.path,
                                      loss_options=cfg.loss_options(reduction="sum"), average=cfg.average_logps,
                                      chunk_size=cfg.chunk_size, fuse_backward=cfg.fuse_backward)

        # Reference.
        self.ref_module = None
        self.ref_cache = None
        if cfg.reference != "none":
            ref = self._ref_arg
            if ref is None and cfg.ref_model:
                ref = load_policy(cfg.ref_model, torch_dtype=cfg.torch_dtype,
                                  attn_implementation=cfg.attn_implementation, what="--ref_model")
            if cfg.reference == "model":
                if ref is None and is_peft_model(self.policy):
                    self.ref_module = self._sequence_logps(self.policy)  # run with the adapters off
                else:
                    self.ref_module = self._frozen(copy.deepcopy(self.policy) if ref is None else ref)
            else:
                self.ref_cache = self._reference_cache(ref)

        self.module = D.wrap_model(self.policy_loss, self.policy, self.dist, cfg.distributed)
        self.optimizer = self._make_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_lambda())

    def _prepare_policy(self) -> nn.Module:
        """Load (or take) the policy, then gradient checkpointing, dropout off, LoRA: every step that
        can refuse the model runs here, before the run directory is touched."""
        cfg = self.config
        if self._model_arg is not None:
            policy = self._model_arg
            if cfg.attn_implementation:
                set_attn_implementation(policy, cfg.attn_implementation)
        else:
            policy = load_policy(cfg.model, torch_dtype=cfg.torch_dtype, attn_implementation=cfg.attn_implementation)
        if cfg.gradient_checkpointing:
            enable_gradient_checkpointing(policy)
        disable_dropout(policy)
        if cfg.lora_r:
            with torch.random.fork_rng(devices=[]):  # the adapters' initialisation is a function of --seed
                torch.manual_seed(cfg.seed)
                policy = apply_lora(policy, r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                    target_modules=cfg.lora_target_modules)
        return policy

    @property
    def _fsdp(self) -> bool:
        """Sharded by FSDP2 (state dicts are gathered and scattered as full ones)."""
        return self.dist.enabled and self.config.distributed == "fsdp"

    def _reference_context(self):
        """Reference log-probs are computed with a LoRA policy's adapters off (harmless when the
        reference is another model)."""
        return adapters_off(self.policy)

    def _sequence_logps(self, model: nn.Module) -> SequenceLogps:
        """The log-prob module of a reference (no loss, no gradients)."""
        return SequenceLogps(model, path=self.logps_plan.path, chunk_size=self.config.chunk_size,
                             average=self.config.average_logps)

    def _frozen(self, ref: nn.Module) -> SequenceLogps:
        ref.to(self.device)
        ref.eval()
        ref.requires_grad_(False)
        module = self._sequence_logps(ref)
        if self._fsdp:
            D.wrap_model(module, ref, self.dist, "fsdp")
        return module

    def _make_optimizer(self):
        cfg = self.config
        decay, no_decay = [], []
        for p in self.policy.parameters():
            if p.requires_grad:
                (decay if p.ndim >= 2 else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate,
                                 betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)

    def _lr_lambda(self):
        cfg, total = self.config, self.total_steps
        warm = cfg.warmup_steps or int(round(cfg.warmup_ratio * total))
        floor = cfg.min_lr_ratio

        def f(step: int) -> float:
            if step < warm:
                return (step + 1) / (warm + 1)
            progress = min(1.0, (step - warm) / max(1, total - warm))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return f

    def _autocast(self):
        if self.use_bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # ------------------------------------------------------------- reference
    def _sharded_batches(self, n: int, bs: int):
        """This process's share of positions 0..n-1 in batches; every process gets the same number of
        batches (padding batches are flagged False) so collective forwards (FSDP) stay in step."""
        ws, rank = self.dist.world_size, self.dist.rank
        mine = list(range(rank, n, ws))
        per = -(-n // ws)
        nb = max(1, -(-per // bs))
        for b in range(nb):
            chunk = mine[b * bs:(b + 1) * bs]
            yield (chunk, True) if chunk else ([0], False)

    @torch.no_grad()
    def _compute_ref_logps(self, module: nn.Module, pairs) -> torch.Tensor:
        out = torch.zeros(len(pairs), 2, dtype=torch.float32)
        for pos, real in self._sharded_batches(len(pairs), self.eval_bs):
            batch = self.collate([pairs[i] for i in pos])
            with self._autocast():
                lp = module(**model_inputs(batch, self.device)).float().cpu()
            if real:
                b = len(pos)
                out[pos, 0], out[pos, 1] = lp[:b], lp[b:]
        return D.all_reduce_sum(out.to(self.device) if self.device.type == "cuda" else out, self.dist).cpu()

    def _reference_cache(self, ref: nn.Module | None) -> dict:
        """Reference log-probs of every train/eval pair, computed once (then cached in OUTPUT_DIR)."""
        cfg = self.config
        path = os.path.join(cfg.output_dir, "ref_logps.pt") if cfg.output_dir else None
        key = {"train": len(self.train_pairs), "eval": len(self.eval_pairs),
               "checksum": sum(sum(p.chosen_ids) + 3 * sum(p.rejected_ids) + 7 * sum(p.prompt_ids)
                               for p in self.train_pairs + self.eval_pairs)}
        if cfg.resume and path and os.path.isfile(path):
            cache = torch.load(path, weights_only=True)
            if cache.get("key") == key:
                return cache
            raise RunDirError(f"{path}: cached reference log-probs do not match the data; cannot resume exactly")
        if ref is None:  # reference = the initial policy: no copy needed
            module = self._sequence_logps(self.policy)
            if self._fsdp:
                warnings.warn("reference=precomputed with FSDP computes the reference before sharding: "
                              "each process holds the full model once", stacklevel=2)
        else:
            module = self._frozen(ref)
        state = torch.get_rng_state()
        with self._reference_context():
            cache = {"key": key, "train": self._compute_ref_logps(module, self.train_pairs),
                     "eval": self._compute_ref_logps(module, self.eval_pairs) if self.eval_pairs else None}
        torch.set_rng_state(state)
        del module
        if path and self.dist.is_main:
            ckpt.atomic_torch_save(cache, path)
        return cache

    # -------------------------------------------------------------- one step
    def _ref_logps(self, batch, positions, split: str):
        if self.ref_cache is not None:
            table = self.ref_cache[split][positions].to(self.device)
            return table[:, 0], table[:, 1]
        if self.ref_module is not None:
            with torch.no_grad(), self._autocast(), self._reference_context():
                lp = self.ref_module(**model_inputs(batch, self.device)).float()
            b = len(positions)
            return lp[:b], lp[b:]
        return None, None

    def _batch_stats(self, module: nn.Module, batch, positions, split: str):
        """(summed loss, per-batch metric sums as one float64 tensor in STAT_KEYS order) of one batch."""
        rc, rr = self._ref_logps(batch, positions, split)
        labels = batch["labels"].to(self.device)
        with self._autocast():
            out = module(**model_inputs(batch, self.device), ref_chosen_logps=rc, ref_rejected_logps=rr,
                         pair_labels=labels)
        stats = preference_stats(out, out.chosen_logps, out.rejected_logps, labels,
                                 batch["true_labels"].to(self.device), loss_sum=out.loss)
        return out.loss, torch.stack([stats[k] for k in self._stat_keys])

    @property
    def _stat_keys(self) -> tuple[str, ...]:
        """The summed metrics of a batch, in the order they are all-reduced."""
        return STAT_KEYS + (("nll_loss",) if self.policy_loss.loss.nll_weight else ())

    def _finish(self, sums: torch.Tensor) -> dict:
        return metrics_from_stats(dict(zip(self._stat_keys, sums.tolist())))

    def _step_positions(self, step: int) -> list[list[int]]:
        """Positions (into train_pairs) of this process's micro-batches at global step ``step``."""
        cfg = self.config
        epoch, k = divmod(step, self.steps_per_epoch)
        if epoch not in self._order_cache:
            self._order_cache = {epoch: _epoch_order(len(self.train_pairs), cfg.seed, epoch)}
        order = self._order_cache[epoch]
        glob = order[k * cfg.batch_size:(k + 1) * cfg.batch_size]
        per_micro = cfg.batch_size // cfg.grad_accum
        out = []
        for m in range(cfg.grad_accum):
            mb = glob[m * per_micro:(m + 1) * per_micro]
            out.append(mb[self.dist.rank * self.micro:(self.dist.rank + 1) * self.micro])
        return out

    @contextmanager
    def _no_sync(self, active: bool):
        if not active or not self.dist.enabled:
            yield
            return
        if hasattr(self.module, "no_sync"):
            with self.module.no_sync():
                yield
        elif hasattr(self.module, "set_requires_gradient_sync"):
            self.module.set_requires_gradient_sync(False)
            try:
                yield
            finally:
                self.module.set_requires_gradient_sync(True)
        else:
            yield

    def _train_step(self, step: int) -> dict:
        cfg = self.config
        t0 = time.perf_counter()
        scale = self.dist.world_size / cfg.batch_size
        sums = torch.zeros(len(self._stat_keys), dtype=torch.float64, device=self.device)
        tokens = 0
        micro = self._step_positions(step)
        for m, positions in enumerate(micro):
            batch = self.collate([self.train_pairs[i] for i in positions])
            tokens += batch["num_tokens"]
            with self._no_sync(m < len(micro) - 1):
                loss_sum, s = self._batch_stats(self.module, batch, positions, "train")
                (loss_sum * scale).backward()
            sums += s
        loss_at = STAT_KEYS.index("loss")
        extra = torch.tensor([float(tokens), 0.0 if torch.isfinite(sums[loss_at]) else 1.0,
                              float(self._stop_signal is not None)], dtype=torch.float64, device=self.device)
        D.all_reduce_sum(sums, self.dist)
        D.all_reduce_sum(extra, self.dist)
        if extra[1] > 0 or not torch.isfinite(sums[loss_at]):
            self.optimizer.zero_grad(set_to_none=True)
            last = self._last_checkpoint or "none written yet"
            mean_loss = sums[loss_at].item() / max(sums[STAT_KEYS.index("pairs")].item(), 1)
            raise NonFiniteLossError(
                f"non-finite loss ({mean_loss:g}) at step {step + 1}: training stopped "
                f"before the update, so the parameters stay finite. Last good checkpoint: {last}. "
                "Common causes: a learning rate too high, fp16 overflow, or degenerate pairs; lower "
                "--learning_rate, set --clip, or use --precision fp32.")
        # The global gradient norm (clipping when --max_grad_norm > 0); a non-finite one stops training too.
        gn = torch.nn.utils.clip_grad_norm_(self.policy.parameters(),
                                            cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf"))
        if hasattr(gn, "full_tensor"):
            gn = gn.full_tensor()
        grad_norm = float(gn)
        if not math.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLossError(
                f"non-finite gradient norm at step {step + 1} (the loss was finite): training stopped before the "
                f"update. Last good checkpoint: {self._last_checkpoint or 'none written yet'}. Lower "
                "--learning_rate, set --clip, or use --precision fp32.")
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        # Stop only on the flag every process agreed on (a signal arriving after the reduction is seen at
        # the next step), so that all processes save the same checkpoint together.
        self._stop_now = bool(extra[2] > 0)
        elapsed = time.perf_counter() - t0
        m = self._finish(sums.cpu())
        m.update({"learning_rate": lr, "num_tokens": int(extra[0].item()),
                  "tokens_per_second": extra[0].item() / max(elapsed, 1e-9),
                  "epoch": (step + 1) / self.steps_per_epoch})
        m["grad_norm"] = grad_norm
        return m

    # ------------------------------------------------------------------ eval
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Metrics over the evaluation pairs (all processes together); {} without eval data."""
        if not self.eval_pairs:
            return {}
        sums = torch.zeros(len(self._stat_keys), dtype=torch.float64, device=self.device)
        for pos, real in self._sharded_batches(len(self.eval_pairs), self.eval_bs):
            batch = self.collate([self.eval_pairs[i] for i in pos])
            # The unwrapped module: DDP's forward is not needed without gradients.
            _, s = self._batch_stats(self.policy_loss, batch, pos, "eval")
            if real:
                sums += s
        D.all_reduce_sum(sums, self.dist)
        return self._finish(sums.cpu())

    # ----------------------------------------------------------- checkpoints
    def _model_state(self) -> dict:
        if is_peft_model(self.policy) and not self._fsdp:
            return adapter_state_dict(self.policy)  # a LoRA run: only the adapters change
        return ckpt.full_model_state(self.policy, fsdp=self._fsdp)

    def _optim_state(self) -> dict:
        return ckpt.full_optim_state(self.policy, self.optimizer,
                                     fsdp=self._fsdp)

    def save_checkpoint(self, step: int) -> str | None:
        """Write checkpoints/step-XXXXXX atomically (collective: every process calls it).

        Refuses (NonFiniteLossError) parameters holding NaN/inf, so a checkpoint reported as good is
        finite; a failed write (disk full, ...) raises CheckpointWriteError on every process, the
        previous checkpoint intact."""
        cfg = self.config
        if not cfg.output_dir:
            return None
        ckpt_dir = os.path.join(cfg.output_dir, "checkpoints")
        model_sd, optim_sd = self._model_state(), self._optim_state()

        def on_any_process(flag: bool) -> bool:  # so that every process raises, or none
            t = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=self.device)
            return bool(D.all_reduce_sum(t, self.dist)[0] > 0)

        bad = ckpt.nonfinite_entries(model_sd)  # the full state on the main process (FSDP: empty elsewhere)
        if on_any_process(bool(bad)):
            raise NonFiniteLossError(
                f"the parameters hold NaN/inf after step {step} ({', '.join(bad) or 'on another process'}): "
                f"no checkpoint written. Last good checkpoint: {self._last_checkpoint or 'none written yet'}. "
                "Common causes: a learning rate too high, --weight_decay too large, fp16 overflow.")
        rng = ckpt.capture_rng()
        if self.dist.enabled:
            rngs = [None] * self.dist.world_size
            torch.distributed.all_gather_object(rngs, rng)
        else:
            rngs = [rng]
        path, failure = os.path.join(ckpt_dir, f"step-{step:06d}"), None
        if self.dist.is_main:
            try:
                path = ckpt.save_checkpoint(
                    ckpt_dir, step, model_state=model_sd, optim_state=optim_sd, rng_states=rngs,
                    keep=cfg.save_total_limit, trainer_state={
                        "scheduler": self.scheduler.state_dict(), "config": cfg.to_dict(),
                        "world_size": self.dist.world_size, "steps_per_epoch": self.steps_per_epoch,
                        "total_steps": self.total_steps, "data_position": {
                            "epoch": step // self.steps_per_epoch, "batch_in_epoch": step % self.steps_per_epoch,
                            "pairs_seen": step * cfg.batch_size}})
            except ckpt.CheckpointWriteError as e:
                failure = e
        if on_any_process(failure is not None):
            raise ckpt.CheckpointWriteError(
                f"{failure.strerror if failure else 'the main process could not write the checkpoint'}; "
                f"training stopped at step {step}. The last good checkpoint "
                f"({self._last_checkpoint or 'none written yet'}) is intact: free space, then continue with "
                "--resume.")
        D.barrier(self.dist)
        self._last_checkpoint = path
        return path

    def _load_checkpoint(self, path: str | None) -> int:
        """Restore ``path`` (the one ``latest`` names) or, when it fails verification, the newest intact
        older checkpoint (saying which were skipped and why). A run with no checkpoint yet (killed
        before the first one) starts afresh from step 0 with its stored options; returns the step."""
        ckpt_dir = os.path.join(self.config.output_dir, "checkpoints")
        found, loaded, skipped = ckpt.load_resumable(ckpt_dir, self.dist.rank, preferred=path)
        if self.dist.is_main:
            for where, why in skipped:
                print(f"[sympo-train] --resume: skipped {where}: {why}", file=sys.stderr, flush=True)
            if found is None:
                print(f"[sympo-train] --resume: {self.config.output_dir!r} has no checkpoint yet (the run stopped "
                      "before its first one): starting afresh from step 0 with its stored options",
                      file=sys.stderr, flush=True)
            elif skipped:
                print(f"[sympo-train] --resume: continuing from {found}", file=sys.stderr, flush=True)
        if found is None:
            self._last_checkpoint = None
            return 0
        state = loaded["trainer_state"]
        if state["world_size"] != self.dist.world_size:
            raise RunDirError(f"{found} was written by {state['world_size']} process(es); resume with the same "
                              f"number (now {self.dist.world_size}) for an exact continuation")
        if is_peft_model(self.policy) and not self._fsdp:  # a LoRA run's checkpoint holds the adapters only
            load_adapter_state_dict(self.policy, loaded["model"])
            self.optimizer.load_state_dict(loaded["optimizer"])
        else:
            ckpt.load_full_state(self.policy, self.optimizer, loaded["model"], loaded["optimizer"], fsdp=self._fsdp)
        self.scheduler.load_state_dict(state["scheduler"])
        ckpt.restore_rng(loaded["rng"])
        self._last_checkpoint = found
        return int(state["step"])

    def _save_final(self) -> None:
        cfg = self.config
        sd = self._model_state()
        if not (cfg.output_dir and cfg.save_final_model and self.dist.is_main):
            return
        final = os.path.join(cfg.output_dir, "final")
        tmp = final + ".tmp"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            save_pretrained_final(self.policy, tmp, state_dict=sd, merge_lora=cfg.merge_lora)
            if hasattr(self.tokenizer, "save_pretrained"):
                self.tokenizer.save_pretrained(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except (OSError, RuntimeError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ckpt.CheckpointWriteError(
                f"{ckpt.write_failure(final, e).strerror} (the final model); the last checkpoint "
                f"({self._last_checkpoint}) is intact: free space, then --resume writes the final model") from None

    # ------------------------------------------------------------------ main
    def _on_signal(self, signum, frame):
        if self._stop_signal is not None:  # second signal: stop now
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        self._stop_signal = signum
        if getattr(self, "dist", None) is None or self.dist.is_main:
            print(f"\n[sympo-train] {signal.Signals(signum).name} received: finishing this step, saving a "
                  "checkpoint and exiting (send it again to abort without saving)", file=sys.stderr, flush=True)

    def _log(self, step: int, split: str, metrics: dict) -> None:
        row = {"step": step, "split": split, **metrics}
        self.history.append(row)
        self.logger.log(step, split, metrics)

    def train(self) -> TrainResult:
        """Run (or resume) training; returns a :class:`TrainResult`."""
        import threading

        handlers = {}
        # Graceful stop needs somewhere to save: without an output directory, Ctrl-C raises
        # KeyboardInterrupt as usual (so a sweep calling train() many times stops as a whole).
        if self.config.output_dir and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        self._lock = None
        try:
            result = self._train()
            # Every process is past its last write (the main one saves the final model)
            # before any of them tears the process group down; a rank leaving early
            # has aborted gloo's teardown under load.
            D.barrier(self.dist)
            return result
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            if getattr(self, "logger", None) is not None:
                self.logger.close()
            if getattr(self, "dist", None) is not None:
                D.destroy(self.dist)
            if self._lock is not None:  # the run directory is free again
                self._lock.release()

    def _train(self) -> TrainResult:
        self._setup()
        cfg = self.config
        self._order_cache = {}
        self._last_checkpoint = None
        start = 0
        if cfg.resume:
            start = self._load_checkpoint(ckpt.latest_checkpoint(os.path.join(cfg.output_dir, "checkpoints")))
        self.logger = MetricsLogger(cfg.output_dir, enabled=bool(cfg.output_dir) and self.dist.is_main,
                                    tensorboard=cfg.tensorboard, resume_step=start if cfg.resume else None) \
            if cfg.output_dir else MetricsLogger("", enabled=False)
        bar = None
        if cfg.progress and self.dist.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_steps, initial=start, desc=f"sympo-train {cfg.loss_type}",
                       unit="step", dynamic_ncols=True, file=sys.stderr)
        result = TrainResult(global_step=start, output_dir=cfg.output_dir, data_stats=self.data_stats)
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
                if bar is not None:
                    post = {"loss": f"{metrics['loss']:.4f}", "acc": f"{metrics['rewards/accuracies']:.2f}"}
                    if "rewards/true_accuracies" in metrics:
                        post["true_acc"] = f"{metrics['rewards/true_accuracies']:.2f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                if cfg.eval_steps and step % cfg.eval_steps == 0 and step < self.total_steps:
                    self._log(step, "eval", self.evaluate())
                if self._stop_now:
                    result.checkpoint = self.save_checkpoint(step)
                    result.interrupted = int(self._stop_signal or signal.SIGTERM)
                    if self.dist.is_main:
                        print(f"[sympo-train] stopped at step {step}/{self.total_steps}; checkpoint "
                              f"{result.checkpoint}. Continue with the same command plus --resume.",
                              file=sys.stderr, flush=True)
                    break
                if cfg.save_steps and step % cfg.save_steps == 0 and step < self.total_steps:
                    result.checkpoint = self.save_checkpoint(step)
        finally:
            if bar is not None:
                bar.close()
        result.global_step = step
        result.train_metrics = last
        if result.interrupted is None:
            result.eval_metrics = self.evaluate()
            if result.eval_metrics:
                self._log(step, "eval", result.eval_metrics)
            result.checkpoint = self.save_checkpoint(step) if cfg.output_dir else None
            self._save_final()
        result.history = self.history
        result.model = self.policy
        return result
