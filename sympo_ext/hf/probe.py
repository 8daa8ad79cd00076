"""Decide the log-prob path and packing of a model by measuring them, before training.

The fused-linear path (log-probs from the decoder's hidden states and the output
projection) and packed batches (one row, ``position_ids`` restarting per sequence)
are only right for some models: a soft cap or a scale applied to the logits, a
head with layers the split misses, or an attention that does not separate packed
sequences gives wrong log-probs without an error. :func:`plan_logps` therefore
runs a tiny probe batch through the plain logits path (the reference) and through
each candidate, and uses a candidate only if the per-sequence log-probs agree.

Probe batch: 2 pairs = 4 sequences of 4 to 9 random token ids (a fixed generator,
the pad id avoided), collated exactly as the trainer collates (padded and packed).
Cost: at most three small forwards at start-up (padded logits, padded fused-linear,
packed), in the model's own dtype, eval mode, no grad; the global RNG and the
modules' train/eval modes are restored.

Tolerance (per sequence ``n``, comparing summed log-probs)::

    |candidate_n - reference_n| <= u * (S_n + tokens_n)
    S_n = sum over its counted tokens t of (|z[t, y_t]| + max_v |z[t, v]|)
    u   = eps(dtype) * (1 + sqrt(H)) for float32 / float64, eps(dtype) for bf16 / fp16

with ``z`` the reference logits and ``H`` the hidden size. ``eps * S_n`` bounds the
log-prob difference when each path rounds every logit once to the dtype (rounding
moves a logit by at most eps/2 relative; a token's log-prob by at most the change
of its logit plus the change of the log-sum-exp); sqrt(H) covers the GEMM's
summation order, which dominates in float32. Measured on tiny models (2 layers),
correct paths stay below 0.2 of the tolerance in fp32/bf16/fp16; skipped
post-processing or cross-sequence attention exceeds it (e.g. Gemma2 with a soft cap
of 1.0: 21 % off, 30x the bf16 tolerance). Deviations smaller than the dtype's own
rounding pass: in bf16, Gemma2's soft cap of 30 changes tiny random models'
log-probs by 0.2 % and the fused path is accepted (real checkpoints, with larger
logits, are caught by the known-attribute rule before the probe).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import ops
from ..errors import ConfigError
from .heads import post_processing_reason, split_decoder_head
from .logps import SequenceLogps, batch_logps, check_logps_path, model_logits

__all__ = [
    "PACKED_MODES",
    "LogpsPlan",
    "LogpsPathError",
    "packed_mode",
    "attention_skips_cross_sequence_blocks",
    "plan_logps",
    "probe_tolerance",
]

# Attention implementations that run a packed row as separate sequences (varlen kernels /
# block masks); eager and sdpa get a dense [L, L] mask, which costs more than padding.
PACKED_MODES = ("false", "true", "auto")


def packed_mode(value: Any) -> Any:
    """--packed as 'false' / 'true' / 'auto'; bools (older configs and flags) and true/false words are
    accepted. Anything else is returned unchanged, for validate() to name."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return "true"
        if low in ("0", "false", "no", "off"):
            return "false"
        if low == "auto":
            return "auto"
    return value


VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3", "flex_attention")


class LogpsPathError(ConfigError):
    """A forced log-prob path or packing that the model does not support (the probe says why)."""


@dataclass
class LogpsPlan:
    """What :func:`plan_logps` decided: ``path`` ('fused_linear' or 'logits'), ``packed``,
    one line per decision worth telling (``notes``) and the measurements (``probed``)."""

    path: str
    packed: bool
    notes: list[str] = field(default_factory=list)
    probed: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def attention_implementation(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) if config is not None else None


def attention_skips_cross_sequence_blocks(model: nn.Module) -> bool:
    """True when the model's attention runs a packed row without a dense [L, L] mask."""
    impl = attention_implementation(model) or ""
    return any(name in impl for name in VARLEN_ATTENTION)


def probe_tolerance(
    logits: torch.Tensor, targets: torch.Tensor, *, dtype: torch.dtype, hidden_size: int, ignore_index: int = -100
) -> torch.Tensor:
    """Per-sequence tolerance (float64 [N]) for padded ``logits`` [N, T, V] / ``targets`` [N, T]
    (see the module docstring)."""
    eps = torch.finfo(dtype).eps
    u = eps * (1 + math.sqrt(hidden_size)) if dtype in (torch.float32, torch.float64) else eps
    z = logits.detach().double()
    counted = targets != ignore_index
    safe = targets.masked_fill(~counted, 0)
    per_token = z.gather(-1, safe.unsqueeze(-1)).squeeze(-1).abs() + z.abs().amax(-1)
    scale = (per_token * counted).sum(-1)
    return u * (scale + counted.sum(-1))


def _probe_pairs(vocab_size: int, pad_token_id: int | None):
    from ..data import EncodedPair

    g = torch.Generator().manual_seed(20240613)
    n_ids = vocab_size - (1 if pad_token_id is not None and 0 <= pad_token_id < vocab_size else 0)
    if n_ids < 2:
        raise ValueError(f"vocab_size={vocab_size}: too small for a probe batch")

    def ids(n):
        out = torch.randint(0, n_ids, (n,), generator=g)
        if pad_token_id is not None and 0 <= pad_token_id < vocab_size:
            out = out + (out >= pad_token_id).long()  # skip the pad id
        return out.tolist()

    # Different lengths, so that padding and packing boundaries matter.
    return [
        EncodedPair(prompt_ids=ids(2), chosen_ids=ids(5), rejected_ids=ids(2)),
        EncodedPair(prompt_ids=ids(3), chosen_ids=ids(3), rejected_ids=ids(6)),
    ]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def _compare(candidate: torch.Tensor, reference: torch.Tensor, tol: torch.Tensor) -> dict[str, Any]:
    diff = (candidate.double().cpu() - reference.double().cpu()).abs()
    rel = diff / reference.double().cpu().abs().clamp_min(1e-30)
    ok = bool(torch.isfinite(candidate).all()) and bool((diff <= tol).all())
    return {
        "ok": ok,
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": float(rel.max()),
        "max_diff_over_tol": float((diff / tol).max()),
    }


def _measure(model: nn.Module, path: str, batch: dict, device, want: torch.Tensor, tol: torch.Tensor):
    """(comparison dict, the candidate's log-probs or None): ``path`` run on ``batch`` against ``want``;
    a candidate that raises is a failed comparison, named by its error."""
    try:
        got = batch_logps(SequenceLogps(model, path=path), batch, device).cpu()
    except Exception as e:
        return {"ok": False, "error": _first_line(e)}, None
    return _compare(got, want, tol), got


def _setting(option: str, value: str) -> str:
    """``--logps_path fused_linear`` (a flag) or ``sympo_logps_path='fused_linear'`` (a field)."""
    return f"{option} {value}" if option.startswith("-") else f"{option}={value!r}"


def _instead(option: str) -> str:
    return f"use {_setting(option, 'logits')} or {'auto' if option.startswith('-') else repr('auto')}"


def _refuse_or_note(why: str, *, forced: bool, refusal: str, note: str, notes: list[str]) -> None:
    """A probed candidate failed (``why``): a :class:`LogpsPathError` when the user forced it, else a
    note; ``refusal`` and ``note`` are templates of the message with ``{why}`` in them."""
    if forced:
        raise LogpsPathError(refusal.format(why=why))
    notes.append(note.format(why=why))


class _ProbeContext:
    """Eval mode, no grad, forked RNG; restores every module's mode and the RNG afterwards."""

    def __init__(self, model: nn.Module, device: torch.device):
        self.model, self.device = model, device

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.rng = torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])
        self.rng.__enter__()
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()
        self.model.eval()
        return self

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.rng.__exit__(*exc)
        for m, mode in self.modes:
            m.training = mode
        return False


def _non_finite_parameters(model: nn.Module, limit: int = 3) -> list[str]:
    """The names of (up to ``limit``) parameters holding NaN or inf."""
    bad = []
    for name, p in model.named_parameters():
        if p.is_floating_point() and not bool(torch.isfinite(p.detach()).all()):
            bad.append(name)
            if len(bad) == limit:
                break
    return bad


def plan_logps(
    model: nn.Module,
    *,
    logps_path: str = "auto",
    packed: str | bool = "false",
    probe: bool = True,
    pad_token_id: int | None = None,
    vocab_size: int | None = None,
    option: str = "--logps_path",
    skip_probe: str | None = "--probe_logps_paths false",
) -> LogpsPlan:
    """Choose the log-prob path and packing for ``model`` (see the module docstring).

    Args:
        logps_path: 'auto' (fused_linear when the probe confirms it, else logits), 'fused_linear'
            (forced: refused if the probe fails), 'logits'.
        packed: 'false', 'true' (forced: refused if the probe shows packed != padded; a warning
            when the attention builds a dense mask), 'auto' (packed only with an attention that
            skips cross-sequence blocks AND a passing probe); bools are accepted.
        probe: False = no forward at all; the known-attribute fast rules decide (for users who
            know their model).
        pad_token_id: kept out of the probe's token ids (padding uses it).
        vocab_size: range of the probe's token ids (default: the model's).
        option: how the caller's user sets ``logps_path`` (a flag such as ``--logps_path``, or a field
            such as ``sympo_logps_path``), for the messages.
        skip_probe: how the caller's user skips the probe (None: there is no way; not suggested).

    Raises:
        LogpsPathError (a ConfigError): a forced path or packing the model does not support.
    """
    packed = packed_mode(packed)
    if packed not in PACKED_MODES:
        raise ConfigError(f"packed={packed!r} is not one of {', '.join(PACKED_MODES)}")
    try:
        check_logps_path(logps_path)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    notes: list[str] = []
    probed: dict[str, Any] = {"probe": bool(probe)}

    # --- candidates the structure and the fast rules allow
    parts = split_decoder_head(model)
    fused_reason = None
    if logps_path != "logits":
        if parts is None:
            fused_reason = "the model does not expose a decoder and an nn.Linear output projection"
        else:
            fused_reason = post_processing_reason(model)
        if fused_reason is not None and logps_path == "fused_linear":
            raise LogpsPathError(f"{_setting(option, 'fused_linear')}: {fused_reason}; {_instead(option)}")
    try_fused = logps_path != "logits" and fused_reason is None
    impl = attention_implementation(model)
    varlen = attention_skips_cross_sequence_blocks(model)
    probed["attn_implementation"] = impl
    try_packed = packed == "true" or (packed == "auto" and varlen)
    if packed == "auto" and not varlen:
        notes.append(
            f"padded batches: --packed auto packs only with an attention that skips cross-sequence "
            f"blocks ({', '.join(VARLEN_ATTENTION)}); {impl or 'this model'!s} would build a dense mask"
        )
    if packed == "true" and not varlen:
        msg = (
            f"--packed true with attention {impl or 'unknown'!r}: a dense [L, L] block mask is built for "
            "each packed row, which costs more than padding (packing pays off with flash_attention_2 / flex_attention)"
        )
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)

    if logps_path == "auto" and fused_reason:
        notes.append(f"logits path: {fused_reason}")
    if not probe:
        path = "fused_linear" if try_fused else "logits"
        notes.append(
            f"log-prob paths not probed (--probe_logps_paths false): {path}"
            + (", packed" if try_packed else ", padded")
        )
        return LogpsPlan(path, try_packed, notes, probed)
    if not (try_fused or try_packed):  # nothing to measure: the logits path on padded batches
        return LogpsPlan("logits", False, notes, probed)

    # --- the probe
    if parts is not None:
        device = parts.projection.weight.device
        dtype = parts.projection.weight.dtype
        hidden_size = parts.projection.in_features
    else:
        first = next((p for p in model.parameters() if p.is_floating_point()), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None else torch.float32
        hidden_size = int(getattr(getattr(model, "config", None), "hidden_size", 0) or 0)
    if vocab_size is None:
        vocab_size = (
            parts.projection.out_features
            if parts is not None
            else getattr(getattr(model, "config", None), "vocab_size", None)
        )
    if not vocab_size:
        raise ConfigError("the log-prob probe needs vocab_size (the model has no config.vocab_size)")
    from ..data import PackedCollator, PaddedCollator

    pairs = _probe_pairs(int(vocab_size), pad_token_id)
    padded = PaddedCollator(pad_token_id if pad_token_id is not None else 0)(pairs)
    packed_batch = PackedCollator()(pairs)
    probed.update(
        dtype=str(dtype).replace("torch.", ""),
        sequences=int(padded["input_ids"].shape[0]),
        tokens=int(packed_batch["num_tokens"]),
    )

    path = "logits"
    with _ProbeContext(model, device):
        try:
            logits = model_logits(model, padded["input_ids"].to(device), padded["attention_mask"].to(device))
            targets = padded["target_ids"].to(device)
            reference = ops.sequence_logps(logits, targets).cpu()
        except Exception as e:  # the model cannot run the trainer's own padded batch
            raise ConfigError(
                f"log-prob probe: the model's logits path failed on a padded probe batch ({_first_line(e)})"
                + (f"; pass {skip_probe} to skip the probe" if skip_probe else "")
            ) from e
        if not bool(torch.isfinite(reference).all()):
            bad = _non_finite_parameters(model)
            if bad:  # skipping the probe cannot help: every log-prob of this model would be NaN
                raise ConfigError(
                    "the model's log-probs are non-finite (NaN/inf on a probe batch): its weights hold non-finite "
                    f"values ({', '.join(bad)}); check the checkpoint (a diverged or corrupted training run?)"
                )
            raise ConfigError(
                "log-prob probe: the model's log-probs are non-finite (NaN/inf) on a probe batch although its "
                "weights are finite (an overflow in its dtype?)"
                + (f"; pass {skip_probe} to skip the probe" if skip_probe else "")
            )
        tol = probe_tolerance(logits, targets, dtype=dtype, hidden_size=hidden_size).cpu()
        probed["tolerance_max"] = float(tol.max())
        del logits

        padded_by_path = {"logits": reference}
        if try_fused:
            result, fused = _measure(model, "fused_linear", padded, device, reference, tol)
            probed["fused_linear"] = result
            if result["ok"]:
                path = "fused_linear"
                padded_by_path["fused_linear"] = fused
            else:
                _refuse_or_note(
                    result.get("error")
                    or f"its log-probs differ from the model's logits by up to {result['max_rel_diff']:.2g} "
                    f"(relative; tolerance {probed['tolerance_max']:.2g} absolute)",
                    forced=logps_path == "fused_linear",
                    refusal=f"{_setting(option, 'fused_linear')} is refused for this model: the fused-linear path "
                    "was probed and {why}; " + _instead(option),
                    note="logits path: the fused-linear path was probed and {why}",
                    notes=notes,
                )

        use_packed = False
        if try_packed:
            result, _ = _measure(model, path, packed_batch, device, padded_by_path[path], tol)
            probed["packed"] = result
            if result["ok"]:
                use_packed = True
            else:
                _refuse_or_note(
                    result.get("error")
                    or f"a packed row differs from the same sequences padded by up to {result['max_rel_diff']:.2g} "
                    "(relative): the model does not treat position_ids restarts as sequence boundaries",
                    forced=packed == "true",
                    refusal="--packed true is refused for this model: {why}; use --packed false (or auto)",
                    note="padded batches: {why}",
                    notes=notes,
                )
    return LogpsPlan(path, use_packed, notes, probed)
