"""Real-model options of sympo-train (sympo_ext.train.model_setup): LoRA, gradient checkpointing,
Hub ids, weight dtype, attention implementation, and their bad inputs."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from sympo_ext.train.config import ConfigError
from sympo_ext.train.trainer import Trainer

from .helpers import cfg, clean_records, cli_base, examples, params, run_cli, stopped_at, tiny_model

peft = pytest.importorskip("peft")


def _train(tok, model, train, **kw):
    trainer = Trainer(cfg(**kw), model=model, tokenizer=tok, train_examples=train)
    return trainer, trainer.train()


def _losses(res):
    return [r["loss"] for r in res.history if r["split"] == "train"]


@pytest.mark.parametrize("path", ["fused_linear", "logits"])
def test_gradient_checkpointing_same_trajectory_and_really_recomputes(tok, path):
    train = examples(clean_records(24, seed=21))
    runs = {}
    for gc in (False, True):
        model = tiny_model(tok)
        calls = []  # a pre-hook inside a layer: it also runs when backward recomputes the layer
        hook = model.model.layers[0].mlp.register_forward_pre_hook(lambda *a: calls.append(1))
        _, res = _train(tok, model, train, max_steps=3, logps_path=path, gradient_checkpointing=gc, adam_eps=1e-3)
        hook.remove()
        runs[gc] = (_losses(res), params(model), len(calls))
    assert runs[True][0] == pytest.approx(runs[False][0], abs=1e-6)
    for k, v in runs[False][1].items():
        torch.testing.assert_close(runs[True][1][k], v, atol=1e-6, rtol=1e-5, msg=k)
    # checkpointing recomputes each layer's forward in backward: more layer calls than without
    assert runs[True][2] > runs[False][2]


@pytest.mark.parametrize("path", ["fused_linear", "logits"])
def test_lora_trains_only_adapters_with_the_base_as_reference(tok, path):
    train = examples(clean_records(24, seed=22))
    model = tiny_model(tok)
    base_before = params(model)
    trainer, res = _train(tok, model, train, max_steps=3, logps_path=path, lora_r=4, lora_alpha=8.0, learning_rate=2e-2)
    policy = trainer.policy
    assert type(policy).__name__.startswith("PeftModel")
    assert trainer.ref_module.model is policy  # no second copy: the reference is the policy, adapters off
    assert trainer.policy_loss.path == path
    losses = _losses(res)
    assert losses[0] == pytest.approx(0.5, abs=1e-6)  # LoRA's B starts at 0: policy == reference at step 0
    assert losses[-1] < losses[0]
    # base weights unchanged, adapters trained
    merged_names = {
        n.replace("base_model.model.", "").replace(".base_layer", ""): p for n, p in policy.named_parameters()
    }
    for k, v in base_before.items():
        torch.testing.assert_close(merged_names[k].detach(), v, msg=k)
    trained = [p for n, p in policy.named_parameters() if "lora_B" in n]
    assert trained and any(p.abs().sum() > 0 for p in trained)


def test_lora_paths_agree_and_gradient_checkpointing_composes(tok):
    train = examples(clean_records(24, seed=23))
    out = {}
    for name, kw in {
        "fused": dict(logps_path="fused_linear"),
        "logits": dict(logps_path="logits"),
        "fused+gc": dict(logps_path="fused_linear", gradient_checkpointing=True),
    }.items():
        _, res = _train(
            tok, tiny_model(tok), train, max_steps=3, lora_r=4, lora_alpha=8.0, learning_rate=2e-2, adam_eps=1e-3, **kw
        )
        out[name] = _losses(res)
    assert out["logits"] == pytest.approx(out["fused"], abs=1e-5)
    assert out["fused+gc"] == pytest.approx(out["fused"], abs=1e-6)


def test_lora_checkpoints_hold_the_adapter_resume_exactly_and_merge(tok, tmp_path):
    train = examples(clean_records(32, seed=24))
    conf = dict(max_steps=4, save_steps=2, save_total_limit=0, learning_rate=2e-2, save_final_model=True)
    conf.update(lora_r=4, lora_alpha=8.0, merge_lora=True)  # a LoRA run, merged at the end
    full = tmp_path / "full"
    t_full, _ = _train(tok, tiny_model(tok), train, output_dir=str(full), **conf)
    state = torch.load(full / "checkpoints" / "step-000002" / "model.pt", weights_only=True)
    assert state and all("lora_" in k for k in state)  # the adapter only, not the base model
    assert (full / "final" / "adapter_config.json").is_file()
    assert (full / "final" / "merged" / "config.json").is_file()

    part = stopped_at(full, tmp_path / "part", 2)
    t_res, _ = _train(tok, tiny_model(tok), train, output_dir=str(part), resume=True, **conf)
    a, b = params(t_full.policy), params(t_res.policy)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=0, rtol=0, msg=k)

    # the merged model computes the LoRA policy's logits
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(full / "final" / "merged", local_files_only=True)
    ids = torch.tensor([[1, 5, 9, 12, 3]])
    with torch.no_grad():
        want = t_full.policy(input_ids=ids).logits
        got = merged(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_bad_model_options_are_clear_and_write_nothing(tok, model_dir, data_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    code, _, err = run_cli(
        cli_base(model_dir, data_file, str(out)) + ["--lora_r", "4", "--lora_target_modules", "no_such_proj"], capsys
    )
    assert code == 2 and "--lora_target_modules 'no_such_proj'" in err and "not found" in err
    assert not out.exists()
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices
        run_cli(cli_base(model_dir, data_file, str(out)) + ["--attn_implementation", "nope"], capsys)
    assert exit_info.value.code == 2 and "--attn_implementation" in capsys.readouterr().err and not out.exists()
    code, _, err = run_cli(cli_base(model_dir, data_file, str(out)) + ["--merge_lora"], capsys)
    assert code == 2 and "--merge_lora needs --lora_r" in err and not out.exists()
    # flash-attention is not installed here (and needs a GPU): refused before anything is written
    code, _, err = run_cli(
        cli_base(model_dir, data_file, str(out)) + ["--attn_implementation", "flash_attention_2"], capsys
    )
    assert code == 2 and "flash_attention_2" in err and not out.exists()
    # peft missing
    import builtins

    real_import = builtins.__import__

    def no_peft(name, *args, **kwargs):
        if name == "peft" or name.startswith("peft."):
            raise ImportError("No module named 'peft'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_peft)
    code, _, err = run_cli(cli_base(model_dir, data_file, str(out)) + ["--lora_r", "4"], capsys)
    monkeypatch.setattr(builtins, "__import__", real_import)
    assert code == 2 and "--lora_r needs the peft package" in err and not out.exists()


def test_gradient_checkpointing_refused_for_a_model_without_it(tok):
    model = tiny_model(tok)
    type(model)  # LlamaForCausalLM supports it; a model that does not:
    model.supports_gradient_checkpointing = False
    with pytest.raises(ConfigError, match="does not support gradient checkpointing"):
        Trainer(
            cfg(gradient_checkpointing=True), model=model, tokenizer=tok, train_examples=examples(clean_records(8))
        ).train()


def _fake_hub_cache(cache, repo_id, model_dir):
    """The layout huggingface_hub's cache has after a download (models--org--name/snapshots/<rev>)."""
    rev = "0" * 40
    root = cache / ("models--" + repo_id.replace("/", "--"))
    snap = root / "snapshots" / rev
    shutil.copytree(model_dir, snap)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(rev)


def test_model_as_hub_id_offline_from_the_cache_and_missing_id(
    tok, model_dir, data_file, tmp_path, capsys, monkeypatch
):
    cache = tmp_path / "hub"
    _fake_hub_cache(cache, "sympo-test/tiny-llama", model_dir)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    out = tmp_path / "run"
    code, _, err = run_cli(
        cli_base("sympo-test/tiny-llama", data_file, str(out)) + ["--tokenizer", model_dir, "--torch_dtype", "float32"],
        capsys,
    )
    assert code == 0, err
    assert json.loads((out / "run.json").read_text())["config"]["model"] == "sympo-test/tiny-llama"
    missing = tmp_path / "missing"
    code, _, err = run_cli(
        cli_base("sympo-test/not-there", data_file, str(missing)) + ["--tokenizer", model_dir], capsys
    )
    assert code == 2 and "--model 'sympo-test/not-there'" in err and len(err.strip().splitlines()) == 1
    assert not missing.exists()
    code, _, err = run_cli(cli_base(str(tmp_path / "no" / "such" / "dir"), data_file, str(missing)), capsys)
    assert code == 2 and "no such directory" in err


def test_torch_dtype_and_attn_implementation_reach_the_model(tok, model_dir):
    from sympo_ext.hf.loading import load_policy

    m = load_policy(model_dir, torch_dtype="bfloat16", attn_implementation="eager")
    assert next(m.parameters()).dtype == torch.bfloat16
    assert m.config._attn_implementation == "eager"
    m = load_policy(model_dir, attn_implementation="sdpa")
    assert next(m.parameters()).dtype == torch.float32 and m.config._attn_implementation == "sdpa"
    assert os.path.isdir(model_dir)
