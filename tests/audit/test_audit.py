"""sympo-audit end to end on a tiny Llama: row alignment, labels, run-directory defaults, outputs,
bad inputs refused (exit 2, one line), --relabel, cross-fitting, torchrun sharding."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from train.helpers import ENV, ROOT

from sympo_ext.audit import score_pairs
from sympo_ext.audit.cli import main as audit_main
from sympo_ext.data import load_preference_data
from sympo_ext.hf.loading import load_policy

from .conftest import noisy_records, write_jsonl


def _audit(args, capsys):
    code = audit_main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(out):
    with open(os.path.join(out, "audit.csv")) as fh:
        return list(csv.DictReader(fh))


def _plain_margin(policy, ref, tok, rec, beta):
    """An independent computation: logits -> log_softmax -> summed response log-probs, per response."""

    def logp(model, prompt, resp):
        p = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
        r = tok(resp, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = torch.tensor([p + r])
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        return sum(float(lp[len(p) - 1 + t, r[t]]) for t in range(len(r)))

    gap = beta * (
        (logp(policy, rec["prompt"], rec["chosen"]) - logp(ref, rec["prompt"], rec["chosen"]))
        - (logp(policy, rec["prompt"], rec["rejected"]) - logp(ref, rec["prompt"], rec["rejected"]))
    )
    return gap if rec.get("label", 1) == 1 else -gap


def test_margins_match_a_plain_loop_and_follow_input_order(run_dir, model_dir, tok, tmp_path):
    policy = load_policy(os.path.join(run_dir, "final"))
    ref = load_policy(model_dir)
    recs = noisy_records(10, seed=5)
    recs = recs + [recs[3], dict(recs[3], label=1 - recs[3]["label"])]  # a duplicate, and it relabelled
    exs = load_preference_data(recs)
    got = score_pairs(policy, tok, exs, reference=ref, beta=0.2, max_length=64, batch_size=3, progress=False)
    want = [_plain_margin(policy, ref, tok, r, 0.2) for r in recs]
    np.testing.assert_allclose(got.margins, want, rtol=1e-4, atol=1e-5)
    assert got.margins[10] == pytest.approx(got.margins[3]) and got.margins[11] == pytest.approx(-got.margins[3])
    perm = np.random.default_rng(0).permutation(len(recs))
    again = score_pairs(
        policy,
        tok,
        load_preference_data([recs[i] for i in perm]),
        reference=ref,
        beta=0.2,
        max_length=64,
        batch_size=5,
        progress=False,
    )
    np.testing.assert_allclose(again.margins, got.margins[perm], rtol=1e-5, atol=1e-6)


def test_run_directory_defaults_and_outputs(run_dir, data_file, model_dir, tmp_path, capsys):
    out = tmp_path / "a"
    code, so, err = _audit(["--model", run_dir, "--output_dir", out, "--no_progress"], capsys)
    assert code == 0, err
    assert "estimated noise rate" in so
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == model_dir and summary["data"] == data_file and summary["beta"] == 0.2
    assert summary["num_pairs"] == 48 and summary["scoring"] == "in-sample"
    assert set(summary["fingerprints"]) == {"model", "reference", "data"}
    rows = _rows(out)
    recs = [json.loads(l) for l in open(data_file)]
    assert [int(r["index"]) for r in rows] == list(range(48))
    assert [int(r["label"]) for r in rows] == [r["label"] for r in recs]
    assert sorted(int(r["rank"]) for r in rows) == list(range(1, 49))
    flagged = {int(r["index"]) for r in rows if r["flagged"] == "1"}
    assert len(flagged) == summary["num_suspects"]
    sus = [json.loads(l) for l in open(out / "suspects.jsonl")]
    assert {s["index"] for s in sus} == flagged and [s["rank"] for s in sus] == sorted(s["rank"] for s in sus)
    cleaned = [json.loads(l) for l in open(out / "cleaned.jsonl")]
    assert len(cleaned) == 48 - len(flagged)
    assert cleaned == [
        {k: r[k] for k in ("prompt", "chosen", "rejected", "label", "true_label")}
        for i, r in enumerate(recs)
        if i not in flagged
    ]
    assert (out / "margins.png").stat().st_size > 1000
    # --relabel keeps every pair, the flagged ones swapped
    code, _, err = _audit(["--model", run_dir, "--output_dir", out, "--relabel", "--no_progress"], capsys)
    assert code == 0, err
    relabelled = [json.loads(l) for l in open(out / "cleaned.jsonl")]
    assert len(relabelled) == 48
    for i, (r, c) in enumerate(zip(recs, relabelled)):
        assert (c["chosen"], c["rejected"]) == (
            (r["rejected"], r["chosen"]) if i in flagged else (r["chosen"], r["rejected"])
        )


def test_guard_fallback_is_reported(run_dir, tmp_path, capsys, monkeypatch):
    """When the mixture's guard rejects the fit, summary.json and the CLI line say so (forced here: every fit's
    components 'overlap' under an impossible separation bound)."""
    import sympo_ext.audit.estimator as est_mod

    out = tmp_path / "g"
    code, so, err = _audit(["--model", run_dir, "--output_dir", out, "--no_progress"], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    if summary["method"] == "mixture":  # the tiny run's own fit: kept, nothing to report
        assert summary["method_requested"] == "mixture" and summary["fallback_reason"] is None
        assert "mixture -> sign" not in so
    monkeypatch.setattr(est_mod, "MIN_SEPARATION", 1e9)
    code, so, err = _audit(["--model", run_dir, "--output_dir", out, "--no_progress"], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "sign" and summary["method_requested"] == "mixture"
    assert "overlap" in summary["fallback_reason"] and "mixture_fit" in summary["method_params"]
    assert any("fell back to --method sign" in w for w in summary["warnings"])
    assert "mixture -> sign: mu / s" in so and "[sympo-audit] warning: mixture fit degenerate" in err
    rows = _rows(out)
    margins = np.array([float(r["margin"]) for r in rows])
    assert summary["noise_rate_estimate"] == pytest.approx(np.mean(margins < 0))  # sign's numbers


def test_skipped_pairs_keep_their_row(run_dir, tmp_path, capsys):
    recs = noisy_records(8, seed=2)
    recs[2]["rejected"] = recs[2]["chosen"]  # identical responses: skipped by the tokeniser
    recs[5]["chosen"] = "   "  # empty
    data = write_jsonl(tmp_path / "odd.jsonl", recs)
    code, _, err = _audit(["--model", run_dir, "--data", data, "--output_dir", tmp_path / "o", "--no_progress"], capsys)
    assert code == 0, err
    rows = _rows(tmp_path / "o")
    assert len(rows) == 8 and rows[2]["skipped"] == "skipped_identical" and rows[5]["skipped"] == "skipped_empty"
    assert rows[2]["margin"] == "" and rows[2]["flagged"] == "0"
    assert len(open(tmp_path / "o" / "cleaned.jsonl").readlines()) == 8 - sum(r["flagged"] == "1" for r in rows)


def test_bad_inputs_refused(run_dir, model_dir, data_file, tok, tmp_path, capsys):
    other_tok_dir = tmp_path / "bigtok"
    big = synthetic_big_tokenizer(tok)
    big.save_pretrained(other_tok_dir)
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    (tmp_path / "norun").mkdir()
    (tmp_path / "norun" / "run.json").write_text(json.dumps({"config": {"model": model_dir}}))
    out = str(tmp_path / "out")
    cases = [
        (["--model", tmp_path / "nope", "--output_dir", out], "no such directory"),
        (["--model", model_dir, "--data", data_file, "--output_dir", out], "no reference"),
        (
            ["--model", model_dir, "--reference", "none", "--data", tmp_path / "missing.jsonl", "--output_dir", out],
            "no such file",
        ),
        (
            ["--model", model_dir, "--reference", "none", "--data", tmp_path / "empty.jsonl", "--output_dir", out],
            "empty",
        ),
        (["--model", run_dir, "--tokenizer", other_tok_dir, "--output_dir", out], "do not belong together"),
        (["--model", run_dir, "--threshold", "1.5", "--output_dir", out], "threshold must be in"),
        (["--model", run_dir, "--method", "cleanlab", "--threshold", "0.3", "--output_dir", out], "cleanlab"),
        (["--model", run_dir, "--folds", "1", "--output_dir", out], "--folds 1"),
        (["--model", run_dir, "--folds", "-2", "--output_dir", out], "--folds must be"),
        (
            ["--model", model_dir, "--reference", "none", "--folds", "2", "--data", data_file, "--output_dir", out],
            "needs --model to be a sympo-train run",
        ),
        (["--model", run_dir, "--output_dir", tmp_path / "foreign"], "holds other files"),
        (["--model", tmp_path / "norun", "--output_dir", out], "without final/"),
        (["--model", run_dir, "--ref_model", model_dir, "--reference", "none", "--output_dir", out], "exclude"),
        (["--model", run_dir, "--beta", "0", "--output_dir", out], "--beta must be"),
        (["--model", run_dir, "--batch_size", "0", "--output_dir", out], "--batch_size must be"),
    ]
    for args, want in cases:
        code, _, err = _audit(args + ["--no_progress"], capsys)
        assert code == 2 and want in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
    assert not os.path.exists(out)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def synthetic_big_tokenizer(tok):
    import copy

    big = copy.deepcopy(tok)
    big.add_tokens([f"extra{i}" for i in range(200)])
    return big


def test_data_inside_the_output_dir_is_not_overwritten(run_dir, data_file, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "cleaned.jsonl").write_text(open(data_file).read())
    code, _, err = _audit(["--model", run_dir, "--data", out / "cleaned.jsonl", "--output_dir", out], capsys)
    assert code == 2 and "would be overwritten" in err


@pytest.mark.slow
def test_crossfit_two_folds(run_dir, tmp_path, capsys):
    code, _, err = _audit(
        ["--model", run_dir, "--folds", "2", "--output_dir", tmp_path / "cv", "--no_progress"], capsys
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    assert summary["scoring"] == "cross-fitted" and [f["held_out"] for f in summary["crossfit"]] == [24, 24]
    assert len(_rows(tmp_path / "cv")) == 48


@pytest.mark.slow
def test_torchrun_two_processes_match_one(run_dir, tmp_path, capsys):
    code, _, err = _audit(
        ["--model", run_dir, "--output_dir", tmp_path / "one", "--batch_size", "5", "--no_progress"], capsys
    )
    assert code == 0, err
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "sympo_ext.audit.cli",
        "--model",
        run_dir,
        "--output_dir",
        str(tmp_path / "two"),
        "--batch_size",
        "5",
        "--device",
        "cpu",
        "--no_progress",
    ]
    two = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert [r["index"] for r in a] == [r["index"] for r in b]
    np.testing.assert_allclose([float(r["margin"]) for r in b], [float(r["margin"]) for r in a], rtol=1e-5, atol=1e-6)


def test_run_json_relative_paths_resolve_against_the_runs_directory(run_dir, tmp_path, monkeypatch, capsys):
    """run.json's relative paths are relative to where sympo-train ran (its recorded cwd), not to where the
    audit runs; a run.json with a relative path and no cwd is refused instead of guessed."""
    want_out = tmp_path / "want"
    code, _, err = _audit(["--model", run_dir, "--output_dir", want_out, "--no_progress"], capsys)
    assert code == 0, err
    stored = json.loads(open(os.path.join(run_dir, "run.json")).read())
    base = os.path.dirname(stored["config"]["train_data"])
    assert stored["cwd"] == os.getcwd()  # sympo-train recorded where it ran

    def copy_with(cfg_paths_relative: bool, cwd):
        d = tmp_path / f"run_{cwd is not None}"
        d.mkdir()
        os.symlink(os.path.join(run_dir, "final"), d / "final")
        run = json.loads(json.dumps(stored))
        for key in ("model", "ref_model", "train_data"):
            if run["config"].get(key) and cfg_paths_relative:
                run["config"][key] = os.path.relpath(run["config"][key], base)
        run["cwd"] = cwd
        if cwd is None:
            del run["cwd"]
        (d / "run.json").write_text(json.dumps(run))
        return d

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = copy_with(True, base)
    monkeypatch.chdir(elsewhere)
    code, _, err = _audit(["--model", relative, "--output_dir", tmp_path / "got", "--no_progress"], capsys)
    assert code == 0, err
    assert _rows(tmp_path / "got") == _rows(want_out)
    no_cwd = copy_with(True, None)
    code, _, err = _audit(["--model", no_cwd, "--output_dir", tmp_path / "refused", "--no_progress"], capsys)
    assert code == 2 and "relative path" in err and "pass --" in err, err
    assert not (tmp_path / "refused").exists()


def test_a_failed_write_replaces_no_output(run_dir, tmp_path, monkeypatch, capsys):
    """A full disk (or a read-only directory) while writing: exit 4 with one line, the previous outputs intact
    and no .tmp left: the outputs are replaced together or not at all."""
    import errno

    from sympo_ext.audit import outputs

    out = tmp_path / "o"
    code, _, err = _audit(["--model", run_dir, "--output_dir", out, "--no_progress", "--method", "sign"], capsys)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "_plot", full_disk)
    code, _, err = _audit(["--model", run_dir, "--output_dir", out, "--no_progress", "--threshold", "0.9"], capsys)
    assert code == 4 and "cannot write --output_dir" in err and "No space left" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_cleaned_set_keeps_the_records_other_fields(run_dir, data_file, tmp_path, capsys):
    """cleaned.jsonl is the input minus the flagged pairs: a record's own fields survive, and a record
    without a label is not given one."""
    recs = [json.loads(l) for l in open(data_file)][:16]
    for i, r in enumerate(recs):
        r["extra"] = {"id": i, "note": "mine"}
        if i % 2:
            r.pop("label", None)
    data = tmp_path / "extra.jsonl"
    write_jsonl(data, recs)
    out = tmp_path / "o"
    code, _, err = _audit(["--model", run_dir, "--data", data, "--output_dir", out, "--no_progress"], capsys)
    assert code == 0, err
    kept = [int(r["index"]) for r in _rows(out) if r["flagged"] == "0"]
    cleaned = [json.loads(l) for l in open(out / "cleaned.jsonl")]
    assert cleaned == [recs[i] for i in kept]
