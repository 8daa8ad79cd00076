"""How well does the audit find the flipped labels of an LM's preference pairs? Flips known.

    python -m sympo_ext.experiments.audit_lm --out benchmarks/results/experiments/audit_lm --workers 2

The LM-alignment task (:mod:`sympo_ext.experiments.lm_alignment`: a tiny Llama SFT'd on the
synthetic task, pairs sampled from it, a Bradley-Terry draw on the true reward, then labels
flipped at 20 % / 40 %). Scorers: policies trained through the Trainer with SymPO (sigmoid) and
DPO (logistic); the audit scores every training pair with ``sympo_ext.audit.score_pairs`` (the
fused log-prob path, margins as labelled, reference = the SFT model), in-sample (one policy on
every pair) and cross-fitted (K = 2 policies, each trained on one half, scoring the other).
End to end: DPO trained on the audit's cleaned set (SymPO scorer, mixture method, flagged pairs
dropped) against DPO and SymPO on the noisy set: the policies' mean true reward, paired by seed.

Preset (CPU budget): the demo's task with 1024 training pairs and 256 steps of 32 pairs
(8 epochs, as the demo's 512 steps over 2048 pairs), beta 0.1, lr 3e-4.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from ..audit.crossfit import fold_assignment
from ..audit.estimator import METHODS, estimate_noise, precision_at_k, roc_auc
from ..audit.scoring import score_pairs
from . import common
from .lm_alignment import _reference, prepare_seed
from .pipeline import PRESETS, evaluate_policy, train_policy

PRESET = PRESETS["full"].__class__(**{**PRESETS["full"].__dict__, "train_pairs": 1024}).with_train(max_steps=256)
NOISES = (0.2, 0.4)
SEEDS = (0, 1)
FOLDS = 2


def _train(ref, tok, examples, loss, seed):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        return train_policy(ref, tok, examples, None, loss_type=loss, preset=PRESET, seed=seed, progress=False).model


def _score(policy, ref, tok, examples):
    return score_pairs(
        policy,
        tok,
        examples,
        reference=ref,
        beta=PRESET.train["beta"],
        max_length=PRESET.train["max_length"],
        batch_size=64,
        device="cpu",
        progress=False,
    ).margins


def run_cell(task) -> list[dict]:
    seed, eps, state, train = task
    t0 = time.perf_counter()
    tok, ref, task_ = _reference(seed, PRESET, state)
    f = np.array([ex.label != ex.true_label for ex in train])
    rows, policies, cleaned = [], {}, {}
    for loss in ("sigmoid", "logistic"):
        for folds in (0, FOLDS):
            if not folds:
                pol = _train(ref, tok, train, loss, seed)
                policies[loss] = pol
                m = _score(pol, ref, tok, train)
            else:
                fold = fold_assignment(len(train), folds, seed=seed)
                m = np.full(len(train), np.nan)
                for k in range(folds):
                    pol = _train(ref, tok, [train[i] for i in np.flatnonzero(fold != k)], loss, seed)
                    held = np.flatnonzero(fold == k)
                    m[held] = _score(pol, ref, tok, [train[i] for i in held])
            ok = np.isfinite(m)  # pairs the tokeniser skipped (an empty sampled response) have no margin
            mm, ff = m[ok], f[ok]
            row = {
                "kind": "detect",
                "seed": seed,
                "noise": eps,
                "flip_rate": float(ff.mean()),
                "scorer": loss,
                "share_negative": float(np.mean(mm < 0)),
                "margin_median": float(np.median(mm)),
                "scoring": "cross-fitted" if folds else "in-sample",
                "n_pairs": int(ok.sum()),
                "roc_auc": roc_auc(-mm, ff),
                "precision_at_flips": precision_at_k(-mm, ff),
            }
            for method in METHODS:
                est = estimate_noise(mm, method=method)
                row[f"est_{method}"] = est.noise_rate
                row[f"flag_precision_{method}"] = float(ff[est.flagged].mean()) if est.flagged.any() else float("nan")
                row[f"flag_recall_{method}"] = float(est.flagged[ff].mean())
                row[f"flagged_{method}"] = int(est.flagged.sum())
                row.update({f"{method}_{k}": v for k, v in est.params.items()})
                if method == "mixture" and loss == "sigmoid":
                    keep = np.ones(len(train), dtype=bool)
                    keep[np.flatnonzero(ok)[est.flagged]] = False
                    cleaned[row["scoring"]] = keep
            rows.append(row)
    e2e = {"DPO on noisy": (policies["logistic"], None), "SymPO on noisy": (policies["sigmoid"], None)}
    for scoring, keep in cleaned.items():
        if keep.sum() < PRESET.train["batch_size"]:  # the audit flagged (nearly) everything: nothing to train on
            rows.append(
                {
                    "kind": "e2e",
                    "seed": seed,
                    "noise": eps,
                    "method": f"DPO on cleaned ({scoring} audit)",
                    "test_acc_true": float("nan"),
                    "test_spearman": float("nan"),
                    "reference_true_reward": float("nan"),
                    "train_pairs": int(keep.sum()),
                    "flip_rate_kept": float("nan"),
                }
            )
            continue
        e2e[f"DPO on cleaned ({scoring} audit)"] = (
            _train(ref, tok, [train[i] for i in np.flatnonzero(keep)], "logistic", seed),
            keep,
        )
    for name, (pol, keep) in e2e.items():
        ev = evaluate_policy(pol, ref, tok, task_, n_prompts=PRESET.eval_prompts, seed=seed + 12345)
        rows.append(
            {
                "kind": "e2e",
                "seed": seed,
                "noise": eps,
                "method": name,
                "test_acc_true": ev["true_reward"],
                "test_spearman": ev["win_rate"],
                "reference_true_reward": ev["reference_true_reward"],
                "train_pairs": len(train) if keep is None else int(keep.sum()),
                "flip_rate_kept": float(f.mean()) if keep is None else float(f[keep].mean()),
            }
        )
    for r in rows:
        r["seconds"] = time.perf_counter() - t0
    return rows


def _run(task):
    return {"rows": run_cell(task)}


def main(argv=None):
    from .audit_digits import report

    p = argparse.ArgumentParser(prog="python -m sympo_ext.experiments.audit_lm")
    p.add_argument("--out", default="runs/audit_lm")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--noise", type=float, nargs="+", default=list(NOISES))
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {common.machine_info()}", flush=True)
    t0 = time.perf_counter()
    prepared = common.run_tasks(
        prepare_seed,
        [(s, tuple(args.noise), PRESET) for s in args.seeds],
        workers=min(args.workers, len(args.seeds)),
        desc="references + pairs",
    )
    tasks = [(p_["seed"], eps, p_["state_dict"], p_["data"][eps][0]) for p_ in prepared for eps in args.noise]
    res = common.run_tasks(_run, tasks, workers=args.workers, desc="cells")
    rows = [r for x in res for r in x["rows"]]
    common.write_csv([r for r in rows if r["kind"] == "detect"], out / "audit_lm_detect.csv")
    common.write_csv([r for r in rows if r["kind"] == "e2e"], out / "audit_lm_e2e.csv")
    md = (
        report(rows, out)
        .replace("test acc (true labels)", "policy true reward")
        .replace("| Spearman |", "| win rate vs ref |")
        .replace("acc −", "true reward −")
    )
    (out / "audit_digits_summary.md").rename(out / "audit_lm_summary.md")
    (out / "audit_lm_summary.md").write_text(md)
    print(md)
    print(f"{len(tasks)} (seed, noise) cells in {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
