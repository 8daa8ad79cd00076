"""sym_loss: every kind of bad input gets a clear error that names the argument."""

from __future__ import annotations

import pytest
import torch

import sympo_ext


def pairs(n=8, dtype=torch.float32):
    return [torch.randn(n, dtype=dtype) for _ in range(4)]


def call(**overrides):
    pc, pr, rc, rr = pairs()
    args = dict(policy_chosen_logps=pc, policy_rejected_logps=pr, ref_chosen_logps=rc, ref_rejected_logps=rr)
    args.update(overrides)
    pos = [
        args.pop(k) for k in ("policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps")
    ]
    return sympo_ext.sym_loss(*pos, **args)


@pytest.mark.parametrize(
    "overrides,match",
    [
        (dict(policy_rejected_logps=torch.randn(7)), "policy_rejected_logps has 7 entries"),
        (dict(ref_chosen_logps=torch.randn(9)), "ref_chosen_logps has 9 entries"),
        (dict(policy_chosen_logps=torch.randn(8, 1)), "policy_chosen_logps must be 1-D"),
        (dict(ref_rejected_logps=torch.randn(2, 4)), "ref_rejected_logps must be 1-D"),
        (dict(policy_chosen_logps=torch.randint(0, 5, (8,))), "policy_chosen_logps must hold log-probabilities"),
        (dict(ref_chosen_logps=torch.randint(0, 5, (8,))), "ref_chosen_logps must hold log-probabilities"),
        (dict(ref_rejected_logps=None), "give both ref_chosen_logps and ref_rejected_logps"),
        (dict(labels=torch.tensor([0, 1, 2, 0, 1, 0, 1, 1])), "labels must be 0 or 1"),
        (dict(labels=torch.full((8,), 0.5)), "labels must be 0 or 1"),
        (dict(labels=torch.ones(5)), "labels has 5 entries"),
        (dict(labels=torch.ones(8, 1)), "labels must be 1-D"),
        (dict(weights=-torch.rand(8)), "weights must be >= 0"),
        (dict(weights=torch.ones(8, dtype=torch.int64)), "weights must be a floating tensor"),
        (dict(weights=torch.ones(3)), "weights has 3 entries"),
        (dict(loss_type="sigmod"), "unknown loss_type 'sigmod'; valid: sigmoid, symmetric_ramp"),
        (dict(reduction="avg"), "unknown reduction 'avg'"),
        (dict(beta=0.0), "beta must be a finite number > 0"),
        (dict(beta=-1.0), "beta must be a finite number > 0"),
        (dict(beta=float("inf")), "beta must be a finite number > 0"),
        (dict(clip=0.0), "clip must be None"),
        (dict(clip=-2.0), "clip must be None"),
        (dict(loss_type="rdpo", epsilon=0.5), r"epsilon must be in \[0, 0.5\)"),
        (dict(loss_type="cdpo", epsilon=-0.1), r"epsilon must be in \[0, 1\]"),
        (dict(loss_type="sigmoid", temperature=0.0), "temperature must be a finite number > 0"),
        (dict(loss_type="symmetric_ramp", slope=-1.0), "slope must be a finite number > 0"),
        # A parameter the chosen loss would silently ignore.
        (dict(loss_type="logistic", temperature=2.0), "temperature=2.0 has no effect with loss_type='logistic'"),
        (dict(loss_type="sigmoid", epsilon=0.1), "epsilon=0.1 has no effect with loss_type='sigmoid'"),
        (dict(loss_type="hinge", slope=1.0), "slope=1.0 has no effect with loss_type='hinge'"),
        (dict(policy_chosen_logps=[1.0, 2.0]), "policy_chosen_logps must be a tensor"),
        (dict(labels=[1, 0]), "labels must be a tensor or None"),
    ],
)
def test_bad_input(overrides, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call(**overrides)


def test_errors_also_from_the_raw_op():
    """Direct callers of torch.ops.sympo_ext get the same checks (they live in C++)."""
    pc, pr, _, _ = pairs()
    with pytest.raises(RuntimeError, match="beta must be"):
        torch.ops.sympo_ext.sym_loss_forward(
            pc, pr, None, None, None, None, ["sigmoid"], [1.0], [1.0], 0.0, None, "mean"
        )
    with pytest.raises(RuntimeError, match="grad_loss must be a scalar"):
        torch.ops.sympo_ext.sym_loss_backward(torch.ones(3), torch.ones(2, 8), torch.float32, None, None, None, None)


def test_nan_weight_is_nan_not_an_error():
    pc, pr, rc, rr = pairs()
    w = torch.ones(8)
    w[3] = float("nan")
    losses = sympo_ext.sym_loss(pc, pr, rc, rr, weights=w, reduction="none")
    assert torch.isnan(losses[3]) and torch.isfinite(losses[:3]).all()
