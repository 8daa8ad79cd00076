"""LM alignment under label noise: the SymPO paper's Section 5.2, scaled to a CPU.

    python -m sympo_ext.experiments.lm_alignment --quick       # CI preset (well under 2 minutes)
    python -m sympo_ext.experiments.lm_alignment --workers 2   # full preset: 7 losses x 3 noise x 3 seeds
    python -m sympo_ext.experiments.lm_alignment --losses logistic sigmoid --noise 0 0.4 --seeds 0 1
    python -m sympo_ext.experiments.lm_alignment --workers 2 --noise 0 0.4 --steps 1024  # train-longer ablation

Setup (every step is a function of :mod:`sympo_ext.experiments.pipeline`, nothing is re-implemented):

* per seed, ONE reference policy: a tiny Llama SFT'd on the synthetic task of
  :mod:`sympo_ext.experiments.synthetic`, whose true reward is computable (``build_reference``);
* per seed and noise level, ONE set of preference pairs sampled from that reference,
  ordered by a Bradley-Terry draw on the true reward, then labels flipped at rate
  ``noise`` (``make_preference_data``; the training pairs are the same responses at every
  noise level -- only the flipped labels differ -- and the held-out pairs get the same
  noise, their true labels are kept);
* every loss is trained from the same reference on the same pairs with the same
  hyper-parameters (``train_policy``; the demo's preset, no per-loss tuning), so the
  comparison between losses is paired. cDPO / rDPO get ``epsilon`` = the true flip rate
  (0 at noise 0, where both equal DPO);
* ``evaluate_policy``: the mean true reward of the policy's samples (one per prompt) and its
  win rate against the reference, judged by the true reward, ties half (``SyntheticTask.win_rate``
  pairs the i-th policy sample with the i-th reference sample, whose prompts are drawn with
  seeds s and s + 1: independent prompts of the same distribution, not the same prompt); the
  reference's own true reward (the same prompts and sampling seed for every loss of a seed);
  and the Trainer's final evaluation on held-out pairs: the implicit reward's accuracy against
  the noisy and against the true labels.

Outputs in ``--out``: ``lm_runs.csv`` (one row per run), ``lm_summary.csv`` /
``lm_summary.md`` (mean ± std over seeds, paired differences to DPO) and plots
``lm_reward_winrate.png`` and ``lm_accuracy.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from ..losses import LOSSES, canonical_name, flip_rate_options
from . import common
from .lm_alignment_report import (  # noqa: F401 - LOSS_NAMES / METRICS / METRIC_LABELS are this module's API too
    LOSS_NAMES,
    METRIC_LABELS,
    METRICS,
    REPORT,
    _noise_name,
    load_runs,
    make_plots,
    summary_markdown,
)
from .pipeline import PRESETS, DemoPreset, build_reference, evaluate_policy, make_preference_data, train_policy

ALL_LOSSES = ("logistic", "cdpo", "rdpo", "ropo", "simpo", "sigmoid", "symmetric_ramp")
# How a loss is meant to be run, where that differs from the preset (TrainConfig options). SimPO
# is reference-free on length-averaged log-probs; its beta and gamma are the SimPO paper's
# setting for Mistral (beta 2, gamma / beta = 0.5), not tuned here.
LOSS_SETTINGS = {"simpo": dict(reference="none", average_logps=True, beta=2.0, gamma=1.0)}
FULL_NOISE = (0.0, 0.2, 0.4)
FULL_SEEDS = (0, 1, 2)
QUICK_LOSSES = ("logistic", "sigmoid")
QUICK_NOISE = (0.2,)
QUICK_SEEDS = (0,)

# The full preset is the demo's (``sympo-train --demo``): 2048 training pairs, 512 steps of
# 32 pairs (8 epochs), beta 0.1, lr 3e-4, 256 held-out pairs, 512 evaluation prompts; the grid is
# 7 losses x 3 noise levels x 3 seeds = 63 trainings on 3 references (one per seed). Timed on the
# shared 2-core machine: ~27 s per reference, ~8 s per set of pairs (1 thread, loaded machine).
# The quick preset is the demo's quick one.
FULL_PRESET = PRESETS["full"]
QUICK_PRESET = PRESETS["quick"]

CSV_COLUMNS = (
    "loss",
    "method",
    "family",
    "symmetric",
    "noise",
    "epsilon",
    "seed",
    "true_reward",
    "reference_true_reward",
    "reward_gain",
    "win_rate",
    "acc_true",
    "acc_noisy",
    "eval_margin",
    "final_train_loss",
    "train_pairs",
    "train_pairs_used",
    "eval_pairs",
    "flip_rate",
    "data_hash",
    "pairs_hash",
    "steps",
    "batch_size",
    "learning_rate",
    "beta",
    "eval_prompts",
    "seconds",
    "audit_noise_rate",
    "audit_flips_in_top",
    "audit_num_flips",
    "audit_method",
)
AUDITED_LOSSES = ("sigmoid",)  # the policy whose training pairs sympo-audit scores (the demo's audit line)


# --------------------------------------------------------------------------- #
# data: one reference and one set of pairs per (seed, noise)
# --------------------------------------------------------------------------- #


def loss_options(loss: str, noise: float) -> dict:
    """TrainConfig options of ``loss`` at flip rate ``noise``: a loss that takes the assumed flip rate
    (the registry says which: cdpo, rdpo, ...) gets the true one; :data:`LOSS_SETTINGS` for the rest."""
    loss = canonical_name(loss)  # ValueError names the valid losses
    return {**LOSS_SETTINGS.get(loss, {}), **flip_rate_options(loss, noise)}


def _fingerprint(examples, *, labels: bool = True) -> str:
    """Short hash of the pairs (texts and, with ``labels``, the given and true labels)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(repr((ex.prompt, ex.chosen, ex.rejected)).encode())
        if labels:
            h.update(f"|{ex.label}|{ex.true_label}".encode())
    return h.hexdigest()[:16]


def _model_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def prepare_seed(args) -> dict:
    """(seed, noises, preset) -> the reference (state-dict bytes) and, per noise level, the
    training and held-out pairs. Run once per seed; every loss then trains on these."""
    seed, noises, preset = args
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        tok, ref, task = build_reference(preset, seed=seed)
        data = {}
        for noise in noises:
            data[float(noise)] = make_preference_data(
                ref, tok, task, n_train=preset.train_pairs, n_eval=preset.eval_pairs, noise=float(noise), seed=seed
            )
    return {"seed": seed, "state_dict": _model_bytes(ref), "data": data, "seconds": time.perf_counter() - t0}


_REF_CACHE: dict = {}


def _reference(seed: int, preset: DemoPreset, state: bytes):
    """(tokenizer, reference, task) rebuilt from the state-dict bytes (cached per worker process)."""
    from .synthetic import SyntheticTask, build_tiny_llama, build_tokenizer

    key = (seed, repr(preset), hashlib.sha256(state).hexdigest())
    if key in _REF_CACHE:
        return _REF_CACHE[key]
    _REF_CACHE.clear()  # one reference at a time (tasks are seed-major)
    tok = build_tokenizer()
    model = build_tiny_llama(
        tok, hidden_size=preset.hidden_size, num_layers=preset.num_layers, num_heads=preset.num_heads, seed=seed
    )
    model.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
    model.eval()
    _REF_CACHE[key] = (tok, model, SyntheticTask(seed))
    return _REF_CACHE[key]


# --------------------------------------------------------------------------- #
# one run
# --------------------------------------------------------------------------- #


def run_one(args) -> dict:
    """(loss, noise, seed, preset, reference state bytes, train pairs, eval pairs, progress) -> one CSV row."""
    loss, noise, seed, preset, state, train, evals, progress = args
    t0 = time.perf_counter()
    options = loss_options(loss, noise)
    tok, ref, task = _reference(seed, preset, state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*skipped.*", category=UserWarning)
        result = train_policy(
            ref, tok, train, evals, loss_type=loss, preset=preset, seed=seed, progress=progress, **options
        )
    ev = evaluate_policy(result.model, ref, tok, task, n_prompts=preset.eval_prompts, seed=seed + 12345)
    em = result.eval_metrics or {}
    info = LOSSES[loss]
    row = {
        "loss": loss,
        "method": LOSS_NAMES.get(loss, loss),
        "family": info.family,
        "symmetric": bool(info.symmetric),
        "noise": float(noise),
        "epsilon": options.get("epsilon", float("nan")),
        "seed": int(seed),
        "true_reward": ev["true_reward"],
        "reference_true_reward": ev["reference_true_reward"],
        "reward_gain": ev["true_reward"] - ev["reference_true_reward"],
        "win_rate": ev["win_rate"],
        "acc_true": em.get("rewards/true_accuracies", float("nan")),
        "acc_noisy": em.get("rewards/accuracies", float("nan")),
        "eval_margin": em.get("rewards/margins", float("nan")),
        "final_train_loss": result.train_metrics.get("loss", float("nan")),
        "train_pairs": len(train),
        "train_pairs_used": result.data_stats.get("train/encoded", float("nan")),
        "eval_pairs": len(evals),
        "flip_rate": sum(int(ex.label != ex.true_label) for ex in train) / max(len(train), 1),
        "data_hash": _fingerprint(list(train) + list(evals)),
        "pairs_hash": _fingerprint(list(train) + list(evals), labels=False),
        "steps": result.global_step,
        "batch_size": preset.train["batch_size"],
        "learning_rate": preset.train["learning_rate"],
        "beta": options.get("beta", preset.train["beta"]),
        "eval_prompts": preset.eval_prompts,
        "seconds": time.perf_counter() - t0,
        **audit_training_pairs(
            result.model if loss in AUDITED_LOSSES else None,
            ref,
            tok,
            train,
            beta=options.get("beta", preset.train["beta"]),
            max_length=preset.train["max_length"],
        ),
    }
    return {k: row[k] for k in CSV_COLUMNS}


def audit_training_pairs(policy, ref, tok, train, *, beta: float, max_length: int) -> dict:
    """sympo-audit's scoring of the training pairs by the trained ``policy`` (in-sample, mixture method):
    the estimated noise rate and how many true flips are among the top-#flips suspects (NaN without
    a policy). One no-grad pass over the pairs: a few seconds for the demo's sizes."""
    nan = float("nan")
    if policy is None:
        return {"audit_noise_rate": nan, "audit_flips_in_top": nan, "audit_num_flips": nan, "audit_method": ""}
    import numpy as np

    from ..audit import estimate_noise, score_pairs

    m = score_pairs(
        policy, tok, train, reference=ref, beta=beta, max_length=max_length, batch_size=64, device="cpu", progress=False
    ).margins
    ok = np.isfinite(m)
    flipped = np.array([ex.label != ex.true_label for ex in train])[ok]
    k = int(flipped.sum())
    top = np.argsort(m[ok], kind="mergesort")[:k]  # the lowest margins as labelled = the top suspects
    est = estimate_noise(m[ok])  # "sign" where the mixture's guard rejected the fit
    return {
        "audit_noise_rate": est.noise_rate,
        "audit_flips_in_top": int(flipped[top].sum()),
        "audit_num_flips": k,
        "audit_method": est.method,
    }


def run_grid(
    losses=ALL_LOSSES,
    noises=FULL_NOISE,
    seeds=FULL_SEEDS,
    preset: DemoPreset = FULL_PRESET,
    *,
    workers: int = 1,
    threads: int = 1,
    progress: bool = True,
) -> tuple[list[dict], list[dict]]:
    """Every (seed, noise, loss) run. Phase 1 builds one reference and the pairs per seed; phase 2
    trains every loss on them (seed-major). Returns (rows, per-seed preparation info)."""
    losses = tuple(canonical_name(loss) for loss in losses)  # aliases too; ValueError names the valid ones
    noises = tuple(float(n) for n in noises)
    for n in noises:
        if not 0.0 <= n < 0.5:
            raise ValueError(f"noise rate {n} outside [0, 0.5)")
    prepared = common.run_tasks(
        prepare_seed,
        [(s, noises, preset) for s in seeds],
        workers=min(workers, len(seeds)),
        threads=threads,
        desc="references + pairs",
        progress=progress,
    )
    bar_inside = progress and workers <= 1 and len(losses) * len(noises) * len(seeds) <= 4
    tasks = [
        (loss, noise, p["seed"], preset, p["state_dict"], *p["data"][noise], bar_inside)
        for p in prepared
        for noise in noises
        for loss in losses
    ]
    rows = common.run_tasks(run_one, tasks, workers=workers, threads=threads, desc="trainings", progress=progress)
    info = [{"seed": p["seed"], "seconds": p["seconds"]} for p in prepared]
    return rows, info


# --------------------------------------------------------------------------- #
# reporting
# --------------------------------------------------------------------------- #


def build_parser() -> argparse.ArgumentParser:
    p = common.grid_parser(
        "python -m sympo_ext.experiments.lm_alignment",
        "LM alignment under label noise (SymPO Section 5.2 on a tiny Llama and a synthetic task "
        "with a computable true reward).",
        out="runs/lm_alignment",
        quick_help="CI preset: DPO and SymPO-sigmoid at noise 0.2, 1 seed, the demo's quick sizes",
        seeds_help="seeds (default: 0 1 2; quick: 0)",
        losses_help="losses: any sympo_ext loss name or alias (default: " + " ".join(ALL_LOSSES) + ")",
        noise_type=float,
        noise_help="symmetric flip rates (default: 0 0.2 0.4)",
    )
    p.add_argument("--steps", type=int, help="override the preset's optimizer steps (ablations; every loss alike)")
    p.add_argument("--beta", type=float, help="override the preset's beta (ablations; every loss alike)")
    p.add_argument("--learning-rate", type=float, help="override the preset's learning rate (every loss alike)")
    return common.add_run_flags(
        p,
        threads_help="torch threads per worker (1 is fastest for this model)",
        report_help="re-render the summary and plots from OUT/lm_runs.csv without training",
    )


def preset_from_args(args) -> DemoPreset:
    """The quick or full preset with the command line's overrides (the same for every loss)."""
    preset = QUICK_PRESET if args.quick else FULL_PRESET
    return preset.with_train(**common.given(max_steps=args.steps, beta=args.beta, learning_rate=args.learning_rate))


def _noises_of_rows(rows) -> tuple:
    return tuple(sorted({r["noise"] for r in rows}))


def main(argv=None) -> list[dict]:
    args = build_parser().parse_args(argv)
    preset = preset_from_args(args)
    losses, noises, seeds = common.grid_axes(
        args, losses=(QUICK_LOSSES, ALL_LOSSES), noises=(QUICK_NOISE, FULL_NOISE), seeds=(QUICK_SEEDS, FULL_SEEDS)
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    preset_dict = {k: v for k, v in asdict(preset).items() if k != "label_noise"}  # the demo's own noise is unused
    overridden = ", overridden" if preset != (QUICK_PRESET if args.quick else FULL_PRESET) else ""
    setting = f"preset ({'quick' if args.quick else 'full'}{overridden}): {preset_dict}"
    common.print_plan(args, setting, losses, map(_noise_name, noises), seeds)
    t0 = time.perf_counter()
    if args.report_only:
        rows = load_runs(out / "lm_runs.csv")
        losses, noises = common.stored_axes(args, rows, losses, noises, _noises_of_rows)
        timing = "re-rendered from lm_runs.csv"
    else:
        rows, info = run_grid(losses, noises, seeds, preset, **common.run_options(args))
        wall = time.perf_counter() - t0
        common.write_csv(rows, out / "lm_runs.csv", CSV_COLUMNS)
        timing = (
            f"in {wall:.0f} s wall ({args.workers} worker(s) x {args.threads} thread(s); references + pairs: "
            + ", ".join(f"seed {i['seed']} {i['seconds']:.0f} s" for i in info)
            + f"; mean {common.mean_std(r['seconds'] for r in rows)[0]:.0f} s per training + evaluation)"
        )
    header = (
        f"# LM alignment under label noise: summary\n\n{len(rows)} runs {timing}.\n\n"
        f"Preset: `{preset_dict}`\n\nMachine: {common.machine_info()}\n\n"
    )
    REPORT.write(rows, losses, noises, out / "lm_summary", header, plots=not args.no_plots)
    print(f"{len(rows)} runs {timing}; CSV: {out / 'lm_runs.csv'}; summary: {out / 'lm_summary.md'}")
    return rows


if __name__ == "__main__":
    main()
