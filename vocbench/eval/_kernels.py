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

__all__ = ["group_by_key", "sort_segments_by_score", "match_voc_kernel", "pr_curve_kernel", "ap_voc07_kernel",
           "ap_voc12_kernel", "best_f1_kernel", "rank_in_segments", "coco_match_kernel", "coco_accumulate_kernel"]


# ----------------------------------------------------------------------------------------------- grouping
@jit
def group_by_key(keys, num_keys):
    """Stable counting sort of ``keys`` (int64[N], values in ``[0, num_keys)``).

    Returns:
        (order int64[N], offsets int64[num_keys + 1]): rows of key ``k`` are ``order[offsets[k]:offsets[k + 1]]``,
        in their input order.
    """
    n = keys.shape[0]
    offsets = np.zeros(num_keys + 1, np.int64)
    for i in range(n):
        offsets[keys[i] + 1] += 1
    for k in range(num_keys):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        k = keys[i]
        order[fill[k]] = i
        fill[k] += 1
    return order, offsets


@jit
def sort_segments_by_score(order, offsets, scores):
    """Within each segment of ``order``, sort rows by descending ``scores`` (stable: ties keep segment order)."""
    out = order.copy()
    nseg = offsets.shape[0] - 1
    for s in range(nseg):
        a, b = offsets[s], offsets[s + 1]
        n = b - a
        if n < 2:
            continue
        if n <= 16:  # stable insertion sort for the many tiny (class, image) groups
            for i in range(a + 1, b):
                r = out[i]
                v = scores[r]
                j = i - 1
                while j >= a and scores[out[j]] < v:
                    out[j + 1] = out[j]
                    j -= 1
                out[j + 1] = r
        else:
            seg = out[a:b].copy()
            neg = np.empty(n, np.float64)
            for i in range(n):
                neg[i] = -scores[seg[i]]
            idx = np.argsort(neg, kind="mergesort")
            for i in range(n):
                out[a + i] = seg[idx[i]]
    return out


@jit
def rank_in_segments(offsets, n):
    """int64[n]: position of each slot within its segment (0 for the first slot of every segment)."""
    rank = np.zeros(n, np.int64)
    for s in range(offsets.shape[0] - 1):
        for p in range(offsets[s], offsets[s + 1]):
            rank[p] = p - offsets[s]
    return rank


# ----------------------------------------------------------------------------------------------- VOC
@jit
def match_voc_kernel(order, class_offsets, det_image, det_boxes, gt_offsets, gt_boxes, gt_difficult, num_images,
                     iou_threshold, inclusive):
    """Greedy VOC matching of every class (the devkit's rules).

    For each class, detections are visited in ``order`` (descending score). A detection's candidate is the single
    GT of its class and image with the highest IoU (VOC '+1' pixels; the first one on ties, difficult included).
    If that IoU passes the threshold (``>=`` when ``inclusive`` else ``>``): a difficult GT makes the detection
    ignored (the GT stays unmatched), an unmatched GT makes it a TP and marks the GT, a matched GT makes it a
    duplicate. Otherwise it is a false positive.

    Args:
        order: int64[N] detection rows, class segments, descending score within a class.
        class_offsets: int64[C + 1] class segments of ``order``.
        det_image: int64[N] image index of each detection row.
        det_boxes: float64[N, 4] detection boxes (xmin, ymin, xmax, ymax), VOC pixels.
        gt_offsets: int64[C * num_images + 1] CSR offsets of the GT groups.
        gt_boxes: float64[M, 4] GT boxes in CSR order.
        gt_difficult: bool[M] in CSR order.
        num_images: images in the dataset.
        iou_threshold: IoU threshold in (0, 1].
        inclusive: True for ``IoU >= threshold`` (devkit), False for ``IoU > threshold`` (voc_eval.py).

    Returns:
        (outcome int8[N], best_iou float64[N]) aligned with ``order`` (slot ``p`` describes row ``order[p]``).
    """
    n = order.shape[0]
    outcome = np.zeros(n, np.int8)
    best_iou = np.zeros(n, np.float64)
    matched = np.zeros(gt_boxes.shape[0], np.bool_)
    nclass = class_offsets.shape[0] - 1
    for c in range(nclass):
        for p in range(class_offsets[c], class_offsets[c + 1]):
            d = order[p]
            key = c * num_images + det_image[d]
            g0, g1 = gt_offsets[key], gt_offsets[key + 1]
            best = -1.0
            jbest = -1
            x1, y1, x2, y2 = det_boxes[d, 0], det_boxes[d, 1], det_boxes[d, 2], det_boxes[d, 3]
            for g in range(g0, g1):
                ov = iou_pair(x1, y1, x2, y2, gt_boxes[g, 0], gt_boxes[g, 1], gt_boxes[g, 2], gt_boxes[g, 3], 1.0)
                if ov > best:
                    best = ov
                    jbest = g
            if jbest < 0:
                outcome[p] = 0
                continue
            best_iou[p] = best
            if (best >= iou_threshold) if inclusive else (best > iou_threshold):
                if gt_difficult[jbest]:
                    outcome[p] = 3
                elif not matched[jbest]:
                    outcome[p] = 1
                    matched[jbest] = True
                else:
                    outcome[p] = 2
            else:
                outcome[p] = 0
    return outcome, best_iou


@jit
def pr_curve_kernel(outcome, class_offsets, sorted_scores, npos):
    """Precision/recall after each counted detection of each class (ignored detections are left out).

    Args:
        outcome: int8[N] codes aligned with the class segments.
        class_offsets: int64[C + 1].
        sorted_scores: float64[N] scores aligned with ``outcome``.
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
            counts[c, outcome[p]] += 1
        curve_offsets[c + 1] = curve_offsets[c] + class_offsets[c + 1] - class_offsets[c] - counts[c, 3]
    k = curve_offsets[nclass]
    precision = np.empty(k, np.float64)
    recall = np.empty(k, np.float64)
    scores = np.empty(k, np.float64)
    for c in range(nclass):
        q = curve_offsets[c]
        tp = 0
        fp = 0
        for p in range(class_offsets[c], class_offsets[c + 1]):
            o = outcome[p]
            if o == 3:
                continue
            if o == 1:
                tp += 1
            else:
                fp += 1
            precision[q] = tp / (tp + fp)
            recall[q] = tp / npos[c] if npos[c] > 0 else np.nan
            scores[q] = sorted_scores[p]
            q += 1
    return curve_offsets, precision, recall, scores, counts


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
def coco_match_kernel(gt_offsets, gx, gy, gw, gh, garea, gcrowd, det_offsets, det_rows, dx, dy, dw, dh, darea,
                      iou_thresholds, area_lo, area_hi, max_det):
    """pycocotools' ``evaluateImg`` for every (class, image) group, every area range and IoU threshold.

    Boxes are COCO ``[x, y, w, h]`` exactly as exported; IoU is ``maskApi.c``'s ``bbIou``, operand for operand
    (continuous coordinates; for a crowd GT the union is the detection's area). GT of a group are visited
    non-ignored first (stable), a detection takes the best-IoU GT (``>=`` the threshold capped at 1 - 1e-10, later
    GT winning ties), skipping matched non-crowd GT and stopping at ignored GT once it holds a regular one.

    Args:
        gt_offsets: int64[G + 1] CSR offsets of the GT of each group (group = class * num_images + image).
        gx, gy, gw, gh, garea: float64[M] GT boxes and ``area`` fields in CSR order. gcrowd: bool[M].
        det_offsets: int64[G + 1] offsets of each group's detections in ``det_rows`` (descending score, stable).
        det_rows: int64[N] detection rows.
        dx, dy, dw, dh, darea: float64[N] detection boxes and areas (``w * h``), indexed by row.
        iou_thresholds: float64[T], already capped at 1 - 1e-10.
        area_lo, area_hi: float64[A] inclusive area ranges.
        max_det: detections kept per group (the top ``max_det`` by score).

    Returns:
        flags int8[A, T, N] aligned with ``det_rows`` slots: 0 = false positive, 1 = true positive, 2 = ignored,
        3 = beyond ``max_det`` (dropped); npig int64[C... flattened per group: G, A] non-ignored GT per group.
    """
    ngroups = gt_offsets.shape[0] - 1
    na = area_lo.shape[0]
    nt = iou_thresholds.shape[0]
    n = det_rows.shape[0]
    flags = np.full((na, nt, n), 3, np.int8)
    npig = np.zeros((ngroups, na), np.int64)
    for grp in range(ngroups):
        g0, g1 = gt_offsets[grp], gt_offsets[grp + 1]
        p0, p1 = det_offsets[grp], det_offsets[grp + 1]
        ng = g1 - g0
        if p1 - p0 > max_det:
            p1 = p0 + max_det
        nd = p1 - p0
        if ng == 0 and nd == 0:
            continue
        ious = np.zeros((nd, ng), np.float64)
        for j in range(ng):
            g = g0 + j
            ga = gw[g] * gh[g]
            gx2 = gw[g] + gx[g]
            gy2 = gh[g] + gy[g]
            for i in range(nd):
                d = det_rows[p0 + i]
                da = dw[d] * dh[d]
                w = min(dw[d] + dx[d], gx2) - max(dx[d], gx[g])
                if w <= 0.0:
                    continue
                h = min(dh[d] + dy[d], gy2) - max(dy[d], gy[g])
                if h <= 0.0:
                    continue
                inter = w * h
                u = da if gcrowd[g] else da + ga - inter
                ious[i, j] = inter / u
        gind = np.empty(ng, np.int64)
        gig = np.empty(ng, np.bool_)
        gtm = np.empty(ng, np.bool_)
        for a in range(na):
            # non-ignored GT first, stable
            q = 0
            for j in range(ng):
                g = g0 + j
                if not (gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]):
                    gind[q] = j
                    gig[q] = False
                    q += 1
            npig[grp, a] = q
            for j in range(ng):
                g = g0 + j
                if gcrowd[g] or garea[g] < area_lo[a] or garea[g] > area_hi[a]:
                    gind[q] = j
                    gig[q] = True
                    q += 1
            for t in range(nt):
                gtm[:] = False
                for i in range(nd):
                    iou = iou_thresholds[t]
                    m = -1
                    for k in range(ng):
                        j = gind[k]
                        if gtm[k] and not gcrowd[g0 + j]:
                            continue
                        if m > -1 and not gig[m] and gig[k]:
                            break
                        if ious[i, j] < iou:
                            continue
                        iou = ious[i, j]
                        m = k
                    if m == -1:
                        d = det_rows[p0 + i]
                        if darea[d] < area_lo[a] or darea[d] > area_hi[a]:
                            flags[a, t, p0 + i] = 2
                        else:
                            flags[a, t, p0 + i] = 0
                    else:
                        gtm[m] = True
                        flags[a, t, p0 + i] = 2 if gig[m] else 1
    return flags, npig


@jit
def coco_accumulate_kernel(flags, class_offsets, class_order, rank, npig, max_dets, rec_thresholds):
    """pycocotools' ``accumulate``: 101-point interpolated precision and final recall.

    Args:
        flags: int8[A, T, N] from :func:`coco_match_kernel` (slots of the group order).
        class_offsets: int64[K + 1] class segments of ``class_order``.
        class_order: int64[N] group-order slots of each class sorted by descending score, ties by image then
            input order (pycocotools' concatenation + mergesort).
        rank: int64[N] rank of each slot within its (class, image) group.
        npig: int64[K, A] non-ignored GT per class and area range.
        max_dets: int64[M] detections per image (ascending).
        rec_thresholds: float64[R].

    Returns:
        precision float64[T, R, K, A, M] and recall float64[T, K, A, M], -1 where a class has no non-ignored GT.
    """
    na, nt = flags.shape[0], flags.shape[1]
    nk = class_offsets.shape[0] - 1
    nm = max_dets.shape[0]
    nr = rec_thresholds.shape[0]
    precision = np.full((nt, nr, nk, na, nm), -1.0)
    recall = np.full((nt, nk, na, nm), -1.0)
    eps = np.finfo(np.float64).eps
    for k in range(nk):
        s0, s1 = class_offsets[k], class_offsets[k + 1]
        rc = np.empty(s1 - s0, np.float64)
        pr = np.empty(s1 - s0, np.float64)
        for a in range(na):
            npg = npig[k, a]
            if npg == 0:
                continue
            for mi in range(nm):
                md = max_dets[mi]
                for t in range(nt):
                    tp = 0.0
                    fp = 0.0
                    nd = 0
                    for s in range(s0, s1):
                        p = class_order[s]
                        if rank[p] >= md:
                            continue
                        f = flags[a, t, p]
                        if f >= 2:
                            continue
                        if f == 1:
                            tp += 1.0
                        else:
                            fp += 1.0
                        rc[nd] = tp / npg
                        pr[nd] = tp / (fp + tp + eps)
                        nd += 1
                    recall[t, k, a, mi] = rc[nd - 1] if nd > 0 else 0.0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    i = 0
                    for r in range(nr):
                        while i < nd and rc[i] < rec_thresholds[r]:
                            i += 1
                        if i >= nd:
                            precision[t, r:, k, a, mi] = 0.0
                            break
                        precision[t, r, k, a, mi] = pr[i]
    return precision, recall
