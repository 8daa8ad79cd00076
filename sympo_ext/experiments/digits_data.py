"""The digits experiment's settings (losses, noise settings, config, presets) and data (pairs, BT labels, label noise)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..noise import flip_labels

ALL_LOSSES = (
    "logistic",
    "hinge",
    "square",
    "exp",
    "ramp",
    "sigmoid",
    "symmetric_ramp",
    "unhinged",
    "cdpo",
    "rdpo",
    "ropo",
)
METRICS = ("test_acc_true", "test_acc_order", "test_spearman", "train_acc_noisy", "train_acc_true")

CSV_COLUMNS = (
    "loss",
    "family",
    "symmetric",
    "noise",
    "noise_kind",
    "eps_pos",
    "eps_neg",
    "eps_mean",
    "loss_epsilon",
    "seed",
    "epochs",
    "lr",
    "weight_decay",
    "clamp",
    "batch_size",
    "n_train_images",
    "n_test_images",
    "n_train_pairs",
    "n_test_pairs",
    "flip_rate",
    "train_acc_noisy",
    "train_acc_true",
    "test_acc_true",
    "test_acc_order",
    "test_spearman",
    "oracle_acc_true",
    "final_train_loss",
    "reward_min",
    "reward_max",
    "seconds",
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


def noisy_labels(true_labels: torch.Tensor, noise: NoiseSetting, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy labels long 0/1, flipped bool) via ``sympo_ext.noise.flip_labels``:
    a label 1 flips w.p. eps_pos, a label 0 w.p. eps_neg, seeded by a torch.Generator."""
    true_labels = true_labels.long()
    if noise.symmetric:
        res = flip_labels(true_labels, kind="symmetric", eps=noise.eps_pos, seed=seed)
    else:
        res = flip_labels(true_labels, kind="asymmetric", eps_pos=noise.eps_pos, eps_neg=noise.eps_neg, seed=seed)
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
        X=torch.from_numpy(X),
        digits=torch.from_numpy(y),
        train_images=train_images,
        test_images=test_images,
        train_pairs=torch.from_numpy(train_pairs),
        train_true=torch.from_numpy(train_true),
        test_pairs=torch.from_numpy(test_pairs),
        test_true=torch.from_numpy(test_true),
    )


@functools.lru_cache(maxsize=8)
def _cached_data(seed: int, cfg: DigitsConfig) -> DigitsData:
    return build_data(seed, cfg)


def noise_seed(seed: int, noise: NoiseSetting) -> int:
    """Flip seed for (seed, noise setting): independent of the loss, so losses are compared on the same labels."""
    return seed * 1_000_003 + int(round(noise.eps_pos * 1000)) * 1009 + int(round(noise.eps_neg * 1000))
