"""Box geometry: pairwise IoU and areas under an explicit pixel convention.

Boxes are ``float64[N, 4]`` as ``(xmin, ymin, xmax, ymax)``. The pixel convention is a named parameter:

* ``"voc"`` (default): 1-based inclusive pixels, ``w = xmax - xmin + 1`` — the PASCAL VOC devkit's rule. A box
  ``[1, 1, 10, 10]`` is 10 × 10 pixels.
* ``"continuous"``: ``w = xmax - xmin`` (COCO, torchvision).

Inverted boxes (``xmax < xmin`` or ``ymax < ymin``) are legal and have IoU 0 with every box.
"""

from __future__ import annotations

import numpy as np

from vocbench.boxes._kernels import box_area_kernel, inverted_kernel, pairwise_iou_kernel

__all__ = ["PIXEL_CONVENTIONS", "box_iou", "box_area", "inverted_boxes", "as_boxes"]

#: Pixel conventions and the offset they add to ``xmax - xmin``.
PIXEL_CONVENTIONS: dict[str, float] = {"voc": 1.0, "continuous": 0.0}


def _offset(pixel_convention: str) -> float:
    try:
        return PIXEL_CONVENTIONS[pixel_convention]
    except KeyError:
        raise ValueError(f"pixel_convention must be one of {sorted(PIXEL_CONVENTIONS)}, "
                         f"got {pixel_convention!r}") from None


def as_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a C-contiguous ``float64[N, 4]`` (an empty input becomes ``(0, 4)``)."""
    a = np.asarray(boxes, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 4), np.float64)
    if a.ndim == 1 and a.shape[0] == 4:
        a = a.reshape(1, 4)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {a.shape}")
    return np.ascontiguousarray(a)


def box_iou(boxes1, boxes2, *, pixel_convention: str = "voc") -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        boxes1: float64[N, 4] as (xmin, ymin, xmax, ymax).
        boxes2: float64[M, 4], same format.
        pixel_convention: ``"voc"`` (default; inclusive pixels, width = xmax - xmin + 1) or ``"continuous"``.

    Returns:
        float64[N, M] IoU in [0, 1]; 0 for disjoint or inverted boxes.

    Example:
        >>> box_iou([[1, 1, 10, 10]], [[1, 1, 10, 20]])  # 100 / 200 pixels
        array([[0.5]])
    """
    return pairwise_iou_kernel(as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2"), _offset(pixel_convention))


def box_area(boxes, *, pixel_convention: str = "voc") -> np.ndarray:
    """float64[N] box areas in square pixels under ``pixel_convention``; 0 for inverted boxes."""
    return box_area_kernel(as_boxes(boxes), _offset(pixel_convention))


def inverted_boxes(boxes) -> np.ndarray:
    """bool[N]: True where ``xmax < xmin`` or ``ymax < ymin``."""
    return inverted_kernel(as_boxes(boxes))
