"""Loading preference records: JSONL / JSON files, Hugging Face datasets, lists of dicts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .schema import DataError, PreferenceExample, _to_example, is_conversational

# Loading
# --------------------------------------------------------------------------- #


def _import_datasets():
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "loading a Hugging Face dataset needs the optional 'datasets' package: pip install datasets "
            "(or give a .jsonl/.json file or a list of dicts)"
        ) from exc
    return datasets


# What ``datasets.Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` write (load_from_disk looks for them).
_SAVED_DATASET_MARKERS = ("dataset_dict.json", "state.json")


def _is_hf_dataset(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("datasets") and hasattr(obj, "column_names")


def _is_hf_dataset_dict(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("datasets") and isinstance(obj, Mapping)


def _pick_split(container: Mapping, split: str | None, where: str):
    if split is not None:
        if split not in container:
            raise DataError(f"{where}: no split '{split}' (available: {sorted(container)})")
        return container[split]
    if len(container) == 1:
        return next(iter(container.values()))
    raise DataError(f"{where}: several splits {sorted(container)}; choose one with split=...")


def _from_records(records: Iterable[Any], where: str) -> list[PreferenceExample]:
    out = []
    for i, record in enumerate(records):
        out.append(_to_example(record, i, f"{where} record {i}"))
    return out


def _load_jsonl(path: Path) -> list[PreferenceExample]:
    out = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{where}: not UTF-8 text ({exc.reason})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            out.append(_to_example(record, len(out), where))
    return out


def _load_json(path: Path, split: str | None) -> list[PreferenceExample]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    where = str(path)
    if isinstance(data, Mapping):
        if "chosen" in data and not isinstance(data["chosen"], list) or is_conversational(data.get("chosen")):
            raise DataError(f"{where}: holds a single record; give a list of records (or use .jsonl)")
        if all(k in data for k in ("chosen", "rejected")) and all(isinstance(v, list) for v in data.values()):
            # columnar: {"prompt": [...], "chosen": [...], ...}
            lengths = {k: len(v) for k, v in data.items()}
            if len(set(lengths.values())) != 1:
                raise DataError(f"{where}: columns have different lengths {lengths}")
            n = next(iter(lengths.values()))
            data = [{k: v[i] for k, v in data.items()} for i in range(n)]
        else:
            data = _pick_split(data, split, where)
    if not isinstance(data, list):
        raise DataError(f"{where}: expected a list of records (or an object of splits), got {type(data).__name__}")
    return _from_records(data, where)


def load_preference_data(source: Any, *, split: str | None = None) -> list[PreferenceExample]:
    """Load preference pairs from a .jsonl/.json file, a saved ``datasets`` directory, a
    ``datasets.Dataset``/``DatasetDict`` or a list of dicts (see the module docstring).

    ``split`` picks a split of a ``DatasetDict``, of a saved dataset directory or of a
    .json object of splits (needed when there are several). Raises :class:`DataError`
    (with ``file:line`` and the field) on malformed data, ``FileNotFoundError`` for a
    missing path.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"preference data not found: {path}")
        if path.is_dir():
            if not any((path / marker).is_file() for marker in _SAVED_DATASET_MARKERS):
                raise DataError(
                    f"{path}: a directory, but not a saved Hugging Face dataset (it holds none of "
                    f"{', '.join(_SAVED_DATASET_MARKERS)}, which datasets' save_to_disk writes); preference "
                    "data is read from a .jsonl file, a .json file or such a saved dataset directory"
                )
            datasets = _import_datasets()
            obj = datasets.load_from_disk(str(path))
            if isinstance(obj, Mapping):
                obj = _pick_split(obj, split, str(path))
            return _from_records(obj, str(path))
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return _load_jsonl(path)
        if suffix == ".json":
            return _load_json(path, split)
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .jsonl, .json or a saved datasets directory)")
    if _is_hf_dataset_dict(source):
        return _from_records(_pick_split(source, split, "dataset"), "dataset")
    if _is_hf_dataset(source):
        return _from_records(source, "dataset")
    if isinstance(source, Mapping):
        return _from_records(_pick_split(source, split, "data"), "data")
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        return _from_records(source, "data")
    raise TypeError(
        f"load_preference_data: unsupported source of type {type(source).__name__} "
        "(give a path, a datasets.Dataset or a list of dicts)"
    )
