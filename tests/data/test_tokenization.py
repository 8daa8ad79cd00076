"""sympo_ext.data tokenisation: masking, truncation, empty/identical policies, the dataset."""

from __future__ import annotations

import warnings

import pytest

from sympo_ext.data import DataError, PreferenceDataset, PreferenceExample, PreferenceTokenizer, load_preference_data

from .helpers import conv, ids, msgs


def test_encode_standard_format(tok):
    pt = PreferenceTokenizer(tok, max_length=32)
    p = pt.encode(PreferenceExample("write about ocean", "wave tide", "ugly", label=0, true_label=1, index=7))
    assert p.prompt_ids == [tok.bos_token_id] + ids(tok, "write about ocean")
    assert p.chosen_ids == ids(tok, "wave tide") + [tok.eos_token_id]
    assert p.rejected_ids == ids(tok, "ugly") + [tok.eos_token_id]
    assert (p.label, p.true_label, p.index) == (0, 1, 7)
    p2 = PreferenceTokenizer(tok, max_length=32, add_bos=False, add_eos=False).encode(
        PreferenceExample("write", "wave", "ugly")
    )
    assert p2.prompt_ids == ids(tok, "write") and p2.chosen_ids == ids(tok, "wave")
    assert (p2.label, p2.true_label) == (1, -1)


def test_encode_conversational_uses_chat_template(tok):
    pt = PreferenceTokenizer(tok, max_length=32)
    ex = load_preference_data([conv("write about ocean please", "wave tide", "ugly")])[0]
    p = pt.encode(ex)
    full = tok.apply_chat_template(ex.prompt + ex.chosen, tokenize=False)
    assert p.prompt_ids + p.chosen_ids == ids(tok, full)
    assert tok.convert_ids_to_tokens(p.prompt_ids) == "<s> <|user|> write about ocean please <|assistant|>".split()
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


@pytest.mark.parametrize(
    "chosen, rejected, kind",
    [("", "ugly", "skipped_empty"), ("wave", "   ", "skipped_empty"), ("wave tide", "wave tide", "skipped_identical")],
)
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
    for kw in (
        dict(max_length=1),
        dict(max_length=8, truncation_mode="middle"),
        dict(max_length=8, empty_policy="x"),
        dict(max_length=8, max_prompt_length=0),
    ):
        with pytest.raises(ValueError):
            PreferenceTokenizer(tok, **kw)


def test_dataset_from_examples(tok):
    exs = load_preference_data(
        [
            conv("write about ocean", "wave", "ugly"),
            conv("write", "wave", "wave"),
            conv("tell about food", "soup", "hate", label=0),
        ]
    )
    with pytest.warns(UserWarning, match="1 pairs skipped"):
        ds = PreferenceDataset.from_examples(exs, PreferenceTokenizer(tok, max_length=16))
    assert len(ds) == 2 and ds[1].label == 0 and ds[1].index == 2
    assert ds.stats["skipped_identical"] == 1 and ds.stats["encoded"] == 2
    with pytest.raises(DataError, match="no usable"), pytest.warns(UserWarning):
        PreferenceDataset.from_examples(exs[1:2], PreferenceTokenizer(tok, max_length=16))


# --------------------------------------------------------------------------- #
# Collators
# --------------------------------------------------------------------------- #


def test_a_role_the_template_renders_as_another_is_refused(tok):
    """The synthetic template has turns for system and user, and renders every other role as an
    assistant turn: a 'tool' message would silently become an assistant message."""
    pt = PreferenceTokenizer(tok, max_length=64)
    tool_turn = [{"role": "user", "content": "hello"}, {"role": "tool", "content": "cats"}]
    ex = PreferenceExample(
        prompt=tool_turn,
        chosen=msgs("assistant", "cats"),
        rejected=msgs("assistant", "dogs"),
        index=3,
        source="pairs.jsonl:4",
    )
    with pytest.raises(
        DataError,
        match=r"pairs.jsonl:4: field 'prompt\[1\].role' is 'tool', but the chat template "
        r"renders it as 'assistant'",
    ):
        pt.encode(ex)
    # the roles it renders as themselves pass
    system = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    ok = PreferenceExample(prompt=system, chosen=msgs("assistant", "cats"), rejected=msgs("assistant", "dogs"), index=0)
    pt.encode(ok)  # no DataError: system has its own turn in this template


def test_a_refused_pair_is_named_by_file_and_line_when_read_from_a_file(tok):
    ex = PreferenceExample("write", "wave tide", "wave tide", index=6, source="x.jsonl:7")
    with pytest.raises(DataError, match=r"^x\.jsonl:7: identical 'chosen' and 'rejected' responses"):
        PreferenceTokenizer(tok, max_length=16, empty_policy="error").encode(ex)
