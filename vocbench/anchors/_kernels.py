"""Numba kernels for the anchor analysis. Arrays and scalars only (STYLE.md §1); the public wrappers validate.

Shapes: ``wh`` is ``float64[N, 2]`` of positive (width, height); ``centers`` is ``float64[K, 2]``. The IoU of two
(w, h) pairs is taken with both boxes aligned at a common centre (or corner — the same thing):
``min(w1, w2) * min(h1, h2) / (w1 h1 + w2 h2 - min(w1, w2) * min(h1, h2))``.
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit
from vocbench.boxes._kernels import wh_iou, wh_iou_areas, wh_iou_areas_positive, wh_iou_matrix_kernel

__all__ = ["wh_iou_matrix", "assign_clusters", "lloyd_iou_kmeans", "lloyd_iou_kmeans_visit", "best_wh_iou",
           "best_ratio_metric", "positioned_best_iou"]


#: IoU of every (w, h) in ``wh`` with every centre, ``float64[N, K]`` — the box-geometry kernel itself.
wh_iou_matrix = wh_iou_matrix_kernel


@jit
def assign_clusters(wh, centers, labels, best):
    """Closest centre by IoU for every box (ties → lowest index). Fills ``labels``/``best``; returns sum of IoU.

    Shapes must be positive (the public wrappers check): the scan runs in vectorised batches."""
    n = wh.shape[0]
    idx = np.empty(_SCAN_BATCH, np.int64)
    bw = np.empty(_SCAN_BATCH, np.float64)
    bh = np.empty(_SCAN_BATCH, np.float64)
    ba = np.empty(_SCAN_BATCH, np.float64)
    v1 = np.empty(_SCAN_BATCH, np.float64)
    v2 = np.empty(_SCAN_BATCH, np.float64)
    bb = np.empty(_SCAN_BATCH, np.int64)
    total = 0.0
    for s0 in range(0, n, _SCAN_BATCH):
        mm = min(_SCAN_BATCH, n - s0)
        for t in range(mm):
            idx[t] = s0 + t
        _scan_batch(wh, idx, mm, centers, bw, bh, ba, v1, v2, bb)
        for t in range(mm):
            labels[s0 + t] = bb[t]
            best[s0 + t] = v1[t]
            total += v1[t]
    return total


@jit
def _median_centers(wh, labels, counts, centers):
    """Centre = per-coordinate median of the members (clusters with members only; order-independent)."""
    order = np.argsort(labels, kind="mergesort")
    start = 0
    for j in range(centers.shape[0]):
        c = counts[j]
        if c > 0:
            idx = order[start:start + c]
            centers[j, 0] = np.median(wh[idx, 0])
            centers[j, 1] = np.median(wh[idx, 1])
        start += c


@jit
def _reseed_empty(wh, visit, labels, counts, assigned, centers):
    """Move every empty cluster's centre to the box with the lowest IoU to its assigned centre.

    ``assigned`` are the centres the boxes were assigned to (before this update). Boxes are examined in the
    order ``visit`` (the caller's original order) so that ties go to the first box of the input; a box is
    used once. Returns the number of re-seeded clusters.
    """
    n = wh.shape[0]
    k = centers.shape[0]
    best = np.empty(n, np.float64)
    for i in range(n):
        a = labels[i]
        best[i] = wh_iou(wh[i, 0], wh[i, 1], assigned[a, 0], assigned[a, 1])
    reseeded = 0
    for j in range(k):
        if counts[j] == 0:
            worst = visit[0]
            wv = 3.0
            for t in range(n):
                i = visit[t]
                if best[i] < wv:
                    wv = best[i]
                    worst = i
            centers[j, 0] = wh[worst, 0]
            centers[j, 1] = wh[worst, 1]
            best[worst] = 2.0
            reseeded += 1
    return reseeded


@jit
def _wh_dist(w1, h1, w2, h2):
    """1 - IoU of two aligned (w, h) pairs: the Jaccard distance of [0, w]x[0, h] rectangles, a true metric."""
    return 1.0 - wh_iou(w1, h1, w2, h2)


#: Bounds must beat the candidate by this much before a distance computation is skipped: a guard against
#: rounding in the triangle-inequality updates, so that skipping never changes an assignment.
_BOUND_MARGIN = 1e-9


@jit
def _scan(w, h, centers):
    """Full scan of one box: (index of the highest IoU — ties to the lowest index —, 1 - best, 1 - second)."""
    b = 0
    v1 = -1.0
    v2 = -1.0
    a = w * h
    for j in range(centers.shape[0]):
        v = wh_iou_areas(w, h, a, centers[j, 0], centers[j, 1], centers[j, 0] * centers[j, 1])
        if v > v1:
            v2 = v1
            v1 = v
            b = j
        elif v > v2:
            v2 = v
    return b, 1.0 - v1, 1.0 - v2


#: Boxes per batch of :func:`_scan_batch` (its buffers stay in L1).
_SCAN_BATCH = 256


@jit
def _scan_batch(wh, idx, m, centers, bw, bh, ba, v1, v2, bb):
    """Full scan of the boxes ``wh[idx[:m]]`` (``m <= len(bw)``): for each, the index of the highest IoU (ties to
    the lowest index) in ``bb``, the best and second-best IoU in ``v1``, ``v2`` — exactly :func:`_scan`'s choice
    and values (same operations, centres visited in the same order), with the loop over boxes innermost and
    branch-free so that it vectorises. ``bw``, ``bh``, ``ba`` are work buffers."""
    for t in range(m):
        i = idx[t]
        bw[t] = wh[i, 0]
        bh[t] = wh[i, 1]
        ba[t] = bw[t] * bh[t]
        v1[t] = -1.0
        v2[t] = -1.0
        bb[t] = 0
    for j in range(centers.shape[0]):
        cw = centers[j, 0]
        ch = centers[j, 1]
        ca = cw * ch
        for t in range(m):
            v = wh_iou_areas_positive(bw[t], bh[t], ba[t], cw, ch, ca)
            o1 = v1[t]
            o2 = v2[t]
            g = v > o1
            v2[t] = o1 if g else (v if v > o2 else o2)
            v1[t] = v if g else o1
            bb[t] = j if g else bb[t]


#: Runs of at least this many boxes with one label are checked by the vectorised loop; shorter ones one by one.
_MIN_RUN = 16


@jit
def _own_check_block(ws, hs, lower, flag, s0, s1, cw, ch, ca, drop, half_gap):
    """Boxes ``s0:s1`` of one cluster (centre ``(cw, ch)``, ``ca = cw * ch``, its ``drop``, ``half_gap``): the
    lower bounds fall by ``drop``; ``flag[i]`` = 1 where the exact distance to the centre (:func:`_wh_dist`'s
    value) is not below ``max(half_gap, lower) - margin``. Returns whether any is flagged."""
    c = 0
    for i in range(np.uint64(s0), np.uint64(s1)):  # unsigned: no wrap-around test, so the loop vectorises
        w = ws[i]
        h = hs[i]
        u = 1.0 - wh_iou_areas_positive(w, h, w * h, cw, ch, ca)
        lo = lower[i] - drop
        lower[i] = lo
        f = u >= max(half_gap, lo) - _BOUND_MARGIN
        flag[i] = f
        c += f
    return c > 0


@jit
def _exact_means(wh, visit, labels, k):
    """Counts and member sums accumulated in the order ``visit`` (the reference definition of the mean)."""
    counts = np.zeros(k, np.int64)
    sums = np.zeros((k, 2), np.float64)
    for t in range(wh.shape[0]):
        i = visit[t]
        counts[labels[i]] += 1
        sums[labels[i], 0] += wh[i, 0]
        sums[labels[i], 1] += wh[i, 1]
    return counts, sums


@jit
def lloyd_iou_kmeans(wh, init, max_iter, use_median):
    """Lloyd iterations with d = 1 - IoU on boxes in their given order (see :func:`lloyd_iou_kmeans_visit`)."""
    return lloyd_iou_kmeans_visit(wh, np.arange(wh.shape[0]), init, max_iter, use_median)


@jit
def lloyd_iou_kmeans_visit(wh, visit, init, max_iter, use_median):
    """Lloyd iterations with d = 1 - IoU from ``init`` (``float64[K, 2]``, not modified).

    Each iteration assigns every box to its closest centre (highest IoU, ties → lowest index) and then moves
    each centre to the mean (median) of its members; an empty cluster is re-seeded at the box with the lowest
    IoU to its centre. Stops at a fixed point (no label changes) or after ``max_iter`` updates. Returns the
    final centres with their assignment: ``(centers float64[K, 2], labels int64[N], iou float64[N], mean_iou,
    n_iter, converged)``.

    ``visit`` (int64[N], a permutation) is the *reference order* of the boxes: ``wh[visit]`` is the caller's
    original data. Only the order-dependent parts use it — mean sums are accumulated in that order and
    re-seeding ties go to the first box in it — so a caller may pass the boxes sorted for locality (far fewer
    branch mispredictions) and still get the result of the plain algorithm on the original order.

    The result is that of the plain algorithm (``tests/_reference/anchors.py``); two accelerations only skip
    work that cannot change it:

    * Hamerly's test. 1 - IoU of aligned boxes is the Jaccard distance of two origin-anchored rectangles,
      a metric. Per box a lower bound ``l`` on the distance to every other centre, lowered each iteration by the
      largest move of another centre; a box keeps its cluster unscanned while its exact distance ``u`` to its
      own centre is ``< max(l, s[a]) - 1e-9`` (``s[a]`` = half the distance from centre ``a`` to its nearest
      other centre). ``u`` is computed for every box every iteration — over runs of boxes sharing a cluster that
      loop vectorises and costs less than keeping and checking Hamerly's upper bound. The boxes not proven are
      scanned over all centres in vectorised batches.
    * Mean centroids from running sums, updated only for boxes that change cluster. At an apparent fixed point
      the means are summed afresh in the reference order; the run ends only when they equal the running ones
      bit for bit (else it carries on from the fresh means), so the final state is an exact fixed point.
    """
    n = wh.shape[0]
    k = init.shape[0]
    centers = init.copy()
    old = centers.copy()
    labels = np.empty(n, np.int64)
    best = np.empty(n, np.float64)
    lower = np.empty(n, np.float64)  # lower bound on the distance to every other centre
    half_gap = np.empty(k, np.float64)
    moved = np.zeros(k, np.float64)
    drop = np.empty(k, np.float64)
    cand = np.arange(n)
    ws = wh[:, 0].copy()  # columns, for the vectorised own-distance loop
    hs = wh[:, 1].copy()
    flag = np.zeros(n, np.uint8)
    bw = np.empty(_SCAN_BATCH, np.float64)
    bh = np.empty(_SCAN_BATCH, np.float64)
    ba = np.empty(_SCAN_BATCH, np.float64)
    v1 = np.empty(_SCAN_BATCH, np.float64)
    v2 = np.empty(_SCAN_BATCH, np.float64)
    bb = np.empty(_SCAN_BATCH, np.int64)
    for s0 in range(0, n, _SCAN_BATCH):
        mm = min(_SCAN_BATCH, n - s0)
        _scan_batch(wh, cand[s0:s0 + mm], mm, centers, bw, bh, ba, v1, v2, bb)
        for t in range(mm):
            labels[s0 + t] = bb[t]
            lower[s0 + t] = 1.0 - v2[t]
    counts, sums = _exact_means(wh, visit, labels, k)
    n_iter = 0
    converged = False
    while True:
        # ---- update step: centres from the current labels
        if n_iter >= max_iter:
            break
        old[:, :] = centers
        if use_median:
            _median_centers(wh, labels, counts, centers)
        else:
            for j in range(k):
                if counts[j] > 0:
                    centers[j, 0] = sums[j, 0] / counts[j]
                    centers[j, 1] = sums[j, 1] / counts[j]
        reseeded = 0
        if counts.min() == 0:
            reseeded = _reseed_empty(wh, visit, labels, counts, old, centers)
        n_iter += 1
        # ---- how far each centre moved; half the gap to the nearest other centre
        m1 = 0.0
        m2 = 0.0
        j1 = -1
        for j in range(k):
            moved[j] = _wh_dist(old[j, 0], old[j, 1], centers[j, 0], centers[j, 1])
            if moved[j] > m1:
                m2 = m1
                m1 = moved[j]
                j1 = j
            elif moved[j] > m2:
                m2 = moved[j]
        for j in range(k):
            g = 2.0
            for j2 in range(k):
                if j2 != j:
                    d = _wh_dist(centers[j, 0], centers[j, 1], centers[j2, 0], centers[j2, 1])
                    if d < g:
                        g = d
            half_gap[j] = 0.5 * g
        # ---- assignment step: the exact distance of every box to its own centre (cheaper than Hamerly's upper
        # bound and its check where a block of boxes shares one cluster: that loop vectorises) against the
        # lower bound, moved by the largest move of another centre; the boxes it does not prove are scanned
        for j in range(k):
            drop[j] = m2 if j == j1 else m1
        n_scan = 0
        i = 0
        while i < n:  # runs of boxes with one label (the locality order makes them long)
            a = labels[i]
            e = i + 1
            while e < n and labels[e] == a:
                e += 1
            cw = centers[a, 0]
            ch = centers[a, 1]
            if e - i >= _MIN_RUN:  # the vectorised check, then the marked boxes if any
                if _own_check_block(ws, hs, lower, flag, i, e, cw, ch, cw * ch, drop[a], half_gap[a]):
                    for t in range(i, e):
                        cand[n_scan] = t
                        n_scan += int(flag[t])  # int: a uint8 sum would wrap in plain Python
            else:
                for t in range(i, e):
                    u = _wh_dist(ws[t], hs[t], cw, ch)
                    lo = lower[t] - drop[a]
                    lower[t] = lo
                    cand[n_scan] = t
                    n_scan += 1 if u >= max(half_gap[a], lo) - _BOUND_MARGIN else 0
            i = e
        changed = 0
        for s0 in range(0, n_scan, _SCAN_BATCH):
            mm = min(_SCAN_BATCH, n_scan - s0)
            _scan_batch(wh, cand[s0:s0 + mm], mm, centers, bw, bh, ba, v1, v2, bb)
            for t in range(mm):
                i = cand[s0 + t]
                a = labels[i]
                b = bb[t]
                lower[i] = 1.0 - v2[t]
                if b != a:
                    labels[i] = b
                    changed += 1
                    counts[a] -= 1
                    counts[b] += 1
                    sums[a, 0] -= wh[i, 0]
                    sums[a, 1] -= wh[i, 1]
                    sums[b, 0] += wh[i, 0]
                    sums[b, 1] += wh[i, 1]
        if changed == 0 and reseeded == 0:
            if use_median:
                converged = True
                break
            # an apparent fixed point: the centres must equal the freshly summed means exactly
            counts, sums = _exact_means(wh, visit, labels, k)
            exact = True
            for j in range(k):
                if counts[j] > 0 and (centers[j, 0] != sums[j, 0] / counts[j]
                                      or centers[j, 1] != sums[j, 1] / counts[j]):
                    exact = False
            if exact:
                converged = True
                break
    total = assign_clusters(wh, centers, labels, best)
    return centers, labels, best, total / max(n, 1), n_iter, converged


@jit
def best_wh_iou(wh, priors):
    """For every box the largest aligned IoU over ``priors`` (``float64[P, 2]``). Returns ``float64[N]``."""
    n = wh.shape[0]
    labels = np.empty(n, np.int64)
    best = np.empty(n, np.float64)
    assign_clusters(wh, priors, labels, best)
    return best


@jit
def best_ratio_metric(wh, priors):
    """YOLOv5's anchor-fit metric: ``max_p min(w/pw, pw/w, h/ph, ph/h)`` for every box. Returns ``float64[N]``."""
    n = wh.shape[0]
    out = np.empty(n, np.float64)
    for i in range(n):
        bv = 0.0
        for j in range(priors.shape[0]):
            rw = wh[i, 0] / priors[j, 0]
            rh = wh[i, 1] / priors[j, 1]
            v = min(rw, 1.0 / rw, rh, 1.0 / rh)
            if v > bv:
                bv = v
        out[i] = bv
    return out


@jit
def _overlap_1d(lo, hi, c, half):
    """Length of [lo, hi] ∩ [c - half, c + half] (0 when disjoint)."""
    left = max(lo, c - half)
    right = min(hi, c + half)
    return max(right - left, 0.0)


@jit
def positioned_best_iou(boxes, grid_sizes, shapes_w, shapes_h, shape_grid):
    """Best IoU of every box with any prior on regular grids, without enumerating the priors.

    Args:
        boxes: float64[N, 4] ``(x1, y1, x2, y2)`` normalised to [0, 1].
        grid_sizes: int64[G] — feature-map sizes; cell (i, j) of grid g has centre ((j+.5)/f, (i+.5)/f).
        shapes_w, shapes_h: float64[S] — prior sizes (normalised), each used at every cell of its grid.
        shape_grid: int64[S] — index into ``grid_sizes`` for every shape.

    For fixed sizes the overlap along x depends only on |dx| and is non-increasing in it (same for y), so the
    best centre of a grid is the one nearest in x times the one nearest in y; both neighbours are tried to be
    exact at ties and borders. Returns ``float64[N]``.
    """
    n = boxes.shape[0]
    out = np.zeros(n, np.float64)
    for i in range(n):
        x1 = boxes[i, 0]
        y1 = boxes[i, 1]
        x2 = boxes[i, 2]
        y2 = boxes[i, 3]
        cx = 0.5 * (x1 + x2)
        cy = 0.5 * (y1 + y2)
        area = (x2 - x1) * (y2 - y1)
        bv = 0.0
        for s in range(shapes_w.shape[0]):
            f = grid_sizes[shape_grid[s]]
            pw = shapes_w[s]
            ph = shapes_h[s]
            # nearest cell index along each axis, and its neighbour on the other side
            jx = int(np.floor(cx * f))
            jy = int(np.floor(cy * f))
            ox = 0.0
            for dj in range(-1, 2):
                j = min(max(jx + dj, 0), f - 1)
                o = _overlap_1d(x1, x2, (j + 0.5) / f, 0.5 * pw)
                if o > ox:
                    ox = o
            oy = 0.0
            for dj in range(-1, 2):
                j = min(max(jy + dj, 0), f - 1)
                o = _overlap_1d(y1, y2, (j + 0.5) / f, 0.5 * ph)
                if o > oy:
                    oy = o
            inter = ox * oy
            v = inter / (area + pw * ph - inter)
            if v > bv:
                bv = v
        out[i] = bv
    return out
