"""The reference case: real YOLOv2 detections on VOC2007 test (numbers of the issue and of ../shared/README.md)."""

from __future__ import annotations

import contextlib
import io
import json
import warnings

import numpy as np
import pytest

from tests._reference.eval import voc_map_ref
from vocbench import evaluate, read_detections
from vocbench.cli import main

EXPECTED = {"devkit": (0.721437, 0.745179), "voc_eval": (0.721381, 0.745179)}


@pytest.fixture(scope="module")
def yolov2(voc07_test, yolov2_dets):
    return read_detections(yolov2_dets, voc07_test)


@pytest.mark.parametrize("protocol", ["devkit", "voc_eval"])
def test_cli_json_reference_numbers(voc_root, yolov2_dets, protocol, capsys):
    argv = ["eval", "--gt", str(voc_root), "--set", "2007:test", "--dets", str(yolov2_dets), "--metric", "voc07",
            "--metric", "voc12", "--json", "-"]
    if protocol != "devkit":
        argv += ["--protocol", protocol]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert round(out["voc07"]["mAP"], 6) == EXPECTED[protocol][0]
    assert round(out["voc12"]["mAP"], 6) == EXPECTED[protocol][1]
    assert len(out["voc07"]["per_class"]) == 20
    assert out["num_detections"] == 101139


def test_yolov2_reads_all_lines(yolov2, voc07_test):
    assert len(yolov2) == 101139
    assert yolov2.scores.min() >= 0.005
    assert np.bincount(yolov2.class_index, minlength=20).min() > 0


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["devkit", "voc_eval"])
def test_per_class_equals_slow_twin(voc07_test, yolov2, protocol):
    r = evaluate(voc07_test, yolov2, protocol=protocol)
    ap07, ap12, _ = voc_map_ref(voc07_test, yolov2, protocol=protocol)
    np.testing.assert_allclose(r.per_class("voc07").to_numpy(), ap07, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.per_class("voc12").to_numpy(), ap12, rtol=0, atol=1e-12)
    assert round(r.mAP["voc07"], 6) == EXPECTED[protocol][0]


@pytest.mark.slow
def test_coco_equals_pycocotools(voc07_test, yolov2):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from vocbench.io.coco import detections_to_coco, export_coco

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = export_coco(voc07_test)
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(detections_to_coco(voc07_test, yolov2)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    r = evaluate(voc07_test, yolov2, metrics=["coco"])
    want = np.where(ev.stats == -1, np.nan, ev.stats)  # undefined: pycocotools -1, vocbench NaN
    np.testing.assert_allclose(list(r.coco.stats.values()), want, rtol=0, atol=1e-9)
    # in fact bit-identical, down to the precision/recall arrays
    np.testing.assert_array_equal(r.coco.precision, ev.eval["precision"])
    np.testing.assert_array_equal(r.coco.recall, ev.eval["recall"])


def test_several_ious_and_all_metrics(voc07_test, yolov2):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = evaluate(voc07_test, yolov2, metrics=("voc07", "voc12", "coco"), iou=(0.5, 0.7))
    assert r.mAP["voc07"] == pytest.approx(0.721437, abs=5e-7)
    assert r.scores_at(0.7).mAP["voc07"] < r.mAP["voc07"]
    s = r.scores_at()
    assert (s.tp + s.fp + s.ignored == s.detections).all()
    assert (s.tp <= s.npos).all() and s.npos.sum() == 14976 - 2944
    # COCO AP50 uses crowd-difficult and 101 points: close to, but not, VOC12 mAP
    assert abs(r.coco.stats["AP50"] - r.mAP["voc12"]) < 0.01
