"""Collators: padded and packed batches with targets aligned to the logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .schema import IGNORE_INDEX, EncodedPair

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
