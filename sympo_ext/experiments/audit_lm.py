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

Preset (CPU budget): the demo's task with ``--train_pairs`` training pairs (default 1024) and
``--steps`` steps of 32 pairs (default 256: 8 epochs, as the demo's 512 steps over 2048 pairs),
beta 0.1, lr 3e-4. Writes the detection and end-to-end CSVs, the summary tables, every scorer's
margins with the true flips (``audit_lm_margins.npz``) and their histograms (``audit_lm_margins.png``).
"""

from __future__ import annotations

import pickle
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audit.crossfit import fold_assignment
from ..audit.estimator import METHODS, estimate_noise, precision_at_k, roc_auc
from ..audit.scoring import score_pairs
from . import common
from .lm_alignment import _reference, prepare_seed
from .pipeline import PRESETS, evaluate_policy, train_policy

NOISES = (0.2, 0.4)
SEEDS = (0, 1)
FOLDS = 2
SCORINGS = ("in-sample", "cross-fitted")


def make_preset(train_pairs: int = 1024, steps: int = 256):
    """The demo's full preset with ``train_pairs`` training pairs and ``steps`` training steps."""
    return replace(PRESETS["full"], train_pairs=train_pairs).with_train(max_steps=steps)


PRESET = make_preset()


def _train(ref, tok, examples, loss, seed, preset):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        return train_policy(ref, tok, examples, None, loss_type=loss, preset=preset, seed=seed, progress=False).model


def _score(policy, ref, tok, examples, preset):
    return score_pairs(
        policy,
        tok,
        examples,
        reference=ref,
        beta=preset.train["beta"],
        max_length=preset.train["max_length"],
        batch_size=64,
        device="cpu",
        progress=False,
    ).margins


def run_cell(task) -> tuple[list[dict], dict]:
    """(seed, noise, reference state, training pairs, preset) -> (rows, margins per scorer and scoring)."""
    seed, eps, state, train, preset = task
    t0 = time.perf_counter()
    tok, ref, task_ = _reference(seed, preset, state)
    f = np.array([ex.label != ex.true_label for ex in train])
    rows, policies, cleaned, margins = [], {}, {}, {"flipped": f}
    for loss in ("sigmoid", "logistic"):
        for folds in (0, FOLDS):
            if not folds:
                pol = _train(ref, tok, train, loss, seed, preset)
                policies[loss] = pol
                m = _score(pol, ref, tok, train, preset)
            else:
                fold = fold_assignment(len(train), folds, seed=seed)
                m = np.full(len(train), np.nan)
                for k in range(folds):
                    pol = _train(ref, tok, [train[i] for i in np.flatnonzero(fold != k)], loss, seed, preset)
                    held = np.flatnonzero(fold == k)
                    m[held] = _score(pol, ref, tok, [train[i] for i in held], preset)
            margins[f"{loss}/{SCORINGS[bool(folds)]}"] = m
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
                "scoring": SCORINGS[bool(folds)],
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
                row[f"used_{method}"] = est.method  # "sign" where the mixture's guard fell back
                row.update({f"{method}_{k}": v for k, v in est.params.items() if not isinstance(v, dict)})
                if method == "mixture" and loss == "sigmoid":
                    keep = np.ones(len(train), dtype=bool)
                    keep[np.flatnonzero(ok)[est.flagged]] = False
                    cleaned[row["scoring"]] = keep
            rows.append(row)
    e2e = {"DPO on noisy": (policies["logistic"], None), "SymPO on noisy": (policies["sigmoid"], None)}
    for scoring, keep in cleaned.items():
        if keep.sum() < preset.train["batch_size"]:  # the audit flagged (nearly) everything: nothing to train on
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
            _train(ref, tok, [train[i] for i in np.flatnonzero(keep)], "logistic", seed, preset),
            keep,
        )
    for name, (pol, keep) in e2e.items():
        ev = evaluate_policy(pol, ref, tok, task_, n_prompts=preset.eval_prompts, seed=seed + 12345)
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
    return rows, margins


E2E_ORDER = (
    "DPO on noisy",
    "SymPO on noisy",
    "DPO on cleaned (in-sample audit)",
    "DPO on cleaned (cross-fitted audit)",
)


def _run(task):
    """One cell; with a cell directory (the task's 6th item), its result is also saved there at once, so that
    an interrupted run keeps its finished cells (``--report_only`` builds the report from them)."""
    rows, margins = run_cell(task[:5])
    cell = {"seed": task[0], "noise": task[1], "rows": rows, "margins": margins}
    if len(task) > 5 and task[5]:
        path = Path(task[5]) / f"seed{task[0]}_noise{task[1]:g}.pkl"
        path.write_bytes(pickle.dumps(cell))
    return cell


def plot_margins(cells: list[dict], path: Path) -> Path:
    """Histograms of the margins as labelled, clean vs flipped pairs, one panel per (noise, scorer, scoring),
    pooled over the seeds; the dashed line is margin 0 (the ``sign`` rule's threshold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = sorted({c["noise"] for c in cells})
    keys = [f"{loss}/{s}" for loss in ("sigmoid", "logistic") for s in SCORINGS]
    fig, axes = plt.subplots(len(noises), len(keys), figsize=(3.6 * len(keys), 2.8 * len(noises)), squeeze=False)
    for i, eps in enumerate(noises):
        mine = [c for c in cells if c["noise"] == eps]
        for j, key in enumerate(keys):
            ax = axes[i][j]
            m = np.concatenate([c["margins"][key] for c in mine])
            f = np.concatenate([c["margins"]["flipped"] for c in mine])
            ok = np.isfinite(m)
            m, f = m[ok], f[ok]
            bins = np.linspace(np.quantile(m, 0.005), np.quantile(m, 0.995), 41)
            ax.hist(m[~f], bins=bins, alpha=0.6, label="clean", color="tab:blue")
            ax.hist(m[f], bins=bins, alpha=0.6, label="flipped", color="tab:red")
            ax.axvline(0.0, color="black", linestyle="--", linewidth=0.8)
            name = {"sigmoid": "SymPO", "logistic": "DPO"}[key.split("/")[0]]
            ax.set_title(f"{name}, {key.split('/')[1]}, noise {eps:g}", fontsize=9)
            ax.set_xlabel("margin as labelled")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv=None):
    from .audit_digits import parse_args

    def sizes(p):
        p.add_argument("--train_pairs", type=int, default=PRESET.train_pairs)
        p.add_argument("--steps", type=int, default=PRESET.train["max_steps"])
        p.add_argument("--report_only", action="store_true", help="the report of the cells saved under OUT/cells")

    args, out = parse_args("python -m sympo_ext.experiments.audit_lm", SEEDS, NOISES, argv, extra=sizes)
    if args.report_only:
        cells = load_cells(out)
        if not cells:
            raise SystemExit(f"--report_only: no saved cells under {out / 'cells'}")
        write_report(cells, out)
        return
    preset = make_preset(args.train_pairs, args.steps)
    print(f"preset: {args.train_pairs} training pairs, {args.steps} steps of {preset.train['batch_size']}", flush=True)
    t0 = time.perf_counter()
    prepared = common.run_tasks(
        prepare_seed,
        [(s, tuple(args.noise), preset) for s in args.seeds],
        workers=min(args.workers, len(args.seeds)),
        desc="references + pairs",
    )
    cell_dir = out / "cells"
    cell_dir.mkdir(exist_ok=True)
    tasks = [
        (p_["seed"], eps, p_["state_dict"], p_["data"][eps][0], preset, str(cell_dir))
        for p_ in prepared
        for eps in args.noise
    ]
    cells = common.run_tasks(_run, tasks, workers=args.workers, desc="cells")
    write_report(cells, out)
    print(f"{len(tasks)} (seed, noise) cells in {time.perf_counter() - t0:.0f} s wall")


def load_cells(out: Path) -> list[dict]:
    """The cells saved under ``out/cells`` (seed-major, then noise)."""
    cells = [pickle.loads(p.read_bytes()) for p in sorted((Path(out) / "cells").glob("seed*_noise*.pkl"))]
    return sorted(cells, key=lambda c: (c["seed"], c["noise"]))


def write_report(cells: list[dict], out: Path) -> str:
    """The CSVs, the margins (npz), their histograms and the summary tables of ``cells``."""
    from .audit_digits import report

    rows = [r for c in cells for r in c["rows"]]
    order = {name: i for i, name in enumerate(E2E_ORDER)}
    e2e = sorted((r for r in rows if r["kind"] == "e2e"), key=lambda r: (r["seed"], r["noise"], order[r["method"]]))
    rows = [r for r in rows if r["kind"] == "detect"] + e2e
    detect = [r for r in rows if r["kind"] == "detect"]
    for part, name in ((detect, "audit_lm_detect.csv"), (e2e, "audit_lm_e2e.csv")):  # rows differ by the fallback
        common.write_csv(part, out / name, columns=list(dict.fromkeys(k for r in part for k in r)))
    np.savez_compressed(
        out / "audit_lm_margins.npz",
        **{
            f"seed{c['seed']}_noise{c['noise']:g}_{k.replace('/', '_')}": v
            for c in cells
            for k, v in c["margins"].items()
        },
    )
    plot_margins(cells, out / "audit_lm_margins.png")
    md = (
        report(rows, out)
        .replace("test acc (true labels)", "policy true reward")
        .replace("| Spearman |", "| win rate vs ref |")
        .replace("acc −", "true reward −")
    )
    (out / "audit_digits_summary.md").rename(out / "audit_lm_summary.md")
    (out / "audit_lm_summary.md").write_text(md)
    print(md)
    return md


if __name__ == "__main__":
    main()
