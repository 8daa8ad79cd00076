"""Reward-model mode: reward modelling as binary classification of pairs (the SymPO paper's view).

A reward model ``r`` is any ``nn.Module`` mapping a batch of inputs to one score
per input (shape [B] or [B, 1]). For a pair (a, b) with label y (1 = a
preferred), the margin is ``beta * (r(a) - r(b))`` and the loss is
``sym_loss(r(a), r(b), labels=y, loss_type=...)``: with a symmetric loss
(sigmoid, symmetric_ramp, unhinged) the minimiser under symmetric label noise
ranks inputs like the clean one (rank preservation); the logistic loss is the
Bradley-Terry / DPO choice.

This is the one reward-model training loop of the project; the digits experiment
(:mod:`sympo_ext.experiments.digits`) runs it. Example (the digits experiment's shape)::

    from sympo_ext.train import train_reward_model, reward_scores
    res = train_reward_model(model, pairs[:, 0], pairs[:, 1], noisy_labels, pool=images,
                             loss_type="sigmoid", epochs=20, batch_size=128, lr=1e-3,
                             true_labels=clean_labels, seed=0)
    scores = reward_scores(res.model, images)            # [N]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import ops
from ..losses import LossSpec
from ..metrics import pair_accuracy
from .optim import make_optimizer
from .step import NonFiniteLossError, optimizer_step

__all__ = ["train_reward_model", "reward_scores", "RewardModelResult", "pair_accuracy", "NonFiniteLossError"]

ADVICE = "Lower lr, set clip or max_grad_norm."


@dataclass
class RewardModelResult:
    model: nn.Module
    # one dict per epoch: epoch, loss, rewards/accuracies, rewards/true_accuracies, eval_rewards/accuracies
    history: list = field(default_factory=list)
    final_loss: float = math.nan


def _scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "logits"):
        out = out.logits
    if out.dim() == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.dim() != 1 or out.shape[0] != x.shape[0]:
        raise ValueError(
            f"the reward model must return one score per input ([B] or [B, 1]); got shape "
            f"{tuple(out.shape)} for {x.shape[0]} inputs"
        )
    return out


@torch.no_grad()
def reward_scores(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Scores of ``inputs`` (eval mode, no gradients), float32 [N] on the CPU."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        return torch.cat(
            [
                _scores(model, inputs[i : i + batch_size].to(device)).float().cpu()
                for i in range(0, len(inputs), batch_size)
            ]
        )
    finally:
        model.train(was)


def _gather(pool, idx_or_x, sel):
    if pool is None:
        return idx_or_x[sel]
    return pool[idx_or_x[sel]]


def train_reward_model(
    model: nn.Module,
    pairs_a: torch.Tensor,
    pairs_b: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    pool: torch.Tensor | None = None,
    loss_type: str | list[str] = "sigmoid",
    beta: float = 1.0,
    clip: float | None = None,
    loss_weights: list[float] | None = None,
    weights: torch.Tensor | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    max_grad_norm: float = 0.0,
    seed: int = 0,
    true_labels: torch.Tensor | None = None,
    eval_pairs: tuple | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    fork_rng: bool = True,
    **loss_params,
) -> RewardModelResult:
    """Train the scalar reward model ``model`` in place on pairs with a ``sym_loss`` loss.

    Args:
        pairs_a, pairs_b: the two inputs of every pair, tensors [N, ...]; or, with ``pool``, index
            tensors [N] into ``pool`` (saves copying shared inputs).
        labels: 0/1 [N] (1 = a preferred; None = all 1), possibly noisy.
        loss_type (a name, alias or list), beta, clip, loss_weights, weights and the loss parameters
            (``**loss_params``: any parameter of the loss registry by name; None = the loss's
            default): as in :func:`sympo_ext.sym_loss` (reference-free: the margin is
            ``beta * (r(a) - r(b))``).
        epochs, batch_size, lr, weight_decay, max_grad_norm: AdamW training (every parameter decays;
            constant lr); the last batch of an epoch may be smaller (the loss is the batch mean). A
            non-finite loss or gradient norm stops training before the update
            (:class:`~sympo_ext.train.step.NonFiniteLossError`), the parameters still finite.
        seed: seeds the data order and (with ``fork_rng``) dropout.
        fork_rng: True: dropout draws from a forked RNG seeded with ``seed`` (the global RNG is
            untouched); False: from the global RNG as the caller left it (e.g. seeded once before
            the model was built, as the digits experiment does).
        true_labels: clean labels [N] when known: the history reports accuracy against them.
        eval_pairs: optional ``(a, b, true_labels)`` (same convention as pairs_a/pairs_b, same pool)
            evaluated after every epoch.

    Returns a :class:`RewardModelResult` with the trained model and a per-epoch history with TRL's
    names (:data:`sympo_ext.metrics.METRIC_NAMES`): ``loss``, ``rewards/accuracies`` vs the given
    labels, ``rewards/true_accuracies`` vs ``true_labels``, ``eval_rewards/accuracies``.
    """
    spec = LossSpec.create(loss_type, beta=beta, clip=clip, loss_weights=loss_weights, **loss_params)
    n = len(pairs_a)
    if len(pairs_b) != n:
        raise ValueError(f"pairs_a and pairs_b must have the same length, got {n} and {len(pairs_b)}")
    if n == 0:
        raise ValueError("no pairs to train on")
    labels = torch.ones(n) if labels is None else labels.float()
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} pairs")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    model.to(device)
    opt = make_optimizer(model, lr=lr, weight_decay=weight_decay, decay_1d=True)
    gen = torch.Generator().manual_seed(seed)
    history = []
    loss_kw = spec.sym_loss_kwargs()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=f"reward model ({spec.loss_type})", unit="epoch")
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=fork_rng):
        if fork_rng:
            torch.manual_seed(seed)
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total, margins_all = 0.0, torch.empty(n)
            for start in range(0, n, batch_size):
                sel = perm[start : start + batch_size]
                b = len(sel)
                # the two inputs of a pair side by side: rows a0, b0, a1, b1, ...
                x = torch.stack([_gather(pool, pairs_a, sel), _gather(pool, pairs_b, sel)], 1).flatten(0, 1)
                s = _scores(model, x.to(device)).view(b, 2)
                out = ops.sym_loss(
                    s[:, 0],
                    s[:, 1],
                    labels=labels[sel].to(device),
                    weights=None if weights is None else weights[sel].to(device),
                    return_rewards=True,
                    **loss_kw,
                )
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                loss = out.loss.item()
                optimizer_step(
                    opt,
                    model.parameters(),
                    loss=loss,
                    max_grad_norm=max_grad_norm,
                    where=f"epoch {epoch + 1}, pairs {start}-{start + b - 1}",
                    advice=ADVICE,
                )
                total += loss * b
                margins_all[sel] = out.margins.float().cpu()
            row = {"epoch": epoch + 1, "loss": total / n, "rewards/accuracies": pair_accuracy(margins_all, labels)}
            if true_labels is not None:
                row["rewards/true_accuracies"] = pair_accuracy(margins_all, true_labels)
            if eval_pairs is not None:
                ea, eb, ey = eval_pairs
                sa = reward_scores(model, ea if pool is None else pool[ea])
                sb = reward_scores(model, eb if pool is None else pool[eb])
                row["eval_rewards/accuracies"] = pair_accuracy(sa - sb, ey)
            history.append(row)
            if bar is not None:
                bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k != "epoch"}, refresh=False)
                bar.update(1)
    if bar is not None:
        bar.close()
    model.eval()
    return RewardModelResult(model=model, history=history, final_loss=history[-1]["loss"])
