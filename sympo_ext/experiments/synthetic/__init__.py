"""A synthetic preference task with a computable true reward, a local tokenizer and a tiny Llama.

Nothing is downloaded; everything is seeded and sized for CPUs (2 cores: building
the task and sampling 512 pairs takes a few seconds).

The task
--------
* Vocabulary (word level, 100 tokens): 4 **topics** (``ocean``, ``forest``,
  ``space``, ``food``), each with 12 on-topic words (``ocean``: ``wave``, ``tide``,
  ``coral`` ...); 20 neutral filler words (``the``, ``very``, ``bright`` ...); 12
  **bad** words (``hate``, ``ugly``, ...); 9 instruction words (``write tell talk
  describe about please now briefly today``); special tokens ``<pad> <s> </s> <unk>
  <|user|> <|assistant|> <|system|>``.
* A **prompt** is one user message ``"<verb> about <topic> <tail>"`` (64 prompts,
  e.g. ``"write about ocean please"``); with the chat template it is 7 tokens:
  ``<s> <|user|> write about ocean please <|assistant|>``.
* A **response** is a sequence of words (the assistant message; the chat template
  ends it with ``</s>``). The task samples with **constrained decoding**
  (``constrained=True``, the default): only the 80 response words (topic, filler
  and bad words) and ``</s>`` can be sampled, and ``</s>`` not first (no empty
  response). Without it, DPO-style training on
  this tiny model moves probability mass onto tokens that never occur in any
  response (topic names, instruction words), a real but seed-dependent drift that
  made clean-label runs vary from +0.02 to +0.53 in true reward (seeds 0-1, DPO and
  SymPO); constrained, the learning signal is the preference signal alone (clean
  DPO, 120 steps: +0.52 to +0.67 over seeds 0-2, to 0.84-0.89).
* **True reward** of a response with ``n`` words (special tokens ignored)::

      r = (#on-topic words - #penalised words) / n      in [-1, 1];   r = -1 for an empty response

  on-topic = the prompt topic's 12 words and the topic name; penalised = the bad
  words and the instruction words (echoing the instruction is not an answer);
  everything else (filler, other topics) is neutral. Monotone and simple: more
  on-topic words and fewer bad ones is better; length does not matter.
* The **SFT data** (to fine-tune the reference briefly) are diverse but mediocre:
  4-10 words, each on-topic with probability ``p_on ~ U(0.2, 0.7)``, bad with
  ``p_bad ~ U(0, 0.4)`` (drawn per response), otherwise an other-topic or filler
  word (50/50); their mean true reward is about 0.25. A reference fine-tuned for
  100 steps samples responses of true reward 0.20-0.32 (seeds 0-2; the maximum is 1).
* **Preference pairs**: two responses sampled from a policy per prompt (HF
  ``generate``, pure sampling, temperature 1); the pair is ordered by a
  Bradley-Terry draw ``P(a preferred) = sigmoid(bt_scale * (r_a - r_b))``
  (``bt_scale=10`` by default; ``None``: by the reward, ties broken at random);
  ``chosen`` = the winner, ``label = true_label = 1``; the true rewards go into
  ``meta``.
* **Evaluation**: the mean true reward of sampled responses; the win rate of a
  policy against a reference on the same prompts, judged by the true reward
  (ties count half).

Speed: on a loaded 2-core machine, use ``torch.set_num_threads(1)``: this tiny
model is dominated by per-op overhead, and 2 threads competing with other
processes were 5-8x slower here.

Self-check (not a test): ``python -m sympo_ext.experiments.synthetic --self-check`` SFTs a
reference, samples clean pairs from it, trains a policy with plain DPO (the
trainer with ``loss_type="logistic"``, constant learning rate) and prints the
true reward before/after.
"""

from .models import (
    BAD_WORDS,
    CHAT_TEMPLATE,
    FILLER_WORDS,
    TOPICS,
    build_tiny_llama,
    build_tokenizer,
    encode_sft,
    generate_responses,
    sft_train,
)
from .task import SyntheticTask, dpo_train, main, self_check, win_rate_from_rewards

__all__ = [
    "BAD_WORDS",
    "CHAT_TEMPLATE",
    "FILLER_WORDS",
    "TOPICS",
    "SyntheticTask",
    "build_tiny_llama",
    "build_tokenizer",
    "dpo_train",
    "encode_sft",
    "generate_responses",
    "main",
    "self_check",
    "sft_train",
    "win_rate_from_rewards",
]
