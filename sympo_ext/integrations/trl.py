"""SymPO (and every other sympo_ext loss) inside Hugging Face TRL's ``DPOTrainer``.

``SymPOTrainer`` is a ``trl.DPOTrainer`` and ``SymPOConfig`` a ``trl.DPOConfig``: datasets,
tokenisation, reference model / PEFT / precomputed reference log-probs, logging, saving and
every ``transformers.TrainingArguments`` option stay TRL's. Two things change:

* the policy's per-sequence log-probs come from sympo_ext's fused path: the decoder's hidden
  states and the LM head go to ``sympo_ext.fused_linear_sequence_logps`` (the [tokens, vocab]
  logits never exist) where the model allows it (:func:`choose_logps_path`), otherwise the
  logits go to ``sympo_ext.sequence_logps``;
* the pair loss is ``sympo_ext.sym_loss`` with ``SymPOConfig.sympo_loss_type`` (default
  ``"sigmoid"``: SymPO) and ``beta`` = TRL's ``beta``; a ``label`` column (1: chosen preferred,
  0: rejected preferred) is honoured per pair.

TRL's own ``loss_type`` keeps TRL's meaning and is refused when set (the loss comes from
``sympo_loss_type``); see ``sympo_ext/integrations/README.md`` for the name table.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import losses as _losses
from ..hf.logps import check_logps_path, logps_from_inputs, logps_inputs
from ..hf.probe import LogpsPathError, plan_logps
from ..loss_modules import nll_per_pair
from ..metrics import pair_accuracy
from ..ops import sym_loss

SUPPORTED_TRL = ">=1.16,<2"  # the DPOTrainer API this module builds on (tested: 1.16.0)


def check_trl_version(version: str) -> None:
    """Raise ImportError unless ``version`` is in :data:`SUPPORTED_TRL`."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(str(version))
    except InvalidVersion:
        raise ImportError(f"sympo_ext.integrations.trl: cannot parse the installed TRL version {version!r}") from None
    if not SpecifierSet(SUPPORTED_TRL).contains(parsed, prereleases=True):
        raise ImportError(
            f"sympo_ext.integrations.trl supports trl{SUPPORTED_TRL} (tested with 1.16.0), but trl {version} is "
            f"installed; install a supported one: pip install 'trl{SUPPORTED_TRL}'"
        )


try:
    import trl
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sympo_ext.integrations.trl needs TRL: pip install 'sympo_ext[trl]' (PEFT for LoRA is included)"
    ) from exc
check_trl_version(trl.__version__)

from accelerate.utils import is_peft_model  # noqa: E402
from trl import DPOConfig, DPOTrainer  # noqa: E402  (after the version check, on purpose)
from trl.models.utils import disable_gradient_checkpointing  # noqa: E402
from trl.trainer.utils import use_adapter  # noqa: E402

__all__ = [
    "SUPPORTED_TRL",
    "PairLabelCollator",
    "SymPOConfig",
    "SymPOTrainer",
    "check_trl_version",
    "choose_logps_path",
]

# Batch keys that are not model inputs (TRL's, plus the per-pair label).
_NON_MODEL_KEYS = {"completion_mask", "ref_chosen_logps", "ref_rejected_logps", "label"}


_TRL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DPOConfig)}


# Losses whose parameter TRL also takes from label_smoothing without it being a label-flip rate (TRL 1.16:
# exo_pair's epsilon).
_LABEL_SMOOTHING_IS_PARAM = ("exo_pair",)


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass
@_losses.with_param_fields(
    lambda name: _field(None, _losses.param_help(name, trl=True)), after="sympo_loss_weights", prefix="sympo_"
)
class SymPOConfig(DPOConfig):
    """``trl.DPOConfig`` plus the sympo_ext loss. ``beta`` is TRL's; the rest of the loss is here."""

    sympo_loss_type: str = _field(
        "sigmoid",
        "sympo_ext loss (a name or alias of sympo_ext.LOSSES; default 'sigmoid' = SymPO). TRL's "
        "'sigmoid' (DPO) is 'logistic' here, 'robust' is 'rdpo'.",
    )
    sympo_loss_weights: list[float] | None = _field(
        None, "with a list sympo_loss_type: the weights of the combination (default 1 each)"
    )
    # TRL's own loss selector, unset by default here: set to TRL's 'sigmoid' (DPO) it is refused, since our
    # 'sigmoid' is SymPO's loss and a DPOConfig ported as is would train SymPO without a word.
    loss_type: list[str] | None = _field(None, "TRL's loss selector: not used; choose the loss with sympo_loss_type")
    # sympo_<parameter> for every loss parameter (sympo_temperature, sympo_epsilon, ...): generated
    # from the registry by with_param_fields (None = the loss's own default).
    sympo_clip: float | None = _field(None, "clamp each reward beta*(log pi - log pi_ref) to [-clip, clip]")
    sympo_logps_path: str = _field(
        "auto", "policy log-probs: 'auto' (fused-linear where the model allows), 'fused_linear' or 'logits'"
    )
    sympo_chunk_size: int | None = _field(None, "token rows per chunk of the fused-linear path (None: automatic)")
    sympo_nll_weight: float = _field(
        0.0,
        "add sympo_nll_weight x the chosen response's per-token NLL, per pair (RPO's alpha; TRL's 'sft' "
        "loss term, which TRL averages over the batch's chosen tokens instead), from the same log-prob pass",
    )

    def __post_init__(self):
        if self.loss_type is None:
            self.loss_type = ["sigmoid"]  # TRL's default, which its trainer reads; the loss is sympo_loss_type
        elif (self.loss_type if isinstance(self.loss_type, str) else list(self.loss_type)) in ("sigmoid", ["sigmoid"]):
            raise ValueError(
                "loss_type='sigmoid' is TRL's DPO loss, which is sympo_loss_type='logistic' here (sympo_ext's "
                "'sigmoid' is SymPO's symmetric loss, the default); set sympo_loss_type and leave loss_type unset"
            )
        super().__post_init__()
        self._check_trl_loss_fields()
        check_logps_path(self.sympo_logps_path, what="sympo_logps_path")
        if self.sympo_chunk_size is not None and (
            not isinstance(self.sympo_chunk_size, int) or self.sympo_chunk_size < 1
        ):
            raise ValueError(f"sympo_chunk_size must be a positive int or None, got {self.sympo_chunk_size!r}")
        if (
            isinstance(self.sympo_nll_weight, bool)
            or not isinstance(self.sympo_nll_weight, (int, float))
            or not (self.sympo_nll_weight >= 0 and self.sympo_nll_weight < float("inf"))
        ):
            raise ValueError(
                f"sympo_nll_weight must be a finite number >= 0 (0: no NLL term), got {self.sympo_nll_weight!r}"
            )
        self.sympo_loss_kwargs()  # validate now, not at the first step

    def _check_trl_loss_fields(self) -> None:
        """Every DPOConfig field that selects or parameterises TRL's loss is mapped to the sympo_ext
        parameter or refused (never accepted and ignored); the table is in sympo_ext/integrations/README.md.
        ``beta`` is the reward scale of every loss; ``label_smoothing`` is mapped in sympo_loss_kwargs.
        Run again by SymPOTrainer: a config changed after construction is checked the same way."""
        if self.loss_type is None:
            self.loss_type = ["sigmoid"]
        loss_type = [self.loss_type] if isinstance(self.loss_type, str) else list(self.loss_type)
        if "sft" in loss_type:
            raise ValueError(
                f"loss_type={self.loss_type!r}: TRL's 'sft' term (the NLL of the chosen tokens, averaged over the "
                f"batch) is sympo_nll_weight here (the same NLL, averaged per pair); set sympo_nll_weight and leave "
                f"loss_type at ['sigmoid']"
            )
        if loss_type != ["sigmoid"]:
            raise ValueError(
                f"loss_type={self.loss_type!r} selects one of TRL's own losses, which SymPOTrainer does not use; "
                f"choose the loss with sympo_loss_type (TRL 'sigmoid' = 'logistic', 'hinge' = 'hinge', 'robust' = "
                f"'rdpo', 'ipo' ~ 'ipo'; see sympo_ext/integrations/README.md) or use trl.DPOTrainer"
            )
        refused = {  # field: the sympo_ext way (TRL's default is the only accepted value)
            "loss_weights": "the weights of a sympo_loss_type list are sympo_loss_weights",
            "ld_alpha": "LD-DPO's length-desensitised log-probs are not in sympo_ext; use trl.DPOTrainer",
            "f_divergence_type": "sympo_ext's losses use the reverse-KL log-ratio; use trl.DPOTrainer for f-DPO",
            "f_alpha_divergence_coef": "it parameterises TRL's f_divergence_type='alpha_divergence', which "
            "SymPOTrainer does not have",
            "use_weighting": "WPO weighting is not in sympo_ext; use trl.DPOTrainer",
        }
        for name, way in refused.items():
            value, default = getattr(self, name), _TRL_DEFAULTS[name]
            if value != default:
                raise ValueError(
                    f"{name}={value!r} is not supported by SymPOTrainer (it would be ignored): {way}; "
                    f"leave it at {default!r}"
                )
        # discopop_tau -> tau of the 'discopop' loss
        if self.discopop_tau != _TRL_DEFAULTS["discopop_tau"]:
            names = [self.sympo_loss_type] if isinstance(self.sympo_loss_type, str) else list(self.sympo_loss_type)
            try:
                types = [_losses.canonical_name(n) for n in names]
            except (ValueError, TypeError) as exc:
                raise ValueError(f"sympo_loss_type: {exc}") from None
            if "discopop" not in types:
                raise ValueError(
                    f"discopop_tau={self.discopop_tau} has no effect with sympo_loss_type="
                    f"{self.sympo_loss_type!r}; it is the tau of sympo_loss_type='discopop'"
                )
            if self.sympo_tau is not None and self.sympo_tau != self.discopop_tau:
                raise ValueError(
                    f"discopop_tau={self.discopop_tau} and sympo_tau={self.sympo_tau} disagree; set "
                    f"one of them (they are the same parameter)"
                )
            self.sympo_tau = float(self.discopop_tau)

    def sympo_loss_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``sympo_ext.sym_loss`` (all but beta), validated by the loss registry
        (``sympo_ext.losses.LossSpec``): one loss or a weighted combination, any name or alias."""
        names = [self.sympo_loss_type] if isinstance(self.sympo_loss_type, str) else list(self.sympo_loss_type)
        if "sft" in names:
            raise ValueError(
                f"sympo_loss_type={self.sympo_loss_type!r}: the 'sft' term (the NLL of the chosen tokens) is "
                "sympo_nll_weight here, not a loss name; remove 'sft' and set sympo_nll_weight"
            )
        try:
            types = [_losses.canonical_name(n) for n in names]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"sympo_loss_type: {exc}") from None
        params = {name: getattr(self, f"sympo_{name}") for name in _losses.PARAMS}
        if self.label_smoothing:
            takers = [t for t in types if _losses.takes_flip_rate(t) or t in _LABEL_SMOOTHING_IS_PARAM]
            if not takers:
                users = [n for n in _losses.LOSSES if _losses.takes_flip_rate(n) or n in _LABEL_SMOOTHING_IS_PARAM]
                raise ValueError(
                    f"label_smoothing={self.label_smoothing} has no effect with sympo_loss_type="
                    f"{self.sympo_loss_type!r}; it is the label-noise epsilon of {', '.join(users)} "
                    f"(TRL 'robust' = 'rdpo')"
                )
            flip = _losses.LOSSES[takers[0]].param.name  # TRL's label_smoothing is this parameter
            if params[flip] is None:
                params[flip] = float(self.label_smoothing)
            elif params[flip] != self.label_smoothing:
                raise ValueError(
                    f"label_smoothing={self.label_smoothing} and sympo_{flip}={params[flip]} disagree; set one of "
                    f"them (TRL's label_smoothing is the {flip} of {takers[0]})"
                )
        if self.sympo_clip is not None and not self.sympo_clip > 0:
            raise ValueError(f"sympo_clip must be > 0 or None, got {self.sympo_clip!r}")
        try:
            spec = _losses.LossSpec.create(
                self.sympo_loss_type,
                beta=self.beta,
                clip=self.sympo_clip,
                loss_weights=self.sympo_loss_weights,
                **params,
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(f"SymPOConfig (the sympo_<parameter> fields): {exc}") from None
        kwargs = spec.sym_loss_kwargs()
        kwargs.pop("beta")  # TRL's beta, passed by the trainer
        return kwargs


def choose_logps_path(
    model: torch.nn.Module, *, logps_path: str = "auto", pad_token_id: int | None = None, vocab_size: int | None = None
) -> str:
    """``"fused_linear"`` or ``"logits"``: how to get the policy's log-probs from this (unwrapped)
    model. The same rule as ``sympo-train``: the fused-linear path only where a probe shows it gives
    the model's own log-probs (:func:`sympo_ext.hf.probe.plan_logps`); a forced
    ``"fused_linear"`` that fails the probe raises (a ValueError naming the reason)."""
    peft_config = getattr(model, "active_peft_config", None)
    if peft_config is not None and getattr(peft_config, "is_prompt_learning", False):
        if logps_path == "fused_linear":
            raise ValueError(
                "sympo_logps_path='fused_linear': a prompt-learning PEFT model adds its virtual "
                "tokens in its own forward, not in the decoder; use 'auto' or 'logits'"
            )
        return "logits"
    try:
        plan = plan_logps(
            model,
            logps_path=logps_path,
            packed="false",
            pad_token_id=pad_token_id,
            vocab_size=vocab_size,
            option="sympo_logps_path",  # the messages name the SymPOConfig field, not sympo-train's flag
            skip_probe=None,
        )
    except LogpsPathError as exc:
        raise ValueError(str(exc)) from None
    return plan.path


def _pair_labels(values: list) -> torch.Tensor:
    for i, value in enumerate(values):
        if isinstance(value, bool) or value in (0, 1):
            continue
        raise ValueError(
            f"label column: example {i} of the batch has label {value!r}; expected 0/1 or a bool "
            f"(1: 'chosen' preferred, 0: 'rejected' preferred)"
        )
    return torch.tensor([int(v) for v in values], dtype=torch.long)


class PairLabelCollator:
    """Wrap TRL's preference collator: adds the batch's ``label`` column (if the examples have one)."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(examples)
        if examples and "label" in examples[0]:
            batch["label"] = _pair_labels([ex["label"] for ex in examples])
        return batch


class SymPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` whose policy log-probs and pair loss come from sympo_ext (module docstring)."""

    _tag_names = ["trl", "dpo", "sympo"]
    _name = "SymPO"

    def __init__(self, model, ref_model=None, args: SymPOConfig | None = None, *pargs, **kwargs):
        if args is None:
            args = SymPOConfig(output_dir="SymPO")
        if not isinstance(args, SymPOConfig):
            raise TypeError(
                f"args must be a SymPOConfig (a trl.DPOConfig with the sympo_ext loss), got {type(args).__name__}"
            )
        # the loss fields again: one set after construction (cfg.loss_type = [...]) skipped __post_init__
        args._check_trl_loss_fields()
        args.sympo_loss_kwargs()
        self.ref_logps_path = None  # (set before TRL's __init__: precompute_ref_log_probs may run in it)
        super().__init__(model, ref_model, args, *pargs, **kwargs)
        self.sympo_loss_kwargs = args.sympo_loss_kwargs()
        self.logps_path: str | None = None  # decided at the first step, on the prepared model
        self.data_collator = PairLabelCollator(self.data_collator)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if "label" not in self._signature_columns:  # keep the per-pair label through remove_unused_columns
            self._signature_columns = [*self._signature_columns, "label"]

    # -- log-probs --------------------------------------------------------- #

    def _resolve_logps_path(self, model, *, reference: bool = False) -> str:
        """The log-prob path of ``model`` (the policy, or with ``reference`` the frozen reference /
        the policy with its adapters disabled), probed once per model."""
        requested = self.args.sympo_logps_path
        unwrapped = self.accelerator.unwrap_model(model)
        blockers = []
        if unwrapped is not model and not reference:  # the reference runs without grad: no gradient sync
            blockers.append("the model is wrapped for distributed training (its forward must run)")
        if self.aux_loss_enabled and not reference:  # TRL drops the router logits of the reference too
            blockers.append("the MoE auxiliary loss needs the model's own forward")
        if self._is_vision_dataset:
            blockers.append("vision inputs need the model's own forward")
        if requested == "logits":
            return "logits"
        if requested == "fused_linear" and blockers:
            raise ValueError(
                f"sympo_logps_path='fused_linear' is not possible here: {'; '.join(blockers)}; use 'auto' or 'logits'"
            )
        if blockers:
            return "logits"
        tok = self.processing_class
        tok = getattr(tok, "tokenizer", tok)  # a processor wraps its tokenizer
        return choose_logps_path(
            unwrapped,
            logps_path=requested,
            pad_token_id=getattr(tok, "pad_token_id", None),
            vocab_size=len(tok) if hasattr(tok, "__len__") else None,
        )

    def _sequence_logps(self, model, path: str, model_inputs: dict[str, Any], targets: torch.Tensor):
        """(per-sequence log-probs [2B] of the completion tokens, model outputs or None) through
        sympo_ext's log-prob dispatch (:mod:`sympo_ext.hf.logps`); the completion positions are
        selected before the head (logits[:, t] predicts token t + 1)."""
        kwargs = dict(model_inputs)
        # prompt-learning PEFT prepends virtual tokens: the positions count from the end
        positions = slice(-targets.shape[1] - 1, -1)
        fused = path == "fused_linear"
        inputs = logps_inputs(
            self.accelerator.unwrap_model(model) if fused else model, path, kwargs, positions=positions
        )
        logps = logps_from_inputs(inputs, targets, chunk_size=self.args.sympo_chunk_size if fused else None)
        return logps, inputs.outputs

    def policy_logps(self, model, model_inputs: dict[str, Any], targets: torch.Tensor):
        """(per-sequence log-probs [2B], model outputs or None) of the policy (:meth:`_sequence_logps`).

        Under accelerate's mixed precision (bf16 / fp16) the policy's ``forward`` runs in autocast, but the
        fused path calls the decoder and the head, not ``forward``: both the probe and the fused path run
        under the same autocast here (as the reference's do), or the probe would measure an fp32 fused path
        against autocast logits and refuse it, and the policy would train outside the mixed precision."""
        with self.accelerator.autocast():
            if self.logps_path is None:
                self.logps_path = self._resolve_logps_path(model)
            if self.logps_path == "logits" and self.aux_loss_enabled:
                model_inputs = {**model_inputs, "output_router_logits": True}
            return self._sequence_logps(model, self.logps_path, model_inputs, targets)

    def compute_ref_log_probs(self, model, inputs):
        """TRL's reference log-probs (chosen [B], rejected [B]) -- of ``ref_model``, or of the policy with
        its PEFT adapters disabled (TRL's rule, an adapter named 'ref' if there is one) -- through
        sympo_ext's no-grad log-prob dispatch (no per-token entropy / mean logits / top-1 as TRL's
        fused head computes them). Also what ``precompute_ref_log_probs`` runs. The reference is
        probed once, separately from the policy (it may be a different model)."""
        model_inputs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        targets = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)[:, 1:]
        adapter = contextlib.nullcontext()
        if self.ref_model is None and is_peft_model(self.accelerator.unwrap_model(self.model)):
            unwrapped = self.accelerator.unwrap_model(self.model)
            adapter = use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None)
        with (
            torch.no_grad(),
            disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs),
            adapter,
            self.accelerator.autocast(),
        ):
            if self.ref_logps_path is None:
                self.ref_logps_path = self._resolve_logps_path(model, reference=True)
            logps, _ = self._sequence_logps(model, self.ref_logps_path, model_inputs, targets)
        return logps.chunk(2, dim=0)

    # -- loss -------------------------------------------------------------- #

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        model_inputs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        completion_mask = inputs["completion_mask"]
        targets = inputs["input_ids"].masked_fill(completion_mask == 0, -100)[:, 1:]
        logps, outputs = self.policy_logps(model, model_inputs, targets)
        chosen_logps, rejected_logps = logps.chunk(2, dim=0)  # TRL batches are [chosen; rejected]

        if self.precompute_ref_logps:
            ref_chosen, ref_rejected = inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]
        else:  # TRL's reference: ref_model, or the policy with its PEFT adapter disabled
            ref_chosen, ref_rejected = self.compute_ref_log_probs(
                self.ref_model if self.ref_model is not None else model, inputs
            )

        pair_labels = inputs.get("label")
        out = sym_loss(
            chosen_logps,
            rejected_logps,
            ref_chosen.to(chosen_logps.device),
            ref_rejected.to(chosen_logps.device),
            beta=self.beta,
            labels=None if pair_labels is None else pair_labels.to(chosen_logps.device),
            return_rewards=True,
            **self.sympo_loss_kwargs,
        )
        loss = out.loss
        metrics = self._metrics[mode]
        if self.args.sympo_nll_weight:  # per pair, from the same log-prob pass (sympo_ext.loss_modules.nll_per_pair)
            chosen_counts = completion_mask[:, 1:].chunk(2, dim=0)[0].sum(-1)
            nll = nll_per_pair(chosen_logps, chosen_counts, average=False)
            loss = loss + self.args.sympo_nll_weight * nll.mean().to(loss.dtype)
            metrics["nll_loss"].append(self.accelerator.gather(nll.detach()).mean().item())
        if outputs is not None and self.aux_loss_enabled:
            loss = loss + self.router_aux_loss_coef * outputs.aux_loss
            metrics["aux_loss"].append(self.accelerator.gather_for_metrics(outputs.aux_loss.detach()).mean().item())

        # TRL's metric names and definitions (rewards = beta * (log pi - log pi_ref), chosen vs rejected column)
        if mode == "train":
            tokens = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
            self._total_train_tokens += tokens // self._tp_size
        metrics["num_tokens"] = [self._total_train_tokens]
        gather = self.accelerator.gather
        chosen_r, rejected_r = gather(out.chosen_rewards), gather(out.rejected_rewards)
        metrics["rewards/chosen"].append(chosen_r.mean().item())
        metrics["rewards/rejected"].append(rejected_r.mean().item())
        labels = None if pair_labels is None else gather(pair_labels.to(chosen_r.device))
        metrics["rewards/accuracies"].append(pair_accuracy(chosen_r - rejected_r, labels))
        metrics["rewards/margins"].append((chosen_r - rejected_r).mean().item())
        metrics["logps/chosen"].append(gather(chosen_logps.detach()).mean().item())
        metrics["logps/rejected"].append(gather(rejected_logps.detach()).mean().item())

        if return_outputs:  # as TRL: the logits for compute_metrics come from an extra forward
            with torch.no_grad():
                outputs = model(**model_inputs)
            return loss, outputs
        return loss
