"""The one log-prob dispatch (sympo_ext.hf.logps): every caller gets the same log-probs.

SequenceLogps (reference policy, probe), PolicyLoss (trainer) and a TRL-shaped right-aligned batch
(positions selected with ``positions=slice(-T - 1, -1)``) against a float64 computation from the
model's own logits, on both paths, padded and packed."""

from __future__ import annotations

import pytest
import torch
from _tiny_models import build_tiny

transformers = pytest.importorskip("transformers")

from sympo_ext import reference as _oracle
from sympo_ext.data import EncodedPair, PackedCollator, PaddedCollator
from sympo_ext.hf.logps import (
    LOGPS_PATHS,
    SequenceLogps,
    batch_logps,
    check_logps_path,
    forward_kwargs,
    model_logits,
    policy_logps,
)

V = 53


def _llama(seed=0):
    return build_tiny("llama", "LlamaForCausalLM", seed=seed, vocab_size=V, num_hidden_layers=1).double().eval()


def _pairs():
    g = torch.Generator().manual_seed(3)

    def ids(n):
        return (torch.randint(1, V, (n,), generator=g)).tolist()

    return [
        EncodedPair(prompt_ids=ids(3), chosen_ids=ids(4), rejected_ids=ids(2)),
        EncodedPair(prompt_ids=ids(2), chosen_ids=ids(2), rejected_ids=ids(5)),
    ]


def _want(model, batch):
    """Float64 log-probs from the model's logits: log_softmax + gather + masked sum, per row."""
    logits = model_logits(model, batch["input_ids"], batch["attention_mask"])
    return _oracle.sequence_logps(logits, batch["target_ids"])


@pytest.mark.parametrize("path", ["fused_linear", "logits"])
def test_sequence_logps_padded_and_packed_equal_the_logits_oracle(path):
    model = _llama()
    padded = PaddedCollator(0)(_pairs())
    want = _want(model, padded)
    with torch.no_grad():
        got = batch_logps(SequenceLogps(model, path=path), padded, torch.device("cpu"))
        got_packed = batch_logps(SequenceLogps(model, path=path), PackedCollator()(_pairs()), torch.device("cpu"))
    torch.testing.assert_close(got.double(), want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got_packed.double(), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("path", ["fused_linear", "logits"])
def test_right_aligned_positions_select_the_completion_like_trl(path):
    """A TRL-shaped batch: [prompt; completion] per row, targets = the completion tokens shifted by one;
    only the last T + 1 positions are run through the head."""
    model = _llama()
    g = torch.Generator().manual_seed(5)
    input_ids = torch.randint(1, V, (3, 9), generator=g)
    completion = torch.zeros_like(input_ids, dtype=torch.bool)
    completion[:, 5:] = True
    completion[1, 7:] = False  # a shorter completion, right-padded
    mask = torch.ones_like(input_ids)
    mask[1, 7:] = 0
    targets_full = input_ids.masked_fill(~completion, -100)[:, 1:]
    T = 4  # TRL keeps the completion part: the last T targets
    targets = targets_full[:, -T:]
    with torch.no_grad():
        got = policy_logps(
            model, path, {"input_ids": input_ids, "attention_mask": mask}, targets, positions=slice(-T - 1, -1)
        )
        logits = model_logits(model, input_ids, mask)[:, :-1]
    want = _oracle.sequence_logps(logits, targets_full)
    torch.testing.assert_close(got.double(), want, rtol=1e-10, atol=1e-10)


def test_gradients_agree_across_paths():
    model = _llama()
    padded = PaddedCollator(0)(_pairs())
    grads = {}
    for path in ("fused_linear", "logits"):
        model.zero_grad()
        kw = forward_kwargs(padded["input_ids"], padded["attention_mask"])
        (policy_logps(model, path, kw, padded["target_ids"]) * torch.tensor([1.0, -2.0, 0.5, 3.0])).sum().backward()
        grads[path] = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert grads["fused_linear"].keys() == grads["logits"].keys()
    for name in grads["logits"]:
        torch.testing.assert_close(grads["fused_linear"][name], grads["logits"][name], rtol=1e-9, atol=1e-11)


def test_path_names_are_checked_once():
    assert LOGPS_PATHS == ("auto", "fused_linear", "logits")
    assert check_logps_path("auto") == "auto"
    with pytest.raises(ValueError, match="must be one of fused_linear, logits; got path='auto'"):
        check_logps_path("auto", what="path", resolved=True)
    with pytest.raises(ValueError, match="SequenceLogps: path must be one of auto, fused_linear, logits"):
        SequenceLogps(_llama(), path="fast")
    with pytest.raises(ValueError, match="does not expose a decoder"):
        policy_logps(
            torch.nn.Linear(2, 2),
            "fused_linear",
            {"input_ids": torch.zeros(1, 2, dtype=torch.long)},
            torch.zeros(1, 2, dtype=torch.long),
        )
