"""The registry of pair-level losses, and ``LossSpec``: one definition per loss.

Each loss has ONE entry here: name, TRL-style aliases, kind, its parameter (default
and valid range), whether it is symmetric, the formula text and its float64
reference (a function in :mod:`sympo_ext.reference`). The kernels implement the
same list in ``csrc/include/sympo/loss_list.h`` (formulas in
``csrc/include/sympo/losses.h``); ``tests/test_losses_registry.py`` fails if the
two layers, the references or README's table disagree.

Kinds (notation: c = beta (pi_c - ref_c), r = beta (pi_r - ref_r) after the
optional clip, swapped for label 0; s = c - r):

* ``margin``: l(s), a function of the margin;
* ``pair``: l(c, r), a function of both rewards (TRL's nca_pair, bco_pair, ...);
* ``batch``: needs the whole batch (TRL's AOT sorts log-ratios across it); the
  sort runs as a torch op, the loss on the sorted values is fused (``fused_as``).

:class:`LossSpec` is the one options object: every loss parameter, ``beta``,
``clip`` and a weighted combination of losses (TRL's ``loss_type=[...]`` +
``loss_weights``). :func:`sympo_ext.sym_loss`, the reference and the modules
validate through it.
"""

from __future__ import annotations

import ctypes
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import torch

from . import reference

DEFAULT_BETA = 0.1
REDUCTIONS = ("mean", "sum", "none")
KINDS = ("margin", "pair", "batch")


def _round_to(value: float, dtype: torch.dtype) -> float:
    """value as the kernel sees it: rounded to the math dtype (float32 or float64)."""
    return value if dtype == torch.float64 else ctypes.c_float(value).value


@dataclass(frozen=True)
class Param:
    """A loss parameter: its default and valid range ``lo <(=) value <(=) hi``."""

    name: str
    default: float
    lo: float
    lo_closed: bool
    hi: float
    hi_closed: bool
    help: str

    def range_text(self) -> str:
        def fmt(v: float) -> str:
            return ("inf" if v > 0 else "-inf") if math.isinf(v) else f"{v:g}"

        return f"{'[' if self.lo_closed else '('}{fmt(self.lo)}, {fmt(self.hi)}{']' if self.hi_closed else ')'}"

    def contains(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        return (v >= self.lo if self.lo_closed else v > self.lo) and (v <= self.hi if self.hi_closed else v < self.hi)


@dataclass(frozen=True)
class LossInfo:
    name: str
    formula: str  # margin: of s; pair: of (c, r); batch: in words
    symmetric: bool  # l(s) + l(-s) is constant (swapping the pair's roles)
    kind: str  # "margin", "pair" or "batch"
    param: Param | None
    family: str  # "symmetric", "classic" or "robust baseline"
    reference: Callable = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()
    fused_as: str | None = None  # batch losses: the kernel loss run on the sorted values
    note: str = ""

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the loss-specific parameters it uses (beta is always used)."""
        return (self.param.name,) if self.param else ()


def _p(name, default, lo, lo_closed, hi, hi_closed, help):
    return Param(name, default, lo, lo_closed, hi, hi_closed, help)


_INF = math.inf
TEMPERATURE = _p("temperature", 1.0, 0.0, False, _INF, False, "sigmoid: l(s) = 1 / (1 + exp(temperature * s))")
SLOPE = _p("slope", 0.5, 0.0, False, _INF, False, "symmetric_ramp: l(s) = clamp(0.5 - slope * s, 0, 1)")
EPS_UNIT = _p("epsilon", 0.0, 0.0, True, 1.0, True, "label-flip rate (TRL's label_smoothing)")
EPS_HALF = _p("epsilon", 0.0, 0.0, True, 0.5, False, "label-flip rate (TRL's label_smoothing)")
EPS_EXO = _p("epsilon", 1e-3, 0.0, False, 1.0, False, "EXO's epsilon (TRL: label_smoothing, 1e-3 when 0)")
ALPHA = _p("alpha", 14.0, 0.0, False, _INF, False, "ROPO's alpha (the official SymPO code's default 14)")
GAMMA = _p("gamma", 0.5, -_INF, False, _INF, False, "SimPO's target margin, in reward units (TRL simpo_gamma)")
TAU = _p("tau", 0.05, 0.0, False, _INF, False, "DiscoPOP's tau (TRL discopop_tau)")

_ENTRIES = (
    # name, formula, symmetric, kind, param, family, reference, aliases, fused_as, note
    ("sigmoid", "1 / (1 + exp(temperature * s))", True, "margin", TEMPERATURE, "symmetric", reference.sigmoid,
     (), None, "SymPO's symmetric loss, NOT TRL's `sigmoid` (that is `logistic`)"),
    ("symmetric_ramp", "clamp(0.5 - slope * s, 0, 1)", True, "margin", SLOPE, "symmetric", reference.symmetric_ramp),
    ("unhinged", "1 - s", True, "margin", None, "symmetric", reference.unhinged),
    ("logistic", "log(1 + exp(-s))   (DPO)", False, "margin", None, "classic", reference.logistic, ("dpo",), None,
     "TRL's `sigmoid`"),
    ("hinge", "max(0, 1 - s)", False, "margin", None, "classic", reference.hinge),
    ("square", "(1 - s)^2", False, "margin", None, "classic", reference.square),
    ("exp", "exp(-s)", False, "margin", None, "classic", reference.exp),
    ("ramp", "clamp(1 - s, 0, 1)", False, "margin", None, "classic", reference.ramp),
    ("cdpo", "(1 - epsilon) log(1 + exp(-s)) + epsilon log(1 + exp(s))", False, "margin", EPS_UNIT,
     "robust baseline", reference.cdpo, (), None, "TRL's `sigmoid` with label_smoothing=epsilon"),
    ("rdpo", "((1 - epsilon) log(1 + exp(-s)) - epsilon log(1 + exp(s))) / (1 - 2 epsilon)", False, "margin",
     EPS_HALF, "robust baseline", reference.rdpo, ("robust",), None, "TRL's `robust`"),
    ("ipo", "(s / beta - 1 / (2 beta))^2", False, "margin", None, "robust baseline", reference.ipo),
    ("ropo", "4 alpha / (alpha + 1)^2 log(1 + exp(-s)) + 4 alpha^2 / (alpha + 1)^2 / (1 + exp(s))", False,
     "margin", ALPHA, "robust baseline", reference.ropo, (), None, "official SymPO code"),
    ("simpo", "log(1 + exp(-(s - gamma)))", False, "margin", GAMMA, "classic", reference.simpo, (), None,
     "use with average=True log-probs and no reference"),
    ("exo_pair", "sigmoid(s) log(sigmoid(s) / (1 - epsilon)) + sigmoid(-s) log(sigmoid(-s) / epsilon)", False,
     "margin", EPS_EXO, "classic", reference.exo_pair, (), None, "TRL's `exo_pair`"),
    ("discopop", "log(1 + exp(-s)) (1 - m) + exp(-s) m,  m = sigmoid(s / tau)", False, "margin", TAU, "classic",
     reference.discopop, (), None, "TRL's `discopop`"),
    ("nca_pair", "log(1 + exp(-c)) + log(1 + exp(c)) / 2 + log(1 + exp(r)) / 2", False, "pair", None, "classic",
     reference.nca_pair, (), None, "TRL's `nca_pair`"),
    ("bco_pair", "log(1 + exp(-c)) + log(1 + exp(r))", False, "pair", None, "classic", reference.bco_pair, (), None,
     "TRL's `bco_pair` without the running-mean shift"),
    ("sppo_hard", "(c / beta - 1 / (2 beta))^2 + (r / beta + 1 / (2 beta))^2", False, "pair", None, "classic",
     reference.sppo_hard, (), None, "TRL's `sppo_hard`"),
    ("apo_zero", "1 - sigmoid(c) + sigmoid(r)", True, "pair", None, "classic", reference.apo_zero, (), None,
     "TRL's `apo_zero`; l(c, r) + l(r, c) = 2"),
    ("apo_down", "sigmoid(c) + 1 - sigmoid(c - r)", False, "pair", None, "classic", reference.apo_down, (), None,
     "TRL's `apo_down`"),
    ("aot", "cdpo(beta (sort(pi_c - pi_r) - sort(ref_c - ref_r)))", False, "batch", EPS_UNIT, "classic",
     reference.aot, (), "cdpo", "TRL's `aot`; sorts across the batch"),
    ("aot_unpaired", "cdpo(beta (sort(pi_c - ref_c) - sort(pi_r - ref_r)))", False, "batch", EPS_UNIT, "classic",
     reference.aot_unpaired, (), "cdpo", "TRL's `aot_pair` (unpaired data); sorts across the batch"),
)

LOSSES: dict[str, LossInfo] = {e[0]: LossInfo(*e[:7], *e[7:]) for e in _ENTRIES}
ALIASES: dict[str, str] = {alias: info.name for info in LOSSES.values() for alias in info.aliases}
SYMMETRIC_LOSSES = tuple(name for name, info in LOSSES.items() if info.symmetric)
PARAMS: dict[str, tuple[Param, ...]] = {}
for _info in LOSSES.values():
    if _info.param:
        PARAMS.setdefault(_info.param.name, ())
        PARAMS[_info.param.name] += (_info.param,)
# The parameter names LossSpec carries, and (a derived view, kept for older
# callers) the value each had as a sym_loss default: passing exactly that value
# to a loss that does not use the parameter is accepted, any other is refused.
PARAM_NAMES = tuple(PARAMS)
PARAM_DEFAULTS = {"temperature": TEMPERATURE.default, "slope": SLOPE.default, "epsilon": EPS_UNIT.default}


FLIP_RATE_PARAMS = (EPS_UNIT, EPS_HALF)  # TRL's label_smoothing: the assumed rate of flipped labels


def takes_flip_rate(loss: str) -> bool:
    """Whether ``loss``'s parameter is the assumed label-flip rate (cdpo, rdpo, aot, ...): the
    noise-aware baselines an experiment gives the true rate."""
    param = LOSSES[canonical_name(loss)].param
    return param is not None and param in FLIP_RATE_PARAMS


def flip_rate_options(loss: str, flip_rate: float) -> dict:
    """``{parameter: flip_rate}`` for a loss that takes the flip rate, else ``{}``."""
    return {LOSSES[canonical_name(loss)].param.name: float(flip_rate)} if takes_flip_rate(loss) else {}


def canonical_name(name: str) -> str:
    """The registry name of a loss type or alias; ValueError for an unknown one."""
    if not isinstance(name, str):
        raise TypeError(f"loss_type must be a string or a list of strings, got {type(name).__name__}")
    if name in LOSSES:
        return name
    if name in ALIASES:
        return ALIASES[name]
    valid = ", ".join([*LOSSES, *(f"{a} (= {n})" for a, n in ALIASES.items())])
    raise ValueError(f"unknown loss_type {name!r}; valid: {valid}")


def _check_real(name: str, value, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number{' or None' if optional else ''}, got {type(value).__name__} {value!r}"
        )


@dataclass(frozen=True)
class LossSpec:
    """Every option of the pair-level loss, validated in one place.

    ``loss_types`` / ``weights``: the losses of the objective and their weights
    (one loss: weight 1). A parameter left at ``None`` takes the registry's default
    for each loss that uses it. Build with :meth:`create` (accepts aliases, a single
    name or a list, and refuses parameters no chosen loss uses).
    """

    loss_types: tuple[str, ...] = ("sigmoid",)
    weights: tuple[float, ...] = (1.0,)
    beta: float = DEFAULT_BETA
    clip: float | None = None
    temperature: float | None = None
    slope: float | None = None
    epsilon: float | None = None
    alpha: float | None = None
    gamma: float | None = None
    tau: float | None = None

    @classmethod
    def create(
        cls,
        loss_type: str | list[str] | tuple[str, ...] = "sigmoid",
        *,
        beta: float = DEFAULT_BETA,
        clip: float | None = None,
        loss_weights: list[float] | tuple[float, ...] | None = None,
        **params,
    ) -> "LossSpec":
        """A checked spec. ``params``: any of :data:`PARAM_NAMES` (None = default)."""
        names = [loss_type] if isinstance(loss_type, str) else loss_type
        if not isinstance(names, (list, tuple)) or not names:
            raise TypeError(f"loss_type must be a loss name or a non-empty list of names, got {loss_type!r}")
        types = tuple(canonical_name(n) for n in names)
        if len(set(types)) != len(types):
            raise ValueError(f"loss_type {list(names)} names a loss twice; give each loss once with its weight")
        if loss_weights is None:
            weights = (1.0,) * len(types)
        else:
            if not isinstance(loss_weights, (list, tuple)):
                raise TypeError(f"loss_weights must be a list of numbers or None, got {type(loss_weights).__name__}")
            if len(loss_weights) != len(types):
                raise ValueError(f"loss_weights has {len(loss_weights)} entries but loss_type names {len(types)} losses")
            for i, w in enumerate(loss_weights):
                _check_real(f"loss_weights[{i}]", w)
            weights = tuple(float(w) for w in loss_weights)
        unknown = set(params) - set(PARAM_NAMES)
        if unknown:
            raise TypeError(f"unknown loss parameter(s) {sorted(unknown)}; valid: {', '.join(PARAM_NAMES)}")
        used = {LOSSES[t].param.name for t in types if LOSSES[t].param}
        kept = {}
        for name, value in params.items():
            if value is None:
                continue
            _check_real(name, value)
            if name not in used:
                if PARAM_DEFAULTS.get(name) == value:
                    continue  # the old sym_loss default: accepted, as it always was
                users = [n for n, i in LOSSES.items() if i.param and i.param.name == name]
                raise ValueError(
                    f"{name}={value} has no effect with loss_type={_show(types)} "
                    f"(it is used by: {', '.join(users)}); leave it unset"
                )
            kept[name] = float(value)
        _check_real("beta", beta)
        _check_real("clip", clip, optional=True)
        spec = cls(types, weights, float(beta), None if clip is None else float(clip), **kept)
        # Exact here; sym_loss re-validates in the math dtype its inputs give (float32 or float64).
        spec.validate(torch.float64)
        return spec

    # -- derived views ---------------------------------------------------------
    @staticmethod
    def info(name: str) -> LossInfo:
        return LOSSES[name]

    def param_value(self, loss: str) -> float | None:
        """The value of ``loss``'s parameter in this spec (its default when unset)."""
        p = LOSSES[loss].param
        if p is None:
            return None
        v = getattr(self, p.name)
        return p.default if v is None else v

    @property
    def loss_type(self) -> str | tuple[str, ...]:
        return self.loss_types[0] if len(self.loss_types) == 1 else self.loss_types

    @property
    def symmetric(self) -> bool:
        return all(LOSSES[t].symmetric for t in self.loss_types)

    def kernel_terms(self) -> tuple[list[str], list[float], list[float]]:
        """(loss_types, loss_weights, loss_params) of the per-pair terms, as the op takes them."""
        terms = [t for t in self.loss_types if LOSSES[t].kind != "batch"]
        weights = [w for t, w in zip(self.loss_types, self.weights) if LOSSES[t].kind != "batch"]
        return terms, weights, [self.param_value(t) or 0.0 for t in terms]

    def sym_loss_kwargs(self) -> dict:
        """Keyword arguments for :func:`sympo_ext.sym_loss` equal to this spec."""
        kw = dict(loss_type=self.loss_type, beta=self.beta, clip=self.clip)
        if len(self.loss_types) > 1 or self.weights != (1.0,):
            kw["loss_weights"] = list(self.weights)
        for name in PARAM_NAMES:
            if getattr(self, name) is not None:
                kw[name] = getattr(self, name)
        return kw

    # -- checks -----------------------------------------------------------------
    def validate(self, dtype: torch.dtype = torch.float32) -> "LossSpec":
        """Check every number as the kernel uses it: rounded to the math ``dtype``
        (float32 unless an input is float64). TypeError / ValueError name the option."""
        math_name = "float64" if dtype == torch.float64 else "float32"
        exact = torch.compiler.is_compiling()  # no ctypes under tracing; the C++ op re-checks

        def rounded(v):
            return v if exact else _round_to(v, dtype)

        def positive(name, v, what="a finite number > 0"):
            _check_real(name, v)
            r = rounded(float(v))
            if not (math.isfinite(r) and r > 0):
                shown = f" (it is {r:g} in {math_name})" if r != v else ""
                raise ValueError(f"{name} must be {what} in the {math_name} math, got {v!r}{shown}")

        positive("beta", self.beta)
        if self.clip is not None:
            positive("clip", self.clip, "None (no clipping) or a finite number > 0")
        for t, w in zip(self.loss_types, self.weights):
            positive(f"loss_weights (for {t!r})", w)
        for t in self.loss_types:
            p = LOSSES[t].param
            if p is None:
                continue
            v = self.param_value(t)
            _check_real(p.name, v)
            r = rounded(float(v))
            if not p.contains(r):
                shown = f" (it is {r:g} in {math_name})" if r != v else ""
                where = "a finite number > 0" if (p.lo, p.lo_closed, p.hi) == (0.0, False, math.inf) else (
                    f"in {p.range_text()}")
                raise ValueError(f"{p.name} must be {where} for loss_type {t!r} (checked in the {math_name} math), "
                                 f"got {v!r}{shown}")
        batch = [t for t in self.loss_types if LOSSES[t].kind == "batch"]
        if batch and self.clip is not None:
            raise ValueError(f"clip is not defined for the batch loss {batch[0]!r} (it sorts log-ratios, not rewards)")
        return self


def _show(types: tuple[str, ...]) -> str:
    return repr(types[0]) if len(types) == 1 else repr(list(types))


def check_loss_options(loss_type, *, temperature=None, slope=None, epsilon=None, **params) -> LossInfo:
    """Validate a loss name and its parameters (refusing those the loss would ignore);
    returns the (first) loss's registry entry. Kept for older callers: use LossSpec.create."""
    spec = LossSpec.create(loss_type, temperature=temperature, slope=slope, epsilon=epsilon, **params)
    return LOSSES[spec.loss_types[0]]


def markdown_table() -> str:
    """The README's loss table, generated from the registry."""
    rows = ["| loss_type | kind | l | symmetric | parameters (default, range) | aliases / notes |",
            "|---|---|---|---|---|---|"]
    for info in LOSSES.values():
        params = "beta" + (f", {info.param.name} ({info.param.default:g}, {info.param.range_text()})"
                           if info.param else "")
        notes = "; ".join([*(f"alias `{a}`" for a in info.aliases), *([info.note] if info.note else [])])
        rows.append(f"| `{info.name}` | {info.kind} | `{info.formula}` | {'yes' if info.symmetric else 'no'} | "
                    f"{params} | {notes} |")
    return "\n".join(rows)


def help_text() -> str:
    """One line per loss for a CLI's --help: name, aliases, parameter and default."""
    out = []
    for info in LOSSES.values():
        extra = f" [{info.param.name}={info.param.default:g}]" if info.param else ""
        alias = f" (alias {', '.join(info.aliases)})" if info.aliases else ""
        out.append(f"{info.name}{alias}{extra}")
    return ", ".join(out)


__all__ = ["ALIASES", "DEFAULT_BETA", "KINDS", "LOSSES", "LossInfo", "LossSpec", "PARAM_DEFAULTS", "PARAM_NAMES",
           "Param", "REDUCTIONS", "SYMMETRIC_LOSSES", "canonical_name", "check_loss_options", "help_text",
           "markdown_table"]
