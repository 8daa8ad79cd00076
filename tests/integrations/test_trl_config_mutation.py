"""SymPOTrainer checks the TRL loss fields of its config again (hostile Q22): a SymPOConfig changed after
construction (``cfg.loss_type = ['ipo']``) skipped __post_init__, and TRL's loss_type was then ignored."""

from __future__ import annotations

import copy
import importlib

import pytest

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from sympo_ext.experiments.synthetic import build_tiny_llama, build_tokenizer

from ._trl_setup import preference_rows, trl_options

sympo_trl = importlib.import_module("sympo_ext.integrations.trl")


def _trainer(tmp_path, cfg):
    tok = build_tokenizer()
    model = build_tiny_llama(tok)
    return sympo_trl.SymPOTrainer(
        model=model,
        ref_model=copy.deepcopy(model),
        args=cfg,
        train_dataset=datasets.Dataset.from_list(preference_rows(tok, n=4)),
        processing_class=tok,
    )


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("loss_type", ["ipo"], "loss_type=\\['ipo'\\] selects one of TRL's own losses"),
        ("loss_type", "hinge", "loss_type='hinge' selects one of TRL's own losses"),
        ("loss_type", ["sigmoid", "sft"], "sympo_nll_weight"),
        ("use_weighting", True, "use_weighting=True is not supported"),
        ("discopop_tau", 0.3, "discopop_tau=0.3 has no effect"),
    ],
)
def test_a_config_changed_after_construction_is_refused_by_the_trainer(tmp_path, field, value, match):
    cfg = sympo_trl.SymPOConfig(**trl_options(str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=4))
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=match):
        _trainer(tmp_path, cfg)


def test_a_mapped_field_changed_after_construction_is_mapped(tmp_path):
    """discopop_tau set later is still the tau of the 'discopop' loss."""
    cfg = sympo_trl.SymPOConfig(
        **trl_options(str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=4), sympo_loss_type="discopop"
    )
    cfg.discopop_tau = 0.3
    trainer = _trainer(tmp_path, cfg)
    assert trainer.sympo_loss_kwargs["tau"] == pytest.approx(0.3)
