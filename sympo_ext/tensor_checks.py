"""Argument checks shared by the op wrappers (sympo_ext.ops, sympo_ext.logps_ops)."""

from __future__ import annotations

__all__ = ["check_same_device"]


def check_same_device(op: str, tensors, names, allow_cpu: tuple[str, ...] = ()) -> None:
    """Refuse tensors on different devices, naming the argument (a ``meta`` tensor
    mixed with real ones would otherwise give uninitialised memory)."""
    device = tensors[0].device
    for t, name in zip(tensors[1:], names[1:]):
        if t is None or t.device == device:
            continue
        if name in allow_cpu and t.device.type == "cpu" and device.type != "meta":
            continue
        raise RuntimeError(
            f"{op}: {name} is on {t.device} but {names[0]} is on {device}; all tensors must be on one device"
        )
