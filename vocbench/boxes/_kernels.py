"""Numba kernels for box geometry. Arrays and scalars only (STYLE.md §1).

Two pixel conventions share one formula with an ``offset``:

* VOC ``'+1'`` (``offset = 1``): boxes are 1-based inclusive pixel ranges, ``w = xmax - xmin + 1``. This is the
  expression, operand for operand, of the PASCAL VOC devkit (``VOCevaldet.m``) and of its Python port
  (``voc_eval.py``): ``iw = min(x2) - max(x1) + 1``, ``union = (area_a + area_b) - iw * ih``.
* continuous (``offset = 0``): ``w = xmax - xmin``.

An *inverted* box (``xmax < xmin`` or ``ymax < ymin``) has IoU 0 with everything (vocbench's rule; the devkit
never sees such boxes).
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit

__all__ = ["iou_pair", "pairwise_iou_kernel", "box_area_kernel", "inverted_kernel"]


@jit
def iou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, offset):
    """IoU of two boxes (scalars). 0 when they do not overlap, when either is inverted, or when the union is 0."""
    if ax2 < ax1 or ay2 < ay1 or bx2 < bx1 or by2 < by1:
        return 0.0
    iw = min(ax2, bx2) - max(ax1, bx1) + offset
    if iw <= 0.0:
        return 0.0
    ih = min(ay2, by2) - max(ay1, by1) + offset
    if ih <= 0.0:
        return 0.0
    inter = iw * ih
    union = (ax2 - ax1 + offset) * (ay2 - ay1 + offset) + (bx2 - bx1 + offset) * (by2 - by1 + offset) - inter
    if union <= 0.0:
        return 0.0
    return inter / union


@jit
def pairwise_iou_kernel(a, b, offset):
    """float64[N, M] IoU of every box of ``a`` (float64[N, 4]) with every box of ``b`` (float64[M, 4])."""
    n, m = a.shape[0], b.shape[0]
    out = np.zeros((n, m), np.float64)
    for i in range(n):
        for j in range(m):
            out[i, j] = iou_pair(a[i, 0], a[i, 1], a[i, 2], a[i, 3], b[j, 0], b[j, 1], b[j, 2], b[j, 3], offset)
    return out


@jit
def box_area_kernel(a, offset):
    """float64[N] areas ``(x2 - x1 + offset) * (y2 - y1 + offset)``; 0 for inverted boxes."""
    n = a.shape[0]
    out = np.zeros(n, np.float64)
    for i in range(n):
        if a[i, 2] >= a[i, 0] and a[i, 3] >= a[i, 1]:
            out[i] = (a[i, 2] - a[i, 0] + offset) * (a[i, 3] - a[i, 1] + offset)
    return out


@jit
def inverted_kernel(a):
    """bool[N]: ``xmax < xmin or ymax < ymin``."""
    n = a.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        out[i] = a[i, 2] < a[i, 0] or a[i, 3] < a[i, 1]
    return out
