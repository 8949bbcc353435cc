"""TIDE's error decomposition (COCO rules) of the real YOLOv2 detections on VOC2007 test: vocbench vs tidecv 1.0.1."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest

import vocbench
from vocbench.bench.suite_diagnose import _prepare_tidecv
from vocbench.diagnose import diagnose


@pytest.fixture(scope="module")
def dets(shared, voc07_test):
    return vocbench.read_detections(shared / "voc" / "detections" / "yolov2-voc07test", voc07_test)


@pytest.mark.parametrize("extras", [False, True], ids=["tide-only", "with-sensitivity-confusion"])
def test_vocbench_diagnose_coco(benchmark, voc07_test, dets, extras):
    def fn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return diagnose(voc07_test, dets, protocol="coco", sensitivity=extras, confusion=extras)

    fn()
    benchmark.group = "diagnose COCO rules"
    d = benchmark(fn)
    assert abs(d.mAP - 0.7450440740479806) < 1e-12  # tidecv 1.0.1 prints 74.50440740479806


def test_tidecv(benchmark, voc07_test, dets):
    pytest.importorskip("tidecv")
    with tempfile.TemporaryDirectory() as tmp:
        run = _prepare_tidecv(voc07_test, dets, Path(tmp))
        benchmark.group = "diagnose COCO rules"
        ap, main, _ = benchmark.pedantic(run, rounds=1, iterations=1)
    assert abs(ap - 74.50440740479806) < 1e-9
