"""The registry of pair-level losses: name, formula, parameters, symmetry.

The formulas are implemented once, in ``csrc/include/sympo/losses.h`` (shared by
the CPU and CUDA kernels), and again in plain PyTorch in
:mod:`sympo_ext.reference`. This module only *describes* them, so trainers,
CLIs and docs can list and validate losses without touching the kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

# Defaults of the loss-specific parameters. A loss that does not use a
# parameter refuses a non-default value for it (it would be silently ignored).
PARAM_DEFAULTS = {"temperature": 1.0, "slope": 0.5, "epsilon": 0.0}


@dataclass(frozen=True)
class LossInfo:
    name: str
    formula: str  # as a function of s = +/- margin (sign from the label)
    symmetric: bool  # l(s) + l(-s) is constant
    params: tuple[str, ...]  # loss-specific parameters it uses (beta is always used)
    family: str  # "symmetric", "classic" or "robust baseline"


LOSSES: dict[str, LossInfo] = {
    info.name: info
    for info in (
        LossInfo("sigmoid", "1 / (1 + exp(temperature * s))", True, ("temperature",), "symmetric"),
        LossInfo("symmetric_ramp", "clamp(0.5 - slope * s, 0, 1)", True, ("slope",), "symmetric"),
        LossInfo("unhinged", "1 - s", True, (), "symmetric"),
        LossInfo("logistic", "log(1 + exp(-s))   (DPO)", False, (), "classic"),
        LossInfo("hinge", "max(0, 1 - s)", False, (), "classic"),
        LossInfo("square", "(1 - s)^2", False, (), "classic"),
        LossInfo("exp", "exp(-s)", False, (), "classic"),
        LossInfo("ramp", "clamp(1 - s, 0, 1)", False, (), "classic"),
        LossInfo(
            "cdpo",
            "(1 - epsilon) log(1 + exp(-s)) + epsilon log(1 + exp(s))",
            False,
            ("epsilon",),
            "robust baseline",
        ),
        LossInfo(
            "rdpo",
            "((1 - epsilon) log(1 + exp(-s)) - epsilon log(1 + exp(s))) / (1 - 2 epsilon)",
            False,
            ("epsilon",),
            "robust baseline",
        ),
        LossInfo("ipo", "(s / beta - 1 / (2 beta))^2", False, (), "robust baseline"),
    )
}

REDUCTIONS = ("mean", "sum", "none")
SYMMETRIC_LOSSES = tuple(name for name, info in LOSSES.items() if info.symmetric)


def check_loss_options(loss_type: str, *, temperature: float, slope: float, epsilon: float) -> LossInfo:
    """Validate the loss name and refuse parameters the loss would ignore."""
    if loss_type not in LOSSES:
        raise ValueError(f"unknown loss_type {loss_type!r}; valid: {', '.join(LOSSES)}")
    info = LOSSES[loss_type]
    given = {"temperature": temperature, "slope": slope, "epsilon": epsilon}
    for param, value in given.items():
        if param not in info.params and value != PARAM_DEFAULTS[param]:
            users = [n for n, i in LOSSES.items() if param in i.params]
            raise ValueError(
                f"{param}={value} has no effect with loss_type={loss_type!r} "
                f"(it is used by: {', '.join(users)}); leave it at its default {PARAM_DEFAULTS[param]}"
            )
    return info


def markdown_table() -> str:
    """The README's loss table, generated from the registry."""
    rows = ["| loss_type | l(s) | symmetric | parameters |", "|---|---|---|---|"]
    for info in LOSSES.values():
        params = ", ".join(["beta", *info.params])
        rows.append(f"| `{info.name}` | `{info.formula}` | {'yes' if info.symmetric else 'no'} | {params} |")
    return "\n".join(rows)
