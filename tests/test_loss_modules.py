"""sympo_ext.SymPOLoss: pair loss + metrics straight from the logits of [chosen; rejected],
against the float64 composition of the references (reference.sequence_logps + reference.sym_loss)."""

from __future__ import annotations

import pytest
import torch
from _helpers import METRIC_KEYS, randn
from conftest import DEVICES

import sympo_ext
from sympo_ext import LOSSES, SymPOLoss, reference


def batch(pairs=3, t=6, vocab=23, device="cpu", dtype=torch.float32):
    logits = randn(2 * pairs, t, vocab, dtype=dtype, device=device, scale=2.0)
    labels = torch.randint(0, vocab, (2 * pairs, t))
    labels[:, :2] = -100  # prompt positions
    labels[-1, -2:] = -100  # padding
    ref = -torch.rand(2 * pairs, dtype=torch.float64) * 20 - 10
    return logits, labels.to(device), ref.to(device=device, dtype=torch.float32)


def halves(ref):
    """[2B] reference log-probs in [chosen; rejected] order -> (ref_chosen [B], ref_rejected [B])."""
    if ref is None:
        return None, None
    half = ref.shape[0] // 2
    return ref[:half], ref[half:]


def reference_loss(logits, labels, ref, *, average=False, pref=None, weights=None, **opts):
    x = logits.detach().double().requires_grad_(True)
    logps = reference.sequence_logps(x, labels, average=average)
    half = logps.shape[0] // 2
    rc = rr = None
    if ref is not None:
        rc, rr = ref[:half].double(), ref[half:].double()
    loss, chosen, rejected, margins = reference.sym_loss_with_rewards(
        logps[:half], logps[half:], rc, rr, labels=pref, weights=weights, **opts
    )
    loss.sum().backward()
    return loss.detach(), x.grad, chosen, rejected, margins, logps.detach()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reference_free", [False, True])
@pytest.mark.parametrize("average", [False, True])
def test_matches_reference_composition(device, reference_free, average):
    logits, labels, ref = batch(device=device)
    ref = None if reference_free else ref
    module = SymPOLoss("sigmoid", beta=0.1, average=average)
    x = logits.clone().requires_grad_(True)
    loss, metrics = module(x, labels, *halves(ref))
    loss.backward()
    exp_loss, exp_grad, chosen, rejected, margins, logps = reference_loss(
        logits, labels, ref, average=average, loss_type="sigmoid", beta=0.1
    )
    torch.testing.assert_close(loss.double().cpu(), exp_loss.cpu(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(x.grad.double().cpu(), exp_grad.cpu(), atol=1e-6, rtol=1e-4)
    assert set(metrics) == METRIC_KEYS
    assert all(not m.requires_grad and m.dim() == 0 for m in metrics.values())
    half = logps.shape[0] // 2
    expected = {
        "rewards/chosen": chosen.mean(),
        "rewards/rejected": rejected.mean(),
        "rewards/margins": margins.mean(),
        "rewards/accuracies": (margins > 0).double().mean(),
        "logps/chosen": logps[:half].mean(),
        "logps/rejected": logps[half:].mean(),
    }
    for key, value in expected.items():
        torch.testing.assert_close(metrics[key].double().cpu(), value.cpu(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("loss_type", sorted(LOSSES))
def test_every_loss_type_and_option(loss_type):
    logits, labels, ref = batch(pairs=4)
    opts = dict(loss_type=loss_type, beta=0.2, clip=0.5 if loss_type == "sigmoid" else None, reduction="sum")
    if "epsilon" in LOSSES[loss_type].params:
        opts["epsilon"] = 0.2
    if "temperature" in LOSSES[loss_type].params:
        opts["temperature"] = 2.0
    if "slope" in LOSSES[loss_type].params:
        opts["slope"] = 0.25
    pref = torch.tensor([1, 0, 1, 0])
    # batch losses (AOT: sorted across the batch) refuse per-pair weights
    weights = None if LOSSES[loss_type].kind == "batch" else torch.rand(4, dtype=torch.float64).float() + 0.5
    module = SymPOLoss(**opts)
    x = logits.clone().requires_grad_(True)
    loss, metrics = module(x, labels, *halves(ref), pair_labels=pref, weights=weights)
    loss.backward()
    exp_loss, exp_grad, _, _, margins, _ = reference_loss(logits, labels, ref, pref=pref, weights=weights, **opts)
    torch.testing.assert_close(loss.double(), exp_loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad.double(), exp_grad, atol=1e-6, rtol=1e-4)
    # clip=0.5 can clamp both rewards of a pair: a zero margin (a tie) counts half (sympo_ext.metrics)
    right = torch.where(pref == 0, margins < 0, margins > 0).double()
    agree = torch.where(margins == 0, 0.5, right).mean()
    torch.testing.assert_close(metrics["rewards/accuracies"].double(), agree)


def test_reduction_none_packed_and_inplace():
    pairs, t, vocab = 2, 5, 19
    logits, labels, ref = batch(pairs=pairs, t=t, vocab=vocab)
    lengths = [5, 3, 4, 2]
    rows = sum(lengths)
    packed = randn(rows, vocab, dtype=torch.float32)
    plabels = torch.randint(0, vocab, (rows,))
    cu = torch.tensor([0, 5, 8, 12, 14])
    module = SymPOLoss("unhinged", reduction="none")
    loss, _ = module(packed, plabels, ref[:2], ref[2:4], cu_seqlens=cu)
    exp_logps = reference.sequence_logps(packed.double(), plabels, cu_seqlens=cu)
    exp = reference.sym_loss(
        exp_logps[:2], exp_logps[2:], ref[:2].double(), ref[2:4].double(), loss_type="unhinged", reduction="none"
    )
    assert loss.shape == (2,)
    torch.testing.assert_close(loss.double(), exp, atol=1e-5, rtol=1e-5)
    # inplace_backward: same gradient reaching the LM head weight.
    hidden = randn(2 * pairs, t, 8, dtype=torch.float32)
    grads = []
    weight0 = randn(vocab, 8, dtype=torch.float32)
    for inplace in (False, True):
        weight = weight0.clone().requires_grad_(True)
        out, _ = SymPOLoss("sigmoid", inplace_backward=inplace)(hidden @ weight.t(), labels, *halves(ref))
        out.backward()
        grads.append(weight.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


def test_bad_inputs():
    logits, labels, ref = batch(pairs=2)
    module = SymPOLoss()
    with pytest.raises(ValueError, match=r"\[chosen; rejected\]"):
        module(logits[:3], labels[:3])
    with pytest.raises(RuntimeError, match="ref_chosen_logps has 1 entries but policy_chosen_logps has 2"):
        module(logits, labels, ref[:1], ref[1:2])
    with pytest.raises(RuntimeError, match="give both ref_chosen_logps and ref_rejected_logps"):
        module(logits, labels, ref[:2])
    with pytest.raises(ValueError, match="unknown loss_type"):
        SymPOLoss("nope")
    with pytest.raises(ValueError, match="unknown reduction"):
        SymPOLoss(reduction="max")
    with pytest.raises(ValueError, match="has no effect"):
        SymPOLoss("hinge", epsilon=0.1)
    assert "loss_type='sigmoid'" in repr(module)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    logits, labels, ref = batch(pairs=4, vocab=4099, dtype=torch.bfloat16)
    results = []
    for device in ("cpu", "cuda"):
        x = logits.detach().to(device).requires_grad_(True)  # a leaf on each device
        loss, metrics = SymPOLoss("sigmoid", average=True)(x, labels.to(device), *halves(ref.to(device)))
        loss.backward()
        results.append((loss.double().cpu(), x.grad.double().cpu(), {k: v.cpu() for k, v in metrics.items()}))
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(results[1][1], results[0][1], atol=1e-3, rtol=1.6e-2)
    for key in METRIC_KEYS:
        torch.testing.assert_close(results[1][2][key], results[0][2][key], atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- #
# the NLL / SFT term and combinations (issue: the preference-loss family)
# --------------------------------------------------------------------------- #


def _nll_reference(logits, labels, ref, *, average, nll_weight, reduction, **opts):
    """float64: the pair loss + nll_weight * reduce(per-pair mean NLL of the chosen response)."""
    x = logits.detach().double().requires_grad_(True)
    logps = reference.sequence_logps(x, labels, average=average)
    half = logps.shape[0] // 2
    counts = (labels != -100).sum(-1).double()[:half]
    loss = reference.sym_loss(
        logps[:half], logps[half:], ref[:half].double(), ref[half:].double(), reduction=reduction, **opts
    )
    nll = -logps[:half] if average else -logps[:half] / counts.clamp(min=1) * (counts > 0)
    total = loss + nll_weight * (nll.mean() if reduction == "mean" else nll.sum())
    total.backward()
    return total.detach(), x.grad, nll.detach()


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_weight_adds_the_chosen_per_token_nll(average, reduction):
    logits, labels, ref = batch(pairs=4)
    module = SymPOLoss("hinge", beta=0.3, nll_weight=0.7, average=average, reduction=reduction)  # SLiC
    x = logits.clone().requires_grad_(True)
    loss, metrics = module(x, labels, *halves(ref))
    loss.backward()
    want, grad, nll = _nll_reference(
        logits, labels, ref, average=average, nll_weight=0.7, reduction=reduction, loss_type="hinge", beta=0.3
    )
    torch.testing.assert_close(loss.double(), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x.grad.double(), grad, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(metrics["nll_loss"].double(), nll.mean(), atol=1e-5, rtol=1e-5)
    assert "nll_loss" not in SymPOLoss("hinge")(logits, labels, *halves(ref)).metrics


@pytest.mark.parametrize("fuse_backward", [True, False])
def test_fused_linear_nll_weight_and_combination_match_the_logits_module(fuse_backward):
    torch.manual_seed(3)
    pairs, t, h, v = 3, 5, 8, 17
    hidden = torch.randn(2 * pairs, t, h, dtype=torch.float64)
    weight = torch.randn(v, h, dtype=torch.float64) * 0.5
    labels = torch.randint(0, v, (2 * pairs, t))
    labels[:, :2] = -100
    ref = -torch.rand(2 * pairs, dtype=torch.float64) * 5
    opts = dict(loss_type=["sigmoid", "bco_pair", "sft"], loss_weights=[1.0, 0.5, 0.3], beta=0.2)
    fused = sympo_ext.FusedLinearSymPOLoss(**opts, chunk_size=4, fuse_backward=fuse_backward)
    hf, wf = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    loss_f, metrics_f = fused(hf, wf, labels, *halves(ref))
    loss_f.backward()
    hl, wl = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    loss_l, metrics_l = SymPOLoss(**opts)(hl @ wl.T, labels, *halves(ref))
    loss_l.backward()
    assert fused.nll_weight == pytest.approx(0.3) and fused.spec.loss_types == ("sigmoid", "bco_pair")
    torch.testing.assert_close(loss_f, loss_l, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(hf.grad, hl.grad, atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(wf.grad, wl.grad, atol=1e-10, rtol=1e-9)
    for key in metrics_l:
        torch.testing.assert_close(metrics_f[key], metrics_l[key], atol=1e-10, rtol=1e-9, msg=key)


def test_batch_losses_never_take_the_pair_grouped_fused_path():
    hidden = torch.randn(8, 4, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(11, 8, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 11, (8, 4))
    ref = -torch.rand(8, dtype=torch.float64)
    auto = sympo_ext.FusedLinearSymPOLoss("aot", chunk_size=3)  # groups of pairs would sort within a group
    loss, _ = auto(hidden, weight, labels, *halves(ref))
    want, _ = SymPOLoss("aot")(hidden @ weight.T, labels, *halves(ref))
    torch.testing.assert_close(loss, want)
    with pytest.raises(ValueError, match="cannot run the batch loss 'aot'"):
        sympo_ext.FusedLinearSymPOLoss("aot", fuse_backward=True)(hidden, weight, labels, *halves(ref))


def test_module_options_are_checked_by_the_registry():
    assert SymPOLoss("dpo").spec.loss_types == ("logistic",)  # TRL's name, an alias
    with pytest.raises(ValueError, match="unknown loss_type 'nope'"):
        SymPOLoss("nope")
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        SymPOLoss("ropo", alpha=0.0)
    with pytest.raises(ValueError, match="tau=0.1 has no effect"):
        SymPOLoss("sigmoid", tau=0.1)
    with pytest.raises(ValueError, match="nll_weight must be a finite number >= 0"):
        SymPOLoss("sigmoid", nll_weight=float("nan"))
    with pytest.raises(ValueError, match="'sft' alone is not a preference loss"):
        SymPOLoss(["sft"])


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_sft_weight_must_be_finite_and_non_negative(weight):
    """'sft' in a loss_type list is the NLL term: a negative weight would maximise the NLL."""
    from sympo_ext.loss_modules import split_sft

    with pytest.raises(ValueError, match="the weight of 'sft' .* must be a finite number >= 0"):
        split_sft(["sigmoid", "sft"], [1.0, weight], 0.0)
    assert split_sft(["sigmoid", "sft"], [1.0, 0.5], 0.25) == (["sigmoid"], [1.0], 0.75)
