"""Atomic checkpoints: model, optimizer, scheduler, RNG states and data position.

Layout of a run directory::

    OUTPUT_DIR/
      run.json               marks the directory as a sympo-train run (config + versions)
      metrics.csv            one row per logged step / evaluation
      checkpoints/step-000040/
          model.pt           full policy state dict
          optimizer.pt       full AdamW state
          trainer_state.pt   step, scheduler, data position, config
          rng-rank0.pt ...   python / numpy / torch / cuda RNG states of every process
      checkpoints/latest     name of the newest complete checkpoint
      final/                 the trained policy (save_pretrained) and tokenizer

A checkpoint is first written to ``checkpoints/.tmp-step-...`` and renamed
(``os.replace``) into place once every file is complete and fsynced, so a crash
or a kill during saving never leaves a half-written checkpoint where
``--resume`` would find it. ``latest`` is updated the same way.
"""

from __future__ import annotations

import os
import random
import re
import shutil

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng", "latest_checkpoint", "atomic_write_text", "list_checkpoints",
           "CHECKPOINT_RE"]

CHECKPOINT_RE = re.compile(r"^step-(\d{6,})$")


def capture_rng() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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


def atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path) or ".")


def list_checkpoints(ckpt_dir: str) -> list[tuple[int, str]]:
    """Complete checkpoints as (step, path), oldest first (temporary dirs are ignored)."""
    if not os.path.isdir(ckpt_dir):
        return []
    found = []
    for name in os.listdir(ckpt_dir):
        m = CHECKPOINT_RE.match(name)
        path = os.path.join(ckpt_dir, name)
        if m and os.path.isfile(os.path.join(path, "trainer_state.pt")):
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(ckpt_dir: str) -> str | None:
    """The checkpoint named by ``latest`` (falling back to the highest step)."""
    pointer = os.path.join(ckpt_dir, "latest")
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as fh:
            name = fh.read().strip()
        path = os.path.join(ckpt_dir, name)
        if os.path.isfile(os.path.join(path, "trainer_state.pt")):
            return path
    found = list_checkpoints(ckpt_dir)
    return found[-1][1] if found else None


def remove_stale_tmp(ckpt_dir: str) -> None:
    """Delete temporary checkpoint directories left by a crash during saving."""
    if not os.path.isdir(ckpt_dir):
        return
    for name in os.listdir(ckpt_dir):
        if name.startswith(".tmp-"):
            shutil.rmtree(os.path.join(ckpt_dir, name), ignore_errors=True)


def prune_checkpoints(ckpt_dir: str, keep: int) -> None:
    if keep <= 0:
        return
    for _, path in list_checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
