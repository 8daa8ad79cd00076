"""Checkpoints and resume (sympo_ext.train.checkpoint): atomic writes, sha256 manifest, verified loading,
fallback to the newest intact checkpoint, disk-full handling, pruning leftovers, finite parameters; and
the trainer's exact resume, non-finite stops and signals."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal

import pytest
import torch

from sympo_ext.train import checkpoint as ckpt
from sympo_ext.train import checkpoint_files
from sympo_ext.train import checkpoint_files as files
from sympo_ext.train.checkpoint_files import (
    CheckpointError,
    CheckpointWriteError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_resumable,
    remove_stale_tmp,
    save_checkpoint,
    verify_checkpoint,
)
from sympo_ext.train.metrics_log import read_metrics
from sympo_ext.train.trainer import NonFiniteLossError, Trainer

from .faults_helpers import _start_long_run, _wait_for_rows
from .helpers import cfg, clean_records, cli_base, examples, params, run_cli, stopped_at, tiny_model


def _state(step):
    g = torch.Generator().manual_seed(step)
    model = {"w": torch.randn(4, 3, generator=g), "b": torch.randn(3, generator=g)}
    optim = {"state": {0: {"exp_avg": torch.randn(4, 3, generator=g)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    return model, optim


def _save(ck, step, keep=0):
    model, optim = _state(step)
    return save_checkpoint(
        str(ck),
        step,
        model_state=model,
        optim_state=optim,
        keep=keep,
        trainer_state={"scheduler": {"last_epoch": step}, "world_size": 1},
        rng_states=[files.capture_rng()],
    )


def test_round_trip_with_manifest(tmp_path):
    ck = tmp_path / "checkpoints"
    path = _save(ck, 3)
    assert path == str(ck / "step-000003") and latest_checkpoint(str(ck)) == path
    manifest = json.loads((ck / "step-000003" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.pt", "optimizer.pt", "trainer_state.pt", "rng-rank0.pt"}
    assert manifest["files"]["model.pt"]["bytes"] == (ck / "step-000003" / "model.pt").stat().st_size
    verify_checkpoint(path)
    loaded = load_checkpoint(path)
    model, optim = _state(3)
    assert torch.equal(loaded["model"]["w"], model["w"]) and torch.equal(loaded["model"]["b"], model["b"])
    assert torch.equal(loaded["optimizer"]["state"][0]["exp_avg"], optim["state"][0]["exp_avg"])
    assert loaded["trainer_state"]["step"] == 3 and loaded["trainer_state"]["scheduler"] == {"last_epoch": 3}
    assert not [n for n in os.listdir(ck) if n.startswith(".tmp") or ".tmp-" in n]


def _truncate(p):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _zero(p):
    p.write_bytes(b"")


def _flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) - 40] ^= 0x01  # one bit inside the tensor data: same size, still a valid zip
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _zero, _flip], ids=["truncated", "zero_length", "bit_flip"])
@pytest.mark.parametrize("victim", ["model.pt", "trainer_state.pt", "manifest.json"])
def test_resume_skips_a_damaged_checkpoint_for_the_newest_intact_one(tmp_path, damage, victim):
    ck = tmp_path / "checkpoints"
    for step in (2, 4, 6):
        _save(ck, step)
    damage(ck / "step-000006" / victim)
    with pytest.raises(CheckpointError, match="step-000006"):
        verify_checkpoint(str(ck / "step-000006"))
    path, loaded, skipped = load_resumable(str(ck))
    assert path == str(ck / "step-000004") and loaded["trainer_state"]["step"] == 4
    assert torch.equal(loaded["model"]["w"], _state(4)[0]["w"])
    assert [p for p, _ in skipped] == [str(ck / "step-000006")]
    assert victim in skipped[0][1] or "manifest" in skipped[0][1]


def test_bit_flip_is_detected_by_the_checksum_not_by_unpickling(tmp_path):
    ck = tmp_path / "checkpoints"
    _save(ck, 1)
    target = ck / "step-000001" / "model.pt"
    data = bytearray(target.read_bytes())
    at = bytes(data).index(_state(1)[0]["w"].numpy().tobytes())  # the raw float32 data of "w"
    data[at + 5] ^= 0x10
    target.write_bytes(bytes(data))
    # The flipped file still loads, with a different weight: only the manifest tells it is wrong.
    silently = torch.load(io.BytesIO(target.read_bytes()), weights_only=True)
    assert not torch.equal(silently["w"], _state(1)[0]["w"])
    with pytest.raises(CheckpointError, match=r"model\.pt: sha256 does not match"):
        load_checkpoint(str(ck / "step-000001"))


def test_no_intact_checkpoint_is_refused_naming_every_file(tmp_path):
    ck = tmp_path / "checkpoints"
    _save(ck, 1)
    _save(ck, 2)
    _zero(ck / "step-000001" / "optimizer.pt")
    (ck / "step-000002" / "manifest.json").unlink()
    with pytest.raises(CheckpointError) as e:
        load_resumable(str(ck))
    msg = str(e.value)
    assert "no intact checkpoint" in msg and "step-000001/optimizer.pt" in msg and "step-000002/manifest.json" in msg
    assert load_resumable(str(tmp_path / "nothing")) == (None, None, [])


def test_latest_pointer_is_tried_first_and_a_preferred_one_overrides_it(tmp_path):
    ck = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        _save(ck, step)
    (ck / "latest").write_text("step-000002")
    assert load_resumable(str(ck))[0] == str(ck / "step-000002")
    assert load_resumable(str(ck), preferred=str(ck / "step-000001"))[0] == str(ck / "step-000001")
    (ck / "latest").write_text("../../etc")  # a garbage pointer is ignored
    assert latest_checkpoint(str(ck)) == str(ck / "step-000003")


class _FullDisk:
    """A file object whose writes fail with ENOSPC once ``budget`` bytes are written."""

    def __init__(self, real, budget):
        self.real, self.budget = real, budget

    def write(self, data):
        if len(data) > self.budget:
            self.real.write(data[: self.budget])
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def full_disk(monkeypatch, budget=100):
    real_open = open

    def fake_open(path, mode="r", *a, **kw):
        fh = real_open(path, mode, *a, **kw)
        return _FullDisk(fh, budget) if "w" in mode or "a" in mode else fh

    monkeypatch.setattr(checkpoint_files, "open", fake_open, raising=False)


def test_disk_full_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    ck = tmp_path / "checkpoints"
    _save(ck, 1)
    full_disk(monkeypatch)
    with pytest.raises(CheckpointWriteError) as e:
        _save(ck, 2)
    assert e.value.errno == errno.ENOSPC and "no space left" in str(e.value) and "model.pt" in str(e.value)
    assert "inline_container" not in str(e.value)
    monkeypatch.undo()
    assert sorted(os.listdir(ck)) == ["latest", "step-000001"]  # no partial directory, latest unchanged
    assert (ck / "latest").read_text() == "step-000001"
    verify_checkpoint(str(ck / "step-000001"))


def test_torch_save_failure_message_is_clear(tmp_path, monkeypatch):
    def failing(obj, f, *a, **kw):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:626] . unexpected pos 320 vs 245\n"
            "PytorchStreamWriter failed writing file data/0: file write failed"
        )

    monkeypatch.setattr(ckpt.torch, "save", failing)
    with pytest.raises(CheckpointWriteError) as e:
        _save(tmp_path / "checkpoints", 1)
    assert "disk full" in str(e.value) and "inline_container" not in str(e.value)
    assert not list_checkpoints(str(tmp_path / "checkpoints"))


def test_atomic_torch_save_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ref_logps.pt"
    files.atomic_torch_save({"x": torch.ones(3)}, str(path))
    full_disk(monkeypatch, budget=10)
    with pytest.raises(CheckpointWriteError, match="no space left"):
        files.atomic_torch_save({"x": torch.zeros(1000)}, str(path))
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    assert os.listdir(tmp_path) == ["ref_logps.pt"]  # the temporary file is gone


def test_pruning_renames_before_deleting_and_leftovers_are_cleaned(tmp_path, monkeypatch):
    ck = tmp_path / "checkpoints"
    for step in (1, 2, 3):
        _save(ck, step, keep=2)
    assert [s for s, _ in list_checkpoints(str(ck))] == [2, 3]
    # A kill during the rmtree of a pruned checkpoint: the half-deleted one is no checkpoint.
    monkeypatch.setattr(ckpt.shutil, "rmtree", lambda *a, **k: None)
    _save(ck, 4, keep=2)
    monkeypatch.undo()
    assert [s for s, _ in list_checkpoints(str(ck))] == [3, 4]
    assert (ck / ".del-step-000002").is_dir()
    (ck / "latest.tmp-4242").write_text("step-000004")  # an atomic write killed before its rename
    (ck / ".tmp-step-000005").mkdir()
    removed = remove_stale_tmp(str(ck))
    assert sorted(removed) == [".del-step-000002", ".tmp-step-000005", "latest.tmp-4242"]
    assert sorted(os.listdir(ck)) == ["latest", "step-000003", "step-000004"]


def test_incomplete_checkpoints_are_never_resumed_from(tmp_path):
    # (moved from test_train.py, assertions kept)
    ck = tmp_path / "checkpoints"
    (ck / "step-000002").mkdir(parents=True)
    (ck / "step-000002" / "trainer_state.pt").write_bytes(b"x")
    (ck / ".tmp-step-000004").mkdir()  # a save interrupted before the rename
    (ck / ".tmp-step-000004" / "trainer_state.pt").write_bytes(b"x")
    (ck / "step-000003").mkdir()  # not complete (no trainer_state.pt)
    assert latest_checkpoint(str(ck)) == str(ck / "step-000002")
    (ck / "latest").write_text("step-000003")  # a pointer to an incomplete one falls back too
    assert latest_checkpoint(str(ck)) == str(ck / "step-000002")
    remove_stale_tmp(str(ck))
    assert not (ck / ".tmp-step-000004").exists()
    # ... and neither is resumed from: no manifest, so nothing is intact.
    with pytest.raises(CheckpointError, match="manifest.json: missing"):
        load_resumable(str(ck))


def test_nonfinite_entries():
    state = {
        "a": torch.ones(2),
        "b": torch.tensor([1.0, float("nan")]),
        "c": torch.tensor([float("inf")]),
        "n": torch.tensor([1, 2]),
        "e": torch.empty(0),
    }
    assert files.nonfinite_entries(state) == ["b", "c"]
    assert files.nonfinite_entries({"a": torch.ones(2)}) == []


def test_resume_equals_uninterrupted(tok, tmp_path):
    train, evals = examples(clean_records(40, seed=6)), examples(clean_records(8, seed=7))
    # checkpoints at steps 3 and 6 (all kept); evaluations, warm-up and weight decay: state that must resume
    conf = dict(max_steps=6, grad_accum=2, save_steps=3, save_total_limit=0, eval_steps=2, num_epochs=1.0)
    conf.update(weight_decay=0.01, warmup_steps=2)

    full = tmp_path / "full"
    model_a = tiny_model(tok)
    Trainer(
        cfg(output_dir=str(full), **conf), model=model_a, tokenizer=tok, train_examples=train, eval_examples=evals
    ).train()
    assert [s for s, _ in list_checkpoints(str(full / "checkpoints"))] == [3, 6]
    # batch_size 8 over 40 pairs: 5 steps per epoch, so step 6 crosses an epoch boundary.

    # "Stopped at step 3": the run directory as it was after step 3.
    part = stopped_at(full, tmp_path / "part", 3)
    # The policy starts from another init: its state must come from the checkpoint. The frozen reference
    # is the initial policy (as loaded again from --model by the CLI).
    model_b = tiny_model(tok, seed=123)
    res = Trainer(
        cfg(output_dir=str(part), resume=True, **conf),
        model=model_b,
        tokenizer=tok,
        ref_model=tiny_model(tok),
        train_examples=train,
        eval_examples=evals,
    ).train()
    assert res.global_step == 6
    a, b = params(model_a), params(model_b)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    rows = read_metrics(str(part))
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4, 5, 6]  # no duplicated rows
    full_rows = read_metrics(str(full))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]


class NaNAfter(torch.nn.Module):
    """A causal LM (plain nn.Module interface) whose logits turn NaN after ``n`` forward calls."""

    def __init__(self, inner, n):
        super().__init__()
        self.inner, self.n, self.calls = inner, n, 0

    def forward(self, input_ids, attention_mask=None, position_ids=None, **kw):
        self.calls += 1
        logits = self.inner(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
        return logits * float("nan") if self.calls > self.n else logits


def test_nonfinite_loss_stops_and_keeps_last_checkpoint(tok, tmp_path):
    model = NaNAfter(tiny_model(tok), n=2)
    conf = cfg(max_steps=10, reference="none", save_steps=2, output_dir=str(tmp_path / "run"))
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss .* step 3.*step-000002"):
        Trainer(conf, model=model, tokenizer=tok, train_examples=examples(clean_records(32))).train()
    assert [s for s, _ in list_checkpoints(str(tmp_path / "run" / "checkpoints"))] == [2]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not [n for n in os.listdir(tmp_path / "run" / "checkpoints") if n.startswith(".tmp")]


def test_cli_resume_needs_only_the_output_dir(model_dir, data_file, tmp_path, capsys):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    args = cli_base(model_dir, data_file, out)
    args[args.index("--max_steps") + 1] = "4"
    assert run_cli(args + ["--save_steps", "2", "--save_total_limit", "0"], capsys)[0] == 0
    full = load_file(str(out / "final" / "model.safetensors"))
    shutil.rmtree(out / "checkpoints" / "step-000004")
    shutil.rmtree(out / "final")
    (out / "checkpoints" / "latest").write_text("step-000002")
    code, stdout, err = run_cli(["--output_dir", out, "--resume"], capsys)  # options come from run.json
    assert code == 0, err
    assert "done: 4 steps" in stdout
    resumed = load_file(str(out / "final" / "model.safetensors"))
    assert all(torch.equal(full[k], resumed[k]) for k in full)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_checkpoint_and_exits_cleanly(model_dir, data_file, tmp_path, sig):
    out = tmp_path / "run"
    proc = _start_long_run(model_dir, data_file, out)
    try:
        _wait_for_rows(out, proc)
    finally:
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    ckpts = list_checkpoints(str(out / "checkpoints"))
    assert len(ckpts) == 1 and ckpts[0][0] >= 2
    state = torch.load(os.path.join(ckpts[0][1], "trainer_state.pt"), weights_only=False)
    assert state["step"] == ckpts[0][0] and state["data_position"]["pairs_seen"] == 8 * state["step"]
