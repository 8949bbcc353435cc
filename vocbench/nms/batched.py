"""Class-aware NMS: :func:`batched_nms` (boxes of different labels never suppress each other)."""

from __future__ import annotations

import numpy as np

from vocbench.boxes import DEFAULT_PIXEL_CONVENTION
from vocbench.errors import InputError
from vocbench.nms._kernels import greedy_nms_segments_kernel
from vocbench.nms.greedy import (
    _candidate_order,
    _check_boxes,
    _check_count,
    _check_offset,
    _check_scores,
    _check_threshold,
)

__all__ = ["batched_nms"]


def batched_nms(boxes, scores, labels, iou: float, *, pixel_convention: str = DEFAULT_PIXEL_CONVENTION,
                score_threshold: float | None = None, pre_nms_top_k: int | None = None,
                max_output: int | None = None, max_output_per_label: int | None = None) -> np.ndarray:
    """Greedy NMS within each label, the result of ``torchvision.ops.batched_nms``.

    Exactly :func:`~vocbench.nms.nms` run on each label's boxes separately (no coordinate-offset trick, so no
    rounding from shifted coordinates), merged by descending score with ties in row order.

    Args:
        boxes: float[N, 4] as (x1, y1, x2, y2) (see :func:`~vocbench.nms.nms` for ``pixel_convention``).
        scores: float[N], higher is better.
        labels: int[N] class (or image, or image*classes+class) of each box.
        iou: the IoU threshold: suppress when IoU > this, within a label. Required.
        pixel_convention: ``"voc"`` (default, VOC '+1' pixels) or ``"continuous"`` (torchvision's convention).
        score_threshold: drop boxes with score <= this first (default None).
        pre_nms_top_k: only the k highest-scoring boxes overall enter NMS (default None).
        max_output: at most this many boxes in the merged result (default None).
        max_output_per_label: at most this many kept boxes per label (default None).

    Returns:
        int64[K] row indices of the kept boxes by descending score (ties in row order).

    Note:
        torchvision orders the merged result with an unstable sort, so among kept boxes of *different* labels
        with exactly equal scores its order is unspecified; the keep set is the same.
    """
    b = _check_boxes(boxes)
    n = b.shape[0]
    s = _check_scores(scores, n)
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise InputError(f"labels must have shape (N,), got shape {tuple(lab.shape)}")
    if lab.shape[0] != n:
        raise InputError(f"labels has length {lab.shape[0]} but boxes has {n} rows (index {min(n, lab.shape[0])} "
                         f"has no partner)")
    if n and not (np.issubdtype(lab.dtype, np.integer) or lab.dtype == bool):
        if not np.issubdtype(lab.dtype, np.floating):
            raise InputError(f"labels must be integers, got dtype {lab.dtype}")
        bad = ~np.isfinite(lab) | (lab != np.round(lab))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"labels[{i}] is not an integer: {lab[i]}")
        huge = np.abs(lab) >= 2.0**53  # float64 cannot tell such labels apart (2**53 + 1 == 2**53)
        if huge.any():
            i = int(np.flatnonzero(huge)[0])
            raise InputError(f"labels[{i}] = {lab[i]:.0f} is a float at or above 2**53, where distinct labels "
                             "collapse; pass integer labels")
    lab = lab.astype(np.int64, copy=False)
    thr = _check_threshold(iou, "iou")
    off = _check_offset(pixel_convention)
    st = None if score_threshold is None else _check_threshold(score_threshold, "score_threshold", low=-np.inf)
    top = _check_count(pre_nms_top_k, "pre_nms_top_k")
    cap = _check_count(max_output, "max_output")
    per = _check_count(max_output_per_label, "max_output_per_label")
    if n == 0:
        return np.zeros(0, np.int64)
    order = _candidate_order(s, st, top)  # global score order
    # group by label, keeping the score order inside each label (stable sort)
    grouped = np.argsort(lab[order], kind="stable")
    seg_order = order[grouped]
    seg_labels = lab[seg_order]
    starts = np.flatnonzero(np.diff(seg_labels)) + 1
    seg_start = np.concatenate(([0], starts, [len(seg_order)])).astype(np.int64)
    kept_pos = greedy_nms_segments_kernel(b, seg_order, seg_start, thr, off, per)
    # back to global rank (position in ``order``) and merge by it
    ranks = np.sort(grouped[kept_pos])
    if cap >= 0:
        ranks = ranks[:cap]
    return order[ranks]
