"""Chat tokenisation of preference pairs (prompt masking, truncation, empty/identical policies) and the dataset."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch.utils.data import Dataset

from .schema import DataError, EncodedPair, PreferenceExample, check_label

STANDARD_ROLES = ("system", "user", "assistant", "tool")
# A role literal compared with a message's role in a Jinja chat template: m['role'] == 'user',
# message.role == "assistant", 'system' == m["role"], message['role'] in ['user', 'assistant'] ...
_ROLE_TEST = re.compile(
    r"""(?:\[\s*['"]role['"]\s*\]|\.role)\s*(?:==|!=)\s*['"]([^'"]+)['"]"""
    r"""|['"]([^'"]+)['"]\s*(?:==|!=)\s*\w+(?:\[\s*['"]role['"]\s*\]|\.role)"""
)
_ROLE_IN = re.compile(r"""(?:\[\s*['"]role['"]\s*\]|\.role)\s+(?:not\s+)?in\s*[\[(]([^\])]*)[\])]""")
DATA_STAT_KEYS = (
    "truncated_prompt",
    "truncated_response",
    "skipped_empty",
    "skipped_identical",
    "skipped_too_long",
    "encoded",
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
        self.max_length, self.max_prompt_length, self.truncation_mode = max_length, max_prompt_length, truncation_mode
        self.empty_policy, self.too_long_policy = empty_policy, too_long_policy
        self.add_bos, self.add_eos = add_bos, add_eos
        self.stats: dict[str, int] = {k: 0 for k in DATA_STAT_KEYS}
        self._warned: set[str] = set()
        self._roles: tuple | None = None  # (chat template, the roles it knows)
        self._rendered_roles: dict[int, dict[str, str | None]] = {}  # template id -> role -> rendered as

    # -- helpers ---------------------------------------------------------- #

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _with_eos(self, ids: list[int]) -> list[int]:
        eos = self.tokenizer.eos_token_id
        if self.add_eos and eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)
        return ids

    def _rendered_as(self, role: str) -> str | None:
        """The other role the chat template renders a ``role`` turn as (a template with no branch for
        'tool' may print it as an assistant turn), or None when it renders it as itself. Measured once
        per role by rendering a probe turn both ways."""
        if role in ("user", "assistant"):
            return None
        cache = self._rendered_roles.setdefault(id(self.tokenizer.chat_template), {})
        if role not in cache:
            cache[role] = None

            def render(r):
                turns = [{"role": "user", "content": "probe question"}, {"role": r, "content": "probe turn"}]
                try:
                    return self.tokenizer.apply_chat_template(turns, tokenize=False)
                except Exception:
                    return None

            mine = render(role)
            for other in ("assistant", "user", "system"):
                if other != role and mine is not None and mine == render(other):
                    cache[role] = other
                    break
        return cache[role]

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
                where = f"{ex.source or f'record {ex.index}'}: field '{name}[{k}].role' is {m.get('role')!r}"
                if m.get("role") not in known:
                    raise DataError(
                        f"{where}, a role the chat template does not know (known: {', '.join(sorted(known))}); "
                        "rename it (e.g. human -> user, bot -> assistant)"
                    )
                if (relabelled := self._rendered_as(m["role"])) is not None:
                    raise DataError(
                        f"{where}, but the chat template renders it as {relabelled!r} (it has no turn of its own "
                        f"for that role); rename or drop those messages, or use a template that renders "
                        f"{m['role']!r} turns"
                    )
        for name, resp in (("chosen", ex.chosen), ("rejected", ex.rejected)):
            if resp[0].get("role") in ("user", "system"):
                raise DataError(
                    f"{ex.source or f'record {ex.index}'}: field '{name}[0].role' is {resp[0]['role']!r}: a "
                    "response must be an assistant turn (the prompt holds the user's turns)"
                )
        prompt_text = tok.apply_chat_template(list(ex.prompt), tokenize=False, add_generation_prompt=True)
        responses = []
        for name, resp in (("chosen", ex.chosen), ("rejected", ex.rejected)):
            full = tok.apply_chat_template(list(ex.prompt) + list(resp), tokenize=False)
            if not full.startswith(prompt_text):
                raise DataError(
                    f"{ex.source or f'record {ex.index}'}: the chat template does not render the prompt (with "
                    f"add_generation_prompt=True) as a prefix of prompt + '{name}'; cannot separate the response"
                )
            responses.append(self._ids(full[len(prompt_text) :]))
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
            return [bos] + prompt[len(prompt) - keep + 1 :]
        return prompt[len(prompt) - keep :]

    # -- public ----------------------------------------------------------- #

    def encode(self, ex: PreferenceExample) -> EncodedPair | None:
        """Encode one pair; None when it is skipped by the empty/identical/too-long policy."""
        where = ex.source or f"record {ex.index}"  # file:line when read from a file, as the loader's errors
        label = check_label(ex.label, "label", where)
        true_label = check_label(ex.true_label, "true_label", where)
        kinds = {
            name: isinstance(value, str)
            for name, value in (("prompt", ex.prompt), ("chosen", ex.chosen), ("rejected", ex.rejected))
        }
        if len(set(kinds.values())) > 1:
            detail = ", ".join(f"{k}: {'standard' if v else 'conversational'}" for k, v in kinds.items())
            raise DataError(f"{where}: mixed formats ({detail})")
        for name, value in (("chosen", ex.chosen), ("rejected", ex.rejected)):
            if _is_empty_response(value):
                self._refuse_or_skip("skipped_empty", self.empty_policy, f"{where}: empty '{name}' response")
                return None
        if ex.chosen == ex.rejected:
            self._refuse_or_skip(
                "skipped_identical", self.empty_policy, f"{where}: identical 'chosen' and 'rejected' responses"
            )
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
                    "skipped_too_long",
                    self.too_long_policy,
                    f"{where}: prompt of {len(prompt)} tokens leaves no room for a response within "
                    f"max_length={self.max_length}",
                )
                return None
            for resp in (chosen, rejected):
                if len(resp) > room:
                    del resp[room:]
                    self.stats["truncated_response"] += 1
        if chosen == rejected:
            self._refuse_or_skip(
                "skipped_identical",
                self.empty_policy,
                f"{where}: 'chosen' and 'rejected' are identical after truncation",
            )
            return None
        self.stats["encoded"] += 1
        return EncodedPair(
            prompt_ids=prompt,
            chosen_ids=chosen,
            rejected_ids=rejected,
            label=1 if label is None else label,
            true_label=-1 if true_label is None else true_label,
            index=ex.index,
        )

    def reset_stats(self) -> None:
        self.stats = {k: 0 for k in DATA_STAT_KEYS}


# --------------------------------------------------------------------------- #
# Dataset
# --------------------------------------------------------------------------- #


class PreferenceDataset(Dataset):
    """A list of :class:`EncodedPair` (items), with the tokenizer's ``stats`` of how it was built."""

    def __init__(self, pairs: Sequence[EncodedPair], stats: dict[str, int] | None = None) -> None:
        self.pairs = list(pairs)
        self.stats = dict(stats) if stats is not None else {}

    @classmethod
    def from_examples(
        cls, examples: Iterable[PreferenceExample], tokenizer: PreferenceTokenizer, *, where: str | None = None
    ) -> PreferenceDataset:
        """Encode ``examples``; a DataError (prefixed with ``where``, e.g. the option and file) when none is usable."""
        before = dict(tokenizer.stats)
        pairs = [p for p in (tokenizer.encode(ex) for ex in examples) if p is not None]
        stats = {k: tokenizer.stats[k] - before.get(k, 0) for k in tokenizer.stats}
        skipped = {k: v for k, v in stats.items() if k.startswith("skipped") and v}
        if skipped:
            warnings.warn(
                f"PreferenceDataset: {sum(skipped.values())} pairs skipped {skipped}; {len(pairs)} kept", stacklevel=2
            )
        if not pairs:
            raise DataError(f"{where + ': ' if where else ''}no usable preference pairs (stats: {stats})")
        return cls(pairs, stats)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> EncodedPair:
        return self.pairs[i]
