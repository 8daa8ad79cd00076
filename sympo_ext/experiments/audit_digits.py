"""How well does the audit find the flipped labels? Digits-preference (reward models), flips known.

    python -m sympo_ext.experiments.audit_digits --out benchmarks/results/experiments/audit_digits

Per seed and symmetric flip rate (20 %, 40 %), on the digits experiment's pairs
(:mod:`sympo_ext.experiments.digits`, its tuned setting): a reward model is the scorer, trained
with SymPO (sigmoid) or DPO (logistic) on the noisy labels; its margin ``r(a) - r(b)`` taken as
labelled is what ``sympo-audit`` scores with (:mod:`sympo_ext.audit.estimator`).

* in-sample: one scorer trained on every pair scores every pair;
* cross-fitted (K = 5): five scorers, each trained on 4/5 of the pairs, score their held-out fifth;
* metrics against the known flips: ROC-AUC of the suspicion, precision among the top
  ``#flips`` suspects, the noise-rate estimate of each method (mixture, sign, cleanlab) vs the
  realised flip rate;
* end-to-end: DPO trained on the cleaned set (the flagged pairs dropped; audit = SymPO scorer,
  mixture method, in-sample and cross-fitted) against DPO and SymPO on the noisy set, on the test
  pairs' true labels and the Spearman correlation of the reward with the digit, paired by seed.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..audit.crossfit import fold_assignment
from ..audit.estimator import METHODS, estimate_noise, precision_at_k, roc_auc
from . import common
from .digits import evaluate, fit_digits_model
from .digits_data import DigitsConfig, NoiseSetting, _cached_data, noise_seed, noisy_labels

SCORERS = ("sigmoid", "logistic")
NOISES = (0.2, 0.4)
SEEDS = (0, 1, 2, 3, 4)
FOLDS = 5


def _margins(model, data, pairs) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        r = model(data.X)
    return (r[pairs[:, 0]] - r[pairs[:, 1]]).double()


def _subset(data, idx, labels):
    return replace(data, train_pairs=data.train_pairs[idx], train_true=data.train_true[idx]), labels[idx]


def scorer_margins(data, noisy, loss, noise, seed, cfg, folds: int) -> np.ndarray:
    """Margins as labelled of every training pair: in-sample (folds 0) or cross-fitted."""
    sign = (2 * noisy - 1).double()
    if not folds:
        model, _ = fit_digits_model(data, noisy, loss, noise, seed, cfg)
        return (_margins(model, data, data.train_pairs) * sign).numpy()
    n = len(noisy)
    fold = fold_assignment(n, folds, seed=seed)
    out = np.empty(n)
    for k in range(folds):
        tr = torch.from_numpy(np.flatnonzero(fold != k))
        held = np.flatnonzero(fold == k)
        sub, lab = _subset(data, tr, noisy)
        model, _ = fit_digits_model(sub, lab, loss, noise, seed, cfg)
        out[held] = (_margins(model, data, data.train_pairs[held]) * sign[held]).numpy()
    return out


def run_one(task) -> list[dict]:
    seed, eps, cfg = task
    t0 = time.perf_counter()
    noise = NoiseSetting(eps, eps)
    data = _cached_data(seed, cfg)
    noisy, flipped = noisy_labels(data.train_true, noise, noise_seed(seed, noise))
    f = flipped.numpy()
    rows, cleaned = [], {}
    for loss in SCORERS:
        for folds in (0, FOLDS):
            m = scorer_margins(data, noisy, loss, noise, seed, cfg, folds)
            row = {
                "seed": seed,
                "noise": eps,
                "flip_rate": float(f.mean()),
                "scorer": loss,
                "scoring": "cross-fitted" if folds else "in-sample",
                "n_pairs": len(f),
                "roc_auc": roc_auc(-m, f),
                "precision_at_flips": precision_at_k(-m, f),
            }
            for method in METHODS:
                est = estimate_noise(m, method=method)
                row[f"est_{method}"] = est.noise_rate
                row[f"flagged_{method}"] = int(est.flagged.sum())
                row[f"flag_precision_{method}"] = float(f[est.flagged].mean()) if est.flagged.any() else float("nan")
                row[f"flag_recall_{method}"] = float(est.flagged[f].mean()) if f.any() else float("nan")
                if method == "mixture" and loss == "sigmoid":
                    cleaned[row["scoring"]] = ~est.flagged
            rows.append(row)
    # end to end: test metrics of DPO / SymPO on the noisy set and DPO on the cleaned sets
    e2e = {}
    for name, loss, keep in (
        ("DPO on noisy", "logistic", None),
        ("SymPO on noisy", "sigmoid", None),
        ("DPO on cleaned (in-sample audit)", "logistic", cleaned["in-sample"]),
        ("DPO on cleaned (cross-fitted audit)", "logistic", cleaned["cross-fitted"]),
    ):
        d, lab = (data, noisy) if keep is None else _subset(data, torch.from_numpy(np.flatnonzero(keep)), noisy)
        model, _ = fit_digits_model(d, lab, loss, noise, seed, cfg)
        ev = evaluate(model, data, noisy)
        e2e[name] = {
            "test_acc_true": ev["test_acc_true"],
            "test_spearman": ev["test_spearman"],
            "train_pairs": len(lab),
            "flip_rate_kept": float(f.mean()) if keep is None else float(f[keep].mean()),
        }
    for row in rows:
        row["seconds"] = time.perf_counter() - t0
    return [{"kind": "detect", **r} for r in rows] + [
        {"kind": "e2e", "seed": seed, "noise": eps, "method": k, **v} for k, v in e2e.items()
    ]


def _run(task):
    return {"rows": run_one(task)}


def report(rows, out: Path) -> str:
    det = [r for r in rows if r["kind"] == "detect"]
    e2e = [r for r in rows if r["kind"] == "e2e"]
    keys = (
        ["roc_auc", "precision_at_flips", "flip_rate"]
        + [f"est_{m}" for m in METHODS]
        + ["flag_precision_mixture", "flag_recall_mixture"]
    )
    summ = common.summarize(det, ["scorer", "scoring", "noise"], keys)
    lines = [
        "| scorer | scoring | noise | ROC-AUC | precision@flips | true flip rate | est. mixture | est. sign | "
        "est. cleanlab | flagged precision (mixture) | flagged recall (mixture) |",
        "|" + "---|" * 11,
    ]
    for s in summ:
        cells = [common.fmt_mean_std(s[f"{k}_mean"], s[f"{k}_std"]) for k in keys]
        name = {"sigmoid": "SymPO (sigmoid)", "logistic": "DPO (logistic)"}[s["scorer"]]
        lines.append(f"| {name} | {s['scoring']} | {s['noise']:g} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| method | noise | test acc (true labels) | Spearman | train pairs | flip rate of its pairs | "
        "acc − DPO on noisy (paired) | acc − SymPO on noisy (paired) |",
        "|" + "---|" * 8,
    ]
    names = list(dict.fromkeys(r["method"] for r in e2e))
    for eps in sorted({r["noise"] for r in e2e}):
        by = {(r["method"], r["seed"]): r for r in e2e if r["noise"] == eps}
        seeds = sorted({r["seed"] for r in e2e if r["noise"] == eps})
        for name in names:
            vals = [by[(name, s)] for s in seeds]

            def ms(key):
                return common.fmt_mean_std(*common.mean_std(v[key] for v in vals)[:2])

            def paired(base):
                d = [by[(name, s)]["test_acc_true"] - by[(base, s)]["test_acc_true"] for s in seeds]
                m, sd, _ = common.mean_std(d)
                return f"{m:+.3f} ± {sd:.3f} ({sum(x > 0 for x in d)}/{len(d)} > 0)"

            lines.append(
                f"| {name} | {eps:g} | {ms('test_acc_true')} | {ms('test_spearman')} | {ms('train_pairs')} | "
                f"{ms('flip_rate_kept')} | {paired('DPO on noisy')} | {paired('SymPO on noisy')} |"
            )
    md = "\n".join(lines) + "\n"
    (out / "audit_digits_summary.md").write_text(md)
    return md


def parse_args(prog: str, seeds, noises, argv=None, extra=None):
    """(args, output dir) of an audit experiment's command line (--out, --seeds, --noise, --workers, and
    what ``extra(parser)`` adds); the output dir is created and the machine printed."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--out", default=f"runs/{prog.rsplit('.', 1)[-1]}")
    p.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    p.add_argument("--noise", type=float, nargs="+", default=list(noises))
    p.add_argument("--workers", type=int, default=1)
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {common.machine_info()}", flush=True)
    return args, out


def main(argv=None):
    args, out = parse_args("python -m sympo_ext.experiments.audit_digits", SEEDS, NOISES, argv)
    t0 = time.perf_counter()
    cfg = DigitsConfig()
    res = common.run_tasks(
        _run, [(s, e, cfg) for e in args.noise for s in args.seeds], workers=args.workers, desc="seeds x noise"
    )
    rows = [r for x in res for r in x["rows"]]
    common.write_csv([r for r in rows if r["kind"] == "detect"], out / "audit_digits_detect.csv")
    common.write_csv([r for r in rows if r["kind"] == "e2e"], out / "audit_digits_e2e.csv")
    md = report(rows, out)
    print(md)
    print(f"{len(res)} (seed, noise) cells in {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
