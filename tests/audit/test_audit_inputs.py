"""sympo-audit's inputs (hostile round 3): a run directory's reference and data checked against run.json's
fingerprints, a user's file named like an output never overwritten, --split with a file, truncation
reported, a non-finite reference named, a run directory without run.json."""

from __future__ import annotations

import json
import os
import shutil

import torch

from sympo_ext.audit.cli import main as audit_main


def _audit(args, capsys):
    code = audit_main([str(a) for a in args] + ["--no_progress"])
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused(code, err, want):
    lines = [line for line in err.splitlines() if "sympo-audit" in line]
    return code == 2 and len(lines) == 1 and want in lines[0] and "Traceback" not in err


def test_a_users_file_named_like_an_output_is_not_overwritten(run_dir, tmp_path, capsys):
    """A15: a directory holding only the user's own audit.csv (no audit summary.json) was overwritten."""
    out = tmp_path / "a"
    out.mkdir()
    (out / "audit.csv").write_text("my,own,spreadsheet\n")
    code, _, err = _audit(["--model", run_dir, "--output_dir", out], capsys)
    assert _refused(code, err, f"--output_dir {str(out)!r} holds other files (audit.csv"), err
    assert "no audit summary.json beside them" in err
    assert (out / "audit.csv").read_text() == "my,own,spreadsheet\n"
    (out / "summary.json").write_text(json.dumps({"rows": 3}))  # a summary.json that is not an audit's
    code, _, err = _audit(["--model", run_dir, "--output_dir", out], capsys)
    assert _refused(code, err, "holds other files (audit.csv, summary.json"), err


def test_truncation_is_reported_and_a_previous_audit_is_replaced(run_dir, tmp_path, capsys):
    """A48: with --max_length cutting responses, summary.json and the last line say how many pairs were
    truncated; a second audit into the same directory replaces the first's outputs."""
    out = tmp_path / "a"
    code, stdout, err = _audit(["--model", run_dir, "--output_dir", out], capsys)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data_stats"]["truncated_pairs"] == 0 and "truncated" not in stdout
    code, stdout, err = _audit(["--model", run_dir, "--output_dir", out, "--max_length", "7"], capsys)
    assert code == 0, err
    stats = json.loads((out / "summary.json").read_text())["data_stats"]
    assert stats["truncated_pairs"] > 0 and stats["truncated_response"] >= stats["truncated_pairs"], stats
    assert f"{stats['truncated_pairs']} pair(s) truncated (--max_length 7)" in stdout.strip().splitlines()[-1]


def _run_with_own_inputs(run_dir, model_dir, data_file, tmp_path):
    """A copy of the run whose run.json names copies of its reference and data (same fingerprints)."""
    ref, data, run = tmp_path / "ref", tmp_path / "pairs.jsonl", tmp_path / "run"
    shutil.copytree(model_dir, ref)
    shutil.copy(data_file, data)
    shutil.copytree(run_dir, run)
    stored = json.loads((run / "run.json").read_text())
    assert stored["config"].get("ref_model") is None  # the reference is the run's initial --model
    stored["config"].update(model=str(ref), train_data=str(data))
    (run / "run.json").write_text(json.dumps(stored))
    return ref, data, run


def test_a_changed_reference_or_data_is_refused(run_dir, model_dir, data_file, tmp_path, capsys):
    """A34 / A35: the run's reference re-exported, or its data edited, since training: the audit scored
    against them as if they were the run's."""
    ref, data, run = _run_with_own_inputs(run_dir, model_dir, data_file, tmp_path)
    code, _, err = _audit(["--model", run, "--output_dir", tmp_path / "ok"], capsys)
    assert code == 0, err  # unchanged inputs: their fingerprints match run.json's
    weights = (ref / "model.safetensors").read_bytes()
    other = tmp_path / "other"
    from sympo_ext.hf.loading import load_policy

    model = load_policy(str(ref))
    with torch.no_grad():
        model.lm_head.weight.mul_(1.5)
    model.save_pretrained(other)
    shutil.copy(other / "model.safetensors", ref / "model.safetensors")
    code, _, err = _audit(["--model", run, "--output_dir", tmp_path / "a"], capsys)
    assert _refused(code, err, f"the reference {str(ref)!r} (re-exported or replaced"), err
    assert "changed since the run trained" in err and "--ref_model / --data explicitly" in err
    assert not (tmp_path / "a").exists()
    code, _, err = _audit(["--model", run, "--ref_model", ref, "--output_dir", tmp_path / "b"], capsys)
    assert code == 0, err  # another reference on purpose
    (ref / "model.safetensors").write_bytes(weights)
    data.write_text("".join(data.read_text().splitlines(keepends=True)[:20]))
    code, _, err = _audit(["--model", run, "--output_dir", tmp_path / "a"], capsys)
    assert _refused(code, err, f"the training data {str(data)!r} (edited"), err
    code, _, err = _audit(["--model", run, "--data", data, "--output_dir", tmp_path / "c"], capsys)
    assert code == 0, err


def test_split_with_a_data_file_is_refused(run_dir, data_file, tmp_path, capsys):
    """A46: --split test with a JSONL file was accepted and ignored."""
    code, _, err = _audit(
        ["--model", run_dir, "--data", data_file, "--split", "test", "--output_dir", tmp_path / "a"], capsys
    )
    assert _refused(code, err, "--split 'test' applies only to a saved dataset with splits"), err
    assert not (tmp_path / "a").exists()


def test_a_reference_with_nan_weights_is_named(run_dir, model_dir, data_file, tmp_path, capsys):
    """A10: NaN in the reference's weights was reported as 'the model's log-probs are not finite'."""
    from sympo_ext.hf.loading import load_policy

    nan_ref = tmp_path / "nanref"
    model = load_policy(model_dir)
    with torch.no_grad():
        model.get_input_embeddings().weight.fill_(float("nan"))
    model.save_pretrained(nan_ref)
    policy = os.path.join(run_dir, "final")
    code, _, err = _audit(
        ["--model", policy, "--ref_model", nan_ref, "--data", data_file, "--output_dir", tmp_path / "a"], capsys
    )
    assert _refused(code, err, "the reference's (--ref_model) log-probs are not finite"), err
    assert "the model's" not in err


def test_a_run_directory_without_run_json(run_dir, tmp_path, capsys):
    """A32: a run directory whose run.json is missing was 'not a Hugging Face model directory'."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "run.json").unlink()
    code, _, err = _audit(["--model", run, "--output_dir", tmp_path / "a"], capsys)
    assert _refused(code, err, "looks like a sympo-train run directory but its run.json is missing"), err
    assert f"--model {run / 'final'} --ref_model DIR" in err
