"""The audit's files: audit.csv, summary.json, suspects.jsonl, cleaned.jsonl, margins.png.

* ``audit.csv``: one row per input pair, in input order: ``index`` (0-based position in the
  input), ``label`` (as given; 1 when missing), ``margin`` (as labelled; empty for a pair the
  tokeniser skipped), ``suspicion`` in [0, 1] (empty when skipped), ``rank`` (1 = most suspect;
  empty when skipped), ``flagged`` (0/1), ``skipped`` (the reason, or empty).
* ``suspects.jsonl``: the flagged pairs, most suspect first: index, label, margin, suspicion, rank.
* ``cleaned.jsonl``: the input records in input order, without the flagged pairs, or (``relabel``)
  with their preference swapped (``chosen`` and ``rejected`` exchanged, the label kept).
  Records are written as ``{"prompt", "chosen", "rejected"[, "label"][, "true_label"], ...}`` -- what
  ``sympo-train`` reads -- with the input record's other keys kept as they were; a record without a
  label stays without one.
"""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

__all__ = ["write_outputs", "ranks_of"]


def ranks_of(suspicion: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """1 = most suspect among the scored pairs (ties by input order); 0 for unscored ones."""
    ranks = np.zeros(suspicion.size, dtype=np.int64)
    idx = np.flatnonzero(scored)
    order = idx[np.argsort(-suspicion[idx], kind="mergesort")]
    ranks[order] = np.arange(1, order.size + 1)
    return ranks


def _num(x: float) -> str:
    return "" if not math.isfinite(x) else repr(float(x))


def _record(ex, *, swap: bool) -> dict:
    chosen, rejected = (ex.rejected, ex.chosen) if swap else (ex.chosen, ex.rejected)
    rec = {"prompt": ex.prompt, "chosen": chosen, "rejected": rejected}
    if ex.label is not None:  # an unlabelled input stays unlabelled (label 1 is its meaning)
        rec["label"] = ex.label
    if ex.true_label is not None:
        rec["true_label"] = ex.true_label
    for key, value in (ex.meta or {}).items():  # the input's other fields, as they were
        rec.setdefault(key, value)
    return rec


def _plot(
    margins: np.ndarray, flagged: np.ndarray, threshold_margin: float | None, path: str, title: str
) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no margins.png (pip install 'sympo_ext[experiments]')"
    fin = np.isfinite(margins)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(margins[fin], bins=50)
    ax.hist(margins[fin & ~flagged], bins=bins, alpha=0.7, label="kept")
    ax.hist(margins[fin & flagged], bins=bins, alpha=0.7, label="flagged")
    if threshold_margin is not None and math.isfinite(threshold_margin):
        ax.axvline(threshold_margin, color="k", ls="--", lw=1, label="threshold")
    ax.set_xlabel("margin as labelled")
    ax.set_ylabel("pairs")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return None


def write_outputs(
    output_dir: str,
    examples,
    margins: np.ndarray,
    labels: np.ndarray,
    estimate,
    skipped: dict,
    summary: dict,
    *,
    relabel: bool = False,
) -> dict:
    """Write every file (see the module docstring) into ``output_dir``, an existing directory; returns the
    summary written. The audit writes into a staging directory that then replaces the output directory as
    a whole (:mod:`sympo_ext.audit.outdir`)."""
    n = len(examples)
    scored = np.isfinite(margins)
    suspicion = np.full(n, np.nan)
    flagged = np.zeros(n, dtype=bool)
    suspicion[scored] = estimate.suspicion
    flagged[scored] = estimate.flagged
    ranks = ranks_of(np.nan_to_num(suspicion, nan=-1.0), scored)

    def path(name):
        return os.path.join(output_dir, name)

    with open(path("audit.csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "label", "margin", "suspicion", "rank", "flagged", "skipped"])
        for i in range(n):
            w.writerow(
                [
                    i,
                    int(labels[i]),
                    _num(margins[i]),
                    _num(suspicion[i]),
                    ranks[i] or "",
                    int(flagged[i]),
                    skipped.get(i, ""),
                ]
            )
    with open(path("suspects.jsonl"), "w", encoding="utf-8") as fh:
        for i in sorted(np.flatnonzero(flagged), key=lambda j: ranks[j]):
            fh.write(
                json.dumps(
                    {
                        "index": int(i),
                        "label": int(labels[i]),
                        "margin": float(margins[i]),
                        "suspicion": float(suspicion[i]),
                        "rank": int(ranks[i]),
                    }
                )
                + "\n"
            )
    with open(path("cleaned.jsonl"), "w", encoding="utf-8") as fh:
        for i, ex in enumerate(examples):
            if flagged[i] and not relabel:
                continue
            fh.write(json.dumps(_record(ex, swap=bool(flagged[i])), ensure_ascii=False) + "\n")
    # The threshold in margin units: the largest margin among the flagged / smallest kept.
    thr_margin = None
    if flagged.any() and (scored & ~flagged).any():
        thr_margin = 0.5 * (float(margins[flagged].max()) + float(margins[scored & ~flagged].min()))
    summary = dict(summary)
    summary.update(
        {
            "num_pairs": n,
            "num_scored": int(scored.sum()),
            "num_skipped": int(n - scored.sum()),
            "noise_rate_estimate": float(estimate.noise_rate),
            "num_suspects": int(flagged.sum()),
            "threshold": estimate.threshold,
            "method": estimate.method,
            "method_requested": estimate.params.get("fallback_from", estimate.method),
            "fallback_reason": estimate.params.get("fallback_reason"),
            "method_params": estimate.params,
            "relabel": bool(relabel),
            "share_negative_margins": float(np.mean(margins[scored] < 0)),
        }
    )
    note = _plot(
        margins,
        flagged,
        thr_margin,
        path("margins.png"),
        f"{estimate.method}: noise rate {estimate.noise_rate:.1%}, {int(flagged.sum())} of {n} flagged",
    )
    if note is not None:
        summary["plot"] = note
        if os.path.exists(path("margins.png")):
            os.remove(path("margins.png"))
    with open(path("summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
    return summary
