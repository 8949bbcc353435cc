"""vocbench.diagnose: hand-built cases per error type (VOC and COCO rules), a slow twin, tidecv parity."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import vocbench
from tests._reference.diagnose import TYPES, reference_diagnose, run_tidecv
from vocbench.diagnose import ERROR_TYPES, diagnose
from vocbench.errors import InputError, VocbenchWarning
from vocbench.structures import Dataset, Detections

CLASSES = ("a", "b", "c")


def make(gt, dets, num_images=1, size=200):
    """gt: [(image, cls, box, difficult)], dets: [(image, cls, box, score)] → Dataset, Detections."""
    ds = Dataset.from_arrays(
        image_ids=[f"{i:06d}" for i in range(num_images)], widths=np.full(num_images, size),
        heights=np.full(num_images, size),
        image_index=np.array([g[0] for g in gt], np.int64), class_index=np.array([g[1] for g in gt], np.int64),
        boxes=np.array([g[2] for g in gt], np.float64).reshape(-1, 4),
        difficult=np.array([bool(g[3]) for g in gt], bool), classes=CLASSES)
    det = Detections(image_index=np.array([d[0] for d in dets], np.int64),
                     class_index=np.array([d[1] for d in dets], np.int64),
                     scores=np.array([d[3] for d in dets], np.float64),
                     boxes=np.array([d[2] for d in dets], np.float64).reshape(-1, 4), source="test")
    return ds, det


def quiet_diagnose(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return diagnose(*args, **kwargs)


BOX = (11.0, 11.0, 60.0, 60.0)          # 50 x 50 pixels
FAR = (120.0, 120.0, 150.0, 150.0)      # no overlap with BOX
HALF = (11.0, 11.0, 60.0, 35.0)         # IoU 0.5 with BOX ('+1' pixels: 50 * 25 / 2500)
LOW = (11.0, 11.0, 60.0, 20.0)          # IoU 0.2 with BOX


@pytest.mark.parametrize("protocol", ["devkit", "voc_eval", "coco"])
def test_background_fp_above_the_only_tp(protocol):
    """One background FP scored above the only TP: AP 0.5 (all-point, and 101-point: every recall threshold reads
    the envelope's 0.5), bkg dAP 0.5, every other type 0."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, FAR, 0.9), (0, 0, BOX, 0.8)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.mAP == pytest.approx(0.5, abs=1e-15)
    assert d.errors["bkg"] == pytest.approx(0.5, abs=1e-15)
    assert d.counts["bkg"] == 1
    for t in ("cls", "loc", "both", "dupe", "miss"):
        assert d.errors[t] == 0.0 and d.counts[t] == 0
    assert d.special["false_pos"] == pytest.approx(1.0 - d.mAP, abs=1e-15)
    assert d.special["false_neg"] == 0.0


def test_bkg_dap_is_exactly_one_half_under_devkit():
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, FAR, 0.9), (0, 0, BOX, 0.8)])
    d = quiet_diagnose(ds, det)
    assert d.errors["bkg"] == 0.5
    assert d.voc07 is not None and d.voc07["mAP"] == pytest.approx(6 * 0.5 / 11 + 5 * 0.5 / 11)


@pytest.mark.parametrize("protocol", ["devkit", "coco"])
def test_loc_error_fixed_to_tp(protocol):
    """A mislocalised detection (IoU 0.2) of the only object: AP 0, fixing loc gives AP 1; miss is 0 (the GT is
    explained by the loc error)."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, LOW, 0.9)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.mAP == 0.0
    assert d.counts == {"cls": 0, "loc": 1, "both": 0, "dupe": 0, "bkg": 0, "miss": 0}
    assert d.errors["loc"] == 1.0
    assert all(d.errors[t] == 0.0 for t in ERROR_TYPES if t != "loc")
    assert d.error_target[0] == 0


@pytest.mark.parametrize("protocol", ["devkit", "coco"])
def test_cls_error_moves_to_the_gt_class(protocol):
    """A detection of class b on an object of class a: class a AP 0 → 1 after the cls fix; class b has no GT."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 1, BOX, 0.9)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.counts["cls"] == 1 and d.counts["miss"] == 0
    if protocol == "coco":  # tidecv: class b (detections, no positives) counts with AP 0 until the fix moves it
        assert d.mAP == 0.0 and d.errors["cls"] == 1.0
    else:
        assert d.mAP == 0.0 and d.errors["cls"] == 1.0
        assert np.isnan(d.per_class_ap[1])


@pytest.mark.parametrize("protocol", ["devkit", "coco"])
def test_duplicate_and_miss(protocol):
    """TP, then a duplicate of it, then nothing on a second object: dupe and miss errors."""
    other = (100.0, 100.0, 140.0, 140.0)
    ds, det = make([(0, 0, BOX, 0), (0, 0, other, 0)], [(0, 0, BOX, 0.9), (0, 0, BOX, 0.8)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.counts["dupe"] == 1 and d.counts["miss"] == 1
    # VOC12: points (r .5, p 1), (r .5, p .5) → 0.5; without the dupe still 0.5; with npos 1 → 1.0
    if protocol == "devkit":
        assert d.mAP == 0.5 and d.errors["dupe"] == 0.0 and d.errors["miss"] == 0.5
    assert d.missed.tolist() == [False, True]


def test_duplicate_above_a_tp_hand_computed():
    """TP on A (0.9), its duplicate (0.8), TP on B (0.7). VOC12: envelope 1 up to recall 1/2, then 2/3 → AP 5/6;
    removing the duplicate gives AP 1: dupe dAP 1/6. VOC07: (6 × 1 + 5 × 2/3) / 11."""
    other = (100.0, 100.0, 140.0, 140.0)
    ds, det = make([(0, 0, BOX, 0), (0, 0, other, 0)], [(0, 0, BOX, 0.9), (0, 0, BOX, 0.8), (0, 0, other, 0.7)])
    d = quiet_diagnose(ds, det)
    assert d.mAP == pytest.approx(5 / 6, abs=1e-15)
    assert d.errors["dupe"] == pytest.approx(1 / 6, abs=1e-15)
    assert d.counts == {"cls": 0, "loc": 0, "both": 0, "dupe": 1, "bkg": 0, "miss": 0}
    assert d.voc07["mAP"] == pytest.approx((6 + 5 * 2 / 3) / 11, abs=1e-15)
    assert d.voc07["errors"]["dupe"] == pytest.approx(1 - (6 + 5 * 2 / 3) / 11, abs=1e-15)
    assert all(d.errors[t] == 0.0 for t in ERROR_TYPES if t != "dupe")


def test_crowd_ignores_under_coco_but_the_detection_keeps_an_error_type():
    """tidecv: a detection inside a crowd (difficult) region of its class is not counted in AP, yet it is still
    given an error type (here bkg: no non-crowd GT overlaps it)."""
    ds, det = make([(0, 0, BOX, 1), (0, 0, FAR, 0)], [(0, 0, (15.0, 15.0, 40.0, 40.0), 0.95), (0, 0, FAR, 0.9)])
    d = quiet_diagnose(ds, det, protocol="coco")
    assert d.mAP == 1.0 and d.counts["bkg"] == 1 and d.errors["bkg"] == 0.0
    v = quiet_diagnose(ds, det, protocol="devkit")  # VOC: IoU 0.26 with the difficult box → a loc error (removed)
    assert v.mAP == 0.5 and v.counts["loc"] == 1 and v.errors["loc"] == 0.5


@pytest.mark.parametrize("protocol", ["devkit", "coco"])
def test_both_error_hand(protocol):
    """Another class's object at IoU 0.2: both; removing it restores AP 1."""
    ds, det = make([(0, 0, BOX, 0), (0, 1, FAR, 0)], [(0, 0, LOW, 0.95), (0, 1, FAR, 0.9), (0, 1, BOX, 0.8)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.counts["both"] == 0 and d.counts["cls"] == 1  # (0, 1, BOX) is IoU 1 with class a's object: cls
    ds, det = make([(0, 0, BOX, 0), (0, 1, FAR, 0)], [(0, 1, FAR, 0.8), (0, 1, LOW, 0.9)])
    d = quiet_diagnose(ds, det, protocol=protocol)
    assert d.counts["both"] == 1
    assert d.per_class_ap[1] == pytest.approx(0.5, abs=1e-15)  # FP then TP: both AP rules give 1/2
    assert d.per_class_errors["both"][1] == pytest.approx(0.5, abs=1e-15)


def test_both_error():
    """Another class at IoU 0.2 (below t_f, above t_b): both."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 1, LOW, 0.9)])
    d = quiet_diagnose(ds, det)
    assert d.counts["both"] == 1 and d.counts["miss"] == 1


def test_difficult_is_neither_tp_nor_error():
    ds, det = make([(0, 0, BOX, 1), (0, 0, FAR, 0)], [(0, 0, BOX, 0.9), (0, 0, FAR, 0.8)])
    d = quiet_diagnose(ds, det)
    assert d.mAP == 1.0
    assert sum(d.counts.values()) == 0
    assert d.error_type.tolist() == [-1, -1]


def test_exact_threshold_devkit_vs_voc_eval():
    """IoU exactly 0.5: a TP under devkit (>=), a loc error under voc_eval (>)."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, HALF, 0.9)])
    assert quiet_diagnose(ds, det, protocol="devkit").mAP == 1.0
    d = quiet_diagnose(ds, det, protocol="voc_eval")
    assert d.mAP == 0.0 and d.counts["loc"] == 1 and d.errors["loc"] == 1.0


def test_best_error_of_a_gt_is_fixed_others_removed():
    """Two loc errors on one object: the higher-scored one becomes the TP, the other is removed → AP 1."""
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, LOW, 0.9), (0, 0, LOW, 0.7)])
    d = quiet_diagnose(ds, det)
    assert d.counts["loc"] == 2 and d.errors["loc"] == 1.0


def test_empty_detections_every_gt_missed():
    ds, det = make([(0, 0, BOX, 0), (0, 1, FAR, 0)], [])
    d = quiet_diagnose(ds, det)
    assert d.mAP == 0.0 and d.counts["miss"] == 2 and d.missed.all()
    c = quiet_diagnose(ds, det, protocol="coco")
    assert c.counts["miss"] == 2


def test_class_without_positives_warns():
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, BOX, 0.9)])
    with pytest.warns(VocbenchWarning, match="b, c"):
        diagnose(ds, det)


def test_base_ap_equals_evaluate_voc12(voc07_test, yolov2_dets):
    dets = vocbench.read_detections(yolov2_dets, voc07_test)
    for protocol in ("devkit", "voc_eval"):
        d = diagnose(voc07_test, dets, protocol=protocol)
        r = vocbench.evaluate(voc07_test, dets, metrics=("voc07", "voc12"), protocol=protocol)
        assert abs(d.mAP - r.voc[0].mAP["voc12"]) <= 1e-12
        assert abs(d.voc07["mAP"] - r.voc[0].mAP["voc07"]) <= 1e-12
        np.testing.assert_array_equal(d.per_class_ap, r.voc[0].ap["voc12"])


def test_bad_input_is_refused_like_evaluate():
    ds, det = make([(0, 0, BOX, 0)], [(0, 7, BOX, 0.9)])
    with pytest.raises(InputError, match="class_index"):
        diagnose(ds, det)
    ds, det = make([(0, 0, BOX, 0)], [(0, 0, BOX, float("nan"))])
    with pytest.raises(InputError, match="NaN"):
        diagnose(ds, det)
    with pytest.raises(ValueError, match="protocol"):
        diagnose(ds, det, protocol="tide")


# ------------------------------------------------------------------------------------------------ random data
def random_case(seed: int, n_images=4, crowd=True):
    """Adversarial small data: boxes on a coarse grid (exact ties in IoU), tied scores, duplicates, crowd,
    empty classes and images."""
    rng = np.random.default_rng(seed)
    grid = np.array([1.0, 11.0, 21.0, 31.0, 46.0, 61.0, 81.0])
    gt, dets = [], []

    def box():
        x1, x2 = np.sort(rng.choice(grid, 2, replace=False))
        y1, y2 = np.sort(rng.choice(grid, 2, replace=False))
        return (float(x1), float(y1), float(x2), float(y2))

    n_classes_used = int(rng.integers(1, 4))
    for im in range(n_images):
        for _ in range(int(rng.integers(0, 5))):
            gt.append((im, int(rng.integers(0, n_classes_used)), box(), bool(crowd and rng.random() < 0.2)))
    scores = np.round(rng.random(6), 2)
    for im in range(n_images):
        objs = [g for g in gt if g[0] == im]
        for _ in range(int(rng.integers(0, 8))):
            r = rng.random()
            if objs and r < 0.5:
                g = objs[int(rng.integers(len(objs)))]
                b = g[2] if rng.random() < 0.5 else tuple(float(v + rng.integers(-10, 11)) for v in g[2])
                c = g[1] if rng.random() < 0.7 else int(rng.integers(0, 3))
            else:
                b, c = box(), int(rng.integers(0, 3))
            dets.append((im, c, b, float(scores[int(rng.integers(len(scores)))])))
    if dets and rng.random() < 0.3:
        dets.append(dets[int(rng.integers(len(dets)))])  # an exact duplicate row
    return gt, dets


def _compare(d, ref, tol):
    assert abs(d.mAP - ref["ap"]) <= tol
    for t in TYPES:
        assert abs(d.errors[t] - ref["errors"][t]) <= tol, t
    for t in ("false_pos", "false_neg"):
        assert abs(d.special[t] - ref["special"][t]) <= tol, t


@pytest.mark.parametrize("protocol", ["devkit", "voc_eval", "coco"])
def test_twin_on_random_data(protocol):
    checked = 0
    for seed in range(150):
        gt, dets = random_case(seed)
        if not gt:
            continue
        ds, det = make(gt, dets, num_images=4, size=100)
        d = quiet_diagnose(ds, det, protocol=protocol, sensitivity=False, confusion=False)
        ref = reference_diagnose(gt, dets, 3, protocol=protocol)
        _compare(d, ref, 1e-12)
        assert d.counts == ref["counts"]
        if protocol != "coco":
            assert abs(d.voc07["mAP"] - ref["voc07"]["ap"]) <= 1e-12
            for t in TYPES:
                assert abs(d.voc07["errors"][t] - ref["voc07"]["errors"][t]) <= 1e-12
        checked += 1
    assert checked > 100


def test_tidecv_parity_on_random_data(tmp_path):
    """tidecv 1.0.1 itself on the COCO export: base AP, six main and two special dAPs to 1e-6, error counts."""
    pytest.importorskip("tidecv")
    checked = 0
    for seed in range(40):
        gt, dets = random_case(1000 + seed)
        if not gt or not dets:
            continue  # tidecv divides by zero without any class to average
        ds, det = make(gt, dets, num_images=4, size=100)
        d = quiet_diagnose(ds, det, protocol="coco", sensitivity=False, confusion=False)
        try:
            ref = run_tidecv(ds, det, tmp_path)
        except ZeroDivisionError:  # tidecv: a fix left no class to average (vocbench reports mAP 0 there)
            continue
        _compare(d, ref, 1e-6)
        assert d.counts == ref["counts"]
        checked += 1
    assert checked > 25


def test_tidecv_parity_beyond_100_detections_per_image(tmp_path):
    """tidecv keeps the top 100 detections of an image over all classes (pycocotools: 100 per class)."""
    pytest.importorskip("tidecv")
    for seed in range(3):
        rng = np.random.default_rng(seed)
        gt, _ = random_case(500 + seed, n_images=2, crowd=True)
        gt = gt + [(0, 0, (11.0, 11.0, 40.0, 40.0), False), (1, 1, (21.0, 1.0, 50.0, 30.0), False),
                   (1, 2, (5.0, 5.0, 60.0, 60.0), False)]
        dets = []
        for _ in range(150):
            x1, y1 = (float(v) for v in rng.integers(1, 60, 2))
            w, h = (float(v) for v in rng.integers(5, 40, 2))
            dets.append((int(rng.integers(0, 2)), int(rng.integers(0, 3)), (x1, y1, x1 + w, y1 + h),
                         float(np.round(rng.random(), 2))))
        ds, det = make(gt, dets, num_images=2, size=100)
        d = quiet_diagnose(ds, det, protocol="coco", sensitivity=False, confusion=False)
        _compare(d, run_tidecv(ds, det, tmp_path), 1e-6)
        _compare(d, reference_diagnose(gt, dets, 3, protocol="coco"), 1e-12)


@pytest.mark.parametrize(("iou", "bg"), [(0.75, 0.1), (0.3, 0.2), (0.5, 0.0)])
def test_other_thresholds_against_tidecv_and_twin(iou, bg, tmp_path):
    pytest.importorskip("tidecv")
    checked = 0
    for seed in range(12):
        gt, dets = random_case(3000 + seed)
        if not gt or not dets:
            continue
        ds, det = make(gt, dets, num_images=4, size=100)
        d = quiet_diagnose(ds, det, protocol="coco", iou=iou, background_iou=bg, sensitivity=False, confusion=False)
        try:
            ref = run_tidecv(ds, det, tmp_path, iou=iou, background_iou=bg)
        except ZeroDivisionError:
            continue
        _compare(d, ref, 1e-6)
        _compare(d, reference_diagnose(gt, dets, 3, protocol="coco", iou=iou, background_iou=bg), 1e-12)
        v = quiet_diagnose(ds, det, protocol="devkit", iou=iou, background_iou=bg, sensitivity=False,
                           confusion=False)
        _compare(v, reference_diagnose(gt, dets, 3, protocol="devkit", iou=iou, background_iou=bg), 1e-12)
        checked += 1
    assert checked >= 6


@pytest.mark.slow
@pytest.mark.parametrize("which", ["yolov2", "yolov3"])
def test_tidecv_parity_on_real_detections(which, voc07_test, request, tmp_path):
    pytest.importorskip("tidecv")
    path = request.getfixturevalue(f"{which}_dets")
    dets = vocbench.read_detections(path, voc07_test)
    d = diagnose(voc07_test, dets, protocol="coco")
    ref = run_tidecv(voc07_test, dets, tmp_path)
    _compare(d, ref, 1e-6)


# ------------------------------------------------------------------------------------------------ results
def test_result_is_frozen_and_serialises():
    gt, dets = random_case(3)
    ds, det = make(gt, dets, num_images=4, size=100)
    d = quiet_diagnose(ds, det)
    out = json.loads(json.dumps(d.to_dict()))
    assert set(out) >= {"protocol", "iou_threshold", "mAP", "errors", "special", "per_class", "sensitivity",
                        "confusion"}
    assert set(out["errors"]) == set(ERROR_TYPES) and set(out["special"]) == {"false_pos", "false_neg"}
    df = d.to_pandas()
    assert list(df.index) == list(CLASSES) and "d_loc" in df.columns
    assert "TIDE diagnosis" in str(d)
    with pytest.raises(AttributeError):
        d.mAP = 1.0  # type: ignore[misc]


def test_confusion_matrix_axes():
    """TP on the diagonal, a cls error at (GT class, predicted class), a bkg FP in the background row, the
    undetected object in the missed column."""
    other = (100.0, 100.0, 140.0, 140.0)
    ds, det = make([(0, 0, BOX, 0), (0, 1, other, 0), (0, 2, (160.0, 1.0, 190.0, 30.0), 0)],
                   [(0, 0, BOX, 0.9), (0, 2, other, 0.9), (0, 1, (1.0, 170.0, 20.0, 190.0), 0.9)])
    m = quiet_diagnose(ds, det).confusion
    assert m is not None
    assert m.matrix[0, 0] == 1  # a detected as a
    assert m.matrix[1, 2] == 1  # b's object detected as c
    assert m.matrix[3, 1] == 1  # background detected as b
    assert m.matrix[1, 3] == 1 and m.matrix[2, 3] == 1  # b's and c's objects missed
    assert m.matrix.sum() == 5
    high = quiet_diagnose(ds, det, score_threshold=0.95).confusion
    assert high is not None and high.matrix[:, :3].sum() == 0 and high.matrix[:3, 3].tolist() == [1, 1, 1]


def test_sensitivity_bins_and_constant():
    gt = [(0, 0, (1.0, 1.0, 10.0 * (k + 1), 10.0 * (k + 1)), 0) for k in range(10)]
    dets = [(0, 0, g[2], 1.0 - 0.01 * k) for k, g in enumerate(gt[5:])]
    ds, det = make(gt, dets, size=200)
    s = quiet_diagnose(ds, det).sensitivity
    assert s is not None and s.n_norm == pytest.approx(0.15)
    assert s.counts["size"].tolist() == [1, 2, 4, 2, 1]
    # the five largest objects are all found, the five smallest never: XS/S AP_N 0, L/XL AP_N 1
    assert s.ap_n["size"][0] == 0.0 and s.ap_n["size"][1] == 0.0
    assert s.ap_n["size"][3] == 1.0 and s.ap_n["size"][4] == 1.0


def test_sensitivity_occlusion_pose_truncation_bins():
    """VOC2012-style tags: occluded (absent = left out), pose values, truncated; a TP on an object outside a bin is
    not counted in that bin."""
    import dataclasses

    boxes = [(1.0 + 20 * k, 1.0, 15.0 + 20 * k, 15.0) for k in range(4)]
    gt = [(0, 0, b, 0) for b in boxes]
    ds, det = make(gt, [(0, 0, boxes[0], 0.9), (0, 0, boxes[1], 0.8)], size=200)
    ds = dataclasses.replace(ds, occluded=np.array([1, 0, 0, -1], np.int8),
                             poses=np.array(["Rear", "Frontal", "Rear", "Frontal"]),
                             truncated=np.array([True, False, False, False]))
    s = quiet_diagnose(ds, det).sensitivity
    assert s is not None
    assert s.characteristics["occluded"] == ("no", "yes") and s.counts["occluded"].tolist() == [2, 1]
    assert s.characteristics["pose"] == ("Frontal", "Rear") and s.counts["pose"].tolist() == [2, 2]
    # occluded: the one occluded object is found first → AP_N 1; of the two visible ones one is found (0.8) after
    # a detection that is not counted there → recall 1/2 at normalised precision 1 → AP_N 0.5
    assert s.ap_n["occluded"].tolist() == [0.5, 1.0]
    assert s.ap_n["truncated"].tolist() == [1 / 3, 1.0]
    assert s.to_dict()["characteristics"]["pose"]["bins"] == ["Frontal", "Rear"]


def test_normalized_ap_kernel_against_twin():
    from tests._reference.diagnose import ap_normalized
    from vocbench.diagnose._kernels import normalized_ap_kernel

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 30))
        state = rng.choice(np.array([0, 1, 3], np.int8), n)
        npos = int(rng.integers(max(1, int((state == 1).sum())), 40))
        n_norm = float(rng.choice([0.15, 7.5, 742.8]))
        got = normalized_ap_kernel(np.arange(n, dtype=np.int64), np.array([0, n], np.int64), state,
                                   np.array([npos], np.int64), n_norm)[0]
        want = ap_normalized([bool(x) for x in state[state != 3]], npos, n_norm)
        assert abs(got - want) <= 1e-12


def test_normalized_ap_bins_kernel_equals_one_bin_at_a_time():
    """The all-bins kernel = masking the TPs of other bins out and scoring each bin with the one-curve twin."""
    from tests._reference.diagnose import ap_normalized
    from vocbench.diagnose._kernels import normalized_ap_bins_kernel

    rng = np.random.default_rng(11)
    for _ in range(100):
        n, nb = int(rng.integers(0, 40)), int(rng.integers(1, 5))
        state = rng.choice(np.array([0, 1, 3], np.int8), n)
        tp_bin = np.where(state == 1, rng.integers(-1, nb, n), -1).astype(np.int64)
        npos = np.array([[int((tp_bin == b).sum()) + int(rng.integers(0, 4)) for b in range(nb)]], np.int64)
        got = normalized_ap_bins_kernel(np.arange(n, dtype=np.int64), np.array([0, n], np.int64), state, tp_bin,
                                        npos, 5.0)[0]
        for b in range(nb):
            keep = (state == 0) | ((state == 1) & (tp_bin == b))
            if npos[0, b] == 0:
                assert np.isnan(got[b])
            else:
                assert abs(got[b] - ap_normalized([bool(x) for x in state[keep]], int(npos[0, b]), 5.0)) <= 1e-12
