"""NMS: vocbench vs torchvision (CPU, 1 thread; CUDA when present), numpy greedy NMS and OpenCV NMSBoxes."""

from __future__ import annotations

import numpy as np
import pytest

from vocbench.bench import peers
from vocbench.bench.suites import NMS_IOU
from vocbench.bench.workloads import NMS_SIZES, cluster_boxes, pick_image, uniform_boxes
from vocbench.nms import nms

IMPLS = ["vocbench", "torchvision-cpu", "torchvision-cuda", "numpy", "opencv"]


@pytest.fixture(scope="module", params=["clusters", "uniform"])
def kind(request):
    return request.param


def _inputs(kind, n, voc07_test):
    if kind == "clusters":
        gt, w, h, _ = pick_image(voc07_test, seed=0)
        return cluster_boxes(n, gt, w, h, seed=n)
    return uniform_boxes(n, seed=n)


def _impl(name, boxes, scores):
    try:
        if name == "vocbench":
            return lambda: nms(boxes, scores, NMS_IOU, pixel_convention="continuous")
        if name == "torchvision-cpu":
            return peers.prepare_torchvision_nms(boxes, scores, NMS_IOU)
        if name == "torchvision-cuda":
            return peers.prepare_torchvision_nms(boxes, scores, NMS_IOU, "cuda")
        if name == "numpy":
            return lambda: peers.numpy_nms(boxes, scores, NMS_IOU)
        return peers.prepare_opencv_nms(boxes, scores, NMS_IOU)
    except peers.PeerMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("n", NMS_SIZES)
@pytest.mark.parametrize("impl", IMPLS)
def test_nms(benchmark, impl, n, kind, voc07_test):
    if impl in ("numpy", "opencv") and kind == "uniform" and n > 24564:
        pytest.skip("tens of seconds per call")
    boxes, scores = _inputs(kind, n, voc07_test)
    fn = _impl(impl, boxes, scores)
    ref = nms(boxes, scores, NMS_IOU, pixel_convention="continuous")
    got = fn()  # warm-up (JIT compile excluded)
    benchmark.group = f"nms {kind} n={n}"
    rounds = 1 if n >= 24564 and impl != "vocbench" else 5
    out = benchmark.pedantic(fn, rounds=rounds, iterations=1)
    assert set(np.asarray(out).tolist()) == set(ref.tolist()) == set(np.asarray(got).tolist())
