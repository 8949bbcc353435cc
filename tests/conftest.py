"""Shared fixtures. Real VOC data comes from ``$VOCBENCH_SHARED`` (default ``../shared`` beside the repo).

Under CI (``CI=true``) a missing shared folder is a failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vocbench import paths as vb_paths

REPO = Path(__file__).resolve().parents[1]
SHARED = vb_paths.shared_dir().resolve()  # the one search rule (vocbench.paths): $VOCBENCH_SHARED or ../shared
DATA = Path(__file__).resolve().parent / "data"


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    msg = f"{what} not found at {path} (set VOCBENCH_SHARED to the folder holding voc/)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED, "shared data folder")


@pytest.fixture(scope="session")
def voc_root() -> Path:
    """The real VOCdevkit (VOC2007 + VOC2012 annotations)."""
    return _need(SHARED / "voc" / "VOCdevkit", "VOCdevkit")


@pytest.fixture(scope="session")
def yolov2_dets() -> Path:
    return _need(SHARED / "voc" / "detections" / "yolov2-voc07test", "YOLOv2 detections")


@pytest.fixture(scope="session")
def yolov3_dets() -> Path:
    return _need(SHARED / "voc" / "detections" / "yolov3-voc07test", "YOLOv3 detections")


@pytest.fixture(scope="session")
def voc07_test(voc_root):
    """VOC2007 test, loaded once per session (4,952 images)."""
    from vocbench import load_voc

    return load_voc(voc_root, ["2007:test"])


#: Fixtures that load the real VOC files. Their tests are marked ``real_data``: the no-JIT run (``make test-nojit``)
#: leaves them out (plain-Python kernels on 100k real detections take minutes); the twins and hand-built cases
#: cover every kernel there.
REAL_DATA_FIXTURES = frozenset({"voc_root", "yolov2_dets", "yolov3_dets", "voc07_test"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real_data)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep the annotation cache of the test run out of the user's ~/.cache."""
    os.environ["VOCBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("vocbench-cache"))
    yield
