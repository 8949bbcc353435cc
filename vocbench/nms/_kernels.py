"""Numba kernels for non-maximum suppression. Arrays and scalars only (STYLE.md §1).

Greedy NMS here is *exactly* the classic greedy algorithm (the one in ``torchvision.ops.nms`` and in the
py-faster-rcnn CPU NMS): candidates are visited in the given order and a candidate is kept unless an
already-kept box overlaps it with IoU strictly greater than the threshold. The IoU of a kept box ``k`` and a
candidate ``c`` is computed with the same floating-point expression, operand for operand, as torchvision::

    w     = max(0, min(x2k, x2c) - max(x1k, x1c) + offset)
    h     = max(0, min(y2k, y2c) - max(y1k, y1c) + offset)
    inter = w * h
    iou   = inter / (area_k + area_c - inter),  area = (x2 - x1 + offset) * (y2 - y1 + offset)

What makes it fast is *which* kept boxes a candidate is compared with. Kept boxes are filed by their centre in
a hierarchy of uniform grids, one level per power-of-two box size (cell side 0.4x the level's box size). IoU > t
needs an overlap longer than ``t * max(w_k, w_c)`` on each axis, hence centres at most
``(w_k + w_c) / 2 - t * max(w_k, w_c)`` apart, and a size ratio ``t < side_k / side_c < 1 / t``; a candidate
visits only the levels and cells inside those bounds (with a 1e-9 relative slack, far above the rounding of the
IoU expression), its own level and cell first. Pairs outside the bounds cannot exceed the threshold, and a pair
with zero intersection never suppresses (for t >= 0), so the result is exactly the greedy one. On detector-like
data each candidate meets a handful of kept boxes: the cost is the score sort plus about linear work.
"""

from __future__ import annotations

import math

import numpy as np

from vocbench._numba import jit

__all__ = ["greedy_nms_kernel", "greedy_nms_rows_kernel", "greedy_nms_segments_kernel", "soft_nms_kernel", "greedy_nms_quadratic_kernel",
           "first_nonfinite_row", "first_nonfinite"]

# Relative slack for the size-ratio pruning: far larger than the few-ulp rounding of the IoU expression.
_PRUNE_SLACK = 1e-9
_MAX_LEVELS = 48
# grid cell side as a fraction of the largest box side of its level
_CELL_PER_SIDE = 0.4
_CELL_PER_SIDE_INV = 1.0 / _CELL_PER_SIDE


@jit
def _scan(k, ent_next, x1, y1, x2, y2, area, cx1, cy1, cx2, cy2, ac, offset, t):
    """True when a kept box on the list starting at ``k`` has IoU > t with the candidate (torchvision's formula)."""
    while k >= 0:
        w = min(x2[k], cx2) - max(x1[k], cx1) + offset
        if w > 0.0:
            h = min(y2[k], cy2) - max(y1[k], cy1) + offset
            if h > 0.0:
                inter = w * h
                union = area[k] + ac - inter
                if union > 0.0 and inter / union > t:
                    return True
        k = ent_next[k]
    return False


@jit
def greedy_nms_kernel(boxes, order, iou_threshold, offset, max_output):
    """Exact greedy NMS over ``order`` with size-levelled grids of kept-box centres.

    Args:
        boxes: float64[N, 4] (x1, y1, x2, y2), all finite.
        order: int64[M] row indices into ``boxes`` in processing order (descending score, ties stable).
        iou_threshold: float >= 0; a candidate is suppressed when IoU > threshold.
        offset: 0.0 (continuous coordinates) or 1.0 (VOC inclusive pixels, the '+1' convention).
        max_output: stop once this many boxes are kept (< 0: no limit).

    Returns:
        int64[K] positions into ``order`` of the kept boxes, ascending (i.e. in processing order).
    """
    m = order.shape[0]
    cap = m if max_output < 0 else min(m, max_output)
    keep = np.empty(cap, np.int64)
    if m == 0 or cap == 0:
        return keep[:0]
    t = iou_threshold

    # gather the candidates in processing order (contiguous, cache friendly)
    x1 = np.empty(m)
    y1 = np.empty(m)
    x2 = np.empty(m)
    y2 = np.empty(m)
    cx = np.empty(m)  # centre of the extent [x1, x2 + offset]
    cy = np.empty(m)
    bw = np.empty(m)
    bh = np.empty(m)
    area = np.empty(m)
    active = np.zeros(m, np.bool_)
    gx0 = np.inf
    gy0 = np.inf
    gx1 = -np.inf
    gy1 = -np.inf
    smin = np.inf
    smax = 0.0
    n_active = 0
    for r in range(m):
        i = order[r]
        a0 = boxes[i, 0]
        b0 = boxes[i, 1]
        a1 = boxes[i, 2]
        b1 = boxes[i, 3]
        x1[r] = a0
        y1[r] = b0
        x2[r] = a1
        y2[r] = b1
        w = a1 - a0 + offset
        h = b1 - b0 + offset
        bw[r] = w
        bh[r] = h
        area[r] = w * h
        # a box with w <= 0 or h <= 0 has zero intersection with everything: it never suppresses and is never
        # suppressed, so it stays out of the grid
        if w > 0.0 and h > 0.0:
            active[r] = True
            n_active += 1
            px = 0.5 * (a0 + (a1 + offset))
            py = 0.5 * (b0 + (b1 + offset))
            cx[r] = px
            cy[r] = py
            s = max(w, h)
            smin = min(smin, s)
            smax = max(smax, s)
            gx0 = min(gx0, px)
            gy0 = min(gy0, py)
            gx1 = max(gx1, px)
            gy1 = max(gy1, py)

    n_levels = 1
    s0 = 1.0
    gw = 0.0
    gh = 0.0
    slack_abs = 0.0
    if n_active > 0:
        gw = gx1 - gx0
        gh = gy1 - gy0
        # finest level: the smallest box, but no more than ~8 cells per box overall
        s0 = max(smin, _CELL_PER_SIDE_INV * math.sqrt(gw * gh / (2.0 * n_active)), max(gw, gh) * 1e-7, 1e-300)
        if smax > s0:
            n_levels = min(int(math.ceil(math.log2(smax / s0))) + 1, _MAX_LEVELS)
        slack_abs = 1e-9 * (max(abs(gx0), abs(gx1), abs(gy0), abs(gy1)) + smax)
    cell = np.empty(n_levels)  # inverse cell side
    nx = np.empty(n_levels, np.int64)
    ny = np.empty(n_levels, np.int64)
    base = np.empty(n_levels, np.int64)
    total = 0
    for lv in range(n_levels):
        c = s0 * (2.0 ** lv) * _CELL_PER_SIDE
        cell[lv] = 1.0 / c
        nx[lv] = int(gw / c) + 1
        ny[lv] = int(gh / c) + 1
        base[lv] = total
        total += nx[lv] * ny[lv]
    head = np.full(total, -1, np.int32)
    tail = np.empty(total, np.int32)
    lev_count = np.zeros(n_levels, np.int64)
    lev_smin = np.full(n_levels, np.inf)
    lev_smax = np.zeros(n_levels)
    lev_wmax = np.zeros(n_levels)
    lev_hmax = np.zeros(n_levels)
    # kept boxes in the grid, compact (indexed by filing number: cache friendly when few of many are kept)
    kx1 = np.empty(m)
    ky1 = np.empty(m)
    kx2 = np.empty(m)
    ky2 = np.empty(m)
    karea = np.empty(m)
    n_filed = 0
    ent_next = np.empty(m, np.int32)  # next kept box in the same grid cell, by filing number
    lev_next = np.empty(m, np.int32)  # kept boxes of each level in a list, oldest first
    lev_head = np.full(n_levels, -1, np.int32)
    lev_tail = np.full(n_levels, -1, np.int32)
    prune = t > 0.0
    tlo = t * (1.0 - _PRUNE_SLACK)
    half_minus_t = 0.5 - tlo
    one_minus_t = 1.0 - tlo

    n_keep = 0
    for r in range(m):
        if not active[r]:
            keep[n_keep] = r
            n_keep += 1
            if n_keep == cap:
                break
            continue
        wc = bw[r]
        hc = bh[r]
        sc = max(wc, hc)
        ac = area[r]
        px = cx[r]
        py = cy[r]
        cx1 = x1[r]
        cy1 = y1[r]
        cx2 = x2[r]
        cy2 = y2[r]
        lc = 0
        top = s0
        while sc > top and lc < n_levels - 1:
            lc += 1
            top *= 2.0
        # the candidate's own cell at its own level first, before any window arithmetic: in a cluster of
        # regressions of one object the suppressor is usually there
        if lev_count[lc] > 0:
            c = cell[lc]
            ic = min(max(int((px - gx0) * c), 0), nx[lc] - 1)
            jc = min(max(int((py - gy0) * c), 0), ny[lc] - 1)
            if _scan(head[base[lc] + jc * nx[lc] + ic], ent_next, kx1, ky1, kx2, ky2, karea, cx1, cy1, cx2, cy2, ac,
                     offset, t):
                continue
        suppressed = False
        # own size level, then the neighbours (larger first: fewer, coarser cells; the usual suppressor is a
        # box of about the same size)
        for d in range(n_levels):
            for side_sign in range(2):
                if d == 0 and side_sign == 1:
                    continue
                lv = lc + d if side_sign == 0 else lc - d
                if lv < 0 or lv >= n_levels or lev_count[lv] == 0:
                    continue
                if prune and (lev_smax[lv] <= tlo * sc or lev_smin[lv] * tlo >= sc):
                    continue
                # IoU > t needs an overlap longer than t * max(wk, wc) on each axis, so the centres are at most
                # (wk + wc) / 2 - t * max(wk, wc) apart; bound that over the widths present at this level
                wm = lev_wmax[lv]
                if wm <= wc:
                    rx = 0.5 * wm + half_minus_t * wc
                else:
                    rx = max(one_minus_t * wc, half_minus_t * wm + 0.5 * wc)
                hm = lev_hmax[lv]
                if hm <= hc:
                    ry = 0.5 * hm + half_minus_t * hc
                else:
                    ry = max(one_minus_t * hc, half_minus_t * hm + 0.5 * hc)
                rx = rx * (1.0 + _PRUNE_SLACK) + slack_abs
                ry = ry * (1.0 + _PRUNE_SLACK) + slack_abs
                c = cell[lv]
                nxl = nx[lv]
                nyl = ny[lv]
                i0 = min(max(int((px - rx - gx0) * c), 0), nxl - 1)
                i1 = min(max(int((px + rx - gx0) * c), 0), nxl - 1)
                j0 = min(max(int((py - ry - gy0) * c), 0), nyl - 1)
                j1 = min(max(int((py + ry - gy0) * c), 0), nyl - 1)
                ic = min(max(int((px - gx0) * c), i0), i1)
                jc = min(max(int((py - gy0) * c), j0), j1)
                # a window of more cells than the level has kept boxes: walk the level's list instead (same
                # answer: the question is only whether *some* kept box exceeds the threshold)
                if (i1 - i0 + 1) * (j1 - j0 + 1) > lev_count[lv]:
                    if _scan(lev_head[lv], lev_next, kx1, ky1, kx2, ky2, karea, cx1, cy1, cx2, cy2, ac, offset, t):
                        suppressed = True
                        break
                    continue
                b = base[lv]
                # the candidate's own cell first (already done at its own level), then the rest of the window
                if lv != lc and _scan(head[b + jc * nxl + ic], ent_next, kx1, ky1, kx2, ky2, karea, cx1, cy1, cx2, cy2,
                                      ac, offset, t):
                    suppressed = True
                    break
                for jj in range(j0, j1 + 1):
                    row = b + jj * nxl
                    for ii in range(i0, i1 + 1):
                        if ii == ic and jj == jc:
                            continue
                        if _scan(head[row + ii], ent_next, kx1, ky1, kx2, ky2, karea, cx1, cy1, cx2, cy2, ac, offset, t):
                            suppressed = True
                            break
                    if suppressed:
                        break
                if suppressed:
                    break
            if suppressed:
                break
        if suppressed:
            continue
        keep[n_keep] = r
        n_keep += 1
        if n_keep == cap:
            break
        # file the kept box under its centre at its size level, and on its level's list
        g = n_filed
        n_filed += 1
        kx1[g] = cx1
        ky1[g] = cy1
        kx2[g] = cx2
        ky2[g] = cy2
        karea[g] = ac
        lv = lc
        lev_next[g] = -1
        if lev_count[lv] == 0:
            lev_head[lv] = g
        else:
            lev_next[lev_tail[lv]] = g
        lev_tail[lv] = g
        lev_count[lv] += 1
        lev_smin[lv] = min(lev_smin[lv], sc)
        lev_smax[lv] = max(lev_smax[lv], sc)
        lev_wmax[lv] = max(lev_wmax[lv], wc)
        lev_hmax[lv] = max(lev_hmax[lv], hc)
        c = cell[lv]
        ii = min(max(int((px - gx0) * c), 0), nx[lv] - 1)
        jj = min(max(int((py - gy0) * c), 0), ny[lv] - 1)
        slot = base[lv] + jj * nx[lv] + ii
        # append (oldest first: the highest-scoring kept box, the usual suppressor, is met first)
        ent_next[g] = -1
        if head[slot] < 0:
            head[slot] = g
        else:
            ent_next[tail[slot]] = g
        tail[slot] = g
    return keep[:n_keep]


@jit
def greedy_nms_rows_kernel(boxes, scores, order, iou_threshold, offset, pre_nms_top_k, max_output):
    """Validation, stable tie order and greedy NMS in one call (the per-call cost of :func:`vocbench.nms.nms`).

    Args:
        boxes: float64[N, 4] (x1, y1, x2, y2), C-contiguous; checked here for NaN/inf.
        scores: float64[N]; checked here for NaN/inf.
        order: int64[M] row indices by descending score from an *unstable* sort (modified in place): runs of
            equal scores are put back in row order, which makes it the stable descending order.
        iou_threshold, offset, max_output: as in :func:`greedy_nms_kernel`.
        pre_nms_top_k: only the first k of the (stable) order enter NMS (< 0: all).

    Returns:
        ``(rows, bad_box_row, bad_score)``: int64[K] row indices of the kept boxes in processing order, and
        the first row of ``boxes`` / index of ``scores`` holding NaN or +-inf (-1 when none; then ``rows`` is
        empty and must not be used).
    """
    empty = np.zeros(0, np.int64)
    bad = first_nonfinite_row(boxes)
    if bad >= 0:
        return empty, bad, -1
    bad = first_nonfinite(scores)
    if bad >= 0:
        return empty, -1, bad
    m = order.shape[0]
    # an unstable sort leaves equal scores in any order: sort each run of equal scores by row
    r = 0
    while r < m - 1:
        v = scores[order[r]]
        e = r + 1
        while e < m and scores[order[e]] == v:
            e += 1
        if e - r > 1:
            order[r:e] = np.sort(order[r:e])
        r = e
    if 0 <= pre_nms_top_k < m:
        order = order[:pre_nms_top_k]
    kept = greedy_nms_kernel(boxes, order, iou_threshold, offset, max_output)
    rows = np.empty(kept.shape[0], np.int64)
    for q in range(kept.shape[0]):
        rows[q] = order[kept[q]]
    return rows, -1, -1


@jit
def greedy_nms_segments_kernel(boxes, order, seg_start, iou_threshold, offset, max_output):
    """Greedy NMS run independently on each segment ``order[seg_start[s]:seg_start[s+1]]``.

    Returns int64 positions into ``order`` of every kept box, segment by segment (each in segment order).
    ``max_output`` limits each segment (< 0: no limit).
    """
    n_seg = seg_start.shape[0] - 1
    out = np.empty(order.shape[0], np.int64)
    n = 0
    for s in range(n_seg):
        a = seg_start[s]
        b = seg_start[s + 1]
        kept = greedy_nms_kernel(boxes, order[a:b], iou_threshold, offset, max_output)
        for t in range(kept.shape[0]):
            out[n] = a + kept[t]
            n += 1
    return out[:n]


@jit
def greedy_nms_quadratic_kernel(boxes, order, iou_threshold, offset):
    """The textbook O(n * kept) greedy loop (torchvision's CPU kernel, compiled by Numba).

    Kept for the benchmark ("what the grid buys") and as an in-package cross-check; same result as
    :func:`greedy_nms_kernel`.
    """
    m = order.shape[0]
    suppressed = np.zeros(m, np.bool_)
    keep = np.empty(m, np.int64)
    area = np.empty(m)
    for r in range(m):
        i = order[r]
        area[r] = (boxes[i, 2] - boxes[i, 0] + offset) * (boxes[i, 3] - boxes[i, 1] + offset)
    n_keep = 0
    for r in range(m):
        if suppressed[r]:
            continue
        keep[n_keep] = r
        n_keep += 1
        i = order[r]
        ix1 = boxes[i, 0]
        iy1 = boxes[i, 1]
        ix2 = boxes[i, 2]
        iy2 = boxes[i, 3]
        for q in range(r + 1, m):
            if suppressed[q]:
                continue
            j = order[q]
            w = min(ix2, boxes[j, 2]) - max(ix1, boxes[j, 0]) + offset
            h = min(iy2, boxes[j, 3]) - max(iy1, boxes[j, 1]) + offset
            if w <= 0.0 or h <= 0.0:
                continue
            inter = w * h
            union = area[r] + area[q] - inter
            if union > 0.0 and inter / union > iou_threshold:
                suppressed[q] = True
    return keep[:n_keep]


@jit
def soft_nms_kernel(boxes, scores, iou_threshold, sigma, gaussian, score_threshold, offset, max_output):
    """Soft-NMS (Bodla et al., 2017, Algorithm 1) with linear or Gaussian decay.

    Each step selects the remaining box with the highest (decayed) score (ties: lowest row index), keeps it and
    rescales every remaining box ``b``: linear ``s *= 1 - iou`` when ``iou >= iou_threshold``; Gaussian
    ``s *= exp(-iou**2 / sigma)``. Boxes whose score drops below ``score_threshold`` are discarded.

    Returns:
        (int64[K] rows in selection order, float64[K] their scores at selection).
    """
    n = boxes.shape[0]
    s = scores.copy()
    alive = np.empty(n, np.bool_)
    area = np.empty(n)
    for i in range(n):
        alive[i] = s[i] >= score_threshold
        area[i] = (boxes[i, 2] - boxes[i, 0] + offset) * (boxes[i, 3] - boxes[i, 1] + offset)
    cap = n if max_output < 0 else min(n, max_output)
    keep = np.empty(cap, np.int64)
    kept_scores = np.empty(cap)
    n_keep = 0
    while n_keep < cap:
        best = -1
        best_s = -np.inf
        for i in range(n):
            if alive[i] and s[i] > best_s:
                best = i
                best_s = s[i]
        if best < 0:
            break
        alive[best] = False
        keep[n_keep] = best
        kept_scores[n_keep] = best_s
        n_keep += 1
        bx1 = boxes[best, 0]
        by1 = boxes[best, 1]
        bx2 = boxes[best, 2]
        by2 = boxes[best, 3]
        for i in range(n):
            if not alive[i]:
                continue
            w = min(bx2, boxes[i, 2]) - max(bx1, boxes[i, 0]) + offset
            h = min(by2, boxes[i, 3]) - max(by1, boxes[i, 1]) + offset
            iou = 0.0
            if w > 0.0 and h > 0.0:
                inter = w * h
                union = area[best] + area[i] - inter
                if union > 0.0:
                    iou = inter / union
            if gaussian:
                s[i] *= math.exp(-(iou * iou) / sigma)
            elif iou >= iou_threshold:
                s[i] *= 1.0 - iou
            if s[i] < score_threshold:
                alive[i] = False
    return keep[:n_keep], kept_scores[:n_keep]


@jit
def first_nonfinite_row(a):
    """Index of the first row of a float64 2-D array holding NaN or +-inf, or -1."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v = a[i, j]
            if not (v - v == 0.0):
                return i
    return -1


@jit
def first_nonfinite(a):
    """Index of the first NaN or +-inf of a float64 1-D array, or -1."""
    for i in range(a.shape[0]):
        v = a[i]
        if not (v - v == 0.0):
            return i
    return -1
