"""Shared test configuration: device/dtype parametrisation and CUDA skipping."""

from __future__ import annotations

import os

import pytest
import torch

# Tests are small; more threads than cores only adds noise on CI's 2 cores.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

HAS_CUDA = torch.cuda.is_available()

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none present)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
