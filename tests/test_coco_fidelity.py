"""COCO-format data that was never VOC, scored exactly as pycocotools (issue 22).

Seeded generators make COCO files with what real files carry and the VOC export never does: sparse image and
category ids in shuffled file order, ``area`` different from the box area (mask areas) and exactly on 32² / 96²,
crowd regions and ``ignore`` flags, more than 100 detections per image, images and categories without GT, scores
tied across images, boxes exactly on IoU thresholds, fractional coordinates. pycocotools, faster-coco-eval and
hotcoco run side by side as oracles; the 12 stats and the precision / recall / scores arrays must be equal bit for
bit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from vocbench.eval.coco import evaluate_coco_arrays

pycocotools = pytest.importorskip("pycocotools")


# ----------------------------------------------------------------------------------------------- generators
def make_coco(seed: int, num_images: int = 30, num_categories: int = 6, crowd: float = 0.06,
              many_dets_image: bool = True) -> tuple[dict, list]:
    """A COCO ground-truth dict and a results list (see the module docstring for what they contain)."""
    rng = np.random.default_rng(seed)
    image_ids = rng.choice(np.arange(1, 10**6), num_images, replace=False)  # sparse, file order is random
    cat_ids = np.sort(rng.choice(np.arange(1, 200), num_categories, replace=False))
    images = [{"id": int(i), "file_name": f"img_{int(i)}.jpg", "width": 640, "height": 480} for i in image_ids]
    cats = [{"id": int(c), "name": f"cat{int(c)}"} for c in rng.permutation(cat_ids)]
    gt_cats = cat_ids[:-1]  # the last category has no GT (detections only)
    anns: list[dict] = []
    results: list[dict] = []
    score_pool = np.round(rng.uniform(0.05, 1.0, 12), 2)  # few distinct scores: ties across images
    for n, img in enumerate(image_ids):
        n_gt = 0 if n % 7 == 3 else int(rng.integers(1, 9))  # some images without GT
        for _ in range(n_gt):
            box, area = _gt_box(rng)
            ann = {"id": len(anns) + 1, "image_id": int(img), "category_id": int(rng.choice(gt_cats)),
                   "bbox": box, "area": area, "iscrowd": int(rng.random() < crowd)}
            if rng.random() < 0.05:
                ann["ignore"] = 1  # pycocotools overwrites it with iscrowd
            anns.append(ann)
            results.extend(_dets_near(rng, ann, score_pool))
        for _ in range(int(rng.integers(0, 4))):  # false positives, also of the category without GT
            x, y = rng.uniform(0, 500, 2)
            results.append({"image_id": int(img), "category_id": int(rng.choice(cat_ids)),
                            "bbox": [float(x), float(y), float(rng.uniform(1, 120)), float(rng.uniform(1, 120))],
                            "score": float(rng.choice(score_pool))})
    if many_dets_image:  # > 100 detections of one category on one image
        img, cat = int(image_ids[0]), int(gt_cats[0])
        for _ in range(140):
            x, y = rng.uniform(0, 300, 2)
            results.append({"image_id": img, "category_id": cat, "score": float(rng.choice(score_pool)),
                            "bbox": [float(x), float(y), float(rng.uniform(5, 200)), float(rng.uniform(5, 200))]})
    order = rng.permutation(len(results))
    results = [results[i] for i in order]
    anns_order = rng.permutation(len(anns))
    anns = [anns[i] for i in anns_order]
    return {"images": images, "annotations": anns, "categories": cats}, results


def _gt_box(rng) -> tuple[list, float]:
    """A GT box (fractional or integral) and its ``area`` field: a mask-like fraction of the box area, or a box
    whose area is exactly on an area-range boundary."""
    kind = rng.integers(0, 5)
    x, y = (float(v) for v in rng.uniform(0, 400, 2))
    if kind == 0:  # area field exactly 32² or 96², box area different
        w, h = float(rng.uniform(20, 150)), float(rng.uniform(20, 150))
        return [x, y, w, h], float(rng.choice([32.0 ** 2, 96.0 ** 2]))
    if kind == 1:  # integral box of area exactly 32² / 96²
        w, h = [(32, 32), (16, 64), (96, 96), (48, 192)][int(rng.integers(0, 4))]
        return [float(int(x)), float(int(y)), float(w), float(h)], float(w * h)
    w, h = float(rng.uniform(2, 250)), float(rng.uniform(2, 250))
    if kind == 2:
        w, h = round(w, 2), round(h, 2)
    return [x, y, w, h], float(w * h * rng.uniform(0.4, 1.0))


def _dets_near(rng, ann: dict, score_pool) -> list[dict]:
    """Detections around a GT: jittered copies and boxes whose IoU is exactly 0.5, 0.75 or 0.95."""
    x, y, w, h = ann["bbox"]
    out = []
    for _ in range(int(rng.integers(0, 3))):
        j = rng.normal(0, 0.08, 4) * [w, h, w, h]
        out.append([x + j[0], y + j[1], max(w + j[2], 0.5), max(h + j[3], 0.5)])
    if rng.random() < 0.3:  # same x, y, w; height cut so that IoU = frac exactly (when h * frac is exact)
        frac = float(rng.choice([0.5, 0.75, 0.95]))
        out.append([x, y, w, h * frac])
    return [{"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": [float(v) for v in b],
             "score": float(rng.choice(score_pool))} for b in out]


# ----------------------------------------------------------------------------------------------- oracles
def _peer(name: str, gt: dict, dt: list, params: dict | None = None) -> dict:
    """``COCOeval(gt, dt, "bbox")`` of one peer: evaluate + accumulate + summarize, quietly."""
    if name == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    elif name == "faster_coco_eval":
        fce = pytest.importorskip("faster_coco_eval")
        COCO, COCOeval = fce.COCO, fce.COCOeval_faster
    else:
        hotcoco = pytest.importorskip("hotcoco")
        COCO, COCOeval = hotcoco.COCO, hotcoco.COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        if name == "hotcoco":
            coco_gt = COCO(copy.deepcopy(gt))
            coco_dt = coco_gt.load_res(copy.deepcopy(dt))
        else:
            coco_gt = COCO()
            coco_gt.dataset = copy.deepcopy(gt)
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        for key, value in (params or {}).items():
            setattr(ev.params, key, value)
        ev.evaluate()
        ev.accumulate()
        if not params:
            ev.summarize()
    out = {k: np.asarray(ev.eval[k], np.float64) for k in ("precision", "recall", "scores")}
    out["stats"] = np.asarray(ev.stats, np.float64) if not params else None
    return out


def _arrays(gt: dict, dt: list, **kw):
    """:func:`evaluate_coco_arrays` on the dicts, ids mapped to sorted positions as pycocotools orders them."""
    img_pos = {i: n for n, i in enumerate(sorted(im["id"] for im in gt["images"]))}
    cat_pos = {c: n for n, c in enumerate(sorted(c["id"] for c in gt["categories"]))}
    anns = gt["annotations"]
    return evaluate_coco_arrays(
        gt_image=[img_pos[a["image_id"]] for a in anns], gt_category=[cat_pos[a["category_id"]] for a in anns],
        gt_xywh=np.array([a["bbox"] for a in anns], np.float64).reshape(-1, 4),
        gt_area=np.array([a["area"] for a in anns], np.float64), gt_iscrowd=[bool(a["iscrowd"]) for a in anns],
        dt_image=[img_pos[d["image_id"]] for d in dt], dt_category=[cat_pos[d["category_id"]] for d in dt],
        dt_xywh=np.array([d["bbox"] for d in dt], np.float64).reshape(-1, 4),
        dt_score=np.array([d["score"] for d in dt], np.float64), num_images=len(img_pos),
        num_categories=len(cat_pos), **kw)


def _assert_arrays_equal(ours, ref: dict, who: str) -> None:
    for key in ("precision", "recall", "scores"):
        a, b = getattr(ours, key), ref[key]
        assert a.shape == b.shape, (who, key, a.shape, b.shape)
        bad = np.flatnonzero((a != b).ravel())
        assert bad.size == 0, (who, key, bad.size, np.unravel_index(bad[0], a.shape), a.ravel()[bad[0]],
                               b.ravel()[bad[0]])


# ----------------------------------------------------------------------------------------------- the array front end
@pytest.mark.parametrize("seed", range(6))
def test_arrays_equal_pycocotools_bit_for_bit(seed):
    gt, dt = make_coco(seed, crowd=0.06 if seed % 2 else 0.15)
    _assert_arrays_equal(_arrays(gt, dt), _peer("pycocotools", gt, dt), "pycocotools")


@pytest.mark.parametrize("peer", ["faster_coco_eval", "hotcoco"])
def test_arrays_agree_with_the_other_peers(peer):
    """hotcoco is bit for bit pycocotools on these files; faster-coco-eval drops pycocotools' ``np.spacing(1)``
    from ``tp / (tp + fp + eps)`` (1.0 where pycocotools has 0.9999999999999998), so it agrees to 1 ulp there."""
    gt, dt = make_coco(11)
    ours, ref = _arrays(gt, dt), _peer(peer, gt, dt)
    for key in ("precision", "recall") + (("scores",) if peer == "hotcoco" else ()):
        if peer == "hotcoco":
            np.testing.assert_array_equal(getattr(ours, key), ref[key])
        else:
            np.testing.assert_allclose(getattr(ours, key), ref[key], rtol=0, atol=4.5e-16)


PARAMS = [
    {"iouThrs": np.array([0.95, 0.5, 0.75]), "recThrs": np.array([0.0, 0.3, 0.31, 1.0]),
     "areaRng": [[0, 1e10], [0, 1024.0], [1024.0, 9216.0]], "maxDets": [100, 3, 20]},
    {"iouThrs": np.linspace(0.3, 0.99, 63), "recThrs": np.linspace(0, 1, 11), "areaRng": [[0, 1e10], [500, 5000]],
     "maxDets": [1, 10, 100, 150]},
    {"iouThrs": np.array([0.5]), "recThrs": np.array([0.5, 0.0, 1.2, 0.2]), "areaRng": [[0, 1e10]],
     "maxDets": [10, 200, 5]},
]


@pytest.mark.parametrize("case", range(len(PARAMS)))
def test_arrays_equal_pycocotools_for_other_parameters(case):
    p = PARAMS[case]
    gt, dt = make_coco(100 + case)
    ours = _arrays(gt, dt, iou_thresholds=p["iouThrs"], rec_thresholds=p["recThrs"], area_ranges=p["areaRng"],
                   max_dets=p["maxDets"])
    params = dict(p, areaRngLbl=[f"r{i}" for i in range(len(p["areaRng"]))])
    _assert_arrays_equal(ours, _peer("pycocotools", gt, dt, params), "pycocotools")


def test_arrays_use_cats_zero_is_one_category():
    """``useCats=0``: pycocotools gathers an image's rows category by category (sorted ids, file order within),
    which decides IoU and score ties; the caller passes the rows in that order and category 0 for all."""
    gt, dt = make_coco(7)
    one = {c["id"]: 0 for c in gt["categories"]}
    ref = _peer("pycocotools", gt, dt, {"useCats": 0})
    img_pos = {i: n for n, i in enumerate(sorted(im["id"] for im in gt["images"]))}
    anns = sorted(gt["annotations"], key=lambda a: a["category_id"])  # stable: file order within a category
    dt = sorted(dt, key=lambda d: d["category_id"])
    ours = evaluate_coco_arrays(
        gt_image=[img_pos[a["image_id"]] for a in anns], gt_category=[one[a["category_id"]] for a in anns],
        gt_xywh=[a["bbox"] for a in anns], gt_area=[a["area"] for a in anns], gt_iscrowd=[a["iscrowd"] for a in anns],
        dt_image=[img_pos[d["image_id"]] for d in dt], dt_category=[0] * len(dt), dt_xywh=[d["bbox"] for d in dt],
        dt_score=[d["score"] for d in dt], num_images=len(img_pos), num_categories=1)
    _assert_arrays_equal(ours, ref, "pycocotools useCats=0")


def test_arrays_refuse_bad_input():
    gt, dt = make_coco(3)
    with pytest.raises(ValueError, match="dt_score has NaN"):
        _arrays(gt, [dict(d, score=float("nan")) if i == 2 else d for i, d in enumerate(dt)])
    with pytest.raises(ValueError, match="1 to 63 IoU thresholds"):
        _arrays(gt, dt, iou_thresholds=np.linspace(0.1, 0.9, 64))
    with pytest.raises(ValueError, match="gt_image must be positions"):
        evaluate_coco_arrays(gt_image=[5], gt_category=[0], gt_xywh=[[0, 0, 1, 1]], gt_area=[1], gt_iscrowd=[0],
                             dt_image=[], dt_category=[], dt_xywh=np.zeros((0, 4)), dt_score=[], num_images=2,
                             num_categories=1)


def test_generated_files_have_what_they_claim():
    """The generator really makes the hard cases (else the tests above would prove less than they say)."""
    gt, dt = make_coco(0)
    anns = gt["annotations"]
    box_area = np.array([a["bbox"][2] * a["bbox"][3] for a in anns])
    area = np.array([a["area"] for a in anns])
    assert (area != box_area).sum() > len(anns) // 3
    assert np.isin(area, [1024.0, 9216.0]).any()
    assert any(a["iscrowd"] for a in anns)
    per_image = np.unique([(d["image_id"], d["category_id"]) for d in dt], axis=0, return_counts=True)[1]
    assert per_image.max() > 100
    with_gt = {a["image_id"] for a in anns}
    assert any(im["id"] not in with_gt for im in gt["images"])
    assert any(c["id"] not in {a["category_id"] for a in anns} for c in gt["categories"])
    ids = [im["id"] for im in gt["images"]]
    assert ids != sorted(ids)
    scores = [d["score"] for d in dt]
    assert len(set(scores)) < len(scores) // 4  # ties
    json.dumps(gt)  # plain JSON types only
