"""The two VOC engines — numpy (:mod:`vocbench.eval._vectorised`) and Numba (:mod:`vocbench.eval._kernels`) — give
identical results, bit for bit, on adversarial random cases (tied scores, -0.0, duplicate boxes, difficult GT,
empty images and classes, IoU exactly at the threshold, inverted and huge boxes) and on the real YOLOv2 set; both
equal the plain-Python twin; and ``engine="auto"`` follows the documented rule."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from tests._reference.eval import voc_map_ref
from tests.test_eval import make_dataset, make_dets, random_case
from vocbench import VocbenchWarning, evaluate
from vocbench.eval import _kernels as K
from vocbench.eval import _vectorised as V
from vocbench.eval.ap import VOC07_THRESHOLDS_DEVKIT, average_precision_voc07, average_precision_voc12
from vocbench.eval.engine import NUMBA_MIN_DETECTIONS, resolve_engine
from vocbench.eval.matching import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP, group_for_voc
from vocbench.structures import Dataset, Detections

FIELDS = ("npos", "detections", "tp", "fp", "duplicates", "ignored", "curve_offsets", "precision", "recall",
          "curve_scores", "best_f1", "outcome", "best_iou")


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (NaN payloads and the sign of zero included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def both_engines(ds, dets, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return (evaluate(ds, dets, engine="numpy", **kwargs), evaluate(ds, dets, engine="numba", **kwargs))


def assert_same_result(a, b):
    assert len(a.voc) == len(b.voc)
    for sa, sb in zip(a.voc, b.voc):
        for f in FIELDS:
            assert identical(getattr(sa, f), getattr(sb, f)), f
        assert sa.ap.keys() == sb.ap.keys()
        for m in sa.ap:
            assert identical(sa.ap[m], sb.ap[m]), m


def adversarial_case(seed: int):
    """random_case plus what it lacks: all scores tied or -0.0/0.0, exact duplicate detections, empty images and
    classes, inverted boxes, sub-pixel and huge coordinates (an IoU of inf / inf)."""
    ds, dets = random_case(seed, num_images=8)
    rng = np.random.default_rng(1000 + seed)
    n = len(dets)
    scores = dets.scores.copy()
    boxes = dets.boxes.copy()
    kind = seed % 5
    if kind == 0 and n:
        scores[:] = 0.5  # every score tied: input order decides
    elif kind == 1 and n:
        scores = rng.choice([0.0, -0.0, 0.25], n)
    elif kind == 2 and n:
        boxes[rng.random(n) < 0.3] += rng.random((1, 4)) * 0.5  # sub-pixel
        swap = rng.random(n) < 0.2
        boxes[swap] = boxes[swap][:, [2, 3, 0, 1]]  # inverted
    elif kind == 3 and n:
        huge = [-1e308, -1e308, 1e308, 1e308]  # overflowing areas: inf / inf = NaN IoU with a huge GT
        boxes[rng.random(n) < 0.2] = huge
        boxes[0] = huge
        ds = Dataset.from_arrays(
            image_ids=ds.image_ids, widths=ds.widths, heights=ds.heights,
            image_index=np.append(ds.image_index, dets.image_index[0]),
            class_index=np.append(ds.class_index, dets.class_index[0]), boxes=np.vstack([ds.boxes, [huge]]),
            difficult=np.append(ds.difficult, False), classes=ds.classes)
    rows = np.arange(n)
    if n:
        rows = np.concatenate([rows, rng.choice(n, n // 3)])  # exact duplicates of some detections
    return ds, Detections(image_index=dets.image_index[rows], class_index=dets.class_index[rows],
                          scores=scores[rows], boxes=boxes[rows], source="adversarial")


@pytest.mark.parametrize("seed", range(80))
def test_engines_identical_on_adversarial_cases(seed):
    ds, dets = adversarial_case(seed)
    protocol = ("devkit", "voc_eval")[seed % 2]
    a, b = both_engines(ds, dets, protocol=protocol, iou=(0.5, 0.3, 0.7))
    assert_same_result(a, b)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_each_engine_matches_the_slow_twin(seed, engine):
    ds, dets = random_case(seed)
    protocol = ("devkit", "voc_eval")[seed % 2]
    iou = [0.5, 0.3, 0.7][seed % 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        r = evaluate(ds, dets, protocol=protocol, iou=iou, engine=engine)
    ap07, ap12, outcomes = voc_map_ref(ds, dets, iou=iou, protocol=protocol)
    np.testing.assert_allclose(r.voc[0].ap["voc07"], ap07, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.voc[0].ap["voc12"], ap12, rtol=0, atol=1e-12)
    codes = {"fp": OUTCOME_FP, "tp": OUTCOME_TP, "dup": OUTCOME_DUPLICATE, "ign": OUTCOME_IGNORED}
    assert r.voc[0].outcome.tolist() == [codes[outcomes[i]] for i in range(len(dets))]


def test_adversarial_cases_hit_their_edge_cases():
    """The generator above must produce what it promises (else the equality test proves less than it says)."""
    seen = set()
    for seed in range(80):
        ds, dets = adversarial_case(seed)
        a, _ = both_engines(ds, dets)
        s = a.voc[0]
        seen.update(int(o) for o in s.outcome)
        if np.any(s.best_iou == 0.5):
            seen.add("iou=0.5")
        if np.any(s.best_iou == -1.0):
            seen.add("nan iou")
        if np.any((dets.scores == 0) & np.signbit(dets.scores)):
            seen.add("-0.0")
        if np.any(dets.boxes[:, 2] < dets.boxes[:, 0]):
            seen.add("inverted")
        if np.any(np.isnan(s.ap["voc07"])):
            seen.add("class without positives")
        if len(dets) and np.unique(np.column_stack([dets.image_index, dets.class_index, dets.scores, dets.boxes]),
                                   axis=0).shape[0] < len(dets):
            seen.add("duplicate rows")
    assert {OUTCOME_FP, OUTCOME_TP, OUTCOME_DUPLICATE, OUTCOME_IGNORED, "iou=0.5", "nan iou", "-0.0", "inverted",
            "class without positives", "duplicate rows"} <= seen, seen


def test_empty_inputs_are_identical():
    ds = make_dataset([(0, 0, [1, 1, 5, 5], False)])
    for dets in (make_dets([]), make_dets([(2, 1, 0.5, [1, 1, 5, 5])])):  # none; only on an image/class without GT
        assert_same_result(*both_engines(ds, dets))
    empty_gt = make_dataset([])
    assert_same_result(*both_engines(empty_gt, make_dets([(0, 0, 0.5, [1, 1, 5, 5])])))


def test_grouping_primitives_identical():
    rng = np.random.default_rng(7)
    for n in (0, 1, 17, 5000):
        values = rng.choice(np.array([0.0, -0.0, 0.1, 0.5, 1.0, -2.0, 3e-310, 1e300]), n)
        order = rng.permutation(n).astype(np.int64)
        assert identical(V.argsort_desc_stable(values, order), K.argsort_desc_stable(values, order))
        keys = rng.integers(0, 9, n).astype(np.int64)
        for a, b in zip(V.stable_partition(order, keys, 9), K.stable_partition(order, keys, 9)):
            assert identical(a, b)
        for a, b in zip(V.group_by_key(keys, 9), K.group_by_key(keys, 9)):
            assert identical(a, b)


def test_grouping_is_the_same_for_both_engines_on_a_random_case():
    ds, dets = adversarial_case(3)
    a, b = group_for_voc(ds, dets, "numpy"), group_for_voc(ds, dets, "numba")
    assert (a.engine.name, b.engine.name) == ("numpy", "numba")
    for f in ("class_order", "class_offsets", "group_order", "group_offsets", "gt_offsets", "gt_rows", "gt_boxes",
              "gt_difficult", "npos"):
        assert identical(getattr(a, f), getattr(b, f)), f


@pytest.mark.parametrize("seed", range(30))
def test_single_curve_ap_equals_the_kernels(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, 40))
    recall = np.sort(rng.choice([0.0, 0.1, 0.3, 0.30000000000000004, 0.5, 1.0, rng.random()], k))
    precision = rng.choice([0.0, 0.5, 1.0, rng.random()], k)
    thresholds = np.asarray(VOC07_THRESHOLDS_DEVKIT) if seed % 3 else rng.random(int(rng.integers(1, 12)))
    offsets, npos = np.array([0, k], np.int64), np.ones(1, np.int64)
    assert identical(average_precision_voc07(recall, precision, thresholds),
                     float(K.ap_voc07_kernel(offsets, precision, recall, npos, thresholds)[0]))
    assert identical(average_precision_voc12(recall, precision),
                     float(K.ap_voc12_kernel(offsets, precision, recall, npos)[0]))


def test_auto_rule():
    assert resolve_engine("numpy", 10**9) == "numpy" and resolve_engine("numba", 0) == "numba"
    assert resolve_engine("auto", NUMBA_MIN_DETECTIONS) == "numba"  # large sets: the kernels
    with pytest.raises(ValueError, match="engine"):
        resolve_engine("fortran", 1)
    with pytest.raises(ValueError, match="engine"):
        evaluate(make_dataset([(0, 0, [1, 1, 5, 5], False)]), make_dets([]), engine="fortran")
    # in fresh interpreters: numpy until Numba is imported by someone, then the kernels
    code = ("import sys\nfrom vocbench.eval.engine import resolve_engine\n"
            "a = resolve_engine('auto', 1000)\nimport numba\nb = resolve_engine('auto', 1000)\nprint(a, b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy", "numba"]
    # no hidden state: repeated small "auto" calls stay on numpy (no process-global counter decides)
    code = ("import sys\nfrom vocbench.eval.engine import resolve_engine\n"
            f"r = [resolve_engine('auto', {NUMBA_MIN_DETECTIONS - 1}) for _ in range(5)]\n"
            "print(*r, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["numpy"] * 5 + ["False"]


def test_engines_are_typed_classes_behind_one_protocol():
    from vocbench.eval.engine import NumbaEngine, NumpyEngine, voc_engine

    assert isinstance(voc_engine("numpy"), NumpyEngine) and isinstance(voc_engine("numba"), NumbaEngine)
    assert voc_engine("auto", NUMBA_MIN_DETECTIONS).name == "numba"
    ds = make_dataset([(0, 0, [1, 1, 5, 5], False)])
    assert isinstance(group_for_voc(ds, make_dets([]), "numpy").engine, NumpyEngine)


def test_engines_identical_on_real_yolov2(voc_root, yolov2_dets):
    from vocbench import load_voc, read_detections

    ds = load_voc(voc_root, ["2007:test"])
    dets = read_detections(yolov2_dets, ds)
    for protocol in ("devkit", "voc_eval"):
        a, b = both_engines(ds, dets, protocol=protocol, iou=(0.5, 0.75))
        assert_same_result(a, b)
    a, _ = both_engines(ds, dets)
    assert round(a.mAP["voc07"], 4) == 0.7214 and round(a.mAP["voc12"], 4) == 0.7452  # the devkit's numbers


def test_engines_identical_on_real_voc2012_val(voc_root):
    """VOC2012 val (5,823 images) with detections built from its ground truth: jittered copies (TPs, duplicates,
    hits on difficult objects), boxes moved to other images (FPs), rounded scores (ties)."""
    from vocbench import load_voc

    ds = load_voc(voc_root, ["2012:val"])
    rng = np.random.default_rng(12)
    rows = rng.choice(len(ds.image_index), 3 * len(ds.image_index))
    image = ds.image_index[rows].copy()
    moved = rng.random(rows.size) < 0.3
    image[moved] = rng.integers(0, ds.num_images, int(moved.sum()))
    boxes = ds.boxes[rows] + rng.normal(0.0, 4.0, (rows.size, 4)).round(1)
    dets = Detections(image_index=image, class_index=ds.class_index[rows], scores=rng.random(rows.size).round(2),
                      boxes=boxes, source="voc12-val-synthetic")
    for protocol in ("devkit", "voc_eval"):
        a, b = both_engines(ds, dets, protocol=protocol, iou=(0.5, 0.7))
        assert_same_result(a, b)
    assert 0.2 < a.mAP["voc07"] < 0.9
