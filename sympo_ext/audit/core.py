"""``audit``: resolve the inputs (a policy or a sympo-train run directory), score, estimate, write.

Run-directory defaults: with ``model`` a directory holding ``run.json``, the policy is its
``final/`` (the tokenizer too), and what is not given comes from the run's stored options:
the reference (``ref_model``, else the run's initial ``model``; none for a reference-free run),
``beta``, ``train_data``, ``max_length``, ``max_prompt_length``, ``truncation_mode``,
``average_logps``. A reference or data taken from run.json must still be the one the run trained
on (its fingerprint in run.json, :mod:`.provenance`); pass --ref_model / --data to audit others.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from ..data import DataError, load_preference_data
from ..errors import ConfigError
from .estimator import METHODS, check_threshold, estimate_noise
from .outdir import OUTPUT_FILES, foreign_files

__all__ = ["AuditOptions", "AuditError", "audit", "resolve_options", "dir_fingerprint", "check_margins_informative"]


class AuditError(ValueError):
    """Bad audit input (the message names the option and what was expected): exit status 2."""


class AuditWriteError(OSError):
    """The outputs could not be written (read-only, full disk); the previous ones are intact: exit status 4."""


@dataclass
class AuditOptions:
    model: str | None = None
    data: str | None = None
    output_dir: str | None = None
    ref_model: str | None = None
    reference: str | None = None  # 'none' = reference-free; None = from the run / --ref_model
    tokenizer: str | None = None
    beta: float | None = None
    batch_size: int = 16
    device: str = "auto"
    max_length: int | None = None
    method: str = "mixture"
    threshold: float | None = None
    relabel: bool = False
    folds: int = 0
    split: str | None = None
    progress: bool = True
    # filled by resolve_options
    run_config: dict | None = field(default=None, repr=False)
    policy_dir: str | None = None
    extra: dict = field(default_factory=dict)
    run_inputs: dict | None = field(default=None, repr=False)  # run.json's input fingerprints
    from_run: dict = field(default_factory=dict)  # the defaults taken from run.json (:mod:`.provenance`)


def dir_fingerprint(path: str | None) -> str | None:
    """sha256 over a model directory's config and weight files (name, size and content)."""
    if path is None:
        return None
    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full) and (name.endswith((".json", ".safetensors", ".bin", ".pt", ".model"))):
            h.update(name.encode())
            with open(full, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def _is_model_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "config.json"))


def _run_path(value: str | None, run_cwd: str | None, flag: str) -> str | None:
    """A path taken from a run's run.json: relative paths there are relative to the directory sympo-train
    ran in (recorded as ``cwd``), never to this process's (that would score another model or data)."""
    if value is None or os.path.isabs(value):
        return value
    if run_cwd is None:
        raise AuditError(
            f"{flag}: the run's run.json gives the relative path {value!r} but not the directory sympo-train "
            f"ran in (a run from an earlier version), so it cannot be resolved safely; pass {flag} explicitly"
        )
    return os.path.join(run_cwd, value)


def resolve_options(opts: AuditOptions) -> AuditOptions:
    """Fill the run-directory defaults and check every option (AuditError naming it)."""
    from ..train.rundir import RUN_MARKER, stored_run

    if not opts.model:
        raise AuditError("--model is required (a trained policy directory or a sympo-train run directory)")
    if not os.path.isdir(opts.model):
        raise AuditError(f"--model {opts.model!r}: no such directory")
    if opts.method not in METHODS:
        raise AuditError(f"--method {opts.method!r} is not one of {', '.join(METHODS)}")
    if opts.threshold is not None:
        if opts.method == "cleanlab":
            raise AuditError(
                "--threshold does not apply to --method cleanlab (confident learning sets its own "
                "per-class thresholds); drop it or use --method mixture / sign"
            )
        try:
            check_threshold(opts.threshold)
        except ValueError as e:
            raise AuditError(f"--{e}") from None
    if not isinstance(opts.batch_size, int) or opts.batch_size < 1:
        raise AuditError(f"--batch_size must be an integer >= 1, got {opts.batch_size!r}")
    if not isinstance(opts.folds, int) or opts.folds < 0:
        raise AuditError(f"--folds must be 0 (in-sample) or >= 2, got {opts.folds}")
    if opts.folds == 1:
        raise AuditError("--folds 1 would train on no pairs: use 0 (in-sample scoring) or K >= 2")
    if opts.reference not in (None, "none"):
        raise AuditError(
            f"--reference {opts.reference!r}: only 'none' (reference-free) is accepted; give a "
            "reference model with --ref_model DIR"
        )
    if opts.reference == "none" and opts.ref_model:
        raise AuditError("--ref_model and --reference none exclude each other")
    if opts.beta is not None and not (0 < opts.beta < float("inf")):
        raise AuditError(f"--beta must be a finite number > 0, got {opts.beta}")
    if opts.max_length is not None and opts.max_length < 2:
        raise AuditError(f"--max_length must be >= 2, got {opts.max_length}")
    if opts.device not in ("auto", "cpu", "cuda"):
        raise AuditError(f"--device must be auto, cpu or cuda, got {opts.device!r}")
    if opts.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise AuditError("--device cuda: no CUDA GPU is available (use --device cpu or auto)")

    run = run_cwd = None
    if os.path.isfile(os.path.join(opts.model, RUN_MARKER)):
        try:
            stored = stored_run(opts.model)
        except ValueError as e:
            raise AuditError(f"--model {opts.model!r}: {e}") from None
        run, run_cwd = stored["config"], stored.get("cwd")
        opts.run_inputs = stored.get("inputs") if isinstance(stored.get("inputs"), dict) else None
        final = os.path.join(opts.model, "final")
        if not os.path.isdir(final):
            raise AuditError(
                f"--model {opts.model!r} is a sympo-train run without final/ (not finished, or run with "
                "--save_final_model false): finish it (--resume) or pass a policy directory"
            )
        if os.path.isfile(os.path.join(final, "adapter_config.json")):
            merged = os.path.join(final, "merged")
            if not _is_model_dir(merged):
                raise AuditError(
                    f"--model {opts.model!r}: final/ holds a LoRA adapter; rerun with --merge_lora (or "
                    "pass a merged model directory)"
                )
            final = merged
        opts.policy_dir = final
    else:
        opts.policy_dir = opts.model
    if (
        run is None
        and not _is_model_dir(opts.policy_dir)
        and any(os.path.isdir(os.path.join(opts.model, d)) for d in ("checkpoints", "final"))
    ):
        raise AuditError(
            f"--model {opts.model!r} looks like a sympo-train run directory but its {RUN_MARKER} is missing (it "
            "records the run's reference, beta and data); restore it, or pass the policy and its reference "
            f"explicitly: --model {os.path.join(opts.model, 'final')} --ref_model DIR --data PATH"
        )
    if not _is_model_dir(opts.policy_dir):
        raise AuditError(f"--model {opts.policy_dir!r}: not a Hugging Face model directory (no config.json)")
    opts.run_config = run
    run = run or {}
    if opts.folds and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise AuditError(
            "--folds runs in one process (each fold policy is trained by the Trainer); run it without torchrun"
        )
    if opts.folds and not opts.run_config:
        raise AuditError(
            "--folds needs --model to be a sympo-train run directory (its run.json is the recipe the "
            "fold policies are trained with)"
        )

    # reference
    args_ref_model = opts.ref_model is not None
    if opts.reference == "none" or (opts.ref_model is None and run.get("reference") == "none"):
        opts.reference, opts.ref_model = "none", None
    elif opts.ref_model is None:
        opts.from_run["ref_model"] = "ref_model" if run.get("ref_model") else "model"
        opts.ref_model = _run_path(run.get("ref_model") or run.get("model"), run_cwd, "--ref_model")
        if opts.ref_model is None:
            raise AuditError(
                "no reference: pass --ref_model DIR (the reference the policy was trained against) or "
                "--reference none for a reference-free score"
                + (" (the run's initial policy was an in-memory model)" if opts.run_config else "")
            )
    if opts.ref_model is not None:
        if not os.path.isdir(opts.ref_model):
            given = "" if args_ref_model else f" (taken from {opts.model}/run.json)"
            raise AuditError(f"--ref_model {opts.ref_model!r}{given}: no such directory")
        if not _is_model_dir(opts.ref_model):
            raise AuditError(f"--ref_model {opts.ref_model!r}: not a Hugging Face model directory (no config.json)")
    # tokenizer, data, beta, lengths
    from ..train.config import TOKENIZER_FILES

    tokenizer_given = opts.tokenizer is not None
    opts.tokenizer = opts.tokenizer or opts.policy_dir
    if not os.path.isdir(opts.tokenizer) or not any(
        os.path.isfile(os.path.join(opts.tokenizer, n)) for n in TOKENIZER_FILES
    ):
        raise AuditError(
            f"--tokenizer {opts.tokenizer!r} holds no tokenizer (none of {', '.join(TOKENIZER_FILES[:3])}"
            ", ...); pass --tokenizer DIR"
        )
    data_from_run = opts.data is None
    # another --tokenizer encodes other pairs: the run's training pairs cannot be compared then
    opts.from_run["data"] = data_from_run and bool(run.get("train_data")) and not tokenizer_given
    opts.data = opts.data or _run_path(run.get("train_data"), run_cwd, "--data")
    if not opts.data:
        raise AuditError("--data is required (a .jsonl/.json file or a saved dataset directory)")
    if not os.path.exists(opts.data):
        given = f" (taken from {opts.model}/run.json)" if data_from_run else ""
        raise AuditError(f"--data {opts.data!r}{given}: no such file or directory")
    if opts.beta is None:
        opts.beta = float(run.get("beta", 0.1))
    if opts.max_length is None:
        opts.max_length = int(run.get("max_length", 1024))
    opts.extra = {
        k: run[k] for k in ("max_prompt_length", "truncation_mode", "average_logps", "split", "label_noise") if k in run
    }
    if opts.split is not None and os.path.isfile(opts.data):
        raise AuditError(
            f"--split {opts.split!r} applies only to a saved dataset with splits (a DatasetDict directory); "
            f"--data {opts.data!r} is a file: drop --split"
        )
    if opts.split is None and "split" in opts.extra:
        opts.split = opts.extra["split"]
    if not opts.output_dir:
        raise AuditError("--output_dir is required")
    out = os.path.abspath(opts.output_dir)
    if os.path.exists(out) and not os.path.isdir(out):
        raise AuditError(f"--output_dir {opts.output_dir!r} exists and is not a directory")
    for name in OUTPUT_FILES:
        if os.path.abspath(opts.data) == os.path.join(out, name):
            raise AuditError(
                f"--data {opts.data!r} is the audit's own output {name}: it would be overwritten; "
                "copy it elsewhere first"
            )
    if os.path.isdir(out):
        foreign = foreign_files(out)
        if foreign:
            raise AuditError(
                f"--output_dir {opts.output_dir!r} holds other files ({', '.join(foreign[:3])}: not a previous "
                "sympo-audit's outputs"
                + ("; no audit summary.json beside them" if set(foreign) & set(OUTPUT_FILES) else "")
                + "); use an empty or new directory (a previous audit's files are replaced)"
            )
    return opts


def _check_vocab_file(tokenizer, path: str | None, what: str) -> None:
    if path is None:
        return
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as fh:
            n = json.load(fh).get("vocab_size")
    except (OSError, ValueError, AttributeError):
        return  # the loader says what is wrong with it
    if isinstance(n, int) and len(tokenizer) > n:
        raise DataError(
            f"the tokenizer has {len(tokenizer)} tokens but {what} ({path}) embeds only {n}: they do "
            "not belong together (pass the model's own tokenizer with --tokenizer)"
        )


def _load(path: str, what: str):
    from ..hf.loading import load_policy

    return load_policy(path, what=what)


def check_margins_informative(margins: np.ndarray, opts: AuditOptions) -> None:
    """Refuse margins that cannot rank the pairs: all exactly 0 (the policy gives the reference's
    log-probs: it is the reference, or untrained) or all equal."""
    m = margins[np.isfinite(margins)]
    if m.size == 0 or (m.size == 1 and m[0] != 0):
        return
    if np.all(m == 0):
        if opts.ref_model is None:
            why = "the policy gives every chosen and rejected response the same log-prob"
        else:
            why = (
                f"--model {opts.policy_dir!r} and --ref_model {opts.ref_model!r} give the same log-probs: the "
                "policy is the reference (or untrained)"
            )
        raise AuditError(
            f"all {m.size} margins are exactly 0, so they say nothing about the labels: {why}; pass the trained "
            "policy as --model (a sympo-train run directory, or its final/) and its reference as --ref_model"
        )
    if np.all(m == m[0]):
        raise AuditError(
            f"all {m.size} margins are equal ({m[0]:.6g}), so they cannot rank the pairs: check --model "
            f"{opts.policy_dir!r} and --ref_model {opts.ref_model or 'none'!r} (the policy is the reference, or "
            "untrained?)"
        )


def audit(opts: AuditOptions, *, examples=None, policy=None, reference=None, tokenizer=None) -> dict:
    """Run the audit; returns the summary (also written). In-memory ``policy`` / ``reference`` /
    ``tokenizer`` / ``examples`` replace the loaded ones (experiments, tests). The output directory is
    locked and checked before scoring and its outputs are replaced as a whole (:mod:`.outdir`)."""
    from ..hf.loading import load_tokenizer
    from ..train.rundir import RunDirError
    from .outdir import OutputDir

    opts = resolve_options(opts)
    if opts.run_config and opts.extra.get("label_noise"):
        print(
            f"[sympo-audit] note: the run injected --label_noise {opts.extra['label_noise']}; the audit scores the "
            "labels of --data as the file gives them",
            file=sys.stderr,
        )
    in_memory_data = examples is not None
    if examples is None:
        try:
            examples = load_preference_data(opts.data, split=opts.split)
        except FileNotFoundError as e:
            raise AuditError(str(e)) from None
    if not examples:
        raise DataError(f"--data {opts.data!r}: no preference pairs (empty data)")
    try:
        tokenizer = tokenizer or load_tokenizer(opts.tokenizer)
    except (OSError, ValueError) as e:
        raise AuditError(f"--tokenizer {opts.tokenizer!r} could not be loaded: {str(e).splitlines()[0]}") from None
    for what, path in (("the model", opts.policy_dir), ("the reference", opts.ref_model)):
        _check_vocab_file(tokenizer, path, what)  # before any weights are loaded
    if opts.run_config and not in_memory_data:
        from .provenance import changed_run_inputs

        if changed := changed_run_inputs(opts, tokenizer, opts.run_inputs):  # the run's reference and data
            raise AuditError(
                f"--model {opts.model!r}: {' and '.join(changed)} changed since the run trained, so the audit "
                "would score other inputs than the policy learned from; restore them, or pass --ref_model / "
                "--data explicitly to audit against other inputs on purpose"
            )
    out = None
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun process 0 writes (and holds the lock)
        out = OutputDir(opts.output_dir)
        try:
            out.open()  # before the scoring pass: a directory that cannot be used fails now, not after it
        except RunDirError as e:
            out.close()
            raise AuditError(str(e)) from None
    try:
        return _score_and_write(opts, examples, tokenizer, policy, reference, out)
    finally:
        if out is not None:
            out.close()


def _score_and_write(opts, examples, tokenizer, policy, reference, out) -> dict:
    """Load, score, estimate and (``out``: process 0's OutputDir, locked) write the outputs."""
    import torch

    from .outputs import write_outputs
    from .scoring import score_pairs

    policy = policy if policy is not None else _load(opts.policy_dir, "--model")
    if reference is None and opts.ref_model is not None:
        reference = _load(opts.ref_model, "--ref_model")
    kw = dict(
        beta=opts.beta,
        max_length=opts.max_length,
        max_prompt_length=opts.extra.get("max_prompt_length"),
        truncation_mode=opts.extra.get("truncation_mode", "keep_start"),
        batch_size=opts.batch_size,
        device=opts.device,
        average_logps=bool(opts.extra.get("average_logps", False)),
        progress=opts.progress,
    )

    def score(model, exs):
        return score_pairs(model, tokenizer, exs, reference=reference, **kw)

    try:
        scores = score(policy, examples)
    except ConfigError as e:  # the log-prob probe of the policy (non-finite weights, a refused path)
        raise ConfigError(f"--model {opts.policy_dir!r}: {e}") from None
    margins = scores.margins
    check_margins_informative(margins, opts)
    crossfit_info = None
    if opts.folds:
        from ..train.config import TrainConfig
        from .crossfit import crossfit_margins

        cfg = TrainConfig.from_dict(opts.run_config, source=f"{opts.model}/run.json")
        if cfg.model is None:
            raise AuditError("--folds: the run's initial policy was an in-memory model (run.json has no 'model')")
        initial = _load(cfg.model, "the run's initial --model")
        scorable = [i for i in range(len(examples)) if np.isfinite(margins[i])]
        cf, crossfit_info = crossfit_margins(
            [examples[i] for i in scorable],
            folds=opts.folds,
            train_config=cfg,
            initial_policy=initial,
            tokenizer=tokenizer,
            reference=reference,
            score=score,
            progress=opts.progress,
        )
        margins = np.full(len(examples), np.nan)
        margins[scorable] = cf
    scored = np.isfinite(margins)
    estimate = estimate_noise(margins[scored], method=opts.method, threshold=opts.threshold)
    from ..train.fingerprints import pairs_fingerprint

    summary = {
        "model": opts.policy_dir,
        "reference": opts.ref_model or "none",
        "data": opts.data,
        "beta": opts.beta,
        "max_length": opts.max_length,
        "fingerprints": {
            "model": dir_fingerprint(opts.policy_dir),
            "reference": dir_fingerprint(opts.ref_model),
            "data": pairs_fingerprint([p for p in scores.pairs if p is not None]),
        },
        "scoring": "cross-fitted" if opts.folds else "in-sample",
        "folds": opts.folds or None,
        "crossfit": crossfit_info,
        "logps_plan": {k: scores.logps_plan.get(k) for k in ("path", "packed")},
        "data_stats": scores.data_stats,  # truncation and skips of the encoding (--max_length)
        "torch": torch.__version__,
    }
    if out is None:  # under torchrun every process scored its shard; process 0 writes
        return summary
    if estimate.warnings:  # the estimator's guard fell back, or the result cannot be trusted as it is
        summary["warnings"] = list(estimate.warnings)
        summary["warning"] = "; ".join(estimate.warnings)
        for w in estimate.warnings:
            print(f"[sympo-audit] warning: {w}", file=sys.stderr)
    try:
        summary = write_outputs(
            out.staging(), examples, margins, scores.labels, estimate, scores.skipped, summary, relabel=opts.relabel
        )
        out.commit()
    except OSError as e:  # only the writes: an OSError while reading the inputs is not a write failure
        out.discard()
        raise AuditWriteError(e.errno, e.strerror or str(e)) from e
    return summary
