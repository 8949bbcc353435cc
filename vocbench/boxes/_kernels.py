"""Numba kernels for box geometry — the ONE place an IoU, a box width or a box area is computed.

Arrays and scalars only (STYLE.md §1). Other kernels (``eval``, ``nms``, ``anchors``) call these ``@njit``
functions directly (Numba inlines small callees), so every module computes the same number, operand for operand.

Pixel convention (``offset``, a float64 scalar; :data:`vocbench.boxes.PIXEL_CONVENTIONS` maps names to it):

* ``offset = 1.0`` — ``"voc"``: 1-based inclusive pixel ranges, ``width = xmax - xmin + 1`` (PASCAL VOC devkit
  ``VOCevaldet.m``, ``voc_eval.py``, py-faster-rcnn CPU NMS).
* ``offset = 0.0`` — ``"continuous"``: ``width = xmax - xmin`` (COCO, torchvision).

The IoU expression (devkit and torchvision alike, same operand order)::

    iw    = min(ax2, bx2) - max(ax1, bx1) + offset        # 0 IoU when iw <= 0
    ih    = min(ay2, by2) - max(ay1, by1) + offset        # 0 IoU when ih <= 0
    inter = iw * ih
    union = area_a + area_b - inter                        # area = (x2 - x1 + offset) * (y2 - y1 + offset)
    iou   = inter / union                                  # 0 when union <= 0

An *empty* box (``width <= 0`` or ``height <= 0`` under the convention, e.g. an inverted box) has IoU 0 with
everything: its overlap with any box is no wider than itself, so the ``iw <= 0`` test already says so (exactly, in
floating point: ``min``/``max`` and the subtraction are monotone). This is also what the devkit computes.

Published kernels (signatures are stable; all arguments float64 unless said):

Scalar (call from other kernels):
    box_width(x1, x2, offset) -> float                          ``x2 - x1 + offset`` (also the height: y1, y2)
    box_area_scalar(x1, y1, x2, y2, offset) -> float             ``width * height``; 0 for an empty box
    iou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, offset) -> float
    iou_pair_areas(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset) -> float
        same value as ``iou_pair`` (bit for bit) with the two areas precomputed as ``box_area_scalar`` would
        (hot loops: NMS, COCO matching). Pass the *raw* product ``width * height`` (negative for an inverted box
        is fine: the overlap test returns 0 first).
    iou_pair_areas_exceeds(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset, t) -> bool
        ``iou_pair_areas(...) > t`` for ``t >= 0``, the same decision without data-dependent branches (NMS)
    iof_pair_areas(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, offset) -> float
        intersection over ``area_a`` (COCO crowd regions: the union is the detection's area)
    bbiou_select(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, crowd) -> float
        ``iou_pair_areas`` / ``iof_pair_areas`` (offset 0) by ``crowd``, same value, selects not branches (COCO)
    wh_iou(w1, h1, w2, h2) -> float                              IoU of two (w, h) boxes aligned at one corner
    wh_iou_areas(w1, h1, a1, w2, h2, a2) -> float                same with ``a = w * h`` precomputed
    wh_iou_areas_positive(w1, h1, a1, w2, h2, a2) -> float       same value for positive shapes; no zero-division
                                                                 branch (vectorisable loops)
    giou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, offset) -> float   generalised IoU (Rezatofighi 2019)

Array:
    pairwise_iou_kernel(a float64[N,4], b float64[M,4], offset) -> float64[N, M]
    pairwise_giou_kernel(a float64[N,4], b float64[M,4], offset) -> float64[N, M]
    box_area_kernel(a float64[N,4], offset) -> float64[N]        0 for empty boxes
    box_wh_kernel(a float64[N,4], offset) -> float64[N, 2]       (width, height), may be <= 0
    wh_iou_matrix_kernel(wh float64[N,2], centers float64[K,2]) -> float64[N, K]
    inverted_kernel(a float64[N,4]) -> bool[N]                   ``xmax < xmin or ymax < ymin``
    first_nonfinite_row(a float64[N,C]) -> int                   first row with NaN/inf, or -1
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit, jit_simd

__all__ = ["box_width", "box_area_scalar", "iou_pair", "iou_pair_areas", "wh_iou", "wh_iou_areas", "giou_pair",
           "iof_pair_areas", "pairwise_iou_kernel", "pairwise_giou_kernel", "box_area_kernel", "box_wh_kernel",
           "wh_iou_matrix_kernel", "inverted_kernel", "first_nonfinite_row", "wh_iou_areas_positive",
           "iou_pair_areas_exceeds", "bbiou_select"]

#: Kernels the COCO path calls from Python (compiled ahead of time by vocbench._native: one argument-type set each).
ENTRY_POINTS = ("first_nonfinite_row",)


@jit
def box_width(x1, x2, offset):
    """Extent of ``[x1, x2]`` under the pixel convention: ``x2 - x1 + offset`` (may be <= 0)."""
    return x2 - x1 + offset


@jit
def box_area_scalar(x1, y1, x2, y2, offset):
    """Area ``(x2 - x1 + offset) * (y2 - y1 + offset)``; 0 for an empty box (width or height <= 0)."""
    w = x2 - x1 + offset
    h = y2 - y1 + offset
    if w <= 0.0 or h <= 0.0:
        return 0.0
    return w * h


@jit
def iou_pair_areas(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset):
    """IoU of two boxes with their areas precomputed (``width * height``); see the module docstring."""
    iw = min(ax2, bx2) - max(ax1, bx1) + offset
    if iw <= 0.0:
        return 0.0
    ih = min(ay2, by2) - max(ay1, by1) + offset
    if ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = area_a + area_b - inter
    if union <= 0.0:
        return 0.0
    return inter / union


@jit
def iou_pair_areas_exceeds(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset, t):
    """``iou_pair_areas(...) > t`` for a threshold ``t >= 0``: the same decision, without data-dependent branches
    (the overlap tests of :func:`iou_pair_areas` mispredict in NMS's hot loop; here they are selects).

    Where both overlaps and the union are positive the operations are those of :func:`iou_pair_areas`, so the IoU
    is the same bit for bit. Elsewhere the reference IoU is 0 and this one is 0 too (or NaN when an overlap or an
    area overflowed to inf): neither exceeds ``t >= 0``.
    """
    iw = max(min(ax2, bx2) - max(ax1, bx1) + offset, 0.0)
    ih = max(min(ay2, by2) - max(ay1, by1) + offset, 0.0)
    inter = iw * ih
    union = area_a + area_b - inter
    iou = inter / union if union > 0.0 else 0.0
    return iou > t

@jit
def iof_pair_areas(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, offset):
    """Intersection over the area of ``a``: COCO's IoU with a crowd region ``b`` (``maskApi.c`` ``bbIou`` with
    ``iscrowd``: the union is the detection's own area). Same overlap tests as :func:`iou_pair_areas`."""
    iw = min(ax2, bx2) - max(ax1, bx1) + offset
    if iw <= 0.0:
        return 0.0
    ih = min(ay2, by2) - max(ay1, by1) + offset
    if ih <= 0.0:
        return 0.0
    if area_a <= 0.0:
        return 0.0
    return (iw * ih) / area_a


@jit
def iou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, offset):
    """IoU of two boxes (scalars). 0 when they do not overlap, when either is empty, or when the union is 0."""
    area_a = (ax2 - ax1 + offset) * (ay2 - ay1 + offset)
    area_b = (bx2 - bx1 + offset) * (by2 - by1 + offset)
    return iou_pair_areas(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, offset)


@jit
def wh_iou_areas(w1, h1, a1, w2, h2, a2):
    """Aligned IoU of (w1, h1) and (w2, h2) with ``a = w * h`` precomputed: ``i / (a1 + a2 - i)``."""
    inter = min(w1, w2) * min(h1, h2)
    return inter / (a1 + a2 - inter)


@jit_simd
def wh_iou_areas_positive(w1, h1, a1, w2, h2, a2):
    """:func:`wh_iou_areas` for positive shapes (so the union is > 0): the same operations and the same value,
    without Python's zero-division branch, so that loops over boxes calling it vectorise (anchor k-means scans)."""
    inter = min(w1, w2) * min(h1, h2)
    return inter / (a1 + a2 - inter)


@jit
def wh_iou(w1, h1, w2, h2):
    """IoU of two (width, height) boxes placed at a common corner (anchor k-means, YOLO anchor assignment)."""
    return wh_iou_areas(w1, h1, w1 * h1, w2, h2, w2 * h2)


@jit
def giou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, offset):
    """Generalised IoU ``iou - (hull - union) / hull`` in [-1, 1]; the hull is the smallest enclosing box.

    Empty boxes: IoU 0 as above, and the hull term uses the (clamped) areas; 0 when the hull is empty.
    """
    area_a = box_area_scalar(ax1, ay1, ax2, ay2, offset)
    area_b = box_area_scalar(bx1, by1, bx2, by2, offset)
    iw = min(ax2, bx2) - max(ax1, bx1) + offset
    ih = min(ay2, by2) - max(ay1, by1) + offset
    inter = 0.0
    if iw > 0.0 and ih > 0.0:
        inter = iw * ih
    union = area_a + area_b - inter
    hw = max(ax2, bx2) - min(ax1, bx1) + offset
    hh = max(ay2, by2) - min(ay1, by1) + offset
    if hw <= 0.0 or hh <= 0.0:
        return 0.0
    hull = hw * hh
    iou = inter / union if union > 0.0 else 0.0
    return iou - (hull - union) / hull


@jit
def pairwise_iou_kernel(a, b, offset):
    """float64[N, M] IoU of every box of ``a`` (float64[N, 4]) with every box of ``b`` (float64[M, 4])."""
    n, m = a.shape[0], b.shape[0]
    out = np.zeros((n, m), np.float64)
    area_b = np.empty(m, np.float64)
    for j in range(m):
        area_b[j] = (b[j, 2] - b[j, 0] + offset) * (b[j, 3] - b[j, 1] + offset)
    for i in range(n):
        ax1, ay1, ax2, ay2 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
        area_a = (ax2 - ax1 + offset) * (ay2 - ay1 + offset)
        for j in range(m):
            out[i, j] = iou_pair_areas(ax1, ay1, ax2, ay2, area_a, b[j, 0], b[j, 1], b[j, 2], b[j, 3], area_b[j],
                                       offset)
    return out


@jit
def pairwise_giou_kernel(a, b, offset):
    """float64[N, M] generalised IoU of every box of ``a`` with every box of ``b``."""
    n, m = a.shape[0], b.shape[0]
    out = np.zeros((n, m), np.float64)
    for i in range(n):
        for j in range(m):
            out[i, j] = giou_pair(a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[j, 0], b[j, 1], b[j, 2], b[j, 3], offset)
    return out


@jit
def box_area_kernel(a, offset):
    """float64[N] areas ``(x2 - x1 + offset) * (y2 - y1 + offset)``; 0 for empty boxes."""
    n = a.shape[0]
    out = np.zeros(n, np.float64)
    for i in range(n):
        out[i] = box_area_scalar(a[i, 0], a[i, 1], a[i, 2], a[i, 3], offset)
    return out


@jit
def box_wh_kernel(a, offset):
    """float64[N, 2] ``(x2 - x1 + offset, y2 - y1 + offset)``; not clamped (<= 0 for empty boxes)."""
    n = a.shape[0]
    out = np.empty((n, 2), np.float64)
    for i in range(n):
        out[i, 0] = box_width(a[i, 0], a[i, 2], offset)
        out[i, 1] = box_width(a[i, 1], a[i, 3], offset)
    return out


@jit
def wh_iou_matrix_kernel(wh, centers):
    """float64[N, K] aligned IoU of every (w, h) in ``wh`` with every centre (w, h)."""
    n = wh.shape[0]
    k = centers.shape[0]
    out = np.empty((n, k), np.float64)
    for i in range(n):
        w = wh[i, 0]
        h = wh[i, 1]
        a = w * h
        for j in range(k):
            out[i, j] = wh_iou_areas(w, h, a, centers[j, 0], centers[j, 1], centers[j, 0] * centers[j, 1])
    return out


@jit
def inverted_kernel(a):
    """bool[N]: ``xmax < xmin or ymax < ymin``."""
    n = a.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        out[i] = a[i, 2] < a[i, 0] or a[i, 3] < a[i, 1]
    return out


@jit
def first_nonfinite_row(a):
    """Index of the first row of a float64 2-D array holding NaN or +-inf, or -1."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = a[i, j]
            if not (v - v == 0.0):
                return i
    return -1


@jit
def bbiou_select(ax1, ay1, ax2, ay2, area_a, bx1, by1, bx2, by2, area_b, crowd):
    """``maskApi.c``'s ``bbIou`` (the COCO matcher's IoU) of detection ``a`` and GT ``b`` (continuous corners,
    areas ``w * h``): exactly :func:`iou_pair_areas` (``crowd`` False) or :func:`iof_pair_areas` (``crowd`` True:
    the union is the detection's area) with offset 0, the same float operations and the same value, written with
    selects instead of early returns.

    A detection overlaps about half of the GT of its group, so the early returns of the scalar kernels are
    mispredicted branches that cost more than the IoU itself in the matcher's inner loop (tests/test_coco.py
    checks the equality on edge cases: touching, empty, inverted and zero-area boxes).
    """
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    inter = iw * ih
    union = area_a if crowd else area_a + area_b - inter
    ok = (iw > 0.0) & (ih > 0.0) & (union > 0.0)
    v = inter / (union if ok else 1.0)
    return v if ok else 0.0
