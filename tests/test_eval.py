"""The VOC scoring engine on hand-made cases with known answers, and random cases against the slow twin."""

from __future__ import annotations

import math
import warnings
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from tests._reference.eval import voc_ap_ref, voc_map_ref
from vocbench import Dataset, Detections, EvalResult, InputError, VocbenchWarning, evaluate
from vocbench.eval import average_precision_voc07, average_precision_voc12, match_detections
from vocbench.eval.ap import VOC07_THRESHOLDS_DEVKIT, VOC07_THRESHOLDS_VOC_EVAL
from vocbench.eval.matching import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP

CLASSES = ("a", "b", "c")


def make_dataset(objects, num_images=3, classes=CLASSES) -> Dataset:
    """objects: list of (image, class, box, difficult)."""
    return Dataset.from_arrays(
        image_ids=[f"{i:06d}" for i in range(num_images)], widths=np.full(num_images, 500),
        heights=np.full(num_images, 400), image_index=[o[0] for o in objects], class_index=[o[1] for o in objects],
        boxes=np.array([o[2] for o in objects], float).reshape(-1, 4), difficult=[bool(o[3]) for o in objects],
        classes=classes)


def make_dets(rows) -> Detections:
    """rows: list of (image, class, score, box)."""
    return Detections(image_index=[r[0] for r in rows], class_index=[r[1] for r in rows],
                      scores=[r[2] for r in rows], boxes=np.array([r[3] for r in rows], float).reshape(-1, 4),
                      source="test")


def quiet_evaluate(*args, **kwargs) -> EvalResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return evaluate(*args, **kwargs)


def sequence_case(pattern: str, npos: int):
    """One class, one image per GT; detections in score order: 'T' hits the next unmatched GT, 'F' hits nothing."""
    objects = [(i, 0, [10, 10, 50, 50], False) for i in range(npos)]
    rows, k = [], 0
    for j, ch in enumerate(pattern):
        score = 1.0 - j / 100
        if ch == "T":
            rows.append((k, 0, score, [10, 10, 50, 50]))
            k += 1
        else:
            rows.append((0, 0, score, [300, 300, 350, 350]))
    return make_dataset(objects, num_images=npos, classes=("a",)), make_dets(rows)


# ------------------------------------------------------------------------------------------------ protocols
def test_iou_exactly_at_threshold_devkit_vs_voc_eval():
    ds = make_dataset([(0, 0, [1, 1, 10, 10], False)], num_images=1, classes=("a",))
    dets = make_dets([(0, 0, 0.9, [1, 1, 10, 20])])  # IoU exactly 0.5 with '+1' pixel areas
    dev = match_detections(ds, dets, protocol="devkit")
    ve = match_detections(ds, dets, protocol="voc_eval")
    assert dev.best_iou[0] == 0.5
    assert dev.outcome.tolist() == [OUTCOME_TP]
    assert ve.outcome.tolist() == [OUTCOME_FP]
    assert quiet_evaluate(ds, dets, protocol="devkit").mAP["voc07"] == 1.0
    assert quiet_evaluate(ds, dets, protocol="voc_eval").mAP["voc07"] == 0.0


@pytest.mark.parametrize("pattern,npos,devkit,voc_eval", [
    ("TTTTTTTFFFT", 10, 0.793388, 0.768595),  # recall exactly 0.7 at threshold 0.7 / 0.7000000000000001
    ("TTTFFT", 5, 0.757576, 0.727273),        # recall exactly 0.6 at threshold 0.6 / 0.6000000000000001
    ("TTTFFFFFFT", 10, None, None),            # recall exactly 0.3 (0.3 < 0.30000000000000004 in both)
])
def test_recall_exactly_at_an_11_point_threshold(pattern, npos, devkit, voc_eval):
    ds, dets = sequence_case(pattern, npos)
    got_dev = quiet_evaluate(ds, dets, metrics=["voc07"], protocol="devkit").mAP["voc07"]
    got_ve = quiet_evaluate(ds, dets, metrics=["voc07"], protocol="voc_eval").mAP["voc07"]
    if devkit is not None:
        assert round(got_dev, 6) == devkit
        assert round(got_ve, 6) == voc_eval
    else:
        # 3/10 = 0.29999999999999999 is below 0.30000000000000004 in both protocols: the precision 1.0 reached
        # at recall 0.3 does not count for t = 0.3 (it would with an exact 0.3), only 4/10 at recall 0.4 does
        assert got_dev == got_ve
        assert got_dev == pytest.approx((3 * 1.0 + 2 * 4 / 10) / 11, abs=1e-15)


def test_thresholds_are_the_documented_floats():
    assert VOC07_THRESHOLDS_DEVKIT[3] == 0.30000000000000004
    assert VOC07_THRESHOLDS_DEVKIT[6] == 0.6 and VOC07_THRESHOLDS_DEVKIT[7] == 0.7
    assert VOC07_THRESHOLDS_VOC_EVAL[6] == 0.6000000000000001
    assert VOC07_THRESHOLDS_VOC_EVAL[7] == 0.7000000000000001
    assert list(VOC07_THRESHOLDS_VOC_EVAL) == np.arange(0.0, 1.1, 0.1).tolist()


# ------------------------------------------------------------------------------------------------ matching rules
def test_best_gt_already_matched_is_a_duplicate_without_fallback():
    # two GT side by side; both detections overlap GT 0 best, det 2 also overlaps GT 1 above 0.5
    ds = make_dataset([(0, 0, [0, 0, 99, 99], False), (0, 0, [20, 0, 119, 99], False)], num_images=1)
    dets = make_dets([(0, 0, 0.9, [0, 0, 99, 99]), (0, 0, 0.8, [5, 0, 104, 99])])
    m = match_detections(ds, dets)
    assert m.best_iou[1] > 0.5
    assert m.outcome.tolist() == [OUTCOME_TP, OUTCOME_DUPLICATE]
    r = quiet_evaluate(ds, dets)
    s = r.scores_at()
    assert (s.tp[0], s.fp[0], s.duplicates[0], s.missed[0]) == (1, 1, 1, 1)


def test_difficult_gt_winning_the_argmax_is_ignored():
    # det overlaps the difficult GT best (IoU 1) and the regular GT above threshold: ignored, regular GT missed
    ds = make_dataset([(0, 0, [0, 0, 99, 99], False), (0, 0, [10, 0, 109, 99], True)], num_images=1)
    dets = make_dets([(0, 0, 0.9, [10, 0, 109, 99]), (0, 0, 0.8, [10, 0, 109, 99]), (0, 0, 0.7, [0, 0, 99, 99])])
    m = match_detections(ds, dets)
    # repeat hits on the difficult GT stay ignored (it is never marked); the regular GT is still free
    assert m.outcome.tolist() == [OUTCOME_IGNORED, OUTCOME_IGNORED, OUTCOME_TP]
    r = quiet_evaluate(ds, dets)
    assert r.scores_at().npos[0] == 1
    assert r.mAP["voc07"] == 1.0 and r.mAP["voc12"] == 1.0


def test_first_gt_wins_iou_ties():
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False), (0, 0, [20, 0, 29, 9], False)], num_images=1)
    dets = make_dets([(0, 0, 0.9, [0, 0, 29, 9]), (0, 0, 0.8, [0, 0, 29, 9])])  # IoU 1/3 with both
    m = match_detections(ds, dets, iou=0.3)
    assert m.outcome.tolist() == [OUTCOME_TP, OUTCOME_DUPLICATE]


def test_detection_on_image_without_gt_of_its_class_is_fp():
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False)], num_images=2)
    dets = make_dets([(1, 0, 0.9, [0, 0, 9, 9]), (0, 1, 0.8, [0, 0, 9, 9]), (0, 0, 0.7, [0, 0, 9, 9])])
    assert match_detections(ds, dets).outcome.tolist() == [OUTCOME_FP, OUTCOME_FP, OUTCOME_TP]


@pytest.mark.parametrize("first_tp,expected12", [(True, 1.0), (False, 0.5)])
def test_tied_scores_keep_input_order(first_tp, expected12):
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False)], num_images=1, classes=("a",))
    tp = (0, 0, 0.5, [0, 0, 9, 9])
    fp = (0, 0, 0.5, [100, 100, 109, 109])
    dets = make_dets([tp, fp] if first_tp else [fp, tp])
    r = quiet_evaluate(ds, dets)
    assert r.mAP["voc12"] == expected12
    assert r.mAP["voc07"] == (1.0 if first_tp else 0.5)


def test_inverted_detection_counts_with_iou_zero_and_warns():
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False)], num_images=1, classes=("a",))
    dets = make_dets([(0, 0, 0.9, [9, 9, 0, 0]), (0, 0, 0.8, [0, 0, 9, 9])])
    with pytest.warns(VocbenchWarning, match="inverted"):
        r = evaluate(ds, dets)
    assert r.voc[0].outcome.tolist() == [OUTCOME_FP, OUTCOME_TP]


# ------------------------------------------------------------------------------------------------ AP edge cases
def test_perfect_detector_gets_exactly_one():
    rng = np.random.default_rng(0)
    objects = []
    for i in range(20):
        for _ in range(rng.integers(1, 4)):
            x, y = rng.integers(0, 300, 2)
            objects.append((i, int(rng.integers(0, 3)), [x, y, x + 40, y + 30], bool(rng.random() < 0.2)))
    ds = make_dataset(objects, num_images=20)
    dets = make_dets([(o[0], o[1], 0.5 + 0.01 * k, o[2]) for k, o in enumerate(objects)])
    for protocol in ("devkit", "voc_eval"):
        r = quiet_evaluate(ds, dets, protocol=protocol)
        assert r.mAP == {"voc07": 1.0, "voc12": 1.0}
        assert (r.per_class("voc07") == 1.0).all() and (r.per_class("voc12") == 1.0).all()


def test_class_without_detections_gets_zero_and_class_without_positives_nan():
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False), (0, 1, [0, 0, 9, 9], False), (1, 2, [5, 5, 20, 20], True)])
    dets = make_dets([(0, 0, 0.9, [0, 0, 9, 9]), (1, 2, 0.9, [5, 5, 20, 20])])
    with pytest.warns(VocbenchWarning, match="no non-difficult ground truth.*c"):
        r = evaluate(ds, dets)
    ap = r.per_class("voc07")
    assert ap["a"] == 1.0 and ap["b"] == 0.0 and math.isnan(ap["c"])
    assert r.mAP["voc07"] == 0.5 and r.mAP["voc12"] == 0.5  # NaN class left out of the mean
    d = r.to_dict()
    assert d["voc07"]["per_class"]["c"] != d["voc07"]["per_class"]["c"]  # NaN until to_jsonable


def test_no_detections_at_all():
    ds = make_dataset([(0, 0, [0, 0, 9, 9], False)], num_images=1)
    r = quiet_evaluate(ds, make_dets([]))
    assert r.per_class("voc07")["a"] == 0.0 and r.per_class("voc12")["a"] == 0.0


def test_single_curve_ap_functions_match_twin():
    rec = [0.1, 0.2, 0.2, 0.5, 0.7, 0.7, 1.0]
    prec = [1.0, 1.0, 0.6, 0.8, 0.5, 0.55, 0.4]
    assert average_precision_voc07(rec, prec) == pytest.approx(voc_ap_ref(rec, prec, True), abs=1e-15)
    assert average_precision_voc12(rec, prec) == pytest.approx(voc_ap_ref(rec, prec, False), abs=1e-15)
    assert average_precision_voc07([], []) == 0.0 and average_precision_voc12([], []) == 0.0


# ------------------------------------------------------------------------------------------------ API / result
def test_result_layout_and_several_ious():
    ds, dets = sequence_case("TTFT", 4)
    r = quiet_evaluate(ds, dets, metrics=("voc07", "voc12"), iou=[0.5, 0.7])
    d = r.to_dict()
    assert set(d["voc07"]) == {"mAP", "per_class"} and set(d["voc12"]) == {"mAP", "per_class"}
    assert set(d["iou"]) == {"0.7"} and set(d["iou"]["0.7"]) >= {"voc07", "voc12", "counts", "f1"}
    assert d["counts"]["a"] == {"npos": 4, "detections": 4, "tp": 3, "fp": 1, "duplicates": 0, "ignored": 0,
                                "missed": 1}
    f1 = d["f1"]["a"]  # best cut keeps the first two TPs... or all four: F1 2*(3/4)(3/4)/(3/2) = 0.75 > 2*1*.5/1.5
    assert f1["f1"] == pytest.approx(0.75) and f1["threshold"] == pytest.approx(0.97)
    table = r.to_pandas()
    assert {"ap_voc07", "ap_voc12", "ap_voc07@0.7", "tp", "fp", "npos", "f1_threshold"} <= set(table.columns)
    assert "mAP" in str(r)
    with pytest.raises(FrozenInstanceError):
        r.voc = ()  # frozen


def test_detections_from_arrays_and_dataframe_agree():
    ds, dets = sequence_case("TFTT", 4)
    a = quiet_evaluate(ds, dets)
    b = quiet_evaluate(ds, {"image_index": dets.image_index, "class_index": dets.class_index,
                            "scores": dets.scores, "boxes": dets.boxes})
    c = quiet_evaluate(ds, dets.to_pandas(ds).drop(columns=["image_index", "class_index"]))
    assert a.mAP == b.mAP == c.mAP


def test_bad_arguments_and_bad_detections():
    ds, dets = sequence_case("TF", 2)
    with pytest.raises(ValueError):
        evaluate(ds, dets, metrics=["voc10"])
    with pytest.raises(ValueError):
        evaluate(ds, dets, protocol="matlab")
    with pytest.raises(ValueError):
        evaluate(ds, dets, iou=0.0)
    with pytest.raises(InputError, match="image_index"):
        evaluate(ds, make_dets([(7, 0, 0.5, [0, 0, 1, 1])]))
    with pytest.raises(InputError, match="class_index"):
        evaluate(ds, make_dets([(0, 3, 0.5, [0, 0, 1, 1])]))
    with pytest.raises(InputError, match="NaN"):
        evaluate(ds, make_dets([(0, 0, float("nan"), [0, 0, 1, 1])]))


# ------------------------------------------------------------------------------------------------ slow twin
def random_case(seed: int, num_images=6, num_classes=3):
    """Small integer boxes (exact IoU ties, IoU exactly 0.5), tied scores, difficult GT, duplicates."""
    rng = np.random.default_rng(seed)
    objects = []
    for i in range(num_images):
        for _ in range(rng.integers(0, 5)):
            x, y = rng.integers(0, 20, 2)
            w, h = rng.integers(1, 12, 2)
            objects.append((i, int(rng.integers(0, num_classes)), [x, y, x + w, y + h], bool(rng.random() < 0.25)))
    rows = []
    for _ in range(rng.integers(0, 60)):
        i = int(rng.integers(0, num_images))
        if objects and rng.random() < 0.6:
            o = objects[rng.integers(0, len(objects))]
            b = np.array(o[2]) + rng.integers(-2, 3, 4)
            c = o[1] if rng.random() < 0.85 else int(rng.integers(0, num_classes))
            i = o[0]
        else:
            x, y = rng.integers(0, 20, 2)
            b = [x, y, x + rng.integers(0, 10), y + rng.integers(0, 10)]
            c = int(rng.integers(0, num_classes))
        rows.append((i, c, float(rng.choice([0.1, 0.2, 0.5, 0.9, rng.random()])), list(map(float, b))))
    return make_dataset(objects, num_images, CLASSES[:num_classes]), make_dets(rows)


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("protocol", ["devkit", "voc_eval"])
def test_random_cases_match_slow_twin(seed, protocol):
    ds, dets = random_case(seed)
    iou = [0.5, 0.3, 0.7][seed % 3]
    r = quiet_evaluate(ds, dets, protocol=protocol, iou=iou)
    ap07, ap12, outcomes = voc_map_ref(ds, dets, iou=iou, protocol=protocol)
    np.testing.assert_allclose(r.per_class("voc07").to_numpy(), ap07, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.per_class("voc12").to_numpy(), ap12, rtol=0, atol=1e-12)
    codes = {"fp": OUTCOME_FP, "tp": OUTCOME_TP, "dup": OUTCOME_DUPLICATE, "ign": OUTCOME_IGNORED}
    assert r.voc[0].outcome.tolist() == [codes[outcomes[i]] for i in range(len(dets))]


def test_random_cases_hit_the_edge_cases():
    """The random generator above must actually produce ties, exact-threshold IoUs, ignored hits and duplicates."""
    seen = set()
    for seed in range(60):
        ds, dets = random_case(seed)
        m = match_detections(ds, dets)
        seen.update(int(o) for o in m.outcome)
        if np.any(m.best_iou == 0.5):
            seen.add("iou=0.5")
        if len(np.unique(dets.scores)) < len(dets):
            seen.add("tie")
    assert {OUTCOME_FP, OUTCOME_TP, OUTCOME_DUPLICATE, OUTCOME_IGNORED, "iou=0.5", "tie"} <= seen
