"""Numba kernels of the error diagnosis. Arrays and scalars only (STYLE.md §1).

Codes shared with :mod:`vocbench.diagnose.tide`:

* detection state (int8): 0 = counted false positive, 1 = counted true positive, 3 = not counted (ignored by a
  difficult/crowd object, or beyond TIDE's 100 detections per image). The same codes as the evaluator's outcome,
  so :func:`vocbench.eval._kernels.pr_curve_kernel` reads them directly (it skips code 3).
* error type (int8): -1 = none, 0 = cls, 1 = loc, 2 = both, 3 = dupe, 4 = bkg (miss is a property of a GT).

Every IoU comes from :mod:`vocbench.boxes._kernels` (``iou_pair`` with the VOC '+1' offset, ``iou_pair_areas``
with offset 0 and the raw ``w * h`` areas for pycocotools' ``bbIou``, operand for operand; ``iof_pair_areas`` for
its crowd variant).
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit
from vocbench.boxes._kernels import iof_pair_areas, iou_pair, iou_pair_areas
from vocbench.eval._kernels import all_point_area
from vocbench.eval.outcomes import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP

__all__ = ["ERR_NONE", "ERR_CLS", "ERR_LOC", "ERR_BOTH", "ERR_DUPE", "ERR_BKG", "tide_coco_kernel",
           "tide_ap_kernel", "voc_errors_kernel", "normalized_ap_kernel", "normalized_ap_bins_kernel"]

ERR_NONE, ERR_CLS, ERR_LOC, ERR_BOTH, ERR_DUPE, ERR_BKG = -1, 0, 1, 2, 3, 4


@jit
def tide_coco_kernel(img_order, img_offsets, det_xyxy, det_area, det_class, gt_img_offsets, gt_rows, gt_xyxy,
                     gt_area, gt_class, gt_crowd, max_dets, pos_thresh, bg_thresh):
    """tidecv 1.0.1's ``TIDERun`` (box mode) on the COCO export: matching, crowd ignore regions, error types.

    Per image: detections (all classes) by descending score (stable), the top ``max_dets`` kept. Each takes the
    first highest same-class IoU among the still unmatched non-crowd GT; ``>= pos_thresh`` makes it a TP. A non-TP
    detection is then ignored by a crowd region of its class with crowd IoU ``> pos_thresh``. Every non-TP
    (ignored ones too) gets one error, tested in TIDE's order: loc (``bg <= best same-class IoU <= pos``, any GT),
    cls (best other-class IoU ``>= pos``), dupe (best IoU with a matched same-class GT ``>= pos``), bkg (best IoU
    with any GT ``<= bg``), else both; in an image without non-crowd GT, bkg. A cls/loc error whose GT is
    unmatched makes that GT "usable"; the first such error (highest score) of a GT is the one its fix turns into a
    TP (TIDE's ``BestGTMatch``), the others are removed by the fix.

    Args:
        img_order: int64[N] detection rows grouped by image, descending score (stable) within.
        img_offsets: int64[I + 1] image segments of ``img_order``.
        det_xyxy: float64[N, 4] ``(x, y, x + w, y + h)`` of the exported COCO boxes; det_area: ``w * h``.
        det_class: int64[N].
        gt_img_offsets: int64[I + 1] CSR offsets of the objects of each image; gt_rows: int64[M] object rows.
        gt_xyxy, gt_area, gt_class, gt_crowd: by object row (not CSR order).
        max_dets: detections kept per image (TIDE: 100). pos_thresh, bg_thresh: TIDE's t_f and t_b.

    Returns:
        state int8[N], err int8[N], target int64[N] (object row a cls/loc error is measured against, the matched GT
        a dupe repeats, the GT a both error overlaps most; else -1), fixable bool[N],
        matched_gt int64[N] (object row of a TP, else -1), gt_used bool[M], gt_usable bool[M].
    """
    n = det_class.shape[0]
    m = gt_class.shape[0]
    state = np.full(n, OUTCOME_IGNORED, np.int8)
    err = np.full(n, ERR_NONE, np.int8)
    target = np.full(n, -1, np.int64)
    fixable = np.zeros(n, np.bool_)
    matched_gt = np.full(n, -1, np.int64)
    gt_used = np.zeros(m, np.bool_)
    gt_usable = np.zeros(m, np.bool_)
    gt_claimed = np.zeros(m, np.bool_)
    nimg = img_offsets.shape[0] - 1
    for im in range(nimg):
        p0 = img_offsets[im]
        p1 = img_offsets[im + 1]
        if p1 - p0 > max_dets:
            p1 = p0 + max_dets
        nd = p1 - p0
        if nd == 0:
            continue
        g0, g1 = gt_img_offsets[im], gt_img_offsets[im + 1]
        ng = 0
        for k in range(g0, g1):
            if not gt_crowd[gt_rows[k]]:
                ng += 1
        reg = np.empty(ng, np.int64)  # non-crowd GT rows, in annotation order
        q = 0
        for k in range(g0, g1):
            if not gt_crowd[gt_rows[k]]:
                reg[q] = gt_rows[k]
                q += 1
        iou = np.zeros((nd, ng), np.float64)
        for i in range(nd):
            d = img_order[p0 + i]
            for j in range(ng):
                g = reg[j]
                iou[i, j] = iou_pair_areas(det_xyxy[d, 0], det_xyxy[d, 1], det_xyxy[d, 2], det_xyxy[d, 3],
                                           det_area[d], gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2], gt_xyxy[g, 3],
                                           gt_area[g], 0.0)
        # matching on the same-class IoU, a matched GT's column zeroed
        used_col = np.zeros(ng, np.bool_)
        for i in range(nd):
            d = img_order[p0 + i]
            state[d] = OUTCOME_FP
            if ng == 0:
                continue
            jb = 0
            vb = iou[i, 0] if (det_class[d] == gt_class[reg[0]] and not used_col[0]) else 0.0
            for j in range(1, ng):
                v = iou[i, j] if (det_class[d] == gt_class[reg[j]] and not used_col[j]) else 0.0
                if v > vb:
                    vb = v
                    jb = j
            if vb >= pos_thresh:
                state[d] = OUTCOME_TP
                used_col[jb] = True
                matched_gt[d] = reg[jb]
                gt_used[reg[jb]] = True
        # crowd regions of the same class ignore non-TP detections (crowd IoU > pos_thresh)
        for k in range(g0, g1):
            g = gt_rows[k]
            if not gt_crowd[g]:
                continue
            for i in range(nd):
                d = img_order[p0 + i]
                if state[d] == OUTCOME_TP or det_class[d] != gt_class[g]:
                    continue
                ov = iof_pair_areas(det_xyxy[d, 0], det_xyxy[d, 1], det_xyxy[d, 2], det_xyxy[d, 3], det_area[d],
                                    gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2], gt_xyxy[g, 3], 0.0)
                if ov > pos_thresh:
                    state[d] = OUTCOME_IGNORED
        # error types of every non-TP detection, in score order
        for i in range(nd):
            d = img_order[p0 + i]
            if state[d] == OUTCOME_TP:
                continue
            if ng == 0:
                err[d] = ERR_BKG
                continue
            c = det_class[d]
            # loc: best same-class IoU (matched GT included)
            j1 = 0
            v1 = iou[i, 0] if gt_class[reg[0]] == c else 0.0
            j2 = 0
            v2 = iou[i, 0] if gt_class[reg[0]] != c else 0.0
            j3 = 0
            v3 = iou[i, 0] if (gt_class[reg[0]] == c and used_col[0]) else 0.0
            v4 = iou[i, 0]
            j4 = 0
            for j in range(1, ng):
                same = gt_class[reg[j]] == c
                a = iou[i, j] if same else 0.0
                if a > v1:
                    v1 = a
                    j1 = j
                b = 0.0 if same else iou[i, j]
                if b > v2:
                    v2 = b
                    j2 = j
                u = iou[i, j] if (same and used_col[j]) else 0.0
                if u > v3:
                    v3 = u
                    j3 = j
                if iou[i, j] > v4:
                    v4 = iou[i, j]
                    j4 = j
            jt = -1
            if bg_thresh <= v1 and v1 <= pos_thresh:
                err[d] = ERR_LOC
                jt = j1
            elif v2 >= pos_thresh:
                err[d] = ERR_CLS
                jt = j2
            elif v3 >= pos_thresh:
                err[d] = ERR_DUPE
                target[d] = reg[j3]  # the matched GT it duplicates (shown, never fixed)
            elif v4 <= bg_thresh:
                err[d] = ERR_BKG
            else:
                err[d] = ERR_BOTH
                target[d] = reg[j4]  # the GT it overlaps most (shown, never fixed)
            if jt >= 0:
                g = reg[jt]
                target[d] = g
                if not used_col[jt]:
                    gt_usable[g] = True
                    if not gt_claimed[g]:
                        gt_claimed[g] = True
                        fixable[d] = True
    return state, err, target, fixable, matched_gt, gt_used, gt_usable


@jit
def tide_ap_kernel(class_order, class_offsets, state, npos):
    """tidecv's ``APDataObject.get_ap`` per class, in AP units (its value / 100).

    Counted detections (state 0/1) are visited in ``class_order``; precision ``tp / (tp + fp)`` and recall
    ``tp / npos`` after each, the right-to-left running maximum of precision, then for each of the 101 recall
    thresholds ``b / 100`` the precision at the first point whose recall is ``>=`` it (0 when none), summed in order
    and divided by 101. A class with ``npos == 0`` has AP 0.

    Returns:
        ap float64[C], counted int64[C] (number of counted detections: a class with none and no positives is left
        out of tidecv's mean).
    """
    nclass = class_offsets.shape[0] - 1
    ap = np.zeros(nclass, np.float64)
    counted = np.zeros(nclass, np.int64)
    for c in range(nclass):
        a, b = class_offsets[c], class_offsets[c + 1]
        k = 0
        for p in range(a, b):
            if state[class_order[p]] != OUTCOME_IGNORED:
                k += 1
        counted[c] = k
        if npos[c] == 0:
            continue
        prec = np.empty(k, np.float64)
        rec = np.empty(k, np.float64)
        tp = 0
        fp = 0
        q = 0
        for p in range(a, b):
            s = state[class_order[p]]
            if s == OUTCOME_IGNORED:
                continue
            if s == OUTCOME_TP:
                tp += 1
            else:
                fp += 1
            prec[q] = tp / (tp + fp)
            rec[q] = tp / npos[c]
            q += 1
        for i in range(k - 1, 0, -1):
            if prec[i] > prec[i - 1]:
                prec[i - 1] = prec[i]
        total = 0.0
        i = 0
        for r in range(101):
            x = r / 100
            while i < k and rec[i] < x:
                i += 1
            if i < k:
                total += prec[i]
        ap[c] = total / 101
    return ap, counted


@jit
def voc_errors_kernel(img_order, img_offsets, outcome, det_boxes, det_class, gt_img_offsets, gt_rows, gt_boxes,
                      gt_class, gt_difficult, pos_thresh, inclusive, bg_thresh):
    """TIDE's error types under VOC rules, on the outcome of the evaluator's VOC matching.

    For each detection (VOC '+1' IoU): its candidate is the first highest-IoU GT of its class (difficult
    included) — the GT the matching used, so a TP's candidate is the GT it matched. Errors of false positives
    (outcome 0) and duplicates (outcome 2), in TIDE's order: loc (outcome 0 and candidate IoU ``>= bg``), cls (best
    other-class IoU passes the threshold: ``>=`` when ``inclusive`` else ``>``), dupe (outcome 2), bkg (best IoU with
    any GT ``< bg``), else both. Ignored detections (outcome 3) and TPs get none. A cls/loc error whose target is an
    unmatched non-difficult GT makes it usable; the first such error of a GT (descending score, stable) is the one
    its fix turns into a TP; other cls/loc errors are removed by their fix (one on a difficult GT would be ignored).

    Args:
        img_order, img_offsets: detection rows grouped by image, descending score (stable) within.
        outcome: int8[N] from :func:`vocbench.eval._kernels.match_voc_kernel`.
        det_boxes: float64[N, 4] VOC pixels; det_class int64[N].
        gt_img_offsets, gt_rows: CSR objects of each image (dataset order). gt_boxes, gt_class, gt_difficult: by row.
        pos_thresh: IoU threshold; inclusive: the protocol's comparison; bg_thresh: TIDE's t_b.

    Returns:
        err int8[N], target int64[N] (as :func:`tide_coco_kernel`'s), fixable bool[N], matched_gt int64[N],
        gt_used bool[M], gt_usable bool[M].
    """
    n = det_class.shape[0]
    m = gt_class.shape[0]
    err = np.full(n, ERR_NONE, np.int8)
    target = np.full(n, -1, np.int64)
    fixable = np.zeros(n, np.bool_)
    matched_gt = np.full(n, -1, np.int64)
    gt_used = np.zeros(m, np.bool_)
    gt_usable = np.zeros(m, np.bool_)
    gt_claimed = np.zeros(m, np.bool_)
    nimg = img_offsets.shape[0] - 1
    for im in range(nimg):
        p0, p1 = img_offsets[im], img_offsets[im + 1]
        if p0 == p1:
            continue
        g0, g1 = gt_img_offsets[im], gt_img_offsets[im + 1]
        nd = p1 - p0
        cand = np.full(nd, -1, np.int64)
        vcand = np.zeros(nd, np.float64)
        other = np.full(nd, -1, np.int64)
        vother = np.zeros(nd, np.float64)
        vall = np.zeros(nd, np.float64)
        jall = np.full(nd, -1, np.int64)
        for i in range(nd):
            d = img_order[p0 + i]
            bs = -1.0
            bo = -1.0
            x1, y1, x2, y2 = det_boxes[d, 0], det_boxes[d, 1], det_boxes[d, 2], det_boxes[d, 3]
            for k in range(g0, g1):
                g = gt_rows[k]
                ov = iou_pair(x1, y1, x2, y2, gt_boxes[g, 0], gt_boxes[g, 1], gt_boxes[g, 2], gt_boxes[g, 3], 1.0)
                if gt_class[g] == det_class[d]:
                    if ov > bs:
                        bs = ov
                        cand[i] = g
                elif ov > bo:
                    bo = ov
                    other[i] = g
                if ov > vall[i]:
                    vall[i] = ov
                    jall[i] = g
            vcand[i] = max(bs, 0.0)
            vother[i] = max(bo, 0.0)
            if outcome[d] == OUTCOME_TP:
                matched_gt[d] = cand[i]
                gt_used[cand[i]] = True
        for i in range(nd):
            d = img_order[p0 + i]
            o = outcome[d]
            if o != OUTCOME_FP and o != OUTCOME_DUPLICATE:
                continue
            jt = -1
            passes = (vother[i] >= pos_thresh) if inclusive else (vother[i] > pos_thresh)
            if o == OUTCOME_FP and cand[i] >= 0 and vcand[i] >= bg_thresh:
                err[d] = ERR_LOC
                jt = cand[i]
            elif other[i] >= 0 and passes:
                err[d] = ERR_CLS
                jt = other[i]
            elif o == OUTCOME_DUPLICATE:
                err[d] = ERR_DUPE
                target[d] = cand[i]  # the matched GT it duplicates (shown, never fixed)
            elif vall[i] < bg_thresh:
                err[d] = ERR_BKG
            else:
                err[d] = ERR_BOTH
                target[d] = jall[i]  # the GT it overlaps most (shown, never fixed)
            if jt >= 0:
                target[d] = jt
                if not gt_used[jt] and not gt_difficult[jt]:
                    gt_usable[jt] = True
                    if not gt_claimed[jt]:
                        gt_claimed[jt] = True
                        fixable[d] = True
    return err, target, fixable, matched_gt, gt_used, gt_usable


@jit
def normalized_ap_kernel(class_order, class_offsets, state, npos, n_norm):
    """Hoiem et al.'s normalised AP per class: all-point AP (VOC12 envelope) of the normalised precision
    ``R * N / (R * N + F)`` (R = recall, F = false positives so far, N = ``n_norm``). NaN when npos = 0.

    Detections with state 3 are not counted.
    """
    nclass = class_offsets.shape[0] - 1
    out = np.full(nclass, np.nan)
    for c in range(nclass):
        if npos[c] == 0:
            continue
        a, b = class_offsets[c], class_offsets[c + 1]
        k = 0
        for p in range(a, b):
            if state[class_order[p]] != OUTCOME_IGNORED:
                k += 1
        mrec = np.zeros(k + 2, np.float64)
        mpre = np.zeros(k + 2, np.float64)
        tp = 0
        fp = 0
        q = 1
        for p in range(a, b):
            s = state[class_order[p]]
            if s == OUTCOME_IGNORED:
                continue
            if s == OUTCOME_TP:
                tp += 1
            else:
                fp += 1
            r = tp / npos[c]
            mrec[q] = r
            mpre[q] = r * n_norm / (r * n_norm + fp) if tp > 0 else 0.0
            q += 1
        out[c] = all_point_area(mrec, mpre, k)
    return out


@jit
def normalized_ap_bins_kernel(class_order, class_offsets, state, tp_bin, npos_bins, n_norm):
    """:func:`normalized_ap_kernel` for every bin of one characteristic at once.

    In bin ``b`` a TP counts only when ``tp_bin[row] == b`` (the bin of the object it matched; otherwise it is not
    counted), false positives (state 0) always count, state 3 never.

    Args:
        tp_bin: int64[N] bin of each TP's object (-1: in no bin).
        npos_bins: int64[C, B] positives per class and bin.

    Returns:
        float64[C, B] AP_N, NaN where a class has no positive in the bin.
    """
    nclass = class_offsets.shape[0] - 1
    nb = npos_bins.shape[1]
    out = np.full((nclass, nb), np.nan)
    for c in range(nclass):
        a, b_ = class_offsets[c], class_offsets[c + 1]
        mrec = np.zeros(b_ - a + 2, np.float64)
        mpre = np.zeros(b_ - a + 2, np.float64)
        for b in range(nb):
            npos = npos_bins[c, b]
            if npos == 0:
                continue
            tp = 0
            fp = 0
            q = 1
            mrec[0] = 0.0
            mpre[0] = 0.0
            for p in range(a, b_):
                r_ = class_order[p]
                s = state[r_]
                if s == OUTCOME_IGNORED or (s == OUTCOME_TP and tp_bin[r_] != b):
                    continue
                if s == OUTCOME_TP:
                    tp += 1
                else:
                    fp += 1
                r = tp / npos
                mrec[q] = r
                mpre[q] = r * n_norm / (r * n_norm + fp) if tp > 0 else 0.0
                q += 1
            out[c, b] = all_point_area(mrec, mpre, q - 1)
    return out
