"""Checkpoints and resume (sympo_ext.train.checkpoint): exact resume, incomplete checkpoints, non-finite
losses, signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from sympo_ext.train.checkpoint import list_checkpoints
from sympo_ext.train.metrics import read_metrics
from sympo_ext.train.trainer import NonFiniteLossError
from sympo_ext.train.trainer import Trainer

from .helpers import ROOT, ENV, tiny_model, clean_records, examples, cfg, params, run_cli, cli_base


def test_resume_equals_uninterrupted(tok, tmp_path):
    train, evals = examples(clean_records(40, seed=6)), examples(clean_records(8, seed=7))
    conf = dict(max_steps=6, grad_accum=2, save_steps=3, save_total_limit=0, eval_steps=2, weight_decay=0.01,
                warmup_steps=2, num_epochs=1.0)

    full = tmp_path / "full"
    model_a = tiny_model(tok)
    Trainer(cfg(output_dir=str(full), **conf), model=model_a, tokenizer=tok, train_examples=train,
            eval_examples=evals).train()
    assert [s for s, _ in list_checkpoints(str(full / "checkpoints"))] == [3, 6]
    # batch_size 8 over 40 pairs: 5 steps per epoch, so step 6 crosses an epoch boundary.

    # "Stopped at step 3": the run directory as it was after step 3.
    part = tmp_path / "part"
    shutil.copytree(full, part)
    shutil.rmtree(part / "checkpoints" / "step-000006")
    (part / "checkpoints" / "latest").write_text("step-000003")
    # The policy starts from another init: its state must come from the checkpoint. The frozen reference
    # is the initial policy (as loaded again from --model by the CLI).
    model_b = tiny_model(tok, seed=123)
    res = Trainer(cfg(output_dir=str(part), resume=True, **conf), model=model_b, tokenizer=tok,
                  ref_model=tiny_model(tok), train_examples=train, eval_examples=evals).train()
    assert res.global_step == 6
    a, b = params(model_a), params(model_b)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    rows = read_metrics(str(part))
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4, 5, 6]  # no duplicated rows
    full_rows = read_metrics(str(full))
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]

def test_incomplete_checkpoints_are_never_resumed_from(tmp_path):
    from sympo_ext.train.checkpoint import latest_checkpoint, remove_stale_tmp

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
    args = cli_base(model_dir, data_file, str(out))
    args[args.index("--max_steps") + 1] = "100000"
    proc = subprocess.Popen([sys.executable, "-m", "sympo_ext.train.cli", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / "metrics.csv").exists() and len((out / "metrics.csv").read_text().splitlines()) >= 3:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    ckpts = list_checkpoints(str(out / "checkpoints"))
    assert len(ckpts) == 1 and ckpts[0][0] >= 2
    state = torch.load(os.path.join(ckpts[0][1], "trainer_state.pt"), weights_only=False)
    assert state["step"] == ckpts[0][0] and state["data_position"]["pairs_seen"] == 8 * state["step"]
