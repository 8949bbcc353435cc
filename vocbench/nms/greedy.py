"""Greedy non-maximum suppression: :func:`nms`, exact twin of ``torchvision.ops.nms``, fast on large inputs."""

from __future__ import annotations

import math

import numpy as np

from vocbench.boxes import DEFAULT_PIXEL_CONVENTION, check_boxes, pixel_offset
from vocbench.errors import InputError
from vocbench.nms._kernels import descending_score_order, first_nonfinite, greedy_nms_rows_kernel

__all__ = ["nms"]


def _as_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a C-contiguous float64[N, 4] (no copy when it already is one); finiteness not checked."""
    return check_boxes(boxes, name, finite=False)


def _check_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a C-contiguous float64[N, 4]; InputError naming the first offending row."""
    return check_boxes(boxes, name)


def _as_scores(scores, n: int, name: str = "scores") -> np.ndarray:
    """``scores`` as a C-contiguous float64[n] (no copy when it already is one); finiteness not checked."""
    if type(scores) is np.ndarray and scores.dtype == np.float64 and scores.ndim == 1 and scores.shape[0] == n \
            and scores.flags.c_contiguous:
        return scores
    s = np.asarray(scores)
    if s.dtype == object or not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
        raise InputError(f"{name} must be a numeric array of shape (N,), got dtype {s.dtype}")
    if s.ndim != 1:
        raise InputError(f"{name} must have shape (N,), got shape {tuple(s.shape)}")
    if s.shape[0] != n:
        raise InputError(f"{name} has length {s.shape[0]} but boxes has {n} rows (index {min(n, s.shape[0])} "
                         f"has no partner)")
    return np.ascontiguousarray(s, dtype=np.float64)


def _check_scores(scores, n: int, name: str = "scores") -> np.ndarray:
    """``scores`` as a C-contiguous float64[n]; InputError naming the first NaN/inf."""
    s = _as_scores(scores, n, name)
    i = int(first_nonfinite(s))
    if i >= 0:
        raise InputError(f"{name}[{i}] is not finite: {s[i]}")
    return s


def _check_threshold(value, name: str, low: float = 0.0, high: float | None = None) -> float:
    if type(value) is float and low <= value < math.inf and high is None:  # the common case, no NaN
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < low or (high is not None and v > high):
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"{name} must be a finite number in {rng}, got {value!r}")
    return v


def _check_offset(pixel_convention) -> float:
    """The width offset of ``pixel_convention`` (``"voc"``: 1.0, ``"continuous"``: 0.0; :mod:`vocbench.boxes`)."""
    return pixel_offset(pixel_convention)


def _check_count(value, name: str) -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name} must be a non-negative integer or None, got {value!r}")
    return int(value)


def _candidate_order(scores: np.ndarray, score_threshold: float | None, pre_nms_top_k: int) -> np.ndarray:
    """Rows by descending score, ties in row order (a stable sort), after the score filter and top-k."""
    order = descending_score_order(scores, score_threshold is not None,
                                   0.0 if score_threshold is None else score_threshold)
    if pre_nms_top_k >= 0:
        order = order[:pre_nms_top_k]
    return order


def nms(boxes, scores, iou: float, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION,
        score_threshold: float | None = None, pre_nms_top_k: int | None = None,
        max_output: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression, identical in keep set and order to ``torchvision.ops.nms``.

    Boxes are visited by descending score (ties: lower row first, a stable sort); a box is kept unless an
    already-kept box overlaps it with IoU **strictly greater** than ``iou``. The IoU expression is
    torchvision's, operand for operand, in float64, so the result equals torchvision's on float64 input
    (including IoUs exactly at the threshold, identical boxes and zero-area boxes, which never suppress).
    The work grows about as n log n on detector-like data: each candidate is compared only with kept boxes
    that share a cell of a size-levelled grid and whose size can reach the threshold.

    Args:
        boxes: float[N, 4] as (x1, y1, x2, y2) under ``pixel_convention``. Any numeric dtype; computed in float64.
        scores: float[N], higher is better.
        iou: the IoU threshold: suppress when IoU > this (>= 0; 1.0 suppresses nothing). Required.
        pixel_convention: ``"voc"`` (default, as every box measure of vocbench: 1-based inclusive pixels,
            width = x2 - x1 + 1, as the classic py-faster-rcnn CPU NMS) or ``"continuous"`` (width = x2 - x1, as
            ``torchvision.ops.nms``: pass it for torchvision's keep set).
        score_threshold: drop boxes with score <= this before NMS (default None: keep all).
        pre_nms_top_k: only the k highest-scoring boxes enter NMS (default None: all).
        max_output: return at most this many kept boxes (default None: all). Same as slicing the full
            result, but stops early.

    Returns:
        int64[K] row indices into ``boxes`` of the kept boxes, by descending score (ties in row order).

    Raises:
        InputError (a ValueError): wrong shapes, mismatched lengths, NaN/inf (message names the row),
            a negative threshold. Empty input returns an empty array.
    """
    # this wrapper is most of the cost at detector sizes (~2k boxes): checks are cheap when the input is already
    # float64; NaN/inf checks, the stable score order (radix sort) and the NMS run in one compiled call
    b = _as_boxes(boxes)
    n = b.shape[0]
    s = _as_scores(scores, n)
    thr = _check_threshold(iou, "iou")
    off = _check_offset(pixel_convention)
    st = None if score_threshold is None else _check_threshold(score_threshold, "score_threshold", low=-np.inf)
    top = -1 if pre_nms_top_k is None else _check_count(pre_nms_top_k, "pre_nms_top_k")
    cap = -1 if max_output is None else _check_count(max_output, "max_output")
    if n == 0:
        return np.zeros(0, np.int64)
    kept, bad_box, bad_score = greedy_nms_rows_kernel(b, s, st is not None, 0.0 if st is None else st, thr, off,
                                                      top, cap)
    if bad_box >= 0:
        raise InputError(f"boxes[{bad_box}] has a non-finite coordinate: {b[bad_box].tolist()}")
    if bad_score >= 0:
        raise InputError(f"scores[{bad_score}] is not finite: {s[bad_score]}")
    return kept
