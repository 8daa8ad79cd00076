"""``LossSpec``: every option of the pair-level loss (each loss parameter, ``beta``, ``clip``,
a weighted combination of losses, TRL's ``loss_type=[...]`` + ``loss_weights``), validated in
one place against the registry. :func:`sympo_ext.sym_loss`, the oracle and the loss modules
validate through it."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from ..dtypes import dtype_name, round_to
from .registry import DEFAULT_BETA, LOSSES, PARAMS, LossInfo, canonical_name, param_users

MAX_LOSS_TERMS = 8  # the kernels' kMaxTerms (csrc/include/sympo/losses.h): checked here, before any launch


def _check_real(name: str, value, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number{' or None' if optional else ''}, got {type(value).__name__} {value!r}"
        )


def _show(types: tuple[str, ...]) -> str:
    return repr(types[0]) if len(types) == 1 else repr(list(types))


@dataclass(frozen=True)
class LossSpec:
    """Every option of the pair-level loss, validated in one place.

    ``loss_types`` / ``weights``: the losses of the objective and their weights (one loss:
    weight 1). ``params``: the loss parameters that were set, as sorted ``(name, value)``
    pairs; ``spec.<name>`` reads one (None = unset: each loss that uses it takes its
    registry default). Build with :meth:`create` (accepts aliases, a single name or a
    list, and refuses parameters no chosen loss uses).
    """

    loss_types: tuple[str, ...] = ("sigmoid",)
    weights: tuple[float, ...] = (1.0,)
    beta: float = DEFAULT_BETA
    clip: float | None = None
    params: tuple[tuple[str, float], ...] = ()

    def __getattr__(self, name: str):
        # spec.temperature, spec.epsilon, ...: any registered parameter name (None when unset).
        if name in PARAMS:
            return self.value(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def create(
        cls,
        loss_type: str | list[str] | tuple[str, ...] = "sigmoid",
        *,
        beta: float = DEFAULT_BETA,
        clip: float | None = None,
        loss_weights: list[float] | tuple[float, ...] | None = None,
        **params,
    ) -> LossSpec:
        """A checked spec. ``params``: any registered loss parameter (None = the loss's default)."""
        names = [loss_type] if isinstance(loss_type, str) else loss_type
        if not isinstance(names, (list, tuple)) or not names:
            raise TypeError(f"loss_type must be a loss name or a non-empty list of names, got {loss_type!r}")
        types = tuple(canonical_name(n) for n in names)
        if len(types) > MAX_LOSS_TERMS:
            raise ValueError(
                f"loss_type names {len(types)} losses; at most {MAX_LOSS_TERMS} can be combined "
                "(the kernels' kMaxTerms, csrc/include/sympo/losses.h)"
            )
        if len(set(types)) != len(types):
            raise ValueError(f"loss_type {list(names)} names a loss twice; give each loss once with its weight")
        if loss_weights is None:
            weights = (1.0,) * len(types)
        else:
            if not isinstance(loss_weights, (list, tuple)):
                raise TypeError(f"loss_weights must be a list of numbers or None, got {type(loss_weights).__name__}")
            if len(loss_weights) != len(types):
                raise ValueError(
                    f"loss_weights has {len(loss_weights)} entries but loss_type names {len(types)} losses"
                )
            for i, w in enumerate(loss_weights):
                _check_real(f"loss_weights[{i}]", w)
            weights = tuple(float(w) for w in loss_weights)
        unknown = set(params) - set(PARAMS)
        if unknown:
            raise TypeError(f"unknown loss parameter(s) {sorted(unknown)}; valid: {', '.join(PARAMS)}")
        used = {LOSSES[t].param.name for t in types if LOSSES[t].param}
        kept = {}
        for name, value in params.items():
            if value is None:
                continue
            _check_real(name, value)
            if name not in used:
                if any(p.default == value for p in PARAMS[name]):
                    continue  # a loss's own default, passed along by a generic caller: no effect, accepted
                raise ValueError(
                    f"{name}={value} has no effect with loss_type={_show(types)} "
                    f"(it is used by: {', '.join(param_users(name))}); leave it unset"
                )
            kept[name] = float(value)
        _check_real("beta", beta)
        _check_real("clip", clip, optional=True)
        spec = cls(types, weights, float(beta), None if clip is None else float(clip), tuple(sorted(kept.items())))
        # Exact here; sym_loss re-validates in the math dtype its inputs give (float32 or float64).
        spec.validate(torch.float64)
        return spec

    # -- derived views ---------------------------------------------------------
    def value(self, name: str) -> float | None:
        """The value set for parameter ``name`` (None when unset)."""
        for n, v in self.params:
            if n == name:
                return v
        return None

    @staticmethod
    def info(name: str) -> LossInfo:
        return LOSSES[name]

    def param_value(self, loss: str) -> float | None:
        """The value of ``loss``'s parameter in this spec (its default when unset)."""
        p = LOSSES[loss].param
        if p is None:
            return None
        v = self.value(p.name)
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
        kw.update(self.params)
        return kw

    def describe(self) -> str:
        """Human text, one line per term: name, weight, formula, parameter value, symmetric or not,
        and for names TRL uses differently a note (our ``sigmoid`` is SymPO's symmetric loss)."""
        clip = "" if self.clip is None else f", clip={self.clip:g}"
        lines = [f"loss (beta={self.beta:g}{clip}):"]
        for t, w in zip(self.loss_types, self.weights):
            info = LOSSES[t]
            p = f", {info.param.name}={self.param_value(t):g}" if info.param else ""
            sym = "symmetric" if info.symmetric else "not symmetric"
            note = f"  [{info.note}]" if info.note else ""
            lines.append(f"  {w:g} x {t}: l = {info.formula}{p}; {sym}{note}")
        return "\n".join(lines)

    # -- checks -----------------------------------------------------------------
    def validate(self, dtype: torch.dtype = torch.float32) -> LossSpec:
        """Check every number as the kernel uses it: rounded to the math ``dtype``
        (float32 unless an input is float64). TypeError / ValueError name the option."""
        math_name = dtype_name(dtype)
        exact = torch.compiler.is_compiling()  # no ctypes under tracing; the C++ op re-checks

        def rounded(v):
            return v if exact else round_to(v, dtype)

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
                where = (
                    "a finite number > 0"
                    if (p.lo, p.lo_closed, p.hi) == (0.0, False, math.inf)
                    else (f"in {p.range_text()}")
                )
                raise ValueError(
                    f"{p.name} must be {where} for loss_type {t!r} (checked in the {math_name} math), got {v!r}{shown}"
                )
        batch = [t for t in self.loss_types if LOSSES[t].kind == "batch"]
        if batch and self.clip is not None:
            raise ValueError(f"clip is not defined for the batch loss {batch[0]!r} (it sorts log-ratios, not rewards)")
        return self
