"""Process-group setup under torchrun, DDP / FSDP2 wrapping and the distributed details of a step
(gradient-sync suppression during accumulation, the global gradient norm, agreement on a flag).

Launch with ``torchrun --nproc_per_node N -m sympo_ext.train.cli ...`` (or the
``sympo-train`` script). The backend is NCCL when each process has a GPU, gloo
otherwise. Without torchrun's environment the trainer runs in one process.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "init_distributed",
    "wrap_model",
    "all_reduce_sum",
    "barrier",
    "broadcast_object",
    "any_process",
    "all_gather_object",
    "no_sync",
    "clip_grad_norm",
]


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise the default process group from torchrun's environment (if any)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA GPU is available")
    if world <= 1:
        return DistInfo(device=torch.device("cuda" if use_cuda else "cpu"))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=dev if use_cuda else None)
        here = True
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev, initialized_here=here)


def destroy(info: DistInfo) -> None:
    if info.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_object(obj, info: DistInfo):
    """Process 0's ``obj`` on every process (picklable objects)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj, info: DistInfo) -> list:
    """Every process's ``obj``, in rank order (picklable objects)."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def any_process(flag: bool, info: DistInfo, device: torch.device | None = None) -> bool:
    """True on every process when ``flag`` is True on any (collective: every process calls it), so
    that every process raises together, or none does."""
    t = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=device or info.device)
    return bool(all_reduce_sum(t, info)[0] > 0)


@contextmanager
def no_sync(module: nn.Module, info: DistInfo, active: bool = True):
    """No gradient all-reduce inside (an accumulation micro-step that is not the last one): DDP's
    ``no_sync``, FSDP2's ``set_requires_gradient_sync(False)``; nothing for one process."""
    if not active or not info.enabled:
        yield
    elif hasattr(module, "no_sync"):
        with module.no_sync():
            yield
    elif hasattr(module, "set_requires_gradient_sync"):
        module.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            module.set_requires_gradient_sync(True)
    else:
        yield


def clip_grad_norm(parameters, max_norm: float) -> float:
    """The global gradient norm (over every process: FSDP2's DTensor norm gathered with
    ``full_tensor``), clipping to ``max_norm`` when it is > 0 (0: measured only)."""
    gn = torch.nn.utils.clip_grad_norm_(parameters, max_norm if max_norm > 0 else math.inf)
    if hasattr(gn, "full_tensor"):
        gn = gn.full_tensor()
    return float(gn)


def _decoder_layers(model: nn.Module):
    """The repeated transformer blocks of an HF model (for per-layer FSDP2 sharding)."""
    for name in ("model.layers", "model.decoder.layers", "transformer.h", "gpt_neox.layers", "layers"):
        obj = model
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, (nn.ModuleList, nn.Sequential)):
            return list(obj)
    return []


def wrap_model(module: nn.Module, inner: nn.Module, info: DistInfo, strategy: str) -> nn.Module:
    """Wrap ``module`` (the PolicyLoss holding the policy ``inner``, or a frozen reference's
    SequenceLogps under FSDP) for training.

    * ``ddp``: DistributedDataParallel; gradients are averaged across processes.
    * ``fsdp``: FSDP2 ``fully_shard`` on each decoder layer, then on the root; the
      parameters become DTensors sharded across processes (gradients are
      averaged, as with DDP).
    """
    if not info.enabled:
        return module
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [info.device.index] if info.device.type == "cuda" else None
        # Buffers (e.g. rotary tables) are identical on every process: no per-forward broadcast.
        return DDP(module, device_ids=ids, broadcast_buffers=False)
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in _decoder_layers(inner):
            fully_shard(layer)
        fully_shard(module)
        return module
    raise ValueError(f"unknown distributed strategy {strategy!r}")
