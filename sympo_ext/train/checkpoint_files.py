"""The checkpoint file layer: atomic writes, the hashing writer and manifest, verification, listing and
pruning, RNG capture and full state dicts (the orchestration of a run's saves and resumes is
:mod:`sympo_ext.train.checkpoint`).

The layout of a run directory is described in :mod:`sympo_ext.train.checkpoint`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil

import numpy as np
import torch

__all__ = [
    "capture_rng",
    "restore_rng",
    "latest_checkpoint",
    "atomic_write_text",
    "atomic_torch_save",
    "list_checkpoints",
    "save_checkpoint",
    "load_checkpoint",
    "load_resumable",
    "verify_checkpoint",
    "nonfinite_entries",
    "prune_checkpoints",
    "write_failure",
    "full_model_state",
    "full_optim_state",
    "load_full_state",
    "remove_stale_tmp",
    "CheckpointError",
    "CheckpointWriteError",
    "CHECKPOINT_RE",
    "MANIFEST",
    "CHECKPOINTS_DIR",
    "checkpoint_dir",
    "checkpoint_run_id",
]

CHECKPOINT_RE = re.compile(r"^step-(\d{6,})$")
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
DELETE_PREFIX = ".del-"
CHECKPOINTS_DIR = "checkpoints"  # OUTPUT_DIR/checkpoints: the one place this name is written


def checkpoint_dir(output_dir: str) -> str:
    """Where a run's checkpoints live."""
    return os.path.join(output_dir, CHECKPOINTS_DIR)


class CheckpointError(ValueError):
    """A checkpoint cannot be used (missing, truncated, corrupted); the message names the file."""


class CheckpointWriteError(OSError):
    """A checkpoint (or another run file) could not be written; the previous checkpoint is intact."""


# --------------------------------------------------------------------------- #
# RNG
# --------------------------------------------------------------------------- #


def capture_rng() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --------------------------------------------------------------------------- #
# Atomic file helpers
# --------------------------------------------------------------------------- #


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str) -> None:
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(root)


def write_failure(path: str, exc: BaseException) -> CheckpointWriteError:
    """A one-line reason for a failed write (torch.save reports a full disk as an
    ``enforce fail at inline_container.cc`` RuntimeError, which says nothing useful)."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or any(m in str(exc) for m in ("No space left", "file write failed", "unexpected pos")):
        why = "no space left on the device (disk full?)"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    else:
        why = f"write failed ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
    return CheckpointWriteError(code or errno.EIO, f"could not write {path}: {why}")


class _HashingWriter:
    """A write-only file object that hashes what passes through it (torch.save streams into it, so
    a checkpoint file is never held in memory a second time)."""

    def __init__(self, fh):
        self.fh, self.sha256, self.bytes = fh, hashlib.sha256(), 0
        self.error: OSError | None = None  # torch's zip writer replaces it by "unexpected pos ..."

    def write(self, data) -> int:
        try:
            self.fh.write(data)
        except OSError as e:
            self.error = e
            raise
        self.sha256.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.fh.flush()


def _write_file(path: str, obj) -> dict:
    """Write ``obj`` (bytes, or anything for torch.save) to ``path``, fsynced; returns its manifest
    entry. The one place the files of a run directory are written."""
    with open(path, "wb") as fh:
        out = _HashingWriter(fh)
        if isinstance(obj, bytes):
            out.write(obj)
        else:
            try:
                torch.save(obj, out)
            except RuntimeError:
                if out.error is not None:  # the real reason (e.g. ENOSPC), not the zip writer's
                    raise out.error from None
                raise
        fh.flush()
        os.fsync(fh.fileno())
    return {"sha256": out.sha256.hexdigest(), "bytes": out.bytes}


def _atomic_write(path: str, obj) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        _write_file(tmp, obj)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise write_failure(path, e) from e
    _fsync_dir(os.path.dirname(path) or ".")


def atomic_write_text(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a crash leaves the old file or the new one)."""
    _atomic_write(path, text.encode("utf-8"))


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save(obj, path)``, atomically; a failed write raises :class:`CheckpointWriteError`."""
    _atomic_write(path, obj)


# --------------------------------------------------------------------------- #
# Listing
# --------------------------------------------------------------------------- #


def _own_dir(path: str) -> bool:
    """A real directory, not a symbolic link: a link may lead into another run, which a resume must never
    read and pruning never delete (rundir.py refuses such links up front, naming them)."""
    return os.path.isdir(path) and not os.path.islink(path)


def list_checkpoints(ckpt_dir: str) -> list[tuple[int, str]]:
    """Complete checkpoints as (step, path), oldest first (temporary dirs and symbolic links are ignored)."""
    if not os.path.isdir(ckpt_dir):
        return []
    found = []
    for name in os.listdir(ckpt_dir):
        m = CHECKPOINT_RE.match(name)
        path = os.path.join(ckpt_dir, name)
        if m and _own_dir(path) and os.path.isfile(os.path.join(path, "trainer_state.pt")):
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(ckpt_dir: str) -> str | None:
    """The checkpoint named by ``latest`` (falling back to the highest step)."""
    pointer = os.path.join(ckpt_dir, "latest")
    if os.path.isfile(pointer) and not os.path.islink(pointer):
        with open(pointer, encoding="utf-8", errors="replace") as fh:
            name = fh.read().strip()
        path = os.path.join(ckpt_dir, name)
        if CHECKPOINT_RE.match(name) and _own_dir(path) and os.path.isfile(os.path.join(path, "trainer_state.pt")):
            return path
    found = list_checkpoints(ckpt_dir)
    return found[-1][1] if found else None


def remove_stale_tmp(ckpt_dir: str) -> list[str]:
    """Delete what a crash during saving or pruning left: ``.tmp-*`` / ``.del-*`` directories and
    ``*.tmp-<pid>`` files. Only call it while holding the run's lock. Returns the removed names."""
    if not os.path.isdir(ckpt_dir):
        return []
    removed = []
    for name in sorted(os.listdir(ckpt_dir)):
        path = os.path.join(ckpt_dir, name)
        if name.startswith((TMP_PREFIX, DELETE_PREFIX)) and os.path.islink(path):
            os.remove(path)  # the link only: never what it points to
            removed.append(name)
        elif name.startswith((TMP_PREFIX, DELETE_PREFIX)) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
        elif re.search(r"\.tmp-\d+$", name) and os.path.isfile(path):
            os.remove(path)
            removed.append(name)
    return removed


def prune_checkpoints(ckpt_dir: str, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (0 = keep all)."""
    if keep <= 0:
        return
    for _, path in list_checkpoints(ckpt_dir)[:-keep]:
        # Rename first: a kill during the rmtree leaves a .del- directory, never a half checkpoint.
        doomed = os.path.join(ckpt_dir, DELETE_PREFIX + os.path.basename(path))
        try:
            os.replace(path, doomed)
        except OSError:
            continue
        shutil.rmtree(doomed, ignore_errors=True)


# --------------------------------------------------------------------------- #
# Full (unsharded) state dicts, also under FSDP2
# --------------------------------------------------------------------------- #


def full_model_state(model, *, fsdp: bool = False) -> dict:
    """The model's full state dict on the CPU (FSDP: gathered, on the main process only)."""
    if fsdp:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def full_optim_state(model, optimizer, *, fsdp: bool = False) -> dict:
    if fsdp:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(
            model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    return optimizer.state_dict()


def load_full_state(model, optimizer, model_state: dict, optim_state: dict, *, fsdp: bool = False) -> None:
    """Load full state dicts (as saved by :func:`full_model_state` / :func:`full_optim_state`)."""
    if fsdp:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        opts = StateDictOptions(full_state_dict=True)
        set_model_state_dict(model, model_state, options=opts)
        set_optimizer_state_dict(model, optimizer, optim_state, options=opts)
    else:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optim_state)


# --------------------------------------------------------------------------- #
# Save
# --------------------------------------------------------------------------- #


def nonfinite_entries(state: dict, limit: int = 3) -> list[str]:
    """Names of floating-point tensors of a state dict that hold NaN or inf (at most ``limit``)."""
    bad = []
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            if not bool(torch.isfinite(value).all()):
                bad.append(name)
                if len(bad) >= limit:
                    break
    return bad


def save_checkpoint(
    ckpt_dir: str,
    step: int,
    *,
    model_state: dict,
    optim_state: dict,
    trainer_state: dict,
    rng_states: list,
    keep: int = 0,
    run_id: str | None = None,
) -> str:
    """Write ``ckpt_dir/step-XXXXXX`` (files, then the manifest of their sha256, then the rename),
    point ``latest`` at it and prune to ``keep`` checkpoints; returns its path.

    Raises :class:`CheckpointWriteError` when a file cannot be written (disk full, ...): the partial
    directory is removed and every earlier checkpoint and ``latest`` stay as they were. ``run_id`` (run.json's)
    goes into the manifest: a resume refuses a checkpoint of another run copied into this one."""
    name = f"step-{step:06d}"
    final = os.path.join(ckpt_dir, name)
    if os.path.isfile(os.path.join(final, MANIFEST)):  # saved at this step before (a resumed run): keep it if intact
        try:
            verify_checkpoint(final)
        except CheckpointError:
            pass  # damaged (the resume fell back past it): rewritten below
        else:
            atomic_write_text(os.path.join(ckpt_dir, "latest"), name)
            prune_checkpoints(ckpt_dir, keep)
            return final
    files = {"model.pt": model_state, "optimizer.pt": optim_state, "trainer_state.pt": {"step": step, **trainer_state}}
    files.update({f"rng-rank{r}.pt": state for r, state in enumerate(rng_states)})
    tmp = os.path.join(ckpt_dir, f"{TMP_PREFIX}{name}")
    target = tmp
    try:
        os.makedirs(ckpt_dir, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        manifest = {"step": step, "files": {}, **({"run_id": run_id} if run_id else {})}
        for fname, obj in files.items():
            target = os.path.join(tmp, fname)
            manifest["files"][fname] = _write_file(target, obj)
        target = os.path.join(tmp, MANIFEST)
        _write_file(target, json.dumps(manifest, indent=1).encode("utf-8"))
        _fsync_dir(tmp)
        if os.path.isdir(final):  # an incomplete or damaged directory of that name: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(ckpt_dir)
    except (OSError, RuntimeError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_failure(target, e) from e
    atomic_write_text(os.path.join(ckpt_dir, "latest"), name)
    prune_checkpoints(ckpt_dir, keep)
    return final


# --------------------------------------------------------------------------- #
# Load
# --------------------------------------------------------------------------- #


def _read_manifest(path: str) -> dict:
    where = os.path.join(path, MANIFEST)
    try:
        with open(where, encoding="utf-8") as fh:
            manifest = json.load(fh)
        files = manifest["files"]
        if not isinstance(files, dict) or "trainer_state.pt" not in files:
            raise KeyError("files")
    except FileNotFoundError:
        raise CheckpointError(f"{where}: missing (the checkpoint is incomplete)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{where}: unreadable manifest ({type(e).__name__}: {e})") from None
    return manifest


def _verify_file(path: str, fname: str, manifest: dict) -> str:
    """Check one file's size and sha256 against the manifest (streamed: constant memory); its path."""
    where = os.path.join(path, fname)
    entry = manifest["files"].get(fname)
    if entry is None:
        raise CheckpointError(f"{where}: not listed in the checkpoint's manifest")
    digest, size = hashlib.sha256(), 0
    try:
        with open(where, "rb") as fh:
            while chunk := fh.read(1 << 24):
                digest.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot be read ({e.strerror or e})") from None
    if size != entry.get("bytes"):
        raise CheckpointError(
            f"{where}: {size} bytes, the manifest says {entry.get('bytes')} (truncated or overwritten)"
        )
    if digest.hexdigest() != entry.get("sha256"):
        raise CheckpointError(f"{where}: sha256 does not match the manifest (the file is corrupted)")
    return where


def checkpoint_run_id(path: str) -> str | None:
    """The run id a checkpoint's manifest records (None: written before run ids, or no readable manifest,
    which the verification reports)."""
    try:
        run_id = _read_manifest(path).get("run_id")
    except CheckpointError:
        return None
    return run_id if isinstance(run_id, str) else None


def verify_checkpoint(path: str) -> None:
    """Check every file of a checkpoint against its manifest; raises :class:`CheckpointError`."""
    manifest = _read_manifest(path)
    for fname in manifest["files"]:
        _verify_file(path, fname, manifest)


def _torch_load(where: str, *, weights_only: bool):
    try:
        return torch.load(where, weights_only=weights_only, map_location="cpu")
    except Exception as e:
        raise CheckpointError(
            f"{where}: cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from None


def load_checkpoint(path: str, rank: int = 0) -> dict:
    """The verified contents of a checkpoint: {"model", "optimizer", "trainer_state", "rng"} (this rank's
    RNG state). Raises :class:`CheckpointError` naming the file when anything is missing or corrupted."""
    manifest = _read_manifest(path)
    out = {}
    for key, fname, weights_only in (
        ("trainer_state", "trainer_state.pt", False),
        ("model", "model.pt", True),
        ("optimizer", "optimizer.pt", False),
        ("rng", f"rng-rank{rank}.pt", False),
    ):
        out[key] = _torch_load(_verify_file(path, fname, manifest), weights_only=weights_only)
    return out


def load_resumable(
    ckpt_dir: str, rank: int = 0, *, preferred: str | None = None
) -> tuple[str | None, dict | None, list[tuple[str, str]]]:
    """The newest intact checkpoint of ``ckpt_dir`` (``preferred``, by default the one ``latest``
    names, first; then by step, newest first):
    (path, contents, skipped) where ``skipped`` lists (path, reason) of newer ones that failed
    verification. (None, None, []) when there is no checkpoint at all; :class:`CheckpointError`
    (listing every reason) when there are checkpoints but none is intact."""
    candidates = []
    if os.path.isdir(ckpt_dir):
        candidates = sorted(
            (
                (int(m.group(1)), os.path.join(ckpt_dir, n))
                for n in os.listdir(ckpt_dir)
                if (m := CHECKPOINT_RE.match(n)) and _own_dir(os.path.join(ckpt_dir, n))
            ),
            reverse=True,
        )
    paths = [p for _, p in candidates]
    pointed = preferred if preferred is not None else latest_checkpoint(ckpt_dir)
    if pointed in paths:  # ``latest`` first (normally it is the newest anyway)
        paths.remove(pointed)
        paths.insert(0, pointed)
    skipped = []
    for path in paths:
        try:
            return path, load_checkpoint(path, rank), skipped
        except CheckpointError as e:
            skipped.append((path, str(e)))
    if skipped:
        raise CheckpointError("no intact checkpoint to resume from: " + "; ".join(r for _, r in skipped))
    return None, None, []
