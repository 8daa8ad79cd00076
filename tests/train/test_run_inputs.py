"""A run knows its inputs and can be continued: input fingerprints checked on --resume, a resume with
a larger --max_steps extends the run, --overwrite never deletes an input, a damaged checkpoint at a
step is rewritten, and options that cannot train are refused before anything is written."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import torch

from sympo_ext.errors import ConfigError
from sympo_ext.train.checkpoint_files import verify_checkpoint
from sympo_ext.train.cli import main as cli_main
from sympo_ext.train.fingerprints import changed_inputs, path_fingerprint
from sympo_ext.train.sampling import epoch_order
from sympo_ext.train.trainer import Trainer

from .helpers import cfg, clean_records, cli_base, examples, run_cli, synthetic

CONSTANT_LR = ["--warmup_ratio", "0", "--min_lr_ratio", "1", "--learning_rate", "5e-3"]


def _args(model_dir, data, out, steps, extra=()):
    args = cli_base(model_dir, data, str(out))
    args[args.index("--max_steps") + 1] = str(steps)
    return args + CONSTANT_LR + list(extra)


def _final(out):
    from safetensors.torch import load_file

    return load_file(str(out / "final" / "model.safetensors"))


def _lr_rows(out):
    with open(out / "metrics.csv") as fh:
        return {int(r["step"]): float(r["learning_rate"]) for r in csv.DictReader(fh) if r["split"] == "train"}


@pytest.fixture
def copied(model_dir, data_file, tmp_path):
    """A private copy of the model directory and the data file (the tests change them)."""
    model, data = tmp_path / "model", tmp_path / "pairs.jsonl"
    shutil.copytree(model_dir, model)
    shutil.copy(data_file, data)
    return model, data


def test_resume_refuses_changed_inputs_naming_them(copied, tmp_path, capsys):
    model, data = copied
    out = tmp_path / "run"
    assert cli_main([str(a) for a in _args(model, data, out, 2, ["--save_steps", "1"])]) == 0
    inputs = json.loads((out / "run.json").read_text())["inputs"]
    assert set(inputs) >= {"train_pairs", "eval_pairs", "model", "ref_model", "tokenizer"}
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[::-1]) + "\n")  # the same pairs, reordered
    code, _, err = run_cli(_args(model, data, out, 4, ["--resume"]), capsys)
    assert code == 2 and "Traceback" not in err
    assert "the training pairs" in err and "changed since the run" in err
    data.write_text("\n".join(lines) + "\n")  # restored: the resume goes through
    (model / "config.json").write_text((model / "config.json").read_text().replace("{", '{\n  "note": 1,', 1))
    code, _, err = run_cli(_args(model, data, out, 4, ["--resume"]), capsys)
    assert code == 2 and "the model (--model" in err, err


def test_a_resume_from_another_directory_names_the_recorded_one(copied, tmp_path, capsys, monkeypatch):
    model, data = copied
    first, other = tmp_path / "first", tmp_path / "other"
    for d in (first, other):
        d.mkdir()
        shutil.copytree(model, d / "model")
    shutil.copy(data, first / "pairs.jsonl")
    (other / "pairs.jsonl").write_text("\n".join(data.read_text().splitlines()[::-1]) + "\n")  # other files
    monkeypatch.chdir(first)  # relative paths in run.json
    assert cli_main([str(a) for a in _args("model", "pairs.jsonl", "run", 2, ["--save_steps", "1"])]) == 0
    monkeypatch.chdir(other)
    code, _, err = run_cli(["--output_dir", "../first/run", "--resume", "--progress", "false"], capsys)
    assert code == 2 and "the training pairs" in err, err
    assert f"The run was started in {str(first)!r}, not in the current directory {str(other)!r}" in err
    monkeypatch.chdir(first)  # from the recorded directory: the same files, the run continues
    code, _, err = run_cli(["--output_dir", "run", "--resume", "--progress", "false"], capsys)
    assert code == 0, err


def test_a_resume_with_a_larger_max_steps_extends_the_run(model_dir, data_file, tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli_main([str(a) for a in _args(model_dir, data_file, full, 4)]) == 0
    assert cli_main([str(a) for a in _args(model_dir, data_file, part, 2)]) == 0  # a finished 2-step run
    code, out, err = run_cli(_args(model_dir, data_file, part, 4, ["--resume"]), capsys)
    assert code == 0, err
    assert "extending the run from 2 to 4 steps" in err and "done: 4 steps" in out
    assert json.loads((part / "run.json").read_text())["config"]["max_steps"] == 4
    # constant learning rate: the extension is exactly the 4-step run (data order, optimizer state, RNG)
    a, b = _final(full), _final(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    code, _, err = run_cli(_args(model_dir, data_file, part, 3, ["--resume"]), capsys)  # shorter than done
    assert code == 2 and "is at step 4, past the 3 steps" in err


def test_an_extension_without_a_final_model_says_final_is_stale(model_dir, data_file, tmp_path, capsys):
    part = tmp_path / "part"
    assert cli_main([str(a) for a in _args(model_dir, data_file, part, 2)]) == 0  # final/ of step 2
    before = _final(part)
    code, out, err = run_cli(_args(model_dir, data_file, part, 3, ["--resume", "--save_final_model", "false"]), capsys)
    assert code == 0 and "done: 3 steps" in out, err
    assert "--save_final_model false: " in err and "final is left from an earlier end of this run" in err
    assert "not the model of step 3 (that one is " in err and "step-000003)" in err
    after = _final(part)  # left as it was
    assert all(torch.equal(before[k], after[k]) for k in before)


def _without_max_steps(args):
    at = args.index("--max_steps")
    return args[:at] + args[at + 2 :]


def test_a_resume_follows_the_length_option_given_now(model_dir, data_file, tmp_path, capsys):
    # #8: 48 pairs / batch 8 = 6 steps per epoch. A run stored with --max_steps 2, resumed with
    # --num_epochs 0.5 alone, runs to 3 steps (the epochs given now decide), not the stored 2.
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli_main([str(a) for a in _args(model_dir, data_file, full, 3)]) == 0
    assert cli_main([str(a) for a in _args(model_dir, data_file, part, 2)]) == 0
    code, out, err = run_cli(
        _without_max_steps(_args(model_dir, data_file, part, 0, ["--num_epochs", "0.5", "--resume"])), capsys
    )
    assert code == 0, err
    assert "extending the run from 2 to 3 steps" in err and "done: 3 steps" in out, (out, err)
    stored = json.loads((part / "run.json").read_text())["config"]
    assert (stored["max_steps"], stored["num_epochs"]) == (0, 0.5)
    a, b = _final(full), _final(part)  # constant learning rate: exactly the 3-step run
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # The reverse: stored by epochs (3 steps), resumed with --max_steps 4: four steps.
    code, out, err = run_cli(_args(model_dir, data_file, part, 4, ["--resume"]), capsys)
    assert code == 0 and "extending the run from 3 to 4 steps" in err and "done: 4 steps" in out, (out, err)
    assert json.loads((part / "run.json").read_text())["config"]["max_steps"] == 4
    # A plain --resume (no length option given now) keeps the stored length.
    code, out, err = run_cli(_without_max_steps(_args(model_dir, data_file, part, 0, ["--resume"])), capsys)
    assert code == 0 and "extending" not in err and "done: 4 steps" in out, (out, err)


def test_an_extended_schedule_is_recomputed_for_the_new_total(model_dir, data_file, tmp_path, capsys):
    cosine = ["--warmup_ratio", "0", "--min_lr_ratio", "0", "--learning_rate", "1e-3"]
    full, part = tmp_path / "full", tmp_path / "part"
    base = cli_base(model_dir, data_file, "X")
    for out, steps in ((full, 6), (part, 3)):
        args = [str(out) if a == "X" else a for a in base]
        args[args.index("--max_steps") + 1] = str(steps)
        assert cli_main(args + cosine) == 0
    args = [str(part) if a == "X" else a for a in base]
    args[args.index("--max_steps") + 1] = "6"
    code, _, err = run_cli(args + cosine + ["--resume"], capsys)
    assert code == 0, err
    want, got = _lr_rows(full), _lr_rows(part)
    for step in (5, 6):  # the steps after the resumed one follow the 6-step schedule
        assert got[step] == pytest.approx(want[step], rel=1e-12)


def test_overwrite_refuses_an_input_inside_the_output_directory(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main([str(a) for a in _args(model_dir, data_file, out, 2)]) == 0
    inner_data = out / "pairs.jsonl"
    shutil.copy(data_file, inner_data)
    for args in (
        _args(out / "final", data_file, out, 2, ["--overwrite"]),
        _args(model_dir, inner_data, out, 2, ["--overwrite"]),
    ):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and "--overwrite would delete" in err and "Traceback" not in err, err
    assert (out / "final" / "config.json").is_file() and inner_data.is_file()


def test_a_damaged_checkpoint_is_rewritten_when_its_step_comes_again(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        cli_main(
            [str(a) for a in _args(model_dir, data_file, out, 4, ["--save_steps", "2", "--save_total_limit", "0"])]
        )
        == 0
    )
    model_pt = out / "checkpoints" / "step-000004" / "model.pt"
    model_pt.write_bytes(model_pt.read_bytes()[:100])
    code, _, err = run_cli(
        _args(model_dir, data_file, out, 4, ["--resume", "--save_steps", "2", "--save_total_limit", "0"]), capsys
    )
    assert code == 0 and "skipped" in err, err
    verify_checkpoint(str(out / "checkpoints" / "step-000004"))  # rewritten, intact
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-000004"


def test_a_resume_applies_save_total_limit_before_its_first_save(model_dir, data_file, tmp_path, capsys, monkeypatch):
    # Found on a real full disk (a tmpfs, hostile case #59/60): the checkpoints a smaller
    # --save_total_limit would prune hold the space the next save needs, so they go first.
    from sympo_ext.train import checkpoint

    out = tmp_path / "run"
    assert cli_main([str(a) for a in _args(model_dir, data_file, out, 3, ["--save_steps", "1"])]) == 0
    seen = []
    save = checkpoint.save_checkpoint

    def counting(ckpt_dir, step, **kw):
        seen.append(sorted(p.name for p in (out / "checkpoints").glob("step-*")))
        return save(ckpt_dir, step, **kw)

    monkeypatch.setattr(checkpoint, "save_checkpoint", counting)
    extra = ["--save_steps", "1", "--save_total_limit", "1", "--resume"]
    code, _, err = run_cli(_args(model_dir, data_file, out, 4, extra), capsys)
    assert code == 0, err
    assert seen[0] == ["step-000003"], seen  # the one resumed from, alone, before step 4 is written
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == ["step-000004"]


def test_token_ids_beyond_the_models_vocabulary_are_refused(tok):
    small = synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    small.resize_token_embeddings(8)
    with pytest.raises(ConfigError, match=r"holds token id \d+ but the model's vocabulary has 8 rows"):
        Trainer(cfg(max_steps=1), model=small, tokenizer=tok, train_examples=examples(clean_records(16))).train()


def test_a_tokenizer_larger_than_the_models_embedding_is_refused_before_the_probe(
    model_dir, data_file, tmp_path, capsys
):
    # #29: the data only uses ids the model has rows for, but the tokenizer has 2 ids more: refused
    # naming --tokenizer, the model and both sizes (before: the log-prob probe's IndexError).
    big = synthetic.build_tokenizer()
    rows = len(big)
    big.add_tokens(["<extra_a>", "<extra_b>"])
    big.save_pretrained(tmp_path / "bigtok")
    out = tmp_path / "run"
    code, _, err = run_cli(_args(model_dir, data_file, out, 1, ["--tokenizer", tmp_path / "bigtok"]), capsys)
    assert code == 2 and "Traceback" not in err and "probe" not in err, err
    assert "--tokenizer" in err and f"has {rows + 2} token ids" in err and f"--model has {rows} embedding rows" in err
    assert not out.exists()  # refused before anything was written
    policy = tmp_path / "bigmodel"  # the same check for --ref_model: a policy that fits the tokenizer,
    synthetic.build_tiny_llama(big, hidden_size=32, num_layers=1, num_heads=2).save_pretrained(policy)
    extra = ["--tokenizer", tmp_path / "bigtok", "--ref_model", model_dir]  # a reference that does not
    code, _, err = run_cli(_args(policy, data_file, out, 1, extra), capsys)
    assert code == 2 and f"--ref_model has {rows} embedding rows" in err, err


def test_options_that_cannot_train_are_refused_at_parse_time():
    with pytest.raises(ConfigError, match="--torch_dtype float16 cannot train on the CPU"):
        cfg(torch_dtype="float16", device="cpu").validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="--nll_weight must be >= 0"):
        cfg(nll_weight=-0.5).validate(need_model=False, need_data=False)


def test_every_seed_gives_a_data_order():
    for seed in (0, 2**40, 2**63 - 1):
        assert sorted(epoch_order(10, seed, 3)) == list(range(10))
    assert epoch_order(10, 5, 1) == epoch_order(10, 5, 1) != epoch_order(10, 5, 2)


def test_fingerprints_see_content_not_names(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.bin").write_bytes(b"x" * 10)
    first = path_fingerprint(str(d))
    (d / "a.bin").write_bytes(b"y" * 10)  # same size, same name, other content
    assert path_fingerprint(str(d)) != first and path_fingerprint("org/name") == "hub:org/name"
    assert changed_inputs({"model": "a", "tokenizer": "t"}, {"model": "b", "tokenizer": "t"}) == [
        "the model (--model: re-exported or replaced?)"
    ]
    assert changed_inputs(None, {"model": "b"}) == []  # a run that predates fingerprints


def test_odd_checkpoint_states_are_named(model_dir, data_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main([str(a) for a in _args(model_dir, data_file, out, 2, ["--save_steps", "1"])]) == 0
    latest = out / "checkpoints" / "latest"
    latest.unlink()
    latest.mkdir()
    code, _, err = run_cli(_args(model_dir, data_file, out, 2, ["--resume"]), capsys)
    assert code == 2 and "checkpoints/latest is not a file" in err and "free space" not in err, err


def test_broken_model_and_tokenizer_files_are_one_line(copied, tmp_path, capsys):
    model, data = copied
    weights = next(model.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:200])  # truncated
    code, _, err = run_cli(_args(model, data, tmp_path / "a", 1), capsys)
    assert code == 2 and "Traceback" not in err and "could not be loaded" in err, err
    (model / "config.json").write_text("{ not json")
    code, _, err = run_cli(_args(model, data, tmp_path / "b", 1), capsys)
    assert code == 2 and "Traceback" not in err and "could not be loaded" in err, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_second_interrupt_stops_without_a_traceback(model_dir, data_file, tmp_path, capsys, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "train", interrupted)
    code, _, err = run_cli(_args(model_dir, data_file, tmp_path / "run", 1), capsys)
    assert code == 130 and "interrupted: stopped without saving" in err and "Traceback" not in err


def test_every_name_of_a_list_option_must_match(tok):
    pytest.importorskip("peft")
    from sympo_ext.hf.loading import apply_lora

    model = synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    with pytest.raises(
        ConfigError, match=r"--lora_target_modules 'q_proj,k_prj': 'k_prj' not found: it matches no module .*q_proj"
    ):
        apply_lora(model, r=2, alpha=4, dropout=0.0, target_modules="q_proj,k_prj")
    apply_lora(model, r=2, alpha=4, dropout=0.0, target_modules="q_proj, v_proj")  # all match


def test_a_reference_with_a_smaller_vocabulary_is_refused_before_anything_is_written(
    tok, model_dir, data_file, tmp_path, capsys
):
    ref = tmp_path / "ref"
    small = synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)
    small.resize_token_embeddings(8)
    small.save_pretrained(ref)
    out = tmp_path / "run"
    code, _, err = run_cli(_args(model_dir, data_file, out, 1, ["--ref_model", ref]), capsys)
    assert code == 2 and "--ref_model: the data holds token id" in err and not out.exists(), err


def test_an_edited_config_file_is_compared_key_by_key_on_resume(model_dir, data_file, tmp_path, capsys):
    out, cfg_file = tmp_path / "run", tmp_path / "run.yaml"
    base = f"model: {model_dir}\ntrain_data: {data_file}\nbatch_size: 8\nmax_length: 32\nprogress: false\n"
    base += "tensorboard: 'off'\nbeta: 0.1\nsave_steps: 1\n"
    cfg_file.write_text(base + "logging_steps: 1\nmax_steps: 2\n")
    assert run_cli(["--config", cfg_file, "--output_dir", out], capsys)[0] == 0
    cfg_file.write_text(base + "logging_steps: 2\nmax_steps: 4\n")  # only keys a resume may change (#217)
    code, stdout, err = run_cli(["--config", cfg_file, "--output_dir", out, "--resume"], capsys)
    assert code == 0 and "done: 4 steps" in stdout, err
    cfg_file.write_text(base.replace("beta: 0.1", "beta: 0.2") + "logging_steps: 2\nmax_steps: 6\nseed: 3\n")
    code, _, err = run_cli(
        ["--config", cfg_file, "--output_dir", out, "--resume", "--beta", "0.1", "--seed", "0"], capsys
    )
    assert code == 2 and "Traceback" not in err, err
    assert "--config: beta 0.1 -> 0.2, seed (unset) -> 3;" in err and "max_steps" not in err.split("may")[0]
    assert "a --resume may change only" in err and "logging_steps" in err


def test_a_config_file_recorded_by_its_hash_is_still_compared():
    old = {"config_file": "sha256:ab"}
    assert changed_inputs(old, {"config_file": {"beta": 0.1}}) == ["the config file (--config)"]
    assert (
        changed_inputs(
            {"config_file": {"beta": 0.1, "max_steps": 2}},
            {"config_file": {"max_steps": 4, "beta": 0.1}},
            mutable={"max_steps"},
        )
        == []
    )
