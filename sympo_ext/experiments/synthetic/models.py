"""The synthetic task's vocabulary, word tokenizer and tiny Llama; sampling and SFT (see the package docstring)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence

import torch

from ...data import EncodedPair, PaddedCollator

TOPICS: dict[str, tuple[str, ...]] = {
    "ocean": ("wave", "tide", "coral", "shell", "reef", "whale", "salt", "shore", "boat", "fish", "sand", "gull"),
    "forest": ("tree", "leaf", "moss", "pine", "oak", "fern", "bark", "owl", "trail", "root", "deer", "acorn"),
    "space": (
        "star",
        "orbit",
        "comet",
        "planet",
        "moon",
        "rocket",
        "galaxy",
        "nebula",
        "alien",
        "meteor",
        "probe",
        "crater",
    ),
    "food": ("bread", "soup", "apple", "cheese", "rice", "honey", "spice", "pie", "salad", "noodle", "plum", "butter"),
}
FILLER_WORDS = (
    "the",
    "a",
    "and",
    "of",
    "with",
    "very",
    "some",
    "many",
    "big",
    "small",
    "old",
    "new",
    "bright",
    "quiet",
    "soft",
    "warm",
    "green",
    "blue",
    "near",
    "far",
)
BAD_WORDS = ("hate", "ugly", "stupid", "boring", "awful", "trash", "gross", "nasty", "lame", "dumb", "bad", "worst")
PROMPT_VERBS = ("write", "tell", "talk", "describe")
PROMPT_TAILS = ("please", "now", "briefly", "today")
# Words of the instruction: echoing them in a response is penalised like a bad word.
ECHO_WORDS = PROMPT_VERBS + ("about",) + PROMPT_TAILS
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>")

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|> {{ m['content'] }} "
    "{% elif m['role'] == 'user' %}<|user|> {{ m['content'] }} "
    "{% else %}<|assistant|> {{ m['content'] }} {{ eos_token }} {% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _vocabulary() -> list[str]:
    words = list(SPECIAL_TOKENS) + list(PROMPT_VERBS) + ["about"] + list(PROMPT_TAILS)
    for topic, topic_words in TOPICS.items():
        words.append(topic)
        words.extend(topic_words)
    words.extend(FILLER_WORDS)
    words.extend(BAD_WORDS)
    assert len(words) == len(set(words)), "duplicate words in the synthetic vocabulary"
    return words


def build_tokenizer():
    """A word-level ``PreTrainedTokenizerFast`` (whitespace split, ``<unk>`` for unknown words) with
    bos ``<s>``, eos ``</s>``, pad ``<pad>`` and :data:`CHAT_TEMPLATE`. Adds no special tokens
    when called on text (the chat template writes them)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(_vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<|user|>", "<|assistant|>", "<|system|>"],
        model_max_length=256,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_llama(
    tokenizer,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
    intermediate_size: int | None = None,
    max_position_embeddings: int = 128,
    attn_implementation: str = "sdpa",
):
    """A randomly initialised ``LlamaForCausalLM`` sized for the tokenizer (seeded; the global RNG
    is left untouched)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    config._attn_implementation = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


# --------------------------------------------------------------------------- #
# Generation
# --------------------------------------------------------------------------- #


# Sampling from the model's whole distribution: no top-k or nucleus truncation.
PURE_SAMPLING = dict(do_sample=True, top_k=0, top_p=1.0)


@contextlib.contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _prompt_ids(tokenizer, prompts: Sequence[str]) -> list[list[int]]:
    out = []
    for p in prompts:
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        out.append(list(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return out


@torch.no_grad()
def generate_responses(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    seed: int = 0,
    max_new_tokens: int = 12,
    temperature: float = 1.0,
    batch_size: int = 512,
    suppress_ids: Sequence[int] | None = None,
    min_new_tokens: int = 1,
) -> list[list[int]]:
    """Sample one response per prompt (pure sampling, seeded; the global RNG is left untouched).
    ``suppress_ids``: token ids never sampled (default: every special token but eos);
    ``min_new_tokens``: eos is not sampled before that many tokens (default 1: no empty response).
    Returns the response token ids up to (excluding) the first eos."""
    ids = _prompt_ids(tokenizer, prompts)
    if suppress_ids is None:
        suppress_ids = [i for i in tokenizer.all_special_ids if i != tokenizer.eos_token_id]
    suppress = list(suppress_ids) or None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[list[int]] = []
    try:
        with _seeded(seed):
            for start in range(0, len(ids), batch_size):
                chunk = ids[start : start + batch_size]
                P = max(len(x) for x in chunk)
                input_ids = torch.full((len(chunk), P), tokenizer.pad_token_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), P), dtype=torch.long)
                for r, x in enumerate(chunk):  # left padding
                    input_ids[r, P - len(x) :] = torch.tensor(x)
                    mask[r, P - len(x) :] = 1
                gen = model.generate(
                    input_ids=input_ids.to(device),
                    attention_mask=mask.to(device),
                    max_new_tokens=max_new_tokens,
                    min_new_tokens=min_new_tokens,
                    temperature=temperature,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    suppress_tokens=suppress,
                    **PURE_SAMPLING,
                )[:, P:].tolist()
                for row in gen:
                    if tokenizer.eos_token_id in row:
                        row = row[: row.index(tokenizer.eos_token_id)]
                    out.append(row)
    finally:
        model.train(was_training)
    return out


# --------------------------------------------------------------------------- #
# SFT helpers
# --------------------------------------------------------------------------- #


def encode_sft(tokenizer, examples: Sequence[dict], *, max_length: int = 64) -> list[EncodedPair]:
    """Encode prompt/completion examples (conversational, as from :meth:`SyntheticTask.sft_examples`)
    as ``EncodedPair`` s whose ``chosen_ids`` is the completion (``rejected_ids`` is empty), so the
    padded collator's chosen rows carry prompt-masked targets."""

    def ids(text: str) -> list[int]:  # the chat template writes the special tokens
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    out = []
    for i, ex in enumerate(examples):
        prompt_text = tokenizer.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(list(ex["prompt"]) + list(ex["completion"]), tokenize=False)
        prompt = ids(prompt_text)
        completion = ids(full[len(prompt_text) :])[: max(1, max_length - len(prompt))]
        out.append(EncodedPair(prompt_ids=prompt, chosen_ids=completion, rejected_ids=[], index=i))
    return out


def _shuffled_batches(n: int, batch_size: int, steps: int, rng: random.Random):
    """``steps`` batches of indices into ``n`` items: epochs of a fresh shuffle, concatenated."""
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            perm = list(range(n))
            rng.shuffle(perm)
            order.extend(perm)
        idx, order = order[:batch_size], order[batch_size:]
        yield idx


def sft_train(
    model,
    tokenizer,
    examples: Sequence[dict],
    *,
    steps: int = 100,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    weight_decay: float = 0.0,
) -> list[float]:
    """Briefly fine-tune ``model`` in place on prompt/completion examples (token-mean cross-entropy
    on the completion tokens only; AdamW, constant lr). Returns the loss per step."""
    pairs = encode_sft(tokenizer, examples)
    collate = PaddedCollator(tokenizer.pad_token_id)
    device = next(model.parameters()).device
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    losses = []
    for idx in _shuffled_batches(len(pairs), batch_size, steps, rng):
        batch = collate([pairs[i] for i in idx])
        B = len(idx)  # only the chosen rows (the rejected rows are prompt-only)
        logits = model(
            input_ids=batch["input_ids"][:B].to(device),
            attention_mask=batch["attention_mask"][:B].to(device),
            use_cache=False,
        ).logits
        targets = batch["target_ids"][:B].to(device)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


# --------------------------------------------------------------------------- #
# The task
# --------------------------------------------------------------------------- #
