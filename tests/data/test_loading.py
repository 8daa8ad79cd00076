"""sympo_ext.data loading and record validation (schema, loading)."""

from __future__ import annotations

import json

import pytest
import torch

from sympo_ext.data import DataError, load_preference_data

from .helpers import conv, msgs, write_jsonl

# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #


def test_load_jsonl_both_formats(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"prompt": "write about ocean", "chosen": "wave tide", "rejected": "ugly", "label": 0},
            "",  # blank lines are ignored
            conv("write about ocean", "wave", "hate", true_label=1),
            {"prompt": "p", "chosen": "a", "rejected": "b", "label": True, "true_label": None},
        ],
    )
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
    ex = load_preference_data(
        [
            {
                "chosen": [user, {"role": "assistant", "content": "a"}],
                "rejected": [user, {"role": "assistant", "content": "b"}],
            }
        ]
    )[0]
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


@pytest.mark.parametrize(
    "record, match",
    [
        ({"prompt": "p", "chosen": 3, "rejected": "b"}, "field 'chosen' must be a string or a list of messages"),
        ({"prompt": "p", "chosen": [{"role": "assistant"}], "rejected": "b"}, r"'chosen\[0\]' is missing 'content'"),
        ({"prompt": "p", "chosen": msgs("assistant", "a"), "rejected": msgs("assistant", "b")}, "mixed formats"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_records(record, match):
    with pytest.raises(DataError, match=match):
        load_preference_data([record])


def test_label_types():
    import numpy as np

    base = {"prompt": "p", "chosen": "a", "rejected": "b"}
    labels = [
        e.label
        for e in load_preference_data(
            [dict(base, label=v) for v in (np.int64(0), np.float32(1.0), torch.tensor(0), 1.0, False)]
        )
    ]
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
