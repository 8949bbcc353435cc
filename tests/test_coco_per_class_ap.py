"""CocoScores.per_class_ap (one vectorised pass) gives the very doubles pycocotools' ``summarize`` selection does
per class: ``np.mean(s[s > -1])`` over that class's precision slice."""

from __future__ import annotations

import numpy as np
import pytest

from vocbench.eval.results import CocoScores


def _scores(seed: int, k: int) -> CocoScores:
    rng = np.random.default_rng(seed)
    precision = rng.random((10, 101, k, 4, 3))
    precision[:, :, 1] = -1  # a class without ground truth: -1 everywhere (NaN)
    precision[:3, :40, 2] = -1  # partly -1 (not what the evaluator writes; the rule still holds)
    precision[:, :, 3] = np.round(precision[:, :, 3], 1)  # many ties
    names = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
    return CocoScores(stats=dict.fromkeys(names, np.nan), precision=precision, recall=rng.random((10, k, 4, 3)),
                      iou_thresholds=np.linspace(.5, .95, 10), rec_thresholds=np.linspace(0, 1, 101),
                      area_ranges=((0, 1e10), (0, 1024), (1024, 9216), (9216, 1e10)), max_dets=(1, 10, 100),
                      classes=tuple(f"c{j}" for j in range(k)))


@pytest.mark.parametrize("iou", [None, 0.5, 0.75])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_class_ap_equals_the_pycocotools_selection_bit_for_bit(seed, iou):
    s = _scores(seed, 7)
    t = slice(None) if iou is None else int(np.flatnonzero(np.isclose(s.iou_thresholds, iou))[0])
    want = []
    for k in range(7):
        v = np.asarray(s.precision[t, :, k, 0, 2]).ravel()
        v = v[v > -1]
        want.append(float(np.mean(v)) if v.size else float("nan"))
    got = s.per_class_ap(iou)
    assert got.dtype == np.float64 and got.shape == (7,)
    np.testing.assert_array_equal(got, np.array(want))
    assert np.isnan(got[1]) and not np.isnan(got[2])
    assert got.tolist()[3:] == [s.ap(iou, cls=k) for k in range(3, 7)]
    assert s.to_dict()["per_class"]["c0"] == s.ap(cls=0)
