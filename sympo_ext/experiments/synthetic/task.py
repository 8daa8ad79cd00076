"""The synthetic task (prompts, true reward, preference pairs, evaluation), a DPO run through the trainer, the self-check."""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Sequence
from typing import Any

import torch

from ...data import PreferenceExample
from ..common import in_memory_config
from .models import (
    BAD_WORDS,
    ECHO_WORDS,
    FILLER_WORDS,
    PROMPT_TAILS,
    PROMPT_VERBS,
    SPECIAL_TOKENS,
    TOPICS,
    build_tiny_llama,
    build_tokenizer,
    generate_responses,
    sft_train,
)


def win_rate_from_rewards(a: Sequence[float], b: Sequence[float]) -> float:
    """Fraction of positions where ``a`` beats ``b``; ties count half."""
    if len(a) != len(b) or not len(a):
        raise ValueError(f"win_rate_from_rewards: need two equal, non-empty lists (got {len(a)} and {len(b)})")
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in zip(a, b)) / len(a)


class SyntheticTask:
    """The synthetic preference task (see the module docstring). ``seed`` seeds the prompt/SFT draws;
    every method also takes its own seed where it samples."""

    def __init__(
        self,
        seed: int = 0,
        *,
        bt_scale: float | None = 10.0,
        max_new_tokens: int = 12,
        p_on: tuple[float, float] = (0.2, 0.7),
        p_bad: tuple[float, float] = (0.0, 0.4),
        n_topics: int = len(TOPICS),
        constrained: bool = True,
    ) -> None:
        self.seed, self.constrained = seed, constrained
        self.p_on, self.p_bad = p_on, p_bad
        self.bt_scale, self.max_new_tokens = bt_scale, max_new_tokens
        self.topics = list(TOPICS)[:n_topics]
        self.prompts = [f"{v} about {t} {tail}" for t in self.topics for v in PROMPT_VERBS for tail in PROMPT_TAILS]
        self._good = {t: set(ws) | {t} for t, ws in TOPICS.items()}
        self._bad = set(BAD_WORDS) | set(ECHO_WORDS)
        self._tables: dict[int, tuple[torch.Tensor, ...]] = {}

    # -- prompts and rewards ---------------------------------------------- #

    def topic_of(self, prompt: str | Sequence[dict]) -> str | None:
        if not isinstance(prompt, str):
            prompt = " ".join(m["content"] for m in prompt if m.get("role") == "user")
        for w in prompt.split():
            if w in TOPICS:
                return w
        return None

    def sample_prompts(self, n: int, *, seed: int | None = None) -> list[str]:
        """``n`` prompts, stratified: consecutive seeded permutations of all prompts (so every prompt
        and topic appears equally often, up to one partial cycle)."""
        rng = random.Random(self.seed if seed is None else seed)
        out: list[str] = []
        while len(out) < n:
            cycle = list(self.prompts)
            rng.shuffle(cycle)
            out.extend(cycle)
        return out[:n]

    def true_reward(self, prompt: str | Sequence[dict], response: str | Sequence[dict]) -> float:
        """``(#on-topic - #bad) / #words``; -1 for an empty response (special tokens ignored)."""
        if not isinstance(response, str):
            response = " ".join(m["content"] for m in response if m.get("role") == "assistant")
        words = [w for w in response.split() if w not in SPECIAL_TOKENS]
        if not words:
            return -1.0
        topic = self.topic_of(prompt)
        good = self._good.get(topic, set())
        return (sum(w in good for w in words) - sum(w in self._bad for w in words)) / len(words)

    def _token_tables(self, tokenizer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        key = id(tokenizer)
        if key not in self._tables:
            V = len(tokenizer)
            vocab = tokenizer.get_vocab()
            topic_of_token = torch.full((V,), -1, dtype=torch.long)  # which topic's good set it is in
            topic_name = torch.full((V,), -1, dtype=torch.long)  # topic index of a topic-name token
            is_bad = torch.zeros(V, dtype=torch.bool)
            is_special = torch.zeros(V, dtype=torch.bool)
            for k, (t, words) in enumerate(TOPICS.items()):
                topic_name[vocab[t]] = k
                for w in (t, *words):
                    topic_of_token[vocab[w]] = k
            for w in BAD_WORDS + ECHO_WORDS:
                is_bad[vocab[w]] = True
            for i in tokenizer.all_special_ids:
                is_special[i] = True
            self._tables[key] = (topic_of_token, topic_name, is_bad, is_special)
        return self._tables[key]

    def true_reward_ids(self, tokenizer, prompt_ids: torch.Tensor, response_ids: torch.Tensor) -> torch.Tensor:
        """Batched true reward from token ids: ``prompt_ids`` [N, P] (any padding), ``response_ids``
        [N, R] (read up to the first eos; special tokens ignored). Returns float32 [N]."""
        topic_of_token, topic_name, is_bad, is_special = self._token_tables(tokenizer)
        prompt_ids = torch.as_tensor(prompt_ids).long().cpu()
        response_ids = torch.as_tensor(response_ids).long().cpu()
        topic = topic_name[prompt_ids].max(dim=1).values  # -1 when no topic word
        before_eos = (response_ids == tokenizer.eos_token_id).long().cumsum(1) == 0
        words = before_eos & ~is_special[response_ids]
        n = words.sum(1)
        good = (words & (topic_of_token[response_ids] == topic[:, None]) & (topic[:, None] >= 0)).sum(1)
        bad = (words & is_bad[response_ids]).sum(1)
        r = (good - bad).float() / n.clamp(min=1).float()
        return torch.where(n > 0, r, torch.full_like(r, -1.0))

    # -- SFT data ----------------------------------------------------------- #

    def sample_response(self, topic: str, rng: random.Random) -> str:
        """One mediocre, diverse response (the SFT distribution)."""
        p_on, p_bad = rng.uniform(*self.p_on), rng.uniform(*self.p_bad)
        others = [w for t, ws in TOPICS.items() if t != topic for w in ws]
        words = []
        for _ in range(rng.randint(4, 10)):
            u = rng.random()
            if u < p_on:
                words.append(rng.choice(TOPICS[topic]))
            elif u < p_on + p_bad:
                words.append(rng.choice(BAD_WORDS))
            elif rng.random() < 0.5:
                words.append(rng.choice(others))
            else:
                words.append(rng.choice(FILLER_WORDS))
        return " ".join(words)

    def sft_examples(self, n: int, *, seed: int | None = None) -> list[dict[str, Any]]:
        """``n`` conversational prompt/completion examples (TRL's format:
        ``{"prompt": [user message], "completion": [assistant message]}``)."""
        rng = random.Random(1_000_003 + (self.seed if seed is None else seed))
        out = []
        for _ in range(n):
            prompt = rng.choice(self.prompts)
            response = self.sample_response(self.topic_of(prompt), rng)
            out.append(
                {
                    "prompt": [{"role": "user", "content": prompt}],
                    "completion": [{"role": "assistant", "content": response}],
                }
            )
        return out

    # -- pairs and evaluation ---------------------------------------------- #

    def suppressed_ids(self, tokenizer) -> list[int]:
        """Token ids the task never samples: all but eos when ``constrained`` (only response words
        and eos are sampled), else the special tokens but eos."""
        if not self.constrained:
            return [i for i in tokenizer.all_special_ids if i != tokenizer.eos_token_id]
        allowed = {w for ws in TOPICS.values() for w in ws} | set(FILLER_WORDS) | set(BAD_WORDS)
        vocab = tokenizer.get_vocab()
        return sorted(i for w, i in vocab.items() if w not in allowed and i != tokenizer.eos_token_id)

    def _sample(self, policy, tokenizer, prompts, seed, max_new_tokens):
        ids = generate_responses(
            policy,
            tokenizer,
            prompts,
            seed=seed,
            suppress_ids=self.suppressed_ids(tokenizer),
            max_new_tokens=max_new_tokens or self.max_new_tokens,
        )
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
        texts = [" ".join(t.split()) for t in texts]
        return texts, [self.true_reward(p, t) for p, t in zip(prompts, texts)]

    def preference_pairs(
        self, policy, tokenizer, n: int, *, seed: int = 0, max_new_tokens: int | None = None
    ) -> list[PreferenceExample]:
        """``n`` conversational pairs: two responses per prompt sampled from ``policy``, ordered by a
        Bradley-Terry draw on the true rewards (``chosen`` = the winner, ``label = true_label = 1``;
        ``meta`` holds ``chosen_reward``, ``rejected_reward``, ``topic``)."""
        prompts = self.sample_prompts(n, seed=seed)
        texts, rewards = self._sample(policy, tokenizer, prompts + prompts, seed, max_new_tokens)
        rng = random.Random(seed * 7919 + 17)
        out = []
        for i, p in enumerate(prompts):
            (a, ra), (b, rb) = (texts[i], rewards[i]), (texts[n + i], rewards[n + i])
            if self.bt_scale is None:
                a_wins = ra > rb or (ra == rb and rng.random() < 0.5)
            else:
                a_wins = rng.random() < 1.0 / (1.0 + math.exp(-self.bt_scale * (ra - rb)))
            if not a_wins:
                (a, ra), (b, rb) = (b, rb), (a, ra)
            out.append(
                PreferenceExample(
                    prompt=[{"role": "user", "content": p}],
                    chosen=[{"role": "assistant", "content": a}],
                    rejected=[{"role": "assistant", "content": b}],
                    label=1,
                    true_label=1,
                    index=i,
                    meta={"chosen_reward": ra, "rejected_reward": rb, "topic": self.topic_of(p)},
                )
            )
        return out

    def evaluate(
        self,
        policy,
        tokenizer,
        n_prompts: int = 256,
        *,
        seed: int = 12345,
        max_new_tokens: int | None = None,
        prompts: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Mean true reward of one sampled response per prompt (``prompts``, or ``n_prompts`` drawn
        with ``seed`` by :meth:`sample_prompts`; responses sampled with ``seed``)."""
        if prompts is None:
            prompts = self.sample_prompts(n_prompts, seed=seed)
        prompts = list(prompts)
        texts, rewards = self._sample(policy, tokenizer, prompts, seed, max_new_tokens)
        return {"true_reward": sum(rewards) / len(rewards), "rewards": rewards, "responses": texts, "prompts": prompts}

    def win_rate(
        self,
        policy,
        reference,
        tokenizer,
        n_prompts: int = 256,
        *,
        seed: int = 12345,
        max_new_tokens: int | None = None,
    ) -> dict[str, float]:
        """Win rate of ``policy`` against ``reference`` on the same prompts (one sample each), judged
        by the true reward; ties count half. The two samples use different seeds (``seed``, ``seed + 1``)."""
        prompts = self.sample_prompts(n_prompts, seed=seed)
        pol = self.evaluate(policy, tokenizer, seed=seed, max_new_tokens=max_new_tokens, prompts=prompts)
        ref = self.evaluate(reference, tokenizer, seed=seed + 1, max_new_tokens=max_new_tokens, prompts=prompts)
        return {
            "win_rate": win_rate_from_rewards(pol["rewards"], ref["rewards"]),
            "policy_reward": pol["true_reward"],
            "reference_reward": ref["true_reward"],
        }


# --------------------------------------------------------------------------- #
# Self-check: does plain DPO on clean pairs raise the true reward?
# --------------------------------------------------------------------------- #


# What dpo_train fixes: the frozen reference model, the logits path, a constant learning rate, no clipping.
_PLAIN_DPO = dict(
    reference="model", logps_path="logits", warmup_ratio=0.0, min_lr_ratio=1.0, max_grad_norm=0.0, max_length=64
)


def dpo_train(
    policy,
    reference,
    tokenizer,
    examples,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    beta: float,
    loss_type: str = "logistic",
    seed: int = 0,
) -> list[float]:
    """Plain DPO (or any ``loss_type``) for the self-check and the tests: the project's
    :class:`~sympo_ext.train.trainer.Trainer` with a frozen ``reference``, padded batches, the
    logits path, AdamW at a constant learning rate, no clipping. Trains ``policy`` in place and
    returns the loss per step."""
    from ...train.trainer import Trainer

    config = in_memory_config(
        loss_type=loss_type,
        beta=beta,
        learning_rate=lr,
        batch_size=batch_size,
        max_steps=steps,
        seed=seed,
        **_PLAIN_DPO,
    )
    result = Trainer(config, model=policy, tokenizer=tokenizer, ref_model=reference, train_examples=examples).train()
    policy.eval()
    return [row["loss"] for row in result.history if row["split"] == "train"]


def self_check(
    *,
    seed: int = 0,
    sft_steps: int = 100,
    dpo_steps: int = 120,
    n_pairs: int = 512,
    batch_size: int = 32,
    beta: float = 0.1,
    lr: float = 1e-3,
    n_eval: int = 512,
    verbose: bool = True,
    task_kwargs: dict | None = None,
) -> dict[str, float]:
    """SFT a reference, sample clean pairs, train a policy with DPO, report the true reward."""
    import copy

    t0 = time.perf_counter()
    task = SyntheticTask(seed, **(task_kwargs or {}))
    tok = build_tokenizer()
    ref = build_tiny_llama(tok, seed=seed)
    r_init = task.evaluate(ref, tok, n_eval)["true_reward"]
    sft_losses = sft_train(ref, tok, task.sft_examples(4096), steps=sft_steps, seed=seed)
    t_sft = time.perf_counter()
    r_ref = task.evaluate(ref, tok, n_eval)["true_reward"]
    pairs = task.preference_pairs(ref, tok, n_pairs, seed=seed + 1)
    t_pairs = time.perf_counter()
    policy = copy.deepcopy(ref)
    dpo_losses = dpo_train(policy, ref, tok, pairs, steps=dpo_steps, batch_size=batch_size, lr=lr, beta=beta, seed=seed)
    t_dpo = time.perf_counter()
    r_pol = task.evaluate(policy, tok, n_eval)["true_reward"]
    wr = task.win_rate(policy, ref, tok, n_eval)["win_rate"]
    out = {
        "reward_random_init": r_init,
        "reward_reference": r_ref,
        "reward_policy": r_pol,
        "win_rate": wr,
        "sft_loss_first": sft_losses[0],
        "sft_loss_last": sum(sft_losses[-10:]) / 10,
        "dpo_loss_first": sum(dpo_losses[:10]) / 10,
        "dpo_loss_last": sum(dpo_losses[-10:]) / 10,
        "pair_reward_gap": sum(p.meta["chosen_reward"] - p.meta["rejected_reward"] for p in pairs) / len(pairs),
        "time_sft_s": t_sft - t0,
        "time_pairs_s": t_pairs - t_sft,
        "time_dpo_s": t_dpo - t_pairs,
        "time_total_s": time.perf_counter() - t0,
    }
    if verbose:
        for k, v in out.items():
            print(f"{k:>20}: {v:.4f}")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--self-check", action="store_true", help="SFT + DPO on clean pairs; print true rewards")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sft-steps", type=int, default=100)
    parser.add_argument("--dpo-steps", type=int, default=120)
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: fastest for this tiny model, above all on a busy machine)",
    )
    args = parser.parse_args(argv)
    if args.self_check:
        torch.set_num_threads(args.threads)
        same_names = {k: getattr(args, k) for k in ("seed", "sft_steps", "dpo_steps", "beta", "lr")}
        out = self_check(n_pairs=args.pairs, **same_names)
        gain = out["reward_policy"] - out["reward_reference"]
        print(f"{'OK' if gain > 0.1 else 'FAILED'}: DPO on clean pairs changed the true reward by {gain:+.3f}")
        if gain <= 0.1:
            raise SystemExit(1)
    else:
        parser.print_help()


if __name__ == "__main__":
    main()
