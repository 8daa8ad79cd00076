"""A checkpoint belongs to its run (sympo_ext/train/rundir.py, checkpoint_files.py): run.json's run id is in
every checkpoint's manifest; --resume refuses a checkpoint copied or linked in from another run instead of
mixing the two runs, a copy of the whole run directory still resumes, runs made before run ids resume."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from sympo_ext.train import checkpoint_files
from sympo_ext.train.checkpoint_files import MANIFEST, checkpoint_run_id, list_checkpoints

from .faults_helpers import TRAINED, args_for, copy_run, final_state, one_clear_line, same_state
from .helpers import run_cli


@pytest.fixture(scope="module")
def other_run(model_dir, data_file, tmp_path_factory):
    """Another finished run (other beta) with checkpoints at steps 2 and 4."""
    out = tmp_path_factory.mktemp("other") / "run"
    from sympo_ext.train.cli import main as cli_main

    assert cli_main([str(a) for a in args_for(model_dir, data_file, out, [*TRAINED, "--beta", "0.5"])]) == 0
    return out


def _run_id(out):
    return json.loads((out / "run.json").read_text())["run_id"]


def _stopped_at_2(trained, tmp_path):
    """The trained run as it was when stopped after its step-2 checkpoint."""
    out = copy_run(trained, tmp_path)
    shutil.rmtree(out / "checkpoints" / "step-000004")
    shutil.rmtree(out / "final")
    (out / "checkpoints" / "latest").write_text("step-000002")
    return out


def test_every_checkpoint_records_the_run_id(trained):
    out = trained[0]
    run_id = json.loads(open(os.path.join(out, "run.json")).read())["run_id"]
    assert len(run_id) == 32
    assert [checkpoint_run_id(p) for _, p in list_checkpoints(os.path.join(out, "checkpoints"))] == [run_id] * 2


@pytest.mark.parametrize("step", ["step-000004", "step-000001"], ids=["newest_latest", "older_one"])
def test_a_checkpoint_copied_from_another_run_is_refused(trained, other_run, tmp_path, capsys, step):
    out = _stopped_at_2(trained, tmp_path)
    shutil.copytree(other_run / "checkpoints" / "step-000004", out / "checkpoints" / step)  # cp -a
    if step == "step-000004":
        (out / "checkpoints" / "latest").write_text(step)
    before = sorted(os.listdir(out / "checkpoints")), (out / "metrics.csv").read_text()
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and one_clear_line(err), err
    assert "belongs to another run" in err and f"checkpoints/{step}" in err
    assert _run_id(other_run) in err and _run_id(out) in err and "Move it out of" in err
    assert (sorted(os.listdir(out / "checkpoints")), (out / "metrics.csv").read_text()) == before


def test_a_checkpoint_linked_from_another_run_is_refused_and_left_alone(trained, other_run, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)
    target = other_run / "checkpoints" / "step-000004"
    files = sorted(os.listdir(target))
    os.symlink(target, out / "checkpoints" / "step-000004")
    (out / "checkpoints" / "latest").write_text("step-000004")
    code, _, err = run_cli(["--output_dir", out, "--resume", "--max_steps", "8", "--save_total_limit", "1"], capsys)
    assert code == 2 and one_clear_line(err), err
    assert "step-000004 is a symbolic link to" in err and str(target) in err
    assert sorted(os.listdir(target)) == files and (out / "checkpoints" / "step-000004").is_symlink()


def test_a_symlinked_latest_is_refused(trained, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)
    (tmp_path / "elsewhere").write_text("step-000002")
    os.remove(out / "checkpoints" / "latest")
    os.symlink(tmp_path / "elsewhere", out / "checkpoints" / "latest")
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and one_clear_line(err) and "latest is a symbolic link to" in err, err


def test_pruning_never_follows_a_symbolic_link(tmp_path):
    ck = tmp_path / "run" / "checkpoints"
    other = tmp_path / "other" / "step-000001"
    for d in (ck / "step-000002", ck / "step-000003", other):
        d.mkdir(parents=True)
        (d / "trainer_state.pt").write_bytes(b"x")
    os.symlink(other, ck / "step-000001")
    os.symlink(other, ck / ".del-step-000000")  # a link where a half-pruned checkpoint would be
    checkpoint_files.prune_checkpoints(str(ck), keep=1)
    assert checkpoint_files.remove_stale_tmp(str(ck)) == [".del-step-000000"]
    assert sorted(os.listdir(ck)) == ["step-000001", "step-000003"] and (ck / "step-000001").is_symlink()
    assert os.listdir(other) == ["trainer_state.pt"]


def test_a_copy_of_the_whole_run_directory_resumes(trained, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)  # shutil.copytree: cp -a of the run directory
    assert _run_id(out) == json.loads(open(os.path.join(trained[0], "run.json")).read())["run_id"]
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert same_state(final_state(str(out)), trained[1])
    assert checkpoint_run_id(str(out / "checkpoints" / "step-000004")) == _run_id(out)


def test_a_run_made_before_run_ids_resumes_and_gets_one(trained, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)
    run = json.loads((out / "run.json").read_text())
    del run["run_id"]
    (out / "run.json").write_text(json.dumps(run))
    manifest = out / "checkpoints" / "step-000002" / MANIFEST
    m = json.loads(manifest.read_text())
    del m["run_id"]
    manifest.write_text(json.dumps(m))
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 0, err
    assert same_state(final_state(str(out)), trained[1])
    new_id = _run_id(out)  # recorded at this resume; the new checkpoint carries it
    assert checkpoint_run_id(str(out / "checkpoints" / "step-000004")) == new_id
    assert checkpoint_run_id(str(out / "checkpoints" / "step-000002")) is None


def test_resume_without_run_json_names_it(trained, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)
    os.remove(out / "run.json")
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and one_clear_line(err), err
    assert "run.json is missing" in err and "holds checkpoints" in err


def test_a_run_made_before_run_ids_refuses_a_checkpoint_that_has_one(trained, other_run, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)  # its first resume would have recorded an id in run.json
    run = json.loads((out / "run.json").read_text())
    del run["run_id"]
    (out / "run.json").write_text(json.dumps(run))
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and "belongs to another run" in err and "none: the run predates run ids" in err, err


def test_a_run_json_edited_since_the_checkpoint_is_refused(trained, tmp_path, capsys):
    out = _stopped_at_2(trained, tmp_path)
    run = json.loads((out / "run.json").read_text())
    run["config"]["beta"] = 0.5  # edited by hand: the checkpoint was trained with 0.1
    (out / "run.json").write_text(json.dumps(run))
    before = (out / "metrics.csv").read_text()
    code, _, err = run_cli(["--output_dir", out, "--resume"], capsys)
    assert code == 2 and one_clear_line(err), err
    assert "step-000002 was trained with other options than run.json now records (beta: 0.1 -> 0.5)" in err
    assert (out / "metrics.csv").read_text() == before and not (out / "checkpoints" / "step-000004").exists()
