"""compare --metric coco on data read from COCO files: pycocotools is the oracle.

The files were never VOC (``tests.test_coco_fidelity.make_coco``): sparse image ids in shuffled file order, the
``area`` field different from the box area (and one annotation whose area is outside pycocotools' "all" range),
crowds, ``ignore`` flags, tied scores across and inside images, more than 100 detections of a class on an image.
The point estimate of each detector must be pycocotools' ``stats[0]`` bit for bit, and a bootstrap replicate
pycocotools on the resampled files (image copies next to each other in sorted-id order, every detection line
repeated once per copy right after itself).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests.test_coco_fidelity import _peer, make_coco
from vocbench.compare import bootstrap_weights, compare
from vocbench.errors import VocbenchWarning
from vocbench.io.coco import detections_to_coco, export_coco
from vocbench.io.coco_gt import load_coco_gt
from vocbench.io.detections import read_detections

pytest.importorskip("pycocotools")


def _second_detector(dt: list, seed: int) -> list:
    """Another detector on the same set: some lines dropped, boxes moved, scores re-drawn from a small pool."""
    rng = np.random.default_rng(seed)
    pool = np.round(rng.uniform(0.05, 1.0, 9), 2)
    out = []
    for d in dt:
        if rng.random() < 0.2:
            continue
        x, y, w, h = d["bbox"]
        j = rng.normal(0, 0.05, 4) * [w, h, w, h]
        out.append({"image_id": d["image_id"], "category_id": d["category_id"], "score": float(rng.choice(pool)),
                    "bbox": [float(x + j[0]), float(y + j[1]), float(max(w + j[2], 0.5)), float(max(h + j[3], 0.5))]})
    return out


def _coco_case(seed: int) -> tuple[dict, list, list]:
    gt, dt = make_coco(seed, num_images=24)
    # an annotation whose ``area`` field is outside pycocotools' "all" range [0, 1e10]: ignored there, whatever
    # its box (a VOC-pixel round trip would count it)
    first = gt["annotations"][0]
    gt["annotations"].append(dict(first, id=10 ** 6, bbox=[5.0, 5.0, 40.0, 30.0], area=2e10, iscrowd=0))
    dt = dt + [{"image_id": first["image_id"], "category_id": first["category_id"], "score": 0.99,
                "bbox": [5.5, 5.0, 40.0, 30.0]}]
    return gt, dt, _second_detector(dt, seed + 1)


def _load(tmp_path, gt: dict, dts: dict) -> tuple:
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        ds = load_coco_gt(tmp_path / "gt.json")
        out = {}
        for name, dt in dts.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(dt))
            out[name] = read_detections(tmp_path / f"{name}.json", ds)
    return ds, out


def _compare(ds, dets: dict, bootstrap: int = 100, seed: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return compare(ds, dets, metrics=("coco",), bootstrap=bootstrap, seed=seed)


def _per_class(precision: np.ndarray) -> np.ndarray:
    """pycocotools' AP per category: the mean of ``precision[:, :, k, all, 100]`` (NaN where it is -1)."""
    p = precision[:, :, :, 0, -1]
    return np.array([np.mean(p[:, :, k]) if (p[:, :, k] > -1).any() else np.nan for k in range(p.shape[2])])


@pytest.mark.parametrize("seed", [31, 32])
def test_point_estimates_are_pycocotools_stats0_bit_for_bit(tmp_path, seed):
    gt, dt_a, dt_b = _coco_case(seed)
    ds, dets = _load(tmp_path, gt, {"a": dt_a, "b": dt_b})
    ids = [im["id"] for im in gt["images"]]
    assert ids != sorted(ids)  # the file order is not the evaluation order
    cmp = _compare(ds, dets)
    for name, dt in (("a", dt_a), ("b", dt_b)):
        ref = _peer("pycocotools", gt, dt)
        s = cmp.score(name, "coco")
        assert s.mAP == ref["stats"][0]
        np.testing.assert_array_equal(s.per_class, _per_class(ref["precision"]))
    assert cmp.pair("a", "b", "coco").diff == cmp.score("b", "coco").mAP - cmp.score("a", "coco").mAP


def _resampled_files(gt: dict, dt: list, image_ids: np.ndarray, w: np.ndarray) -> tuple[dict, list]:
    """The resampled COCO files: image ``id`` copied ``w`` times as ids ``id * 100 + k`` (so the copies stay next
    to each other in sorted-id order, at the image's place), its annotations copied; every detection line repeated
    once per copy of its image, right after itself."""
    mult = dict(zip(image_ids.tolist(), w.tolist()))
    assert max(mult.values()) < 100
    images = [dict(im, id=im["id"] * 100 + k) for im in gt["images"] for k in range(mult[im["id"]])]
    anns = []
    for a in gt["annotations"]:
        for k in range(mult[a["image_id"]]):
            anns.append(dict(a, id=len(anns) + 1, image_id=a["image_id"] * 100 + k))
    res = [dict(d, image_id=d["image_id"] * 100 + k) for d in dt for k in range(mult[d["image_id"]])]
    return dict(gt, images=images, annotations=anns), res


def test_replicates_are_pycocotools_on_resampled_files(tmp_path):
    """The weights are per image row (file order); the evaluation runs in sorted-id order; a replicate must still
    mean "image i drawn w[i] times"."""
    gt, dt_a, dt_b = _coco_case(33)
    ds, dets = _load(tmp_path, gt, {"a": dt_a, "b": dt_b})
    R, seed = 100, 5
    cmp = _compare(ds, dets, bootstrap=R, seed=seed)
    weights = bootstrap_weights(ds.num_images, R, seed)
    checked = 0
    for r in (0, 41, 99):
        w = weights[r]
        assert w.max() >= 2 and (w == 0).any()
        for j, dt in enumerate((dt_a, dt_b)):
            rgt, rdt = _resampled_files(gt, dt, ds.coco.image_ids, w)
            ref = _peer("pycocotools", rgt, rdt)
            np.testing.assert_allclose(cmp.replicates_per_class[0, r, j], _per_class(ref["precision"]), rtol=0,
                                       atol=1e-12, equal_nan=True)
            assert abs(cmp.replicates[0, r, j] - ref["stats"][0]) <= 1e-12
            checked += 1
    assert checked == 6


def test_voc_data_and_its_coco_export_compare_identically(tmp_path, small_voc_pair):
    """A VOC set exported to COCO (ids in set order, boxes as the export writes them) and read back is the same
    evaluation: same point estimates, same replicates for the same seed."""
    ds, a, b = small_voc_pair
    (tmp_path / "gt.json").write_text(json.dumps(export_coco(ds)))
    files = {}
    for name, d in (("a", a), ("b", b)):
        files[name] = detections_to_coco(ds, d)
    cds, cdets = _load(tmp_path, export_coco(ds), files)
    assert cds.coco is not None and ds.coco is None
    voc = _compare(ds, {"a": a, "b": b}, seed=7)
    coco = _compare(cds, cdets, seed=7)
    np.testing.assert_array_equal(voc.point, coco.point)
    np.testing.assert_array_equal(voc.replicates, coco.replicates)
    np.testing.assert_array_equal(voc.replicates_per_class, coco.replicates_per_class)
    assert voc.score("a", "coco").ci == coco.score("a", "coco").ci


@pytest.fixture(scope="module")
def small_voc_pair(voc07_test, yolov2_dets, yolov3_dets):
    import vocbench

    mask = np.zeros(voc07_test.num_images, bool)
    mask[:120] = True
    sub = voc07_test.subset_images(mask)
    out = []
    for path in (yolov2_dets, yolov3_dets):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VocbenchWarning)
            d = vocbench.read_detections(path, voc07_test)
        out.append(d[mask[d.image_index]])  # a prefix of the images: indices unchanged
    return sub, out[0], out[1]


def test_voc_point_estimate_is_evaluate_coco_bit_for_bit(small_voc_pair):
    from vocbench.eval.coco import evaluate_coco

    ds, a, b = small_voc_pair
    cmp = _compare(ds, {"a": a, "b": b})
    for name, d in (("a", a), ("b", b)):
        assert cmp.score(name, "coco").mAP == evaluate_coco(ds, d).stats["AP"]


@pytest.mark.slow
def test_real_voc07_cli_coco_numbers_are_pycocotools_on_the_export(voc07_test, yolov2_dets, yolov3_dets, tmp_path,
                                                                   capsys):
    """`vocbench compare --metric coco` and `diagnose --protocol coco` on VOC07 test with the YOLOv2/YOLOv3 files:
    the compare point estimates are pycocotools' stats[0] on the `export-coco` files, bit for bit; diagnose's base
    AP is tidecv's on the same files (tests/_reference/diagnose.run_tidecv)."""
    import vocbench
    from tests._reference.diagnose import run_tidecv
    from vocbench.cli import main

    out = tmp_path / "cmp.json"
    argv = ["compare", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", f"v2={yolov2_dets}",
            "--dets", f"v3={yolov3_dets}", "--metric", "coco", "--bootstrap", "100", "--json", str(out)]
    assert main(argv) == 0
    got = json.loads(out.read_text())["models"]
    assert (round(got["v2"]["coco"]["mAP"], 6), round(got["v3"]["coco"]["mAP"], 6)) == (0.421841, 0.329263)
    for name, path in (("v2", yolov2_dets), ("v3", yolov3_dets)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VocbenchWarning)
            dets = vocbench.read_detections(path, voc07_test)
        ref = _peer("pycocotools", export_coco(voc07_test), detections_to_coco(voc07_test, dets))
        assert got[name]["coco"]["mAP"] == ref["stats"][0]
        dj = tmp_path / f"diag-{name}.json"
        assert main(["diagnose", "--gt", str(voc07_test.root), "--set", "2007:test", "--dets", str(path),
                     "--protocol", "coco", "--json", str(dj)]) == 0
        assert abs(json.loads(dj.read_text())["mAP"] - run_tidecv(voc07_test, dets, tmp_path)["ap"]) <= 1e-9
    capsys.readouterr()


def test_library_resample_of_coco_data_is_scored_like_the_resampled_files(tmp_path):
    """vocbench.compare.resample_dataset keeps the COCO fields: evaluate_coco on it = pycocotools on the resampled
    files = compare's replicate."""
    from vocbench.compare import resample_dataset
    from vocbench.eval.coco import evaluate_coco

    gt, dt_a, dt_b = _coco_case(34)
    ds, dets = _load(tmp_path, gt, {"a": dt_a, "b": dt_b})
    cmp = _compare(ds, dets, bootstrap=100, seed=9)
    w = bootstrap_weights(ds.num_images, 100, 9)[17]
    rds, rdets = resample_dataset(ds, dets["a"], w)
    assert rds.coco is not None and rdets.xywh is not None
    ours = evaluate_coco(rds, rdets)
    ref = _peer("pycocotools", *_resampled_files(gt, dt_a, ds.coco.image_ids, w))
    np.testing.assert_array_equal(ours.precision, ref["precision"])
    assert ours.stats["AP"] == ref["stats"][0]
    assert abs(cmp.replicates[0, 17, 0] - ours.stats["AP"]) <= 1e-12
