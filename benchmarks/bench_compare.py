"""Image bootstrap of YOLOv2 vs YOLOv3 on VOC2007 test: vocbench.compare vs hotcoco's compare (COCO rules)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest

import vocbench
from vocbench.bench.suite_compare import _prepare_hotcoco


@pytest.fixture(scope="module")
def pair(shared, voc07_test):
    det = shared / "voc" / "detections"
    return {"yolov2": vocbench.read_detections(det / "yolov2-voc07test", voc07_test),
            "yolov3": vocbench.read_detections(det / "yolov3-voc07test", voc07_test)}


@pytest.mark.parametrize("metrics, replicates", [(("voc07", "voc12"), 2000), (("coco",), 1000)],
                         ids=["voc07+voc12-R2000", "coco-R1000"])
def test_vocbench_compare(benchmark, voc07_test, pair, metrics, replicates):
    def fn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return vocbench.compare(voc07_test, pair, metrics=metrics, bootstrap=replicates, seed=0)

    fn()  # JIT warm-up
    benchmark.group = f"compare {'+'.join(metrics)}"
    res = benchmark.pedantic(fn, rounds=3, iterations=1)
    assert res.pairs[0].ci[0] < res.pairs[0].diff < res.pairs[0].ci[1]


def test_hotcoco_compare(benchmark, voc07_test, pair):
    pytest.importorskip("hotcoco")
    with tempfile.TemporaryDirectory() as tmp:
        hc, (ea, eb) = _prepare_hotcoco(voc07_test, pair["yolov2"], pair["yolov3"], Path(tmp))
        benchmark.group = "compare coco"
        res = benchmark.pedantic(lambda: hc.compare(ea, eb, n_bootstrap=1000, seed=0), rounds=1, iterations=1)
    assert res["deltas"]["AP"] == pytest.approx(-0.092578, abs=1e-6)
