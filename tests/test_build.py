"""The compiled library is the one under test, and a broken build never crashes import."""

from __future__ import annotations

import subprocess
import sys

import torch

import sympo_ext


def test_kernels_are_loaded():
    # Without this, every other test would silently exercise the reference fallback.
    assert sympo_ext.KERNELS_AVAILABLE, f"compiled library failed to load: {sympo_ext.LOAD_ERROR}"
    assert hasattr(torch.ops.sympo_ext, "sym_loss_forward")


def test_cuda_kernels_present_when_a_gpu_is():
    if torch.cuda.is_available():
        assert sympo_ext.WITH_CUDA, "a GPU is present but the extension was built without CUDA kernels"


def test_import_survives_a_missing_library_and_falls_back():
    code = (
        "import sys, warnings; sys.modules['sympo_ext._C'] = None\n"
        "import torch, sympo_ext\n"
        "assert not sympo_ext.KERNELS_AVAILABLE and '_C' in sympo_ext.LOAD_ERROR, sympo_ext.LOAD_ERROR\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    a, b = torch.randn(4), torch.randn(4)\n"
        "    loss = sympo_ext.sym_loss(a, b)\n"
        "assert any('could not be loaded' in str(x.message) for x in w), [str(x.message) for x in w]\n"
        "torch.testing.assert_close(loss, sympo_ext.reference.sym_loss(a, b))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
