"""sympo_ext.integrations.trl: SymPOTrainer / SymPOConfig against TRL's own DPOTrainer.

CPU, a tiny Llama built from a config and a word-level tokenizer (nothing downloaded).
"""

from __future__ import annotations

import copy
import importlib

import pytest
import torch

trl = pytest.importorskip("trl")
pytest.importorskip("peft")
datasets = pytest.importorskip("datasets")

from sympo_ext.experiments.synthetic import build_tiny_llama, build_tokenizer

from ._trl_setup import preference_rows, trl_options

sympo_trl = importlib.import_module("sympo_ext.integrations.trl")

STEPS = 4


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def _rows(tokenizer, n=24, seed=0):
    return preference_rows(tokenizer, n=n, seed=seed)


def _config(cls, tmp_path, **overrides):
    overrides = {"max_steps": STEPS, "per_device_train_batch_size": 4, **overrides}
    return cls(**trl_options(str(tmp_path / "out"), **overrides))


def _train(trainer_cls, args, tokenizer, rows, *, ref_model=True, peft_config=None, eval_rows=None):
    """Train; return (per-step losses as computed, the trainer, the policy)."""
    model = build_tiny_llama(tokenizer, seed=0)
    ref = copy.deepcopy(model) if ref_model else None
    trainer = trainer_cls(
        model=model,
        ref_model=ref,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        eval_dataset=None if eval_rows is None else datasets.Dataset.from_list(eval_rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    losses = []
    compute_loss = trainer.compute_loss

    def recording(*a, **k):
        out = compute_loss(*a, **k)
        losses.append(float(out.detach() if torch.is_tensor(out) else out[0].detach()))
        return out

    trainer.compute_loss = recording
    trainer.train()
    return losses, trainer, trainer.model


def test_logistic_matches_trl_dpo_trajectory(tokenizer, tmp_path):
    rows = _rows(tokenizer)
    want, _, _ = _train(trl.DPOTrainer, _config(trl.DPOConfig, tmp_path, loss_type=["sigmoid"]), tokenizer, rows)
    for path, checkpointing in (("auto", False), ("logits", False), ("auto", True)):
        got, trainer, model = _train(
            sympo_trl.SymPOTrainer,
            _config(
                sympo_trl.SymPOConfig,
                tmp_path,
                sympo_loss_type="logistic",
                sympo_logps_path=path,
                gradient_checkpointing=checkpointing,
            ),
            tokenizer,
            rows,
        )
        assert trainer.logps_path == ("fused_linear" if path == "auto" else "logits")
        assert model.is_gradient_checkpointing == checkpointing
        assert len(got) == len(want) == STEPS
        assert want[0] == pytest.approx(0.6931472, abs=1e-6)  # policy == reference at step 0
        assert len(set(round(x, 4) for x in want)) > 1  # training moved, so the comparison means something
        torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=0, atol=1e-5)


def test_sigmoid_starts_at_half_and_trains_with_trl_metrics(tokenizer, tmp_path):
    rows = _rows(tokenizer)
    losses, trainer, model = _train(
        sympo_trl.SymPOTrainer,
        _config(sympo_trl.SymPOConfig, tmp_path),
        tokenizer,
        rows,
        eval_rows=_rows(tokenizer, n=8, seed=1),
    )
    assert trainer.args.sympo_loss_type == "sigmoid"
    evaluated = trainer.evaluate()
    assert 0.0 < evaluated["eval_loss"] < 1.0  # the sigmoid loss is bounded in (0, 1)
    assert "eval_rewards/margins" in evaluated and "eval_logps/chosen" in evaluated
    assert losses[0] == pytest.approx(0.5, abs=1e-6)
    assert max(abs(x - 0.5) for x in losses[1:]) > 1e-3
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == STEPS
    for key in (
        "rewards/chosen",
        "rewards/rejected",
        "rewards/accuracies",
        "rewards/margins",
        "logps/chosen",
        "logps/rejected",
        "num_tokens",
    ):
        assert key in logged[-1], key
    assert logged[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-5)
    assert logged[-1]["rewards/margins"] != pytest.approx(0.0, abs=1e-5)


_TRL_TOKEN_EXTRAS = ("entropy", "logits/chosen", "logits/rejected", "mean_token_accuracy")


def test_trl_per_token_extras_are_neither_computed_nor_logged(tokenizer, tmp_path, monkeypatch):
    """TRL's fused LM head (its _ChunkedLogProbFunction) computes entropy, mean logits and top-1 for every
    token of the policy and the reference; SymPOTrainer logs none of them, so it must never run it: not
    in training, not for precomputed reference log-probs, not in evaluation. TRL's own trainer is the
    control (it does run it, with the extras, and logs them)."""
    from trl.trainer import utils as trl_utils

    calls = []
    original = trl_utils._ChunkedLogProbFunction.apply

    def counting(*args):
        calls.append(args[-1])  # the per-token outputs asked for
        return original(*args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", staticmethod(counting))
    rows, eval_rows = _rows(tokenizer, n=8), _rows(tokenizer, n=4, seed=1)
    _, trainer, _ = _train(
        trl.DPOTrainer, _config(trl.DPOConfig, tmp_path, loss_type=["sigmoid"], max_steps=1), tokenizer, rows
    )
    assert calls and "entropy" in calls[0] and "is_top1" in calls[0]  # the control: TRL computes them ...
    assert all(k in trainer.state.log_history[0] for k in _TRL_TOKEN_EXTRAS)  # ... and logs them
    for precompute in (False, True):
        calls.clear()
        _, trainer, _ = _train(
            sympo_trl.SymPOTrainer,
            _config(sympo_trl.SymPOConfig, tmp_path, max_steps=2, precompute_ref_log_probs=precompute),
            tokenizer,
            rows,
            ref_model=not precompute,
            eval_rows=eval_rows,
        )
        evaluated = trainer.evaluate()
        assert calls == [], f"precompute_ref_log_probs={precompute}: TRL's fused head ran {len(calls)} times"
        assert trainer.logps_path == trainer.ref_logps_path == "fused_linear"
        logged = [h for h in trainer.state.log_history if "loss" in h]
        assert len(logged) == 2 and "rewards/margins" in logged[0]
        for key in _TRL_TOKEN_EXTRAS:
            assert key not in logged[0] and f"eval_{key}" not in evaluated, key


def test_lora_via_peft_config_uses_disabled_adapters_as_reference(tokenizer, tmp_path):
    from peft import LoraConfig

    rows = _rows(tokenizer)
    base = build_tiny_llama(tokenizer, seed=0)
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    losses, trainer, model = _train(
        sympo_trl.SymPOTrainer,
        _config(sympo_trl.SymPOConfig, tmp_path, learning_rate=5e-2),
        tokenizer,
        rows,
        ref_model=False,
        peft_config=lora,
    )
    assert trainer.ref_model is None  # the reference is the policy with its adapter disabled
    assert trainer.logps_path == "fused_linear"
    assert losses[0] == pytest.approx(0.5, abs=1e-6)
    assert max(abs(x - 0.5) for x in losses[1:]) > 1e-4
    trained = dict(model.named_parameters())
    lora_params = [n for n in trained if "lora_" in n]
    assert lora_params and all(trained[n].requires_grad for n in lora_params)
    # base weights untouched, adapters moved
    for name, param in base.named_parameters():
        peft_name = "base_model.model." + name.replace(".q_proj.", ".q_proj.base_layer.").replace(
            ".v_proj.", ".v_proj.base_layer."
        )
        torch.testing.assert_close(trained[peft_name].detach(), param.detach(), rtol=0, atol=0)
    assert any(trained[n].detach().abs().sum() > 0 for n in lora_params if "lora_B" in n)


def test_label_column_flips_pairs(tokenizer, tmp_path):
    rows = _rows(tokenizer, n=16)
    swapped = [{"prompt": r["prompt"], "chosen": r["rejected"], "rejected": r["chosen"]} for r in rows]
    labelled = [dict(r, label=0) for r in swapped]  # 0: 'rejected' (the original chosen) is preferred
    cfg = dict(sympo_loss_type="logistic", max_steps=3)
    want, _, _ = _train(sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, **cfg), tokenizer, rows)
    got, _, _ = _train(sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, **cfg), tokenizer, labelled)
    unlabelled, _, _ = _train(
        sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, **cfg), tokenizer, swapped
    )
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=0, atol=1e-5)
    assert max(abs(a - b) for a, b in zip(unlabelled, want)) > 1e-4  # the label is what made them equal


def test_bad_label_value_is_refused(tokenizer, tmp_path):
    rows = [dict(r, label=2) for r in _rows(tokenizer, n=8)]
    with pytest.raises(ValueError, match="label column.*label 2.*expected 0/1"):
        _train(sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, max_steps=1), tokenizer, rows)


def test_precomputed_reference_log_probs(tokenizer, tmp_path):
    rows = _rows(tokenizer)
    cfg = dict(sympo_loss_type="logistic", max_steps=2)
    want, _, _ = _train(sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, **cfg), tokenizer, rows)
    got, trainer, _ = _train(
        sympo_trl.SymPOTrainer,
        _config(sympo_trl.SymPOConfig, tmp_path, precompute_ref_log_probs=True, **cfg),
        tokenizer,
        rows,
        ref_model=False,
    )
    assert trainer.ref_model is None
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- #
# configuration and version errors
# --------------------------------------------------------------------------- #


def test_loss_kwargs_follow_the_registry(tmp_path):
    cfg = _config(sympo_trl.SymPOConfig, tmp_path, sympo_loss_type="rdpo", label_smoothing=0.1)
    assert cfg.sympo_loss_kwargs() == {"loss_type": "rdpo", "epsilon": 0.1, "clip": None}
    # both given: they must agree (a disagreeing pair is refused, test_bad_config_is_refused)
    cfg = _config(sympo_trl.SymPOConfig, tmp_path, sympo_loss_type="cdpo", sympo_epsilon=0.2, label_smoothing=0.2)
    assert cfg.sympo_loss_kwargs()["epsilon"] == 0.2
    cfg = _config(sympo_trl.SymPOConfig, tmp_path, sympo_temperature=2.0)
    assert cfg.sympo_loss_kwargs()["temperature"] == 2.0
    for name in [*sympo_trl._losses.LOSSES, *sympo_trl._losses.ALIASES]:  # every registered loss and alias
        _config(sympo_trl.SymPOConfig, tmp_path, sympo_loss_type=name)
    cfg = _config(
        sympo_trl.SymPOConfig, tmp_path, sympo_loss_type=["sigmoid", "bco_pair"], sympo_loss_weights=[1.0, 0.5]
    )  # TRL's weighted combination (MPO-style)
    assert cfg.sympo_loss_kwargs() == {"loss_type": ("sigmoid", "bco_pair"), "loss_weights": [1.0, 0.5], "clip": None}
    assert (
        _config(sympo_trl.SymPOConfig, tmp_path, sympo_loss_type="ropo", sympo_alpha=3.0).sympo_loss_kwargs()["alpha"]
        == 3.0
    )


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sympo_loss_type": "nope"}, r"sympo_loss_type: unknown loss_type 'nope'; valid: sigmoid"),
        ({"loss_type": ["hinge"]}, r"loss_type=\['hinge'\] selects one of TRL's own losses.*sympo_loss_type"),
        ({"loss_weights": [1.0]}, r"loss_weights=\[1.0\] is not supported by SymPOTrainer.*sympo_loss_weights"),
        ({"ld_alpha": 0.5}, r"ld_alpha=0.5 is not supported"),
        ({"loss_type": ["sigmoid", "sft"]}, r"loss_type=\['sigmoid', 'sft'\]: TRL's 'sft' term.*sympo_nll_weight"),
        ({"f_divergence_type": "js_divergence"}, r"f_divergence_type='js_divergence' is not supported.*f-DPO"),
        ({"f_alpha_divergence_coef": 0.3}, r"f_alpha_divergence_coef=0.3 is not supported.*alpha_divergence"),
        ({"use_weighting": True}, r"use_weighting=True is not supported.*WPO"),
        ({"discopop_tau": 0.1}, r"discopop_tau=0.1 has no effect with sympo_loss_type='sigmoid'.*discopop"),
        (
            {"sympo_loss_type": "discopop", "discopop_tau": 0.1, "sympo_tau": 0.2},
            r"discopop_tau=0.1 and sympo_tau=0.2 disagree",
        ),
        ({"sympo_nll_weight": -1.0}, r"sympo_nll_weight must be a finite number >= 0"),
        ({"label_smoothing": 0.1}, r"label_smoothing=0.1 has no effect with sympo_loss_type='sigmoid'.*rdpo"),
        ({"sympo_loss_type": "logistic", "sympo_temperature": 2.0}, r"temperature=2.0 has no effect"),
        ({"sympo_logps_path": "fast"}, r"sympo_logps_path must be one of auto, fused_linear, logits"),
        ({"sympo_clip": -1.0}, r"sympo_clip must be > 0"),
        ({"sympo_chunk_size": 0}, r"sympo_chunk_size must be a positive int"),
        # a DPOConfig ported as is: TRL's 'sigmoid' is DPO, ours is SymPO (it would train SymPO silently)
        ({"loss_type": "sigmoid"}, r"loss_type='sigmoid' is TRL's DPO loss, which is sympo_loss_type='logistic'"),
        ({"loss_type": ["sigmoid"]}, r"loss_type='sigmoid' is TRL's DPO loss"),
        (
            {"sympo_loss_type": "cdpo", "sympo_epsilon": 0.2, "label_smoothing": 0.1},
            r"label_smoothing=0.1 and sympo_epsilon=0.2 disagree",
        ),
        ({"sympo_loss_type": ["logistic", "sft"]}, r"'sft' term .* is sympo_nll_weight here"),
    ],
)
def test_bad_config_is_refused(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        _config(sympo_trl.SymPOConfig, tmp_path, **overrides)


# Every DPOConfig field of TRL 1.16 that selects or parameterises a loss: how SymPOConfig treats a
# non-default value (refusals are in test_bad_config_is_refused; the mapped ones here).
TRL_LOSS_FIELDS = [
    "beta",
    "label_smoothing",
    "loss_type",
    "loss_weights",
    "ld_alpha",
    "f_divergence_type",
    "f_alpha_divergence_coef",
    "use_weighting",
    "discopop_tau",
]


def test_every_trl_loss_field_is_covered():
    import dataclasses

    import transformers

    names = {f.name for f in dataclasses.fields(trl.DPOConfig)} - {
        f.name for f in dataclasses.fields(transformers.TrainingArguments)
    }  # DPOConfig's own fields
    assert set(TRL_LOSS_FIELDS) <= names
    # a new loss field of a later TRL (by TRL's naming) must be added to the table
    lossy = {
        n
        for n in names
        if any(
            w in n
            for w in ("loss", "alpha", "beta", "tau", "gamma", "smoothing", "divergence", "weighting", "reference_free")
        )
    }
    assert lossy - {"router_aux_loss_coef", "ref_model_mixup_alpha"} <= set(TRL_LOSS_FIELDS), lossy


@pytest.mark.parametrize(
    "field, value, loss, want",
    [
        ("beta", 0.3, "sigmoid", None),
        ("label_smoothing", 0.2, "rdpo", {"epsilon": 0.2}),
        ("label_smoothing", 0.01, "exo_pair", {"epsilon": 0.01}),  # TRL 1.16: exo_pair's epsilon
        ("discopop_tau", 0.1, "discopop", {"tau": 0.1}),
    ],
)
def test_trl_loss_fields_are_mapped(tmp_path, field, value, loss, want):
    cfg = _config(sympo_trl.SymPOConfig, tmp_path, sympo_loss_type=loss, **{field: value})
    kwargs = cfg.sympo_loss_kwargs()
    if want is None:  # beta: TRL's own field, passed by the trainer
        assert cfg.beta == value and "beta" not in kwargs
    else:
        for k, v in want.items():
            assert kwargs[k] == pytest.approx(v)


def test_nll_weight_adds_the_per_pair_nll(tokenizer, tmp_path):
    rows = _rows(tokenizer, n=8)
    cfg = dict(sympo_loss_type="logistic", max_steps=1, learning_rate=0.0)
    base, _, _ = _train(sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, **cfg), tokenizer, rows)
    got, trainer, _ = _train(
        sympo_trl.SymPOTrainer, _config(sympo_trl.SymPOConfig, tmp_path, sympo_nll_weight=0.5, **cfg), tokenizer, rows
    )
    nll = [h["nll_loss"] for h in trainer.state.log_history if "nll_loss" in h]
    assert nll and nll[0] > 1.0  # a random model: about log(V) per token
    assert got[0] == pytest.approx(base[0] + 0.5 * nll[0], abs=1e-5)


def test_trainer_needs_a_sympo_config(tokenizer, tmp_path):
    with pytest.raises(TypeError, match="args must be a SymPOConfig"):
        sympo_trl.SymPOTrainer(
            model=build_tiny_llama(tokenizer),
            args=_config(trl.DPOConfig, tmp_path),
            train_dataset=datasets.Dataset.from_list(_rows(tokenizer, n=4)),
            processing_class=tokenizer,
        )


def test_logps_path_choice(tokenizer, tmp_path):
    model = build_tiny_llama(tokenizer)
    assert sympo_trl.choose_logps_path(model) == "fused_linear"
    model.config.logit_scale = 2.0  # logits post-processed: the LM head alone is not the logits
    assert sympo_trl.choose_logps_path(model) == "logits"
    trainer = sympo_trl.SymPOTrainer(
        model=model,
        ref_model=copy.deepcopy(model),
        args=_config(sympo_trl.SymPOConfig, tmp_path, sympo_logps_path="fused_linear", max_steps=1),
        train_dataset=datasets.Dataset.from_list(_rows(tokenizer, n=4)),
        processing_class=tokenizer,
    )
    with pytest.raises(ValueError, match="sympo_logps_path='fused_linear': .*logit_scale") as info:
        trainer.train()
    assert "--logps_path" not in str(info.value) and "use sympo_logps_path='logits' or 'auto'" in str(info.value)


def test_probe_refusal_names_the_config_field(tokenizer):
    """A forced fused path the probe refuses: the TRL message names the SymPOConfig field and reads as one
    sentence; sympo-train's (the probe's default) keeps naming its flag."""
    from sympo_ext.hf.probe import LogpsPathError, plan_logps

    model = build_tiny_llama(tokenizer)
    forward = model.forward

    def scaled(*args, **kwargs):  # logits post-processed inside forward: the LM head alone is not the logits
        out = forward(*args, **kwargs)
        out.logits = out.logits * 1.5
        return out

    model.forward = scaled
    with pytest.raises(ValueError) as info:
        sympo_trl.choose_logps_path(model, logps_path="fused_linear", pad_token_id=tokenizer.pad_token_id)
    msg = str(info.value)
    assert msg.startswith("sympo_logps_path='fused_linear' is refused for this model: the fused-linear path was "), msg
    assert msg.endswith("; use sympo_logps_path='logits' or 'auto'") and "--" not in msg, msg
    with pytest.raises(
        LogpsPathError, match=r"^--logps_path fused_linear is refused .*use --logps_path logits or auto$"
    ):
        plan_logps(model, logps_path="fused_linear", pad_token_id=tokenizer.pad_token_id)


def test_policy_takes_the_fused_path_under_mixed_precision(tokenizer, tmp_path):
    """bf16 mixed precision (CPU autocast): accelerate wraps the policy's forward in autocast; the policy's
    probe runs under the same autocast, so it accepts the fused-linear path as the reference's probe does
    (it used to compare an fp32 fused path with bf16 logits and fall back to 'logits'), and the fused run
    follows the logits path's trajectory."""
    rows = _rows(tokenizer, n=8)
    runs = {}
    for path in ("auto", "logits"):
        args = _config(sympo_trl.SymPOConfig, tmp_path, max_steps=2, bf16=True, sympo_logps_path=path)
        runs[path] = _train(sympo_trl.SymPOTrainer, args, tokenizer, rows)
    losses, trainer, _ = runs["auto"]
    assert trainer.accelerator.mixed_precision == "bf16"
    assert trainer.logps_path == trainer.ref_logps_path == "fused_linear"
    assert losses[0] == pytest.approx(0.5, abs=1e-6)  # SymPO's sigmoid loss, policy == reference at step 0
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(runs["logits"][0]), rtol=0, atol=2e-3)


@pytest.mark.parametrize("version", ["1.15.2", "2.0.0", "0.19.1"])
def test_trl_version_outside_the_range_is_refused(version):
    with pytest.raises(ImportError, match=rf"supports trl>=1.16,<2 .*but trl {version} is installed.*pip install"):
        sympo_trl.check_trl_version(version)


def test_import_checks_the_installed_trl_version(monkeypatch):
    sympo_trl.check_trl_version("1.16.0")
    monkeypatch.setattr(trl, "__version__", "1.9.0")
    with pytest.raises(ImportError, match=r"but trl 1.9.0 is installed"):
        importlib.reload(sympo_trl)
    monkeypatch.undo()
    importlib.reload(sympo_trl)  # leave a working module behind


def _run_or_raise(cmd, *, env, timeout):
    """Run ``cmd`` in its own process group; on a timeout kill the whole group (the launcher and its
    workers) and raise with the output, so a hang fails the test instead of stalling CI."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise AssertionError(f"{cmd} did not finish in {timeout} s; its output:\n{output[-6000:]}") from None
    assert proc.returncode == 0, f"{cmd} exited with {proc.returncode}; its output:\n{output[-6000:]}"
    return output


@pytest.mark.slow
def test_two_process_logistic_matches_trl_under_accelerate_launch(tmp_path):
    """Under 2 CPU processes (torch.distributed.run + accelerate's CPU environment) SymPOTrainer (logistic) follows TRL's own
    DPOTrainer under the same launch (like with like: TRL's 2-process run differs from its 1-process one).
    One launch trains both (TRL's first), so the start-up (imports, rendezvous) is paid once."""
    import json
    import os
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("_ddp_train.py")
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "true",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",
        "SYMPO_DDP_DUMP_AFTER": "150",  # the workers print their stacks and exit before the timeout below
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    # --standalone: the launcher's rendezvous store takes a free port on localhost and passes it on
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    _run_or_raise([*cmd, str(script), "both", str(tmp_path)], env=env, timeout=170)
    runs = {
        which: [json.loads((tmp_path / f"{which}_rank{r}.json").read_text()) for r in range(2)]
        for which in ("trl", "sympo")
    }
    for rank in range(2):
        want, got = runs["trl"][rank], runs["sympo"][rank]
        assert want["world_size"] == got["world_size"] == 2
        assert len(want["losses"]) == len(got["losses"]) == 4
        assert got["logps_path"] == "logits"  # the policy is DDP-wrapped: its forward must run
        assert got["ref_logps_path"] == "fused_linear"  # the frozen reference is not
        assert len(set(round(x, 4) for x in want["losses"])) > 1  # training moved
        torch.testing.assert_close(torch.tensor(got["losses"]), torch.tensor(want["losses"]), rtol=0, atol=1e-5)
    assert runs["trl"][0]["losses"][1:] != runs["trl"][1]["losses"][1:]  # each rank saw its own batches
