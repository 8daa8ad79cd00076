"""sympo_ext.data collators: padded and packed layouts, log-probs on a tiny Llama."""

from __future__ import annotations

import pytest
import torch

from sympo_ext import reference
from sympo_ext.data import (
    EncodedPair,
    PackedCollator,
    PaddedCollator,
    PreferenceTokenizer,
    load_preference_data,
    packed_attention_mask,
)
from sympo_ext.experiments.synthetic import build_tiny_llama

from .helpers import conv


def _pairs():
    return [
        EncodedPair([1, 10, 11], [20, 21, 2], [30, 2], label=1, true_label=1, index=4),
        EncodedPair([1, 12], [22, 2], [31, 32, 33, 34, 2], label=0, true_label=-1, index=9),
    ]


def test_padded_collator_layout():
    b = PaddedCollator(0)(_pairs())
    assert b["input_ids"].shape == (4, 7) and b["input_ids"].dtype == torch.long
    assert b["input_ids"].tolist() == [
        [1, 10, 11, 20, 21, 2, 0],
        [1, 12, 22, 2, 0, 0, 0],
        [1, 10, 11, 30, 2, 0, 0],
        [1, 12, 31, 32, 33, 34, 2],
    ]
    assert b["attention_mask"].tolist()[1] == [1, 1, 1, 1, 0, 0, 0]
    x = -100
    assert b["target_ids"].tolist() == [
        [x, x, 20, 21, 2, x, x],
        [x, 22, 2, x, x, x, x],
        [x, x, 30, 2, x, x, x],
        [x, 31, 32, 33, 34, 2, x],
    ]
    assert b["labels"].dtype == torch.float32 and b["labels"].tolist() == [1.0, 0.0]
    assert b["true_labels"].tolist() == [1, -1] and b["index"].tolist() == [4, 9]
    assert b["num_tokens"] == 6 + 4 + 5 + 7
    assert PaddedCollator(0, pad_to_multiple_of=8)(_pairs())["input_ids"].shape == (4, 8)
    with pytest.raises(ValueError):
        PaddedCollator(0)([])


def test_packed_collator_layout():
    b = PackedCollator()(_pairs())
    lens = [6, 4, 5, 7]
    assert b["input_ids"].shape == (1, 22) and b["position_ids"].shape == (1, 22)
    assert b["cu_seqlens"].dtype == torch.int32 and b["cu_seqlens"].tolist() == [0, 6, 10, 15, 22]
    assert b["position_ids"][0].tolist() == [i for n in lens for i in range(n)]
    padded = PaddedCollator(0)(_pairs())
    for r, n in enumerate(lens):
        s = b["cu_seqlens"][r].item()
        assert b["input_ids"][0, s : s + n].tolist() == padded["input_ids"][r, :n].tolist()
        assert b["target_ids"][s : s + n].tolist() == padded["target_ids"][r, :n].tolist()
        assert b["target_ids"][s + n - 1].item() == -100
    assert b["num_tokens"] == 22 and b["labels"].tolist() == [1.0, 0.0] and b["index"].tolist() == [4, 9]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padded_and_packed_logps_agree_on_llama(tok, attn):
    """The padded batch and the packed row give the same response log-probs through a tiny Llama:
    packing works via position_ids (use_cache=False) or an explicit 4D block-diagonal mask."""
    exs = load_preference_data(
        [
            conv("write about ocean please", "wave tide coral", "ugly"),
            conv("tell about food now", "soup", "hate bad awful trash"),
            conv("describe about space today", "star moon", "star comet"),
        ]
    )
    pairs = [PreferenceTokenizer(tok, max_length=32).encode(e) for e in exs]
    model = build_tiny_llama(tok, seed=1, attn_implementation=attn).eval()
    padded, packed = PaddedCollator(tok.pad_token_id)(pairs), PackedCollator()(pairs)
    with torch.no_grad():
        logits = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"], use_cache=False).logits
        want = reference.sequence_logps(logits, padded["target_ids"])

        def packed_logps(**kw):
            out = model(input_ids=packed["input_ids"], use_cache=False, **kw).logits[0]
            return reference.sequence_logps(out, packed["target_ids"], cu_seqlens=packed["cu_seqlens"])

        by_positions = packed_logps(position_ids=packed["position_ids"])
        by_mask = packed_logps(
            position_ids=packed["position_ids"], attention_mask=packed_attention_mask(packed["cu_seqlens"])
        )
        no_boundaries = packed_logps()  # without position ids the sequences see each other
    torch.testing.assert_close(by_positions, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(by_mask, want, atol=1e-5, rtol=1e-5)
    assert (no_boundaries - want)[1:].abs().max() > 1e-3
    assert want.shape == (6,) and bool((want < 0).all())


def test_sequence_logps_on_collated_targets_counts_response_tokens_only(tok):
    pairs = _pairs()
    b = PaddedCollator(0)(pairs)
    logits = torch.randn(4, 7, 40, dtype=torch.float64)
    got = reference.sequence_logps(logits, b["target_ids"])
    lp = logits.log_softmax(-1)
    seqs = [p.prompt_ids + p.chosen_ids for p in pairs] + [p.prompt_ids + p.rejected_ids for p in pairs]
    plens = [len(p.prompt_ids) for p in pairs] * 2
    want = [sum(lp[r, t - 1, s[t]] for t in range(pl, len(s))) for r, (s, pl) in enumerate(zip(seqs, plens))]
    torch.testing.assert_close(got, torch.stack(want))
