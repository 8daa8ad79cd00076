"""Label-noise tools for robustness experiments: symmetric, asymmetric and instance-dependent flips.

All draws are seeded through a private ``torch.Generator`` (the global RNG is
untouched) and the flipped pairs are recorded, so accuracy against the true labels
can be reported.

* ``symmetric``: every label is flipped independently with probability ``eps``.
* ``asymmetric``: a label 1 is flipped with probability ``eps_pos``, a label 0 with
  ``eps_neg`` (class-conditional noise).
* ``instance``: pair ``i`` is flipped with its own probability ``flip_prob[i]``,
  e.g. from :func:`instance_flip_prob` (harder pairs -- small ``|true margin|`` --
  flip more; mean flip rate ``eps``).

The flip decision for pair ``i`` uses the ``i``-th uniform draw of the generator,
so with the same seed a pair's flip only depends on its own probability (raising
``eps`` only adds flips).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["NOISE_KINDS", "NoiseResult", "flip_labels", "inject_label_noise", "instance_flip_prob"]

NOISE_KINDS = ("symmetric", "asymmetric", "instance")


@dataclass
class NoiseResult:
    """``labels``: the noisy labels (long 0/1); ``flipped``: which were flipped (bool)."""

    labels: torch.Tensor
    flipped: torch.Tensor

    @property
    def num_flipped(self) -> int:
        return int(self.flipped.sum())

    @property
    def rate(self) -> float:
        """Realised flip rate (0 for no labels)."""
        n = self.flipped.numel()
        return float(self.flipped.sum()) / n if n else 0.0


def _check_prob(value, name: str) -> float:
    if value is None:
        raise ValueError(f"flip_labels: {name} is required for this noise kind")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"flip_labels: {name} must be in [0, 1], got {value}")
    return value


def _as_labels(true_labels) -> torch.Tensor:
    t = torch.as_tensor(true_labels)
    if t.ndim != 1:
        raise ValueError(f"flip_labels: true_labels must be 1-D, got shape {tuple(t.shape)}")
    if t.dtype == torch.bool:
        t = t.long()
    if t.numel() and not bool(((t == 0) | (t == 1)).all()):
        bad = t[(t != 0) & (t != 1)][0].item()
        raise ValueError(f"flip_labels: true_labels must be 0/1, got {bad}")
    return t.detach().to("cpu", torch.long)


def flip_labels(
    true_labels,
    *,
    kind: str = "symmetric",
    eps: float = 0.0,
    eps_pos: float | None = None,
    eps_neg: float | None = None,
    flip_prob: torch.Tensor | None = None,
    seed: int = 0,
) -> NoiseResult:
    """Flip 0/1 labels at random (see the module docstring); returns :class:`NoiseResult` on the CPU.

    ``kind="asymmetric"`` uses ``eps_pos``/``eps_neg`` (each defaults to ``eps`` when None).
    ``kind="instance"`` needs ``flip_prob`` (one probability in [0, 1] per label).
    """
    labels = _as_labels(true_labels)
    n = labels.numel()
    if kind == "symmetric":
        if eps_pos is not None or eps_neg is not None or flip_prob is not None:
            raise ValueError("flip_labels: symmetric noise takes eps only (use kind='asymmetric' or 'instance')")
        p = torch.full((n,), _check_prob(eps, "eps"), dtype=torch.float64)
    elif kind == "asymmetric":
        if flip_prob is not None:
            raise ValueError("flip_labels: asymmetric noise takes eps_pos/eps_neg, not flip_prob")
        ep = _check_prob(eps if eps_pos is None else eps_pos, "eps_pos")
        en = _check_prob(eps if eps_neg is None else eps_neg, "eps_neg")
        p = torch.where(labels == 1, torch.tensor(ep, dtype=torch.float64), torch.tensor(en, dtype=torch.float64))
    elif kind == "instance":
        if flip_prob is None:
            raise ValueError("flip_labels: instance noise needs flip_prob (e.g. instance_flip_prob(margins, eps))")
        p = torch.as_tensor(flip_prob).detach().to("cpu", torch.float64)
        if p.shape != (n,):
            raise ValueError(f"flip_labels: flip_prob must have shape ({n},), got {tuple(p.shape)}")
        if p.numel() and not bool(((p >= 0) & (p <= 1)).all()):
            raise ValueError("flip_labels: flip_prob must be in [0, 1] (and not NaN)")
    else:
        raise ValueError(f"flip_labels: unknown noise kind {kind!r} (choose from {', '.join(NOISE_KINDS)})")
    g = torch.Generator().manual_seed(int(seed))
    u = torch.rand(n, generator=g, dtype=torch.float64)
    flipped = u < p
    return NoiseResult(labels=torch.where(flipped, 1 - labels, labels), flipped=flipped)


def instance_flip_prob(margins, eps: float, *, max_prob: float = 0.5, scale: float | None = None) -> torch.Tensor:
    """Instance-dependent flip probabilities with mean ``eps``: harder pairs flip more.

    ``p_i = min(c * exp(-|m_i| / scale), max_prob)`` with ``scale`` = mean ``|m|``
    (when None) and ``c`` solved (by bisection) so that ``mean(p) = eps``. So ``p``
    decreases with ``|margin|`` and never exceeds ``max_prob`` (0.5 by default: no pair
    becomes more likely wrong than right). Requires ``0 <= eps <= max_prob <= 1``.
    Equal margins give ``p = eps`` everywhere. Returns float64 [N].
    """
    m = torch.as_tensor(margins).detach().to("cpu", torch.float64).abs()
    if m.ndim != 1:
        raise ValueError(f"instance_flip_prob: margins must be 1-D, got shape {tuple(m.shape)}")
    if not bool(torch.isfinite(m).all()):
        raise ValueError("instance_flip_prob: margins must be finite")
    eps, max_prob = float(eps), float(max_prob)
    if not 0.0 <= max_prob <= 1.0:
        raise ValueError(f"instance_flip_prob: max_prob must be in [0, 1], got {max_prob}")
    if not 0.0 <= eps <= max_prob:
        raise ValueError(f"instance_flip_prob: eps must be in [0, max_prob={max_prob}], got {eps}")
    if m.numel() == 0:
        return m
    s = float(m.mean()) if scale is None else float(scale)
    w = torch.exp(-(m - m.min()) / s) if s > 0 else torch.ones_like(m)  # max w = 1
    if eps == 0.0:
        return torch.zeros_like(m)
    if eps == max_prob:
        return torch.full_like(m, max_prob)
    lo, hi = 0.0, max_prob / max(float(w.min()), 1e-300)  # at hi every p is max_prob
    for _ in range(200):
        c = 0.5 * (lo + hi)
        if float(torch.clamp(c * w, max=max_prob).mean()) < eps:
            lo = c
        else:
            hi = c
    return torch.clamp(0.5 * (lo + hi) * w, max=max_prob)


def inject_label_noise(
    examples, *, eps: float = 0.0, kind: str = "symmetric", eps_pos=None, eps_neg=None, flip_prob=None, seed: int = 0
):
    """Flip the labels of ``examples`` (a list of PreferenceExample) with :func:`flip_labels`
    (kind symmetric / asymmetric / instance, as there); returns (new examples whose ``true_label`` keeps
    the original label when it was not already set, the NoiseResult)."""
    given = torch.tensor([1 if ex.label is None else int(ex.label) for ex in examples], dtype=torch.long)
    kw = {"flip_prob": flip_prob} if kind == "instance" else {"eps_pos": eps_pos, "eps_neg": eps_neg}
    res = flip_labels(given, kind=kind, eps=eps, seed=seed, **kw)
    out = []
    for ex, lab, orig in zip(examples, res.labels.tolist(), given.tolist()):
        true = ex.true_label if ex.true_label is not None else orig
        out.append(replace(ex, label=int(lab), true_label=int(true)))
    return out, res
