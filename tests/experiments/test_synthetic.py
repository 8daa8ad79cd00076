"""sympo_ext.experiments.synthetic: tokenizer, tiny Llama, true reward, pairs, evaluation, and that DPO learns the task."""

from __future__ import annotations

import copy
import random
import time
import warnings

import pytest
import torch
from train.conftest import _one_thread, tok  # noqa: F401  (the trainer tests' fixtures)

from sympo_ext.data import PreferenceDataset, PreferenceTokenizer
from sympo_ext.experiments.synthetic import (
    BAD_WORDS,
    FILLER_WORDS,
    TOPICS,
    SyntheticTask,
    build_tiny_llama,
    build_tokenizer,
    dpo_train,
    generate_responses,
    sft_train,
    win_rate_from_rewards,
)


@pytest.fixture(scope="module")
def task():
    return SyntheticTask(0)


@pytest.fixture(scope="module")
def model(tok):
    return build_tiny_llama(tok, seed=0)


def test_tokenizer(tok):
    assert len(tok) == 100
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == ("<s>", "</s>", "<pad>", "<unk>")
    text = "wave tide hate the"
    ids = tok(text)["input_ids"]
    assert len(ids) == 4 and tok.decode(ids) == text  # no special tokens added, words joined by spaces
    assert tok("wave zebra")["input_ids"][1] == tok.unk_token_id
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "write about ocean please"}], tokenize=False, add_generation_prompt=True
    )
    assert (
        tok.convert_ids_to_tokens(tok(rendered)["input_ids"])
        == "<s> <|user|> write about ocean please <|assistant|>".split()
    )
    full = tok.apply_chat_template(
        [{"role": "user", "content": "write"}, {"role": "assistant", "content": "wave"}], tokenize=False
    )
    assert tok.convert_ids_to_tokens(tok(full)["input_ids"])[-3:] == ["<|assistant|>", "wave", "</s>"]
    assert build_tokenizer().get_vocab() == tok.get_vocab()  # deterministic


def test_tiny_llama(tok):
    torch.manual_seed(123)
    before = torch.rand(2)
    torch.manual_seed(123)
    a = build_tiny_llama(tok, seed=3)
    assert torch.equal(torch.rand(2), before)  # global RNG untouched
    b, c = build_tiny_llama(tok, seed=3), build_tiny_llama(tok, seed=4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    cfg = a.config
    assert (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (100, 64, 2, 4)
    assert sum(p.numel() for p in a.parameters()) < 200_000
    out = a(input_ids=torch.tensor([[1, 4, 7]]), use_cache=False).logits
    assert out.shape == (1, 3, 100)


def test_true_reward(task):
    p = "write about ocean please"
    assert task.true_reward(p, "wave tide") == 1.0
    assert task.true_reward(p, "wave hate") == 0.0
    assert task.true_reward(p, "wave the the the") == 0.25
    assert task.true_reward(p, "ocean star") == 0.5  # topic name on-topic, other topics neutral
    assert task.true_reward(p, "hate ugly") == -1.0
    assert task.true_reward(p, "please wave") == 0.0  # echoing the instruction is penalised
    assert task.true_reward(p, "") == -1.0 and task.true_reward(p, "  ") == -1.0
    assert task.true_reward(p, "wave <pad> tide") == 1.0  # special tokens ignored
    assert task.true_reward(p, "wave zebra") == 0.5  # unknown words neutral
    assert task.true_reward("write about food please", "wave tide") == 0.0
    conv_p = [{"role": "user", "content": p}]
    assert task.true_reward(conv_p, [{"role": "assistant", "content": "wave hate tide"}]) == pytest.approx(1 / 3)
    # monotone: replacing a neutral word by an on-topic word never lowers the reward
    assert task.true_reward(p, "wave the") < task.true_reward(p, "wave coral")
    assert task.true_reward(p, "hate the") < task.true_reward(p, "the the")


def test_true_reward_ids_matches_text(tok, task):
    rng = random.Random(0)
    vocab = list(tok.get_vocab())
    prompts = [rng.choice(task.prompts) for _ in range(200)]
    prompt_ids = [
        tok(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True))[
            "input_ids"
        ]
        for p in prompts
    ]
    responses = [
        [tok.convert_tokens_to_ids(rng.choice(vocab)) for _ in range(rng.randint(0, 10))]
        + [tok.eos_token_id]
        + [tok.convert_tokens_to_ids(rng.choice(vocab)) for _ in range(2)]
        for _ in prompts
    ]
    R = max(len(r) for r in responses)
    resp = torch.full((len(prompts), R), tok.pad_token_id)
    for i, r in enumerate(responses):
        resp[i, : len(r)] = torch.tensor(r)
    got = task.true_reward_ids(tok, torch.tensor(prompt_ids), resp)
    want = [task.true_reward(p, tok.decode(r[: r.index(tok.eos_token_id)])) for p, r in zip(prompts, responses)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32))


def test_sft_examples(task):
    ex = task.sft_examples(400)
    assert ex == task.sft_examples(400) and ex != task.sft_examples(400, seed=1)
    assert ex[0]["prompt"][0]["role"] == "user" and ex[0]["completion"][0]["role"] == "assistant"
    words = set(w for topic, ws in TOPICS.items() for w in ws) | set(FILLER_WORDS) | set(BAD_WORDS)
    rewards = []
    for e in ex:
        resp = e["completion"][0]["content"].split()
        assert 4 <= len(resp) <= 10 and set(resp) <= words
        rewards.append(task.true_reward(e["prompt"], e["completion"]))
    mean = sum(rewards) / len(rewards)
    assert 0.15 < mean < 0.35  # mediocre
    assert len(set(rewards)) > 20  # diverse


def test_generation_is_seeded_and_fast(tok, task, model):
    prompts = task.sample_prompts(1024, seed=0)
    t0 = time.perf_counter()
    a = generate_responses(model, tok, prompts, seed=5, max_new_tokens=12)
    elapsed = time.perf_counter() - t0
    b = generate_responses(model, tok, prompts, seed=5, max_new_tokens=12)
    assert a == b and len(a) == 1024
    assert generate_responses(model, tok, prompts[:64], seed=6) != a[:64]
    specials = set(tok.all_special_ids)
    assert all(1 <= len(r) <= 12 and not (set(r) & specials) for r in a)
    assert elapsed < 20, f"sampling 1024 responses took {elapsed:.1f}s"
    # the task's constrained decoding: only response words (and eos) are sampled
    allowed = {w for ws in TOPICS.values() for w in ws} | set(FILLER_WORDS) | set(BAD_WORDS)
    texts = task.evaluate(model, tok, 256, seed=2)["responses"]
    assert set(" ".join(texts).split()) <= allowed
    free = SyntheticTask(0, constrained=False).evaluate(model, tok, 256, seed=2)["responses"]
    assert set(" ".join(free).split()) - allowed


def test_preference_pairs(tok, task, model):
    t0 = time.perf_counter()
    pairs = task.preference_pairs(model, tok, 512, seed=1)
    elapsed = time.perf_counter() - t0
    assert len(pairs) == 512 and elapsed < 20, f"512 pairs took {elapsed:.1f}s"
    for i, ex in enumerate(pairs[:50]):
        assert ex.index == i and ex.label == 1 and ex.true_label == 1 and ex.conversational
        assert ex.meta["chosen_reward"] == task.true_reward(ex.prompt, ex.chosen)
        assert ex.meta["rejected_reward"] == task.true_reward(ex.prompt, ex.rejected)
        assert ex.meta["topic"] == task.topic_of(ex.prompt)
    again = task.preference_pairs(model, tok, 512, seed=1)
    assert [(e.chosen, e.rejected) for e in again] == [(e.chosen, e.rejected) for e in pairs]
    # Bradley-Terry: the winner has the higher reward far more often than not
    gaps = [e.meta["chosen_reward"] - e.meta["rejected_reward"] for e in pairs]
    decided = [g for g in gaps if g != 0]
    assert sum(g > 0 for g in decided) / len(decided) > 0.75
    exact = SyntheticTask(0, bt_scale=None).preference_pairs(model, tok, 128, seed=1)
    assert all(e.meta["chosen_reward"] >= e.meta["rejected_reward"] for e in exact)
    # the pairs tokenise (a few identical or empty samples may be skipped, counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = PreferenceDataset.from_examples(pairs, PreferenceTokenizer(tok, max_length=32))
    assert len(ds) >= 505 and ds.stats["skipped_empty"] == 0  # min_new_tokens=1: no empty response


def test_win_rate_and_evaluate(tok, task, model):
    assert win_rate_from_rewards([1, 0, 0.5], [0, 0, 1]) == pytest.approx(0.5)  # win, tie (half), loss
    assert win_rate_from_rewards([1.0], [1.0]) == 0.5
    with pytest.raises(ValueError):
        win_rate_from_rewards([1.0], [])
    ev = task.evaluate(model, tok, 64, seed=3)
    assert set(ev) >= {"true_reward", "rewards", "responses", "prompts"} and len(ev["rewards"]) == 64
    assert ev["true_reward"] == pytest.approx(sum(ev["rewards"]) / 64)
    assert task.evaluate(model, tok, seed=3, prompts=ev["prompts"]) == ev
    prompts = task.sample_prompts(128, seed=0)
    assert sorted(prompts[:64]) == sorted(task.prompts) and prompts == task.sample_prompts(128, seed=0)
    wr = task.win_rate(model, copy.deepcopy(model), tok, 64, seed=3)
    assert 0.0 <= wr["win_rate"] <= 1.0 and set(wr) == {"win_rate", "policy_reward", "reference_reward"}


@pytest.mark.slow
def test_sft_then_dpo_raises_true_reward(tok):
    """The task is learnable: SFT moves the reference to the SFT data's level, then a short run of plain
    DPO (sym_loss 'logistic' + sequence_logps) on clean pairs raises the true reward clearly."""
    task = SyntheticTask(0)
    ref = build_tiny_llama(tok, seed=0)
    r0 = task.evaluate(ref, tok, 256)["true_reward"]
    losses = sft_train(ref, tok, task.sft_examples(2048), steps=100, seed=0)
    assert sum(losses[-10:]) / 10 < losses[0] - 0.5
    r_ref = task.evaluate(ref, tok, 256)["true_reward"]
    pairs = task.preference_pairs(ref, tok, 256, seed=1)
    policy = copy.deepcopy(ref)
    dpo = dpo_train(policy, ref, tok, pairs, steps=40, batch_size=32, lr=1e-3, beta=0.1)
    r_pol = task.evaluate(policy, tok, 256)["true_reward"]
    print(f"true reward: init {r0:.3f}, SFT reference {r_ref:.3f}, DPO policy {r_pol:.3f}")
    assert r_ref > r0 + 0.1, (r0, r_ref)
    assert sum(dpo[-5:]) / 5 < sum(dpo[:5]) / 5
    assert r_pol > r_ref + 0.2, (r_ref, r_pol)
