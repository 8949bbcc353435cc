"""One parameter name for the IoU threshold in every public function (``iou``); ``iou_threshold=`` still works
with a DeprecationWarning and gives the same answer."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import vocbench
from vocbench.eval import match_detections
from vocbench.nms import batched_nms, nms, soft_nms

PUBLIC = {"evaluate": vocbench.evaluate, "diagnose": vocbench.diagnose, "compare": vocbench.compare, "nms": nms,
          "batched_nms": batched_nms, "soft_nms": soft_nms, "match_detections": match_detections}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_iou_threshold_parameter_is_called_iou(name):
    params = inspect.signature(PUBLIC[name]).parameters
    assert "iou" in params, f"{name}{inspect.signature(PUBLIC[name])}"
    variants = {"iou_thr", "iou_thresh", "thr", "thresh", "ovthresh", "overlap", "nms_iou", "iou_thresholds"}
    assert variants.isdisjoint(params), f"{name} has other IoU parameter names: {variants & set(params)}"
    if "iou_threshold" in params:  # only as the deprecated keyword-only alias
        assert params["iou_threshold"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["iou_threshold"].default is None


def _boxes(n=300, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(5, 40, (n, 2))], axis=1), rng.random(n), rng.integers(0, 3, n)


def test_deprecated_iou_threshold_keyword_gives_the_same_answer():
    b, s, lab = _boxes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name never warns
        new = [nms(b, s, iou=0.5), nms(b, s, 0.5), batched_nms(b, s, lab, iou=0.4), soft_nms(b, s, iou=0.3)[0]]
    with pytest.warns(DeprecationWarning, match=r"nms\(iou_threshold=...\) is deprecated; use iou="):
        old = nms(b, s, iou_threshold=0.5)
    with pytest.warns(DeprecationWarning):
        old_b = batched_nms(b, s, lab, iou_threshold=0.4)
    with pytest.warns(DeprecationWarning):
        old_s = soft_nms(b, s, iou_threshold=0.3)[0]
    assert new[0].tolist() == new[1].tolist() == old.tolist()
    assert new[2].tolist() == old_b.tolist() and new[3].tolist() == old_s.tolist()
    with pytest.raises(TypeError, match="both iou and its deprecated spelling"):
        nms(b, s, 0.5, iou_threshold=0.5)
    with pytest.raises(TypeError, match="missing required argument: 'iou'"):
        batched_nms(b, s, lab)


def test_match_detections_alias():
    ds = vocbench.Dataset.from_arrays(image_ids=["a"], widths=[100], heights=[100], image_index=[0, 0],
                                      class_index=[0, 0], boxes=[[1, 1, 50, 50], [40, 40, 90, 90]])
    dets = vocbench.Detections([0, 0], [0, 0], [0.9, 0.8], [[1, 1, 50, 40], [45, 45, 90, 90]])
    new = match_detections(ds, dets, iou=0.7)
    with pytest.warns(DeprecationWarning):
        old = match_detections(ds, dets, iou_threshold=0.7)
    assert new.outcome.tolist() == old.outcome.tolist() and new.iou_threshold == old.iou_threshold == 0.7
    assert match_detections(ds, dets).iou_threshold == 0.5


def test_result_tables_all_come_from_to_pandas():
    """Every table a result offers is ``to_pandas(table=...)``; the older ``*_frame`` names are aliases."""
    import pandas as pd

    from vocbench.anchors import analyze_anchors

    rng = np.random.default_rng(0)
    analysis = analyze_anchors(rng.uniform(0.05, 0.9, (300, 2)), k=3, curve=range(1, 4), n_init=1)
    pd.testing.assert_frame_equal(analysis.to_pandas("anchors"), analysis.anchors_frame())
    pd.testing.assert_frame_equal(analysis.to_pandas("curve"), analysis.curve_frame())
    assert list(analysis.to_pandas()["priors"])[0] == "kmeans" and len(analysis.to_pandas("anchors")) == 3
    ds = vocbench.Dataset.from_arrays(image_ids=["a", "b"], widths=[10, 10], heights=[10, 10], image_index=[0, 1, 1],
                                      class_index=[0, 0, 2], boxes=[[1, 1, 5, 5]] * 3)
    stats = vocbench.compute_stats(ds)
    pd.testing.assert_frame_equal(stats.to_pandas("sets"), stats.summary_frame())
    assert stats.to_pandas().loc["total", "objects"] == 3 == stats.to_pandas("sets")["objects"].iloc[-1]
    for obj in (analysis, stats, ds):
        with pytest.raises(ValueError, match="table must be"):
            obj.to_pandas("nope")
