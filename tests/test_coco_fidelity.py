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
    images = [{"id": int(i), "file_name": f"img_{int(i)}.jpg", "width": 1000, "height": 1000} for i in image_ids]
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


# ----------------------------------------------------------------------------------------------- files → evaluate
def _write(tmp_path, gt: dict, dt: list) -> tuple:
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dt))
    return tmp_path / "gt.json", tmp_path / "dt.json"


def _scores(gt_path, dt_path, **kw):
    from vocbench.eval.coco import evaluate_coco
    from vocbench.io.coco_gt import load_coco_gt
    from vocbench.io.detections import read_detections

    with pytest.warns() if kw.pop("warns", False) else contextlib.nullcontext():
        ds = load_coco_gt(gt_path)
    return ds, evaluate_coco(ds, read_detections(dt_path, ds), **kw)


def _assert_scores_equal(ours, ref: dict) -> None:
    stats = np.array([ours.stats[k] for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100",
                                               "ARs", "ARm", "ARl")])
    np.testing.assert_array_equal(stats, ref["stats"])
    np.testing.assert_array_equal(ours.precision, ref["precision"])
    np.testing.assert_array_equal(ours.recall, ref["recall"])


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_files_scored_bit_for_bit_like_the_peers(tmp_path, seed):
    """load_coco_gt + read_detections + evaluate_coco on COCO files that were never VOC = pycocotools and hotcoco,
    bit for bit (12 stats, precision, recall); faster-coco-eval to 1 ulp."""
    gt, dt = make_coco(seed)
    _, ours = _scores(*_write(tmp_path, gt, dt))
    _assert_scores_equal(ours, _peer("pycocotools", gt, dt))
    _assert_scores_equal(ours, _peer("hotcoco", gt, dt))
    ref = _peer("faster_coco_eval", gt, dt)
    np.testing.assert_allclose(ours.precision, ref["precision"], rtol=0, atol=4.5e-16)


def test_the_file_order_of_images_does_not_matter(tmp_path):
    """pycocotools evaluates images in sorted-id order: ties across images follow it, whatever the file order."""
    gt, dt = make_coco(5)
    _, a = _scores(*_write(tmp_path, gt, dt))
    gt2 = dict(gt, images=gt["images"][::-1], categories=gt["categories"][::-1])
    (tmp_path / "b").mkdir()
    _, b = _scores(*_write(tmp_path / "b", gt2, dt))
    np.testing.assert_array_equal(a.precision, b.precision)
    assert np.unique([d["score"] for d in dt]).size < len(dt) // 4  # ties across images really are there


def test_area_and_ignore_options(tmp_path):
    """area="box" is pycocotools on the file with area := w * h; ignore="file" is pycocotools with the file's
    ``ignore`` flag kept (pycocotools overwrites it with iscrowd in _prepare)."""
    from pycocotools.cocoeval import COCOeval

    gt, dt = make_coco(8, crowd=0.1)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    ds, box = _scores(gt_path, dt_path, area="box")
    box_gt = copy.deepcopy(gt)
    for a in box_gt["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    _assert_scores_equal(box, _peer("pycocotools", box_gt, dt))
    assert not np.array_equal(box.precision, _scores(gt_path, dt_path)[1].precision)

    assert ds.coco is not None and (ds.coco.ignore & ~ds.coco.iscrowd).any()  # 'ignore: 1' on non-crowd objects
    _, honoured = _scores(gt_path, dt_path, ignore="file")
    marked = copy.deepcopy(gt)
    for a in marked["annotations"]:
        a["keep_ignore"] = a.get("ignore", 0)

    class HonourIgnore(COCOeval):
        def _prepare(self):
            super()._prepare()
            for gts in self._gts.values():
                for g in gts:
                    g["ignore"] = g["ignore"] or g["keep_ignore"]

    import pycocotools.cocoeval as ce
    original = ce.COCOeval
    try:
        ce.COCOeval = HonourIgnore
        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = marked
            coco_gt.createIndex()
            ev = HonourIgnore(coco_gt, coco_gt.loadRes(copy.deepcopy(dt)), "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
    finally:
        ce.COCOeval = original
    np.testing.assert_array_equal(honoured.precision, ev.eval["precision"])
    np.testing.assert_array_equal(honoured.recall, ev.eval["recall"])


def test_subsets_keep_coco_ids_and_score_like_pycocotools_on_those_images(tmp_path):
    from vocbench.eval.coco import evaluate_coco
    from vocbench.io.coco_gt import load_coco_gt
    from vocbench.io.detections import read_detections

    gt, dt = make_coco(9)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    ds = load_coco_gt(gt_path)
    mask = np.arange(ds.num_images) % 3 != 1
    sub = ds.subset_images(mask)
    assert sub.coco is not None and np.array_equal(sub.coco.image_ids, ds.coco.image_ids[mask])
    assert sub.image_files is not None and len(sub.image_files) == sub.num_images
    kept = set(sub.coco.image_ids.tolist())
    with pytest.warns(UserWarning, match="dropped"):
        dets = read_detections(dt_path, sub, ignore_unknown_images=True)
    ours = evaluate_coco(sub, dets)
    ref = _peer("pycocotools", gt, [d for d in dt if d["image_id"] in kept], {"imgIds": sorted(kept)})
    np.testing.assert_array_equal(ours.precision, ref["precision"])
    np.testing.assert_array_equal(ours.recall, ref["recall"])


# ----------------------------------------------------------------------------------------------- bad COCO GT
def _gt_file(tmp_path, mutate) -> tuple:
    gt, _ = make_coco(4, num_images=5)
    mutate(gt)
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(gt))
    return p


@pytest.mark.parametrize("field, value", [("iscrowd", "0"), ("iscrowd", "false"), ("iscrowd", 0.5), ("iscrowd", [0]),
                                          ("iscrowd", 2), ("ignore", "1"), ("ignore", None)])
def test_iscrowd_and_ignore_accept_only_0_1_true_false(tmp_path, field, value):
    from vocbench.errors import InputError
    from vocbench.io.coco_gt import load_coco_gt

    p = _gt_file(tmp_path, lambda g: g["annotations"][3].update({field: value}))
    with pytest.raises(InputError, match=rf"gt\.json: annotations\[3\]: {field} .* is not 0, 1, true or false"):
        load_coco_gt(p)
    p = _gt_file(tmp_path, lambda g: g["annotations"][3].update({field: True}))
    ds = load_coco_gt(p)
    assert getattr(ds.coco, field).sum() == 1 + sum(bool(a.get(field)) for i, a in
                                                    enumerate(json.loads(p.read_text())["annotations"]) if i != 3)


@pytest.mark.parametrize("section, index, field, value", [
    ("images", 1, "id", 2**70), ("images", 1, "width", 2**70), ("images", 0, "height", 12.5),
    ("images", 2, "id", "7"), ("annotations", 2, "image_id", 2**70), ("annotations", 1, "category_id", 1.5),
    ("categories", 0, "id", 2**64),
])
def test_huge_or_fractional_ids_and_sizes_are_one_line_errors(tmp_path, capsys, section, index, field, value):
    from vocbench.cli import main

    p = _gt_file(tmp_path, lambda g: g[section][index].update({field: value}))
    rc = main(["stats", str(p), "--json", str(tmp_path / "s.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert f"gt.json: {section}[{index}]" in err and field in err and "Traceback" not in err


def test_boxes_outside_the_image_or_inverted_warn_like_voc_and_error_when_strict(tmp_path):
    from vocbench.errors import InputError, VocbenchWarning
    from vocbench.io.coco_gt import load_coco_gt

    def mutate(g):
        g["annotations"][0]["bbox"] = [990.0, 10.0, 30.0, 20.0]  # the images are 1000 wide
        g["annotations"][1]["bbox"] = [10.0, 10.0, -5.0, 20.0]

    p = _gt_file(tmp_path, mutate)
    with pytest.warns(VocbenchWarning, match=r"2 box\(es\) are inverted \(1\) or extend outside their image \(1\)"):
        ds = load_coco_gt(p)
    assert len(ds.issues) == 2 and any("annotations[1]: inverted box" in s for s in ds.issues)
    with pytest.raises(InputError, match=r"annotations\[\d\]: .*\(--strict; 2 such box"):
        load_coco_gt(p, strict=True)


def test_long_class_list_is_not_opened_as_a_file():
    from vocbench.commands._common import parse_classes

    names = tuple(f"class_{i:04d}" for i in range(400))
    assert parse_classes(",".join(names)) == names
    assert parse_classes("x" * 5000) == ("x" * 5000,)


# ----------------------------------------------------------------------------------------------- other tools' ids
YOLOV2_VOC07_DEVKIT = 0.7214368051  # the devkit's VOC07 mAP of the shipped YOLOv2 detections on VOC2007 test


@pytest.fixture(scope="module")
def yolov2_voc(voc07_test, yolov2_dets):
    from vocbench.io.detections import read_detections

    return voc07_test, read_detections(yolov2_dets, voc07_test)


def _ultralytics_json(ds, dets, path, stems: str = "int", rows=None) -> list:
    """ultralytics' save_json: image_id = int(stem) (or the stem string), 0-based category_id, [x, y, w, h]."""
    from vocbench.io.coco import voc_boxes_to_xywh

    rows = np.arange(len(dets)) if rows is None else rows
    xywh = voc_boxes_to_xywh(dets.boxes[rows])
    stem = ds.image_ids[dets.image_index[rows]].tolist()
    out = [{"image_id": int(s) if stems == "int" else s, "category_id": int(c), "bbox": b, "score": float(v)}
           for s, c, b, v in zip(stem, dets.class_index[rows].tolist(), xywh.tolist(), dets.scores[rows].tolist())]
    path.write_text(json.dumps(out))
    return out


@pytest.mark.parametrize("stems", ["int", "str"])
def test_ultralytics_json_scores_the_devkit_map(tmp_path, yolov2_voc, stems):
    from vocbench import evaluate
    from vocbench.io.detections import read_detections

    ds, dets = yolov2_voc
    _ultralytics_json(ds, dets, tmp_path / "u.json", stems)
    read = read_detections(tmp_path / "u.json", ds)
    assert np.array_equal(read.image_index, dets.image_index) and np.array_equal(read.class_index, dets.class_index)
    assert evaluate(ds, read, metrics=("voc07",)).mAP["voc07"] == pytest.approx(YOLOV2_VOC07_DEVKIT, abs=5e-11)


def test_ambiguous_ids_are_refused_naming_the_option(tmp_path, yolov2_voc, capsys):
    from vocbench.cli import main
    from vocbench.errors import InputError
    from vocbench.io.detections import read_detections

    ds, dets = yolov2_voc
    small_stems = np.array([int(s) for s in ds.image_ids.tolist()]) <= ds.num_images  # ids fit both readings
    rows = np.flatnonzero(small_stems[dets.image_index])
    _ultralytics_json(ds, dets, tmp_path / "a.json", rows=rows)
    with pytest.raises(InputError, match=r"a\.json: result \d+: the image ids read as .* choose with --image-ids"):
        read_detections(tmp_path / "a.json", ds)
    chosen = read_detections(tmp_path / "a.json", ds, image_ids="stem", category_ids="index0")
    assert np.array_equal(chosen.image_index, dets.image_index[rows])
    # categories 1..18 only: 0- and 1-based both fit
    rows = np.flatnonzero((dets.class_index >= 1) & (dets.class_index <= ds.num_classes - 2))
    _ultralytics_json(ds, dets, tmp_path / "c.json", rows=rows)
    rc = main(["eval", "--gt", str(ds.root), "--set", "2007:test", "--dets", str(tmp_path / "c.json"),
               "--metric", "voc07", "--json", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert rc == 1 and "choose with --category-ids index0|index1" in err and len(err.strip().splitlines()) == 1
    rc = main(["eval", "--gt", str(ds.root), "--set", "2007:test", "--dets", str(tmp_path / "c.json"),
               "--metric", "voc07", "--category-ids", "index0", "--json", str(tmp_path / "out.json")])
    assert rc == 0
    ref = read_detections(tmp_path / "c.json", ds, category_ids="index0")
    assert np.array_equal(ref.class_index, dets.class_index[rows])


# ----------------------------------------------------------------------------------------------- positional predictions
def _small_voc_case(seed: int = 0, n: int = 12):
    from vocbench.structures import Dataset

    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, n)
    image_index = np.repeat(np.arange(n), counts)
    xy = rng.uniform(1, 200, (len(image_index), 2))
    boxes = np.column_stack([xy, xy + rng.uniform(10, 80, (len(image_index), 2))])
    ds = Dataset.from_arrays(image_ids=[f"{i:06d}" for i in range(n)], widths=np.full(n, 300),
                             heights=np.full(n, 300), image_index=image_index,
                             class_index=rng.integers(0, 3, len(image_index)), boxes=boxes, classes=("a", "b", "c"))
    preds = []
    for i in range(n):
        gt = ds.boxes[ds.image_index == i]
        b = np.vstack([gt + rng.normal(0, 4, gt.shape), rng.uniform(1, 250, (2, 4)).cumsum(axis=1)])
        preds.append({"boxes": b, "scores": rng.choice([0.3, 0.5, 0.9], len(b)), "labels": rng.integers(0, 3, len(b))})
    return ds, preds


def test_positional_predictions_of_the_wrong_length_are_refused():
    from vocbench import evaluate
    from vocbench.errors import InputError

    ds, preds = _small_voc_case()
    with pytest.raises(InputError, match=r"11 prediction dicts for the 12 images .* give one dict per image"):
        evaluate(ds, preds[:-1])
    named = [dict(p, image_id=ds.image_ids[i]) for i, p in enumerate(preds)][:-1]  # ids given: a subset is fine
    assert evaluate(ds, named).num_detections == sum(len(p["scores"]) for p in preds[:-1])


def test_evaluator_warns_about_images_without_predictions_and_ignores_batch_order():
    from vocbench.errors import VocbenchWarning
    from vocbench.eval.accumulate import VocEvaluator

    ds, preds = _small_voc_case(1)
    ev = VocEvaluator(ds)
    ev.update(preds[:8], image_ids=list(range(8)))  # a drop_last loader lost the last batch
    with pytest.warns(VocbenchWarning, match=r"4 of the 12 images never received predictions \(first: '000008'"):
        ev.compute()
    batches = [list(range(k, min(k + 5, 12))) for k in range(0, 12, 5)]
    results = []
    for arrival in (batches, batches[::-1], [batches[1], batches[0], batches[2]]):
        ev = VocEvaluator(ds)
        for b in arrival:
            ev.update([preds[i] for i in b], image_ids=b)
        results.append(ev.compute())
        targets = [{"boxes": ds.boxes[ds.image_index == i], "labels": ds.class_index[ds.image_index == i],
                    "image_id": ds.image_ids[i]} for i in range(12)]
        free = VocEvaluator(ds.classes)
        for b in arrival:
            free.update([preds[i] for i in b], [targets[i] for i in b])
        results.append(free.compute())
    for r in results[1:]:
        for m in ("voc07", "voc12"):
            np.testing.assert_array_equal(r.voc[0].ap[m], results[0].voc[0].ap[m])
    assert np.unique(np.concatenate([p["scores"] for p in preds])).size == 3  # ties across images


def test_cli_eval_on_coco_files_with_the_options(tmp_path, capsys):
    from vocbench.cli import main

    gt, dt = make_coco(31)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    box_gt = copy.deepcopy(gt)
    for a in box_gt["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    for extra, ref_gt in (([], gt), (["--coco-area", "box"], box_gt)):
        rc = main(["eval", "--gt", str(gt_path), "--dets", str(dt_path), "--metric", "coco", *extra,
                   "--json", str(tmp_path / "out.json")])
        assert rc == 0, capsys.readouterr().err
        coco = json.loads((tmp_path / "out.json").read_text())["coco"]
        ref = _peer("pycocotools", ref_gt, dt)["stats"]
        assert [coco[k] for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
                                  "ARl")] == ref.tolist()
    assert main(["eval", "--gt", str(gt_path), "--dets", str(dt_path), "--metric", "coco", "--coco-ignore", "bad"]) == 2


def test_coco_scale_generator_set_equals_pycocotools(tmp_path):
    """The benchmark's COCO-like set (80 sparse category ids, mask-like areas), small size: files → 12 stats and
    arrays equal to pycocotools reading the same files."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from vocbench.bench.coco_sets import write_coco_set

    gt_path, dt_path = write_coco_set("tiny", tmp_path)
    _, ours = _scores(gt_path, dt_path)
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(str(gt_path))
        ev = COCOeval(g, g.loadRes(str(dt_path)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    _assert_scores_equal(ours, {"stats": ev.stats, "precision": ev.eval["precision"], "recall": ev.eval["recall"]})


def test_export_of_coco_data_keeps_its_ids_boxes_and_areas(tmp_path):
    """export_coco / detections_to_coco of a set read from COCO write its own ids, bbox, area and file names:
    pycocotools scores the export exactly as the original files."""
    from vocbench.io.coco import detections_to_coco, export_coco
    from vocbench.io.coco_gt import load_coco_gt
    from vocbench.io.detections import read_detections

    gt, dt = make_coco(41)
    gt_path, dt_path = _write(tmp_path, gt, dt)
    ds = load_coco_gt(gt_path)
    dets = read_detections(dt_path, ds)
    gt2, dt2 = export_coco(ds), detections_to_coco(ds, dets)
    assert sorted(im["id"] for im in gt2["images"]) == sorted(im["id"] for im in gt["images"])
    assert sorted(a["area"] for a in gt2["annotations"]) == sorted(a["area"] for a in gt["annotations"])
    assert {im["file_name"] for im in gt2["images"]} == {im["file_name"] for im in gt["images"]}
    ref, again = _peer("pycocotools", gt, dt), _peer("pycocotools", gt2, dt2)
    for key in ("stats", "precision", "recall", "scores"):
        np.testing.assert_array_equal(again[key], ref[key])


def test_images_table_shows_coco_ids_and_files(tmp_path):
    from vocbench.io.coco_gt import load_coco_gt

    gt, dt = make_coco(2, num_images=6)
    ds = load_coco_gt(_write(tmp_path, gt, dt)[0])
    table = ds.subset_images(np.array([True, False] * 3)).to_pandas("images")
    assert table["coco_id"].tolist() == [im["id"] for im in gt["images"]][::2]
    assert table["file"].tolist() == [im["file_name"] for im in gt["images"]][::2]


def test_arrays_without_images_or_categories_are_all_undefined():
    for ni, nk in ((0, 3), (4, 0)):
        out = evaluate_coco_arrays(gt_image=[], gt_category=[], gt_xywh=np.zeros((0, 4)), gt_area=[], gt_iscrowd=[],
                                   dt_image=[], dt_category=[], dt_xywh=np.zeros((0, 4)), dt_score=[], num_images=ni,
                                   num_categories=nk)
        assert out.precision.shape == (10, 101, nk, 4, 3) and out.scores.shape == out.precision.shape
        assert (out.precision == -1).all() and (out.recall == -1).all()
