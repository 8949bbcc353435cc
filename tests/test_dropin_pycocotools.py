"""vocbench.coco (pycocotools' COCO/COCOeval bbox surface) against pycocotools itself, bit for bit.

Every comparison runs the same user code on pycocotools and on vocbench (separate deep copies of the inputs:
both write into the result dicts) and compares ``stats``, ``eval`` arrays, the printed summary, ``evalImgs``,
``ious`` and the normalised params. Data: the real YOLOv2 VOC2007-test export (a slice here, all of it in the
slow test) and generated COCO-format sets with sparse ids, areas unlike the box area, crowds, ``ignore`` fields,
score ties and images without ground truth.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pycoco = pytest.importorskip("pycocotools.coco")
pycocoeval = pytest.importorskip("pycocotools.cocoeval")

from vocbench import coco as vcoco  # noqa: E402

IMPLS = {"pycocotools": (pycoco.COCO, pycocoeval.COCOeval), "vocbench": (vcoco.COCO, vcoco.COCOeval)}


# ----------------------------------------------------------------------------------------------- data
def make_coco_set(seed: int, n_images: int = 24, n_cats: int = 4) -> tuple[dict, list]:
    """A COCO-format ground truth and results list shaped like real files, with every awkward feature."""
    rng = np.random.default_rng(seed)
    img_ids = [int(i) for i in rng.choice(10 ** 9, n_images, replace=False)]
    cat_ids = sorted(int(c) for c in rng.choice(np.arange(1, 200), n_cats, replace=False))
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in img_ids]
    ann_ids = iter(int(a) for a in rng.choice(10 ** 7, 2000, replace=False))
    anns, res = [], []
    for n, img in enumerate(img_ids):
        for _ in range(int(rng.integers(0, 8)) if n % 7 else 0):  # every 7th image without ground truth
            w, h = (float(np.round(v, 1)) for v in np.exp(rng.uniform(np.log(3), np.log(300), 2)))
            x, y = float(np.round(rng.uniform(0, 400), 1)), float(np.round(rng.uniform(0, 300), 1))
            ann = {"id": next(ann_ids), "image_id": img, "category_id": int(rng.choice(cat_ids)),
                   "bbox": [x, y, w, h], "area": float(w * h * rng.uniform(0.5, 1.0)),
                   "iscrowd": int(rng.random() < 0.12)}
            if rng.random() < 0.1:
                ann["ignore"] = 1  # pycocotools overwrites it with iscrowd
            anns.append(ann)
            for _ in range(int(rng.integers(0, 3))):  # detections near the object, sometimes the wrong class
                jit = rng.normal(0, 0.15, 4) * [w, h, w, h]
                res.append({"image_id": img, "bbox": [float(v) for v in np.round([x, y, w, h] + jit, 2)],
                            "category_id": ann["category_id"] if rng.random() < 0.85 else int(rng.choice(cat_ids)),
                            "score": float(np.round(rng.uniform(0.05, 1.0), 2))})  # 2 decimals: ties
        for _ in range(int(rng.integers(0, 4))):  # background detections, also on images without ground truth
            res.append({"image_id": img, "category_id": int(rng.choice(cat_ids)), "score": float(rng.uniform()),
                        "bbox": [float(rng.uniform(0, 500)), float(rng.uniform(0, 400)),
                                 float(rng.uniform(1, 200)), float(rng.uniform(1, 200))]})
    crowded = img_ids[1]  # more than 100 detections on one image: maxDets truncation
    res += [{"image_id": crowded, "category_id": cat_ids[0], "score": float(s),
             "bbox": [float(rng.uniform(0, 300)), float(rng.uniform(0, 300)), 40.0, 40.0]}
            for s in rng.uniform(size=130)]
    rng.shuffle(images)  # file order unlike id order
    gt = {"info": {"description": "generated"}, "images": images, "annotations": anns,
          "categories": [{"id": c, "name": f"c{c}", "supercategory": "s"} for c in cat_ids]}
    return gt, res


def run(impl: str, gt: dict, res, setup=None, after_evaluate=None):
    """Run the usual pycocotools script with ``impl``: (COCOeval object, printed summary)."""
    coco_cls, eval_cls = IMPLS[impl]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(res))
        ev = eval_cls(coco_gt, coco_dt, "bbox")
        if setup:
            setup(ev.params)
        ev.evaluate()
        if after_evaluate:
            after_evaluate(ev.params)
        ev.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ev.summarize()
    return ev, out.getvalue()


def assert_eval_imgs_equal(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is None:
            continue
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], np.ndarray):
                assert x[key].shape == y[key].shape and np.array_equal(x[key], y[key]), key
            else:
                assert list(np.asarray(x[key]).ravel()) == list(np.asarray(y[key]).ravel()), key


def assert_same(ref, ours, details: bool = True) -> None:
    (pe, ptext), (ve, vtext) = ref, ours
    assert vtext == ptext
    assert isinstance(ve.stats, np.ndarray) and ve.stats.dtype == pe.stats.dtype
    assert np.array_equal(ve.stats, pe.stats)
    assert ve.eval["counts"] == pe.eval["counts"]
    for key in ("precision", "recall", "scores"):
        assert ve.eval[key].shape == pe.eval[key].shape, key
        assert np.array_equal(ve.eval[key], pe.eval[key]), key
    assert list(ve.params.imgIds) == list(pe.params.imgIds)
    assert list(ve.params.catIds) == list(pe.params.catIds) and ve.params.maxDets == pe.params.maxDets
    if details:
        assert_eval_imgs_equal(pe.evalImgs, ve.evalImgs)
        assert pe.ious.keys() == ve.ious.keys()
        for key, value in pe.ious.items():
            assert np.array_equal(np.asarray(value), np.asarray(ve.ious[key])), key


def both(gt, res, setup=None, after_evaluate=None, details=True):
    ref = run("pycocotools", gt, res, setup, after_evaluate)
    ours = run("vocbench", gt, res, setup, after_evaluate)
    assert_same(ref, ours, details)
    return ref, ours


# ----------------------------------------------------------------------------------------------- generated sets
@pytest.mark.parametrize("seed", range(6))
def test_default_params_equal_pycocotools(seed):
    gt, res = make_coco_set(seed)
    (pe, _), _ = both(gt, res)
    assert (pe.eval["precision"] > 0).any()  # the case scores something


CHANGES = {
    "iou_rec_thresholds": lambda p: (setattr(p, "iouThrs", np.array([0.1, 0.5, 0.55, 0.9])),
                                     setattr(p, "recThrs", np.linspace(0, 1, 21))),
    "max_dets_unsorted": lambda p: setattr(p, "maxDets", [10, 1, 50]),
    "max_dets_small": lambda p: setattr(p, "maxDets", [1, 2, 3]),
    "area_ranges": lambda p: setattr(p, "areaRng", [[0, 1e10], [0, 500], [500, 5000], [5000, 1e10]]),
    "cat_subset": lambda p: setattr(p, "catIds", [p.catIds[2], p.catIds[0], p.catIds[2]]),
    "img_subset": lambda p: setattr(p, "imgIds", [p.imgIds[5], 123, *p.imgIds[:12], p.imgIds[3]]),
    "use_cats_0": lambda p: setattr(p, "useCats", 0),
    "no_images": lambda p: setattr(p, "imgIds", []),
    "unknown_images_only": lambda p: setattr(p, "imgIds", [-1, -2]),
    "use_cats_0_cat_subset": lambda p: (setattr(p, "useCats", 0), setattr(p, "catIds", p.catIds[1:3])),
    "70_thresholds": lambda p: setattr(p, "iouThrs", np.linspace(0.3, 0.99, 70)),
    "three_area_ranges": lambda p: (setattr(p, "areaRng", [[0, 1e10], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]]),
                                    setattr(p, "areaRngLbl", ["all", "medium", "large"])),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_params_changed_by_the_user_equal_pycocotools(change):
    gt, res = make_coco_set(11)
    both(gt, res, setup=CHANGES[change], details=change != "70_thresholds")


def _renamed(gt: dict, res: list, image=None, category=None) -> tuple[dict, list]:
    gt, res = copy.deepcopy(gt), copy.deepcopy(res)
    for key, fn in (("image_id", image), ("category_id", category)):
        if fn is None:
            continue
        for a in gt["annotations"] + res:
            a[key] = fn(a[key])
        for item in gt["images" if key == "image_id" else "categories"]:
            item["id"] = fn(item["id"])
    return gt, res


def test_string_ids_duplicated_annotation_ids_and_bool_crowds():
    gt, res = make_coco_set(20)
    both(*_renamed(gt, res, image=lambda i: f"img{i}"), details=False)
    both(*_renamed(gt, res, category=lambda c: f"c{c}"), details=False)
    dup = copy.deepcopy(gt)
    for k, a in enumerate(dup["annotations"]):
        if k % 5 == 1:  # pycocotools loads such ids by id: the last annotation twice
            a["id"] = dup["annotations"][k - 1]["id"]
        a["iscrowd"] = bool(a["iscrowd"])
    both(dup, res, details=False)


def test_params_changed_between_evaluate_and_accumulate():
    gt, res = make_coco_set(3)
    both(gt, res, after_evaluate=lambda p: setattr(p, "recThrs", np.linspace(0, 1, 11)), details=False)
    # pycocotools reads the evaluated categories by their position in the new list
    both(gt, res, after_evaluate=lambda p: setattr(p, "catIds", [p.catIds[3], p.catIds[1]]), details=False)
    both(gt, res, after_evaluate=lambda p: setattr(p, "maxDets", [100, 10, 1, 5]), details=False)


def test_ignore_field_is_overwritten_by_iscrowd():
    gt, res = make_coco_set(5)
    assert any(a.get("ignore") and not a["iscrowd"] for a in gt["annotations"])
    (pe, _), (ve, _) = both(gt, res, details=False)
    assert ([a["ignore"] for a in pe.cocoGt.dataset["annotations"]]
            == [a["ignore"] for a in ve.cocoGt.dataset["annotations"]])


def test_load_res_writes_ids_areas_and_iscrowd_like_pycocotools():
    gt, res = make_coco_set(2)
    outs = []
    for impl in IMPLS:
        coco_cls = IMPLS[impl][0]
        with contextlib.redirect_stdout(io.StringIO()):
            g = coco_cls()
            g.dataset = copy.deepcopy(gt)
            g.createIndex()
            outs.append(g.loadRes(copy.deepcopy(res)))
    p, v = outs
    assert p.dataset["annotations"] == v.dataset["annotations"]
    assert p.dataset["categories"] == v.dataset["categories"] and p.dataset["images"] == v.dataset["images"]
    assert sorted(p.anns) == sorted(v.anns) and p.getImgIds() == v.getImgIds()
    assert p.getAnnIds(imgIds=p.getImgIds()[:3], catIds=p.getCatIds()[:2], areaRng=[10, 5000]) == \
        v.getAnnIds(imgIds=v.getImgIds()[:3], catIds=v.getCatIds()[:2], areaRng=[10, 5000])


@pytest.mark.parametrize("form", ["path", "ndarray64", "ndarray32"])
def test_load_res_from_path_and_ndarray(form, tmp_path):
    gt, res = make_coco_set(7)
    if form == "path":
        path = tmp_path / "res.json"
        path.write_text(json.dumps(res))
        source = str(path)
    else:
        rows = [[r["image_id"], *r["bbox"], r["score"], r["category_id"]] for r in res]
        source = np.array(rows, np.float64 if form == "ndarray64" else np.float32)
        if form == "ndarray32":  # ids must survive float32: use small image ids
            mapping = {img["id"]: k + 1 for k, img in enumerate(gt["images"])}
            gt = copy.deepcopy(gt)
            for img in gt["images"]:
                img["id"] = mapping[img["id"]]
            for a in gt["annotations"]:
                a["image_id"] = mapping[a["image_id"]]
            source[:, 0] = [mapping[r["image_id"]] for r in res]
    ref = run("pycocotools", gt, source if form == "path" else source.copy())
    ours = run("vocbench", gt, source if form == "path" else source.copy())
    assert_same(ref, ours, details=False)


def test_results_for_an_image_absent_from_ground_truth_raise_like_pycocotools():
    gt, res = make_coco_set(1)
    res = [*res, {"image_id": -5, "category_id": gt["categories"][0]["id"], "bbox": [0, 0, 1, 1], "score": 0.5}]
    messages = []
    for impl in IMPLS:
        g = IMPLS[impl][0]()
        g.dataset = copy.deepcopy(gt)
        with contextlib.redirect_stdout(io.StringIO()):
            g.createIndex()
            with pytest.raises(AssertionError) as info:
                g.loadRes(copy.deepcopy(res))
        messages.append(str(info.value))
    assert messages[0] == messages[1] == "Results do not correspond to current coco set"


def test_empty_results_score_like_pycocotools_on_an_empty_result_set():
    """pycocotools' loadRes([]) raises IndexError; vocbench returns an empty result set, scored as pycocotools
    scores a result COCO object with no annotations."""
    gt, _ = make_coco_set(4)
    with contextlib.redirect_stdout(io.StringIO()):
        g = pycoco.COCO()
        g.dataset = copy.deepcopy(gt)
        g.createIndex()
        d = pycoco.COCO()
        d.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
        d.createIndex()
        pe = pycocoeval.COCOeval(g, d, "bbox")
        pe.evaluate()
        pe.accumulate()
        pe.summarize()
    ve, _ = run("vocbench", gt, [])
    assert np.array_equal(ve.stats, pe.stats)
    assert np.array_equal(ve.eval["precision"], pe.eval["precision"])
    assert_eval_imgs_equal(pe.evalImgs, ve.evalImgs)


def _torchvision_reference_flow(impl: str, gt: dict, res: list, batches: int = 3):
    """torchvision's references/detection/coco_eval.py: evaluate() per batch of images, evalImgs collected,
    merged by image id, assigned back, then accumulate() and summarize()."""
    coco_cls, eval_cls = IMPLS[impl]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        ev = eval_cls(coco_gt, iouType="bbox")
        all_ids, all_imgs = [], []
        for batch in np.array_split(np.array(coco_gt.getImgIds()), batches)[::-1]:
            results = [r for r in copy.deepcopy(res) if r["image_id"] in set(batch.tolist())]
            ev.cocoDt = coco_gt.loadRes(results) if results else coco_cls()
            ev.params.imgIds = list(batch.tolist())
            ev.evaluate()
            all_ids.extend(ev.params.imgIds)
            all_imgs.append(np.asarray(ev.evalImgs).reshape(-1, len(ev.params.areaRng), len(ev.params.imgIds)))
        merged_ids, idx = np.unique(all_ids, return_index=True)
        ev.evalImgs = list(np.concatenate(all_imgs, 2)[..., idx].flatten())
        ev.params.imgIds = list(merged_ids)
        ev._paramsEval = copy.deepcopy(ev.params)
        ev.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ev.summarize()
    return ev, out.getvalue()


def test_torchvision_reference_flow_with_merged_eval_imgs():
    gt, res = make_coco_set(8)
    ref = _torchvision_reference_flow("pycocotools", gt, res)
    ours = _torchvision_reference_flow("vocbench", gt, res)
    assert_same(ref, ours, details=False)
    assert (ref[0].eval["precision"] > 0).any()


def test_prepare_fills_groups_like_pycocotools():
    """detectron2's COCOeval_opt subclasses COCOeval and reads _gts/_dts after _prepare()."""
    gt, res = make_coco_set(6)
    groups = []
    for impl in IMPLS:
        coco_cls, eval_cls = IMPLS[impl]
        with contextlib.redirect_stdout(io.StringIO()):
            g = coco_cls()
            g.dataset = copy.deepcopy(gt)
            g.createIndex()
            ev = eval_cls(g, g.loadRes(copy.deepcopy(res)), "bbox")
            ev._prepare()
        groups.append((dict(ev._gts), dict(ev._dts)))
    assert groups[0] == groups[1]


@pytest.mark.parametrize("field, value, message", [("bbox", [1, 2, 3], "bbox must be"),
                                                    ("bbox", [1, 2, "x", 4], "bbox must be"),
                                                    ("bbox", [1, 2, 3, 4, 5], "bbox must be"),
                                                    ("score", float("nan"), "score is NaN")])
def test_bad_results_name_the_annotation(field, value, message):
    from vocbench.errors import InputError

    gt, res = make_coco_set(0)
    res = copy.deepcopy(res)
    res[3][field] = value
    with pytest.raises(InputError, match=rf"result annotation id 4: {message}"):
        run("vocbench", gt, res)


@pytest.mark.parametrize("iou_type", ["segm", "keypoints"])
def test_other_iou_types_raise_a_clear_error(iou_type):
    with pytest.raises(NotImplementedError, match="bbox"):
        vcoco.COCOeval(None, None, iou_type)
    with pytest.raises(NotImplementedError, match="bbox"):
        vcoco.COCOeval()  # pycocotools' default iouType is 'segm'


# ----------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def yolov2_coco(voc07_test, yolov2_dets):
    from vocbench import read_detections
    from vocbench.io.coco import detections_to_coco, export_coco

    return export_coco(voc07_test), detections_to_coco(voc07_test, read_detections(yolov2_dets, voc07_test))


def _first_images(gt: dict, res: list, n: int) -> tuple[dict, list]:
    keep = {img["id"] for img in gt["images"][:n]}
    return ({**gt, "images": gt["images"][:n], "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]},
            [r for r in res if r["image_id"] in keep])


def test_real_yolov2_slice_default_and_changed_params(yolov2_coco):
    gt, res = _first_images(*yolov2_coco, 400)
    both(gt, res, details=False)
    both(gt, res, setup=lambda p: (setattr(p, "iouThrs", np.array([0.5, 0.7])), setattr(p, "maxDets", [1, 5, 20])),
         details=False)


def test_real_yolov2_eval_imgs_and_ious(yolov2_coco):
    both(*_first_images(*yolov2_coco, 60), details=True)


@pytest.mark.slow
def test_real_yolov2_whole_set_equals_pycocotools(yolov2_coco):
    (pe, text), _ = both(*yolov2_coco, details=False)
    assert text.splitlines()[0].endswith("= 0.422")


# ----------------------------------------------------------------------------------------------- init_as_pycocotools
SCRIPT = """
    import contextlib, io, json, sys
    import vocbench
    handle = vocbench.init_as_pycocotools()
    from pycocotools.coco import COCO            # the unchanged script from here on
    from pycocotools.cocoeval import COCOeval
    import pycocotools.coco as pc
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    ev = COCOeval(gt, dt, "bbox"); ev.evaluate(); ev.accumulate(); ev.summarize()
    print("CLASS", COCOeval.__module__, pc.COCO.__module__)
    print("STATS", json.dumps(ev.stats.tolist()))
    handle.restore()
    for name in [m for m in sys.modules if m.startswith("pycocotools")]:
        print("LEFT", name, getattr(sys.modules[name], "__file__", None) is not None)
    from pycocotools.cocoeval import COCOeval as Real
    print("RESTORED", Real.__module__, "vocbench" not in str(getattr(sys.modules["pycocotools"], "__file__", "")))
"""


def test_unchanged_script_after_init_as_pycocotools(tmp_path):
    gt, res = make_coco_set(9)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path / "gt.json"),
                          str(tmp_path / "res.json")], capture_output=True, text=True, check=True).stdout
    ref, _ = run("pycocotools", gt, res)
    lines = out.splitlines()
    assert "CLASS vocbench.coco vocbench.coco" in lines
    assert json.loads(next(s for s in lines if s.startswith("STATS"))[6:]) == ref.stats.tolist()
    summary = [s for s in lines if s.startswith(" Average")]
    assert "\n".join(summary) + "\n" == _summary_text(ref)
    assert "RESTORED pycocotools.cocoeval True" in lines
    assert all(s.endswith("True") for s in lines if s.startswith("LEFT"))  # only real modules remain


def _summary_text(ev) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ev.summarize()
    return buf.getvalue()


def test_init_is_reversible_and_not_applied_on_import():
    import vocbench

    before = {k: v for k, v in sys.modules.items() if k.startswith("pycocotools")}
    assert sys.modules.get("pycocotools.coco") is pycoco  # importing vocbench.coco patched nothing
    with vocbench.init_as_pycocotools():
        from pycocotools.coco import COCO  # noqa: I001
        from pycocotools.cocoeval import COCOeval, Params

        assert (COCO, COCOeval, Params) == (vcoco.COCO, vcoco.COCOeval, vcoco.Params)
        vocbench.init_as_pycocotools()  # a second call while active changes nothing
        import pycocotools.mask  # detectron2 imports it at the top: the real one stays available

        assert pycocotools.mask.__file__
    assert {k: v for k, v in sys.modules.items() if k.startswith("pycocotools")} == before
    vocbench.init_as_pycocotools()
    vocbench.init_as_pycocotools(False)
    assert sys.modules.get("pycocotools.coco") is pycoco
    vocbench.restore_pycocotools()  # not active: nothing to do
    assert sys.modules.get("pycocotools.cocoeval") is pycocoeval
