"""Model zoo: the log-prob path and packing the probe picks give the model's own log-probs.

Tiny random models (hidden 32, 2 layers, initializer_range 0.2 so that skipped logit
post-processing shows) of architectures that break the easy assumptions: soft caps
(also 1.0), logit scales, BERT/RoBERTa heads with layers before the projection, tied
and biased heads, models that do not separate packed sequences (OPT, Mamba, BERT
family, RecurrentGemma). Built by tests/_tiny_models.py, nothing downloaded; an
architecture the installed transformers cannot build is skipped with the reason.
"""

from __future__ import annotations

import copy

import pytest
import torch
from _tiny_models import TINY, V, build_tiny

transformers = pytest.importorskip("transformers")

from sympo_ext import ops
from sympo_ext.data import EncodedPair, PackedCollator, PaddedCollator
from sympo_ext.hf import probe as logps_probe
from sympo_ext.hf.heads import split_decoder_head
from sympo_ext.hf.logps import SequenceLogps, batch_logps, model_logits
from sympo_ext.hf.probe import LogpsPathError, plan_logps

PAD = TINY["pad_token_id"]


# name: (model type, model class, config overrides of the tiny sizes, path the probe must pick, whether a
# packed row equals the same sequences padded). The last two are what the float64 checks below also measure.
ZOO = {
    "llama": ("llama", "LlamaForCausalLM", dict(tie_word_embeddings=False), "fused_linear", True),
    "gpt2_tied": ("gpt2", "GPT2LMHeadModel", {}, "fused_linear", True),
    "gemma2_softcap_1": ("gemma2", "Gemma2ForCausalLM", dict(final_logit_softcapping=1.0), "logits", True),
    "gemma2_softcap_30": ("gemma2", "Gemma2ForCausalLM", dict(final_logit_softcapping=30.0), "logits", True),
    "cohere_logit_scale": ("cohere", "CohereForCausalLM", dict(logit_scale=0.5), "logits", True),
    "granite_logits_scaling": ("granite", "GraniteForCausalLM", dict(logits_scaling=4.0), "logits", True),
    "roberta_lm_head": ("roberta", "RobertaForCausalLM", dict(is_decoder=True), "fused_linear", False),
    "bert_lm_head": ("bert", "BertLMHeadModel", dict(is_decoder=True), "fused_linear", False),
    "opt": ("opt", "OPTForCausalLM", {}, "fused_linear", False),
    "mamba": ("mamba", "MambaForCausalLM", {}, "fused_linear", False),
    "mixtral": ("mixtral", "MixtralForCausalLM", {}, "fused_linear", True),  # tiny configs: eager experts
    "phi_biased_head": ("phi", "PhiForCausalLM", {}, "fused_linear", True),
    "recurrentgemma_soft_cap": (
        "recurrent_gemma",
        "RecurrentGemmaForCausalLM",
        dict(
            num_key_value_heads=1,
            attention_window_size=16,
            logits_soft_cap=30.0,
            block_types=["recurrent", "attention"],
        ),
        "logits",
        False,
    ),
}
# Architectures whose logits are post-processed: the probe alone (fast rules off) must see it.
POST_PROCESSED = [n for n, spec in ZOO.items() if spec[3] == "logits"]
WITH_HEAD_TRANSFORM = ["roberta_lm_head", "bert_lm_head"]


_CACHE: dict[str, torch.nn.Module] = {}


def build(name: str) -> torch.nn.Module:
    """A fresh copy of the tiny model ``name`` (seeded; the global RNG is left alone)."""
    if name not in _CACHE:
        model_type, model_cls, overrides, _, _ = ZOO[name]
        if model_type not in transformers.CONFIG_MAPPING or not hasattr(transformers, model_cls):
            pytest.skip(f"transformers {transformers.__version__} has no {model_cls}")
        try:
            _CACHE[name] = build_tiny(model_type, model_cls, **overrides).eval()
        except Exception as e:  # pragma: no cover - depends on the installed transformers
            pytest.skip(f"transformers {transformers.__version__} cannot build a tiny {model_cls}: {e}")
    return copy.deepcopy(_CACHE[name])


def _pairs():
    g = torch.Generator().manual_seed(1)

    def ids(n):
        return (torch.randint(1, V, (n,), generator=g)).tolist()  # no pad id (0)

    return [
        EncodedPair(ids(3), ids(6), ids(4)),
        EncodedPair(ids(1), ids(8), ids(5)),
        EncodedPair(ids(4), ids(2), ids(7)),
    ]


def _float64_reference(model):
    """Per-sequence log-probs of the test pairs from the plain logits path in float64: padded, and packed
    (one row, position_ids restarting)."""
    model64 = copy.deepcopy(model).double()
    padded, packed = PaddedCollator(PAD)(_pairs()), PackedCollator()(_pairs())
    with torch.no_grad():
        logits = model_logits(model64, padded["input_ids"], padded["attention_mask"])
        ref = ops.sequence_logps(logits, padded["target_ids"])
        logits = model_logits(model64, packed["input_ids"], position_ids=packed["position_ids"])
        packed_ref = ops.sequence_logps(
            logits.reshape(-1, logits.shape[-1]), packed["target_ids"], cu_seqlens=packed["cu_seqlens"]
        )
    return ref.double(), packed_ref.double()  # (Mamba returns float32 logits even in float64)


@pytest.fixture
def varlen_attention(monkeypatch):
    """Let --packed auto consider packing with these (sdpa/eager) models, so the packed probe runs."""
    monkeypatch.setattr(logps_probe, "attention_skips_cross_sequence_blocks", lambda model: True)


@pytest.mark.parametrize("name", list(ZOO))
def test_chosen_path_equals_float64_reference(name, varlen_attention):
    model = build(name)
    _, _, _, want_path, want_packed = ZOO[name]
    plan = plan_logps(model, logps_path="auto", packed="auto", pad_token_id=PAD)
    ref, packed_ref = _float64_reference(model)
    # What the probe decided matches what float64 measures on other data.
    separates = torch.allclose(packed_ref, ref, rtol=1e-5, atol=1e-5)  # some models norm in float32
    assert separates == want_packed, (name, (packed_ref - ref).abs().max())
    assert (plan.path, plan.packed) == (want_path, want_packed), plan
    if want_path == "logits" or not want_packed:
        assert plan.notes, "a fallback must say why"
    # The chosen path, in the model's float32, equals the float64 reference.
    module = SequenceLogps(model, path=plan.path)
    with torch.no_grad():
        got = batch_logps(module, PaddedCollator(PAD)(_pairs()), torch.device("cpu")).double()
        torch.testing.assert_close(got, ref, rtol=2e-6, atol=2e-5)
        if plan.packed:
            got = batch_logps(module, PackedCollator()(_pairs()), torch.device("cpu")).double()
            torch.testing.assert_close(got, ref, rtol=2e-6, atol=2e-5)


@pytest.mark.parametrize("name", [n for n in ZOO if not ZOO[n][4]])
def test_forced_packing_is_refused_where_packed_differs(name):
    with pytest.raises(LogpsPathError, match="--packed true is refused.*position_ids"), pytest.warns(UserWarning):
        plan_logps(build(name), logps_path="logits", packed="true", pad_token_id=PAD)


@pytest.mark.parametrize("name", POST_PROCESSED)
def test_probe_alone_catches_post_processing(name, monkeypatch):
    # Fast rules off: an attribute the rules do not know must still be caught by the measurement.
    monkeypatch.setattr(logps_probe, "post_processing_reason", lambda model: None)
    model = build(name)
    plan = plan_logps(model, logps_path="auto", packed="false", pad_token_id=PAD)
    assert plan.path == "logits" and not plan.probed["fused_linear"]["ok"], plan
    assert "fused-linear path was probed" in plan.notes[0]
    with pytest.raises(LogpsPathError, match="fused_linear is refused"):
        plan_logps(model, logps_path="fused_linear", packed="false", pad_token_id=PAD)


@pytest.mark.parametrize("name", [n for n in ZOO if ZOO[n][3] == "fused_linear"])
def test_fused_gradients_match_logits_path(name):
    """Gradients of every parameter (head transform included) equal the logits path's, in float64."""
    model = build(name).double()
    padded = PaddedCollator(PAD)(_pairs())
    weights = torch.linspace(-1.0, 2.0, 2 * len(_pairs()), dtype=torch.float64)
    grads = {}
    for path in ("logits", "fused_linear"):
        model.zero_grad(set_to_none=True)
        (batch_logps(SequenceLogps(model, path=path), padded, torch.device("cpu")) * weights).sum().backward()
        grads[path] = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    assert grads["fused_linear"].keys() == grads["logits"].keys()
    with torch.no_grad():  # some heads (Mamba) cast the logits to float32 even in a float64 model
        exact = model_logits(model, padded["input_ids"], padded["attention_mask"]).dtype == torch.float64
    tol = dict(rtol=1e-9, atol=1e-11) if exact else dict(rtol=1e-5, atol=1e-6)
    for k, g in grads["logits"].items():
        torch.testing.assert_close(grads["fused_linear"][k], g, **tol, msg=k)
    parts = split_decoder_head(model)
    if name in WITH_HEAD_TRANSFORM:
        assert parts.transform is not None
        head_params = [
            k
            for k, p in model.named_parameters()
            if any(p is q for q in parts.transform.parameters()) and p is not parts.projection.weight
        ]
        assert head_params and all(grads["fused_linear"][k].abs().sum() > 0 for k in head_params), head_params
    else:
        assert parts.transform is None


def test_zoo_heads_are_what_they_claim():
    # The cases the zoo stands for: a tied head, a biased head, a head with a transform.
    gpt2 = build("gpt2_tied")
    assert split_decoder_head(gpt2).projection.weight is gpt2.get_input_embeddings().weight
    assert split_decoder_head(build("phi_biased_head")).projection.bias is not None
    for name in WITH_HEAD_TRANSFORM:
        assert split_decoder_head(build(name)).transform is not None
