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
from vocbench.boxes._kernels import box_width, iof_pair_areas, iou_pair, iou_pair_areas

__all__ = ["stable_partition", "group_by_key", "argsort_desc_stable", "inverse_permutation", "match_voc_kernel",
           "pr_curve_kernel", "ap_voc07_kernel", "ap_voc12_kernel", "best_f1_kernel", "coco_match_kernel",
           "coco_accumulate_kernel"]


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


# ----------------------------------------------------------------------------------------------- COCO
# COCO outcomes are two bit masks per detection, bit ``t * A + a`` for IoU threshold t and area range a (at most 64
# columns): ``counted`` (TP or FP: the detection is a point of the precision/recall curve) and ``tp``. A detection
# that is in neither is ignored (matched to an ignored GT, unmatched outside the area range, or beyond maxDet).


@jit
def coco_match_kernel(gt_offsets, gt_xyxy, gt_area, gt_crowd, group_offsets, group_order, flag_row, det_boxes,
                      iou_thresholds, area_ranges, max_det, num_images):
    """pycocotools' ``evaluateImg`` for every (class, image) group, every area range and IoU threshold, in one pass.

    Boxes are COCO ``[x, y, w, h]`` exactly as exported, given here as ``(x, y, x + w, y + h)`` with the area
    ``w * h``; the IoU is ``maskApi.c``'s ``bbIou`` through :func:`vocbench.boxes._kernels.iou_pair_areas`
    (continuous coordinates) and, for a crowd GT, :func:`~vocbench.boxes._kernels.iof_pair_areas` (the union is
    the detection's area). Per group the IoU matrix is computed once. GT are visited non-ignored first (stable); a
    detection takes the best-IoU GT (``>=`` the threshold capped at 1 - 1e-10, a later GT winning ties), skipping
    matched non-crowd GT and stopping at ignored GT once it holds a regular one. An area range changes the matching
    only through the GT ignore pattern, and a pattern where every GT has the same status matches like no ignore at
    all: each distinct pattern is matched once for all thresholds, and every area range reads its outcomes from
    it (ignore masks on the same matches). Unmatched detections outside the area range are ignored.

    Args:
        gt_offsets: int64[G + 1] CSR offsets of the GT of each group (group = class * num_images + image).
        gt_xyxy: float64[M, 4] GT ``(x, y, x + w, y + h)`` in CSR order. gt_area: float64[M] ``w * h`` (the
            ``area`` field of the export). gt_crowd: bool[M].
        group_offsets: int64[G + 1] group segments of ``group_order``.
        group_order: int64[N] detection rows grouped, descending score (stable) within a group.
        flag_row: int64[N] output row of each position of ``group_order`` (its place in the class-wide order, so
            that :func:`coco_accumulate_kernel` reads the rows in sequence).
        det_boxes: float64[N, 4] detection boxes by row, VOC pixels (converted per group as the COCO export does:
            ``x = xmin - 1``, ``w = xmax - xmin + 1``, so no converted copy of all N boxes is ever held).
        iou_thresholds: float64[T] ascending, already capped at 1 - 1e-10.
        area_ranges: float64[A, 2] inclusive area ranges.
        max_det: detections kept per group (the top ``max_det`` by score).
        num_images: images per class (the groups of one class are contiguous).

    Returns:
        counted, tp: uint64[N] outcome masks by ``flag_row`` (bit ``t * A + a``; see the comment above);
        rank: int64[N] by ``flag_row``, rank within its group (0 = best score; ranks >= ``max_det`` are ignored);
        npig: int64[C, A] non-ignored GT per class and area range.
    """
    ngroups = gt_offsets.shape[0] - 1
    na = area_ranges.shape[0]
    nt = iou_thresholds.shape[0]
    n = group_order.shape[0]
    if na * nt > 64:
        raise ValueError("COCO matching supports at most 64 (IoU threshold, area range) columns")
    counted = np.zeros(n, np.uint64)
    tp = np.zeros(n, np.uint64)
    rank = np.empty(n, np.int64)
    npig = np.zeros((ngroups // num_images, na), np.int64)
    # scratch, grown on demand (no allocation per group)
    ious = np.zeros(64, np.float64)
    dmax = np.zeros(16, np.float64)
    dbox = np.zeros((16, 5), np.float64)
    gig = np.zeros((na, 16), np.bool_)
    slot_of_area = np.zeros(na, np.int64)
    match = np.empty((na, nt, 16), np.int64)
    tried = np.zeros((na, 16), np.int64)
    counted_bits = np.zeros(17, np.uint64)
    tp_bits = np.zeros(17, np.uint64)
    gtm = np.zeros((nt, 16), np.bool_)
    gind = np.empty(16, np.int64)
    replicate = np.uint64(0)  # bit t * A of every threshold t: bits * replicate copies an area mask to all
    for t in range(nt):
        replicate |= np.uint64(1) << np.uint64(t * na)
    for grp in range(ngroups):
        g0, g1 = gt_offsets[grp], gt_offsets[grp + 1]
        p0, p1 = group_offsets[grp], group_offsets[grp + 1]
        ng = g1 - g0
        if ng > gig.shape[1]:
            gig = np.zeros((na, 2 * ng), np.bool_)
            gtm = np.zeros((nt, 2 * ng), np.bool_)
            gind = np.empty(2 * ng, np.int64)
            counted_bits = np.zeros(2 * ng + 1, np.uint64)
            tp_bits = np.zeros(2 * ng + 1, np.uint64)
        if ng > 0:
            _coco_ignore_patterns(g0, g1, gt_area, gt_crowd, area_ranges, gig, npig, grp // num_images)
        if p0 == p1:
            continue
        nd = min(p1 - p0, max_det)
        for p in range(p0, p1):
            rank[flag_row[p]] = p - p0  # beyond max_det: neither counted nor TP
        if ng == 0:  # nothing to match: false positives inside each area range, ignored outside
            _coco_unmatched_bits(det_boxes, group_order, flag_row, p0, nd, area_ranges, replicate, counted)
            continue
        if nd * ng > ious.shape[0]:
            ious = np.zeros(2 * nd * ng, np.float64)
        if nd > dmax.shape[0]:
            dmax = np.zeros(2 * nd, np.float64)
            dbox = np.zeros((2 * nd, 5), np.float64)
            match = np.empty((na, nt, 2 * nd), np.int64)
            tried = np.zeros((na, 2 * nd), np.int64)
        _coco_det_boxes(det_boxes, group_order, p0, nd, dbox)
        _coco_group_ious(dbox, nd, g0, g1, gt_xyxy, gt_area, gt_crowd, ious, dmax)
        nslots = _coco_pattern_slots(ng, gig, slot_of_area)
        for slot in range(nslots):
            a = 0
            while slot_of_area[a] != slot:
                a += 1
            _coco_match_pattern(nd, ng, g0, gt_crowd, gig, a, ious, dmax, iou_thresholds, gind, gtm, match, tried,
                                slot)
        _coco_outcome_bits(flag_row, p0, nd, ng, dbox, area_ranges, gig, slot_of_area, nslots,
                           match, tried, counted_bits, tp_bits, counted, tp)
    return counted, tp, rank, npig


@jit
def _coco_ignore_patterns(g0, g1, gt_area, gt_crowd, area_ranges, gig, npig, k):
    """``gig[a, j]``: GT ``g0 + j`` is ignored under area range ``a`` (crowd, or area outside the inclusive range);
    adds the non-ignored counts to ``npig[k, a]``."""
    for a in range(area_ranges.shape[0]):
        lo, hi = area_ranges[a, 0], area_ranges[a, 1]
        q = 0
        for j in range(g1 - g0):
            g = g0 + j
            ig = gt_crowd[g] or gt_area[g] < lo or gt_area[g] > hi
            gig[a, j] = ig
            q += not ig
        npig[k, a] += q


@jit
def _coco_unmatched_bits(det_boxes, group_order, flag_row, p0, nd, area_ranges, replicate, counted):
    """``counted`` masks of a group without GT: each detection is an FP at every threshold of the area ranges its
    area (as the COCO export computes it) falls in."""
    for i in range(nd):
        d = group_order[p0 + i]
        area = box_width(det_boxes[d, 0], det_boxes[d, 2], 1.0) * box_width(det_boxes[d, 1], det_boxes[d, 3], 1.0)
        bits = np.uint64(0)
        for a in range(area_ranges.shape[0]):
            if not (area < area_ranges[a, 0] or area > area_ranges[a, 1]):
                bits |= np.uint64(1) << np.uint64(a)
        counted[flag_row[p0 + i]] = bits * replicate


@jit
def _coco_det_boxes(det_boxes, group_order, p0, nd, dbox):
    """``dbox[i]`` = ``(x, y, x + w, y + h, w * h)`` of the group's ``i``-th detection: the COCO export of its VOC
    box (``x = xmin - 1``, ``w = xmax - xmin + 1``; the same float operations as
    :func:`vocbench.io.coco.voc_boxes_to_xywh`) with the far corner as ``maskApi.c`` forms it."""
    for i in range(nd):
        d = group_order[p0 + i]
        w = box_width(det_boxes[d, 0], det_boxes[d, 2], 1.0)
        h = box_width(det_boxes[d, 1], det_boxes[d, 3], 1.0)
        x = det_boxes[d, 0] - 1.0
        y = det_boxes[d, 1] - 1.0
        dbox[i, 0] = x
        dbox[i, 1] = y
        dbox[i, 2] = x + w
        dbox[i, 3] = y + h
        dbox[i, 4] = w * h


@jit
def _coco_group_ious(dbox, nd, g0, g1, gt_xyxy, gt_area, gt_crowd, ious, dmax):
    """``ious[i * ng + j]``: IoU of the group's ``i``-th detection (score order) with GT ``g0 + j``; ``dmax[i]`` its
    largest IoU (0 when none overlaps)."""
    ng = g1 - g0
    for i in range(nd):
        ax1, ay1, ax2, ay2, aa = dbox[i, 0], dbox[i, 1], dbox[i, 2], dbox[i, 3], dbox[i, 4]
        best = 0.0
        for j in range(ng):
            g = g0 + j
            if gt_crowd[g]:
                v = iof_pair_areas(ax1, ay1, ax2, ay2, aa, gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2],
                                   gt_xyxy[g, 3], 0.0)
            else:
                v = iou_pair_areas(ax1, ay1, ax2, ay2, aa, gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2],
                                   gt_xyxy[g, 3], gt_area[g], 0.0)
            ious[i * ng + j] = v
            if v > best:
                best = v
        dmax[i] = best


@jit
def _coco_pattern_slots(ng, gig, slot_of_area):
    """Give area ranges with the same matching one slot: equal ignore patterns, or patterns where every GT has the
    same status (those match exactly like no ignore at all). Returns the number of slots."""
    na = gig.shape[0]
    nslots = 0
    for a in range(na):
        uniform = True
        for j in range(1, ng):
            if gig[a, j] != gig[a, 0]:
                uniform = False
                break
        slot_of_area[a] = -1
        for a2 in range(a):
            same = True
            if not uniform:
                for j in range(ng):
                    if gig[a, j] != gig[a2, j]:
                        same = False
                        break
            else:
                for j in range(1, ng):
                    if gig[a2, j] != gig[a2, 0]:
                        same = False
                        break
            if same:
                slot_of_area[a] = slot_of_area[a2]
                break
        if slot_of_area[a] < 0:
            slot_of_area[a] = nslots
            nslots += 1
    return nslots


@jit
def _coco_match_pattern(nd, ng, g0, gt_crowd, gig, a, ious, dmax, iou_thresholds, gind, gtm, match, tried, slot):
    """pycocotools' greedy matching of one group under the ignore pattern ``gig[a]``, every threshold in one sweep
    over the detections: ``match[slot, t, i]`` = local index of the GT that detection ``i`` takes at threshold
    ``t`` (-1: none) for ``t < tried[slot, i]``; no GT reaches the later thresholds.

    The scan's winner when no GT is taken yet is, for every threshold, the last non-ignored GT of largest IoU (if
    it reaches the threshold), else the last ignored one of largest IoU: when that GT is still free at a threshold,
    it is the scan's answer there; only a taken one needs the scan over the free GT.
    """
    nt = iou_thresholds.shape[0]
    q = 0  # visiting order: non-ignored GT first, stable
    for j in range(ng):
        if not gig[a, j]:
            gind[q] = j
            q += 1
    for j in range(ng):
        if gig[a, j]:
            gind[q] = j
            q += 1
    for t in range(nt):
        for j in range(ng):
            gtm[t, j] = False
    for i in range(nd):
        row = i * ng
        # the winner if every GT were free: the last non-ignored GT with the largest IoU, else the last ignored one
        bn, vn, bi, vi = -1, -1.0, -1, -1.0
        for j in range(ng):
            v = ious[row + j]
            if gig[a, j]:
                if v >= vi:
                    bi, vi = j, v
            elif v >= vn:
                bn, vn = j, v
        t = 0
        while t < nt and dmax[i] >= iou_thresholds[t]:  # thresholds ascend
            thr = iou_thresholds[t]
            w = bn if vn >= thr else (bi if vi >= thr else -1)
            if w < 0 or not gtm[t, w] or gt_crowd[g0 + w]:  # free: the greedy scan would pick it too
                match[slot, t, i] = w
                if w > -1:
                    gtm[t, w] = True
                t += 1
                continue
            m = -1
            best = thr
            for k in range(ng):
                j = gind[k]
                if gtm[t, j] and not gt_crowd[g0 + j]:
                    continue
                if m > -1 and not gig[a, m] and gig[a, j]:
                    break
                v = ious[row + j]
                if v < best:
                    continue
                best = v
                m = j
            match[slot, t, i] = m
            if m > -1:
                gtm[t, m] = True
            t += 1
        tried[slot, i] = t  # no GT reaches the thresholds from t on


@jit
def _coco_outcome_bits(flag_row, p0, nd, ng, dbox, area_ranges, gig, slot_of_area, nslots, match,
                       tried, counted_bits, tp_bits, counted, tp):
    """The ``counted`` and ``tp`` masks of the group's detections from the matches of each area's pattern slot.

    ``counted_bits[1 + j]`` / ``tp_bits[1 + j]`` hold, bit ``a``, the outcome of a match with GT ``j`` under area
    range ``a`` (a TP unless the GT is ignored there); entry 0 is the current detection's unmatched outcome (an FP
    inside the area range, ignored outside), so each threshold is one table read at ``1 + match``. Thresholds
    that no GT reaches get the unmatched outcome replicated by one multiplication (``bits * 0b0001_0001...``).
    """
    na = area_ranges.shape[0]
    nt = match.shape[1]
    one = np.uint64(1)
    for j in range(ng):
        bits = np.uint64(0)
        for a in range(na):
            if not gig[a, j]:
                bits |= one << np.uint64(a)
        counted_bits[1 + j] = bits
        tp_bits[1 + j] = bits
    tp_bits[0] = 0
    replicate = np.uint64(0)
    for t in range(nt):
        replicate |= one << np.uint64(t * na)
    for i in range(nd):
        bits = np.uint64(0)
        for a in range(na):
            if not (dbox[i, 4] < area_ranges[a, 0] or dbox[i, 4] > area_ranges[a, 1]):
                bits |= one << np.uint64(a)
        counted_bits[0] = bits
        if nslots == 1:
            cm = np.uint64(0)
            tm = np.uint64(0)
            t_end = tried[0, i]
            for t in range(t_end):
                src = match[0, t, i] + 1
                shift = np.uint64(t * na)
                cm |= counted_bits[src] << shift
                tm |= tp_bits[src] << shift
            if t_end < nt:  # unmatched from t_end on
                cm |= (bits * replicate) >> np.uint64(t_end * na) << np.uint64(t_end * na)
        else:  # each area range takes its bits from the masks of its slot
            cm = np.uint64(0)
            tm = np.uint64(0)
            for slot in range(nslots):
                cs, ts = _coco_slot_bits(match, tried, slot, i, na, bits, replicate, counted_bits, tp_bits)
                for a in range(na):
                    if slot_of_area[a] == slot:
                        cm |= cs & (replicate << np.uint64(a))
                        tm |= ts & (replicate << np.uint64(a))
        r = flag_row[p0 + i]
        counted[r] = cm
        tp[r] = tm


@jit
def _coco_slot_bits(match, tried, slot, i, na, bits, replicate, counted_bits, tp_bits):
    """``(counted, tp)`` masks of detection ``i`` under the matches of ``slot``, every area range's bit filled."""
    cm = np.uint64(0)
    tm = np.uint64(0)
    t_end = tried[slot, i]
    for t in range(t_end):
        src = match[slot, t, i] + 1
        shift = np.uint64(t * na)
        cm |= counted_bits[src] << shift
        tm |= tp_bits[src] << shift
    if t_end < match.shape[1]:  # unmatched from t_end on
        cm |= (bits * replicate) >> np.uint64(t_end * na) << np.uint64(t_end * na)
    return cm, tm


@jit
def coco_accumulate_kernel(counted, tp, class_offsets, rank, npig, max_dets, rec_thresholds, num_thresholds):
    """pycocotools' ``accumulate``: 101-point interpolated precision and final recall, bit for bit.

    pycocotools computes ``rc = tp / npig`` and ``pr = tp / (fp + tp + eps)`` after every detection, takes the
    right-to-left running maximum of ``pr`` and reads it at the first index where ``rc >= r`` for each recall
    threshold ``r``. Recall only grows at true positives, so that index is the ``k``-th true positive with ``k``
    the smallest count where ``k / npig >= r``, and the running maximum from there is the largest precision at the
    ``j``-th true positive, ``j >= k`` (precision falls along false positives; ignored detections repeat the
    previous point). So one scan per class and maxDet over the detections in class order records, for every
    (area, threshold) column at once, the number of counted detections at each true positive; the rest is
    arithmetic on those points, the same floating-point expressions as pycocotools'. A maxDet that truncates no
    group of the class gives the same arrays as the next larger one and is copied.

    Args:
        counted, tp: uint64[N] outcome masks from :func:`coco_match_kernel`, rows in class order: descending
            score, ties by image then input order (pycocotools' concatenation over images + mergesort).
        class_offsets: int64[K + 1] class segments of the rows.
        rank: int64[N] rank within the (class, image) group, by row.
        npig: int64[K, A] non-ignored GT per class and area range.
        max_dets: int64[M] ascending (1, 10, 100); the last one is the matching's ``max_det``.
        rec_thresholds: float64[R]. num_thresholds: T (columns are ``t * A + a``).

    Returns:
        precision float64[T, R, K, A, M] and recall float64[T, K, A, M], -1 where a class has no non-ignored GT.
    """
    nt = num_thresholds
    na = npig.shape[1]
    nm = max_dets.shape[0]
    nk = class_offsets.shape[0] - 1
    nr = rec_thresholds.shape[0]
    precision = np.full((nt, nr, nk, na, nm), -1.0)
    recall = np.full((nt, nk, na, nm), -1.0)
    longest = 0
    for k in range(nk):
        for a in range(na):
            longest = max(longest, npig[k, a])
    counted_at_tp = np.empty((nt * na, longest + 1), np.int64)
    spread = np.zeros(256, np.uint64)  # byte -> its 8 bits as the 8 bytes of a word (SWAR counting)
    for v in range(256):
        for b in range(8):
            if (v >> b) & 1:
                spread[v] |= np.uint64(1) << np.uint64(8 * b)
    for k in range(nk):
        s0, s1 = class_offsets[k], class_offsets[k + 1]
        biggest = 0  # largest (class, image) group of the class
        for s in range(s0, s1):
            biggest = max(biggest, rank[s] + 1)
        for mi in range(nm - 1, -1, -1):
            if mi < nm - 1 and biggest <= max_dets[mi]:  # nothing truncated: same as the next larger maxDet
                precision[:, :, k, :, mi] = precision[:, :, k, :, mi + 1]
                recall[:, k, :, mi] = recall[:, k, :, mi + 1]
                continue
            ntp = _coco_scan_class(counted, tp, s0, s1, rank, max_dets[mi], spread, counted_at_tp)
            _coco_precision_recall(ntp, counted_at_tp, npig[k], rec_thresholds, nt, k, mi, precision, recall)
    return precision, recall


@jit
def _coco_scan_class(counted, tp, s0, s1, rank, max_det, spread, counted_at_tp):
    """One scan of a class's rows ``s0 .. s1 - 1`` (score order), keeping those of rank < ``max_det``: for every
    column ``c``, ``counted_at_tp[c, j - 1]`` = detections counted (TP or FP) up to its ``j``-th true positive.

    Counting is SWAR: byte lane ``b`` of ``acc[w]`` sums bit ``8 w + b`` of ``counted`` over at most 255 rows, then
    is flushed into ``base``. Returns int64[C] true-positive counts per column.
    """
    ncol = counted_at_tp.shape[0]
    nw = (ncol + 7) // 8
    base = np.zeros(nw * 8, np.int64)
    acc = np.zeros(nw, np.uint64)
    ntp = np.zeros(ncol, np.int64)
    pending = 0
    byte = np.uint64(0xFF)
    for s in range(s0, s1):
        if rank[s] >= max_det:
            continue
        cm = counted[s]
        for w in range(nw):
            acc[w] += spread[(cm >> np.uint64(8 * w)) & byte]
        pending += 1
        tm = tp[s]
        c = 0
        while tm:
            if tm & np.uint64(1):
                lane = np.int64((acc[c >> 3] >> np.uint64(8 * (c & 7))) & byte)
                counted_at_tp[c, ntp[c]] = base[c] + lane  # at most npig TPs per column: a GT matches once
                ntp[c] += 1
            tm >>= np.uint64(1)
            c += 1
        if pending == 255:
            _flush_lanes(acc, base)
            pending = 0
    return ntp


@jit
def _flush_lanes(acc, base):
    """Add the byte lanes of ``acc`` (uint64[W]) to ``base`` (int64[8 W]) and clear them."""
    for w in range(acc.shape[0]):
        v = acc[w]
        for b in range(8):
            base[8 * w + b] += np.int64((v >> np.uint64(8 * b)) & np.uint64(0xFF))
        acc[w] = 0


@jit
def _coco_precision_recall(ntp, counted_at_tp, npig_k, rec_thresholds, nt, k, mi, precision, recall):
    """Precision at the recall thresholds and final recall of class ``k`` at maxDet index ``mi``, every column."""
    eps = np.finfo(np.float64).eps
    nr = rec_thresholds.shape[0]
    kthr = np.empty(nr, np.int64)
    for a in range(npig_k.shape[0]):
        npg = npig_k[a]
        if npg == 0:
            continue
        kk = 0
        for r in range(nr):  # smallest TP count whose recall reaches the threshold (thresholds ascend)
            while kk < npg and not (kk / npg >= rec_thresholds[r]):
                kk += 1
            kthr[r] = max(kk, 1)  # threshold 0 reads index 0, whose running maximum is the first TP's (or 0)
        for t in range(nt):
            c = t * npig_k.shape[0] + a
            n_tp = ntp[c]
            recall[t, k, a, mi] = n_tp / npg
            pts = counted_at_tp[c]
            r = nr - 1
            while r >= 0 and kthr[r] > n_tp:
                precision[t, r, k, a, mi] = 0.0
                r -= 1
            run = 0.0  # right-to-left running maximum of the precision at the TPs, read at kthr
            for j in range(n_tp, 0, -1):
                pr = j / (float(pts[j - 1] - j) + float(j) + eps)
                if pr > run:
                    run = pr
                while r >= 0 and kthr[r] == j:
                    precision[t, r, k, a, mi] = run
                    r -= 1
