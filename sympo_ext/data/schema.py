"""Preference data schema and record validation: PreferenceExample, EncodedPair, DataError, the record checks."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

IGNORE_INDEX = -100  # target id of a position that is not scored (the collators' and torch's cross-entropy default)
REQUIRED_FIELDS = ("prompt", "chosen", "rejected")


class DataError(ValueError):
    """Malformed or unusable preference data; the message says where (file:line or record) and what."""


@dataclass
class PreferenceExample:
    """One preference pair. ``label``: 1 = ``chosen`` preferred, 0 = ``rejected`` preferred (None = 1).
    ``true_label``: ground truth when known (None = unknown). ``meta``: free-form extras (e.g. the
    true rewards of a synthetic pair); not used by the tokenizer."""

    prompt: Any
    chosen: Any
    rejected: Any
    label: int | None = None
    true_label: int | None = None
    index: int = 0
    meta: dict[str, Any] | None = None
    source: str | None = None  # where it was read ("file:line", "dataset record 3"), for error messages

    @property
    def conversational(self) -> bool:
        return is_conversational(self.chosen)


@dataclass
class EncodedPair:
    """Token ids of a pair; ``label`` is 0/1, ``true_label`` is -1 when unknown."""

    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    label: int = 1
    true_label: int = -1
    index: int = 0


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


def is_conversational(value: Any) -> bool:
    """True for a list of {"role", "content"} messages."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(m, Mapping) for m in value)


def _check_messages(value: Any, name: str, where: str) -> list[dict[str, str]]:
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise DataError(f"{where}: field '{name}' must be a string or a non-empty list of messages")
    out = []
    for k, m in enumerate(value):
        if not isinstance(m, Mapping):
            raise DataError(
                f"{where}: field '{name}[{k}]' must be a {{'role', 'content'}} message, got {type(m).__name__}"
            )
        for key in ("role", "content"):
            if key not in m:
                raise DataError(f"{where}: field '{name}[{k}]' is missing '{key}'")
        if not isinstance(m["role"], str):
            raise DataError(f"{where}: field '{name}[{k}].role' must be a string")
        if not isinstance(m["content"], str):
            raise DataError(f"{where}: field '{name}[{k}].content' must be a string, got {type(m['content']).__name__}")
        out.append(dict(m))
    return out


def check_label(value: Any, name: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # also numpy / torch scalars
        if not math.isnan(float(value)) and float(value) in (0.0, 1.0):
            return int(value)
    raise DataError(f"{where}: field '{name}' must be 0 or 1 (or null), got {value!r}")


def _implicit_prompt(chosen: list, rejected: list, where: str):
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n == 0:
        raise DataError(
            f"{where}: missing field 'prompt' (and 'chosen'/'rejected' share no leading messages "
            f"to use as an implicit prompt)"
        )
    n = min(n, len(chosen) - 1, len(rejected) - 1)
    if n == 0:
        raise DataError(f"{where}: missing field 'prompt' (implicit prompt would leave an empty response)")
    return chosen[:n], chosen[n:], rejected[n:]


_RECORD_FIELDS = ("prompt", "chosen", "rejected", "label", "true_label")


def _to_example(record: Any, index: int, where: str) -> PreferenceExample:
    if isinstance(record, PreferenceExample):
        return record
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: a record must be a JSON object (dict), got {type(record).__name__}")
    for name in ("chosen", "rejected"):
        if name not in record or record[name] is None:
            raise DataError(f"{where}: missing field '{name}'")
    chosen, rejected = record["chosen"], record["rejected"]
    prompt = record.get("prompt")
    if prompt is None:
        if not (is_conversational(chosen) and is_conversational(rejected)):
            raise DataError(f"{where}: missing field 'prompt'")
        chosen = _check_messages(chosen, "chosen", where)
        rejected = _check_messages(rejected, "rejected", where)
        prompt, chosen, rejected = _implicit_prompt(chosen, rejected, where)
    fields = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    kinds = {}
    for name, value in fields.items():
        if isinstance(value, str):
            kinds[name] = "standard"
        elif isinstance(value, (list, tuple)):
            fields[name] = _check_messages(value, name, where)
            kinds[name] = "conversational"
        else:
            raise DataError(
                f"{where}: field '{name}' must be a string or a list of messages, got {type(value).__name__}"
            )
    if len(set(kinds.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in kinds.items())
        raise DataError(f"{where}: mixed formats ({detail}); use strings for all three fields or messages for all")
    extras = {k: v for k, v in record.items() if k not in _RECORD_FIELDS}  # kept, e.g. for a cleaned copy
    return PreferenceExample(
        prompt=fields["prompt"],
        chosen=fields["chosen"],
        rejected=fields["rejected"],
        label=check_label(record.get("label"), "label", where),
        true_label=check_label(record.get("true_label"), "true_label", where),
        index=index,
        meta=extras or None,
        source=where,
    )


# --------------------------------------------------------------------------- #
