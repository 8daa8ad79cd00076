"""The loss registry: ``Param``, ``LossInfo``, the :func:`loss` registration decorator and
the tables derived from the entries (``LOSSES``, ``ALIASES``, ``PARAMS``, README's table,
the flag help).

The entries themselves (one per loss, with its pure-PyTorch formula) live in
:mod:`sympo_ext.losses.formulas`; this module knows no loss by name. Every table is a
live view of the registered entries, so a loss registered later (a new entry, a test's toy
loss) shows up in every derived view built after it: LossSpec, TrainConfig's fields and
flags, SymPOConfig's ``sympo_<param>`` fields, the markdown tables, the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_BETA = 0.1
REDUCTIONS = ("mean", "sum", "none")
KINDS = ("margin", "pair", "batch")
_INF = math.inf


@dataclass(frozen=True)
class Param:
    """A loss parameter: its default and valid range ``lo <(=) value <(=) hi``."""

    name: str
    default: float
    lo: float = 0.0
    lo_closed: bool = False
    hi: float = _INF
    hi_closed: bool = False
    help: str = ""
    flip_rate: bool = False  # the assumed label-flip rate (TRL's label_smoothing): experiments pass the true rate

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
    robust_baseline: bool  # a noise-robust DPO variant (cDPO, rDPO, IPO, ROPO) the experiments compare against
    reference: Callable = field(repr=False, compare=False)  # the pure-PyTorch formula
    aliases: tuple[str, ...] = ()
    fused_as: str | None = None  # batch losses: the kernel loss run on the sorted values
    note: str = ""

    @property
    def family(self) -> str:
        """ "symmetric", "robust baseline" or "classic", derived from ``symmetric`` (so the two
        cannot disagree: ``apo_zero`` is symmetric)."""
        return "symmetric" if self.symmetric else "robust baseline" if self.robust_baseline else "classic"

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the loss-specific parameters it uses (beta is always used)."""
        return (self.param.name,) if self.param else ()


LOSSES: dict[str, LossInfo] = {}
ALIASES: dict[str, str] = {}
# Every parameter name -> the Param of each loss using it (epsilon has three ranges).
PARAMS: dict[str, tuple[Param, ...]] = {}


def loss(
    name: str,
    *,
    formula: str,
    kind: str = "margin",
    symmetric: bool = False,
    param: Param | None = None,
    robust_baseline: bool = False,
    aliases: tuple[str, ...] = (),
    fused_as: str | None = None,
    note: str = "",
) -> Callable:
    """Register the decorated pure-PyTorch formula as the loss ``name``: the ONE entry of a
    loss. The formula takes ``(s, p, beta)`` (margin), ``(c, r, p, beta)`` (pair) or
    ``(pc, pr, rc, rr, p, beta)`` (batch); ``p`` is the parameter's value (None without one)."""
    if kind not in KINDS:
        raise ValueError(f"loss {name!r}: kind must be one of {KINDS}, got {kind!r}")
    if name in LOSSES or name in ALIASES:
        raise ValueError(f"loss {name!r} is registered twice")

    def register(fn: Callable) -> Callable:
        LOSSES[name] = LossInfo(
            name, formula, symmetric, kind, param, robust_baseline, fn, tuple(aliases), fused_as, note
        )
        for alias in aliases:
            ALIASES[alias] = name
        if param is not None and param not in PARAMS.get(param.name, ()):
            PARAMS[param.name] = (*PARAMS.get(param.name, ()), param)
        return fn

    return register


def symmetric_losses() -> tuple[str, ...]:
    return tuple(name for name, info in LOSSES.items() if info.symmetric)


def param_users(name: str) -> list[str]:
    """The losses using parameter ``name``."""
    return [n for n, i in LOSSES.items() if i.param and i.param.name == name]


def param_help(name: str, *, trl: bool = False) -> str:
    """One help text for parameter ``name``, derived from every loss that uses it: what it is,
    and per loss its default and range (epsilon: three losses' ranges). ``trl``: SymPOConfig's
    wording (a flip-rate parameter left at None takes TRL's ``label_smoothing``)."""
    users = [LOSSES[n] for n in param_users(name)]
    what = "; ".join(dict.fromkeys(i.param.help for i in users if i.param.help))
    groups: dict[str, list[str]] = {}
    for i in users:
        groups.setdefault(f"{i.param.default:g}, range {i.param.range_text()}", []).append(i.name)
    per_loss = "; ".join(f"{text} for {'/'.join(names)}" for text, names in groups.items())
    flip = (
        "; None takes TRL's label_smoothing for the label-noise losses"
        if trl and any(p.flip_rate for p in PARAMS[name])
        else ""
    )
    return f"{what} (default {per_loss}){flip}"


def param_fields_markdown(prefix: str = "sympo_") -> str:
    """The rows of sympo_ext/integrations/README.md's SymPOConfig table for the loss parameters."""
    return "\n".join(f"| `{prefix}{name}` | None | {param_help(name, trl=True)} |" for name in PARAMS)


def with_param_fields(
    make_field: Callable[[str], object], *, after: str | None = None, prefix: str = ""
) -> Callable[[type], type]:
    """A class decorator, applied BEFORE ``@dataclass``: adds one ``float | None`` field per
    registered loss parameter (``prefix + name``; None = each loss's own default), made by
    ``make_field(name, help)``, placed after the field ``after`` (default: at the end). The
    fields of TrainConfig and SymPOConfig are generated this way, never written by hand."""

    def decorate(cls: type) -> type:
        own = dict(cls.__dict__.get("__annotations__", {}))
        new = {}
        for name in PARAMS:
            new[prefix + name] = "float | None"
            setattr(cls, prefix + name, make_field(name))
        if after is None:
            merged = {**own, **new}
        else:
            if after not in own:
                raise ValueError(f"with_param_fields: {cls.__name__} has no field {after!r}")
            merged = {}
            for k, v in own.items():
                merged[k] = v
                if k == after:
                    merged.update(new)
        cls.__annotations__ = merged
        return cls

    return decorate


def params_doc(indent: str = "    ") -> str:
    """The loss parameters for a docstring: one line each, from the registry."""
    lines = [f"{indent}{name}: {param_help(name)}" for name in PARAMS]
    return f"\n{indent}Loss parameters (keyword, None = the loss's default):\n\n" + "\n".join(lines) + "\n"


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


def takes_flip_rate(loss_name: str) -> bool:
    """Whether ``loss_name``'s parameter is the assumed label-flip rate (cdpo, rdpo, aot, ...): the
    noise-aware baselines an experiment gives the true rate (TRL's label_smoothing)."""
    p = LOSSES[canonical_name(loss_name)].param
    return p is not None and p.flip_rate


def flip_rate_options(loss_name: str, flip_rate: float) -> dict:
    """``{parameter: flip_rate}`` for a loss that takes the flip rate, else ``{}``."""
    return {LOSSES[canonical_name(loss_name)].param.name: float(flip_rate)} if takes_flip_rate(loss_name) else {}


def markdown_table() -> str:
    """The README's loss table, generated from the registry."""
    rows = [
        "| loss_type | kind | l | symmetric | parameters (default, range) | aliases / notes |",
        "|---|---|---|---|---|---|",
    ]
    for info in LOSSES.values():
        params = "beta" + (
            f", {info.param.name} ({info.param.default:g}, {info.param.range_text()})" if info.param else ""
        )
        notes = "; ".join([*(f"alias `{a}`" for a in info.aliases), *([info.note] if info.note else [])])
        rows.append(
            f"| `{info.name}` | {info.kind} | `{info.formula}` | {'yes' if info.symmetric else 'no'} | "
            f"{params} | {notes} |"
        )
    return "\n".join(rows)


def help_text() -> str:
    """One line per loss for a CLI's --help: name, aliases, parameter and default."""
    out = []
    for info in LOSSES.values():
        extra = f" [{info.param.name}={info.param.default:g}]" if info.param else ""
        alias = f" (alias {', '.join(info.aliases)})" if info.aliases else ""
        out.append(f"{info.name}{alias}{extra}")
    return ", ".join(out)
