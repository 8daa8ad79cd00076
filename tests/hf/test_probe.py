"""plan_logps: the probe's rules, its bad-input paths, its side effects, and the CLI order of checks."""

from __future__ import annotations

import json
import os
import warnings
from types import SimpleNamespace

import pytest
import torch
from _tiny_models import build_tiny
from torch import nn

transformers = pytest.importorskip("transformers")
synthetic = pytest.importorskip("sympo_ext.experiments.synthetic")

from sympo_ext.data import EncodedPair, PaddedCollator
from sympo_ext.hf import probe as logps_probe
from sympo_ext.hf.heads import HeadTransform, post_processing_reason, split_decoder_head
from sympo_ext.hf.logps import SequenceLogps, batch_logps
from sympo_ext.hf.probe import LogpsPathError, packed_mode, plan_logps, probe_tolerance
from sympo_ext.train.cli import build_parser, config_from_args
from sympo_ext.train.cli import main as cli_main
from sympo_ext.train.config import ConfigError, TrainConfig


def gemma2(vocab, softcap=1.0, seed=0):
    return build_tiny(
        "gemma2",
        "Gemma2ForCausalLM",
        seed=seed,
        vocab_size=vocab,
        max_position_embeddings=128,
        final_logit_softcapping=softcap,
    )


def llama(tok):
    return synthetic.build_tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2)


# --------------------------------------------------------------------------- #
# Fast rules (the first filter)
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "attr, value, off",
    [
        ("final_logit_softcapping", 1.0, False),  # a cap of 1.0 squashes logits into (-1, 1): not off
        ("final_logit_softcapping", 30.0, False),
        ("final_logit_softcapping", None, True),
        ("final_logit_softcapping", 0, True),
        ("logits_soft_cap", 30.0, False),
        ("logit_scale", 1.0, True),
        ("logit_scale", 0.0625, False),
        ("logits_scaling", 1, True),
        ("logits_scaling", 8.0, False),
    ],
)
def test_fast_rules(attr, value, off):
    model = SimpleNamespace(config=SimpleNamespace(**{attr: value}))
    assert (post_processing_reason(model) is None) == off


def test_probe_off_means_fast_rules_decide(tok):
    # The old bug: a soft cap of 1.0 was taken for "off" and the fused path skipped it.
    plan = plan_logps(gemma2(len(tok)), logps_path="auto", packed="false", probe=False)
    assert plan.path == "logits" and "final_logit_softcapping=1.0" in plan.notes[0]
    assert "not probed" in plan.notes[-1] and not plan.probed.get("fused_linear")
    assert SequenceLogps(gemma2(len(tok))).path == "logits"
    with pytest.warns(UserWarning, match="dense"):
        plan = plan_logps(llama(tok), logps_path="auto", packed="true", probe=False)
    assert plan.path == "fused_linear" and plan.packed and "fused_linear" not in plan.probed


# --------------------------------------------------------------------------- #
# The probe's decisions
# --------------------------------------------------------------------------- #


class _Decoder(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.mix = nn.Linear(hidden, hidden)

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False):
        h = self.embed(input_ids)
        # causal running mean: position t sees tokens 0..t of its row (a packed row mixes sequences)
        h = h.cumsum(1) / torch.arange(1, h.shape[1] + 1, device=h.device)[:, None]
        return SimpleNamespace(last_hidden_state=torch.tanh(self.mix(h)))


class _UnknownScale(nn.Module):
    """An HF-shaped model whose forward scales the logits, with nothing in a config to say so."""

    def __init__(self, vocab=50, hidden=16, scale=3.0):
        super().__init__()
        self.model = _Decoder(vocab, hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)
        self.scale = scale

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False):
        hidden = self.model(input_ids).last_hidden_state
        return SimpleNamespace(logits=self.lm_head(hidden) * self.scale)


def test_unknown_post_processing_is_caught_by_the_probe():
    torch.manual_seed(0)
    model = _UnknownScale()
    assert split_decoder_head(model) is not None and post_processing_reason(model) is None  # rules see nothing
    plan = plan_logps(model, logps_path="auto", packed="false", pad_token_id=0)
    assert plan.path == "logits" and not plan.probed["fused_linear"]["ok"]
    assert len(plan.notes) == 1 and "fused-linear path was probed" in plan.notes[0]
    model.scale = 1.0  # now logits are exactly lm_head(hidden): the probe accepts the fused path
    assert plan_logps(model, logps_path="auto", packed="false", pad_token_id=0).path == "fused_linear"
    model.scale = 1.0 + 1e-3  # 0.1 %: far above float32 rounding
    assert plan_logps(model, logps_path="auto", packed="false", pad_token_id=0).path == "logits"


def test_packed_probe_sees_a_model_that_mixes_packed_sequences(monkeypatch):
    torch.manual_seed(0)
    model = _UnknownScale(scale=1.0)
    monkeypatch.setattr(logps_probe, "attention_skips_cross_sequence_blocks", lambda m: True)
    plan = plan_logps(model, logps_path="auto", packed="auto", pad_token_id=0)
    assert plan.path == "fused_linear" and not plan.packed and "position_ids restarts" in plan.notes[0]
    with pytest.raises(LogpsPathError, match="--packed true is refused"):
        plan_logps(model, logps_path="auto", packed="true", pad_token_id=0)


def test_head_that_skips_its_projection_falls_back_to_logits():
    class Head(nn.Module):  # never calls its Linear as a module: the transform capture finds nothing
        def __init__(self):
            super().__init__()
            self.decoder = nn.Linear(16, 50)

        def forward(self, x):
            return torch.nn.functional.linear(x, self.decoder.weight, self.decoder.bias)

    class Model(_UnknownScale):
        def __init__(self):
            super().__init__(scale=1.0)
            del self.lm_head
            self.cls = Head()

        def get_output_embeddings(self):
            return self.cls.decoder

        def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False):
            return SimpleNamespace(logits=self.cls(self.model(input_ids).last_hidden_state))

    model = Model()
    parts = split_decoder_head(model)
    assert isinstance(parts.transform, HeadTransform)
    with pytest.raises(RuntimeError, match="did not call its output projection"):
        parts.transform(torch.zeros(1, 2, 16))
    plan = plan_logps(model, logps_path="auto", packed="false", pad_token_id=0)
    assert plan.path == "logits" and "did not call its output projection" in plan.probed["fused_linear"]["error"]


def test_peft_wrapped_model_keeps_the_fused_path(tok):
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(
        llama(tok), peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    parts = split_decoder_head(model)  # the wrapper holds decoder and head: the head is still found
    assert parts is not None and parts.transform is None
    assert plan_logps(model, pad_token_id=tok.pad_token_id).path == "fused_linear"
    pairs = [EncodedPair([5, 6], [7, 8, 9], [10, 11]), EncodedPair([4], [12], [13, 14])]
    batch = PaddedCollator(tok.pad_token_id)(pairs)
    grads = {}
    for path in ("logits", "fused_linear"):
        model.zero_grad(set_to_none=True)
        batch_logps(SequenceLogps(model, path=path), batch, torch.device("cpu")).sum().backward()
        grads[path] = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    assert grads["fused_linear"].keys() == grads["logits"].keys() and any("lora" in k for k in grads["logits"])
    for k, g in grads["logits"].items():
        torch.testing.assert_close(grads["fused_linear"][k], g, rtol=1e-4, atol=1e-6, msg=k)


def test_packed_auto_needs_an_attention_that_skips_blocks(tok):
    model = llama(tok)  # sdpa: a dense mask would be built, so auto does not pack (and does not probe it)
    plan = plan_logps(model, logps_path="auto", packed="auto", pad_token_id=tok.pad_token_id)
    assert (plan.path, plan.packed) == ("fused_linear", False) and "packed" not in plan.probed
    assert "dense mask" in plan.notes[0] and plan.probed["attn_implementation"] == "sdpa"
    model.config._attn_implementation = "flash_attention_2"
    assert logps_probe.attention_skips_cross_sequence_blocks(model)
    with pytest.warns(UserWarning, match="dense"):  # forced on sdpa: allowed (it is correct), with a warning
        plan = plan_logps(llama(tok), logps_path="logits", packed="true", pad_token_id=tok.pad_token_id)
    assert (plan.path, plan.packed) == ("logits", True) and plan.probed["packed"]["ok"]


def test_bf16_model_probes_in_its_own_dtype(tok):
    with pytest.warns(UserWarning, match="dense"):
        plan = plan_logps(
            llama(tok).to(torch.bfloat16), logps_path="auto", packed="true", pad_token_id=tok.pad_token_id
        )
    assert (plan.path, plan.packed, plan.probed["dtype"]) == ("fused_linear", True, "bfloat16")
    plan = plan_logps(gemma2(len(tok)).to(torch.bfloat16), packed="false")
    assert plan.path == "logits"


def test_forced_paths_are_refused_with_a_config_error(tok):
    with pytest.raises(LogpsPathError, match="--logps_path fused_linear: config.final_logit_softcapping"):
        plan_logps(gemma2(len(tok)), logps_path="fused_linear")
    assert issubclass(LogpsPathError, ConfigError)
    plain = nn.Linear(3, 3)
    with pytest.raises(LogpsPathError, match="does not expose a decoder"):
        plan_logps(plain, logps_path="fused_linear")
    # a plain module with nothing to probe: the logits path, no forward at all
    assert plan_logps(plain, logps_path="auto", packed="false").path == "logits"


@pytest.mark.parametrize(
    "kw, match", [(dict(packed="sometimes"), "packed='sometimes'"), (dict(logps_path="fast"), "logps_path='fast'")]
)
def test_bad_arguments(tok, kw, match):
    with pytest.raises(ConfigError, match=match):
        plan_logps(llama(tok), **kw)


def test_probe_leaves_the_model_and_rng_as_they_were(tok):
    model = llama(tok)
    model.train()
    model.model.layers[0].eval()
    model.model.embed_tokens.weight.requires_grad_(False)
    modes = {n: m.training for n, m in model.named_modules()}
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = plan_logps(model, logps_path="auto", packed="true", pad_token_id=tok.pad_token_id)
    assert plan.probed["fused_linear"]["ok"] and plan.probed["packed"]["ok"]
    assert torch.equal(torch.get_rng_state(), rng)
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_tolerance_formula():
    # one sequence, two counted tokens; float32, hidden 16: u = eps * (1 + 4)
    logits = torch.tensor([[[1.0, -3.0], [0.5, 2.0], [9.0, 9.0]]])
    targets = torch.tensor([[1, 0, -100]])
    u = torch.finfo(torch.float32).eps * 5
    expected = u * ((3.0 + 3.0) + (0.5 + 2.0) + 2)
    tol = probe_tolerance(logits, targets, dtype=torch.float32, hidden_size=16)
    assert tol.shape == (1,) and tol.item() == pytest.approx(expected, rel=1e-12)
    bf16 = probe_tolerance(logits, targets, dtype=torch.bfloat16, hidden_size=16)
    assert bf16.item() == pytest.approx(torch.finfo(torch.bfloat16).eps * 10.5, rel=1e-12)


# --------------------------------------------------------------------------- #
# Config and CLI
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "value, want",
    [(True, "true"), (False, "false"), ("auto", "auto"), ("TRUE", "true"), ("0", "false"), ("sometimes", "sometimes")],
)
def test_packed_mode_accepts_old_bools(value, want):
    assert packed_mode(value) == want


def test_packed_flag_forms():
    parse = build_parser().parse_args
    assert config_from_args(parse(["--packed"])).packed == "true"
    assert config_from_args(parse(["--packed", "auto"])).packed == "auto"
    assert config_from_args(parse(["--packed", "false"])).packed == "false"
    assert TrainConfig().packed is False and config_from_args(parse([])).probe_logps_paths is True
    with pytest.raises(ConfigError, match="--packed: 'sometimes' is not one of false, true, auto"):
        TrainConfig(packed="sometimes").validate(need_model=False, need_data=False)
    TrainConfig(packed=True).validate(need_model=False, need_data=False)  # old configs: a bool


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory, tok):
    path = tmp_path_factory.mktemp("gemma2_softcap_1")
    gemma2(len(tok)).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    import random

    rng = random.Random(0)
    path = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    with open(path, "w") as fh:
        for _ in range(16):
            topic = rng.choice(list(synthetic.TOPICS))
            good = " ".join(rng.choice(synthetic.TOPICS[topic]) for _ in range(3))
            bad = " ".join(rng.choice(synthetic.BAD_WORDS) for _ in range(3))
            fh.write(json.dumps({"prompt": f"write about {topic}", "chosen": good, "rejected": bad}) + "\n")
    return str(path)


def _run(args, capsys):
    code = cli_main([str(a) for a in args])
    return code, capsys.readouterr().err


def _snapshot(path):
    """Every file of a run directory with its modification time, but the lock file (which records
    the last process that took the directory, refused or not; sympo_ext.train.rundir)."""
    from sympo_ext.train.rundir import LOCK_NAME

    return {
        os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
        for d, _, files in os.walk(path)
        for f in files
        if f != LOCK_NAME
    }


def test_cli_refused_forced_path_exits_2_and_leaves_the_run_untouched(
    gemma_dir, pairs_file, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    base = [
        "--model",
        gemma_dir,
        "--train_data",
        pairs_file,
        "--output_dir",
        out,
        "--batch_size",
        "4",
        "--max_steps",
        "1",
        "--max_length",
        "24",
        "--progress",
        "false",
        "--tensorboard",
        "off",
        "--save_final_model",
        "false",
    ]
    code, err = _run(base + ["--logps_path", "fused_linear"], capsys)
    assert code == 2 and "--logps_path fused_linear" in err and "softcapping" in err and not out.exists()
    # an existing run: auto picks logits, says why, records the plan
    code, err = _run(base, capsys)
    assert code == 0, err
    assert "[sympo-train] logits path: config.final_logit_softcapping=1.0" in err
    plan = json.loads((out / "run.json").read_text())["logps_plan"]
    assert plan["path"] == "logits" and plan["packed"] is False and plan["notes"]
    before = _snapshot(out)
    code, err = _run(base + ["--logps_path", "fused_linear"], capsys)  # refused by the run-dir check already
    assert code == 2 and _snapshot(out) == before
    code, err = _run(base + ["--logps_path", "fused_linear", "--overwrite"], capsys)  # --overwrite deletes nothing
    assert code == 2 and "--logps_path fused_linear" in err, err
    assert _snapshot(out) == before
    # the same when it is the probe (not a fast rule) that refuses
    monkeypatch.setattr(logps_probe, "post_processing_reason", lambda model: None)
    code, err = _run(base + ["--logps_path", "fused_linear", "--overwrite"], capsys)
    assert code == 2 and "fused_linear is refused for this model" in err and "probed" in err, err
    assert _snapshot(out) == before
