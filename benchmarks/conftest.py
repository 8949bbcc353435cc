"""pytest-benchmark suites: ``pytest benchmarks/ --benchmark-only`` (not part of the normal ``pytest`` run, whose
testpaths is ``tests/``). Files are named ``bench_*.py``; this conftest makes pytest collect them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vocbench.bench.suites import default_shared


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    path = default_shared()
    if not (path / "voc").exists():
        pytest.skip(f"real VOC data not found under {path} (set VOCBENCH_SHARED)")
    return path


@pytest.fixture(scope="session")
def voc_root(shared) -> Path:
    """The real VOCdevkit (same name as the tests' fixture)."""
    return shared / "voc" / "VOCdevkit"


@pytest.fixture(scope="session")
def voc07_test(shared):
    from vocbench import load_voc

    return load_voc(shared / "voc" / "VOCdevkit", ["2007:test"])


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    """Peers single-threaded, as in ``vocbench bench``."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    yield


def warm(fn):
    """Call once untimed (JIT compile, caches) and return the result."""
    return fn()


__all__ = ["warm", "np"]
