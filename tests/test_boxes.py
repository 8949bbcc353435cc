"""vocbench.boxes: pairwise IoU under the VOC '+1' and continuous conventions, against the slow twin."""

from __future__ import annotations

import numpy as np
import pytest

from tests._reference.eval import box_iou_ref
from vocbench.boxes import box_area, box_iou, inverted_boxes


def test_plus_one_convention_exact_half():
    # 10x10 pixels inside 10x20 pixels: exactly 0.5 with '+1' widths
    assert box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]])[0, 0] == 0.5
    assert box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]], pixel_convention="continuous")[0, 0] == pytest.approx(81 / 171)


def test_single_pixel_boxes_and_touching_edges():
    # a 1x1-pixel box is a full pixel under VOC rules
    assert box_iou([[5, 5, 5, 5]], [[5, 5, 5, 5]])[0, 0] == 1.0
    # boxes sharing the column x=10 overlap by one pixel column ('+1'), touch only under continuous rules
    assert box_iou([[1, 1, 10, 10]], [[10, 1, 19, 10]])[0, 0] == pytest.approx(10 / 190)
    assert box_iou([[0, 0, 10, 10]], [[10, 0, 20, 10]], pixel_convention="continuous")[0, 0] == 0.0


def test_inverted_boxes_have_iou_zero():
    a = [[10, 10, 5, 20]]  # xmax < xmin
    assert box_iou(a, [[1, 1, 30, 30]])[0, 0] == 0.0
    assert inverted_boxes([[10, 10, 5, 20], [1, 1, 2, 2], [1, 5, 2, 4]]).tolist() == [True, False, True]
    assert box_area([[1, 1, 10, 10], [10, 10, 5, 20]]).tolist() == [100.0, 0.0]


def test_empty_and_shape_errors():
    assert box_iou(np.zeros((0, 4)), [[1, 1, 2, 2]]).shape == (0, 1)
    assert box_iou([[1, 1, 2, 2]], []).shape == (1, 0)
    with pytest.raises(ValueError):
        box_iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError):
        box_iou([[1, 1, 2, 2]], [[1, 1, 2, 2]], pixel_convention="coco")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("convention,offset", [("voc", 1.0), ("continuous", 0.0)])
def test_matches_slow_twin(seed, convention, offset):
    rng = np.random.default_rng(seed)
    # small integer grid: many exact ties, touching edges, identical and inverted boxes
    a = rng.integers(0, 12, size=(25, 4)).astype(float)
    b = rng.integers(0, 12, size=(17, 4)).astype(float)
    b[:3] = a[:3]
    got = box_iou(a, b, pixel_convention=convention)
    want = np.array(box_iou_ref(a.tolist(), b.tolist(), offset))
    np.testing.assert_array_equal(got, want)
    assert ((got >= 0) & (got <= 1)).all()
