"""COCO protocol: the export convention and equality with pycocotools on random, edge-case-heavy data."""

from __future__ import annotations

import contextlib
import io
import json
import os

import numpy as np
import pytest

from vocbench import Dataset, Detections, evaluate
from vocbench.cli import main
from vocbench.io.coco import detections_to_coco, export_coco, voc_boxes_to_xywh, xywh_to_voc_boxes
from vocbench.io.detections import read_detections

pytest.importorskip("pycocotools")
pytestmark = pytest.mark.filterwarnings("ignore::vocbench.errors.VocbenchWarning")


def pycocotools_eval(gt: dict, dt: list):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))  # as if read from the exported file
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(json.loads(json.dumps(dt))), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def random_coco_case(seed: int):
    rng = np.random.default_rng(seed)
    ni, nc = 8, 3
    objects = []
    for i in range(ni):
        for _ in range(rng.integers(0, 7)):
            side = rng.choice([8, 20, 31, 32, 33, 60, 95, 96, 97, 150])  # around the 32² and 96² area limits
            x, y = rng.integers(1, 200, 2)
            w = int(side) + int(rng.integers(-2, 3))
            h = int(side)
            objects.append((i, int(rng.integers(0, nc)), [x, y, x + w - 1, y + h - 1], rng.random() < 0.25))
    ds = Dataset.from_arrays(image_ids=[f"{i:06d}" for i in range(ni)], widths=np.full(ni, 400),
                             heights=np.full(ni, 400), image_index=[o[0] for o in objects],
                             class_index=[o[1] for o in objects], boxes=[o[2] for o in objects],
                             difficult=[o[3] for o in objects], classes=("a", "b", "c"))
    rows = []
    for _ in range(rng.integers(30, 200)):
        if objects and rng.random() < 0.7:
            o = objects[rng.integers(0, len(objects))]
            b = np.array(o[2], float) + rng.normal(0, 3, 4).round(rng.choice([0, 2]))
            rows.append((o[0], o[1] if rng.random() < 0.9 else int(rng.integers(0, nc)), b))
        else:
            x, y = rng.uniform(1, 250, 2)
            rows.append((int(rng.integers(0, ni)), int(rng.integers(0, nc)),
                         [x, y, x + rng.uniform(2, 120), y + rng.uniform(2, 120)]))
    if seed % 3 == 0:  # more than 100 detections of one class on one image: maxDets truncation
        for k in range(130):
            rows.append((0, 0, [10 + k % 7, 10, 60 + k % 5, 70]))
    scores = rng.choice([0.1, 0.3, 0.5, 0.9], len(rows)) if seed % 2 else rng.random(len(rows))
    dets = Detections(image_index=[r[0] for r in rows], class_index=[r[1] for r in rows], scores=scores,
                      boxes=np.array([r[2] for r in rows], float))
    return ds, dets


@pytest.mark.parametrize("seed", range(24))
def test_random_cases_equal_pycocotools(seed):
    ds, dets = random_coco_case(seed)
    ev = pycocotools_eval(export_coco(ds), detections_to_coco(ds, dets))
    r = evaluate(ds, dets, metrics=["coco"])
    # undefined numbers: pycocotools' -1, vocbench's NaN (docs/glossary.md)
    np.testing.assert_allclose(list(r.coco.stats.values()), np.where(ev.stats == -1, np.nan, ev.stats), rtol=0,
                               atol=1e-9)
    np.testing.assert_array_equal(r.coco.precision, ev.eval["precision"])
    np.testing.assert_array_equal(r.coco.recall, ev.eval["recall"])


def test_export_convention():
    ds = Dataset.from_arrays(image_ids=["000007", "000009"], widths=[100, 200], heights=[50, 60],
                             image_index=[1, 1, 0], class_index=[2, 0, 19], boxes=[[1, 1, 10, 20], [5, 6, 7, 8],
                                                                                  [3, 3, 3, 3]],
                             difficult=[False, True, False])
    gt = export_coco(ds)
    assert [im["id"] for im in gt["images"]] == [1, 2]
    assert gt["images"][0] == {"id": 1, "file_name": "000007.jpg", "width": 100, "height": 50}
    assert [c["id"] for c in gt["categories"]] == list(range(1, 21))
    assert gt["categories"][0]["name"] == "aeroplane"
    a = gt["annotations"]
    assert a[0] == {"id": 1, "image_id": 2, "category_id": 3, "bbox": [0.0, 0.0, 10.0, 20.0], "area": 200.0,
                    "iscrowd": 0, "segmentation": [[0.0, 0.0, 10.0, 0.0, 10.0, 20.0, 0.0, 20.0]]}
    assert a[1]["iscrowd"] == 1 and a[1]["bbox"] == [4.0, 5.0, 3.0, 3.0]
    assert a[2]["bbox"] == [2.0, 2.0, 1.0, 1.0] and a[2]["area"] == 1.0  # one VOC pixel
    boxes = np.array([[1.5, 2.25, 10.0, 20.75]])
    np.testing.assert_allclose(xywh_to_voc_boxes(voc_boxes_to_xywh(boxes)), boxes, atol=1e-12)


def test_coco_results_json_roundtrip(tmp_path):
    ds, dets = random_coco_case(1)
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(detections_to_coco(ds, dets)))
    back = read_detections(path, ds)
    np.testing.assert_array_equal(back.image_index, dets.image_index)
    np.testing.assert_array_equal(back.class_index, dets.class_index)
    np.testing.assert_allclose(back.boxes, dets.boxes, atol=1e-9)
    a = evaluate(ds, dets, metrics=["coco", "voc12"])
    b = evaluate(ds, back, metrics=["coco", "voc12"])
    assert a.coco.stats == pytest.approx(b.coco.stats, abs=1e-12, nan_ok=True)


def test_export_coco_cli_files_give_the_same_stats(tmp_path, capsys):
    from tests.conftest import DATA

    root = DATA / "voc_small"
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    assert main(["export-coco", str(root), "--set", "2007:trainval", "--no-cache", "--out", str(gt_path),
                 "--dets", str(DATA / "dets" / "voc_small"), "--dets-out", str(dt_path)]) == 0
    gt, dt = json.loads(gt_path.read_text()), json.loads(dt_path.read_text())
    assert len(gt["images"]) == 4 and len(dt) == 10
    ev = pycocotools_eval(gt, dt)
    capsys.readouterr()
    assert main(["eval", "--gt", str(root), "--set", "2007:trainval", "--no-cache", "--dets",
                 str(DATA / "dets" / "voc_small"), "--metric", "coco", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    got = [np.nan if out["coco"][k] is None else out["coco"][k] for k in names]  # undefined: null in JSON
    np.testing.assert_allclose(got, np.where(ev.stats == -1, np.nan, ev.stats), rtol=0, atol=1e-9)


def _pycocotools_class_stats(gt: dict, dt: list, cat_id: int) -> np.ndarray:
    """pycocotools' 12 numbers with ``params.catIds = [cat_id]``: an independent per-class reference."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(json.loads(json.dumps(dt))), "bbox")
        ev.params.catIds = [cat_id]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return np.where(ev.stats == -1, np.nan, ev.stats)


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_typed_accessors_equal_pycocotools(seed):
    ds, dets = random_coco_case(seed)
    gt, dt = export_coco(ds), detections_to_coco(ds, dets)
    ev = pycocotools_eval(gt, dt)
    c = evaluate(ds, dets, metrics=["coco"]).coco
    want = dict(zip(["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"],
                    np.where(ev.stats == -1, np.nan, ev.stats)))
    got = {"AP": c.ap(), "AP50": c.ap(0.5), "AP75": c.ap(iou=0.75), "APs": c.ap(area="small"),
           "APm": c.ap(area="medium"), "APl": c.ap(area="large"), "AR1": c.ar(max_dets=1),
           "AR10": c.ar(max_dets=10), "AR100": c.ar(), "ARs": c.ar(area="small"), "ARm": c.ar(area="medium"),
           "ARl": c.ar(area="large")}
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=0, atol=1e-12)
    assert c.summary() == pytest.approx(got, nan_ok=True, abs=0)
    table = c.to_pandas()
    assert list(table.columns) == list(want) and list(table.index) == list(ds.classes)
    for k, name in enumerate(ds.classes):  # per class: pycocotools restricted to that category
        ref = _pycocotools_class_stats(gt, dt, k + 1)
        np.testing.assert_allclose(table.loc[name].to_numpy(float), ref, rtol=0, atol=1e-12)
        assert c.ap(cls=name) == c.ap(cls=k) or np.isnan(ref[0])
    nested = c.by_area()
    assert list(nested) == ["all", "small", "medium", "large"]
    assert nested["small"]["AP"] == c.ap(area="small") or np.isnan(want["APs"])
    assert c.to_dict()["by_area"]["all"]["AP50"] == pytest.approx(want["AP50"], abs=1e-12)
    assert "AP" in c.to_dict() and "per_class" in c.to_dict()  # the existing JSON keys stay
    assert str(c).startswith("COCO (pycocotools rules):\n" + c.summarize_text())  # pycocotools' 12 lines


def test_typed_accessors_reject_bad_arguments():
    ds, dets = random_coco_case(2)
    c = evaluate(ds, dets, metrics=["coco"]).coco
    with pytest.raises(ValueError, match="iou must be None or one of"):
        c.ap(iou=0.52)
    with pytest.raises(ValueError, match="area must be one of"):
        c.ap(area="tiny")
    with pytest.raises(ValueError, match="max_dets must be one of"):
        c.ar(max_dets=5)
    with pytest.raises(ValueError, match="unknown class"):
        c.ap(cls="dog")
    with pytest.raises(ValueError, match="out of range"):
        c.ap(cls=3)


def test_branch_free_bbiou_is_the_box_kernels_value():
    """The matcher's select-based ``bbIou`` equals boxes' ``iou_pair_areas`` / ``iof_pair_areas`` (offset 0)
    bit for bit: random boxes on a coarse grid (touching edges, equal boxes), empty, inverted and zero-area ones."""
    from vocbench.boxes._kernels import bbiou_select, iof_pair_areas, iou_pair_areas

    rng = np.random.default_rng(7)
    xy = rng.integers(-3, 12, (4000, 2, 2)).astype(float) / 2  # corners on a half-pixel grid: many exact ties
    wh = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.5, 4.0], (4000, 2, 2))  # negative: inverted, 0: empty
    a = np.concatenate([xy[:, 0], xy[:, 0] + wh[:, 0]], axis=1)
    b = np.concatenate([xy[:, 1], xy[:, 1] + wh[:, 1]], axis=1)
    area_a, area_b = wh[:, 0, 0] * wh[:, 0, 1], wh[:, 1, 0] * wh[:, 1, 1]
    seen = set()
    for i in range(len(a)):
        for crowd in (False, True):
            want = (iof_pair_areas(*a[i], area_a[i], *b[i], 0.0) if crowd else
                    iou_pair_areas(*a[i], area_a[i], *b[i], area_b[i], 0.0))
            got = bbiou_select(*a[i], area_a[i], *b[i], area_b[i], crowd)
            assert got == want and np.signbit(got) == np.signbit(want), (a[i], b[i], crowd)
            seen.add("zero" if want == 0 else ("one" if want == 1 else "between"))
    assert seen == {"zero", "one", "between"}


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
                    reason="320k rows take minutes as plain Python; the random twins above cover the kernel there")
def test_kernel_gives_the_same_arrays_whatever_the_row_layout():
    """The kernel lays detections out per class: rows in image order go through it in batches of classes (more
    than one batch here), other rows through a counting sort by image in one batch. Shuffled rows and the same
    rows stably sorted by image are the same (image, input order) sequence, so every array must be identical."""
    from vocbench.eval import _coco_kernels as ck
    from vocbench.eval.coco import evaluate_coco_arrays

    rng = np.random.default_rng(7)
    n_img, n_cls, n = 3000, 40, ck._BATCH_ROWS + 60_000  # two batches when in image order
    m = 20_000
    gxy = rng.uniform(0, 400, (m, 2))
    gt = dict(gt_image=rng.integers(0, n_img, m), gt_category=rng.integers(0, n_cls, m),
              gt_xywh=np.hstack([gxy, rng.uniform(4, 150, (m, 2))]), gt_iscrowd=rng.random(m) < 0.02)
    gt["gt_area"] = gt["gt_xywh"][:, 2] * gt["gt_xywh"][:, 3] * rng.uniform(0.5, 1.0, m)
    src = rng.integers(0, m, n)  # detections near a GT of their image and class, or anywhere
    near = rng.random(n) < 0.6
    dxywh = np.where(near[:, None], gt["gt_xywh"][src] + rng.normal(0, 6, (n, 4)), rng.uniform(0, 300, (n, 4)))
    dxywh[:, 2:] = np.abs(dxywh[:, 2:]) + 1
    dt = dict(dt_image=np.where(near, gt["gt_image"][src], rng.integers(0, n_img, n)),
              dt_category=np.where(near, gt["gt_category"][src], rng.integers(0, n_cls, n)),
              dt_xywh=dxywh, dt_score=np.round(rng.random(n), 3))  # many score ties across images
    by_image = np.argsort(dt["dt_image"], kind="stable")
    shuffled = evaluate_coco_arrays(**gt, **dt, num_images=n_img, num_categories=n_cls)
    ordered = evaluate_coco_arrays(**gt, **{k: v[by_image] for k, v in dt.items()}, num_images=n_img,
                                   num_categories=n_cls)
    assert (ordered.precision > 0).any() and (ordered.precision == -1).sum() < ordered.precision.size
    for name in ("precision", "recall", "scores"):
        assert np.array_equal(getattr(shuffled, name), getattr(ordered, name)), name
