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

__all__ = ["stable_partition", "group_by_key", "argsort_desc_stable", "inverse_permutation", "match_voc_kernel",
           "pr_curve_kernel", "ap_voc07_kernel", "ap_voc12_kernel", "best_f1_kernel", "coco_match_kernel",
           "coco_select_kernel", "coco_accumulate_kernel"]


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
    outcome = np.zeros(n, np.int8)
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
                    outcome[d] = 3
                elif not matched[jbest]:
                    outcome[d] = 1
                    matched[jbest] = True
                else:
                    outcome[d] = 2
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
        curve_offsets[c + 1] = curve_offsets[c] + class_offsets[c + 1] - class_offsets[c] - counts[c, 3]
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
            if o == 3:
                continue
            if o == 1:
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
        mrec[k + 1] = 1.0
        mpre[k + 1] = 0.0
        for i in range(k + 1, 0, -1):
            if mpre[i] > mpre[i - 1]:
                mpre[i - 1] = mpre[i]
        total = 0.0
        for i in range(k + 1):
            if mrec[i + 1] != mrec[i]:
                total += (mrec[i + 1] - mrec[i]) * mpre[i + 1]
        out[c] = total
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


# ----------------------------------------------------------------------------------------------- COCO
@jit
def coco_match_kernel(gt_offsets, gx, gy, gw, gh, garea, gcrowd, group_offsets, group_order, dx, dy, dw, dh, darea,
                      iou_thresholds, area_lo, area_hi, max_det, num_images):
    """pycocotools' ``evaluateImg`` for every (class, image) group, every area range and IoU threshold.

    Boxes are COCO ``[x, y, w, h]`` exactly as exported; IoU is ``maskApi.c``'s ``bbIou``, operand for operand
    (continuous coordinates; for a crowd GT the union is the detection's area). GT of a group are visited
    non-ignored first (stable); a detection takes the best-IoU GT (``>=`` the threshold capped at 1 - 1e-10, a
    later GT winning ties), skipping matched non-crowd GT and stopping at ignored GT once it holds a regular one.
    Unmatched detections outside the area range are ignored.

    Args:
        gt_offsets: int64[G + 1] CSR offsets of the GT of each group (group = class * num_images + image).
        gx, gy, gw, gh, garea: float64[M] GT boxes and ``area`` fields in CSR order. gcrowd: bool[M].
        group_offsets: int64[G + 1] group segments of ``group_order``.
        group_order: int64[N] detection rows grouped, descending score (stable) within a group.
        dx, dy, dw, dh, darea: float64[N] detection boxes and areas (``w * h``) by row.
        iou_thresholds: float64[T], already capped at 1 - 1e-10.
        area_lo, area_hi: float64[A] inclusive area ranges.
        max_det: detections kept per group (the top ``max_det`` by score).
        num_images: images per class (the groups of one class are contiguous).

    Returns:
        flags int8[A, T, N] by position in ``group_order``: 0 = false positive, 1 = true positive, 2 = ignored,
        3 = beyond ``max_det``; npig int64[G, A] non-ignored GT per group.
    """
    ngroups = gt_offsets.shape[0] - 1
    na = area_lo.shape[0]
    nt = iou_thresholds.shape[0]
    n = group_order.shape[0]
    flags = np.empty((na, nt, n), np.int8)
    npig = np.zeros((ngroups, na), np.int64)
    nclass = ngroups // num_images
    for c in range(nclass):
        _coco_match_class(c * num_images, (c + 1) * num_images, gt_offsets, gx, gy, gw, gh, garea, gcrowd,
                          group_offsets, group_order, dx, dy, dw, dh, darea, iou_thresholds, area_lo, area_hi,
                          max_det, flags, npig)
    return flags, npig


@jit
def _coco_match_class(grp0, grp1, gt_offsets, gx, gy, gw, gh, garea, gcrowd, group_offsets, group_order, dx, dy, dw,
                      dh, darea, iou_thresholds, area_lo, area_hi, max_det, flags, npig):
    """:func:`coco_match_kernel` for the groups ``grp0 .. grp1 - 1`` (one class), writing into flags and npig."""
    na = area_lo.shape[0]
    nt = iou_thresholds.shape[0]
    # scratch buffers, grown on demand (no allocation per group)
    ious = np.zeros(64, np.float64)
    gind = np.empty(16, np.int64)
    gig = np.empty(16, np.bool_)
    gtm = np.empty(16, np.bool_)
    dmax = np.empty(16, np.float64)
    mstate = np.empty(64, np.int8)  # per (area, threshold, detection): -1 unmatched, 0 matched, 1 matched ignored
    patterns = np.empty(na, np.int64)
    for grp in range(grp0, grp1):
        g0, g1 = gt_offsets[grp], gt_offsets[grp + 1]
        p0, p1 = group_offsets[grp], group_offsets[grp + 1]
        ng = g1 - g0
        if ng == 0 and p0 == p1:
            continue
        for a in range(na):
            q = 0
            for g in range(g0, g1):
                if not (gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]):
                    q += 1
            npig[grp, a] = q
        for p in range(min(p0 + max_det, p1), p1):
            for a in range(na):
                for t in range(nt):
                    flags[a, t, p] = 3
        if p1 - p0 > max_det:
            p1 = p0 + max_det
        nd = p1 - p0
        if nd == 0:
            continue
        if ng == 0:  # nothing to match: false positives, or ignored outside the area range
            for a in range(na):
                for p in range(p0, p1):
                    d = group_order[p]
                    f = 2 if (darea[d] < area_lo[a] or darea[d] > area_hi[a]) else 0
                    for t in range(nt):
                        flags[a, t, p] = f
            continue
        if nd * ng > ious.shape[0]:
            ious = np.zeros(2 * nd * ng, np.float64)
        if ng > gind.shape[0]:
            gind = np.empty(2 * ng, np.int64)
            gig = np.empty(2 * ng, np.bool_)
            gtm = np.empty(2 * ng, np.bool_)
        if nd > dmax.shape[0]:
            dmax = np.empty(2 * nd, np.float64)
        dmax[:nd] = 0.0
        for j in range(ng):
            g = g0 + j
            ga = gw[g] * gh[g]
            gx2 = gw[g] + gx[g]
            gy2 = gh[g] + gy[g]
            for i in range(nd):
                d = group_order[p0 + i]
                ious[i * ng + j] = 0.0
                da = dw[d] * dh[d]
                w = min(dw[d] + dx[d], gx2) - max(dx[d], gx[g])
                if w <= 0.0:
                    continue
                h = min(dh[d] + dy[d], gy2) - max(dy[d], gy[g])
                if h <= 0.0:
                    continue
                inter = w * h
                u = da if gcrowd[g] else da + ga - inter
                v = inter / u
                ious[i * ng + j] = v
                if v > dmax[i]:
                    dmax[i] = v
        if na * nt * nd > mstate.shape[0]:
            mstate = np.empty(2 * na * nt * nd, np.int8)
        for a in range(na):
            # the matching depends on the area range only through the GT ignore pattern: reuse an equal one
            same = -1
            if ng <= 62:
                pat = np.int64(0)
                for j in range(ng):
                    g = g0 + j
                    if gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]:
                        pat |= np.int64(1) << np.int64(j)
                patterns[a] = pat
                for a2 in range(a):
                    if patterns[a2] == pat:
                        same = a2
                        break
            else:
                patterns[a] = -1
            if same >= 0:
                for t in range(nt):
                    for i in range(nd):
                        st = mstate[(same * nt + t) * nd + i]
                        mstate[(a * nt + t) * nd + i] = st
                        if st < 0:
                            d = group_order[p0 + i]
                            flags[a, t, p0 + i] = 2 if (darea[d] < area_lo[a] or darea[d] > area_hi[a]) else 0
                        else:
                            flags[a, t, p0 + i] = 2 if st == 1 else 1
                continue
            q = 0  # non-ignored GT first, stable
            for j in range(ng):
                g = g0 + j
                if not (gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]):
                    gind[q] = j
                    gig[q] = False
                    q += 1
            for j in range(ng):
                g = g0 + j
                if gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]:
                    gind[q] = j
                    gig[q] = True
                    q += 1
            for t in range(nt):
                gtm[:ng] = False
                for i in range(nd):
                    iou = iou_thresholds[t]
                    m = -1
                    if dmax[i] >= iou:  # else no GT reaches the threshold: unmatched
                        for k in range(ng):
                            j = gind[k]
                            if gtm[k] and not gcrowd[g0 + j]:
                                continue
                            if m > -1 and not gig[m] and gig[k]:
                                break
                            v = ious[i * ng + j]
                            if v < iou:
                                continue
                            iou = v
                            m = k
                    if m == -1:
                        mstate[(a * nt + t) * nd + i] = -1
                        d = group_order[p0 + i]
                        flags[a, t, p0 + i] = 2 if (darea[d] < area_lo[a] or darea[d] > area_hi[a]) else 0
                    else:
                        gtm[m] = True
                        mstate[(a * nt + t) * nd + i] = 1 if gig[m] else 0
                        flags[a, t, p0 + i] = 2 if gig[m] else 1


@jit
def coco_select_kernel(class_positions, class_offsets, group_start, max_dets):
    """Per maxDet value, the class-ordered positions whose rank in their (class, image) group is below it.

    Returns:
        positions int64[sum], offsets int64[M, K + 1] into ``positions`` (segment of maxDet ``m``, class ``k``).
    """
    nk = class_offsets.shape[0] - 1
    nm = max_dets.shape[0]
    n = class_positions.shape[0]
    total = 0
    for mi in range(nm):
        for s in range(n):
            p = class_positions[s]
            if p - group_start[p] < max_dets[mi]:
                total += 1
    positions = np.empty(total, np.int64)
    offsets = np.zeros((nm, nk + 1), np.int64)
    q = 0
    for mi in range(nm):
        for k in range(nk):
            offsets[mi, k] = q
            for s in range(class_offsets[k], class_offsets[k + 1]):
                p = class_positions[s]
                if p - group_start[p] < max_dets[mi]:
                    positions[q] = p
                    q += 1
        offsets[mi, nk] = q
    return positions, offsets


@jit
def coco_accumulate_kernel(flags, positions, offsets, npig, rec_thresholds):
    """pycocotools' ``accumulate``: 101-point interpolated precision and final recall, bit for bit.

    pycocotools computes ``rc = tp / npig`` and ``pr = tp / (fp + tp + eps)`` after every detection, takes the
    right-to-left running maximum of ``pr`` and reads it at the first index where ``rc >= r`` for each recall
    threshold ``r``. Here only the points that can matter are computed: recall only grows at true positives, so
    that index is the ``k``-th true positive with ``k`` the smallest count where ``k / npig >= r``; and the running
    maximum from there on is attained at the end of a run of true positives (precision rises along a run of true
    positives and falls along false positives). Ignored detections only repeat the previous point and are
    skipped. The values are the same floating-point expressions as pycocotools'.

    Args:
        flags: int8[A, T, N] from :func:`coco_match_kernel` (group-order positions).
        positions, offsets: from :func:`coco_select_kernel` — per maxDet and class, the positions of the detections
            kept, in descending score order, ties by image then input order (pycocotools' concatenation + mergesort).
        npig: int64[K, A] non-ignored GT per class and area range.
        rec_thresholds: float64[R].

    Returns:
        precision float64[T, R, K, A, M] and recall float64[T, K, A, M], -1 where a class has no non-ignored GT.
    """
    na, nt = flags.shape[0], flags.shape[1]
    nm = offsets.shape[0]
    nk = offsets.shape[1] - 1
    nr = rec_thresholds.shape[0]
    precision = np.full((nt, nr, nk, na, nm), -1.0)
    recall = np.full((nt, nk, na, nm), -1.0)
    for k in range(nk):
        _coco_accumulate_class(k, flags, positions, offsets, npig, rec_thresholds, precision, recall)
    return precision, recall


@jit
def _coco_accumulate_class(k, flags, positions, offsets, npig, rec_thresholds, precision, recall):
    """:func:`coco_accumulate_kernel` for class ``k``, writing into precision and recall."""
    na, nt = flags.shape[0], flags.shape[1]
    nm = offsets.shape[0]
    nr = rec_thresholds.shape[0]
    eps = np.finfo(np.float64).eps
    kthr = np.empty(nr, np.int64)
    longest = offsets[nm - 1, k + 1] - offsets[nm - 1, k]
    run_tp = np.empty(longest + 2, np.int64)   # TP and FP counts at the end of each run of true positives
    run_fp = np.empty(longest + 2, np.int64)
    run_pr = np.empty(longest + 2, np.float64)  # precision there, then its suffix maximum
    for a in range(na):
        npg = npig[k, a]
        if npg == 0:
            continue
        for r in range(nr):  # smallest TP count whose recall reaches the threshold
            kk = 0
            while kk < npg and not (kk / npg >= rec_thresholds[r]):
                kk += 1
            kthr[r] = max(kk, 1)  # threshold 0 reads index 0, whose running maximum is the first TP's (or 0)
        for mi in range(nm):
            s0, s1 = offsets[mi, k], offsets[mi, k + 1]
            for t in range(nt):
                row = flags[a, t]
                tp = 0
                fp = 0
                nruns = 0
                last_tp = 0
                for s in range(s0, s1):  # branch-free: flags are unpredictable
                    f = row[positions[s]]
                    is_tp = np.int64(f == 1)
                    is_fp = np.int64(f == 0)
                    run_tp[nruns] = tp  # state at the last TP, kept when an FP ends the run
                    run_fp[nruns] = fp
                    nruns += is_fp & last_tp
                    tp += is_tp
                    fp += is_fp
                    last_tp = is_tp | (last_tp & (1 - is_fp))
                if last_tp:
                    run_tp[nruns] = tp
                    run_fp[nruns] = fp
                    nruns += 1
                for i in range(nruns):
                    run_pr[i] = run_tp[i] / (float(run_fp[i]) + float(run_tp[i]) + eps)
                recall[t, k, a, mi] = tp / npg
                for i in range(nruns - 2, -1, -1):
                    if run_pr[i + 1] > run_pr[i]:
                        run_pr[i] = run_pr[i + 1]
                i = 0
                for r in range(nr):
                    while i < nruns and run_tp[i] < kthr[r]:
                        i += 1
                    if i >= nruns:
                        for r2 in range(r, nr):
                            precision[t, r2, k, a, mi] = 0.0
                        break
                    precision[t, r, k, a, mi] = run_pr[i]
