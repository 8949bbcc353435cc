"""Box measures: areas, widths, pairwise IoU and generalised IoU, aligned (w, h) IoU — all under a named pixel
convention (:mod:`vocbench.boxes.conventions`; default ``"voc"``, 1-based inclusive pixels).

Boxes are ``float64[N, 4]`` as ``(xmin, ymin, xmax, ymax)``. Empty boxes (width or height ``<= 0`` under the
convention, e.g. inverted ones) have area 0 and IoU 0 with every box. The kernels are in
:mod:`vocbench.boxes._kernels`; the evaluator, NMS and the anchor analysis call the same kernels.
"""

from __future__ import annotations

import numpy as np

from vocbench._native import kernels
from vocbench.boxes.conventions import DEFAULT_PIXEL_CONVENTION, check_boxes, check_wh, pixel_offset

_k = kernels("vocbench.boxes._kernels")  # none of these is on the COCO path: the JIT module loads on first use

__all__ = ["box_iou", "generalized_box_iou", "box_area", "box_wh", "wh_iou", "inverted_boxes", "as_boxes",
           "coco_box_iou"]


def as_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` validated as a C-contiguous ``float64[N, 4]`` (:func:`~vocbench.boxes.check_boxes`)."""
    return check_boxes(boxes, name)


def box_iou(boxes1, boxes2, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        boxes1: float[N, 4] as (xmin, ymin, xmax, ymax).
        boxes2: float[M, 4], same format.
        pixel_convention: ``"voc"`` (default; inclusive pixels, width = xmax - xmin + 1) or ``"continuous"``
            (width = xmax - xmin, as ``torchvision.ops.box_iou``).

    Returns:
        float64[N, M] IoU in [0, 1]; 0 for disjoint or empty boxes.

    Raises:
        InputError (a ValueError): bad shape, NaN/inf (naming the row), unknown convention.

    Example:
        >>> box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]])  # 100 / 200 pixels
        array([[0.5]])
    """
    off = pixel_offset(pixel_convention)
    return _k.pairwise_iou_kernel(check_boxes(boxes1, "boxes1"), check_boxes(boxes2, "boxes2"), off)


def generalized_box_iou(boxes1, boxes2, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION) -> np.ndarray:
    """Pairwise generalised IoU (Rezatofighi et al., 2019): ``IoU - (hull - union) / hull``, float64[N, M] in
    [-1, 1]; the hull is the smallest box enclosing both (``torchvision.ops.generalized_box_iou`` when continuous)."""
    off = pixel_offset(pixel_convention)
    return _k.pairwise_giou_kernel(check_boxes(boxes1, "boxes1"), check_boxes(boxes2, "boxes2"), off)


def box_area(boxes, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION) -> np.ndarray:
    """float64[N] box areas in square pixels under ``pixel_convention``; 0 for empty boxes.

    Example:
        >>> box_area([[1, 1, 10, 20]]), box_area([[1, 1, 10, 20]], pixel_convention="continuous")
        (array([200.]), array([171.]))
    """
    return _k.box_area_kernel(check_boxes(boxes), pixel_offset(pixel_convention))


def box_wh(boxes, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION) -> np.ndarray:
    """float64[N, 2] (width, height) under ``pixel_convention`` (``xmax - xmin + 1`` for ``"voc"``); not clamped."""
    return _k.box_wh_kernel(check_boxes(boxes), pixel_offset(pixel_convention))


def wh_iou(wh1, wh2) -> np.ndarray:
    """float64[N, K] IoU of (width, height) shapes placed at a common corner (anchor k-means, YOLO assignment).

    ``min(w1, w2) min(h1, h2) / (w1 h1 + w2 h2 - min(w1, w2) min(h1, h2))``; shapes must be finite and > 0.
    """
    return _k.wh_iou_matrix_kernel(check_wh(wh1, "wh1"), check_wh(wh2, "wh2"))


def inverted_boxes(boxes) -> np.ndarray:
    """bool[N]: True where ``xmax < xmin`` or ``ymax < ymin``."""
    return _k.inverted_kernel(check_boxes(boxes))


def coco_box_iou(dt_xywh, gt_xywh, gt_iscrowd) -> np.ndarray:
    """pycocotools' box IoU matrix (``maskApi.c`` ``bbIou``, the same float operations): float64[D, G].

    Args:
        dt_xywh: float[D, 4] detections as COCO ``[x, y, w, h]`` (continuous coordinates).
        gt_xywh: float[G, 4] ground truth, same format.
        gt_iscrowd: bool[G]; a crowd region's "union" is the detection's own area ``w * h``.

    Returns:
        float64[D, G]: ``intersection / union``; 0 where the boxes do not overlap (width or height ``<= 0``).
    """
    d = np.asarray(dt_xywh, np.float64).reshape(-1, 4)
    g = np.asarray(gt_xywh, np.float64).reshape(-1, 4)
    crowd = np.asarray(gt_iscrowd, bool).reshape(-1)
    da, ga = (d[:, 2] * d[:, 3])[:, None], (g[:, 2] * g[:, 3])[None, :]
    w = np.fmin(d[:, None, 2] + d[:, None, 0], g[None, :, 2] + g[None, :, 0]) - np.fmax(d[:, None, 0], g[None, :, 0])
    h = np.fmin(d[:, None, 3] + d[:, None, 1], g[None, :, 3] + g[None, :, 1]) - np.fmax(d[:, None, 1], g[None, :, 1])
    inter = w * h
    union = np.where(crowd[None, :], da, da + ga - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / union
    out[(w <= 0) | (h <= 0)] = 0.0
    return out
