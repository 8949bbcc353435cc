"""Numba kernels of the scoring engine. Arrays and scalars only (STYLE.md §1).

Layout shared by the kernels:

* ``order``: a permutation of detection rows; ``seg_offsets`` splits it into segments (one per class, or one per
  ``class * num_images + image`` group). Within a segment detections are sorted by descending score with a
  **stable** sort (ties keep their input order).
* Ground truth is in CSR form: ``gt_offsets[key] .. gt_offsets[key + 1]`` are the rows (already gathered into
  contiguous arrays) of the objects of group ``key = class * num_images + image``, in dataset (XML) order.

Outcome codes of VOC matching (int8): 0 = false positive (no GT reaches the IoU threshold), 1 = true positive,
2 = duplicate (the best GT is already matched: also a false positive), 3 = ignored (the best GT is difficult).
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit
from vocbench.boxes._kernels import iou_pair
from vocbench.eval.outcomes import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP

__all__ = ["stable_partition", "group_by_key", "argsort_desc_stable", "inverse_permutation", "match_voc_kernel",
           "pr_curve_kernel", "ap_voc07_kernel", "ap_voc12_kernel", "best_f1_kernel"]


# ----------------------------------------------------------------------------------------------- grouping
@jit
def stable_partition(order, keys, num_keys):
    """Stable counting sort of the rows in ``order`` by ``keys[row]`` (int64 values in ``[0, num_keys)``).

    Returns:
        (new_order int64[N], offsets int64[num_keys + 1]): rows of key ``k`` are
        ``new_order[offsets[k]:offsets[k + 1]]``, in their order in ``order``.
    """
    n = order.shape[0]
    offsets = np.zeros(num_keys + 1, np.int64)
    for i in range(n):
        offsets[keys[order[i]] + 1] += 1
    for k in range(num_keys):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    out = np.empty(n, np.int64)
    for i in range(n):
        r = order[i]
        k = keys[r]
        out[fill[k]] = r
        fill[k] += 1
    return out, offsets


@jit
def group_by_key(keys, num_keys):
    """Stable counting sort of ``keys`` (int64[N]): ``(order, offsets)`` as in :func:`stable_partition`."""
    return stable_partition(np.arange(keys.shape[0]), keys, num_keys)


@jit
def argsort_desc_stable(values, order):
    """Rows of ``order`` sorted by descending ``values[row]``; ties keep their order in ``order``.

    LSD radix sort on the IEEE-754 bits (4 passes of 16 bits, passes where every key shares the digit are
    skipped): linear time, and stable like ``np.argsort(-values, kind="stable")``. ``-0.0`` equals ``0.0``.
    ``values`` must not hold NaN.
    """
    n = order.shape[0]
    sign = np.uint64(1) << np.uint64(63)
    keys = np.empty(n, np.uint64)
    bits = (values + 0.0).view(np.uint64)
    for i in range(n):
        u = bits[order[i]]
        if u & sign:
            u = ~u
        else:
            u = u | sign
        keys[i] = ~u  # ascending keys = descending values
    cur = order.copy()
    cur_keys = keys
    nxt = np.empty(n, np.int64)
    nxt_keys = np.empty(n, np.uint64)
    counts = np.zeros(65537, np.int64)
    mask = np.uint64(0xFFFF)
    for p in range(4):
        shift = np.uint64(16 * p)
        counts[:] = 0
        for i in range(n):
            counts[np.int64((cur_keys[i] >> shift) & mask) + 1] += 1
        if n == 0 or counts[np.int64((cur_keys[0] >> shift) & mask) + 1] == n:
            continue
        for k in range(65536):
            counts[k + 1] += counts[k]
        for i in range(n):
            dgt = np.int64((cur_keys[i] >> shift) & mask)
            j = counts[dgt]
            nxt[j] = cur[i]
            nxt_keys[j] = cur_keys[i]
            counts[dgt] = j + 1
        cur, nxt = nxt, cur
        cur_keys, nxt_keys = nxt_keys, cur_keys
    return cur


@jit
def inverse_permutation(order):
    """int64[N] ``slot`` with ``slot[order[i]] = i``."""
    out = np.empty(order.shape[0], np.int64)
    for i in range(order.shape[0]):
        out[order[i]] = i
    return out


# ----------------------------------------------------------------------------------------------- VOC
@jit
def match_voc_kernel(group_order, group_offsets, det_boxes, gt_offsets, gt_boxes, gt_difficult, iou_threshold,
                     inclusive):
    """Greedy VOC matching (the devkit's rules) of every (class, image) group.

    Within a group, detections are visited by descending score. A detection's candidate is the single GT of the
    group with the highest IoU (VOC '+1' pixels; the first one on ties, difficult included). If that IoU passes
    the threshold (``>=`` when ``inclusive`` else ``>``): a difficult GT makes the detection ignored (the GT stays
    unmatched), an unmatched GT makes it a TP and marks the GT, a matched GT makes it a duplicate. Otherwise it
    is a false positive. Groups are independent (a GT belongs to one image and class), so visiting them one by
    one gives the same labels as the devkit's class-wide score order.

    Args:
        group_order: int64[N] detection rows grouped by ``class * num_images + image``, descending score within.
        group_offsets: int64[G + 1] group segments of ``group_order``.
        det_boxes: float64[N, 4] detection boxes (xmin, ymin, xmax, ymax), VOC pixels, by row.
        gt_offsets: int64[G + 1] CSR offsets of the GT of each group.
        gt_boxes: float64[M, 4] GT boxes in CSR order. gt_difficult: bool[M] in CSR order.
        iou_threshold: IoU threshold in (0, 1].
        inclusive: True for ``IoU >= threshold`` (devkit), False for ``IoU > threshold`` (voc_eval.py).

    Returns:
        (outcome int8[N], best_iou float64[N]) by detection row.
    """
    n = group_order.shape[0]
    outcome = np.full(n, OUTCOME_FP, np.int8)
    best_iou = np.zeros(n, np.float64)
    matched = np.zeros(gt_boxes.shape[0], np.bool_)
    ngroups = group_offsets.shape[0] - 1
    for grp in range(ngroups):
        p0, p1 = group_offsets[grp], group_offsets[grp + 1]
        if p0 == p1:
            continue
        g0, g1 = gt_offsets[grp], gt_offsets[grp + 1]
        if g0 == g1:
            continue  # no GT: every detection is a false positive (outcome 0, IoU 0)
        for p in range(p0, p1):
            d = group_order[p]
            best = -1.0
            jbest = -1
            x1, y1, x2, y2 = det_boxes[d, 0], det_boxes[d, 1], det_boxes[d, 2], det_boxes[d, 3]
            for g in range(g0, g1):
                ov = iou_pair(x1, y1, x2, y2, gt_boxes[g, 0], gt_boxes[g, 1], gt_boxes[g, 2], gt_boxes[g, 3], 1.0)
                if ov > best:
                    best = ov
                    jbest = g
            best_iou[d] = best
            if (best >= iou_threshold) if inclusive else (best > iou_threshold):
                if gt_difficult[jbest]:
                    outcome[d] = OUTCOME_IGNORED
                elif not matched[jbest]:
                    outcome[d] = OUTCOME_TP
                    matched[jbest] = True
                else:
                    outcome[d] = OUTCOME_DUPLICATE
    return outcome, best_iou


@jit
def pr_curve_kernel(outcome, class_order, class_offsets, scores, npos):
    """Precision/recall after each counted detection of each class (ignored detections are left out).

    Args:
        outcome: int8[N] codes by detection row.
        class_order: int64[N] rows by class, descending score (stable) within a class.
        class_offsets: int64[C + 1] class segments of ``class_order``.
        scores: float64[N] by row.
        npos: int64[C] non-difficult GT per class.

    Returns:
        curve_offsets int64[C + 1], precision float64[K], recall float64[K] (NaN when npos = 0), scores float64[K],
        counts int64[C, 4] (false positives, true positives, duplicates, ignored).
    """
    nclass = class_offsets.shape[0] - 1
    counts = np.zeros((nclass, 4), np.int64)
    curve_offsets = np.zeros(nclass + 1, np.int64)
    for c in range(nclass):
        for p in range(class_offsets[c], class_offsets[c + 1]):
            counts[c, outcome[class_order[p]]] += 1
        curve_offsets[c + 1] = curve_offsets[c] + class_offsets[c + 1] - class_offsets[c] - counts[c, OUTCOME_IGNORED]
    k = curve_offsets[nclass]
    precision = np.empty(k, np.float64)
    recall = np.empty(k, np.float64)
    curve_scores = np.empty(k, np.float64)
    for c in range(nclass):
        q = curve_offsets[c]
        tp = 0
        fp = 0
        for p in range(class_offsets[c], class_offsets[c + 1]):
            r = class_order[p]
            o = outcome[r]
            if o == OUTCOME_IGNORED:
                continue
            if o == OUTCOME_TP:
                tp += 1
            else:
                fp += 1
            precision[q] = tp / (tp + fp)
            recall[q] = tp / npos[c] if npos[c] > 0 else np.nan
            curve_scores[q] = scores[r]
            q += 1
    return curve_offsets, precision, recall, curve_scores, counts


@jit
def ap_voc07_kernel(curve_offsets, precision, recall, npos, thresholds):
    """VOC07 AP per class: mean over ``thresholds`` t of the max precision at recall >= t (0 if none).

    The terms are summed, then divided by their number (a perfect detector gets exactly 1.0). NaN when npos = 0.
    """
    nclass = curve_offsets.shape[0] - 1
    nt = thresholds.shape[0]
    out = np.empty(nclass, np.float64)
    for c in range(nclass):
        if npos[c] == 0:
            out[c] = np.nan
            continue
        a, b = curve_offsets[c], curve_offsets[c + 1]
        env = np.empty(b - a, np.float64)  # env[i] = max(precision[a + i:b])
        run = -1.0
        for i in range(b - a - 1, -1, -1):
            if precision[a + i] > run:
                run = precision[a + i]
            env[i] = run
        total = 0.0
        i = 0
        for ti in range(nt):
            t = thresholds[ti]
            while i < b - a and not (recall[a + i] >= t):
                i += 1
            if i < b - a:
                total += env[i]
        out[c] = total / nt
    return out


@jit
def all_point_area(mrec, mpre, k):
    """The all-point (VOC12) area of ``k`` curve points held in ``mrec[1:k+1]``, ``mpre[1:k+1]`` with the start
    sentinel ``(0, 0)`` already in slot 0: sets the end sentinel ``(1, 0)`` in slot ``k + 1``, makes ``mpre[:k+2]``
    its monotone envelope in place, and sums ``(r[i+1] - r[i]) * p_env[i+1]`` where recall changes (the devkit)."""
    mrec[k + 1] = 1.0
    mpre[k + 1] = 0.0
    for i in range(k + 1, 0, -1):
        if mpre[i] > mpre[i - 1]:
            mpre[i - 1] = mpre[i]
    total = 0.0
    for i in range(k + 1):
        if mrec[i + 1] != mrec[i]:
            total += (mrec[i + 1] - mrec[i]) * mpre[i + 1]
    return total


@jit
def ap_voc12_kernel(curve_offsets, precision, recall, npos):
    """VOC12 AP per class: area under the monotone precision envelope with sentinels (0, 0) and (1, 0).

    Sums ``(r[i+1] - r[i]) * p_env[i+1]`` over the points where recall changes, as the devkit does. NaN when
    npos = 0.
    """
    nclass = curve_offsets.shape[0] - 1
    out = np.empty(nclass, np.float64)
    for c in range(nclass):
        if npos[c] == 0:
            out[c] = np.nan
            continue
        a, b = curve_offsets[c], curve_offsets[c + 1]
        k = b - a
        mrec = np.empty(k + 2, np.float64)
        mpre = np.empty(k + 2, np.float64)
        mrec[0] = 0.0
        mpre[0] = 0.0
        for i in range(k):
            mrec[i + 1] = recall[a + i]
            mpre[i + 1] = precision[a + i]
        out[c] = all_point_area(mrec, mpre, k)
    return out


@jit
def best_f1_kernel(curve_offsets, precision, recall, scores, npos):
    """Per class, the score threshold (keep detections with score >= it) that maximises F1.

    Only the last point of a run of tied scores is a valid cut. The highest threshold wins ties in F1.

    Returns:
        float64[C, 4]: threshold, precision, recall, F1 (NaN when npos = 0 or there is no detection).
    """
    nclass = curve_offsets.shape[0] - 1
    out = np.full((nclass, 4), np.nan)
    for c in range(nclass):
        if npos[c] == 0:
            continue
        a, b = curve_offsets[c], curve_offsets[c + 1]
        best = -1.0
        for i in range(a, b):
            if i + 1 < b and scores[i + 1] == scores[i]:
                continue
            p, r = precision[i], recall[i]
            f1 = 2.0 * p * r / (p + r) if p + r > 0.0 else 0.0
            if f1 > best:
                best = f1
                out[c, 0] = scores[i]
                out[c, 1] = p
                out[c, 2] = r
                out[c, 3] = f1
    return out
