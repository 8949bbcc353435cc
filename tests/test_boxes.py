"""vocbench.boxes: conventions, validator, conversion, areas and IoU variants against independent sources —
hand-computed devkit ('+1') cases, torchvision (continuous convention), the plain-Python twin, pycocotools'
size classes on the real VOC2007 test set."""

from __future__ import annotations

import numpy as np
import pytest

from tests._reference.boxes import devkit_iou_matrix, wh_iou_ref
from tests._reference.eval import box_iou_ref
from vocbench.boxes import (
    BOX_FORMATS,
    COCO_AREA_LABELS,
    COCO_AREA_RANGES,
    box_area,
    box_convert,
    box_iou,
    box_wh,
    check_boxes,
    check_wh,
    coco_area_masks,
    generalized_box_iou,
    inverted_boxes,
    wh_iou,
)
from vocbench.errors import InputError


# ------------------------------------------------------------------------------------------ hand-computed cases
def test_plus_one_convention_exact_half():
    # 10x10 pixels inside 10x20 pixels: exactly 0.5 with '+1' widths
    assert box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]])[0, 0] == 0.5
    assert box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]], pixel_convention="continuous")[0, 0] == 81 / 171


def test_devkit_hand_computed_cases():
    # VOCevaldet.m: iw = min(x2) - max(x1) + 1, ua = (area_d + area_g) - iw * ih, worked out by hand
    # det [5, 5, 14, 14] (10x10 = 100 px) vs gt [10, 10, 19, 24] (10x15 = 150 px): overlap x 10..14, y 10..14 → 5x5
    assert box_iou([[5, 5, 14, 14]], [[10, 10, 19, 24]])[0, 0] == 25 / (100 + 150 - 25)
    # identical single-pixel boxes: one pixel each, IoU 1
    assert box_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]])[0, 0] == 1.0
    # sharing the column x = 10: one pixel column of 10 overlaps ('+1'); continuous boxes only touch
    assert box_iou([[1, 1, 10, 10]], [[10, 1, 19, 10]])[0, 0] == 10 / 190
    assert box_iou([[0, 0, 10, 10]], [[10, 0, 20, 10]], pixel_convention="continuous")[0, 0] == 0.0
    # adjacent pixel ranges 1..10 and 11..20 do not overlap under '+1'
    assert box_iou([[1, 1, 10, 10]], [[11, 1, 20, 10]])[0, 0] == 0.0
    # the devkit's value for a sub-pixel inverted detection ([5, 4.5] is 0.5 px wide under '+1'): 3 / 100
    assert box_iou([[5, 5, 4.5, 10]], [[1, 1, 10, 10]])[0, 0] == 3 / 100
    assert box_area([[1, 1, 10, 20]]).tolist() == [200.0]
    assert box_area([[1, 1, 10, 20]], pixel_convention="continuous").tolist() == [171.0]
    assert box_wh([[1, 1, 10, 20]]).tolist() == [[10.0, 20.0]]


def test_empty_boxes_have_iou_zero_and_area_zero():
    a = [[10, 10, 5, 20]]  # xmax < xmin
    assert box_iou(a, [[1, 1, 30, 30]])[0, 0] == 0.0
    assert inverted_boxes([[10, 10, 5, 20], [1, 1, 2, 2], [1, 5, 2, 4]]).tolist() == [True, False, True]
    assert box_area([[1, 1, 10, 10], [10, 10, 5, 20], [3, 3, 2, 3]]).tolist() == [100.0, 0.0, 0.0]
    # a zero-width box is one pixel wide under '+1', empty under the continuous convention
    assert box_area([[3, 3, 3, 6]]).tolist() == [4.0]
    assert box_area([[3, 3, 3, 6]], pixel_convention="continuous").tolist() == [0.0]
    assert box_iou([[3, 3, 3, 6]], [[3, 3, 3, 6]], pixel_convention="continuous")[0, 0] == 0.0


def test_wh_iou_hand_computed():
    # 2x3 and 3x2 at a common corner: overlap 2x2 = 4, union 6 + 6 - 4 = 8
    assert wh_iou([[2, 3]], [[3, 2], [2, 3]]).tolist() == [[0.5, 1.0]]
    with pytest.raises(InputError, match=r"wh1\[1\] must be finite and > 0"):
        wh_iou([[2, 3], [0, 3]], [[1, 1]])


# --------------------------------------------------------------------------------------------- the validator
def test_one_validator_names_the_row():
    with pytest.raises(InputError, match=r"boxes\[2\] has a non-finite coordinate"):
        check_boxes([[0, 0, 1, 1], [0, 0, 2, 2], [0, np.nan, 1, 1]])
    with pytest.raises(InputError, match=r"boxes1\[0\] has a non-finite"):
        box_iou([[0, 0, np.inf, 1]], [[0, 0, 1, 1]])
    with pytest.raises(InputError, match=r"boxes\[1\] is inverted"):
        check_boxes([[0, 0, 1, 1], [5, 0, 1, 1]], ordered=True)
    with pytest.raises(InputError, match=r"shape \(N, 4\)"):
        box_iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(InputError, match="numeric"):
        check_boxes([["a", "b", "c", "d"]])
    with pytest.raises(InputError, match="pixel_convention must be one of"):
        box_iou([[1, 1, 2, 2]], [[1, 1, 2, 2]], pixel_convention="coco")
    assert isinstance(InputError("x"), ValueError)
    with pytest.raises(InputError, match=r"wh\[0\]"):
        check_wh([[np.nan, 1.0]])
    # no copy for float64 C-contiguous input, never modified
    a = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert check_boxes(a) is a
    assert check_boxes([]).shape == (0, 4)
    assert check_boxes([1, 2, 3, 4]).shape == (1, 4)


def test_empty_inputs():
    assert box_iou(np.zeros((0, 4)), [[1, 1, 2, 2]]).shape == (0, 1)
    assert box_iou([[1, 1, 2, 2]], []).shape == (1, 0)
    assert box_area([]).shape == (0,)


# ------------------------------------------------------------------------------- against the plain-Python twins
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("offset", [1.0, 0.0])
def test_matches_devkit_loop_including_inverted_boxes(seed, offset):
    # the devkit's own loop has no inverted-box rule: vocbench's "empty box" rule gives the same numbers,
    # on integer boxes and on sub-pixel ones (half-integer grid), inverted ones included
    rng = np.random.default_rng(100 + seed)
    a = rng.integers(0, 24, size=(30, 4)) / (2.0 if seed % 2 else 1.0)
    b = rng.integers(0, 24, size=(20, 4)) / (2.0 if seed % 2 else 1.0)
    b[:4] = a[:4]
    conv = "voc" if offset == 1.0 else "continuous"
    np.testing.assert_array_equal(box_iou(a, b, pixel_convention=conv),
                                  np.array(devkit_iou_matrix(a.tolist(), b.tolist(), offset)))


def test_wh_iou_matches_twin():
    rng = np.random.default_rng(9)
    wh1, wh2 = rng.uniform(0.01, 3, (40, 2)), rng.uniform(0.01, 3, (7, 2))
    np.testing.assert_array_equal(wh_iou(wh1, wh2), np.array(wh_iou_ref(wh1.tolist(), wh2.tolist())))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("convention,offset", [("voc", 1.0), ("continuous", 0.0)])
def test_matches_slow_twin(seed, convention, offset):
    rng = np.random.default_rng(seed)
    # small integer grid: many exact ties, touching edges, identical boxes (no inverted ones: the twin has its
    # own rule for those, covered by the hand-computed cases)
    a = rng.integers(0, 12, size=(25, 4)).astype(float)
    b = rng.integers(0, 12, size=(17, 4)).astype(float)
    a[:, 2:] = np.maximum(a[:, 2:], a[:, :2])
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
    b[:3] = a[:3]
    got = box_iou(a, b, pixel_convention=convention)
    want = np.array(box_iou_ref(a.tolist(), b.tolist(), offset))
    np.testing.assert_array_equal(got, want)
    assert ((got >= 0) & (got <= 1)).all()


# ------------------------------------------------------------------------------------------- against torchvision
def _torchvision():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    return torch, ops


def _random_boxes(rng, n, integer=False):
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0.5, 60, (n, 2))
    if integer:
        xy, wh = np.round(xy), np.round(wh)
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_iou_and_giou_equal_torchvision(seed):
    torch, ops = _torchvision()
    rng = np.random.default_rng(seed)
    a, b = _random_boxes(rng, 60, integer=seed == 2), _random_boxes(rng, 45, integer=seed == 2)
    b[:5] = a[:5]
    want = ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(box_iou(a, b, pixel_convention="continuous"), want, rtol=1e-12, atol=1e-15)
    want_g = ops.generalized_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(generalized_box_iou(a, b, pixel_convention="continuous"), want_g, rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(box_area(a, pixel_convention="continuous"), ops.box_area(torch.from_numpy(a)).numpy(),
                               rtol=1e-15)


def test_voc_iou_is_continuous_iou_of_the_exported_extent():
    # '+1' IoU of VOC pixel boxes == torchvision's IoU of their continuous extents [x1 - 1, x2]
    torch, ops = _torchvision()
    rng = np.random.default_rng(5)
    a, b = _random_boxes(rng, 40, integer=True) + 1, _random_boxes(rng, 30, integer=True) + 1
    ext = lambda x: box_convert(x, "xyxy", "nxyxy", image_size=(1.0, 1.0))  # noqa: E731  (0-based extent)
    want = ops.box_iou(torch.from_numpy(ext(a)), torch.from_numpy(ext(b))).numpy()
    np.testing.assert_allclose(box_iou(a, b), want, rtol=1e-12)


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_continuous_box_convert_equals_torchvision(fmt):
    torch, ops = _torchvision()
    a = _random_boxes(np.random.default_rng(1), 50)
    want = ops.box_convert(torch.from_numpy(a), "xyxy", fmt).numpy()
    np.testing.assert_allclose(box_convert(a, "xyxy", fmt, pixel_convention="continuous"), want, rtol=1e-14)
    back = ops.box_convert(torch.from_numpy(want), fmt, "xyxy").numpy()
    np.testing.assert_allclose(box_convert(want, fmt, "xyxy", pixel_convention="continuous"), back, rtol=1e-14)


# ------------------------------------------------------------------------------------------------- box_convert
def test_box_convert_voc_hand_computed():
    b = [[1, 1, 10, 20]]  # 10 x 20 pixels, the first column and row of a 100 x 50 image
    assert box_convert(b, "xyxy", "xywh").tolist() == [[0.0, 0.0, 10.0, 20.0]]          # COCO bbox
    assert box_convert(b, "xyxy", "cxcywh").tolist() == [[5.0, 10.0, 10.0, 20.0]]
    assert box_convert(b, "xyxy", "ncxcywh", image_size=(100, 50)).tolist() == [[0.05, 0.2, 0.1, 0.4]]
    assert box_convert([[1, 1, 100, 50]], "xyxy", "nxyxy", image_size=(100, 50)).tolist() == [[0, 0, 1, 1]]
    with pytest.raises(InputError, match="image_size"):
        box_convert(b, "xyxy", "nxyxy")
    with pytest.raises(InputError, match="box format"):
        box_convert(b, "xyxy", "yolo")


@pytest.mark.parametrize("convention", ["voc", "continuous"])
def test_box_convert_round_trips(convention):
    rng = np.random.default_rng(3)
    b = _random_boxes(rng, 30) + 1
    sizes = rng.uniform(150, 500, (30, 2))
    for f in BOX_FORMATS:
        there = box_convert(b, "xyxy", f, image_size=sizes, pixel_convention=convention)
        back = box_convert(there, f, "xyxy", image_size=sizes, pixel_convention=convention)
        np.testing.assert_allclose(back, b, rtol=1e-12, err_msg=f)


def test_coco_export_uses_box_convert_float_ops():
    from vocbench.io.coco import voc_boxes_to_xywh, xywh_to_voc_boxes

    b = _random_boxes(np.random.default_rng(4), 100) + 1
    xywh = voc_boxes_to_xywh(b)
    # the export's documented expression, operand for operand
    want = np.stack([b[:, 0] - 1.0, b[:, 1] - 1.0, b[:, 2] - b[:, 0] + 1.0, b[:, 3] - b[:, 1] + 1.0], axis=1)
    np.testing.assert_array_equal(xywh, want)
    np.testing.assert_array_equal(xywh_to_voc_boxes(xywh), np.stack(
        [xywh[:, 0] + 1.0, xywh[:, 1] + 1.0, xywh[:, 0] + xywh[:, 2], xywh[:, 1] + xywh[:, 3]], axis=1))


# ----------------------------------------------------------------------------------------------- size classes
def test_one_coco_area_ranges_constant():
    import vocbench.eval.coco as ev
    import vocbench.report.dataset as rd

    assert COCO_AREA_LABELS == ("all", "small", "medium", "large")
    assert ev.COCO_AREA_RANGES is COCO_AREA_RANGES
    assert rd.COCO_AREA_RANGES is COCO_AREA_RANGES
    # pycocotools' inclusive bounds: 32² is small and medium
    assert coco_area_masks([1023, 1024, 1025, 9216, 1e12]).tolist() == [
        [True, True, False, False], [True, True, True, False], [True, False, True, False],
        [True, False, True, True], [False, False, False, False]]


def test_report_and_evaluator_agree_on_every_voc07_test_size_class(voc07_test):
    """Every VOC2007-test object is in the same COCO size class(es) in the dataset report as in the COCO
    evaluation: pycocotools' own ``evaluateImg`` on vocbench's COCO export decides, object by object."""
    pytest.importorskip("pycocotools")
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from vocbench.io.coco import export_coco
    from vocbench.report.dataset import box_geometry, coco_size_counts

    ds = voc07_test
    gt = export_coco(ds)
    for a in gt["annotations"]:
        a["iscrowd"] = 0  # difficult objects would be ignored everywhere; here only the area decides
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}]),
                      "bbox")
        ev.evaluate()
    cocoeval_in = np.zeros((ds.num_objects, 4), bool)
    for rec in ev.evalImgs:
        if rec is None:
            continue
        a = [tuple(r) for r in ev.params.areaRng].index(tuple(rec["aRng"]))
        for gid, ign in zip(rec["gtIds"], rec["gtIgnore"]):
            cocoeval_in[gid - 1, a] = not ign
    geom = box_geometry(ds, include_difficult=True)
    report_in = coco_area_masks(geom["px_area"])
    assert cocoeval_in[:, 0].all()
    mismatched = np.flatnonzero((report_in != cocoeval_in).any(axis=1))
    assert len(mismatched) == 0, f"{len(mismatched)} objects differ, first rows {mismatched[:5].tolist()}"
    # the report's table (non-difficult objects) holds the same counts; 516 small as the evaluator's APs uses
    nd = ~ds.difficult
    counts = coco_size_counts(ds)
    for a, name in enumerate(COCO_AREA_LABELS[1:], start=1):
        want = np.bincount(ds.class_index[nd & cocoeval_in[:, a]], minlength=ds.num_classes)
        assert counts[name].iloc[:-1].tolist() == want.tolist(), name
    assert counts.loc["total"].tolist() == [516, 3814, 7703]


# ------------------------------------------------------------------------------- the reference models' twins
def test_reference_models_torch_ious_equal_vocbench_boxes():
    """reference_models.box_coder keeps torch IoUs for the loss; they state the continuous convention and are
    equal (float64) to vocbench.boxes."""
    torch, _ = _torchvision()
    from reference_models.box_coder import box_iou as torch_box_iou
    from reference_models.box_coder import shape_iou

    rng = np.random.default_rng(8)
    a, b = _random_boxes(rng, 30) / 200, _random_boxes(rng, 20) / 200
    b[:3] = a[:3]
    a[3] = [0.5, 0.5, 0.4, 0.6]  # inverted: IoU 0 in both
    got = torch_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_array_equal(got, box_iou(a, b, pixel_convention="continuous"))
    wh, anchors = rng.uniform(0.01, 1, (40, 2)), rng.uniform(0.01, 1, (5, 2))
    np.testing.assert_array_equal(shape_iou(torch.from_numpy(wh), torch.from_numpy(anchors)).numpy(),
                                  wh_iou(wh, anchors))
