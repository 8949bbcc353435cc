"""Speed of the anchor analysis: the IoU k-means curve k = 1..15, 5 restarts each, on the 40,058 non-difficult
VOC07+12 trainval boxes — vocbench's Numba kernel against a plain numpy implementation of the same algorithm
(same starts, same stopping rule; ``tests/_reference/anchors.py::curve_numpy``).

Run: ``pytest benchmarks/bench_anchors.py --benchmark-only``. The peer takes tens of seconds per round; JIT
warm-up is excluded (a small fit compiles the kernels first). Measured numbers are kept in
``benchmarks/anchors.md``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests._reference.anchors import curve_numpy
from vocbench.anchors import iou_kmeans_curve, normalized_wh

KS = range(1, 16)


@pytest.fixture(scope="module")
def voc0712_wh(voc_root):
    from vocbench import load_voc

    wh = normalized_wh(load_voc(voc_root, ["2007:trainval", "2012:trainval"]))
    assert len(wh) == 40058
    iou_kmeans_curve(wh[:200], [1, 2, 3], n_init=2)  # JIT warm-up, excluded from timings
    return wh


def test_curve_vocbench(benchmark, voc0712_wh):
    fits = benchmark.pedantic(iou_kmeans_curve, args=(voc0712_wh, KS), kwargs={"n_init": 5}, rounds=3,
                              iterations=1)
    assert fits[4].mean_iou_ == pytest.approx(0.6159, abs=1e-4)


def test_curve_numpy_peer(benchmark, voc0712_wh):
    out = benchmark.pedantic(curve_numpy, args=(voc0712_wh, KS), kwargs={"n_init": 5}, rounds=1, iterations=1)
    ours = iou_kmeans_curve(voc0712_wh, KS, n_init=5)
    np.testing.assert_allclose([m for _, _, m in out], [f.mean_iou_ for f in ours], rtol=1e-9)
