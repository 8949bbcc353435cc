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

Since only *whether* some kept box exceeds the threshold matters, the order in which kept boxes are tried is free.
Each cell keeps a hint, the kept box that last suppressed (or was) a candidate filed under it, tried first: in a
cluster of regressions of one object it settles about 70% of the candidates with one IoU. The IoU test is
:func:`vocbench.boxes._kernels.iou_pair_areas_exceeds` (the same decision as ``iou_pair_areas(...) > t``, without
the overlap branches, which mispredict), the coordinates are read through a small buffer filled 256 candidates at
a time (independent loads overlap), and a box's size level comes from the exponent bits of its side. The level
and cell of those 256 candidates are computed in the same batch, ahead of the sequential sweep (they do not
depend on what is kept): after a mispredicted branch the next candidate's hint is one load away.

The score sort (:func:`descending_score_order`) is an LSD radix sort on a float32 key of the float64 score
(3 passes of 11 bits, passes whose digit is constant skipped), which is stable; float32 rounding is monotone, so
only runs of equal keys can be out of float64 order, and those are re-sorted by (score descending, row). The
result is the stable descending order ``np.argsort(-scores, kind="stable")`` exactly.

Every IoU is :func:`vocbench.boxes._kernels.iou_pair_areas` or its branch-free decision ``iou_pair_areas_exceeds``
(the one IoU expression of the package).
"""

from __future__ import annotations

import math

import numpy as np

from vocbench._numba import jit
from vocbench.boxes._kernels import first_nonfinite_row, iou_pair_areas, iou_pair_areas_exceeds

__all__ = ["greedy_nms_kernel", "greedy_nms_rows_kernel", "greedy_nms_segments_kernel", "soft_nms_kernel",
           "greedy_nms_quadratic_kernel", "descending_score_order", "first_nonfinite_row", "first_nonfinite"]

# Relative slack for the size-ratio pruning: far larger than the few-ulp rounding of the IoU expression.
_PRUNE_SLACK = 1e-9
_MAX_LEVELS = 48
# grid cell side as a fraction of the largest box side of its level
_CELL_PER_SIDE = 0.4
_CELL_PER_SIDE_INV = 1.0 / _CELL_PER_SIDE
# runs of equal float32 sort keys longer than this are re-sorted with a merge sort, shorter ones by insertion
_INSERTION_RUN = 32
# candidates whose coordinates are gathered at a time (a small buffer that stays in L1)
_CHUNK = 256

# columns of the per-level tables
_LV_COUNT, _LV_HEAD, _LV_TAIL = 0, 1, 2            # int64 table
_LV_SMIN, _LV_SMAX, _LV_WMAX, _LV_HMAX = 0, 1, 2, 3  # float64 table
_GR_NX, _GR_NY, _GR_BASE = 0, 1, 2                 # int64 grid table


# ------------------------------------------------------------------------------------------------ score order
@jit
def _descending_keys(f32):
    """uint32 sort keys of float32 values: larger value -> smaller key, equal values -> equal keys (monotone)."""
    bits = f32.view(np.uint32)
    key = np.empty(f32.shape[0], np.uint32)
    for i in range(f32.shape[0]):
        b = np.int64(bits[i])
        # negative: the raw bits already grow as the value falls; positive: flip all but the sign bit
        key[i] = b if b >= 0x80000000 else b ^ 0x7FFFFFFF
    return key


@jit
def _radix_pass(key, idx, key_out, idx_out, hist, shift):
    """One stable counting-sort pass on the 11-bit digit at ``shift`` (``hist``: that digit's counts)."""
    total = 0
    for d in range(2048):
        c = hist[d]
        hist[d] = total
        total += c
    for i in range(key.shape[0]):
        x = key[i]
        d = (np.int64(x) >> shift) & 2047
        q = hist[d]
        hist[d] = q + 1
        key_out[q] = x
        idx_out[q] = idx[i]


@jit
def _fix_key_ties(order, key, scores):
    """Within each run of equal keys, put ``order`` by (score descending, row ascending)."""
    m = order.shape[0]
    r = 0
    while r < m - 1:
        e = r + 1
        while e < m and key[e] == key[r]:
            e += 1
        if e - r > _INSERTION_RUN:
            seg = order[r:e].copy()  # rows ascending (the radix sort is stable)
            neg = np.empty(e - r)
            for q in range(e - r):
                neg[q] = -scores[seg[q]]
            perm = np.argsort(neg, kind="mergesort")
            for q in range(e - r):
                order[r + q] = seg[perm[q]]
        elif e - r > 1:
            for a in range(r + 1, e):
                v = order[a]
                sv = scores[v]
                b = a - 1
                while b >= r and (scores[order[b]] < sv or (scores[order[b]] == sv and order[b] > v)):
                    order[b + 1] = order[b]
                    b -= 1
                order[b + 1] = v
        r = e


@jit
def descending_score_order(scores, use_threshold, score_threshold):
    """Rows by descending score, ties in row order: ``np.argsort(-scores, kind="stable")`` exactly.

    Args:
        scores: float64[N], finite.
        use_threshold: when True only rows with ``scores > score_threshold`` are ordered.
        score_threshold: float.

    Returns:
        int64[M] row indices.
    """
    n = scores.shape[0]
    m = 0
    for i in range(n):
        if not use_threshold or scores[i] > score_threshold:
            m += 1
    f32 = np.empty(m, np.float32)
    idx = np.empty(m, np.int64)
    q = 0
    for i in range(n):
        if not use_threshold or scores[i] > score_threshold:
            f32[q] = scores[i] + 0.0  # -0.0 -> +0.0 first: 0.0 and -0.0 compare equal, so they must tie
            idx[q] = i
            q += 1
    key = _descending_keys(f32)
    hist = np.zeros((3, 2048), np.int64)
    for i in range(m):
        x = np.int64(key[i])
        hist[0, x & 2047] += 1
        hist[1, (x >> 11) & 2047] += 1
        hist[2, x >> 22] += 1
    if m == 0:
        return idx
    key2 = np.empty(m, np.uint32)
    idx2 = np.empty(m, np.int64)
    for p in range(3):
        shift = 11 * p
        if hist[p, (np.int64(key[0]) >> shift) & 2047] == m:  # one digit for every key: nothing would move
            continue
        _radix_pass(key, idx, key2, idx2, hist[p], shift)
        key, key2 = key2, key
        idx, idx2 = idx2, idx
    _fix_key_ties(idx, key, scores)
    return idx


# ------------------------------------------------------------------------------------------------ greedy NMS
@jit
def _first_suppressor(k, nxt, kept, cx1, cy1, cx2, cy2, ac, offset, t):
    """The first kept box on the list starting at ``k`` (linked by ``nxt``) whose IoU with the candidate is > t,
    or -1."""
    while k >= 0:
        if iou_pair_areas_exceeds(kept[k, 0], kept[k, 1], kept[k, 2], kept[k, 3], kept[k, 4],
                                  cx1, cy1, cx2, cy2, ac, offset, t):
            return k
        k = nxt[k]
    return -1


@jit
def _grid_bounds(boxes, order, offset, all_rows):
    """Extent of the grid: ``(bounds, n_active, bad_row)`` with bounds = (gx0, gy0, gx1, gy1, smin, smax), the range
    of the centres (of the extents [x1, x2 + offset]) and of the largest sides of the non-empty boxes.

    ``all_rows``: every row of ``boxes`` in storage order (no random access; a superset of the candidates is
    harmless, the bounds only size the grid and the slack), and ``bad_row`` is the first row holding NaN or +-inf
    (then the pass stops there and the bounds are not to be used), else -1: this pass is also the finiteness check
    of :func:`greedy_nms_rows_kernel`. Otherwise the rows of ``order``, and ``bad_row`` is -1.
    """
    m = boxes.shape[0] if all_rows else order.shape[0]
    gx0 = np.inf
    gy0 = np.inf
    gx1 = -np.inf
    gy1 = -np.inf
    smin = np.inf
    smax = 0.0
    n_active = 0
    bad = -1
    for r in range(m):
        i = r if all_rows else order[r]
        a0 = boxes[i, 0]
        b0 = boxes[i, 1]
        a1 = boxes[i, 2]
        b1 = boxes[i, 3]
        if all_rows:
            v = (a0 + b0) + (a1 + b1)  # NaN or inf when a coordinate is (or when finite ones overflow: re-checked)
            if not (v - v == 0.0) and not (a0 - a0 == 0.0 and b0 - b0 == 0.0 and a1 - a1 == 0.0 and b1 - b1 == 0.0):
                bad = i
                break
        w = a1 - a0 + offset
        h = b1 - b0 + offset
        if w > 0.0 and h > 0.0:
            n_active += 1
            px = 0.5 * (a0 + (a1 + offset))
            py = 0.5 * (b0 + (b1 + offset))
            sz = max(w, h)
            smin = min(smin, sz)
            smax = max(smax, sz)
            gx0 = min(gx0, px)
            gy0 = min(gy0, py)
            gx1 = max(gx1, px)
            gy1 = max(gy1, py)
    return np.array([gx0, gy0, gx1, gy1, smin, smax]), n_active, bad


@jit
def _grid_levels(bounds, n_active):
    """Size levels and their grids: ``(s0, n_levels, slack_abs, inv_cell float64[L], grid int64[L, 3], total)``.

    Level ``lv`` holds boxes with largest side below ``s0 2^lv`` (and at least ``s0 2^(lv-1)``, except at level 0;
    the last level: everything larger); its cell side is ``0.4 s0 2^lv``. ``grid[lv]`` = (nx, ny, first slot).
    """
    gx0, gy0, gx1, gy1, smin, smax = bounds[0], bounds[1], bounds[2], bounds[3], bounds[4], bounds[5]
    n_levels = 1
    s0 = 1.0
    gw = 0.0
    gh = 0.0
    slack_abs = 0.0
    if n_active > 0:
        gw = gx1 - gx0
        gh = gy1 - gy0
        # finest level: the smallest box, but no more than ~2 cells per box on that level's grid (by area, and by
        # length when the centres lie on a line: gw * gh = 0)
        s0 = max(smin, _CELL_PER_SIDE_INV * math.sqrt(gw * gh / (2.0 * n_active)),
                 _CELL_PER_SIDE_INV * (gw + gh) / (2.0 * n_active), max(gw, gh) * 1e-7, 1e-300)
        if smax >= s0:
            n_levels = min(int(math.floor(math.log2(smax / s0))) + 2, _MAX_LEVELS)
        slack_abs = 1e-9 * (max(abs(gx0), abs(gx1), abs(gy0), abs(gy1)) + smax)
    inv_cell = np.empty(n_levels)
    grid = np.empty((n_levels, 3), np.int64)
    total = 0
    for lv in range(n_levels):
        c = s0 * (2.0 ** lv) * _CELL_PER_SIDE
        inv_cell[lv] = 1.0 / c
        grid[lv, _GR_NX] = int(gw / c) + 1
        grid[lv, _GR_NY] = int(gh / c) + 1
        grid[lv, _GR_BASE] = total
        total += grid[lv, _GR_NX] * grid[lv, _GR_NY]
    return s0, n_levels, slack_abs, inv_cell, grid, total


@jit
def _size_level(sc, inv_s0, n_levels, fbuf, ibuf):
    """The level of a box whose largest side is ``sc``: the binary exponent ``e`` of ``sc / s0`` (``sc / s0`` in
    ``[2^(e-1), 2^e)``) clamped to the levels, read from the float64 bits (``ibuf`` is ``fbuf`` viewed as int64;
    a search loop here mispredicts on every box). Any assignment is exact: a level's bounds are those of the boxes
    filed in it."""
    fbuf[0] = sc * inv_s0
    e = ((ibuf[0] >> 52) & 2047) - 1022
    return min(max(e, 0), n_levels - 1)


@jit
def _cell_of(v, origin, inv_cell, n):
    """Cell index of coordinate ``v`` along one axis, clamped to ``[0, n)``."""
    return min(max(int((v - origin) * inv_cell), 0), n - 1)


@jit
def _reach(level_max, own, half_minus_t, one_minus_t):
    """Largest centre distance along one axis at which a kept box of side <= ``level_max`` can have IoU > t with a
    candidate of side ``own`` (an overlap longer than ``t * max(side_k, own)`` is needed)."""
    if level_max <= own:
        return 0.5 * level_max + half_minus_t * own
    return max(one_minus_t * own, half_minus_t * level_max + 0.5 * own)


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
    bounds, n_active, _ = _grid_bounds(boxes, order, offset, order.shape[0] == boxes.shape[0])
    return _greedy_nms_grid(boxes, order, iou_threshold, offset, max_output, bounds, n_active)


@jit
def _greedy_nms_grid(boxes, order, iou_threshold, offset, max_output, bounds, n_active):
    """:func:`greedy_nms_kernel` on a grid sized by ``bounds`` / ``n_active`` (:func:`_grid_bounds` over the
    candidates or a superset of them); same arguments and result.
    """
    m = order.shape[0]
    cap = m if max_output < 0 else min(m, max_output)
    keep = np.empty(cap, np.int64)
    if m == 0 or cap == 0:
        return keep[:0]
    span = (bounds[2] - bounds[0]) + (bounds[3] - bounds[1]) + bounds[5]
    if n_active > 0 and not (span - span == 0.0):
        # finite boxes whose centres, spread or sides overflow float64 (coordinates near 1e308): no grid can be
        # sized (inf / inf cells), so the plain O(n * kept) loop decides, with the same IoU expression
        return greedy_nms_quadratic_kernel(boxes, order, iou_threshold, offset)[:cap]
    t = iou_threshold
    s0, n_levels, slack_abs, inv_cell, grid, total = _grid_levels(bounds, n_active)
    gx0, gy0 = bounds[0], bounds[1]
    inv_s0 = 1.0 / s0
    fbuf = np.empty(1)
    ibuf = fbuf.view(np.int64)
    head = np.full(total, -1, np.int32)      # first kept box filed in each cell
    tail = np.empty(total, np.int32)         # last kept box filed in each cell
    hint = np.full(total, -1, np.int32)      # per cell: the kept box that last suppressed (or was) a candidate there
    ent_next = np.empty(cap, np.int32)       # next kept box in the same cell, by filing number
    lev_next = np.empty(cap, np.int32)       # next kept box of the same level, by filing number
    kept = np.empty((cap, 5))                # kept boxes by filing number: x1, y1, x2, y2, area
    lev_i = np.zeros((n_levels, 3), np.int64)
    lev_i[:, _LV_HEAD] = -1
    lev_f = np.zeros((n_levels, 4))
    lev_f[:, _LV_SMIN] = np.inf
    buf = np.empty((_CHUNK, 4))              # the next candidates' coordinates, gathered in one branch-free loop
    cslot = np.empty(_CHUNK, np.int64)       # ... their cell (-1: an empty box) and size level
    clev = np.empty(_CHUNK, np.int64)
    prune = t > 0.0
    tlo = t * (1.0 - _PRUNE_SLACK)
    half_minus_t = 0.5 - tlo
    one_minus_t = 1.0 - tlo
    n_keep = 0
    n_filed = 0
    for r in range(m):
        u = r % _CHUNK
        if u == 0:
            for q in range(min(_CHUNK, m - r)):
                i = order[r + q]
                buf[q, 0] = boxes[i, 0]
                buf[q, 1] = boxes[i, 1]
                buf[q, 2] = boxes[i, 2]
                buf[q, 3] = boxes[i, 3]
            for q in range(min(_CHUNK, m - r)):
                a0 = buf[q, 0]
                b0 = buf[q, 1]
                a1 = buf[q, 2]
                b1 = buf[q, 3]
                w = a1 - a0 + offset
                h = b1 - b0 + offset
                if w > 0.0 and h > 0.0:
                    lq = _size_level(max(w, h), inv_s0, n_levels, fbuf, ibuf)
                    c = inv_cell[lq]
                    clev[q] = lq
                    cslot[q] = grid[lq, _GR_BASE] + _cell_of(0.5 * (b0 + (b1 + offset)), gy0, c, grid[lq, _GR_NY]) \
                        * grid[lq, _GR_NX] + _cell_of(0.5 * (a0 + (a1 + offset)), gx0, c, grid[lq, _GR_NX])
                else:
                    cslot[q] = -1
        slot = cslot[u]
        # an empty box (w <= 0 or h <= 0: slot -1) has zero intersection with everything: never suppresses and is never
        # suppressed, so it is kept and stays out of the grid
        if slot >= 0:
            cx1 = buf[u, 0]
            cy1 = buf[u, 1]
            cx2 = buf[u, 2]
            cy2 = buf[u, 3]
            cw = cx2 - cx1 + offset
            ch = cy2 - cy1 + offset
            ac = cw * ch
            px = 0.5 * (cx1 + (cx2 + offset))
            py = 0.5 * (cy1 + (cy2 + offset))
            sc = max(cw, ch)
            lc = clev[u]
            # 1. the cell's hint: in a cluster of regressions of one object the suppressor of the last candidate
            # filed under this cell usually suppresses this one too (any kept box over the threshold decides)
            hk = hint[slot]
            if hk >= 0 and iou_pair_areas_exceeds(kept[hk, 0], kept[hk, 1], kept[hk, 2], kept[hk, 3], kept[hk, 4],
                                                  cx1, cy1, cx2, cy2, ac, offset, t):
                continue
            # 2. the kept boxes filed in the candidate's own cell at its own level
            sup = -1
            if lev_i[lc, _LV_COUNT] > 0:
                sup = _first_suppressor(head[slot], ent_next, kept, cx1, cy1, cx2, cy2, ac, offset, t)
            # 3. the size levels in the order lc, lc + 1, lc - 1, lc + 2, ... (larger first: fewer, coarser cells;
            # the usual suppressor is a box of about the same size), each over the window of cells its boxes can
            # reach. This search stays inline: as a helper (Numba reference-counts array arguments per call,
            # IR-inlined or not) the kernel ran 1.3-1.5x slower.
            if sup < 0:
                for q in range(2 * n_levels - 1):
                    lv = lc + (q + 1) // 2 if q % 2 == 1 else lc - q // 2
                    if lv < 0 or lv >= n_levels or lev_i[lv, _LV_COUNT] == 0:
                        continue
                    # a size ratio outside (t, 1/t) cannot reach IoU > t
                    if prune and (lev_f[lv, _LV_SMAX] <= tlo * sc or lev_f[lv, _LV_SMIN] * tlo >= sc):
                        continue
                    rx = _reach(lev_f[lv, _LV_WMAX], cw, half_minus_t, one_minus_t) * (1.0 + _PRUNE_SLACK) + slack_abs
                    ry = _reach(lev_f[lv, _LV_HMAX], ch, half_minus_t, one_minus_t) * (1.0 + _PRUNE_SLACK) + slack_abs
                    c = inv_cell[lv]
                    nxl = grid[lv, _GR_NX]
                    i0 = _cell_of(px - rx, gx0, c, nxl)
                    i1 = _cell_of(px + rx, gx0, c, nxl)
                    j0 = _cell_of(py - ry, gy0, c, grid[lv, _GR_NY])
                    j1 = _cell_of(py + ry, gy0, c, grid[lv, _GR_NY])
                    # a window of more cells than the level has kept boxes: walk the level's list instead (same
                    # answer: the question is only whether *some* kept box exceeds the threshold)
                    if (i1 - i0 + 1) * (j1 - j0 + 1) > lev_i[lv, _LV_COUNT]:
                        sup = _first_suppressor(lev_i[lv, _LV_HEAD], lev_next, kept, cx1, cy1, cx2, cy2, ac, offset, t)
                        if sup >= 0:
                            break
                        continue
                    # the candidate's own cell first (already scanned at its own level), then the rest of the window
                    ic = min(max(int((px - gx0) * c), i0), i1)
                    jc = min(max(int((py - gy0) * c), j0), j1)
                    base = grid[lv, _GR_BASE]
                    if lv != lc:
                        sup = _first_suppressor(head[base + jc * nxl + ic], ent_next, kept, cx1, cy1, cx2, cy2, ac,
                                                offset, t)
                        if sup >= 0:
                            break
                    for jj in range(j0, j1 + 1):
                        for ii in range(i0, i1 + 1):
                            if ii != ic or jj != jc:
                                sup = _first_suppressor(head[base + jj * nxl + ii], ent_next, kept, cx1, cy1, cx2, cy2,
                                                        ac, offset, t)
                                if sup >= 0:
                                    break
                        if sup >= 0:
                            break
                    if sup >= 0:
                        break
            if sup >= 0:
                hint[slot] = sup
                continue
            # kept: file it under its centre at its size level, and at the end of its level's list (oldest first:
            # the highest-scoring kept box, the usual suppressor, is met first)
            g = n_filed
            kept[g, 0] = cx1
            kept[g, 1] = cy1
            kept[g, 2] = cx2
            kept[g, 3] = cy2
            kept[g, 4] = ac
            hint[slot] = g
            lev_next[g] = -1
            if lev_i[lc, _LV_COUNT] == 0:
                lev_i[lc, _LV_HEAD] = g
            else:
                lev_next[lev_i[lc, _LV_TAIL]] = g
            lev_i[lc, _LV_TAIL] = g
            lev_i[lc, _LV_COUNT] += 1
            lev_f[lc, _LV_SMIN] = min(lev_f[lc, _LV_SMIN], sc)
            lev_f[lc, _LV_SMAX] = max(lev_f[lc, _LV_SMAX], sc)
            lev_f[lc, _LV_WMAX] = max(lev_f[lc, _LV_WMAX], cw)
            lev_f[lc, _LV_HMAX] = max(lev_f[lc, _LV_HMAX], ch)
            ent_next[g] = -1
            if head[slot] < 0:
                head[slot] = g
            else:
                ent_next[tail[slot]] = g
            tail[slot] = g
            n_filed += 1
        keep[n_keep] = r
        n_keep += 1
        if n_keep == cap:
            break
    return keep[:n_keep]


@jit
def greedy_nms_rows_kernel(boxes, scores, use_threshold, score_threshold, iou_threshold, offset, pre_nms_top_k,
                           max_output):
    """Validation, the stable score order and greedy NMS in one call (the per-call cost of :func:`vocbench.nms.nms`).

    Args:
        boxes: float64[N, 4] (x1, y1, x2, y2), C-contiguous; checked here for NaN/inf.
        scores: float64[N]; checked here for NaN/inf.
        use_threshold, score_threshold: only rows with ``score > score_threshold`` enter (when ``use_threshold``).
        iou_threshold, offset, max_output: as in :func:`greedy_nms_kernel`.
        pre_nms_top_k: only the first k of the (stable) order enter NMS (< 0: all).

    Returns:
        ``(rows, bad_box_row, bad_score)``: int64[K] row indices of the kept boxes in processing order, and
        the first row of ``boxes`` / index of ``scores`` holding NaN or +-inf (-1 when none; then ``rows`` is
        empty and must not be used).
    """
    empty = np.zeros(0, np.int64)
    # the grid's bounds pass over every row is also the NaN/inf check of the boxes (one read of the array)
    bounds, n_active, bad = _grid_bounds(boxes, empty, offset, True)
    if bad >= 0:
        return empty, bad, -1
    bad = first_nonfinite(scores)
    if bad >= 0:
        return empty, -1, bad
    order = descending_score_order(scores, use_threshold, score_threshold)
    if 0 <= pre_nms_top_k < order.shape[0]:
        order = order[:pre_nms_top_k]
    kept = _greedy_nms_grid(boxes, order, iou_threshold, offset, max_output, bounds, n_active)
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
            if iou_pair_areas(ix1, iy1, ix2, iy2, area[r], boxes[j, 0], boxes[j, 1], boxes[j, 2], boxes[j, 3], area[q],
                              offset) > iou_threshold:
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
            iou = iou_pair_areas(bx1, by1, bx2, by2, area[best], boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3],
                                 area[i], offset)
            if gaussian:
                s[i] *= math.exp(-(iou * iou) / sigma)
            elif iou >= iou_threshold:
                s[i] *= 1.0 - iou
            if s[i] < score_threshold:
                alive[i] = False
    return keep[:n_keep], kept_scores[:n_keep]


@jit
def first_nonfinite(a):
    """Index of the first NaN or +-inf of a float64 1-D array, or -1."""
    for i in range(a.shape[0]):
        v = a[i]
        if not (v - v == 0.0):
            return i
    return -1
