"""What test_trl.py and its 2-process worker (_ddp_train.py, run as a script) share: the preference
rows and the options of a short TRL run on the CPU."""

from __future__ import annotations

import random


def preference_rows(tokenizer, n: int = 24, seed: int = 0) -> list[dict]:
    """``n`` random (prompt, chosen, rejected) rows over the tokenizer's words."""
    words = sorted(w for w in tokenizer.get_vocab() if not w.startswith("<"))
    rng = random.Random(seed)

    def sentence(lo, hi):
        return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))

    return [{"prompt": sentence(3, 8), "chosen": sentence(2, 7), "rejected": sentence(2, 7)} for _ in range(n)]


def trl_options(output_dir: str, *, max_steps: int, per_device_train_batch_size: int, **overrides) -> dict:
    """The TrainingArguments of a short, deterministic CPU run (DPOConfig / SymPOConfig keywords)."""
    options = dict(
        output_dir=output_dir,
        report_to="none",
        max_steps=max_steps,
        per_device_train_batch_size=per_device_train_batch_size,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        seed=0,
        max_length=32,
        beta=0.1,
        bf16=False,
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    options.update(overrides)
    return options
