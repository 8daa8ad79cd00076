"""The training loop (sympo_ext.train.trainer) on CPU with a tiny Llama: losses, every loss type, paths,
references, accumulation."""

from __future__ import annotations

import copy

import pytest
import torch

from sympo_ext.losses import LOSSES
from sympo_ext.train.config import ConfigError
from sympo_ext.train.trainer import Trainer

from .helpers import cfg, clean_records, examples, params, tiny_model


@pytest.mark.parametrize("loss_type", ["sigmoid", "logistic"])
def test_loss_decreases_on_clean_data(tok, loss_type):
    train, evals = examples(clean_records(64, seed=2)), examples(clean_records(16, seed=3))
    res = Trainer(
        cfg(loss_type=loss_type, max_steps=16, batch_size=16, learning_rate=1e-2, beta=0.5),
        model=tiny_model(tok),
        tokenizer=tok,
        train_examples=train,
        eval_examples=evals,
    ).train()
    losses = [r["loss"] for r in res.history if r["split"] == "train"]
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.02, losses
    assert res.eval_metrics["rewards/accuracies"] >= 0.75
    assert res.eval_metrics["rewards/true_accuracies"] == res.eval_metrics["rewards/accuracies"]
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"):
        assert name in res.train_metrics
    assert res.train_metrics["tokens_per_second"] > 0


LOSS_OPTIONS = {
    "sigmoid": dict(temperature=2.0),
    "symmetric_ramp": dict(slope=0.25),
    "cdpo": dict(epsilon=0.2),
    "rdpo": dict(epsilon=0.2),
}


@pytest.mark.parametrize("loss_type", list(LOSSES))
def test_every_loss_type_runs_a_step(tok, loss_type):
    model = tiny_model(tok)
    before = params(model)
    reference = {"logistic": "precomputed", "hinge": "none"}.get(loss_type, "model")
    res = Trainer(
        cfg(
            loss_type=loss_type,
            max_steps=1,
            reference=reference,
            clip=5.0 if loss_type == "ramp" else None,
            **LOSS_OPTIONS.get(loss_type, {}),
        ),
        model=model,
        tokenizer=tok,
        train_examples=examples(clean_records(8)),
    ).train()
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


def _plain_pytorch_training(model, tok, train, *, steps, batch_size, lr, beta, adam_eps, seed=0):
    """What sympo-train's step means, written out with the pure-PyTorch references: the trainer's
    data order, padded batches, logits -> reference log-probs -> reference sigmoid loss (mean over
    the pairs), AdamW (decay on >= 2-D parameters), cosine schedule, clipping at norm 1."""
    import math

    from sympo_ext import reference as R
    from sympo_ext.data import PaddedCollator, PreferenceDataset, PreferenceTokenizer

    pairs = PreferenceDataset.from_examples(train, PreferenceTokenizer(tok, max_length=32)).pairs
    ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    model.eval()
    collate = PaddedCollator(tok.pad_token_id)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.0}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, eps=adam_eps
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    per_epoch = len(pairs) // batch_size
    losses = []
    for step in range(steps):
        epoch, k = divmod(step, per_epoch)
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
        batch = collate([pairs[i] for i in order[k * batch_size : (k + 1) * batch_size]])

        def logps(m):
            logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
            return R.sequence_logps(logits, batch["target_ids"])

        with torch.no_grad():
            ref = logps(ref_model)
        lp = logps(model)
        b = batch_size
        loss = R.sym_loss(lp[:b], lp[b:], ref[:b], ref[b:], loss_type="sigmoid", beta=beta, labels=batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("path,fuse_backward", [("fused_linear", True), ("fused_linear", False), ("logits", True)])
def test_trainer_equals_plain_pytorch_loop(tok, path, fuse_backward):
    """The trainer runs the library's loss modules (loss-fused or recompute fused-linear path, or
    logits): its parameters after 3 steps equal a plain PyTorch loop's. (A large Adam epsilon keeps
    the update a smooth function of the gradient: with 1e-8, Adam turns the float noise of
    near-zero gradients into differences of up to a whole step, lr * sign.)"""
    train = examples(clean_records(24, seed=11))
    model = tiny_model(tok)
    expected_model = copy.deepcopy(model)
    expected = _plain_pytorch_training(
        expected_model, tok, train, steps=3, batch_size=8, lr=5e-3, beta=0.1, adam_eps=1e-3
    )
    res = Trainer(
        cfg(max_steps=3, logps_path=path, fuse_backward=fuse_backward, beta=0.1, adam_eps=1e-3),
        model=model,
        tokenizer=tok,
        train_examples=train,
    ).train()
    got = [r["loss"] for r in res.history if r["split"] == "train"]
    assert got == pytest.approx(expected, abs=1e-6)
    want = params(expected_model)
    for k, v in params(model).items():
        torch.testing.assert_close(v, want[k], atol=1e-6, rtol=1e-5, msg=k)


def test_bf16_autocast_runs_on_both_paths(tok):
    # bf16 autocast is the default on CUDA GPUs with bf16 support; on CPU it can be forced.
    train, losses = examples(clean_records(16, seed=9)), {}
    for path in ("fused_linear", "logits"):
        res = Trainer(
            cfg(precision="bf16", max_steps=2, logps_path=path),
            model=tiny_model(tok),
            tokenizer=tok,
            train_examples=train,
        ).train()
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


def test_grad_accum_matches_one_big_batch(tok):
    train = examples(clean_records(32, seed=11))
    finals = []
    for accum in (1, 4):
        model = tiny_model(tok)
        Trainer(
            cfg(max_steps=2, batch_size=16, grad_accum=accum), model=model, tokenizer=tok, train_examples=train
        ).train()
        finals.append(params(model))
    for k in finals[0]:
        torch.testing.assert_close(finals[1][k], finals[0][k], atol=1e-6, rtol=1e-5)


def test_weighted_combination_with_the_sft_term(tok):
    """--loss_types sigmoid,bco_pair,sft --loss_weights 1,0.5,0.2 (TRL's MPO-style combination): at step 0
    the policy is the reference, so every margin and reward is 0 and the loss is known in closed form."""
    import math

    res = Trainer(
        cfg(max_steps=1, loss_types="sigmoid,bco_pair,sft", loss_weights="1,0.5,0.2"),
        model=tiny_model(tok),
        tokenizer=tok,
        train_examples=examples(clean_records(8)),
    ).train()
    m = res.history[0]
    assert m["nll_loss"] > 0
    # sigmoid(0) = 0.5; bco_pair(0, 0) = 2 log 2; sft = the chosen responses' per-token NLL
    assert m["loss"] == pytest.approx(0.5 + 0.5 * 2 * math.log(2) + 0.2 * m["nll_loss"], abs=1e-5)


def test_every_loss_and_alias_is_a_train_option():
    from sympo_ext.losses import ALIASES

    for name in [*LOSSES, *ALIASES]:
        cfg(loss_type=name).validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="--alpha must be a finite number > 0"):
        cfg(loss_type="ropo", alpha=-1.0).validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="--loss_weights needs --loss_types"):
        cfg(loss_weights="1,2").validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="--loss_weights must be comma-separated numbers"):
        cfg(loss_types="sigmoid,hinge", loss_weights="1,x").validate(need_model=False, need_data=False)
    with pytest.raises(ConfigError, match="--loss_types"):
        cfg(loss_types="sigmoid,nope").validate(need_model=False, need_data=False)
