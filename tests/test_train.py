"""End-to-end trainer tests on CPU with a tiny Llama (sympo_ext.train).

Fast ones run in-process with the Trainer API; the CLI, signal, DDP and FSDP tests
launch subprocesses (marked slow, still seconds each).
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from sympo_ext.losses import LOSSES
from sympo_ext.train.checkpoint import list_checkpoints
from sympo_ext.train.cli import main as cli_main
from sympo_ext.train.config import TrainConfig
from sympo_ext.train.metrics import read_metrics
from sympo_ext.train.trainer import NonFiniteLossError, RunDirError, Trainer

synthetic = pytest.importorskip("sympo_ext.synthetic")
from sympo_ext.data import DataError, PreferenceExample  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}

# --------------------------------------------------------------------------- #
# Tiny model and clean pairs (on-topic response preferred over a rude one)
# --------------------------------------------------------------------------- #


def tiny_model(tok, seed=0):
    return synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2, seed=seed)


def clean_records(n, seed=0, conversational=False):
    rng = random.Random(seed)
    topics = list(synthetic.TOPICS)
    out = []
    for i in range(n):
        t = rng.choice(topics)
        prompt = f"write about {t} please"
        good = " ".join(rng.choice(synthetic.TOPICS[t]) for _ in range(rng.randint(2, 5)))
        bad = " ".join(rng.choice(synthetic.BAD_WORDS) for _ in range(rng.randint(2, 5)))
        label = 1
        if rng.random() < 0.3:  # some pairs list the worse response first, labelled 0
            good, bad, label = bad, good, 0
        if conversational:
            rec = {"prompt": [{"role": "user", "content": prompt}],
                   "chosen": [{"role": "assistant", "content": good}],
                   "rejected": [{"role": "assistant", "content": bad}], "label": label}
        else:
            rec = {"prompt": prompt, "chosen": good, "rejected": bad, "label": label}
        out.append(rec)
    return out


def examples(records):
    return [PreferenceExample(prompt=r["prompt"], chosen=r["chosen"], rejected=r["rejected"], label=r["label"],
                              true_label=r["label"], index=i) for i, r in enumerate(records)]


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models: one intra-op thread is fastest, and far faster on a busy 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tok():
    return synthetic.build_tokenizer()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tok):
    path = tmp_path_factory.mktemp("tiny_llama")
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    with open(path, "w") as fh:
        for rec in clean_records(48, seed=1):
            fh.write(json.dumps(rec) + "\n")
    return str(path)


def cfg(**kw):
    base = dict(batch_size=8, max_steps=4, learning_rate=5e-3, max_length=32, progress=False, warmup_ratio=0.0,
                tensorboard="off", output_dir=None, save_final_model=False)
    base.update(kw)
    return TrainConfig(**base)


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- #
# Training behaviour
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("loss_type", ["sigmoid", "logistic"])
def test_loss_decreases_on_clean_data(tok, loss_type):
    train, evals = examples(clean_records(64, seed=2)), examples(clean_records(16, seed=3))
    res = Trainer(cfg(loss_type=loss_type, max_steps=16, batch_size=16, learning_rate=1e-2, beta=0.5),
                  model=tiny_model(tok), tokenizer=tok, train_examples=train, eval_examples=evals).train()
    losses = [r["loss"] for r in res.history if r["split"] == "train"]
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.02, losses
    assert res.eval_metrics["rewards/accuracies"] >= 0.75
    assert res.eval_metrics["rewards/true_accuracies"] == res.eval_metrics["rewards/accuracies"]
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"):
        assert name in res.train_metrics
    assert res.train_metrics["tokens_per_second"] > 0


LOSS_OPTIONS = {"sigmoid": dict(temperature=2.0), "symmetric_ramp": dict(slope=0.25), "cdpo": dict(epsilon=0.2),
                "rdpo": dict(epsilon=0.2)}


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_every_loss_type_runs_a_step(tok, loss_type):
    model = tiny_model(tok)
    before = params(model)
    reference = {"logistic": "precomputed", "hinge": "none"}.get(loss_type, "model")
    res = Trainer(cfg(loss_type=loss_type, max_steps=1, reference=reference, clip=5.0 if loss_type == "ramp" else None,
                      **LOSS_OPTIONS.get(loss_type, {})),
                  model=model, tokenizer=tok, train_examples=examples(clean_records(8))).train()
    assert res.global_step == 1 and torch.isfinite(torch.tensor(res.train_metrics["loss"]))
    after = params(model)
    assert any(not torch.equal(before[k], after[k]) for k in before), "no parameter changed"


def test_packed_equals_padded_and_fused_equals_logits(tok):
    train = examples(clean_records(16, seed=4))
    finals = {}
    for name, kw in {"padded": {}, "packed": dict(packed=True), "logits": dict(logps_path="logits")}.items():
        model = tiny_model(tok)
        res = Trainer(cfg(max_steps=2, grad_accum=2, **kw), model=model, tokenizer=tok, train_examples=train).train()
        finals[name] = (params(model), res.train_metrics["loss"])
    for name in ("packed", "logits"):
        assert finals[name][1] == pytest.approx(finals["padded"][1], abs=1e-5)
        for k, v in finals["padded"][0].items():
            torch.testing.assert_close(finals[name][0][k], v, atol=2e-5, rtol=1e-4, msg=f"{name}: {k}")


def test_bf16_autocast_runs_on_both_paths(tok):
    # bf16 autocast is the default on CUDA GPUs with bf16 support; on CPU it can be forced.
    train, losses = examples(clean_records(16, seed=9)), {}
    for path in ("fused_linear", "logits"):
        res = Trainer(cfg(precision="bf16", max_steps=2, logps_path=path), model=tiny_model(tok), tokenizer=tok,
                      train_examples=train).train()
        losses[path] = res.train_metrics["loss"]
    assert losses["fused_linear"] == pytest.approx(losses["logits"], abs=1e-3)


def test_precomputed_reference_matches_frozen_copy(tok):
    train = examples(clean_records(16, seed=5))
    out = {}
    for ref in ("model", "precomputed"):
        model = tiny_model(tok)
        Trainer(cfg(max_steps=2, reference=ref), model=model, tokenizer=tok, train_examples=train).train()
        out[ref] = params(model)
    for k in out["model"]:
        torch.testing.assert_close(out["precomputed"][k], out["model"][k], atol=1e-6, rtol=1e-5)


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


# --------------------------------------------------------------------------- #
# CLI: data formats, config files, bad input
# --------------------------------------------------------------------------- #


def run_cli(args, capsys):
    code = cli_main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_base(model_dir, data, out):
    return ["--model", model_dir, "--train_data", data, "--output_dir", out, "--batch_size", "8", "--max_steps",
            "2", "--max_length", "32", "--progress", "false", "--tensorboard", "off"]


def test_cli_trains_jsonl_and_conversational_json_with_config(model_dir, data_file, tmp_path, capsys):
    code, out, err = run_cli(cli_base(model_dir, data_file, tmp_path / "a") + ["--eval_fraction", "0.25",
                             "--label_noise", "0.4", "--noise_seed", "3"], capsys)
    assert code == 0, err
    rows = read_metrics(str(tmp_path / "a"))
    assert {"train", "eval"} <= {r["split"] for r in rows}
    # injected noise: the original labels are kept as true labels, so both accuracies are reported
    assert all("rewards/true_accuracies" in r and "tokens_per_second" in r for r in rows if r["split"] == "train")
    assert os.path.isfile(tmp_path / "a" / "final" / "config.json")
    # conversational JSON (a list of records), options from a YAML config, one flag overriding it
    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps(clean_records(24, seed=8, conversational=True)))
    yaml_cfg = tmp_path / "c.yaml"
    yaml_cfg.write_text(f"model: {model_dir}\ntrain_data: {conv}\nloss_type: symmetric_ramp\nslope: 0.25\n"
                        f"batch_size: 8\nmax_steps: 1\nmax_length: 32\nprogress: false\npacked: true\n")
    code, out, err = run_cli(["--config", yaml_cfg, "--output_dir", tmp_path / "b", "--max_steps", "2"], capsys)
    assert code == 0, err
    stored = json.loads((tmp_path / "b" / "run.json").read_text())["config"]
    assert stored["loss_type"] == "symmetric_ramp" and stored["max_steps"] == 2 and stored["packed"] is True


def test_cli_bad_inputs_are_clear_and_write_nothing(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    # missing model path
    code, _, err = run_cli(cli_base(str(tmp_path / "nope"), data_file, out), capsys)
    assert code == 2 and "--model" in err and "no such directory" in err and not out.exists()
    # unknown loss type: argparse refuses it
    with pytest.raises(SystemExit) as e:
        cli_main(cli_base(model_dir, data_file, str(out)) + ["--loss_type", "dpo"])
    assert e.value.code == 2 and "invalid choice: 'dpo'" in capsys.readouterr().err
    # an option the loss would ignore
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--loss_type", "logistic", "--epsilon", "0.1"],
                           capsys)
    assert code == 2 and "epsilon=0.1 has no effect" in err and not out.exists()
    # unknown key in a config file
    bad_cfg = tmp_path / "bad.json"
    bad_cfg.write_text(json.dumps({"lr": 1e-3}))
    code, _, err = run_cli(["--config", bad_cfg] + cli_base(model_dir, data_file, out), capsys)
    assert code == 2 and "unknown option(s) 'lr'" in err and not out.exists()
    # malformed JSONL: file:line and the missing field; no run directory created
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(clean_records(1)[0]) + "\n" + json.dumps({"prompt": "x", "chosen": "y"}) + "\n")
    code, _, err = run_cli(cli_base(model_dir, str(broken), out), capsys)
    assert code == 2 and "broken.jsonl:2" in err and "rejected" in err and not out.exists()
    # a prompt longer than max_length, refused by policy
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--max_length", "4", "--too_long_policy", "error"],
                           capsys)
    assert code == 2 and "max_length" in err and not out.exists()
    # resume with nothing to resume
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--resume"], capsys)
    assert code == 2 and "holds no checkpoint" in err and not out.exists()
    # an output directory with another run: refused, untouched; --overwrite replaces it
    assert run_cli(cli_base(model_dir, data_file, out), capsys)[0] == 0
    stamp = (out / "run.json").stat().st_mtime_ns
    code, _, err = run_cli(cli_base(model_dir, data_file, out), capsys)
    assert code == 2 and "already holds another sympo-train run" in err and "--resume" in err
    assert (out / "run.json").stat().st_mtime_ns == stamp
    # a directory of unrelated files is refused too
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    code, _, err = run_cli(cli_base(model_dir, data_file, tmp_path / "other"), capsys)
    assert code == 2 and "other files" in err and (tmp_path / "other" / "notes.txt").exists()
    # resume with a trajectory-changing option refused
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--resume", "--learning_rate", "1"], capsys)
    assert code == 2 and "learning_rate" in err
    code, _, err = run_cli(cli_base(model_dir, data_file, out) + ["--overwrite", "--max_steps", "1"], capsys)
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["config"]["max_steps"] == 1


def test_cli_trains_a_saved_hf_dataset(model_dir, tmp_path, capsys):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(clean_records(16, seed=10)).save_to_disk(str(tmp_path / "ds"))
    code, _, err = run_cli(cli_base(model_dir, str(tmp_path / "ds"), tmp_path / "run"), capsys)
    assert code == 0, err


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


def test_grad_accum_matches_one_big_batch(tok):
    train = examples(clean_records(32, seed=11))
    finals = []
    for accum in (1, 4):
        model = tiny_model(tok)
        Trainer(cfg(max_steps=2, batch_size=16, grad_accum=accum), model=model, tokenizer=tok,
                train_examples=train).train()
        finals.append(params(model))
    for k in finals[0]:
        torch.testing.assert_close(finals[1][k], finals[0][k], atol=1e-6, rtol=1e-5)


def test_help_is_grouped_with_defaults_and_examples(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    text = capsys.readouterr().out
    for needle in ("Start here", "Loss (any sympo_ext.sym_loss", "Optimisation", "sympo-train --demo",
                   "(default: sigmoid)", "torchrun"):
        assert needle in text


# --------------------------------------------------------------------------- #
# Signals, DDP, FSDP2 (subprocesses)
# --------------------------------------------------------------------------- #


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


def _torchrun(nproc, args, cwd):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "sympo_ext.train.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def _final_state(out):
    from safetensors.torch import load_file

    return load_file(os.path.join(out, "final", "model.safetensors"))


def _compare_with_one_process(model_dir, data_file, tmp_path, capsys, common, extra_two):
    # The single-process baseline runs in this process (cheaper than another torchrun launch).
    code, _, err = run_cli(cli_base(model_dir, data_file, str(tmp_path / "one")) + common, capsys)
    assert code == 0, err
    two = _torchrun(2, cli_base(model_dir, data_file, str(tmp_path / "two")) + common + extra_two, ROOT)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = _final_state(str(tmp_path / "one")), _final_state(str(tmp_path / "two"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-6, rtol=1e-5, msg=k)
    la = [r["loss"] for r in read_metrics(str(tmp_path / "one"))]
    lb = [r["loss"] for r in read_metrics(str(tmp_path / "two"))]
    assert la == pytest.approx(lb, abs=1e-6)
    assert json.loads((tmp_path / "two" / "run.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_ddp_gloo_two_processes_match_one(model_dir, data_file, tmp_path, capsys):
    # Same global batch (8 pairs = 2 processes x 2 micro-steps x 2 pairs); precomputed reference
    # (each process computes its shard, then an all-reduce); evaluation sharded too.
    common = ["--grad_accum", "2", "--max_steps", "3", "--reference", "precomputed", "--eval_fraction", "0.2"]
    _compare_with_one_process(model_dir, data_file, tmp_path, capsys, common, [])


@pytest.mark.slow
def test_fsdp2_gloo_two_processes_match_one(model_dir, data_file, tmp_path, capsys):
    # FSDP2 (fully_shard per decoder layer + root) works on CPU with gloo; the frozen reference is
    # sharded the same way; a mid-run checkpoint gathers the full state dicts.
    common = ["--max_steps", "2", "--reference", "model", "--eval_fraction", "0.2"]
    _compare_with_one_process(model_dir, data_file, tmp_path, capsys, common,
                              ["--distributed", "fsdp", "--save_steps", "1"])
    assert [s for s, _ in list_checkpoints(str(tmp_path / "two" / "checkpoints"))] == [1, 2]


# --------------------------------------------------------------------------- #
# The demo's quick preset
# --------------------------------------------------------------------------- #


@pytest.mark.slow
def test_demo_quick_preset_runs(capsys):
    from sympo_ext.train.demo import run_demo

    rows = run_demo(quick=True, overrides={"progress": False})
    out = capsys.readouterr().out
    assert [r["loss_type"] for r in rows] == ["sigmoid", "logistic"]
    assert "SymPO (sigmoid)" in out and "DPO (logistic)" in out and "win rate" in out
    for r in rows:
        assert 0.0 <= r["win_rate"] <= 1.0 and 0.0 <= r["acc_true"] <= 1.0
