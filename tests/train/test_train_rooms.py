"""The trainer's rooms, directly: sampling, the optimiser and schedule, the step core's
stop-before-update rule (shared with the reward model), the reference policy's order-sensitive
cache and the checkpoint manager."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from torch import nn

from sympo_ext.data import EncodedPair
from sympo_ext.train import checkpoint as ckpt
from sympo_ext.train import checkpoint_files as files
from sympo_ext.train.dist import DistInfo
from sympo_ext.train.fingerprints import pairs_fingerprint
from sympo_ext.train.optim import make_optimizer, make_scheduler, warmup_cosine
from sympo_ext.train.reward_model import train_reward_model
from sympo_ext.train.rundir import REFERENCE_CACHE, RunDirError
from sympo_ext.train.sampling import StepSampler, epoch_order, sharded_batches
from sympo_ext.train.step import NonFiniteLossError, optimizer_step
from sympo_ext.train.trainer import Trainer

from .helpers import cfg, clean_records, examples, tiny_model


# ---------------------------------------------------------------- sampling
def test_epoch_order_is_a_seeded_permutation():
    a = epoch_order(50, seed=3, epoch=1)
    assert sorted(a) == list(range(50)) and a == epoch_order(50, seed=3, epoch=1)
    assert a != epoch_order(50, seed=3, epoch=2) and a != epoch_order(50, seed=4, epoch=1)


def test_step_sampler_splits_each_step_over_micro_steps_and_ranks():
    n, G, acc, ws = 40, 8, 2, 2
    samplers = [StepSampler(n, G, seed=1, grad_accum=acc, world_size=ws, rank=r) for r in range(ws)]
    assert samplers[0].steps_per_epoch == 5 and samplers[0].micro == 2
    order = epoch_order(n, 1, 0) + epoch_order(n, 1, 1)
    for step in range(7):  # across the epoch boundary
        per_rank = [s.positions(step) for s in samplers]
        assert all(len(mbs) == acc and all(len(mb) == 2 for mb in mbs) for mbs in per_rank)
        # micro-step m holds the m-th quarter of the step's slice, rank 0's half first
        seen = [i for m in range(acc) for r in range(ws) for i in per_rank[r][m]]
        assert seen == order[step * G : (step + 1) * G]
    with pytest.raises(ValueError, match="divisible"):
        StepSampler(n, 6, seed=0, grad_accum=2, world_size=2)


@pytest.mark.parametrize("n,bs,ws", [(10, 3, 1), (10, 3, 3), (2, 4, 4), (0, 2, 2)])
def test_sharded_batches_cover_every_position_once_in_step(n, bs, ws):
    shards = [list(sharded_batches(n, bs, world_size=ws, rank=r)) for r in range(ws)]
    assert len({len(s) for s in shards}) == 1  # the same number of batches everywhere (collective forwards)
    real = sorted(i for s in shards for pos, ok in s if ok for i in pos)
    assert real == list(range(n))
    assert all(pos == [0] for s in shards for pos, ok in s if not ok)


# ---------------------------------------------------------------- optim
def test_optimizer_groups_and_warmup_cosine_schedule():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    model[1].weight.requires_grad_(False)
    opt = make_optimizer(model, lr=0.1, weight_decay=0.5)
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2] and opt.param_groups[1]["weight_decay"] == 0.0
    assert opt.defaults["fused"] is True  # torch's fused AdamW on CPU / CUDA float parameters (as TRL's default)
    one_group = make_optimizer(model, lr=0.1, weight_decay=0.5, decay_1d=True)
    assert [len(g["params"]) for g in one_group.param_groups] == [3]
    f = warmup_cosine(10, warmup_steps=2, min_lr_ratio=0.1)
    assert [f(0), f(1)] == pytest.approx([1 / 3, 2 / 3])
    assert f(2) == pytest.approx(1.0) and f(10) == pytest.approx(0.1) and f(20) == pytest.approx(0.1)
    assert f(6) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    sched = make_scheduler(opt, 10, warmup_ratio=0.2, min_lr_ratio=0.1)  # round(0.2 * 10) = 2 warmup steps
    lrs = []
    for _ in range(4):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.1 * f(s) for s in range(4)])


# ---------------------------------------------------------------- step core
def test_step_core_stops_before_the_update():
    model = nn.Linear(3, 1)
    opt = make_optimizer(model, lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.ones(2, 3)).sum().backward()
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at step 4.*Last good checkpoint: c1"):
        optimizer_step(opt, model.parameters(), loss=math.nan, where="step 4", last_good="c1")
    assert all(p.grad is None for p in model.parameters())
    model(torch.ones(2, 3)).sum().backward()
    model.weight.grad[0, 0] = math.inf
    with pytest.raises(NonFiniteLossError, match="non-finite gradient norm at step 5"):
        optimizer_step(opt, model.parameters(), loss=1.0, where="step 5")
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # never updated
    model(torch.ones(2, 3)).sum().backward()
    gn, lr = optimizer_step(opt, model.parameters(), loss=1.0, where="step 6", max_grad_norm=1e-3)
    assert gn > 1e-3 and lr == 0.1 and not torch.equal(model.bias, before[1])


def test_reward_model_stops_before_the_update_on_a_nonfinite_loss():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    before = [p.detach().clone() for p in model.parameters()]
    X = torch.randn(20, 4)
    X[3] = math.nan  # every batch holding item 3 has a NaN loss
    a, b = torch.arange(0, 10), torch.arange(10, 20)
    with pytest.raises(NonFiniteLossError, match="non-finite loss .* epoch 1") as err:
        train_reward_model(model, a, b, pool=X, epochs=1, batch_size=10, lr=1e-2)
    assert "before the update" in str(err.value)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # the only batch was refused


# ---------------------------------------------------------------- reference policy
def _pair(prompt, chosen, rejected, label=1):
    return EncodedPair(prompt_ids=prompt, chosen_ids=chosen, rejected_ids=rejected, label=label)


def test_pairs_fingerprint_is_order_and_content_sensitive():
    p, q = _pair([1, 2], [3], [4]), _pair([5], [6, 7], [8])
    fp = pairs_fingerprint([p, q])
    assert fp == pairs_fingerprint([_pair([1, 2], [3], [4]), _pair([5], [6, 7], [8])]) and len(fp) == 64
    assert fp != pairs_fingerprint([q, p])  # order
    assert fp != pairs_fingerprint([_pair([1, 2], [3], [4], label=0), q])  # label
    assert fp != pairs_fingerprint([_pair([1], [2, 3], [4]), q])  # the same ids split differently
    assert fp != pairs_fingerprint([p]) and pairs_fingerprint([]) != fp


def test_a_reordered_training_file_does_not_reuse_the_reference_cache(tok, tmp_path):
    train = examples(clean_records(16, seed=4))
    conf = dict(max_steps=2, batch_size=8, reference="precomputed", output_dir=str(tmp_path / "run"), save_steps=1)
    Trainer(cfg(**conf), model=tiny_model(tok), tokenizer=tok, train_examples=train).train()
    cache = tmp_path / "run" / REFERENCE_CACHE
    stamp = cache.stat().st_mtime_ns
    # The same pairs in the same order: the cache is reused, not rewritten (the control of this test).
    Trainer(cfg(**conf, resume=True), model=tiny_model(tok), tokenizer=tok, train_examples=train).train()
    assert cache.stat().st_mtime_ns == stamp
    # Reordered: refused before anything is read from the cache, by the run's input fingerprints
    # (sympo_ext.train.fingerprints) -- and the cache's own key, the same fingerprint, refuses it too.
    with pytest.raises(RunDirError, match=r"the training pairs .* changed since the run"):
        Trainer(cfg(**conf, resume=True), model=tiny_model(tok), tokenizer=tok, train_examples=train[::-1]).train()
    run_json = tmp_path / "run" / "run.json"
    run = json.loads(run_json.read_text())
    run.pop("inputs")  # a run that predates the input fingerprints: the cache key still refuses
    run_json.write_text(json.dumps(run))
    with pytest.raises(RunDirError, match="do not match the data"):
        Trainer(cfg(**conf, resume=True), model=tiny_model(tok), tokenizer=tok, train_examples=train[::-1]).train()


def test_an_edited_reference_cache_is_recomputed_not_reused(tok, tmp_path, capsys):
    # #19: ref_logps.pt records a sha256 of its values; a resume over a hand-edited cache (same key,
    # other values) recomputes it from the initial policy instead of training against the edited values.
    train = examples(clean_records(16, seed=4))
    conf = dict(max_steps=2, batch_size=8, reference="precomputed", output_dir=str(tmp_path / "run"), save_steps=1)
    Trainer(cfg(**conf), model=tiny_model(tok), tokenizer=tok, train_examples=train).train()
    path = tmp_path / "run" / REFERENCE_CACHE
    cache = torch.load(path, weights_only=True)
    good = cache["train"].clone()
    assert isinstance(cache.get("sha256"), str) and len(cache["sha256"]) == 64
    cache["train"][0, 0] += 5.0  # the key (the data fingerprint) still matches
    torch.save(cache, path)
    capsys.readouterr()
    resumed = Trainer(cfg(**conf, resume=True), model=tiny_model(tok), tokenizer=tok, train_examples=train)
    resumed.train()
    err = capsys.readouterr().err
    assert "does not match the checksum recorded" in err and "recomputing" in err, err
    torch.testing.assert_close(resumed.reference.cache["train"], good, rtol=0, atol=0)
    torch.testing.assert_close(torch.load(path, weights_only=True)["train"], good, rtol=0, atol=0)
    # A cache that records no checksum (an older run's) is recomputed too, and says so.
    cache = torch.load(path, weights_only=True)
    cache.pop("sha256")
    torch.save(cache, path)
    Trainer(cfg(**conf, resume=True), model=tiny_model(tok), tokenizer=tok, train_examples=train).train()
    assert "records no checksum" in capsys.readouterr().err
    assert "sha256" in torch.load(path, weights_only=True)


# ---------------------------------------------------------------- checkpoint manager
class _Cfg:
    def __init__(self, out, **kw):
        self.output_dir, self.batch_size, self.save_total_limit = out, 4, 0
        self.save_final_model, self.merge_lora = False, False
        self.__dict__.update(kw)

    def to_dict(self):
        return dict(self.__dict__)


def _manager(out, messages=None):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = make_optimizer(model, lr=0.1)
    sched = make_scheduler(opt, 10, warmup_steps=2)
    parts = dict(policy=model, optimizer=opt, scheduler=sched, dist=DistInfo(world_size=1), fsdp=False)
    report = (messages if messages is not None else []).append
    m = ckpt.CheckpointManager(_Cfg(out), **parts, steps_per_epoch=5, total_steps=10, report=report)
    return m, model, opt, sched


def test_checkpoint_manager_saves_and_resumes_exactly(tmp_path):
    out = str(tmp_path)
    m, model, opt, sched = _manager(out)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched.step()
    path = m.save(7)
    assert path == os.path.join(files.checkpoint_dir(out), "step-000007") and m.last == path
    state = torch.load(os.path.join(path, "trainer_state.pt"), weights_only=False)
    assert state["data_position"] == {"epoch": 1, "batch_in_epoch": 2, "pairs_seen": 28}
    expect_rand = torch.rand(3)
    messages = []
    m2, model2, opt2, sched2 = _manager(out, messages=messages)
    with torch.no_grad():
        model2.weight.zero_()
    assert m2.resume() == 7 and m2.last == path and messages == []
    assert torch.equal(model2.weight, model.weight) and sched2.state_dict() == sched.state_dict()
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert torch.equal(torch.rand(3), expect_rand)  # the RNG continues where the save left it


def test_checkpoint_manager_refusals_and_a_run_without_checkpoints(tmp_path):
    messages = []
    m, model, _, _ = _manager(str(tmp_path), messages=messages)
    assert m.resume() == 0 and "has no checkpoint yet" in messages[0]
    with torch.no_grad():
        model.bias[0] = math.nan
    with pytest.raises(NonFiniteLossError, match="after step 3 .*bias.*none written yet"):
        m.save(3)
    assert not os.path.isdir(files.checkpoint_dir(str(tmp_path)))
    parts = dict(policy=model, optimizer=None, scheduler=None, dist=DistInfo(), fsdp=False, report=print)
    assert ckpt.CheckpointManager(_Cfg(None), **parts, steps_per_epoch=1, total_steps=1).save(1) is None
