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
import functools
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..losses import LOSSES, canonical_name, flip_rate_options
from ..metrics import pair_accuracy
from ..train.reward_model import train_reward_model as fit_reward_model
from . import common

from ..noise import flip_labels as _shared_flip_labels

ALL_LOSSES = (
    "logistic", "hinge", "square", "exp", "ramp",
    "sigmoid", "symmetric_ramp", "unhinged",
    "cdpo", "rdpo", "ropo",
)
METRICS = ("test_acc_true", "test_acc_order", "test_spearman", "train_acc_noisy", "train_acc_true")

CSV_COLUMNS = (
    "loss", "family", "symmetric", "noise", "noise_kind", "eps_pos", "eps_neg", "eps_mean", "loss_epsilon",
    "seed", "epochs", "lr", "weight_decay", "clamp", "batch_size",
    "n_train_images", "n_test_images", "n_train_pairs", "n_test_pairs", "flip_rate",
    "train_acc_noisy", "train_acc_true", "test_acc_true", "test_acc_order", "test_spearman",
    "oracle_acc_true", "final_train_loss", "reward_min", "reward_max", "seconds",
)


# --------------------------------------------------------------------------- #
# configuration
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class NoiseSetting:
    """Label noise: symmetric (eps_pos == eps_neg) or asymmetric (class-conditional)."""

    eps_pos: float  # flip probability of a true label 1
    eps_neg: float  # flip probability of a true label 0

    @property
    def symmetric(self) -> bool:
        return self.eps_pos == self.eps_neg

    @property
    def kind(self) -> str:
        return "symmetric" if self.symmetric else "asymmetric"

    @property
    def mean(self) -> float:
        """Mean flip rate (with the class prior 1/2 of this data)."""
        return (self.eps_pos + self.eps_neg) / 2

    @property
    def name(self) -> str:
        return f"{self.eps_pos:g}" if self.symmetric else f"{self.eps_pos:g}:{self.eps_neg:g}"

    @classmethod
    def parse(cls, text: str) -> NoiseSetting:
        """``"0.2"`` -> symmetric 0.2; ``"0.1:0.3"`` (or ``"0.1,0.3"``) -> eps_pos 0.1, eps_neg 0.3."""
        parts = text.replace(",", ":").split(":")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"bad noise setting {text!r}: expected EPS or EPS_POS:EPS_NEG") from None
        if len(vals) == 1:
            vals = vals * 2
        if len(vals) != 2 or not all(0.0 <= v < 1.0 for v in vals) or sum(vals) >= 1.0:
            raise ValueError(f"bad noise setting {text!r}: rates in [0, 1) with eps_pos + eps_neg < 1")
        return cls(vals[0], vals[1])


SYMMETRIC_NOISE = tuple(NoiseSetting(e, e) for e in (0.0, 0.1, 0.2, 0.3, 0.4))
ASYMMETRIC_NOISE = (NoiseSetting(0.1, 0.3), NoiseSetting(0.3, 0.1), NoiseSetting(0.2, 0.4))


@dataclass(frozen=True)
class DigitsConfig:
    """Data and training hyper-parameters: ONE setting for every loss (see EXPERIMENTS.md)."""

    test_frac: float = 0.3  # fraction of the images held out (by image)
    train_rounds: int = 2  # random perfect matchings of the train images -> ~0.45 * rounds * n_train pairs
    test_rounds: int = 8  # more matchings on the test images for lower-variance pair metrics
    bt_temperature: float = 1.0  # p(a > b) = sigmoid(bt_temperature * (d_a - d_b))
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    clamp: float = 5.0  # reward output clamped to [-clamp, clamp]
    # epochs / clamp / weight_decay: picked ONCE by ``--tune`` (validation split of the training
    # images, mean validation Spearman over 6 losses x 3 noise levels); lr and batch fixed a priori.
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2  # AdamW (decoupled)
    sigmoid_temperature: float = 1.0
    ramp_slope: float = 0.5
    # True: carve the "test" images out of the TRAINING images (the real test images are never
    # touched) -- the validation split used to pick the hyper-parameters once (``--tune``).
    validation: bool = False


QUICK_CONFIG = replace(DigitsConfig(), epochs=20)
QUICK_LOSSES = ("logistic", "sigmoid", "symmetric_ramp", "cdpo")
QUICK_NOISE = (NoiseSetting(0.0, 0.0), NoiseSetting(0.2, 0.2), NoiseSetting(0.4, 0.4))
QUICK_SEEDS = (0,)
FULL_SEEDS = (0, 1, 2, 3, 4)


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits: X float32 [1797, 64] in [0, 1], y int64 [1797]."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def split_by_image(n_images: int, test_frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (train, test) image indices covering 0..n_images-1."""
    perm = rng.permutation(n_images)
    n_test = int(round(test_frac * n_images))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def make_pairs(image_idx: np.ndarray, digits: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """Pairs [P, 2] of images from ``image_idx`` with different digits.

    Each round is a random perfect matching of the images (consecutive elements
    of a permutation), as in the official code; equal-digit pairs are dropped.
    The order inside a pair is random.
    """
    out = []
    for _ in range(rounds):
        perm = rng.permutation(image_idx)
        m = len(perm) // 2 * 2
        pairs = perm[:m].reshape(-1, 2)
        out.append(pairs[digits[pairs[:, 0]] != digits[pairs[:, 1]]])
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def bt_preferences(d_a: np.ndarray, d_b: np.ndarray, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """True labels from a Bradley-Terry draw: 1 (a preferred) w.p. sigmoid(temperature * (d_a - d_b))."""
    p = 1.0 / (1.0 + np.exp(-temperature * (d_a.astype(np.float64) - d_b.astype(np.float64))))
    return (rng.random(len(p)) < p).astype(np.int64)


def flip_labels(true_labels: torch.Tensor, noise: NoiseSetting, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy labels long 0/1, flipped bool) via ``sympo_ext.noise.flip_labels``:
    a label 1 flips w.p. eps_pos, a label 0 w.p. eps_neg, seeded by a torch.Generator."""
    true_labels = true_labels.long()
    if noise.symmetric:
        res = _shared_flip_labels(true_labels, kind="symmetric", eps=noise.eps_pos, seed=seed)
    else:
        res = _shared_flip_labels(
            true_labels, kind="asymmetric", eps_pos=noise.eps_pos, eps_neg=noise.eps_neg, seed=seed
        )
    return res.labels.long(), res.flipped.bool()


@dataclass
class DigitsData:
    X: torch.Tensor  # [N, 64] all images
    digits: torch.Tensor  # [N] long
    train_images: np.ndarray
    test_images: np.ndarray
    train_pairs: torch.Tensor  # [P, 2] long (image indices)
    train_true: torch.Tensor  # [P] long, BT-drawn
    test_pairs: torch.Tensor
    test_true: torch.Tensor


def build_data(seed: int, cfg: DigitsConfig = DigitsConfig()) -> DigitsData:
    """Split, pairs and true (BT) labels for one seed; deterministic in (seed, cfg)."""
    X, y = load_digits_arrays()
    rng = np.random.default_rng([seed, 20250530])
    train_images, test_images = split_by_image(len(X), cfg.test_frac, rng)
    if cfg.validation:  # split the training images again; the test images are dropped
        sub_train, sub_val = split_by_image(len(train_images), cfg.test_frac, rng)
        train_images, test_images = train_images[sub_train], train_images[sub_val]
    train_pairs = make_pairs(train_images, y, cfg.train_rounds, rng)
    test_pairs = make_pairs(test_images, y, cfg.test_rounds, rng)
    train_true = bt_preferences(y[train_pairs[:, 0]], y[train_pairs[:, 1]], rng, cfg.bt_temperature)
    test_true = bt_preferences(y[test_pairs[:, 0]], y[test_pairs[:, 1]], rng, cfg.bt_temperature)
    return DigitsData(
        X=torch.from_numpy(X), digits=torch.from_numpy(y),
        train_images=train_images, test_images=test_images,
        train_pairs=torch.from_numpy(train_pairs), train_true=torch.from_numpy(train_true),
        test_pairs=torch.from_numpy(test_pairs), test_true=torch.from_numpy(test_true),
    )


@functools.lru_cache(maxsize=8)
def _cached_data(seed: int, cfg: DigitsConfig) -> DigitsData:
    return build_data(seed, cfg)


def noise_seed(seed: int, noise: NoiseSetting) -> int:
    """Flip seed for (seed, noise setting): independent of the loss, so losses are compared on the same labels."""
    return seed * 1_000_003 + int(round(noise.eps_pos * 1000)) * 1009 + int(round(noise.eps_neg * 1000))


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


def train_reward_model(
    data: DigitsData, labels: torch.Tensor, loss: str, noise: NoiseSetting, seed: int, cfg: DigitsConfig
) -> tuple[RewardMLP, float]:
    """Train a fresh reward model on (train pairs, labels) with the project's reward-model loop
    (:func:`sympo_ext.train.reward_model.train_reward_model`); returns (model, mean loss of the last
    epoch). The global RNG is seeded once, so the initialisation and then the dropout masks come
    from it; the data order from its own generator."""
    torch.manual_seed(seed)
    model = RewardMLP(cfg.hidden, cfg.dropout, cfg.clamp)
    pairs = data.train_pairs
    result = fit_reward_model(model, pairs[:, 0], pairs[:, 1], labels, pool=data.X, loss_type=loss, beta=1.0,
                              epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                              weight_decay=cfg.weight_decay, seed=seed + 7, fork_rng=False,
                              **loss_kwargs(loss, noise, cfg))
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
    noisy, flipped = flip_labels(data.train_true, noise, noise_seed(seed, noise))
    model, final_loss = train_reward_model(data, noisy, loss, noise, seed, cfg)
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
        **{k: metrics[k] for k in ("train_acc_noisy", "train_acc_true", "test_acc_true", "test_acc_order",
                                   "test_spearman", "oracle_acc_true", "reward_min", "reward_max")},
        "final_train_loss": final_loss,
        "seconds": time.perf_counter() - t0,
    }
    return {k: row[k] for k in CSV_COLUMNS}


def run_grid(
    losses=ALL_LOSSES,
    noises=SYMMETRIC_NOISE + ASYMMETRIC_NOISE,
    seeds=FULL_SEEDS,
    cfg: DigitsConfig = DigitsConfig(),
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
    dict(epochs=e, clamp=c, weight_decay=wd)
    for e in (15, 30, 80) for c in (5.0, 20.0) for wd in (1e-4, 1e-2)
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
        out.append({**setting,
                    "val_spearman": common.mean_std(r["test_spearman"] for r in mine)[0],
                    "val_acc_true": common.mean_std(r["test_acc_true"] for r in mine)[0],
                    "val_spearman_clean": common.mean_std(r["test_spearman"] for r in mine if r["eps_mean"] == 0)[0],
                    "val_spearman_noisy": common.mean_std(r["test_spearman"] for r in mine if r["eps_mean"] > 0)[0]})
    return out


# --------------------------------------------------------------------------- #
# reporting
# --------------------------------------------------------------------------- #

METRIC_LABELS = {
    "test_acc_true": "test accuracy vs true (BT) label",
    "test_acc_order": "test accuracy vs digit order",
    "test_spearman": "Spearman(reward, digit), test images",
    "train_acc_noisy": "train fit to the noisy labels",
    "train_acc_true": "train accuracy vs true label",
}


def summary_markdown(rows: list[dict], losses, noises) -> str:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    noise_names = [n.name for n in noises]
    losses = [l for l in losses if any(r["loss"] == l for r in rows)]
    seeds = sorted({int(r["seed"]) for r in rows})
    oracle = common.mean_std(r["oracle_acc_true"] for r in rows if r["loss"] == losses[0])
    parts = [
        f"Mean ± std over {len(seeds)} seed(s) ({', '.join(map(str, seeds))}); columns: label noise "
        "(`eps` symmetric, `eps_pos:eps_neg` asymmetric); bold: best mean per column. "
        f"Oracle (digit order) test accuracy vs the true BT label: {common.fmt_mean_std(oracle[0], oracle[1])}.",
    ]
    for metric in METRICS:
        parts.append(f"\n### {METRIC_LABELS[metric]} (`{metric}`)\n")
        parts.append(common.pivot_markdown(
            summ, row_key="loss", col_key="noise", metric=metric, row_order=losses, col_order=noise_names,
            row_label=lambda l: f"{l} (sym)" if LOSSES[l].symmetric else l, bold_best=not metric.startswith("train"),
        ))
    if "logistic" in losses and len(losses) > 1:
        for metric in ("test_spearman", "test_acc_true"):
            parts.append(f"\n### Paired difference to logistic (DPO's loss): `{metric}`\n")
            parts.append("Per seed, the same data, labels and initial weights; cell: mean ± std of the "
                         "difference over seeds (seeds where it is > 0 / seeds).\n")
            parts.append(common.paired_markdown(
                rows, baseline="logistic", metric=metric, lines=losses, col_order=noise_names,
                row_label=lambda l: f"{l} (sym)" if LOSSES[l].symmetric else l,
            ))
    return "\n".join(parts) + "\n"


def load_runs(path) -> list[dict]:
    """Rows of a runs.csv written by this module (noise names and seeds normalised)."""
    rows = common.read_csv(path)
    for r in rows:
        r["noise"] = NoiseSetting.parse(str(r["noise"])).name
        r["seed"] = int(r["seed"])
    return rows


def make_plots(rows: list[dict], losses, noises, out: Path) -> list[Path]:
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    oracle = common.mean_std(r["oracle_acc_true"] for r in rows if r["loss"] == losses[0])[0]
    for s in summ:  # numeric x for the symmetric settings
        s["eps"] = NoiseSetting.parse(str(s["noise"])).eps_pos
    sym = [n for n in noises if n.symmetric]
    asym = [n for n in noises if not n.symmetric]
    paths = []
    if sym:
        ss = [s for s in summ if NoiseSetting.parse(str(s["noise"])).symmetric]
        paths.append(common.plot_lines(
            ss, x_key="eps", line_key="loss", lines=losses, x_values=[n.eps_pos for n in sym],
            metrics=[("test_acc_true", "accuracy vs true (BT) label"), ("test_acc_order", "accuracy vs digit order")],
            x_label="symmetric flip rate eps", title="Digits preference: test pair accuracy (mean ± std over seeds)",
            path=out / "digits_accuracy.png", hline={"test_acc_true": oracle},
        ))
        paths.append(common.plot_lines(
            ss, x_key="eps", line_key="loss", lines=losses, x_values=[n.eps_pos for n in sym],
            metrics=[("test_spearman", "Spearman(reward, digit)"), ("train_acc_noisy", "train fit to noisy labels")],
            x_label="symmetric flip rate eps", title="Digits preference: rank preservation and memorisation",
            path=out / "digits_spearman.png",
        ))
    if asym:
        names = [n.name for n in asym]
        sa = [s for s in summ if s["noise"] in names]
        paths.append(common.plot_lines(
            sa, x_key="noise", line_key="loss", lines=losses, x_values=names,
            x_labels=[f"{n.eps_pos:g}/{n.eps_neg:g}" for n in asym],
            metrics=[("test_acc_true", "accuracy vs true (BT) label"), ("test_spearman", "Spearman(reward, digit)")],
            x_label="asymmetric noise eps_pos/eps_neg", title="Digits preference: asymmetric label noise",
            path=out / "digits_asymmetric.png", hline={"test_acc_true": oracle},
        ))
    return paths


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sympo_ext.experiments.digits",
        description="Digits-preference reward learning under label noise (SymPO Section 5.1 on sklearn digits).",
    )
    p.add_argument("--quick", action="store_true", help="CI preset: 4 losses x 3 noise levels x 1 seed, 20 epochs")
    p.add_argument("--out", default="runs/digits", help="output directory (CSV, summary, plots)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: 0..4, quick: 0)")
    p.add_argument("--losses", nargs="+", type=canonical_name, metavar="LOSS",
                   help="losses: any sympo_ext loss name or alias (default: the 11 of ALL_LOSSES)")
    p.add_argument("--noise", nargs="+", type=NoiseSetting.parse,
                   help="noise settings: EPS (symmetric) or EPS_POS:EPS_NEG (asymmetric); "
                        "default 0 0.1 0.2 0.3 0.4 0.1:0.3 0.3:0.1 0.2:0.4")
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--lr", type=float, help="override the learning rate")
    p.add_argument("--weight-decay", type=float, help="override the AdamW weight decay")
    p.add_argument("--clamp", type=float, help="override the reward clamp c (output in [-c, c])")
    p.add_argument("--workers", type=int, default=1, help="worker processes (each 1 torch thread by default)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--tune", action="store_true",
                   help="score the hyper-parameter grid on a validation split of the training images and exit")
    p.add_argument("--report-only", action="store_true",
                   help="re-render summary.md/summary.csv/plots from OUT/runs.csv without training")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


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
    overrides = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr),
                                    ("weight_decay", args.weight_decay), ("clamp", args.clamp)) if v is not None}
    cfg = replace(cfg, **overrides)
    losses = tuple(args.losses or (QUICK_LOSSES if args.quick else ALL_LOSSES))
    noises = tuple(args.noise or (QUICK_NOISE if args.quick else SYMMETRIC_NOISE + ASYMMETRIC_NOISE))
    seeds = tuple(args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else FULL_SEEDS))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(f"machine: {common.machine_info()}")
    print(f"config: {asdict(cfg)}")
    print(f"losses: {', '.join(losses)}\nnoise: {', '.join(n.name for n in noises)}\nseeds: {seeds}")
    print(f"workers: {args.workers} x {args.threads} torch thread(s); label noise: sympo_ext.noise.flip_labels")
    t0 = time.perf_counter()
    if args.report_only:
        rows = load_runs(out / "runs.csv")
        if args.losses is None:
            losses = tuple(dict.fromkeys(r["loss"] for r in rows))
        if args.noise is None:
            noises = tuple(NoiseSetting.parse(n) for n in dict.fromkeys(r["noise"] for r in rows))
        wall = float("nan")
        first = rows[0]
        cfg = replace(cfg, epochs=int(first["epochs"]), lr=first["lr"], weight_decay=first["weight_decay"],
                      clamp=first["clamp"], batch_size=int(first["batch_size"]))
    else:
        rows = run_grid(losses, noises, seeds, cfg, workers=args.workers, threads=args.threads,
                        progress=not args.no_progress)
        wall = time.perf_counter() - t0
        common.write_csv(rows, out / "runs.csv", CSV_COLUMNS)
    summ = common.summarize(rows, ["loss", "noise"], METRICS)
    common.write_csv(summ, out / "summary.csv")
    md = summary_markdown(rows, losses, noises)
    timing = "re-rendered from runs.csv" if args.report_only else f"in {wall:.0f} s wall ({args.workers} worker(s))"
    header = f"# Digits preference: summary\n\n{len(rows)} runs {timing}; config: `{asdict(cfg)}`\n\n"
    (out / "summary.md").write_text(header + md)
    print(md)
    if not args.no_plots:
        for path in make_plots(rows, list(losses), noises, out):
            print(f"plot: {path}")
    print(f"{len(rows)} runs in {wall:.1f} s wall; CSV: {out / 'runs.csv'}; summary: {out / 'summary.md'}")
    return rows


if __name__ == "__main__":
    main()
