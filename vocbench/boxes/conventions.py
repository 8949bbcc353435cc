"""Box conventions: the pixel convention, the one box validator, and COCO's object size classes.

Pixel conventions (a named parameter everywhere, default :data:`DEFAULT_PIXEL_CONVENTION`):

* ``"voc"`` (default): 1-based inclusive pixels, ``width = xmax - xmin + 1`` — the PASCAL VOC devkit's rule. The
  box ``[1, 1, 10, 10]`` is 10 x 10 pixels. Every VOC annotation and devkit detection file is in this convention.
* ``"continuous"``: ``width = xmax - xmin`` (COCO, torchvision, normalised coordinates).

A box is *empty* when its width or height under the convention is ``<= 0`` (an inverted box is empty); it has
area 0 and IoU 0 with every box.

COCO size classes (:data:`COCO_AREA_RANGES`, pycocotools' ``areaRng``) compare a box's area **in VOC pixels**
(``(xmax - xmin + 1) * (ymax - ymin + 1)``, the ``area`` field of :func:`vocbench.io.coco.export_coco`) with
inclusive bounds on both ends, as ``COCOeval.evaluateImg`` does: an object of area exactly 32² = 1024 is both
"small" and "medium" (pycocotools counts it in both).
"""

from __future__ import annotations

import numpy as np

from vocbench._native import kernels
from vocbench.errors import InputError

_k = kernels("vocbench.boxes._kernels")  # compiled ahead of time when built (no Numba import), else the JIT module

__all__ = ["PIXEL_CONVENTIONS", "DEFAULT_PIXEL_CONVENTION", "pixel_offset", "check_boxes", "check_wh",
           "COCO_AREA_RANGES", "COCO_AREA_LABELS", "coco_area_masks"]

#: Pixel conventions and the offset they add to ``xmax - xmin``.
PIXEL_CONVENTIONS: dict[str, float] = {"voc": 1.0, "continuous": 0.0}
#: The default everywhere a VOC pixel box is measured.
DEFAULT_PIXEL_CONVENTION = "voc"

#: COCO's area ranges (pycocotools ``Params.areaRng``), inclusive ``(low, high)`` in square pixels, in the order
#: of :data:`COCO_AREA_LABELS`. The single definition: the evaluator and the dataset report both use it.
COCO_AREA_RANGES: tuple[tuple[float, float], ...] = (
    (0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))
#: Names of :data:`COCO_AREA_RANGES` (pycocotools ``Params.areaRngLbl``).
COCO_AREA_LABELS: tuple[str, ...] = ("all", "small", "medium", "large")


def pixel_offset(pixel_convention: str) -> float:
    """The offset (1.0 or 0.0) of a named pixel convention; InputError for an unknown name."""
    try:
        return PIXEL_CONVENTIONS[pixel_convention]
    except (KeyError, TypeError):
        raise InputError(f"pixel_convention must be one of {sorted(PIXEL_CONVENTIONS)}, "
                         f"got {pixel_convention!r}") from None


def _numeric(a: np.ndarray, name: str, shape: str) -> None:
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputError(f"{name} must be a numeric array of shape {shape}, got dtype {a.dtype}")


def check_boxes(boxes, name: str = "boxes", *, finite: bool = True, ordered: bool = False) -> np.ndarray:
    """The one box validator: ``boxes`` as a C-contiguous ``float64[N, 4]`` (no copy when it already is one).

    Args:
        boxes: array-like ``[N, 4]`` as (x1, y1, x2, y2); a single box ``[4]`` becomes ``[1, 4]``; an empty input
            becomes ``(0, 4)``. Tensors: pass ``np.asarray(t.detach().cpu())``.
        name: how the message names the argument.
        finite: reject NaN/inf (default). Kernels that check finiteness themselves pass False.
        ordered: also reject inverted boxes (``x2 < x1`` or ``y2 < y1``).

    Raises:
        InputError (a ValueError) naming the first offending row, e.g. ``boxes[3] has a non-finite coordinate:
        [1.0, nan, 4.0, 5.0]``.
    """
    if type(boxes) is np.ndarray and boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.shape[1] == 4 \
            and boxes.flags.c_contiguous:
        a = boxes
    else:
        a = np.asarray(boxes)
        _numeric(a, name, "(N, 4)")
        if a.size == 0:
            a = np.zeros((0, 4), np.float64)
        elif a.ndim == 1 and a.shape[0] == 4:
            a = a.reshape(1, 4)
        if a.ndim != 2 or a.shape[1] != 4:
            raise InputError(f"{name} must have shape (N, 4) as (x1, y1, x2, y2), got shape {tuple(a.shape)}")
        a = np.ascontiguousarray(a, dtype=np.float64)
    if finite:
        row = int(_k.first_nonfinite_row(a))
        if row >= 0:
            raise InputError(f"{name}[{row}] has a non-finite coordinate: {a[row].tolist()}")
    if ordered and len(a):
        bad = np.flatnonzero((a[:, 2] < a[:, 0]) | (a[:, 3] < a[:, 1]))
        if len(bad):
            raise InputError(f"{name}[{int(bad[0])}] is inverted (x2 < x1 or y2 < y1): {a[bad[0]].tolist()}")
    return a


def check_wh(wh, name: str = "wh") -> np.ndarray:
    """Box shapes as a C-contiguous ``float64[N, 2]`` of finite, positive (width, height).

    Raises:
        InputError naming the first offending row: ``wh[4] must be finite and > 0: [0.0, 3.0]``.
    """
    a = np.asarray(wh)
    _numeric(a, name, "(N, 2)")
    if a.size == 0:
        return np.zeros((0, 2), np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise InputError(f"{name} must have shape (N, 2) holding (width, height), got shape {tuple(a.shape)}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    ok = np.isfinite(a).all(axis=1) & (a > 0).all(axis=1)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise InputError(f"{name}[{bad}] must be finite and > 0 (width, height): {a[bad].tolist()}")
    return a


def coco_area_masks(areas) -> np.ndarray:
    """bool[N, 4]: which of COCO's area ranges (:data:`COCO_AREA_LABELS` order) hold each area, pycocotools' rule.

    ``areas`` are VOC pixel areas (:func:`vocbench.boxes.box_area` with the default ``"voc"`` convention). A range
    holds an area unless ``area < low or area > high`` (both ends inclusive).
    """
    a = np.asarray(areas, np.float64).reshape(-1)
    lo = np.array([r[0] for r in COCO_AREA_RANGES], np.float64)
    hi = np.array([r[1] for r in COCO_AREA_RANGES], np.float64)
    return ~((a[:, None] < lo[None, :]) | (a[:, None] > hi[None, :]))
