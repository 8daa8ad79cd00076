"""The run-directory policy of ``sympo-train``: what may be started, resumed or overwritten where.

* A directory is a sympo-train run when it holds ``run.json`` (:data:`RUN_MARKER`).
  A new run needs an absent or empty directory; ``--overwrite`` empties an existing
  one; ``--resume`` continues the run it holds with the stored options.
* ``run.json`` records a run id, made when the run starts, and every checkpoint's manifest records it:
  ``--resume`` refuses a checkpoint of another run copied in, and a ``checkpoints/step-N`` or
  ``latest`` that is a symbolic link (a copy of the whole run directory keeps its id and resumes).
* A run killed before its first checkpoint is continued by ``--resume``: it starts
  afresh from step 0 with the options stored in ``run.json``.
* The live run holds an exclusive ``flock`` on ``OUTPUT_DIR/.sympo-train.lock`` for its
  whole life. A second ``sympo-train`` on the same directory (with or without
  ``--resume`` / ``--overwrite``) is refused at once, naming the holder's PID; the
  operating system releases the lock when its holder dies (even by ``kill -9``), so a
  stale lock file never blocks. ``--overwrite`` empties the directory while holding the
  lock and never deletes a directory a live run holds.
* Runs do not nest: an ``--output_dir`` inside another run's directory (an ancestor holding
  ``run.json``, or a lock a live run holds) is refused, and so is an ``--overwrite`` of a
  directory holding another run below it (it would delete that run, live or not).
* Leftovers of a killed run (temporary checkpoint directories, half-pruned ones,
  ``*.tmp-<pid>`` files, ``final.tmp``) are removed when the next run takes the lock; an
  unreadable reference log-prob cache (``ref_logps.pt``) is deleted so that it is recomputed.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import uuid

from . import checkpoint_files as ckpt

__all__ = [
    "RUN_MARKER",
    "LOCK_NAME",
    "RESUME_MUTABLE",
    "RunDirError",
    "RunLock",
    "run_state",
    "stored_config",
    "resumable_config",
    "stored_run_id",
    "check_output_dir",
    "prepare_output_dir",
    "clean_leftovers",
    "check_creatable",
    "stored_run",
    "check_inputs_unchanged",
    "record_extension",
    "RESUME_EXTENDABLE",
]

RUN_MARKER = "run.json"
LOCK_NAME = ".sympo-train.lock"
# Options that may differ when resuming (they do not change the trajectory).
# Options that may grow on --resume: the run is extended (the schedule recomputed for the new total).
RESUME_EXTENDABLE = {"max_steps", "num_epochs"}
RESUME_MUTABLE = {
    "resume",
    "overwrite",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "save_total_limit",
    "save_final_model",
    "tensorboard",
    "progress",
    "device",
    "eval_batch_size",
    "output_dir",
}


class RunDirError(ValueError):
    """The output directory cannot be used: it holds another run, no run to resume, is in use by a
    live run, or cannot be created."""


def run_state(output_dir: str) -> str:
    """'absent', 'empty', 'run' (a sympo-train run) or 'foreign' (other files, or not a directory).
    The lock file alone does not make a directory non-empty (a refused start leaves it behind)."""
    if not os.path.exists(output_dir):
        return "absent"
    if not os.path.isdir(output_dir):
        return "foreign"
    entries = [e for e in os.listdir(output_dir) if e != LOCK_NAME]
    if not entries:
        return "empty"
    return "run" if RUN_MARKER in entries else "foreign"


def stored_run(output_dir: str) -> dict | None:
    """``OUTPUT_DIR/run.json`` (None when there is none): the options (``"config"``), the input
    fingerprints (``"inputs"``), the log-prob plan, ..."""
    path = os.path.join(output_dir, RUN_MARKER)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            run = json.load(fh)
        if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
            raise TypeError("no 'config' object")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunDirError(f"{path}: unreadable ({type(e).__name__}: {e}); the run cannot be resumed") from None
    return run


def stored_config(output_dir: str) -> dict | None:
    """The options stored in ``OUTPUT_DIR/run.json`` (None when there is no run.json)."""
    run = stored_run(output_dir)
    return None if run is None else run["config"]


def resumable_config(output_dir: str) -> dict | None:
    """:func:`stored_config` for ``--resume``; refuses (naming it) a missing ``run.json`` beside checkpoints."""
    stored = stored_config(output_dir)
    if stored is None and ckpt.list_checkpoints(ckpt.checkpoint_dir(output_dir)):
        raise RunDirError(
            f"--resume: {os.path.join(output_dir, RUN_MARKER)} is missing, though "
            f"{ckpt.checkpoint_dir(output_dir)} holds checkpoints: run.json records the run's options and "
            "inputs, and the run cannot be resumed without it. Restore it (from a copy of the run "
            "directory), or start a new run in another --output_dir"
        )
    return stored


def stored_run_id(output_dir: str) -> str | None:
    """The run id ``run.json`` records (None for a run made before run ids); a copy of the whole run
    directory keeps it, so its checkpoints stay its own."""
    run_id = (stored_run(output_dir) or {}).get("run_id")
    return run_id if isinstance(run_id, str) else None


def _foreign_checkpoints(out: str, run_id: str | None) -> str | None:
    """``--resume``: what is wrong when a checkpoint of ``OUTPUT_DIR/checkpoints`` records another run's id
    (copied in from another run: resuming it would mix the two runs), else None. A checkpoint without an
    id (written before run ids) is accepted; a run without one (made before run ids) has written none
    with an id (its first resume records one in run.json)."""
    d = ckpt.checkpoint_dir(out)
    if not os.path.isdir(d):
        return None
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        theirs = ckpt.checkpoint_run_id(path) if ckpt.CHECKPOINT_RE.match(name) else None
        if theirs is not None and theirs != run_id:
            return (
                f"--resume: {path} belongs to another run (its manifest records run id {theirs}; "
                f"{os.path.join(out, RUN_MARKER)} says {run_id or 'none: the run predates run ids'}): it was copied here from another run's "
                "directory, and resuming it would mix the two runs. Move it out of "
                f"{d} (and make {os.path.join(d, 'latest')} name one of this run's checkpoints), or resume "
                "the other run in its own directory"
            )
    return None


def check_inputs_unchanged(output_dir: str, inputs: dict) -> None:
    """``--resume``: refuse when an input of the run (data, model, reference, tokenizer, config file)
    changed since it started (:mod:`sympo_ext.train.fingerprints`), naming what changed."""
    from .fingerprints import changed_inputs

    run = stored_run(output_dir) or {}
    changed = changed_inputs(run.get("inputs"), inputs, mutable=RESUME_MUTABLE | RESUME_EXTENDABLE)
    if changed:
        # Relative paths in run.json are read from the current directory: one the run did not start in
        # may name other files (the inputs' fingerprints then say so; run from the recorded one).
        cwd = run.get("cwd")
        moved = (
            f" The run was started in {cwd!r}, not in the current directory {os.getcwd()!r}: its relative "
            "paths are read from the current one; run --resume from there."
            if isinstance(cwd, str) and os.path.realpath(cwd) != os.path.realpath(os.getcwd())
            else ""
        )
        raise RunDirError(
            f"--resume: {'; '.join(changed)} changed since the run in {output_dir!r} started, so "
            f"it cannot be continued exactly.{moved} Restore the original inputs, or start a new run "
            "(another --output_dir, or --overwrite)"
        )


def record_extension(cfg) -> None:
    """After a resume that extends the run (a larger --max_steps / --num_epochs): ``run.json`` holds
    the new total, so that the next ``--resume`` continues towards it. Main process only."""
    path = os.path.join(cfg.output_dir, RUN_MARKER)
    run = stored_run(cfg.output_dir)
    run["config"].update({k: getattr(cfg, k) for k in RESUME_EXTENDABLE})
    ckpt.atomic_write_text(path, json.dumps(run, indent=2))


def _inputs_inside(cfg, out: str, config_file: str | None) -> list[str]:
    """The options naming a path the run reads that lies inside ``out`` (--overwrite would delete it)."""
    real_out = os.path.realpath(out)
    found = []
    paths = {name: getattr(cfg, name, None) for name in ("model", "tokenizer", "ref_model", "train_data", "eval_data")}
    for name, value in {**paths, "config": config_file}.items():
        if not value or not os.path.exists(value):
            continue
        real = os.path.realpath(value)
        if real == real_out or real.startswith(real_out + os.sep):
            found.append(f"--{name} {value!r}")
    return found


# --------------------------------------------------------------------------- #
# The lock
# --------------------------------------------------------------------------- #


class RunLock:
    """An exclusive, non-blocking ``flock`` on ``OUTPUT_DIR/<lock_name>`` (``.sympo-train.lock`` by
    default) holding the owner's PID; ``owner`` names the program in the in-use message."""

    def __init__(self, output_dir: str, *, lock_name: str = LOCK_NAME, owner: str = "sympo-train"):
        self.path = os.path.join(output_dir, lock_name)
        self.owner = owner
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                pid = fh.read().strip()
        except OSError:
            pid = ""
        return f"PID {pid}" if re.fullmatch(r"\d+", pid) else "an unknown PID"

    def acquire(self, *, create: bool = True) -> bool:
        """Take the lock; False when there is no lock file and ``create`` is False (nothing written).
        Raises :class:`RunDirError` naming the holder when another live process holds it."""
        if self._fd is not None:
            return True
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise RunDirError(f"cannot create the lock file {self.path}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunDirError(
                    f"--output_dir {os.path.dirname(self.path)!r} is in use by a running {self.owner} "
                    f"({self.holder()}); wait for it to finish, stop it, or choose another directory"
                ) from None
            raise RunDirError(f"cannot lock {self.path}: {e.strerror or e}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def _live_holder(path: str) -> str | None:
    """The holder (``PID n``) of the lock in run directory ``path`` when a live run holds it, else None
    (probed read-only: a directory we may not write is still probed, and nothing is written)."""
    lock = RunLock(path)
    try:
        fd = os.open(lock.path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError as e:
        return lock.holder() if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES) else None
    finally:
        os.close(fd)


def _nested_runs(out: str, overwrite: bool) -> str | None:
    """What is wrong when ``out`` lies inside another run directory (an ancestor holding run.json, or a
    lock a live run holds), or, for --overwrite, holds another run directory below it; else None."""
    parent = os.path.realpath(out)
    while (up := os.path.dirname(parent)) != parent:
        parent = up
        live = _live_holder(parent) if os.path.isfile(os.path.join(parent, LOCK_NAME)) else None
        if os.path.isfile(os.path.join(parent, RUN_MARKER)) or live:
            state = f"a live run, {live}" if live else "a run"
            return (
                f"--output_dir {out!r} lies inside the sympo-train run directory {parent!r} ({state}): "
                "a run there would delete or prune what this one writes. Choose a directory outside it"
            )
    if not overwrite or not os.path.isdir(out):
        return None
    for root, dirs, files in os.walk(out):
        if root != out and (RUN_MARKER in files or LOCK_NAME in files):
            live = _live_holder(root) if LOCK_NAME in files else None
            state = f"a live run, {live}" if live else "a sympo-train run"
            return (
                f"--overwrite would delete {root!r} ({state}) inside --output_dir {out!r}. "
                "Move it out first, or choose another --output_dir"
            )
        dirs.sort()
    return None


# --------------------------------------------------------------------------- #
# Checks (nothing is written) and creation
# --------------------------------------------------------------------------- #


def check_creatable(path: str) -> None:
    """Refuse an output directory that cannot be created or written (under a file, read-only)."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise RunDirError(f"--output_dir {path!r} is a file, not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RunDirError(f"--output_dir {path!r} is not writable")
        return
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise RunDirError(f"--output_dir {path!r} cannot be created: {parent!r} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirError(f"--output_dir {path!r} cannot be created: {parent!r} is not writable")


def check_output_dir(cfg, lock: RunLock | None, config_file: str | None = None) -> None:
    """Check that ``cfg.output_dir`` may be used as asked (new run, ``--resume``, ``--overwrite``),
    before anything is loaded. ``lock`` (the main process's) is taken when the directory exists,
    so a live run there is refused at once; it is not created in a directory of other files."""
    from .config import ConfigError

    out = cfg.output_dir
    if not out:
        if cfg.resume:
            raise ConfigError("--resume needs --output_dir")
        return
    check_creatable(out)
    if nested := _nested_runs(out, cfg.overwrite):
        raise RunDirError(nested)
    state = run_state(out)
    if lock is not None and state != "absent":
        lock.acquire(create=state in ("run", "empty") or cfg.overwrite)
    if state == "run" and not cfg.overwrite and (odd := _odd_checkpoints(out)):
        raise RunDirError(f"{odd}; it was not written by sympo-train: move it away, then run again")
    if cfg.resume:
        stored = resumable_config(out) if state in ("run", "foreign") else None
        if stored is None:
            raise RunDirError(
                f"--resume: {out!r} holds no checkpoint of a sympo-train run to resume "
                "(start a new run without --resume)"
            )
        # An option the stored run predates ran at its default.
        defaults = {f.name: f.default for f in dataclasses.fields(cfg) if f.default is not dataclasses.MISSING}
        diff = {
            k: (stored.get(k, defaults.get(k)), v)
            for k, v in cfg.to_dict().items()
            if k not in RESUME_MUTABLE | RESUME_EXTENDABLE and stored.get(k, defaults.get(k)) != v
        }
        if diff:
            lines = "; ".join(f"{k}: run has {a!r}, now {b!r}" for k, (a, b) in sorted(diff.items()))
            raise RunDirError(
                f"--resume: options differ from the run in {out!r} ({lines}); an exact resume needs the same options"
            )
        if foreign := _foreign_checkpoints(out, stored_run_id(out)):
            raise RunDirError(foreign)
    elif state in ("run", "foreign") and cfg.overwrite and (inside := _inputs_inside(cfg, out, config_file)):
        raise RunDirError(
            f"--overwrite would delete {', '.join(inside)}: it lies inside --output_dir {out!r}, "
            "which --overwrite empties. Copy it elsewhere first, or choose another --output_dir "
            "(to continue a finished run, use --resume with a larger --max_steps / --num_epochs)"
        )
    elif state in ("run", "foreign") and not cfg.overwrite:
        what = "another sympo-train run" if state == "run" else "other files"
        raise RunDirError(
            f"--output_dir {out!r} already holds {what}; pass --resume to continue "
            "it, --overwrite to delete it and start afresh, or choose another directory"
        )


def _odd_checkpoints(out: str) -> str | None:
    """What is wrong with ``OUTPUT_DIR/checkpoints`` when it is not as sympo-train writes it, else None."""
    d = ckpt.checkpoint_dir(out)
    if not os.path.lexists(d):
        return None
    if not os.path.isdir(d):
        return f"{d} is not a directory (sympo-train keeps its checkpoints there)"
    latest = os.path.join(d, "latest")
    if os.path.islink(latest):
        return f"{latest} is a symbolic link to {os.readlink(latest)!r} (it must be the small file naming the newest checkpoint)"
    if os.path.lexists(latest) and not os.path.isfile(latest):
        return f"{latest} is not a file (it must be the small file naming the newest checkpoint)"
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if ckpt.CHECKPOINT_RE.match(name) and os.path.islink(path):
            return (
                f"{path} is a symbolic link to {os.readlink(path)!r} (a checkpoint is this run's own "
                "directory; resuming or pruning through a link would mix in or delete another run's files)"
            )
        if ckpt.CHECKPOINT_RE.match(name) and not os.path.isdir(path):
            return f"{path} is not a directory (a checkpoint is a directory of files)"
    return None


def _empty_dir(path: str) -> None:
    """Delete everything in ``path`` but the lock file (deleting the lock file would let a second run in)."""
    for name in os.listdir(path):
        if name == LOCK_NAME:
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.remove(full)


def clean_leftovers(out: str) -> list[str]:
    """Remove what a killed run left (see the module docstring); returns the removed names."""
    removed = [os.path.join(ckpt.CHECKPOINTS_DIR, n) for n in ckpt.remove_stale_tmp(ckpt.checkpoint_dir(out))]
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        if re.search(r"\.tmp-\d+$", name) and os.path.isfile(path):
            os.remove(path)
            removed.append(name)
        elif name == "final.tmp" and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


REFERENCE_CACHE = "ref_logps.pt"  # OUTPUT_DIR's precomputed reference log-probs (reference_policy.py)


def _drop_unreadable_cache(out: str) -> None:
    """The reference log-prob cache is recomputed when it cannot be read (truncated, corrupted):
    it is a pure function of the initial policy and the data, so nothing is lost."""
    path = os.path.join(out, REFERENCE_CACHE)
    if not os.path.isfile(path):
        return
    import torch

    try:
        torch.load(path, weights_only=True)
    except Exception as e:
        print(
            f"[sympo-train] {path} cannot be read ({type(e).__name__}); it will be recomputed",
            file=sys.stderr,
            flush=True,
        )
        os.remove(path)


def prepare_output_dir(cfg, lock: RunLock, run_info: dict, config_file: str | None = None) -> None:
    """Create (or, with ``--overwrite``, empty) the run directory under the lock, write ``run.json``
    for a new run and clean leftovers. Main process only."""
    out = cfg.output_dir
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"--output_dir {out!r} cannot be created: {e.strerror or e}") from None
    checked_under_lock = lock.held
    lock.acquire(create=True)  # a run that created the directory since our check is refused here...
    if not checked_under_lock:  # ... and one that has come and gone: the directory may hold its run now
        check_output_dir(cfg, lock, config_file)
    try:
        if cfg.overwrite:
            _empty_dir(out)
        marker = os.path.join(out, RUN_MARKER)
        if not cfg.resume:  # the run id marks its checkpoints as its own (see _foreign_checkpoints)
            run = {"run_id": uuid.uuid4().hex, "config": cfg.to_dict(), **run_info}
            ckpt.atomic_write_text(marker, json.dumps(run, indent=2))
        elif (run := stored_run(out)) is not None and not isinstance(run.get("run_id"), str):
            run["run_id"] = uuid.uuid4().hex  # a run made before run ids: its new checkpoints get one
            ckpt.atomic_write_text(marker, json.dumps(run, indent=2))
        clean_leftovers(out)
        _drop_unreadable_cache(out)
    except ckpt.CheckpointWriteError as e:
        raise RunDirError(str(e)) from None
    except OSError as e:
        raise RunDirError(f"--output_dir {out!r}: {e.strerror or e}") from None
