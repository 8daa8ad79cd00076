"""One definition per loss: the kernel's list, the registry, the references and README agree."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch

import sympo_ext
from sympo_ext import losses, oracle
from sympo_ext.losses import LOSSES, LossSpec, formulas

ROOT = Path(__file__).resolve().parents[2]
PER_PAIR = [n for n, i in LOSSES.items() if i.kind != "batch"]


def header_losses():
    """(name, kind, param spec constant) of every X(...) line of csrc/include/sympo/loss_list.h."""
    text = (ROOT / "csrc/include/sympo/loss_list.h").read_text()
    return re.findall(r'^\s+X\(\w+, "(\w+)", (\w+), (\w+)\)', text, flags=re.M)


def test_x_macro_header_lists_exactly_the_per_pair_registry():
    rows = header_losses()
    assert [r[0] for r in rows] == PER_PAIR
    for name, kind, param in rows:
        info = LOSSES[name]
        assert kind.lower() == info.kind
        assert (param == "kNoParam") == (info.param is None)


@pytest.mark.skipif(not sympo_ext.KERNELS_AVAILABLE, reason="needs the compiled kernels")
def test_kernel_table_matches_the_registry():
    """The compiled library's table (names, kinds, parameter names and ranges) is the registry's."""
    want = [
        f"{n} {i.kind} " + (f"{i.param.name} {i.param.range_text()}" if i.param else "- -")
        for n, i in LOSSES.items()
        if i.kind != "batch"
    ]
    assert list(torch.ops.sympo_ext.loss_table()) == want
    for info in LOSSES.values():
        if info.kind == "batch":
            assert info.fused_as in PER_PAIR


def test_every_loss_has_a_reference_and_a_readme_row():
    readme = (ROOT / "README.md").read_text()
    for name, info in LOSSES.items():
        # the formula is registered on its entry, in the one module of entries
        assert callable(info.reference) and info.reference.__module__ == formulas.__name__, name
        assert f"| `{name}` |" in readme, f"README's loss table lacks {name}"
    assert losses.markdown_table() in readme


def test_aliases_are_trl_names_and_give_the_same_loss():
    assert losses.ALIASES == {"dpo": "logistic", "robust": "rdpo"}
    pc, pr, rc, rr = (torch.randn(16, dtype=torch.float64) for _ in range(4))
    for alias, name in losses.ALIASES.items():
        kw = dict(epsilon=0.2) if name == "rdpo" else {}
        torch.testing.assert_close(
            sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=alias, **kw),
            sympo_ext.sym_loss(pc, pr, rc, rr, loss_type=name, **kw),
        )
        assert alias in losses.help_text()
    assert "TRL's `sigmoid`" in losses.markdown_table()


def test_loss_spec_defaults_written_once_and_kwargs_round_trip():
    spec = LossSpec.create("ropo")
    assert spec.param_value("ropo") == LOSSES["ropo"].param.default == 14.0
    assert LossSpec.create("exo_pair").param_value("exo_pair") == 1e-3
    assert LossSpec.create("cdpo").param_value("cdpo") == 0.0
    spec = LossSpec.create(["dpo", "bco_pair"], loss_weights=[1.0, 0.5], beta=0.2, clip=3.0)
    assert spec.loss_types == ("logistic", "bco_pair") and spec.weights == (1.0, 0.5)
    assert LossSpec.create(**spec.sym_loss_kwargs()) == spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.beta = 1.0  # frozen
    pc, pr = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    torch.testing.assert_close(
        sympo_ext.sym_loss(pc, pr, spec=spec), sympo_ext.sym_loss(pc, pr, **spec.sym_loss_kwargs())
    )
    torch.testing.assert_close(sympo_ext.sym_loss(pc, pr, spec=spec), oracle.sym_loss(pc, pr, spec=spec))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(loss_type="logistic", alpha=2.0), ValueError, "alpha=2.0 has no effect with loss_type='logistic'"),
        (dict(loss_type="sigmoid", tau=0.1), ValueError, "tau=0.1 has no effect"),
        (dict(loss_type="dpo", bogus=1.0), TypeError, "unknown loss parameter"),
        (dict(loss_type=["logistic", "dpo"]), ValueError, "names a loss twice"),
        (dict(loss_type=["logistic", "hinge"], loss_weights=[1.0]), ValueError, "loss_weights has 1 entries"),
        (dict(loss_type="nope"), ValueError, r"unknown loss_type 'nope'; valid: sigmoid.*dpo \(= logistic\)"),
        (dict(loss_type=[]), TypeError, "non-empty list"),
    ],
)
def test_loss_spec_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        LossSpec.create(**kwargs)


def test_old_callers_passing_a_loss_default_still_work():
    """Older callers pass temperature=1.0, slope=0.5, epsilon=0.0 to every loss: a value equal to a
    loss's own default has no effect and is accepted (any other value is refused, see above)."""
    spec = LossSpec.create("logistic", temperature=1.0, slope=0.5, epsilon=0.0)
    assert spec.loss_types == ("logistic",) and spec.params == ()
    pc, pr = torch.randn(8), torch.randn(8)
    sympo_ext.sym_loss(pc, pr, loss_type="hinge", temperature=1.0, slope=0.5, epsilon=0.0)


def test_family_is_derived_from_symmetric():
    """apo_zero is symmetric, so it is in the symmetric family (the two cannot disagree)."""
    for name, info in LOSSES.items():
        assert (info.family == "symmetric") == info.symmetric, name
    assert LOSSES["apo_zero"].family == "symmetric"
    assert {n for n, i in LOSSES.items() if i.family == "robust baseline"} == {"cdpo", "rdpo", "ipo", "ropo"}


def test_one_help_per_shared_parameter_lists_every_range():
    text = losses.param_help("epsilon")
    for part in ("[0, 1] for cdpo/aot/aot_unpaired", "[0, 0.5) for rdpo", "(0, 1) for exo_pair"):
        assert part in text
    doc = sympo_ext.sym_loss.__doc__
    assert all(f"    {name}: {losses.param_help(name)}" in doc for name in losses.PARAMS)


def test_describe_one_line_per_term_with_values_and_trl_notes():
    text = LossSpec.create(["sigmoid", "cdpo"], loss_weights=[1.0, 2.0], epsilon=0.2, beta=0.5, clip=3.0).describe()
    lines = text.splitlines()
    assert lines[0] == "loss (beta=0.5, clip=3):"
    assert lines[1] == (
        "  1 x sigmoid: l = 1 / (1 + exp(temperature * s)), temperature=1; symmetric  "
        "[SymPO's symmetric loss, NOT TRL's `sigmoid` (that is `logistic`)]"
    )
    assert lines[2].startswith(
        "  2 x cdpo: l = (1 - epsilon) log(1 + exp(-s)) + epsilon log(1 + exp(s)), epsilon=0.2; not symmetric"
    )
    assert len(lines) == 3
    assert "hinge: l = max(0, 1 - s); not symmetric" in LossSpec.create("hinge").describe()
