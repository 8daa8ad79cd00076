"""The optimiser and learning-rate schedule: AdamW with decay / no-decay groups, linear warmup then
cosine decay to a floor."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["make_optimizer", "warmup_cosine", "make_scheduler", "optimizer_from_config"]


def make_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float = 0.0,
    betas=(0.9, 0.999),
    eps: float = 1e-8,
    decay_1d: bool = False,
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters. Matrices (ndim >= 2) decay by ``weight_decay``; biases and
    norms (ndim < 2) do not, unless ``decay_1d`` (one group: every parameter decays)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_1d:
        groups = [{"params": params, "weight_decay": weight_decay}]
    else:
        groups = [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
    # torch's fused AdamW (what TRL / transformers use by default) where every parameter allows it: one
    # kernel per step instead of foreach's passes (about 5x less optimizer time on CPU at V = 128256)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params) or None
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=tuple(betas), eps=eps, fused=fused)


def warmup_cosine(total_steps: int, *, warmup_steps: int = 0, min_lr_ratio: float = 0.0):
    """The LR multiplier of step s: (s+1)/(warmup+1) during warmup, then cosine from 1 down to
    ``min_lr_ratio`` at ``total_steps``."""
    warm, floor = warmup_steps, min_lr_ratio

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def make_scheduler(
    optimizer, total_steps: int, *, warmup_steps: int = 0, warmup_ratio: float = 0.0, min_lr_ratio: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """:func:`warmup_cosine` as a scheduler; ``warmup_steps`` (when > 0) wins over ``warmup_ratio``."""
    warm = warmup_steps or int(round(warmup_ratio * total_steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, warmup_steps=warm, min_lr_ratio=min_lr_ratio)
    )


def optimizer_from_config(cfg, model: nn.Module, total_steps: int):
    """(optimizer, scheduler) of a TrainConfig: its learning rate, weight decay, Adam betas / eps,
    warmup and cosine floor."""
    optimizer = make_optimizer(
        model,
        lr=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_eps,
    )
    return optimizer, make_scheduler(
        optimizer,
        total_steps,
        warmup_steps=cfg.warmup_steps,
        warmup_ratio=cfg.warmup_ratio,
        min_lr_ratio=cfg.min_lr_ratio,
    )
