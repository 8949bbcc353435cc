"""diagnose --protocol coco on data read from COCO files: tidecv 1.0.1 on the same files is the oracle.

The files were never VOC (``tests.test_coco_fidelity.make_coco``): sparse image ids in shuffled file order,
fractional boxes, detections whose IoU with a GT is exactly 0.5 (TIDE's foreground threshold: a VOC-pixel round
trip of the boxes moves such an IoU off the threshold), crowds, ``ignore: 1`` annotations (ordinary ground truth
for tidecv, which reads only ``iscrowd``), tied scores.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests._reference.diagnose import TYPES
from tests.test_coco_fidelity import make_coco
from vocbench.diagnose import diagnose
from vocbench.errors import VocbenchWarning
from vocbench.io.coco_gt import load_coco_gt
from vocbench.io.detections import read_detections

tidecv = pytest.importorskip("tidecv")


def _tidecv_on_files(gt_path, dt_path) -> dict:
    """tidecv on the COCO files themselves: ``{"ap", "errors", "special", "counts"}`` in AP units."""
    from tidecv import TIDE, datasets

    g = datasets.COCO(str(gt_path))
    p = datasets.COCOResult(str(dt_path))
    tide = TIDE(pos_threshold=0.5, background_threshold=0.1)
    run = tide.evaluate(g, p, mode=TIDE.BOX)
    main = tide.get_main_errors()[p.name]
    spec = tide.get_special_errors()[p.name]
    names = {"cls": "Cls", "loc": "Loc", "both": "Both", "dupe": "Dupe", "bkg": "Bkg", "miss": "Miss"}
    return {"ap": run.ap / 100, "errors": {k: main[v] / 100 for k, v in names.items()},
            "special": {"false_pos": spec["FalsePos"] / 100, "false_neg": spec["FalseNeg"] / 100},
            "counts": {k: len(run.error_dict[e]) for k, e in zip(names, TIDE._error_types)}}


def _files(tmp_path, seed: int):
    gt, dt = make_coco(seed, num_images=20, crowd=0.12, many_dets_image=False)
    for a in gt["annotations"]:  # tidecv rasterises every annotation's segmentation: the box as a polygon
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    return gt, dt, tmp_path / "gt.json", tmp_path / "dt.json"


@pytest.mark.parametrize("seed", [41, 42, 43, 44])
def test_base_ap_and_errors_equal_tidecv_on_the_files(tmp_path, seed):
    gt, dt, gt_path, dt_path = _files(tmp_path, seed)
    assert [im["id"] for im in gt["images"]] != sorted(im["id"] for im in gt["images"])
    assert any(a.get("ignore") and not a["iscrowd"] for a in gt["annotations"]) or seed != 41
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        ds = load_coco_gt(gt_path)
        d = diagnose(ds, read_detections(dt_path, ds), protocol="coco", sensitivity=False, confusion=False)
    ref = _tidecv_on_files(gt_path, dt_path)
    assert abs(d.mAP - ref["ap"]) <= 1e-9
    for t in TYPES:
        assert abs(d.errors[t] - ref["errors"][t]) <= 1e-9, t
    for t in ("false_pos", "false_neg"):
        assert abs(d.special[t] - ref["special"][t]) <= 1e-9, t
    assert d.counts == ref["counts"]


def test_the_files_geometry_decides_an_exact_threshold_iou(tmp_path):
    """A detection with IoU 0.5000000000000002 against a fractional GT box (bbIou on the files): a TP for tidecv.
    Through VOC pixels (x + 1, then - 1) the IoU is 0.49999999999999994 and the detection a loc error."""
    gt = {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 3, "name": "thing"}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [43.2, 27.1, 12.7, 17.5], "area": 70.0,
                           "iscrowd": 0, "segmentation": [[43.2, 27.1, 55.9, 27.1, 55.9, 44.6, 43.2, 44.6]]}]}
    dt = [{"image_id": 7, "category_id": 3, "bbox": [43.2, 27.1, 12.7, 8.75], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    ds = load_coco_gt(tmp_path / "gt.json")
    d = diagnose(ds, read_detections(tmp_path / "dt.json", ds), protocol="coco", sensitivity=False,
                 confusion=False)
    ref = _tidecv_on_files(tmp_path / "gt.json", tmp_path / "dt.json")
    assert ref["ap"] == 1.0 and d.mAP == 1.0
    assert d.counts == ref["counts"] and d.counts["loc"] == 0


def test_ignore_flag_without_iscrowd_is_ground_truth_for_tidecv(tmp_path):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "thing"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 20.0, 20.0],
                           "area": 400.0, "iscrowd": 0, "ignore": 1,
                           "segmentation": [[10.0, 10.0, 30.0, 10.0, 30.0, 30.0, 10.0, 30.0]]}]}
    dt = [{"image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 20.0, 20.0], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    ds = load_coco_gt(tmp_path / "gt.json")
    assert ds.difficult.all()  # the VOC metrics ignore it; tidecv does not
    with warnings.catch_warnings():
        warnings.simplefilter("error", VocbenchWarning)  # one class with one non-crowd GT: nothing to warn about
        d = diagnose(ds, read_detections(tmp_path / "dt.json", ds), protocol="coco", sensitivity=False,
                     confusion=False)
    ref = _tidecv_on_files(tmp_path / "gt.json", tmp_path / "dt.json")
    assert d.mAP == ref["ap"] == 1.0
    np.testing.assert_array_equal(d.per_class_ap, [1.0])


def test_coco_size_bins_use_the_area_field_of_coco_files(tmp_path):
    """Two GT of the same box (40 x 40 = 1600 px², medium by the box) with area fields 900 (small) and 10000
    (large), as pycocotools' area ranges see them."""
    seg = [[10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0]]
    gt = {"images": [{"id": 5, "file_name": "a.jpg", "width": 100, "height": 100},
                     {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "thing"}],
          "annotations": [{"id": i + 1, "image_id": im, "category_id": 1, "bbox": [10.0, 10.0, 40.0, 40.0],
                           "area": area, "iscrowd": 0, "segmentation": seg}
                          for i, (im, area) in enumerate(((5, 900.0), (2, 10000.0)))]}
    dt = [{"image_id": 5, "category_id": 1, "bbox": [10.0, 10.0, 40.0, 40.0], "score": 0.9}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    ds = load_coco_gt(tmp_path / "gt.json")
    d = diagnose(ds, read_detections(tmp_path / "dt.json", ds), protocol="coco", confusion=False)
    assert d.sensitivity.characteristics["coco_size"] == ("small", "medium", "large")
    np.testing.assert_array_equal(d.sensitivity.counts["coco_size"], [1, 0, 1])
    ap = d.sensitivity.ap_n["coco_size"]
    assert ap[0] == 1.0 and np.isnan(ap[1]) and ap[2] == 0.0  # the detected GT is the small one
