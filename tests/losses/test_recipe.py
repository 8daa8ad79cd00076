"""The "how to add a loss" recipe (csrc/README.md) stays true: ONE registry entry (with its
pure-PyTorch formula) is all the Python a new loss with a new parameter needs.

A subprocess registers a toy margin loss with a new parameter ``kappa`` right after the
entries module runs -- where a new entry of sympo_ext/losses/formulas.py would be -- and before
the rest of sympo_ext is imported, then checks that every derived view picks it up.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(r"""
    import importlib.util, math, sys, types

    # The package directories, without running sympo_ext/__init__.py yet.
    spec = importlib.util.find_spec("sympo_ext")
    for name, path in (("sympo_ext", spec.submodule_search_locations[0]),
                       ("sympo_ext.losses", spec.submodule_search_locations[0] + "/losses")):
        stub = types.ModuleType(name)
        stub.__path__ = [path]
        sys.modules[name] = stub
    import torch
    from sympo_ext.losses import formulas  # noqa: F401  (the real entries)
    from sympo_ext.losses.registry import Param, loss

    @loss("toy_kappa", formula="log(1 + exp(-kappa * s)) / kappa",
          param=Param("kappa", 2.0, help="the toy loss's kappa"), note="a test's toy loss")
    def toy_kappa(s, kappa, beta):
        return torch.nn.functional.softplus(-kappa * s) / kappa

    del sys.modules["sympo_ext"], sys.modules["sympo_ext.losses"]  # now the real package, importing the rest

    import pytest
    import sympo_ext
    from sympo_ext import oracle
    from sympo_ext.losses import LOSSES, PARAMS, LossSpec, help_text, markdown_table, param_fields_markdown

    assert "toy_kappa" in LOSSES and "kappa" in PARAMS
    # LossSpec validates kappa: default, range, refusal where unused
    assert LossSpec.create("toy_kappa").param_value("toy_kappa") == 2.0
    assert LossSpec.create("toy_kappa", kappa=3.0).kappa == 3.0
    with pytest.raises(ValueError, match="kappa must be a finite number > 0 for loss_type 'toy_kappa'"):
        LossSpec.create("toy_kappa", kappa=-1.0)
    with pytest.raises(ValueError, match="kappa=3.0 has no effect with loss_type='sigmoid'"):
        LossSpec.create("sigmoid", kappa=3.0)
    # the oracle computes it
    pc, pr, rc, rr = (torch.randn(16, dtype=torch.float64) for _ in range(4))
    s = 0.1 * ((pc - rc) - (pr - rr))
    torch.testing.assert_close(oracle.sym_loss(pc, pr, rc, rr, loss_type="toy_kappa", kappa=3.0),
                               (torch.log1p(torch.exp(-3.0 * s)) / 3.0).mean())
    # the docs and help: README table, the integrations table, --help, the op's docstring
    assert "| `toy_kappa` | margin |" in markdown_table() and "kappa (2, (0, inf))" in markdown_table()
    assert "| `sympo_kappa` | None |" in param_fields_markdown()
    assert "toy_kappa [kappa=2]" in help_text()
    assert "kappa: the toy loss's kappa" in sympo_ext.sym_loss.__doc__
    # the loss modules take it
    assert sympo_ext.SymPOLoss("toy_kappa", kappa=3.0).spec.kappa == 3.0
    # TrainConfig: the field, the CLI flag, YAML keys and loss_options
    from sympo_ext.train.cli import build_parser, config_from_args
    from sympo_ext.train.config import TrainConfig
    assert TrainConfig().kappa is None and "kappa" in TrainConfig.field_names()
    assert "--kappa" in build_parser().format_help()
    cfg = config_from_args(build_parser().parse_args(["--loss_type", "toy_kappa", "--kappa", "3"]))
    assert cfg.kappa == 3.0 and cfg.loss_options()["kappa"] == 3.0
    assert TrainConfig.from_dict({"loss_type": "toy_kappa", "kappa": 4.0}, source="cfg.yaml").kappa == 4.0
    # SymPOConfig: sympo_kappa (when TRL is installed)
    if importlib.util.find_spec("trl") is not None:
        import dataclasses
        from sympo_ext.integrations.trl import SymPOConfig
        assert "sympo_kappa" in {f.name for f in dataclasses.fields(SymPOConfig)}
    print("RECIPE OK")
""")


def test_one_registry_entry_reaches_every_derived_view():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and "RECIPE OK" in proc.stdout, proc.stdout + proc.stderr
