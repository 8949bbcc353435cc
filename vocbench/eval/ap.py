"""Average precision from precision/recall points: VOC07 11-point and VOC12 all-point.

* VOC07: the mean over the 11 recall thresholds ``t`` of the maximum precision at recall ``>= t`` (0 when no
  point reaches ``t``). The 11 terms are summed, then divided by 11, so a perfect detector gets exactly 1.0. The
  thresholds are part of the protocol (:data:`vocbench.eval.matching.PROTOCOLS`).
* VOC12 (also VOC2010+): the area under the monotone (right-to-left running maximum) precision envelope, with
  sentinel points (recall 0, precision 0) and (1, 0), summed over the points where recall changes.

The public functions take one curve (numpy engine, :mod:`vocbench.eval._vectorised`: the same numbers as the
Numba kernels); the evaluator calls the batched functions of its engine directly.
"""

from __future__ import annotations

import numpy as np

from vocbench.eval._vectorised import ap_voc07, ap_voc12

__all__ = ["VOC07_THRESHOLDS_DEVKIT", "VOC07_THRESHOLDS_VOC_EVAL", "average_precision_voc07",
           "average_precision_voc12"]

#: MATLAB ``0:0.1:1`` (the official devkit).
VOC07_THRESHOLDS_DEVKIT = (0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: ``numpy.arange(0., 1.1, 0.1)`` (voc_eval.py).
VOC07_THRESHOLDS_VOC_EVAL = tuple(float(t) for t in np.arange(0.0, 1.1, 0.1))


def _curve(recall, precision) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r = np.ascontiguousarray(recall, dtype=np.float64).reshape(-1)
    p = np.ascontiguousarray(precision, dtype=np.float64).reshape(-1)
    if r.shape != p.shape:
        raise ValueError(f"recall and precision must have the same length, got {r.shape} and {p.shape}")
    if r.size and (np.any(np.diff(r) < 0) or not np.isfinite(r).all() or not np.isfinite(p).all()):
        raise ValueError("recall must be finite and non-decreasing, precision finite")
    return np.array([0, r.size], np.int64), p, r, np.ones(1, np.int64)


def average_precision_voc07(recall, precision, thresholds=VOC07_THRESHOLDS_DEVKIT) -> float:
    """VOC07 11-point AP of one precision/recall curve.

    Args:
        recall: float64[K] non-decreasing recall after each counted detection (descending score).
        precision: float64[K] precision at the same points.
        thresholds: recall thresholds; default the devkit's (MATLAB ``0:0.1:1``).

    Returns:
        AP in [0, 1]; 0 for an empty curve.
    """
    offsets, p, r, npos = _curve(recall, precision)
    return float(ap_voc07(offsets, p, r, npos, np.asarray(thresholds, np.float64).reshape(-1))[0])


def average_precision_voc12(recall, precision) -> float:
    """VOC12 all-point AP (area under the monotone precision envelope) of one curve; 0 for an empty curve."""
    offsets, p, r, npos = _curve(recall, precision)
    return float(ap_voc12(offsets, p, r, npos)[0])
