"""Anchors: the IoU k-means curve (same random starts) vs a plain numpy implementation."""

from __future__ import annotations

import numpy as np
import pytest

import vocbench
from vocbench.bench import peers

anchors = pytest.importorskip("vocbench.anchors")


@pytest.fixture(scope="module")
def wh_inits(shared):
    from vocbench.anchors.priors import normalized_wh

    ds = vocbench.load_voc(shared / "voc" / "VOCdevkit", ["2007:trainval", "2012:trainval"])
    wh = normalized_wh(ds)
    rng = np.random.default_rng(0)
    return wh, [wh[rng.choice(len(wh), k, replace=False)].copy() for k in range(1, 7)]


def test_vocbench_curve(benchmark, wh_inits):
    wh, inits = wh_inits
    fn = lambda: [anchors.IoUKMeans(len(i), init=i).fit(wh).mean_iou_ for i in inits]
    fn()
    benchmark.group = "iou kmeans curve"
    res = benchmark.pedantic(fn, rounds=3, iterations=1)
    assert np.all(np.diff(res) > -0.02)


def test_numpy_curve(benchmark, wh_inits):
    wh, inits = wh_inits
    benchmark.group = "iou kmeans curve"
    res = benchmark.pedantic(lambda: [peers.numpy_iou_kmeans(wh, i)[1] for i in inits], rounds=1, iterations=1)
    ref = [anchors.IoUKMeans(len(i), init=i).fit(wh).mean_iou_ for i in inits]
    np.testing.assert_allclose(res, ref, atol=1e-9)
