"""Preference data: loading, tokenisation with prompt masking, truncation, collators.

Formats (TRL's standard preference format)
------------------------------------------
Every record has ``prompt``, ``chosen`` and ``rejected``, and optionally ``label``
(0/1: 1 = ``chosen`` preferred, 0 = ``rejected`` preferred; missing/None = 1) and
``true_label`` (the ground truth when known, e.g. before synthetic label noise).

* **standard**: the three fields are plain strings.
* **conversational**: the three fields are lists of ``{"role", "content"}``
  messages (``prompt`` = the conversation so far, ``chosen``/``rejected`` = the
  assistant turn(s)); they are rendered with the tokenizer's chat template.
  The *implicit-prompt* variant (no ``prompt``; ``chosen`` and ``rejected`` are
  whole conversations) is accepted: the prompt is their longest common prefix of
  messages, which must end before the last message.

Sources: a ``.jsonl`` file (one record per line; blank lines ignored), a ``.json``
file (a list of records, or an object mapping split names to lists of records,
or an object of columns), a local Hugging Face ``datasets`` directory
(``load_from_disk``), a ``datasets.Dataset`` / ``DatasetDict`` object, or a list
of dicts. ``datasets`` is optional; using it without having it installed raises
an ``ImportError`` that says what to install. Malformed input raises
:class:`DataError` (a ``ValueError``) naming ``file:line`` (or the record
index) and the missing or bad field; nothing is returned half-read.

Tokenisation (:class:`PreferenceTokenizer`)
-------------------------------------------
* standard format: ``prompt_ids = [bos] + tok(prompt)`` (bos only when the
  tokenizer has one and ``add_bos``), ``response_ids = tok(response) + [eos]``
  (eos only when the tokenizer has one and ``add_eos``, and not a second time when the
  response already ends with it, as TRL does); no other special tokens. Differences from
  TRL's ``DPOTrainer`` tokenisation are listed in ``sympo_ext/integrations/README.md``.
* conversational format: ``prompt_text = chat_template(prompt, add_generation_prompt=True)``,
  ``response_text = chat_template(prompt + response)[len(prompt_text):]`` (the
  template must render the prompt as a prefix of the whole conversation; if it
  does not, a DataError says so); both texts are tokenised without adding
  special tokens (the template writes them). Every message's role must be one the
  template names (``message['role'] == '...'``) or one of the standard
  ``system``/``user``/``assistant``/``tool``: another role (``human``, ``bot``, ...)
  would be rendered as something else without a word, so it is refused with
  ``file:line``.
* Only response tokens are scored: the collators mask the prompt.

Truncation policy (counted in ``PreferenceTokenizer.stats``)
------------------------------------------------------------
1. ``max_prompt_length``: a longer prompt is truncated **from the left** (its
   last tokens, the ones next to the response, are kept; a leading bos is kept).
   Counter: ``truncated_prompt``.
2. ``max_length`` (prompt + the longer response), by ``truncation_mode``:

   * ``"keep_start"`` (default): the responses are truncated from the right to
     fit ``max_length - len(prompt)``. Counter: ``truncated_response`` (one per
     truncated response). If the prompt alone leaves no room for one response
     token (``len(prompt) >= max_length``), the pair is **skipped**
     (``skipped_too_long``), or refused with a :class:`DataError` when
     ``too_long_policy="error"``.
   * ``"keep_end"``: the prompt is truncated from the left (keeping at least
     one token) so that the whole responses fit (``truncated_prompt``); only if
     a response alone is longer than ``max_length - 1`` is it truncated from the
     right as well (``truncated_response``).

Empty and identical responses
-----------------------------
A pair whose chosen or rejected response is empty (whitespace only, or no
content in any assistant message) is counted in ``skipped_empty``; a pair whose
responses are identical (as text, or as token ids after truncation) in
``skipped_identical``. With ``empty_policy="skip"`` (default) such a pair is
skipped (``encode`` returns None) and a warning is issued the first time each
kind happens (the dataset warns a summary); with ``empty_policy="error"`` a
:class:`DataError` is raised. An empty *prompt* is allowed (with no bos, the
first response token then has no preceding position and is not scored).

Collators
---------
:class:`PaddedCollator` and :class:`PackedCollator` produce ``target_ids`` already
aligned with the logits (``target_ids[t] = input_ids[t + 1]`` when position
``t + 1`` is a response token, else -100), so
``sympo_ext.sequence_logps(logits, batch["target_ids"])`` (padded) or
``sympo_ext.sequence_logps(logits[0], batch["target_ids"], cu_seqlens=batch["cu_seqlens"])``
(packed) are the response log-probabilities. Rows/sequences: all chosen, then
all rejected.

Packed batches and Hugging Face models: call the model with
``input_ids=batch["input_ids"], position_ids=batch["position_ids"]``,
``attention_mask=None`` and ``use_cache=False``. Transformers (>= 4.5x/5.x)
detects the packed layout from the restarting ``position_ids`` and builds a
block-diagonal causal mask for the ``eager`` and ``sdpa`` attention
implementations (flash-attention uses ``cu_seqlens`` from the same position
ids), so sequences do not attend to each other; the tests check that packed and
padded log-probs agree (to 1e-6 with transformers 5.24, eager and sdpa).
``use_cache=False`` is REQUIRED: with the default ``use_cache=True`` the model
creates a cache, the detection is skipped and every token attends to all earlier
sequences of the row, silently (log-probs off by ~0.1 nats per sequence in the
tests' tiny Llama). Passing a 2D attention mask disables the detection too; for
models that do not infer packing from ``position_ids``, pass
:func:`packed_attention_mask` (a 4D block-diagonal causal mask, which HF models
use as given) instead.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = [
    "DataError",
    "EncodedPair",
    "PackedCollator",
    "PaddedCollator",
    "PreferenceDataset",
    "PreferenceExample",
    "PreferenceTokenizer",
    "is_conversational",
    "load_preference_data",
    "packed_attention_mask",
    "prepare_datasets",
]

IGNORE_INDEX = -100
STANDARD_ROLES = ("system", "user", "assistant", "tool")
# A role literal compared with a message's role in a Jinja chat template: m['role'] == 'user',
# message.role == "assistant", 'system' == m["role"], message['role'] in ['user', 'assistant'] ...
_ROLE_TEST = re.compile(r"""(?:\[\s*['"]role['"]\s*\]|\.role)\s*(?:==|!=)\s*['"]([^'"]+)['"]"""
                        r"""|['"]([^'"]+)['"]\s*(?:==|!=)\s*\w+(?:\[\s*['"]role['"]\s*\]|\.role)""")
_ROLE_IN = re.compile(r"""(?:\[\s*['"]role['"]\s*\]|\.role)\s+(?:not\s+)?in\s*[\[(]([^\])]*)[\])]""")
REQUIRED_FIELDS = ("prompt", "chosen", "rejected")
STAT_KEYS = (
    "truncated_prompt",
    "truncated_response",
    "skipped_empty",
    "skipped_identical",
    "skipped_too_long",
    "encoded",
)


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
            raise DataError(f"{where}: field '{name}[{k}]' must be a {{'role', 'content'}} message, "
                            f"got {type(m).__name__}")
        for key in ("role", "content"):
            if key not in m:
                raise DataError(f"{where}: field '{name}[{k}]' is missing '{key}'")
        if not isinstance(m["role"], str):
            raise DataError(f"{where}: field '{name}[{k}].role' must be a string")
        if not isinstance(m["content"], str):
            raise DataError(f"{where}: field '{name}[{k}].content' must be a string, "
                            f"got {type(m['content']).__name__}")
        out.append(dict(m))
    return out


def _check_label(value: Any, name: str, where: str) -> int | None:
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
        raise DataError(f"{where}: missing field 'prompt' (and 'chosen'/'rejected' share no leading messages "
                        f"to use as an implicit prompt)")
    n = min(n, len(chosen) - 1, len(rejected) - 1)
    if n == 0:
        raise DataError(f"{where}: missing field 'prompt' (implicit prompt would leave an empty response)")
    return chosen[:n], chosen[n:], rejected[n:]


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
            raise DataError(f"{where}: field '{name}' must be a string or a list of messages, "
                            f"got {type(value).__name__}")
    if len(set(kinds.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in kinds.items())
        raise DataError(f"{where}: mixed formats ({detail}); use strings for all three fields or messages for all")
    return PreferenceExample(
        prompt=fields["prompt"], chosen=fields["chosen"], rejected=fields["rejected"],
        label=_check_label(record.get("label"), "label", where),
        true_label=_check_label(record.get("true_label"), "true_label", where),
        index=index,
        source=where,
    )


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


def _import_datasets():
    try:
        import datasets  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "loading a Hugging Face dataset needs the optional 'datasets' package: pip install datasets "
            "(or give a .jsonl/.json file or a list of dicts)"
        ) from exc
    return datasets


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


# --------------------------------------------------------------------------- #
# Tokenisation
# --------------------------------------------------------------------------- #


def template_roles(template: Any) -> frozenset[str]:
    """The roles a chat template knows: the role literals it tests, plus the standard ones."""
    texts = template.values() if isinstance(template, Mapping) else [template]
    roles = set(STANDARD_ROLES)
    for text in texts:
        if not isinstance(text, str):
            continue
        for m in _ROLE_TEST.finditer(text):
            roles.add(m.group(1) or m.group(2))
        for m in _ROLE_IN.finditer(text):
            roles.update(re.findall(r"""['"]([^'"]+)['"]""", m.group(1)))
    return frozenset(roles)


def _is_empty_response(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return all(not str(m.get("content", "")).strip() for m in value)


class PreferenceTokenizer:
    """Turn :class:`PreferenceExample` s into :class:`EncodedPair` s (see the module docstring
    for the exact format, truncation and empty/identical policies).

    Args:
        tokenizer: a Hugging Face tokenizer (a chat template is needed for conversational data).
        max_length: maximum tokens of prompt + response.
        max_prompt_length: maximum prompt tokens (None: only ``max_length`` applies).
        truncation_mode: "keep_start" (truncate responses) or "keep_end" (truncate the prompt's start).
        empty_policy: "skip" or "error" for empty or identical responses.
        too_long_policy: "skip" or "error" for a prompt that leaves no room for the response.
        add_bos / add_eos: for standard (string) data, prepend bos to the prompt / append eos to
            each response when the tokenizer has them.
    """

    def __init__(
        self,
        tokenizer,
        *,
        max_length: int,
        max_prompt_length: int | None = None,
        truncation_mode: str = "keep_start",
        empty_policy: str = "skip",
        too_long_policy: str = "skip",
        add_bos: bool = True,
        add_eos: bool = True,
    ) -> None:
        if not isinstance(max_length, int) or max_length < 2:
            raise ValueError(f"max_length must be an int >= 2, got {max_length!r}")
        if max_prompt_length is not None and (not isinstance(max_prompt_length, int) or max_prompt_length < 1):
            raise ValueError(f"max_prompt_length must be a positive int or None, got {max_prompt_length!r}")
        if truncation_mode not in ("keep_start", "keep_end"):
            raise ValueError(f"truncation_mode must be 'keep_start' or 'keep_end', got {truncation_mode!r}")
        for name, value in (("empty_policy", empty_policy), ("too_long_policy", too_long_policy)):
            if value not in ("skip", "error"):
                raise ValueError(f"{name} must be 'skip' or 'error', got {value!r}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_prompt_length = max_prompt_length
        self.truncation_mode = truncation_mode
        self.empty_policy = empty_policy
        self.too_long_policy = too_long_policy
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.stats: dict[str, int] = {k: 0 for k in STAT_KEYS}
        self._warned: set[str] = set()
        self._roles: tuple | None = None  # (chat template, the roles it knows)

    # -- helpers ---------------------------------------------------------- #

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _with_eos(self, ids: list[int]) -> list[int]:
        eos = self.tokenizer.eos_token_id
        if self.add_eos and eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)
        return ids

    def _render(self, ex: PreferenceExample) -> tuple[list[int], list[int], list[int]]:
        tok = self.tokenizer
        if isinstance(ex.prompt, str):
            prompt = self._ids(ex.prompt)
            if self.add_bos and tok.bos_token_id is not None and (not prompt or prompt[0] != tok.bos_token_id):
                prompt = [tok.bos_token_id] + prompt
            return prompt, self._with_eos(self._ids(ex.chosen)), self._with_eos(self._ids(ex.rejected))
        if getattr(tok, "chat_template", None) is None:
            raise DataError(f"record {ex.index}: conversational data needs a tokenizer with a chat template")
        if self._roles is None or self._roles[0] is not tok.chat_template:
            self._roles = (tok.chat_template, template_roles(tok.chat_template))
        known = self._roles[1]
        for name, messages in (("prompt", ex.prompt), ("chosen", ex.chosen), ("rejected", ex.rejected)):
            for k, m in enumerate(messages):
                if m.get("role") not in known:
                    raise DataError(
                        f"{ex.source or f'record {ex.index}'}: field '{name}[{k}].role' is {m.get('role')!r}, a role "
                        f"the chat template does not know (known: {', '.join(sorted(known))}); rename it "
                        "(e.g. human -> user, bot -> assistant)")
        prompt_text = tok.apply_chat_template(list(ex.prompt), tokenize=False, add_generation_prompt=True)
        responses = []
        for name, resp in (("chosen", ex.chosen), ("rejected", ex.rejected)):
            full = tok.apply_chat_template(list(ex.prompt) + list(resp), tokenize=False)
            if not full.startswith(prompt_text):
                raise DataError(
                    f"record {ex.index}: the chat template does not render the prompt (with "
                    f"add_generation_prompt=True) as a prefix of prompt + '{name}'; cannot separate the response"
                )
            responses.append(self._ids(full[len(prompt_text):]))
        return self._ids(prompt_text), responses[0], responses[1]

    def _refuse_or_skip(self, kind: str, policy: str, message: str) -> None:
        self.stats[kind] += 1
        if policy == "error":
            raise DataError(message)
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"{message}; skipped (further ones are counted in stats['{kind}'])", stacklevel=3)

    def _truncate_prompt_left(self, prompt: list[int], keep: int) -> list[int]:
        bos = self.tokenizer.bos_token_id
        if keep >= 2 and bos is not None and prompt and prompt[0] == bos:
            return [bos] + prompt[len(prompt) - keep + 1:]
        return prompt[len(prompt) - keep:]

    # -- public ----------------------------------------------------------- #

    def encode(self, ex: PreferenceExample) -> EncodedPair | None:
        """Encode one pair; None when it is skipped by the empty/identical/too-long policy."""
        where = f"record {ex.index}"
        label = _check_label(ex.label, "label", where)
        true_label = _check_label(ex.true_label, "true_label", where)
        kinds = {name: isinstance(value, str) for name, value in
                 (("prompt", ex.prompt), ("chosen", ex.chosen), ("rejected", ex.rejected))}
        if len(set(kinds.values())) > 1:
            detail = ", ".join(f"{k}: {'standard' if v else 'conversational'}" for k, v in kinds.items())
            raise DataError(f"{where}: mixed formats ({detail})")
        for name, value in (("chosen", ex.chosen), ("rejected", ex.rejected)):
            if _is_empty_response(value):
                self._refuse_or_skip("skipped_empty", self.empty_policy, f"{where}: empty '{name}' response")
                return None
        if ex.chosen == ex.rejected:
            self._refuse_or_skip("skipped_identical", self.empty_policy,
                                 f"{where}: identical 'chosen' and 'rejected' responses")
            return None

        prompt, chosen, rejected = self._render(ex)
        if self.max_prompt_length is not None and len(prompt) > self.max_prompt_length:
            prompt = self._truncate_prompt_left(prompt, self.max_prompt_length)
            self.stats["truncated_prompt"] += 1

        longest = max(len(chosen), len(rejected))
        if len(prompt) + longest > self.max_length:
            if self.truncation_mode == "keep_end":
                keep = max(1, self.max_length - longest)
                if keep < len(prompt):
                    prompt = self._truncate_prompt_left(prompt, keep)
                    self.stats["truncated_prompt"] += 1
            room = self.max_length - len(prompt)
            if room < 1:
                self._refuse_or_skip(
                    "skipped_too_long", self.too_long_policy,
                    f"{where}: prompt of {len(prompt)} tokens leaves no room for a response within "
                    f"max_length={self.max_length}",
                )
                return None
            for resp in (chosen, rejected):
                if len(resp) > room:
                    del resp[room:]
                    self.stats["truncated_response"] += 1
        if chosen == rejected:
            self._refuse_or_skip("skipped_identical", self.empty_policy,
                                 f"{where}: 'chosen' and 'rejected' are identical after truncation")
            return None
        self.stats["encoded"] += 1
        return EncodedPair(
            prompt_ids=prompt, chosen_ids=chosen, rejected_ids=rejected,
            label=1 if label is None else label,
            true_label=-1 if true_label is None else true_label,
            index=ex.index,
        )

    def reset_stats(self) -> None:
        self.stats = {k: 0 for k in STAT_KEYS}


# --------------------------------------------------------------------------- #
# Dataset
# --------------------------------------------------------------------------- #


class PreferenceDataset(Dataset):
    """A list of :class:`EncodedPair` (items), with the tokenizer's ``stats`` of how it was built."""

    def __init__(self, pairs: Sequence[EncodedPair], stats: dict[str, int] | None = None) -> None:
        self.pairs = list(pairs)
        self.stats = dict(stats) if stats is not None else {}

    @classmethod
    def from_examples(cls, examples: Iterable[PreferenceExample], tokenizer: PreferenceTokenizer) -> PreferenceDataset:
        before = dict(tokenizer.stats)
        pairs = [p for p in (tokenizer.encode(ex) for ex in examples) if p is not None]
        stats = {k: tokenizer.stats[k] - before.get(k, 0) for k in tokenizer.stats}
        skipped = {k: v for k, v in stats.items() if k.startswith("skipped") and v}
        if skipped:
            warnings.warn(f"PreferenceDataset: {sum(skipped.values())} pairs skipped {skipped}; "
                          f"{len(pairs)} kept", stacklevel=2)
        if not pairs:
            raise DataError(f"no usable preference pairs (stats: {stats})")
        return cls(pairs, stats)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> EncodedPair:
        return self.pairs[i]


# --------------------------------------------------------------------------- #
# A run's data
# --------------------------------------------------------------------------- #


def prepare_datasets(config, tokenizer, train_examples=None, eval_examples=None):
    """Load, noise, split and tokenise the pairs of a run; returns (train_pairs, eval_pairs, stats).

    ``config`` carries the data options of :class:`sympo_ext.train.TrainConfig` (train_data,
    eval_data, split, label_noise, noise_*, eval_fraction, seed, max_length, ...). Every data
    error is raised here, before anything is written."""
    from .noise import inject_label_noise

    if train_examples is None:
        train_examples = load_preference_data(config.train_data, split=config.split)
    if eval_examples is None and config.eval_data:
        eval_examples = load_preference_data(config.eval_data, split=config.split)
    train_examples = list(train_examples)
    if config.label_noise > 0 or config.noise_kind == "asymmetric":
        train_examples, _ = inject_label_noise(
            train_examples, eps=config.label_noise, kind=config.noise_kind, eps_pos=config.noise_eps_pos,
            eps_neg=config.noise_eps_neg, seed=config.noise_seed)
    if eval_examples is None and config.eval_fraction > 0:
        g = torch.Generator().manual_seed(config.seed)
        order = torch.randperm(len(train_examples), generator=g).tolist()
        n_eval = max(1, int(round(config.eval_fraction * len(train_examples))))
        eval_examples = [train_examples[i] for i in sorted(order[:n_eval])]
        train_examples = [train_examples[i] for i in sorted(order[n_eval:])]
    ptok = PreferenceTokenizer(
        tokenizer, max_length=config.max_length, max_prompt_length=config.max_prompt_length,
        truncation_mode=config.truncation_mode, empty_policy=config.empty_policy,
        too_long_policy=config.too_long_policy)
    train = PreferenceDataset.from_examples(train_examples, ptok)
    stats = {"train/" + k: v for k, v in train.stats.items()}
    evals = None
    if eval_examples:
        evals = PreferenceDataset.from_examples(eval_examples, ptok)
        stats.update({"eval/" + k: v for k, v in evals.stats.items()})
    return train.pairs, (evals.pairs if evals is not None else []), stats


# --------------------------------------------------------------------------- #
# Collators
# --------------------------------------------------------------------------- #


def _sequences(batch: Sequence[EncodedPair]) -> tuple[list[list[int]], list[int]]:
    """All chosen, then all rejected: (token ids, prompt length) per sequence."""
    if len(batch) == 0:
        raise ValueError("cannot collate an empty batch")
    seqs, plens = [], []
    for attr in ("chosen_ids", "rejected_ids"):
        for p in batch:
            seqs.append(list(p.prompt_ids) + list(getattr(p, attr)))
            plens.append(len(p.prompt_ids))
    return seqs, plens


def _targets(seq: list[int], prompt_len: int) -> list[int]:
    """targets[t] = seq[t + 1] if t + 1 is a response position, else -100 (last position: -100)."""
    n = len(seq)
    return [seq[t + 1] if prompt_len <= t + 1 < n else IGNORE_INDEX for t in range(n)]


def _pair_fields(batch: Sequence[EncodedPair]) -> dict[str, torch.Tensor]:
    return {
        "labels": torch.tensor([float(p.label) for p in batch], dtype=torch.float32),
        "true_labels": torch.tensor([int(p.true_label) for p in batch], dtype=torch.long),
        "index": torch.tensor([int(p.index) for p in batch], dtype=torch.long),
    }


class PaddedCollator:
    """list[EncodedPair] -> right-padded [2B, T] batch (rows 0..B-1 chosen, B..2B-1 rejected).

    Keys: input_ids, attention_mask, target_ids (aligned with logits, -100 off-response),
    labels (float [B]), true_labels (long [B], -1 unknown), index (long [B]), num_tokens (int).
    ``pad_to_multiple_of`` (optional) rounds T up.
    """

    def __init__(self, pad_token_id: int, *, pad_to_multiple_of: int | None = None) -> None:
        if pad_token_id is None:
            raise ValueError("PaddedCollator needs a pad_token_id (e.g. tokenizer.pad_token_id or eos_token_id)")
        self.pad_token_id = int(pad_token_id)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, batch: Sequence[EncodedPair]) -> dict[str, Any]:
        seqs, plens = _sequences(batch)
        T = max(len(s) for s in seqs)
        if self.pad_to_multiple_of:
            T = -(-T // self.pad_to_multiple_of) * self.pad_to_multiple_of
        n = len(seqs)
        input_ids = torch.full((n, T), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, T), dtype=torch.long)
        target_ids = torch.full((n, T), IGNORE_INDEX, dtype=torch.long)
        for r, (s, pl) in enumerate(zip(seqs, plens)):
            input_ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            attention_mask[r, : len(s)] = 1
            target_ids[r, : len(s)] = torch.tensor(_targets(s, pl), dtype=torch.long)
        out: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask, "target_ids": target_ids}
        out.update(_pair_fields(batch))
        out["num_tokens"] = int(attention_mask.sum())
        return out


class PackedCollator:
    """list[EncodedPair] -> one padding-free row: all chosen, then all rejected, concatenated.

    Keys: input_ids [1, L], position_ids [1, L] (restart at 0 per sequence), target_ids [L]
    (aligned with logits; -100 on prompt positions and on each sequence's last token),
    cu_seqlens int32 [2B + 1] (CPU), labels, true_labels, index, num_tokens (= L).
    """

    def __call__(self, batch: Sequence[EncodedPair]) -> dict[str, Any]:
        seqs, plens = _sequences(batch)
        ids: list[int] = []
        pos: list[int] = []
        tgt: list[int] = []
        cu = [0]
        for s, pl in zip(seqs, plens):
            ids.extend(s)
            pos.extend(range(len(s)))
            tgt.extend(_targets(s, pl))
            cu.append(cu[-1] + len(s))
        out: dict[str, Any] = {
            "input_ids": torch.tensor(ids, dtype=torch.long).unsqueeze(0),
            "position_ids": torch.tensor(pos, dtype=torch.long).unsqueeze(0),
            "target_ids": torch.tensor(tgt, dtype=torch.long),
            "cu_seqlens": torch.tensor(cu, dtype=torch.int32),
        }
        out.update(_pair_fields(batch))
        out["num_tokens"] = len(ids)
        return out


def packed_attention_mask(cu_seqlens: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A 4D additive block-diagonal causal mask [1, 1, L, L] for a packed row (0 where attention
    is allowed, the dtype's minimum elsewhere); for models that do not infer packing from
    ``position_ids``. Memory is O(L^2): meant for small batches and tests."""
    cu = cu_seqlens.long().cpu()
    L = int(cu[-1])
    seq = torch.repeat_interleave(torch.arange(cu.numel() - 1), cu[1:] - cu[:-1])
    same = seq[:, None] == seq[None, :]
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    mask = torch.zeros(L, L, dtype=dtype).masked_fill(~(same & causal), torch.finfo(dtype).min)
    return mask[None, None]
