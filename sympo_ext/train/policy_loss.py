"""The policy and its loss as one module: what the trainer calls and DDP / FSDP2 wrap.

:class:`PolicyLoss` runs a causal LM on a collated preference batch (padded or packed, see
:mod:`sympo_ext.data`) and hands its output to the library's own loss modules:

* ``fused_linear``: the decoder's final hidden states and the LM head go to
  :class:`sympo_ext.FusedLinearSymPOLoss` -- by default its loss-fused path (loss AND gradients
  in one pass over the head, 3 GEMMs, the [tokens, vocab] logits never exist), or with
  ``fuse_backward=False`` the recompute path (4 GEMMs, the lowest memory);
* ``logits``: the model's logits go to :class:`sympo_ext.SymPOLoss`.

Which path a model gets is decided before training, by measuring it
(:func:`sympo_ext.hf.probe.plan_logps`); this module only runs it. On the fused path a
head with layers before its projection (BERT/RoBERTa) runs them, and only the projection is fused;
under autocast the projection runs in the autocast dtype, as autocast would run the model's own
head (:func:`sympo_ext.hf.heads.projection_inputs`), and the fused loss runs with autocast
off (its GEMMs write into preallocated buffers).
"""

from __future__ import annotations

import torch
from torch import nn

from ..hf.heads import split_decoder_head
from ..hf.logps import check_logps_path, forward_kwargs, logps_inputs
from ..loss_modules import FusedLinearSymPOLoss, PairOutputs, SymPOLoss

__all__ = ["PolicyLoss"]


class PolicyLoss(nn.Module):
    """``forward(input_ids, target_ids, attention_mask=None, position_ids=None, cu_seqlens=None, *,
    ref_chosen_logps=None, ref_rejected_logps=None, pair_labels=None) -> PairOutputs``.

    ``loss_options``: the ``sym_loss`` options (loss_type, beta, clip, reduction, ...); the
    trainer uses reduction "sum" and scales the loss itself. ``average``: length-normalised
    log-probs. ``path``: "fused_linear" or "logits" (already decided). ``fuse_backward``: on the
    fused-linear path, compute the gradients in the forward pass where that applies (True, the
    default) or recompute the logits in backward (False)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        path: str,
        loss_options: dict,
        average: bool = False,
        chunk_size: int | None = None,
        fuse_backward: bool = True,
    ):
        super().__init__()
        check_logps_path(path, what="PolicyLoss: path", resolved=True)
        self.model = model
        self.path = path
        self._parts = split_decoder_head(model) if path == "fused_linear" else None
        if path == "fused_linear":
            if self._parts is None:
                raise ValueError("PolicyLoss: path='fused_linear' needs a model exposing its decoder and LM head")
            self.loss = FusedLinearSymPOLoss(
                average=average, chunk_size=chunk_size, fuse_backward=None if fuse_backward else False, **loss_options
            )
        else:
            self.loss = SymPOLoss(average=average, **loss_options)

    def forward(
        self,
        input_ids,
        target_ids,
        attention_mask=None,
        position_ids=None,
        cu_seqlens=None,
        *,
        ref_chosen_logps=None,
        ref_rejected_logps=None,
        pair_labels=None,
    ) -> PairOutputs:
        inputs = logps_inputs(
            self.model,
            self.path,
            forward_kwargs(input_ids, attention_mask, position_ids),
            parts=self._parts,
            packed=cu_seqlens is not None,
        )
        pair = dict(pair_labels=pair_labels, cu_seqlens=cu_seqlens)
        refs = (ref_chosen_logps, ref_rejected_logps)
        if self.path == "fused_linear":
            with torch.autocast(inputs.hidden.device.type, enabled=False):
                return self.loss.pair_outputs(inputs.hidden, inputs.weight, target_ids, *refs, bias=inputs.bias, **pair)
        return self.loss.pair_outputs(inputs.logits, target_ids, *refs, **pair)
