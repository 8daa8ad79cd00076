"""sympo-train's tokenisation (sympo_ext.data.PreferenceTokenizer) vs TRL DPOTrainer's.

A byte-level BPE tokenizer is trained here with the ``tokenizers`` package (nothing
downloaded). Where the two agree, prompt / chosen / rejected token ids must be identical;
the documented differences (sympo_ext/integrations/README.md, "Tokenisation") are asserted
exactly, so the documentation cannot drift from the behaviour.
"""

from __future__ import annotations

import random

import pytest

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
tokenizers = pytest.importorskip("tokenizers")

from sympo_ext.data import PreferenceTokenizer, load_preference_data
from sympo_ext.experiments.synthetic import build_tiny_llama

SPECIALS = ["<s>", "</s>", "<pad>", "<|user|>", "<|assistant|>"]
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
WORDS = "the cat sat on a mat and then it ran far away from home to find some food in the town square".split()

PLAIN = [
    {"prompt": "the cat sat", "chosen": " on a mat.", "rejected": " far away!"},
    {"prompt": "then it ran", "chosen": " to the town square?", "rejected": " home 42"},
    {"prompt": "find some", "chosen": " food.</s>", "rejected": " home"},  # eos already written: not doubled
]
CONVERSATIONAL = [
    {
        "prompt": [{"role": "user", "content": "the cat sat?"}],
        "chosen": [{"role": "assistant", "content": "on a mat."}],
        "rejected": [{"role": "assistant", "content": "far away!"}],
    },
    {
        "prompt": [
            {"role": "user", "content": "where to?"},
            {"role": "assistant", "content": "home"},
            {"role": "user", "content": "and then?"},
        ],
        "chosen": [{"role": "assistant", "content": "the town square"}],
        "rejected": [{"role": "assistant", "content": "it ran far away: yes"}],
    },
]
TRAILING_SPACE = [{"prompt": "Answer: ", "chosen": "yes", "rejected": "no"}]


def byte_level_bpe(*, bos_in_post_processor: bool):
    """A GPT-2-style byte-level BPE tokenizer trained on a tiny corpus; with
    ``bos_in_post_processor`` it adds bos itself like Llama's, without it it adds nothing like GPT-2's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(0)
    corpus = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + rng.choice([".", "?", "!", ": yes", " 42"])
        for _ in range(300)
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=SPECIALS,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    if bos_in_post_processor:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=["<|user|>", "<|assistant|>"],
    )
    fast.chat_template = TEMPLATE
    return fast


def trl_encoding(tokenizer, rows, tmp_path):
    """(prompt_ids, chosen_ids, rejected_ids) per row, as TRL's DPOTrainer prepares its dataset."""
    args = trl.DPOConfig(output_dir=str(tmp_path / "trl"), report_to="none", max_length=None, use_cpu=True, bf16=False)
    trainer = trl.DPOTrainer(
        model=build_tiny_llama(tokenizer),
        ref_model=build_tiny_llama(tokenizer),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    return [(r["prompt_ids"], r["chosen_ids"], r["rejected_ids"]) for r in trainer.train_dataset]


def sympo_encoding(tokenizer, rows, **kwargs):
    encoder = PreferenceTokenizer(tokenizer, max_length=1024, **kwargs)
    pairs = [encoder.encode(ex) for ex in load_preference_data(rows)]
    return [(p.prompt_ids, p.chosen_ids, p.rejected_ids) for p in pairs]


@pytest.fixture(scope="module")
def llama_like():
    return byte_level_bpe(bos_in_post_processor=True)


@pytest.fixture(scope="module")
def gpt2_like():
    return byte_level_bpe(bos_in_post_processor=False)


def test_plain_data_matches_trl(llama_like, tmp_path):
    want = trl_encoding(llama_like, PLAIN, tmp_path)
    got = sympo_encoding(llama_like, PLAIN)
    assert got == want
    bos, eos = llama_like.bos_token_id, llama_like.eos_token_id
    for prompt, chosen, rejected in got:
        assert prompt[0] == bos and prompt.count(bos) == 1
        assert chosen[-1] == eos and chosen.count(eos) == 1 and rejected[-1] == eos and rejected.count(eos) == 1


def test_conversational_data_matches_trl(llama_like, tmp_path):
    want = trl_encoding(llama_like, CONVERSATIONAL, tmp_path)
    got = sympo_encoding(llama_like, CONVERSATIONAL)
    assert got == want
    assistant = llama_like.convert_tokens_to_ids("<|assistant|>")
    for prompt, chosen, _ in got:
        assert prompt[-2] == assistant  # the split is right after the generation prompt "<|assistant|>\n"
        assert llama_like.decode(chosen).endswith("</s>\n")


def test_bos_difference_for_tokenizers_that_add_none(gpt2_like, tmp_path):
    """TRL keeps whatever the tokenizer adds (GPT-2-style: nothing); sympo-train prepends bos to
    standard prompts whenever the tokenizer has one, unless add_bos=False."""
    want = trl_encoding(gpt2_like, PLAIN, tmp_path)
    got = sympo_encoding(gpt2_like, PLAIN)
    bos = gpt2_like.bos_token_id
    assert [(p[1:], c, r) for p, c, r in got] == want and all(p[0] == bos for p, _, _ in got)
    assert all(p[0] != bos for p, _, _ in want)
    assert sympo_encoding(gpt2_like, PLAIN, add_bos=False) == want


def test_split_difference_when_tokens_merge_across_the_boundary(llama_like, tmp_path):
    """TRL tokenises prompt + response as one string and splits where it stops matching the
    prompt's own tokens; sympo-train tokenises them apart. A prompt ending in a space: TRL moves
    the space into the responses ('Ġyes'), sympo keeps it as the prompt's last token."""
    [(trl_prompt, trl_chosen, trl_rejected)] = trl_encoding(llama_like, TRAILING_SPACE, tmp_path)
    [(prompt, chosen, rejected)] = sympo_encoding(llama_like, TRAILING_SPACE)
    tokens = llama_like.convert_ids_to_tokens
    assert tokens(prompt)[-1] == "Ġ" and tokens(trl_prompt) == tokens(prompt)[:-1]
    assert tokens(trl_chosen)[0] == "Ġyes" and tokens(chosen)[0] == "yes"
    assert tokens(trl_rejected)[0] == "Ġ" and tokens(rejected)[0] != "Ġ"
    for ours, theirs in ((prompt + chosen, trl_prompt + trl_chosen), (prompt + rejected, trl_prompt + trl_rejected)):
        assert llama_like.decode(ours) == llama_like.decode(theirs)  # same text, different tokens
