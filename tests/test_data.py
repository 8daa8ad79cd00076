"""sympo_ext.data: loading, validation, tokenisation (masking, truncation, policies), collators."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from sympo_ext import reference
from sympo_ext.data import (
    DataError,
    EncodedPair,
    PackedCollator,
    PaddedCollator,
    PreferenceDataset,
    PreferenceExample,
    PreferenceTokenizer,
    load_preference_data,
    packed_attention_mask,
)
from sympo_ext.train.synthetic import build_tiny_llama, build_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def msgs(role, content):
    return [{"role": role, "content": content}]


def conv(prompt, chosen, rejected, **kw):
    return dict(prompt=msgs("user", prompt), chosen=msgs("assistant", chosen), rejected=msgs("assistant", rejected),
                **kw)


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def write_jsonl(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


def test_load_jsonl_both_formats(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"prompt": "write about ocean", "chosen": "wave tide", "rejected": "ugly", "label": 0},
        "",  # blank lines are ignored
        conv("write about ocean", "wave", "hate", true_label=1),
        {"prompt": "p", "chosen": "a", "rejected": "b", "label": True, "true_label": None},
    ])
    exs = load_preference_data(path)
    assert [e.index for e in exs] == [0, 1, 2]
    assert exs[0].label == 0 and exs[0].true_label is None and exs[0].chosen == "wave tide"
    assert exs[1].conversational and exs[1].label is None and exs[1].true_label == 1
    assert exs[1].prompt == [{"role": "user", "content": "write about ocean"}]
    assert exs[2].label == 1


def test_load_json_list_splits_columns_and_dicts(tmp_path):
    rec = {"prompt": "p", "chosen": "a", "rejected": "b"}
    (tmp_path / "list.json").write_text(json.dumps([rec, rec]))
    assert len(load_preference_data(tmp_path / "list.json")) == 2
    (tmp_path / "splits.json").write_text(json.dumps({"train": [rec] * 3, "test": [rec]}))
    assert len(load_preference_data(tmp_path / "splits.json", split="train")) == 3
    with pytest.raises(DataError, match="several splits"):
        load_preference_data(tmp_path / "splits.json")
    with pytest.raises(DataError, match="no split 'dev'"):
        load_preference_data(tmp_path / "splits.json", split="dev")
    cols = {"prompt": ["p", "q"], "chosen": ["a", "c"], "rejected": ["b", "d"]}
    (tmp_path / "cols.json").write_text(json.dumps(cols))
    exs = load_preference_data(tmp_path / "cols.json")
    assert [(e.prompt, e.chosen, e.rejected) for e in exs] == [("p", "a", "b"), ("q", "c", "d")]
    assert len(load_preference_data([rec, dict(rec, label=0)])) == 2


def test_implicit_prompt_conversational():
    user = {"role": "user", "content": "hi"}
    ex = load_preference_data([{"chosen": [user, {"role": "assistant", "content": "a"}],
                                "rejected": [user, {"role": "assistant", "content": "b"}]}])[0]
    assert ex.prompt == [user] and ex.chosen == [{"role": "assistant", "content": "a"}]


def test_hf_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [conv("write about ocean", "wave", "hate", label=1), conv("write about food", "soup", "ugly", label=0)]
    ds = datasets.Dataset.from_list(rows)
    exs = load_preference_data(ds)
    assert len(exs) == 2 and exs[1].label == 0 and exs[0].conversational
    dd = datasets.DatasetDict(train=ds, test=ds.select([0]))
    assert len(load_preference_data(dd, split="test")) == 1
    dd.save_to_disk(str(tmp_path / "saved"))
    assert len(load_preference_data(tmp_path / "saved", split="train")) == 2


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}, '{"prompt": "p", '])
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        load_preference_data(path)


@pytest.mark.parametrize("missing", ["prompt", "chosen", "rejected"])
def test_missing_field_names_file_line_and_field(tmp_path, missing):
    rec = {"prompt": "p", "chosen": "a", "rejected": "b"}
    bad = {k: v for k, v in rec.items() if k != missing}
    path = write_jsonl(tmp_path / "m.jsonl", [rec, rec, bad])
    with pytest.raises(DataError, match=rf"m\.jsonl:3: missing field '{missing}'"):
        load_preference_data(path)


@pytest.mark.parametrize("value", [2, -1, 0.5, "1", [1], float("nan")])
def test_non_binary_label_refused(tmp_path, value):
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b", "label": value}) + "\n")
    with pytest.raises(DataError, match=r"l\.jsonl:1: field 'label' must be 0 or 1"):
        load_preference_data(path)
    with pytest.raises(DataError, match="field 'true_label' must be 0 or 1"):
        load_preference_data([{"prompt": "p", "chosen": "a", "rejected": "b", "true_label": value}])


@pytest.mark.parametrize("record, match", [
    ({"prompt": "p", "chosen": 3, "rejected": "b"}, "field 'chosen' must be a string or a list of messages"),
    ({"prompt": "p", "chosen": [{"role": "assistant"}], "rejected": "b"}, r"'chosen\[0\]' is missing 'content'"),
    ({"prompt": "p", "chosen": msgs("assistant", "a"), "rejected": msgs("assistant", "b")}, "mixed formats"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_records(record, match):
    with pytest.raises(DataError, match=match):
        load_preference_data([record])


def test_label_types():
    import numpy as np

    base = {"prompt": "p", "chosen": "a", "rejected": "b"}
    labels = [e.label for e in load_preference_data([dict(base, label=v) for v in
                                                    (np.int64(0), np.float32(1.0), torch.tensor(0), 1.0, False)])]
    assert labels == [0, 1, 0, 1, 0]


def test_bad_files(tmp_path):
    (tmp_path / "latin.jsonl").write_bytes(b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": "\xe9"}\n')
    with pytest.raises(DataError, match=r"latin\.jsonl:2: not UTF-8"):
        load_preference_data(tmp_path / "latin.jsonl")
    (tmp_path / "one.json").write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}))
    with pytest.raises(DataError, match="single record"):
        load_preference_data(tmp_path / "one.json")
    (tmp_path / "broken.json").write_text('[{"prompt": "p",\n "chosen": }]')
    with pytest.raises(DataError, match=r"broken\.json:2: invalid JSON"):
        load_preference_data(tmp_path / "broken.json")
    (tmp_path / "rec.json").write_text(json.dumps([{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "p"}]))
    with pytest.raises(DataError, match=r"rec\.json record 1: missing field 'chosen'"):
        load_preference_data(tmp_path / "rec.json")


def test_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_preference_data(tmp_path / "nope.jsonl")
    (tmp_path / "d.csv").write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        load_preference_data(tmp_path / "d.csv")
    with pytest.raises(TypeError):
        load_preference_data(42)


# --------------------------------------------------------------------------- #
# Tokenisation
# --------------------------------------------------------------------------- #


def test_encode_standard_format(tok):
    pt = PreferenceTokenizer(tok, max_length=32)
    p = pt.encode(PreferenceExample("write about ocean", "wave tide", "ugly", label=0, true_label=1, index=7))
    assert p.prompt_ids == [tok.bos_token_id] + ids(tok, "write about ocean")
    assert p.chosen_ids == ids(tok, "wave tide") + [tok.eos_token_id]
    assert p.rejected_ids == ids(tok, "ugly") + [tok.eos_token_id]
    assert (p.label, p.true_label, p.index) == (0, 1, 7)
    p2 = PreferenceTokenizer(tok, max_length=32, add_bos=False, add_eos=False).encode(
        PreferenceExample("write", "wave", "ugly"))
    assert p2.prompt_ids == ids(tok, "write") and p2.chosen_ids == ids(tok, "wave")
    assert (p2.label, p2.true_label) == (1, -1)


def test_encode_conversational_uses_chat_template(tok):
    pt = PreferenceTokenizer(tok, max_length=32)
    ex = load_preference_data([conv("write about ocean please", "wave tide", "ugly")])[0]
    p = pt.encode(ex)
    full = tok.apply_chat_template(ex.prompt + ex.chosen, tokenize=False)
    assert p.prompt_ids + p.chosen_ids == ids(tok, full)
    assert tok.convert_ids_to_tokens(p.prompt_ids) == ["<s>", "<|user|>", "write", "about", "ocean", "please",
                                                       "<|assistant|>"]
    assert tok.convert_ids_to_tokens(p.chosen_ids) == ["wave", "tide", "</s>"]
    assert pt.stats["encoded"] == 1


def test_truncation_keep_start(tok):
    pt = PreferenceTokenizer(tok, max_length=8, max_prompt_length=4)
    p = pt.encode(PreferenceExample("write about ocean please now", "wave tide coral shell reef", "ugly"))
    # prompt: bos kept, then its last 3 tokens; responses cut to 8 - 4 = 4 tokens
    assert p.prompt_ids == [tok.bos_token_id] + ids(tok, "ocean please now")
    assert p.chosen_ids == ids(tok, "wave tide coral shell")
    assert p.rejected_ids == ids(tok, "ugly") + [tok.eos_token_id]
    assert pt.stats["truncated_prompt"] == 1 and pt.stats["truncated_response"] == 1


def test_truncation_keep_end(tok):
    pt = PreferenceTokenizer(tok, max_length=8, truncation_mode="keep_end")
    p = pt.encode(PreferenceExample("write about ocean please now", "wave tide coral", "ugly"))
    # responses kept whole (4 tokens with eos): prompt keeps bos + its last 3 tokens
    assert p.chosen_ids == ids(tok, "wave tide coral") + [tok.eos_token_id]
    assert p.prompt_ids == [tok.bos_token_id] + ids(tok, "ocean please now")
    assert pt.stats["truncated_prompt"] == 1 and pt.stats["truncated_response"] == 0
    # a response alone longer than max_length - 1 is cut too
    p = pt.encode(PreferenceExample("write", "wave tide coral shell reef whale salt shore boat", "ugly"))
    assert len(p.prompt_ids) + len(p.chosen_ids) == 8 and pt.stats["truncated_response"] == 1


def test_prompt_longer_than_max_length(tok):
    ex = PreferenceExample("write about ocean please now today", "wave", "ugly", index=3)
    pt = PreferenceTokenizer(tok, max_length=5)
    with pytest.warns(UserWarning, match="leaves no room"):
        assert pt.encode(ex) is None
    assert pt.stats["skipped_too_long"] == 1 and pt.stats["encoded"] == 0
    with pytest.raises(DataError, match="record 3: prompt of 7 tokens leaves no room"):
        PreferenceTokenizer(tok, max_length=5, too_long_policy="error").encode(ex)
    # max_prompt_length rescues it
    assert PreferenceTokenizer(tok, max_length=5, max_prompt_length=3).encode(ex) is not None


@pytest.mark.parametrize("chosen, rejected, kind", [
    ("", "ugly", "skipped_empty"),
    ("wave", "   ", "skipped_empty"),
    ("wave tide", "wave tide", "skipped_identical"),
])
def test_empty_and_identical(tok, chosen, rejected, kind):
    ex = PreferenceExample("write", chosen, rejected, index=5)
    pt = PreferenceTokenizer(tok, max_length=16)
    with pytest.warns(UserWarning):
        assert pt.encode(ex) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per kind only
        assert pt.encode(ex) is None
    assert pt.stats[kind] == 2 and pt.stats["encoded"] == 0
    with pytest.raises(DataError, match="record 5"):
        PreferenceTokenizer(tok, max_length=16, empty_policy="error").encode(ex)


def test_empty_conversational_and_identical_after_truncation(tok):
    pt = PreferenceTokenizer(tok, max_length=16)
    with pytest.warns(UserWarning):
        assert pt.encode(load_preference_data([conv("write", " ", "ugly")])[0]) is None
    pt = PreferenceTokenizer(tok, max_length=4)
    with pytest.warns(UserWarning, match="identical after truncation"):
        assert pt.encode(PreferenceExample("write", "wave tide coral", "wave tide shell")) is None
    assert pt.stats["skipped_identical"] == 1 and pt.stats["truncated_response"] == 2


def test_encode_validates_labels_and_options(tok):
    with pytest.raises(DataError, match="'label' must be 0 or 1"):
        PreferenceTokenizer(tok, max_length=16).encode(PreferenceExample("p", "a", "b", label=3))
    with pytest.raises(DataError, match="mixed formats"):
        PreferenceTokenizer(tok, max_length=16).encode(PreferenceExample("p", msgs("assistant", "a"), "b"))
    for kw in (dict(max_length=1), dict(max_length=8, truncation_mode="middle"), dict(max_length=8, empty_policy="x"),
               dict(max_length=8, max_prompt_length=0)):
        with pytest.raises(ValueError):
            PreferenceTokenizer(tok, **kw)


def test_dataset_from_examples(tok):
    exs = load_preference_data([conv("write about ocean", "wave", "ugly"), conv("write", "wave", "wave"),
                                conv("tell about food", "soup", "hate", label=0)])
    with pytest.warns(UserWarning, match="1 pairs skipped"):
        ds = PreferenceDataset.from_examples(exs, PreferenceTokenizer(tok, max_length=16))
    assert len(ds) == 2 and ds[1].label == 0 and ds[1].index == 2
    assert ds.stats["skipped_identical"] == 1 and ds.stats["encoded"] == 2
    with pytest.raises(DataError, match="no usable"), pytest.warns(UserWarning):
        PreferenceDataset.from_examples(exs[1:2], PreferenceTokenizer(tok, max_length=16))


# --------------------------------------------------------------------------- #
# Collators
# --------------------------------------------------------------------------- #


def _pairs():
    return [
        EncodedPair([1, 10, 11], [20, 21, 2], [30, 2], label=1, true_label=1, index=4),
        EncodedPair([1, 12], [22, 2], [31, 32, 33, 34, 2], label=0, true_label=-1, index=9),
    ]


def test_padded_collator_layout():
    b = PaddedCollator(0)(_pairs())
    assert b["input_ids"].shape == (4, 7) and b["input_ids"].dtype == torch.long
    assert b["input_ids"].tolist() == [
        [1, 10, 11, 20, 21, 2, 0], [1, 12, 22, 2, 0, 0, 0],
        [1, 10, 11, 30, 2, 0, 0], [1, 12, 31, 32, 33, 34, 2],
    ]
    assert b["attention_mask"].tolist()[1] == [1, 1, 1, 1, 0, 0, 0]
    x = -100
    assert b["target_ids"].tolist() == [
        [x, x, 20, 21, 2, x, x], [x, 22, 2, x, x, x, x],
        [x, x, 30, 2, x, x, x], [x, 31, 32, 33, 34, 2, x],
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
        assert b["input_ids"][0, s:s + n].tolist() == padded["input_ids"][r, :n].tolist()
        assert b["target_ids"][s:s + n].tolist() == padded["target_ids"][r, :n].tolist()
        assert b["target_ids"][s + n - 1].item() == -100
    assert b["num_tokens"] == 22 and b["labels"].tolist() == [1.0, 0.0] and b["index"].tolist() == [4, 9]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padded_and_packed_logps_agree_on_llama(tok, attn):
    """The padded batch and the packed row give the same response log-probs through a tiny Llama:
    packing works via position_ids (use_cache=False) or an explicit 4D block-diagonal mask."""
    exs = load_preference_data([conv("write about ocean please", "wave tide coral", "ugly"),
                                conv("tell about food now", "soup", "hate bad awful trash"),
                                conv("describe about space today", "star moon", "star comet")])
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
        by_mask = packed_logps(position_ids=packed["position_ids"],
                               attention_mask=packed_attention_mask(packed["cu_seqlens"]))
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
