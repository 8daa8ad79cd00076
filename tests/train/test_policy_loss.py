"""PolicyLoss (the policy + its loss module, what DDP/FSDP2 wrap) against a plain PyTorch computation:
the model's float64 logits -> the oracle's sequence log-probs -> the oracle's sym_loss, on both paths,
padded and packed; values and gradients."""

from __future__ import annotations

import pytest
import torch
from _tiny_models import build_tiny

transformers = pytest.importorskip("transformers")

from sympo_ext import reference as oracle
from sympo_ext.data import EncodedPair, PackedCollator, PaddedCollator
from sympo_ext.hf.logps import model_inputs, model_logits
from sympo_ext.train.policy_loss import PolicyLoss

V = 41
OPTIONS = dict(loss_type="sigmoid", beta=0.5, reduction="sum")


def _llama():
    return build_tiny("llama", "LlamaForCausalLM", seed=1, vocab_size=V, num_hidden_layers=1).double()


def _pairs():
    g = torch.Generator().manual_seed(7)

    def ids(n):
        return torch.randint(1, V, (n,), generator=g).tolist()

    return [
        EncodedPair(prompt_ids=ids(2), chosen_ids=ids(4), rejected_ids=ids(3), label=1),
        EncodedPair(prompt_ids=ids(3), chosen_ids=ids(2), rejected_ids=ids(5), label=0),
        EncodedPair(prompt_ids=ids(1), chosen_ids=ids(3), rejected_ids=ids(3), label=1),
    ]


def _plain(model, padded, ref_c, ref_r, labels):
    logps = oracle.sequence_logps(
        model_logits(model, padded["input_ids"], padded["attention_mask"]), padded["target_ids"]
    )
    b = logps.shape[0] // 2
    return oracle.sym_loss(logps[:b], logps[b:], ref_c, ref_r, labels=labels, **OPTIONS)


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("path", ["fused_linear", "logits"])
def test_policy_loss_equals_the_plain_pytorch_loss(path, packed):
    model = _llama()
    pairs = _pairs()
    padded = PaddedCollator(0)(pairs)
    batch = PackedCollator()(pairs) if packed else padded
    g = torch.Generator().manual_seed(11)
    ref_c, ref_r = (torch.randn(3, generator=g, dtype=torch.float64) * 3 - 10 for _ in range(2))
    labels = torch.tensor([1, 0, 1])

    want = _plain(model, padded, ref_c, ref_r, labels)
    want_grads = torch.autograd.grad(want, list(model.parameters()))
    out = PolicyLoss(model, path=path, loss_options=OPTIONS)(
        **model_inputs(batch, torch.device("cpu")), ref_chosen_logps=ref_c, ref_rejected_logps=ref_r, pair_labels=labels
    )
    torch.testing.assert_close(out.loss.double(), want, rtol=1e-9, atol=1e-12)
    got_grads = torch.autograd.grad(out.loss, list(model.parameters()))
    for got, exp in zip(got_grads, want_grads):
        torch.testing.assert_close(got, exp, rtol=1e-8, atol=1e-11)
    assert out.chosen_logps.shape == (3,) and out.margins.shape == (3,)


def test_policy_loss_refuses_an_unresolved_or_impossible_path():
    with pytest.raises(ValueError, match="PolicyLoss: path must be one of fused_linear, logits; got .*'auto'"):
        PolicyLoss(_llama(), path="auto", loss_options=OPTIONS)
    with pytest.raises(ValueError, match="needs a model exposing its decoder and LM head"):
        PolicyLoss(torch.nn.Linear(2, 2), path="fused_linear", loss_options=OPTIONS)
