"""One vocabulary for results (docs/glossary.md): ``iou`` as the argument, ``iou_threshold(s)`` on results, ``mAP``
as the headline score of every result type, NaN for undefined, ``to_pandas(table=...)`` for every table, and one
pixel-convention name and default across boxes and NMS. A 0.1.0 package keeps no deprecated spellings."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import pytest

import vocbench
from vocbench.boxes import DEFAULT_PIXEL_CONVENTION, box_area, box_convert, box_iou, box_wh, generalized_box_iou
from vocbench.eval import match_detections
from vocbench.nms import batched_nms, nms, soft_nms

PUBLIC = {"evaluate": vocbench.evaluate, "diagnose": vocbench.diagnose, "compare": vocbench.compare, "nms": nms,
          "batched_nms": batched_nms, "soft_nms": soft_nms, "match_detections": match_detections}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_iou_threshold_parameter_is_called_iou(name):
    params = inspect.signature(PUBLIC[name]).parameters
    assert "iou" in params, f"{name}{inspect.signature(PUBLIC[name])}"
    variants = {"iou_thr", "iou_thresh", "thr", "thresh", "ovthresh", "overlap", "nms_iou", "iou_thresholds",
                "iou_threshold"}
    assert variants.isdisjoint(params), f"{name} has other IoU parameter names: {variants & set(params)}"


@pytest.mark.parametrize("fn", [box_iou, generalized_box_iou, box_area, box_wh, box_convert, nms, batched_nms,
                                soft_nms])
def test_one_pixel_convention_name_and_default(fn):
    params = inspect.signature(fn).parameters
    assert "pixel_offset" not in params
    assert params["pixel_convention"].default == DEFAULT_PIXEL_CONVENTION == "voc"


def _boxes(n=300, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(5, 40, (n, 2))], axis=1), rng.random(n), rng.integers(0, 3, n)


def test_nms_default_is_the_voc_convention_of_box_iou():
    """Two boxes whose IoU is 0.5 in VOC pixels and 81/171 continuous: the default suppresses at 0.49 as
    ``box_iou`` (VOC default) says it should."""
    b = np.array([[1, 1, 10, 10], [1, 1, 10, 20.0]])  # 100 and 200 pixels, 100 shared
    assert box_iou(b[:1], b[1:])[0, 0] == 0.5
    assert nms(b, np.array([0.9, 0.8]), 0.49).tolist() == [0]
    assert nms(b, np.array([0.9, 0.8]), 0.49, pixel_convention="continuous").tolist() == [0, 1]
    assert batched_nms(b, np.array([0.9, 0.8]), np.array([0, 0]), 0.49).tolist() == [0]


def test_removed_spellings_are_gone():
    b, s, lab = _boxes()
    with pytest.raises(TypeError):
        nms(b, s, iou_threshold=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        batched_nms(b, s, lab, 0.5, pixel_offset=0)  # type: ignore[call-arg]
    ds = vocbench.Dataset.from_arrays(image_ids=["a"], widths=[100], heights=[100], image_index=[0],
                                      class_index=[0], boxes=[[1, 1, 50, 50]])
    for gone in ("images_table", "objects_table"):
        assert not hasattr(ds, gone)
    assert match_detections(ds, vocbench.Detections([0], [0], [0.9], [[1, 1, 50, 40]])).iou_threshold == 0.5


def _tiny():
    ds = vocbench.Dataset.from_arrays(image_ids=["a", "b"], widths=[100, 100], heights=[100, 100],
                                      image_index=[0, 1, 1], class_index=[0, 0, 1],
                                      boxes=[[1, 1, 50, 50], [10, 10, 60, 60], [5, 5, 30, 30]],
                                      classes=("cat", "dog", "cow"))
    dets = vocbench.Detections([0, 1, 1], [0, 0, 1], [0.9, 0.8, 0.7],
                               [[1, 1, 50, 45], [10, 10, 60, 60], [50, 50, 90, 90]])
    return ds, dets


def test_headline_score_is_mAP_on_every_result():
    ds, dets = _tiny()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = vocbench.evaluate(ds, dets, metrics=["voc07", "voc12", "coco"])
        d = vocbench.diagnose(ds, dets, sensitivity=False, confusion=False)
        c = vocbench.compare(ds, {"x": dets, "y": dets}, metrics=["voc12"], bootstrap=100)
    assert set(r.mAP) == {"voc07", "voc12", "coco"}
    assert r.voc[0].mAP == {m: r.mAP[m] for m in ("voc07", "voc12")}
    assert r.coco is not None and r.coco.mAP == r.mAP["coco"] == r.coco.stats["AP"]
    assert d.mAP == r.mAP["voc12"] and d.iou_threshold == 0.5 == r.iou_thresholds[0]
    assert c.score("x", "voc12").mAP == r.mAP["voc12"] and c.iou_threshold == 0.5
    assert r.to_dict()["voc12"]["mAP"] == r.mAP["voc12"] and d.to_dict()["mAP"] == d.mAP
    # undefined is NaN: class "cow" has no ground truth; COCO's "small"/"large" area AP here have no GT either
    assert math.isnan(r.per_class("voc12")["cow"]) and math.isnan(r.coco.per_class_ap()[2])
    assert all(v == v or math.isnan(v) for v in r.coco.stats.values())
    assert not any(v == -1 for v in r.coco.stats.values())
    assert math.isnan(r.coco.stats["APl"])  # no GT above 96^2 pixels: pycocotools says -1, vocbench NaN


def test_result_tables_all_come_from_to_pandas():
    """Every table a result offers is ``to_pandas(table=...)``; an unknown table is a ValueError."""
    from vocbench.anchors import analyze_anchors

    rng = np.random.default_rng(0)
    analysis = analyze_anchors(rng.uniform(0.05, 0.9, (300, 2)), k=3, curve=range(1, 4), n_init=1)
    assert list(analysis.to_pandas()["priors"])[0] == "kmeans" and len(analysis.to_pandas("anchors")) == 3
    assert list(analysis.to_pandas("curve")["k"]) == [1, 2, 3]
    ds = vocbench.Dataset.from_arrays(image_ids=["a", "b"], widths=[10, 10], heights=[10, 10], image_index=[0, 1, 1],
                                      class_index=[0, 0, 2], boxes=[[1, 1, 5, 5]] * 3)
    stats = vocbench.compute_stats(ds)
    assert stats.to_pandas().loc["total", "objects"] == 3 == stats.to_pandas("sets")["objects"].iloc[-1]
    tds, dets = _tiny()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = vocbench.evaluate(tds, dets, metrics=["voc07", "voc12", "coco"])
        c = vocbench.compare(tds, {"x": dets, "y": dets}, metrics=["voc12"], bootstrap=100)
        d = vocbench.diagnose(tds, dets)
    assert list(r.voc[0].to_pandas("counts")["tp"]) == [2, 0, 0]
    assert list(r.voc[0].to_pandas("f1").columns) == ["f1_threshold", "f1_precision", "f1_recall", "f1"]
    assert list(r.to_pandas("coco").columns) == list(r.coco.stats) and len(r.to_pandas("coco")) == 1
    summary = r.to_pandas("summary").set_index("metric")["mAP"]
    assert summary.to_dict() == pytest.approx(r.mAP, nan_ok=True)
    assert len(c.to_pandas("pairs")) == 1 and len(c.to_pandas("per_class", metric="voc12")) == 3
    assert isinstance(d.to_pandas("confusion"), pd.DataFrame) and len(d.to_pandas("errors")) == 8
    for obj in (analysis, stats, ds, r, r.voc[0], r.coco, c, d):
        with pytest.raises(ValueError, match="table must be"):
            obj.to_pandas("nope")
        for name in dir(obj):
            assert not (name.endswith(("_frame", "_table")) and not name.startswith("_")), f"{type(obj)}.{name}"


def test_one_coco_summary_definition():
    """The 12 COCO numbers are defined once (COCO_STAT_SPECS): the evaluator's summary, the typed accessors and
    the summary table all follow it."""
    from vocbench.eval.results import COCO_STAT_NAMES, COCO_STAT_SPECS

    assert tuple(COCO_STAT_SPECS) == COCO_STAT_NAMES
    ds, dets = _tiny()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = vocbench.evaluate(ds, dets, metrics=["coco"]).coco
    assert c is not None
    assert c.summary() == pytest.approx(c.stats, nan_ok=True, abs=1e-12)
    assert c.to_pandas("summary").iloc[0].to_dict() == pytest.approx(c.stats, nan_ok=True)
