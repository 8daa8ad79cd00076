"""Digits-preference: the SymPO paper's MNIST experiment (Section 5.1) on scikit-learn's 8x8 digits.

    python -m sympo_ext.experiments.digits --quick          # CI preset (seconds)
    python -m sympo_ext.experiments.digits                  # full preset (all losses x noise x 5 seeds)
    python -m sympo_ext.experiments.digits --losses logistic sigmoid --noise 0 0.2 0.1:0.3 --seeds 0 1

Setup (mirrors the official code, ``nissymori/SymPO`` ``mnistpref/``, scaled to 1797 images):

* the images are split into train / test BY IMAGE (no test image appears in a training pair);
* within each split, images are paired by random perfect matchings ("rounds"; the official
  code uses one: each image in exactly one pair); pairs of equal digits are dropped;
* the true preference of a pair (a, b) is a Bradley-Terry draw on the digit values:
  label = 1 ("a preferred") with probability sigmoid(d_a - d_b). The order inside a pair is
  random, so the class prior is 1/2 (the official script's ``class_prior=0.5``);
* the training labels are flipped: symmetric noise (each label w.p. eps) or asymmetric
  noise (a label 1 w.p. eps_pos, a label 0 w.p. eps_neg), with ``sympo_ext.noise.flip_labels``;
* a reward model r(x) (an MLP on the 64 pixels, output clamped to [-clamp, clamp] as the
  official CNN does) is trained with ``sympo_ext.sym_loss(r(x_a), r(x_b), labels=noisy,
  beta=1)`` -- reference-free, so the margin is r(x_a) - r(x_b);
* test metrics: accuracy of sign(r(x_a) - r(x_b)) against the true (BT-drawn) label and
  against the true digit order, and the Spearman rank correlation between r(x) and the
  digit value over the test images (the direct measure of rank preservation).

For a given seed every loss and every noise setting sees the same split, pairs, BT labels
and initial weights, so comparisons between losses are paired.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..losses import LOSSES, canonical_name, flip_rate_options
from ..metrics import pair_accuracy
from ..train.reward_model import train_reward_model
from . import common
from .digits_data import (  # noqa: F401 (bt_preferences, build_data, make_pairs, split_by_image: the data, for callers)
    ALL_LOSSES,
    ASYMMETRIC_NOISE,
    CSV_COLUMNS,
    FULL_SEEDS,
    METRICS,
    QUICK_CONFIG,
    QUICK_LOSSES,
    QUICK_NOISE,
    QUICK_SEEDS,
    SYMMETRIC_NOISE,
    DigitsConfig,
    DigitsData,
    NoiseSetting,
    _cached_data,
    bt_preferences,
    build_data,
    load_digits_arrays,
    make_pairs,
    noise_seed,
    noisy_labels,
    split_by_image,
)
from .digits_report import METRIC_LABELS, REPORT, load_runs, make_plots, summary_markdown  # noqa: F401

# --------------------------------------------------------------------------- #
# model, training, metrics
# --------------------------------------------------------------------------- #


class RewardMLP(nn.Module):
    """MLP on the 64 pixels -> scalar reward, hard-clamped to [-clamp, clamp] (like the official CNN)."""

    def __init__(self, hidden: tuple[int, ...] = (128, 64), dropout: float = 0.1, clamp: float = 5.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = 64
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1).clamp(-self.clamp, self.clamp)


def loss_kwargs(loss: str, noise: NoiseSetting, cfg: DigitsConfig) -> dict:
    """sym_loss keyword arguments of a loss, from the registry: a loss that takes the assumed flip
    rate (cDPO, rDPO, ...) gets the true (mean) rate; the config's setting of the loss's own
    parameter (temperature, slope) otherwise; every other parameter its registry default."""
    kw = flip_rate_options(loss, noise.mean)
    param = LOSSES[canonical_name(loss)].param
    setting = {"temperature": cfg.sigmoid_temperature, "slope": cfg.ramp_slope}
    if not kw and param is not None and param.name in setting:
        kw[param.name] = setting[param.name]
    return kw


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when x is constant (no ranking information)."""
    from scipy.stats import spearmanr

    if np.all(x == x[0]):
        return 0.0
    return float(spearmanr(x, y).statistic)


def fit_digits_model(
    data: DigitsData, labels: torch.Tensor, loss: str, noise: NoiseSetting, seed: int, cfg: DigitsConfig
) -> tuple[RewardMLP, float]:
    """Train a fresh reward model on (train pairs, labels) with the project's reward-model loop
    (:func:`sympo_ext.train.reward_model.train_reward_model`); returns (model, mean loss of the last
    epoch). The global RNG is seeded once, so the initialisation and then the dropout masks come
    from it; the data order from its own generator."""
    torch.manual_seed(seed)
    model = RewardMLP(cfg.hidden, cfg.dropout, cfg.clamp)
    pairs = data.train_pairs
    result = train_reward_model(
        model,
        pairs[:, 0],
        pairs[:, 1],
        labels,
        pool=data.X,
        loss_type=loss,
        beta=1.0,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        seed=seed + 7,
        fork_rng=False,
        **loss_kwargs(loss, noise, cfg),
    )
    return model, result.final_loss


@torch.no_grad()
def evaluate(model: RewardMLP, data: DigitsData, noisy: torch.Tensor) -> dict:
    """Test metrics (and the fit to the training labels)."""
    model.eval()
    rewards = model(data.X)  # every image; test metrics only read test images
    d = data.digits

    def margins(pairs):
        return rewards[pairs[:, 0]] - rewards[pairs[:, 1]]

    m_test, m_train = margins(data.test_pairs), margins(data.train_pairs)
    order = (d[data.test_pairs[:, 0]] > d[data.test_pairs[:, 1]]).long()
    oracle = (d[data.test_pairs[:, 0]] - d[data.test_pairs[:, 1]]).float()
    test_r = rewards[torch.from_numpy(data.test_images)].numpy()
    return {
        "train_acc_noisy": pair_accuracy(m_train, noisy),
        "train_acc_true": pair_accuracy(m_train, data.train_true),
        "test_acc_true": pair_accuracy(m_test, data.test_true),
        "test_acc_order": pair_accuracy(m_test, order),
        "test_spearman": spearman(test_r, d[torch.from_numpy(data.test_images)].numpy()),
        "oracle_acc_true": pair_accuracy(oracle, data.test_true),
        "reward_min": float(rewards.min()),
        "reward_max": float(rewards.max()),
    }


def run_one(task: tuple) -> dict:
    """One run: (loss, noise, seed, cfg) -> a CSV row. Module-level so worker processes can pickle it."""
    loss, noise, seed, cfg = task
    t0 = time.perf_counter()
    data = _cached_data(seed, cfg)
    noisy, flipped = noisy_labels(data.train_true, noise, noise_seed(seed, noise))
    model, final_loss = fit_digits_model(data, noisy, loss, noise, seed, cfg)
    metrics = evaluate(model, data, noisy)
    kw = loss_kwargs(loss, noise, cfg)
    row = {
        "loss": loss,
        "family": LOSSES[loss].family,
        "symmetric": LOSSES[loss].symmetric,
        "noise": noise.name,
        "noise_kind": noise.kind,
        "eps_pos": noise.eps_pos,
        "eps_neg": noise.eps_neg,
        "eps_mean": noise.mean,
        "loss_epsilon": kw.get("epsilon", ""),
        "seed": seed,
        "epochs": cfg.epochs,
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "clamp": cfg.clamp,
        "batch_size": cfg.batch_size,
        "n_train_images": len(data.train_images),
        "n_test_images": len(data.test_images),
        "n_train_pairs": len(data.train_pairs),
        "n_test_pairs": len(data.test_pairs),
        "flip_rate": flipped.float().mean().item(),
        **metrics,  # evaluate()'s: the accuracies, the Spearman, the oracle, the reward range
        "final_train_loss": final_loss,
        "seconds": time.perf_counter() - t0,
    }
    return {k: row[k] for k in CSV_COLUMNS}


def run_grid(
    losses=ALL_LOSSES,
    noises=SYMMETRIC_NOISE + ASYMMETRIC_NOISE,
    seeds=FULL_SEEDS,
    cfg: DigitsConfig = DigitsConfig(),  # noqa: B008 - a frozen dataclass, never mutated
    *,
    workers: int = 1,
    threads: int = 1,
    progress: bool = True,
) -> list[dict]:
    """Every (loss, noise, seed) run; seed-major order so data is built once per seed and worker."""
    losses = tuple(canonical_name(loss) for loss in losses)  # aliases too; ValueError names the valid ones
    tasks = [(loss, noise, seed, cfg) for seed in seeds for noise in noises for loss in losses]
    return common.run_tasks(run_one, tasks, workers=workers, threads=threads, desc="digits runs", progress=progress)


# --------------------------------------------------------------------------- #
# one-off hyper-parameter selection (same setting for every loss)
# --------------------------------------------------------------------------- #

TUNE_LOSSES = ("logistic", "hinge", "sigmoid", "symmetric_ramp", "unhinged", "cdpo")
TUNE_NOISE = (NoiseSetting(0.0, 0.0), NoiseSetting(0.2, 0.2), NoiseSetting(0.4, 0.4))
TUNE_GRID = tuple(
    dict(epochs=e, clamp=c, weight_decay=wd) for e in (15, 30, 80) for c in (5.0, 20.0) for wd in (1e-4, 1e-2)
)


def tune(seed: int = 100, *, grid=TUNE_GRID, workers: int = 1, progress: bool = True) -> list[dict]:
    """Score each TUNE_GRID setting on a VALIDATION split of the training images (the test
    images are never used) by the validation Spearman averaged over TUNE_LOSSES x TUNE_NOISE,
    every loss weighted equally. Seed 100 is not one of the reported seeds."""
    tasks, keys = [], []
    for i, setting in enumerate(grid):
        cfg = replace(DigitsConfig(), validation=True, **setting)
        for noise in TUNE_NOISE:
            for loss in TUNE_LOSSES:
                tasks.append((loss, noise, seed, cfg))
                keys.append(i)
    rows = common.run_tasks(run_one, tasks, workers=workers, desc="tuning runs", progress=progress)
    out = []
    for i, setting in enumerate(grid):
        mine = [r for r, k in zip(rows, keys) if k == i]
        out.append(
            {
                **setting,
                "val_spearman": common.mean_std(r["test_spearman"] for r in mine)[0],
                "val_acc_true": common.mean_std(r["test_acc_true"] for r in mine)[0],
                "val_spearman_clean": common.mean_std(r["test_spearman"] for r in mine if r["eps_mean"] == 0)[0],
                "val_spearman_noisy": common.mean_std(r["test_spearman"] for r in mine if r["eps_mean"] > 0)[0],
            }
        )
    return out


# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    p = common.grid_parser(
        "python -m sympo_ext.experiments.digits",
        "Digits-preference reward learning under label noise (SymPO Section 5.1 on sklearn digits).",
        out="runs/digits",
        quick_help="CI preset: 4 losses x 3 noise levels x 1 seed, 20 epochs",
        seeds_help="seeds (default: 0..4, quick: 0)",
        losses_help="losses: any sympo_ext loss name or alias (default: the 11 of ALL_LOSSES)",
        noise_type=NoiseSetting.parse,
        noise_help="noise settings: EPS (symmetric) or EPS_POS:EPS_NEG (asymmetric); "
        "default 0 0.1 0.2 0.3 0.4 0.1:0.3 0.3:0.1 0.2:0.4",
    )
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--lr", type=float, help="override the learning rate")
    p.add_argument("--weight-decay", type=float, help="override the AdamW weight decay")
    p.add_argument("--clamp", type=float, help="override the reward clamp c (output in [-c, c])")
    p.add_argument(
        "--tune",
        action="store_true",
        help="score the hyper-parameter grid on a validation split of the training images and exit",
    )
    return common.add_run_flags(
        p,
        threads_help="torch threads per worker",
        report_help="re-render summary.md/summary.csv/plots from OUT/runs.csv without training",
    )


def _noises_of_rows(rows) -> tuple:
    return tuple(NoiseSetting.parse(n) for n in dict.fromkeys(r["noise"] for r in rows))


def main(argv=None) -> list[dict]:
    args = build_parser().parse_args(argv)
    if args.tune:
        t0 = time.perf_counter()
        results = tune(workers=args.workers, progress=not args.no_progress)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        common.write_csv(results, Path(args.out) / "tuning.csv")
        for r in sorted(results, key=lambda r: -r["val_spearman"]):
            print(r)
        print(f"tuning: {len(TUNE_GRID) * len(TUNE_LOSSES) * len(TUNE_NOISE)} runs in {time.perf_counter() - t0:.0f} s")
        return results
    cfg = QUICK_CONFIG if args.quick else DigitsConfig()
    cfg = replace(cfg, **common.given(epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, clamp=args.clamp))
    losses, noises, seeds = common.grid_axes(
        args,
        losses=(QUICK_LOSSES, ALL_LOSSES),
        noises=(QUICK_NOISE, SYMMETRIC_NOISE + ASYMMETRIC_NOISE),
        seeds=(QUICK_SEEDS, FULL_SEEDS),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    noise_names = [n.name for n in noises]
    common.print_plan(
        args, f"config: {asdict(cfg)}", losses, noise_names, seeds, "; label noise: sympo_ext.noise.flip_labels"
    )
    t0 = time.perf_counter()
    if args.report_only:
        rows = load_runs(out / "runs.csv")
        losses, noises = common.stored_axes(args, rows, losses, noises, _noises_of_rows)
        wall = float("nan")
        first = rows[0]
        cfg = replace(
            cfg,
            epochs=int(first["epochs"]),
            lr=first["lr"],
            weight_decay=first["weight_decay"],
            clamp=first["clamp"],
            batch_size=int(first["batch_size"]),
        )
    else:
        rows = run_grid(losses, noises, seeds, cfg, **common.run_options(args))
        wall = time.perf_counter() - t0
        common.write_csv(rows, out / "runs.csv", CSV_COLUMNS)
    timing = "re-rendered from runs.csv" if args.report_only else f"in {wall:.0f} s wall ({args.workers} worker(s))"
    header = f"# Digits preference: summary\n\n{len(rows)} runs {timing}; config: `{asdict(cfg)}`\n\n"
    REPORT.write(rows, losses, noises, out / "summary", header, plots=not args.no_plots)
    print(f"{len(rows)} runs in {wall:.1f} s wall; CSV: {out / 'runs.csv'}; summary: {out / 'summary.md'}")
    return rows


if __name__ == "__main__":
    main()
