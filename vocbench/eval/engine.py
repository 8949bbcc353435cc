"""Which implementation runs the VOC pass: the plain-numpy engine or the Numba kernels (same numbers, bit for bit).

Both engines implement grouping, devkit / voc_eval matching, precision/recall curves, VOC07 / VOC12 AP and the
best-F1 threshold with the same float operations in the same order (:mod:`vocbench.eval._vectorised` and
:mod:`vocbench.eval._kernels`; tests hold them equal to each other and to the plain-Python twin). They differ in
cost only:

* Numba: the VOC pass on the YOLOv2 VOC07-test set (101,139 detections, one IoU threshold) takes ~8 ms, but
  importing Numba and loading its cached kernels costs ~0.5 s per process — more than a whole ``vocbench eval``
  should take.
* numpy: ~39 ms on the same set (4.9x; radix sorts, then every detection against the GT of its class and image
  at once), nothing to load; its temporaries grow with the number of (detection, GT) pairs (1M detections:
  544 MiB peak RSS vs 321 MiB with the kernels).

Rule of ``engine="auto"`` (:func:`resolve_engine`, a pure function of its arguments and of whether Numba is
imported): **Numba when it is already imported in this process** (its start-up is paid; e.g. after NMS, diagnose,
the COCO metrics) **or when this call scores at least** :data:`NUMBA_MIN_DETECTIONS` **detections** (numpy's extra
~0.4 µs per detection then adds up to Numba's start-up, and a large set's pair arrays stay out of memory);
**numpy otherwise**. So a one-shot ``vocbench eval`` never loads Numba. Results are the same either way;
``engine="numpy"`` / ``"numba"`` force one.

The two engines are two classes behind one typed protocol, :class:`VocEngine`: :class:`NumpyEngine` and
:class:`NumbaEngine`. The caller picks one by name (:func:`voc_engine`) and holds it; no state is kept here.
"""

from __future__ import annotations

import sys
from typing import Protocol

import numpy as np

__all__ = ["ENGINES", "NUMBA_MIN_DETECTIONS", "VocEngine", "NumpyEngine", "NumbaEngine", "resolve_engine",
           "voc_engine"]

ENGINES = ("auto", "numpy", "numba")
#: From this many detections in one call ``engine="auto"`` takes the Numba kernels even when Numba is not imported.
NUMBA_MIN_DETECTIONS = 1_000_000

Arrays2 = tuple[np.ndarray, np.ndarray]
Curves = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class VocEngine(Protocol):
    """The VOC pass of one engine. Arrays as in :mod:`vocbench.eval._vectorised` (the numpy engine's docstrings;
    the Numba kernels of :mod:`vocbench.eval._kernels` take and return the same arrays)."""

    name: str

    def group_by_key(self, keys: np.ndarray, num_keys: int) -> Arrays2: ...

    def argsort_desc_stable(self, values: np.ndarray, order: np.ndarray) -> np.ndarray: ...

    def stable_partition(self, order: np.ndarray, keys: np.ndarray, num_keys: int) -> Arrays2: ...

    def match_voc(self, group_order: np.ndarray, group_offsets: np.ndarray, det_boxes: np.ndarray,
                  gt_offsets: np.ndarray, gt_boxes: np.ndarray, gt_difficult: np.ndarray, iou_threshold: float,
                  inclusive: bool) -> Arrays2: ...

    def pr_curve(self, outcome: np.ndarray, class_order: np.ndarray, class_offsets: np.ndarray,
                 scores: np.ndarray, npos: np.ndarray) -> Curves: ...

    def ap_voc07(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, npos: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray: ...

    def ap_voc12(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray,
                 npos: np.ndarray) -> np.ndarray: ...

    def best_f1(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray,
                npos: np.ndarray) -> np.ndarray: ...


class NumpyEngine:
    """The plain-numpy VOC pass (:mod:`vocbench.eval._vectorised`): nothing to load."""

    name = "numpy"

    def __init__(self) -> None:
        from vocbench.eval import _vectorised

        self._v = _vectorised

    def group_by_key(self, keys: np.ndarray, num_keys: int) -> Arrays2:
        return self._v.group_by_key(keys, num_keys)

    def argsort_desc_stable(self, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        return self._v.argsort_desc_stable(values, order)

    def stable_partition(self, order: np.ndarray, keys: np.ndarray, num_keys: int) -> Arrays2:
        return self._v.stable_partition(order, keys, num_keys)

    def match_voc(self, group_order: np.ndarray, group_offsets: np.ndarray, det_boxes: np.ndarray,
                  gt_offsets: np.ndarray, gt_boxes: np.ndarray, gt_difficult: np.ndarray, iou_threshold: float,
                  inclusive: bool) -> Arrays2:
        return self._v.match_voc(group_order, group_offsets, det_boxes, gt_offsets, gt_boxes, gt_difficult,
                                 iou_threshold, inclusive)

    def pr_curve(self, outcome: np.ndarray, class_order: np.ndarray, class_offsets: np.ndarray,
                 scores: np.ndarray, npos: np.ndarray) -> Curves:
        return self._v.pr_curve(outcome, class_order, class_offsets, scores, npos)

    def ap_voc07(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, npos: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray:
        return self._v.ap_voc07(curve_offsets, precision, recall, npos, thresholds)

    def ap_voc12(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray,
                 npos: np.ndarray) -> np.ndarray:
        return self._v.ap_voc12(curve_offsets, precision, recall, npos)

    def best_f1(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray,
                npos: np.ndarray) -> np.ndarray:
        return self._v.best_f1(curve_offsets, precision, recall, scores, npos)


class NumbaEngine:
    """The Numba kernels (:mod:`vocbench.eval._kernels`); constructing one imports Numba."""

    name = "numba"

    def __init__(self) -> None:
        from vocbench.eval import _kernels

        self._k = _kernels

    def group_by_key(self, keys: np.ndarray, num_keys: int) -> Arrays2:
        return self._k.group_by_key(keys, num_keys)

    def argsort_desc_stable(self, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        return self._k.argsort_desc_stable(values, order)

    def stable_partition(self, order: np.ndarray, keys: np.ndarray, num_keys: int) -> Arrays2:
        return self._k.stable_partition(order, keys, num_keys)

    def match_voc(self, group_order: np.ndarray, group_offsets: np.ndarray, det_boxes: np.ndarray,
                  gt_offsets: np.ndarray, gt_boxes: np.ndarray, gt_difficult: np.ndarray, iou_threshold: float,
                  inclusive: bool) -> Arrays2:
        return self._k.match_voc_kernel(group_order, group_offsets, det_boxes, gt_offsets, gt_boxes, gt_difficult,
                                        iou_threshold, inclusive)

    def pr_curve(self, outcome: np.ndarray, class_order: np.ndarray, class_offsets: np.ndarray,
                 scores: np.ndarray, npos: np.ndarray) -> Curves:
        return self._k.pr_curve_kernel(outcome, class_order, class_offsets, scores, npos)

    def ap_voc07(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, npos: np.ndarray,
                 thresholds: np.ndarray) -> np.ndarray:
        return self._k.ap_voc07_kernel(curve_offsets, precision, recall, npos, thresholds)

    def ap_voc12(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray,
                 npos: np.ndarray) -> np.ndarray:
        return self._k.ap_voc12_kernel(curve_offsets, precision, recall, npos)

    def best_f1(self, curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray,
                npos: np.ndarray) -> np.ndarray:
        return self._k.best_f1_kernel(curve_offsets, precision, recall, scores, npos)


def resolve_engine(engine: str, num_detections: int) -> str:
    """``"numpy"`` or ``"numba"`` for ``engine`` (``"auto"``: the rule of the module docstring)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    if "numba" in sys.modules or num_detections >= NUMBA_MIN_DETECTIONS:
        return "numba"
    return "numpy"


def voc_engine(engine: str, num_detections: int = 0) -> VocEngine:
    """The engine named ``engine`` (``"numpy"``, ``"numba"``, or ``"auto"`` resolved for ``num_detections``
    detections by :func:`resolve_engine`)."""
    name = resolve_engine(engine, num_detections)
    return NumbaEngine() if name == "numba" else NumpyEngine()
