"""Load the compiled library once; never crash ``import sympo_ext``.

If the library cannot be loaded (not built, built against another torch, ...)
the reason is kept in :data:`LOAD_ERROR`, said once as a warning, and the public
functions fall back to the pure-PyTorch references.
"""

from __future__ import annotations

import warnings

import torch

LOAD_ERROR: str | None = None
WITH_CUDA = False

try:
    from . import _C  # noqa: F401  (runs the TORCH_LIBRARY registrations)
    from ._build_info import WITH_CUDA  # type: ignore[no-redef]
except Exception as exc:  # ImportError, OSError (undefined symbol, wrong torch), ...
    LOAD_ERROR = f"{type(exc).__name__}: {exc}"

AVAILABLE = LOAD_ERROR is None
_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def use_kernels(device: torch.device) -> bool:
    """Whether the compiled kernels serve tensors on ``device`` (else: reference)."""
    if not AVAILABLE:
        warn_once(
            "load",
            f"sympo_ext: the compiled kernels could not be loaded ({LOAD_ERROR}); using the "
            "pure-PyTorch reference implementations. Rebuild with `pip install .` (torch installed first)",
        )
        return False
    if device.type == "cuda" and not WITH_CUDA:
        warn_once(
            "cuda",
            "sympo_ext was built without CUDA kernels (CPU-only torch or no nvcc at build time); "
            "CUDA tensors use the pure-PyTorch reference. Rebuild with SYMPO_CUDA=ON to get them.",
        )
        return False
    return device.type in ("cpu", "cuda", "meta")
