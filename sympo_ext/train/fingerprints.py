"""What a run reads, fingerprinted: so that ``--resume`` continues the run it started, never another.

``run.json`` records (key ``"inputs"``) one content fingerprint per input of the run:

* ``train_pairs`` / ``eval_pairs``: :func:`pairs_fingerprint` of
  the encoded pairs, in order (an edited, reordered, appended or relabelled data file changes it;
  so does a change of tokenizer, truncation or injected noise that changes what is trained);
* ``model``, ``ref_model``, ``tokenizer``: a directory's files (relative path, size, sha256 of the
  content; a re-export at the same path changes it), a Hub id as itself, an in-memory model (the
  Python API) as a hash of its weights;
* ``config_file``: the ``--config`` file's parsed contents (option: value; runs made before this
  recorded its sha256), so that a change is named key by key and the keys a resume may change
  (logging, saving, the length) are accepted.

One streamed pass over each input, once per start. :func:`changed_inputs` names what differs.
"""

from __future__ import annotations

import hashlib
import os
from array import array

import torch
from torch import nn

__all__ = [
    "INPUT_NAMES",
    "changed_inputs",
    "pairs_fingerprint",
    "file_fingerprint",
    "max_token_id",
    "module_fingerprint",
    "path_fingerprint",
    "run_inputs",
]

# The inputs, in the order a message names them, with what a user calls them.
INPUT_NAMES = {
    "train_pairs": "the training pairs (--train_data: edited, reordered, appended or relabelled?)",
    "eval_pairs": "the evaluation pairs (--eval_data / --eval_fraction)",
    "model": "the model (--model: re-exported or replaced?)",
    "ref_model": "the reference model (--ref_model)",
    "tokenizer": "the tokenizer (--tokenizer / the model's)",
    "config_file": "the config file (--config)",
}
_CHUNK = 1 << 20
IN_MEMORY = "in-memory"


def pairs_fingerprint(pairs) -> str:
    """The sha256 (hex) of a sequence of encoded pairs, in order: streamed over each pair's prompt,
    chosen and rejected token ids (each length-prefixed) and its label. Any change of a token, a
    label, the number of pairs or their ORDER changes it; it identifies a run's inputs."""
    h = hashlib.sha256(b"sympo-pairs-v1")
    for p in pairs:
        for ids in (p.prompt_ids, p.chosen_ids, p.rejected_ids):
            h.update(len(ids).to_bytes(8, "little"))
            h.update(array("q", ids).tobytes())
        h.update(int(p.label).to_bytes(8, "little", signed=True))
    return h.hexdigest()


def file_fingerprint(path: str) -> str:
    """sha256 of a file's content, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def path_fingerprint(path: str | None) -> str | None:
    """A directory: sha256 over its files (relative path, size, content hash) in sorted order; a file:
    its content hash; anything else (a Hub id): ``"hub:<id>"``; None stays None."""
    if path is None:
        return None
    if os.path.isfile(path):
        return "sha256:" + file_fingerprint(path)
    if not os.path.isdir(path):
        return f"hub:{path}"
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            digest.update(f"{rel}\0{os.path.getsize(full)}\0{file_fingerprint(full)}\n".encode())
    return "tree:" + digest.hexdigest()


def module_fingerprint(module: nn.Module | None) -> str | None:
    """sha256 over a module's state dict (names, dtypes, shapes, bytes): an in-memory model's weights."""
    if module is None:
        return None
    digest = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "weights:" + digest.hexdigest()


def _config_changes(old, new, mutable: frozenset) -> str | None:
    """What changed in the ``--config`` file that a resume may not change, as a phrase (None: nothing)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):  # a run recording the file's sha256
        return None if old == new else INPUT_NAMES["config_file"]
    changed = [k for k in sorted(old.keys() | new.keys()) if k not in mutable and old.get(k) != new.get(k)]
    if not changed:
        return None
    shown = {k: tuple(repr(d[k]) if k in d else "(unset)" for d in (old, new)) for k in changed}
    keys = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in shown.items())
    return (
        f"the config file (--config: {keys}; a --resume may change only {', '.join(sorted(mutable))} "
        "there: restore the others)"
    )


def changed_inputs(stored: dict | None, current: dict, mutable=frozenset()) -> list[str]:
    """The inputs whose fingerprint differs between a run's ``run.json`` (``stored``) and now, as
    user-facing phrases; [] when they agree or when the run predates fingerprints (``stored`` None).
    An input held in memory on either side is not compared (see :func:`run_inputs`); in the config
    file, the keys in ``mutable`` (the options a resume may change) may differ."""
    if not stored:
        return []
    out = []
    for k in current:
        if k == "config_file" and k in stored:
            out += [why] if (why := _config_changes(stored[k], current[k], frozenset(mutable))) else []
        elif k in stored and stored[k] != current[k] and IN_MEMORY not in (stored[k], current[k]):
            out.append(INPUT_NAMES.get(k, k))
    return out


def run_inputs(
    cfg, *, train_pairs, eval_pairs, model=None, ref_model=None, tokenizer=None, config_file: str | None = None
) -> dict:
    """The fingerprints of a run's inputs (the module docstring). A model, reference or tokenizer
    handed in memory (the Python API) is recorded as ``"in-memory"``: the caller owns it (a resume may
    well pass a freshly built policy whose weights the checkpoint then replaces)."""
    out = {
        "train_pairs": pairs_fingerprint(train_pairs),
        "eval_pairs": pairs_fingerprint(eval_pairs),
        "model": IN_MEMORY if model is not None else path_fingerprint(cfg.model),
        "ref_model": IN_MEMORY if ref_model is not None else path_fingerprint(cfg.ref_model),
        "tokenizer": IN_MEMORY if tokenizer is not None else path_fingerprint(cfg.tokenizer or cfg.model),
    }
    if config_file:
        from .config_file import load_config_file

        out["config_file"] = load_config_file(config_file)
    return out


def max_token_id(pairs) -> int:
    """The largest token id the encoded pairs hold (-1 for none)."""
    return max((max(ids) for p in pairs for ids in (p.prompt_ids, p.chosen_ids, p.rejected_ids) if ids), default=-1)
