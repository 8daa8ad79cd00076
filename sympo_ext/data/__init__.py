"""Preference data: loading, tokenisation with prompt masking, truncation, collators.

Modules: ``schema`` (records, validation), ``loading`` (files and datasets), ``tokenization``
(:class:`PreferenceTokenizer`, :class:`PreferenceDataset`), ``collate`` (the collators). Turning a
run's config into datasets (noise, eval split) is the trainer's: ``sympo_ext.train.datasets``.

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

from .collate import PackedCollator, PaddedCollator, packed_attention_mask
from .loading import load_preference_data
from .schema import IGNORE_INDEX, REQUIRED_FIELDS, DataError, EncodedPair, PreferenceExample, is_conversational
from .tokenization import DATA_STAT_KEYS, STANDARD_ROLES, PreferenceDataset, PreferenceTokenizer, template_roles

__all__ = [
    "DATA_STAT_KEYS",
    "DataError",
    "EncodedPair",
    "IGNORE_INDEX",
    "PackedCollator",
    "PaddedCollator",
    "PreferenceDataset",
    "PreferenceExample",
    "PreferenceTokenizer",
    "REQUIRED_FIELDS",
    "STANDARD_ROLES",
    "is_conversational",
    "load_preference_data",
    "packed_attention_mask",
    "template_roles",
]
