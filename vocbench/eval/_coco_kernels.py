"""Numba kernels of the COCO protocol (:mod:`vocbench.eval.coco`). Arrays and scalars only (STYLE.md §1).

Outcomes are two bit masks per detection, bit ``a * T + t`` for area range ``a`` and IoU threshold ``t`` (at most
64 columns): ``counted`` (TP or FP: the detection is a point of that column's precision/recall curve) and ``tp``.
A detection in neither is ignored there (matched to an ignored GT, unmatched outside the area range, or beyond
maxDet). Within an area range the thresholds are consecutive bits, so a threshold mask ``m`` (bit ``t``) of area
``a`` is ``m << a * T``.

Matching state is a bit mask per GT too: bit ``t`` of ``free[j]`` says GT ``j`` can still be matched at
threshold ``t`` (a crowd GT always can), and ``reach(v)`` = the thresholds an IoU ``v`` reaches (``v >= thr``) is a
prefix mask, so pycocotools' ten threshold loops become a few mask operations per detection.
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit, jit_inline
from vocbench.boxes._kernels import bbiou_select

__all__ = ["coco_match_kernel", "coco_evaluate_kernel"]

#: Kernels the COCO path calls from Python (compiled ahead of time by vocbench._native: one argument-type set each).
ENTRY_POINTS = ("coco_evaluate_kernel",)

#: Rows of detections laid out at a time (56 bytes each, ~15 MB): two passes over the rows at COCO scale (500k).
_BATCH_ROWS = 1 << 18


# ----------------------------------------------------------------------------------------------- sorting
@jit
def _sort_class(score, n, cur, scratch):
    """``cur[:n]`` := ``0 .. n - 1`` by descending ``score[:n]``, ties in index order (a stable sort): the class
    order of pycocotools' ``accumulate`` when the rows are in (image, input order).

    Stable LSD radix sort on 11-bit digits of ``k32``, which orders the scores rounded to float32 (descending;
    rounding to nearest is monotone, so only rows whose scores round to the same float32 can be out of order),
    minus the smallest key; then a stable insertion sort on the full float64 score inside each run of equal
    ``k32`` (runs of distinct float64 scores that share a float32 are rare and short; a long unsorted one falls
    back to a merge sort). Small inputs go straight to the insertion sort. ``score`` must not hold NaN.
    ``cur``: int32[>= n]; ``scratch``: :func:`_sort_scratch` of at least ``n`` rows.
    """
    f32, keys, nxt, nxt_keys, hist = scratch
    for i in range(n):
        cur[i] = i
    if n <= 32:
        _sort_run(cur, 0, n, score)
        return
    for i in range(n):
        f32[i] = np.float32(score[i]) + np.float32(0.0)  # -0.0 -> 0.0
    sign32 = np.uint64(1 << 31)
    low32 = np.uint64(0xFFFFFFFF)
    lo = low32
    hi = np.uint64(0)
    for i in range(n):  # keys overwrite the float32 bits they are made of (the same memory)
        u = np.uint64(keys[i])
        if u & sign32:
            u = ~u & low32
        else:
            u = u | sign32
        u = ~u & low32  # ascending = descending score
        keys[i] = np.uint32(u)
        lo = min(lo, u)
        hi = max(hi, u)
    npass = 0
    while npass < 3 and ((hi - lo) >> np.uint64(11 * npass)) != np.uint64(0):
        npass += 1
    mask = np.uint64(2047)
    hist[:npass] = 0
    for i in range(n):
        key = np.uint64(keys[i]) - lo
        keys[i] = np.uint32(key)
        for q in range(npass):
            hist[q, np.int64((key >> np.uint64(11 * q)) & mask) + 1] += 1
    for q in range(npass):
        sh = np.uint64(11 * q)
        counts = hist[q]
        if counts[np.int64((keys[0] >> sh) & mask) + 1] == n:
            continue  # every key has this digit
        for d in range(2048):
            counts[d + 1] += counts[d]
        for i in range(n):
            dgt = np.int64((keys[i] >> sh) & mask)
            j = counts[dgt]
            nxt[j] = cur[i]
            nxt_keys[j] = keys[i]
            counts[dgt] = j + 1
        for i in range(n):
            cur[i] = nxt[i]
            keys[i] = nxt_keys[i]
    i = 0
    while i < n:  # runs of equal float32 score: order by the full float64 score, stably
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i > 1:
            _sort_run(cur, i, j, score)
        i = j


@jit
def _sort_scratch(n):
    """Scratch of :func:`_sort_class` for up to ``n`` rows."""
    f32 = np.empty(max(n, 1), np.float32)
    return (f32, f32.view(np.uint32), np.empty(max(n, 1), np.int32), np.empty(max(n, 1), np.uint32),
            np.zeros((3, 2049), np.int64))


@jit_inline
def _sort_run(cur, i0, i1, scores):
    """Stable sort of ``cur[i0:i1]`` by descending ``scores`` (insertion sort; merge sort for long unsorted runs)."""
    unsorted = 0
    for i in range(i0 + 1, i1):
        if scores[cur[i]] > scores[cur[i - 1]]:
            unsorted += 1
    if unsorted == 0:
        return
    if i1 - i0 > 32:
        seg = cur[i0:i1].copy()
        neg = np.empty(i1 - i0, np.float64)
        for q in range(i1 - i0):
            neg[q] = -scores[seg[q]]
        o = np.argsort(neg, kind="mergesort")
        for q in range(i1 - i0):
            cur[i0 + q] = seg[o[q]]
        return
    for i in range(i0 + 1, i1):
        r = cur[i]
        s = scores[r]
        j = i - 1
        while j >= i0 and scores[cur[j]] < s:
            cur[j + 1] = cur[j]
            j -= 1
        cur[j + 1] = r


# ----------------------------------------------------------------------------------------------- matching
@jit
def _reach(v, iou_thresholds):
    """Bit mask of the thresholds ``v`` reaches (``v >= thr``; thresholds ascend)."""
    c = 0
    nt = iou_thresholds.shape[0]
    while c < nt and v >= iou_thresholds[c]:
        c += 1
    return (np.uint64(1) << np.uint64(c)) - np.uint64(1)


@jit
def _ignore_bits(area, ignored, area_ranges):
    """Bit ``a`` set: a GT of ``area`` is ignored under area range ``a`` (``ignored``: in every range, as a crowd
    region; else where ``area`` is outside the inclusive range)."""
    one = np.uint64(1)
    na = area_ranges.shape[0]
    if ignored:
        return (one << np.uint64(na)) - one if na < 64 else ~np.uint64(0)
    bits = np.uint64(0)
    for a in range(na):
        inside = np.uint64(area >= area_ranges[a, 0]) & np.uint64(area <= area_ranges[a, 1])
        bits |= (inside ^ one) << np.uint64(a)
    return bits


@jit
def _gt_ignore_bits(gt_offsets, gt_area, gt_crowd, area_ranges, num_images):
    """``(ig uint64[M], npig int64[C, A])``: bit ``a`` of ``ig[g]`` says GT ``g`` is ignored under area range
    ``a`` (:func:`_ignore_bits`; ``gt_crowd``: ignored everywhere); ``npig[k, a]`` counts the non-ignored GT of
    class ``k`` (groups ``class * num_images + image``)."""
    one = np.uint64(1)
    na = area_ranges.shape[0]
    ig = np.zeros(gt_area.shape[0], np.uint64)
    npig = np.zeros(((gt_offsets.shape[0] - 1) // num_images, na), np.int64)
    for g in range(gt_area.shape[0]):
        ig[g] = _ignore_bits(gt_area[g], gt_crowd[g], area_ranges)
    for grp in range(gt_offsets.shape[0] - 1):
        k = grp // num_images
        for g in range(gt_offsets[grp], gt_offsets[grp + 1]):
            for a in range(na):
                npig[k, a] += np.int64(((ig[g] >> np.uint64(a)) & one) ^ one)
    return ig, npig


@jit
def _area_bits(area, area_ranges):
    """Bit mask of the (inclusive) area ranges ``area`` falls in."""
    bits = np.uint64(0)
    for a in range(area_ranges.shape[0]):
        bits |= (np.uint64(area >= area_ranges[a, 0]) & np.uint64(area <= area_ranges[a, 1])) << np.uint64(a)
    return bits


@jit
def _unmatched_mask(dab, na, nt):
    """``counted`` mask of an unmatched detection: every threshold of the area ranges in ``dab``, none elsewhere."""
    full = (np.uint64(1) << np.uint64(nt)) - np.uint64(1)
    cm = np.uint64(0)
    for a in range(na):
        cm |= (full * ((dab >> np.uint64(a)) & np.uint64(1))) << np.uint64(a * nt)
    return cm


@jit
def _match_group(nd, i0, ng, g0, dbox, dab, gt_xyxy, gt_area, gt_crowd, ig, iou_thresholds, na, cm_out, tm_out, sc):
    """pycocotools' ``evaluateImg`` of one (class, image) group for every area range and IoU threshold.

    ``dbox[i0:i0 + nd]`` / ``dab[i0:i0 + nd]``: the group's detections in score order (``x, y, x+w, y+h, w*h``); GT
    ``g0 .. g0 + ng - 1`` with ignore bits ``ig[g0:g0 + ng]`` (:func:`_gt_ignore_bits`). Writes the ``counted`` /
    ``tp`` masks to ``cm_out[:nd]`` / ``tm_out[:nd]``. ``sc``: the scratch of :func:`_match_scratch`, sized for
    the group.

    The IoU matrix is computed once (``maskApi.c``'s ``bbIou``: :func:`bbiou_select`). An area range changes the
    matching only through the GT ignore pattern, and a pattern where every GT has the same status matches like no
    ignore at all, so each distinct pattern (slot) is matched once. pycocotools' scan at threshold ``t`` (GT
    non-ignored first, skipping matched non-crowd GT, stopping at ignored GT once it holds a regular one, ``>=`` so
    a later GT wins ties) answers: among the free non-ignored GT reaching ``t``, the last of largest IoU; if none,
    the same among the ignored ones. So per detection and slot the candidates are visited by decreasing IoU (later
    GT first on ties), non-ignored first: each takes, in one mask operation, the thresholds it reaches where it is
    free and that no earlier candidate took; usually the first candidate settles every threshold. Detections whose
    best IoU is below the first threshold are unmatched everywhere and skip the slots. The candidate order and the
    thresholds each IoU reaches are computed once per detection (:func:`_candidates`), not per slot.
    """
    ious, live, free, lst_j, lst_m, slot_of_area, slot_area, slot_uniform, reach, cand = sc
    nt = iou_thresholds.shape[0]
    one = np.uint64(1)
    zero = np.uint64(0)
    full = (one << np.uint64(nt)) - one
    thr0 = iou_thresholds[0]
    nlive = 0
    for i in range(nd):
        ax1, ay1, ax2, ay2, aa = dbox[i0 + i, 0], dbox[i0 + i, 1], dbox[i0 + i, 2], dbox[i0 + i, 3], dbox[i0 + i, 4]
        best = 0.0
        row = i * ng
        for j in range(ng):
            g = g0 + j
            v = bbiou_select(ax1, ay1, ax2, ay2, aa, gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2], gt_xyxy[g, 3],
                             gt_area[g], gt_crowd[g])
            ious[row + j] = v
            best = max(best, v)
        tm_out[i] = zero
        live[nlive] = i
        if best >= thr0:
            nlive += 1
        else:  # unmatched at every threshold
            cm_out[i] = _unmatched_mask(dab[i0 + i], na, nt)
    if nlive == 0:
        return
    _candidates(live, nlive, ng, ious, iou_thresholds, reach, cand)
    # slots: area ranges with the same ignore pattern, or a uniform one (every GT ignored, or none)
    allig = ~zero
    anyig = zero
    for j in range(ng):
        allig &= ig[g0 + j]
        anyig |= ig[g0 + j]
    nslots = 0
    for a in range(na):
        ba = one << np.uint64(a)
        uni = ((allig & ba) != zero) or ((anyig & ba) == zero)
        slot_of_area[a] = -1
        for s in range(nslots):
            if uni or slot_uniform[s]:
                same = uni and slot_uniform[s]
            else:
                a2 = np.uint64(slot_area[s])
                same = True
                for j in range(ng):
                    if ((ig[g0 + j] >> np.uint64(a)) & one) != ((ig[g0 + j] >> a2) & one):
                        same = False
                        break
            if same:
                slot_of_area[a] = s
                break
        if slot_of_area[a] < 0:
            slot_of_area[a] = nslots
            slot_area[nslots] = a
            slot_uniform[nslots] = uni
            nslots += 1
    for li in range(nlive):
        cm_out[live[li]] = zero
    for s in range(nslots):
        sa = np.uint64(slot_area[s])
        uni = slot_uniform[s]
        for j in range(ng):
            free[j] = full
        for li in range(nlive):
            row = live[li] * ng
            nl = 0
            rem = full  # thresholds not yet taken by a candidate
            for phase in range(2):  # non-ignored GT first; the ignored ones where none of those is free
                for q in range(ng):
                    j = cand[row + q]
                    r = reach[row + j]
                    if r == zero:
                        break  # candidates by decreasing IoU: the rest reach no threshold either
                    if (not uni and ((ig[g0 + j] >> sa) & one) != zero) != (phase == 1):
                        continue
                    take = r & free[j] & rem
                    if take:
                        lst_j[nl] = j
                        lst_m[nl] = take
                        nl += 1
                        rem &= ~take
                        if rem == zero:
                            break
                if rem == zero:
                    break
            i = live[li]
            matched = zero
            for q in range(nl):
                matched |= lst_m[q]
                if not gt_crowd[g0 + lst_j[q]]:
                    free[lst_j[q]] &= ~lst_m[q]
            unm = full & ~matched
            cm = zero
            tm = zero
            for a in range(na):
                if slot_of_area[a] != s:
                    continue
                ua = np.uint64(a)
                tpa = zero
                for q in range(nl):
                    if not (ig[g0 + lst_j[q]] >> ua) & one:
                        tpa |= lst_m[q]
                ca = tpa | (unm * ((dab[i0 + i] >> ua) & one))
                sh = np.uint64(a * nt)
                cm |= ca << sh
                tm |= tpa << sh
            cm_out[i] |= cm
            tm_out[i] |= tm


@jit_inline
def _match_one_gt(nd, g, dbox, dab, gt_xyxy, gt_area, gt_crowd, ig, iou_thresholds, na, cm_out, tm_out):
    """:func:`_match_group` for a group with one GT (``g``), the common case: no candidate order to decide, the
    same matching in every area range. At threshold ``t`` a detection takes the GT if its IoU reaches ``t`` and
    no earlier detection took it there (a crowd GT: always); under an area range where the GT is ignored the
    match is ignored, elsewhere a true positive; unmatched, a detection counts where its area is in the range."""
    nt = iou_thresholds.shape[0]
    one = np.uint64(1)
    full = (one << np.uint64(nt)) - one
    bx1, by1, bx2, by2 = gt_xyxy[g, 0], gt_xyxy[g, 1], gt_xyxy[g, 2], gt_xyxy[g, 3]
    barea, crowd, igb = gt_area[g], gt_crowd[g], ig[g]
    free = full
    for i in range(nd):
        v = bbiou_select(dbox[i, 0], dbox[i, 1], dbox[i, 2], dbox[i, 3], dbox[i, 4], bx1, by1, bx2, by2, barea, crowd)
        m = _reach(v, iou_thresholds) & free
        if not crowd:
            free &= ~m
        unm = full & ~m
        d = dab[i]
        cm = np.uint64(0)
        tm = np.uint64(0)
        for a in range(na):
            ua = np.uint64(a)
            sh = np.uint64(a * nt)
            fp = unm * ((d >> ua) & one)  # unmatched, area inside the range: a false positive
            if (igb >> ua) & one:
                cm |= fp << sh
            else:
                cm |= (m | fp) << sh
                tm |= m << sh
        cm_out[i] = cm
        tm_out[i] = tm


@jit
def _candidates(live, nlive, ng, ious, iou_thresholds, reach, cand):
    """For each live detection ``i`` (row ``i * ng`` of ``ious``): ``reach[row + j]`` the thresholds GT ``j``'s IoU
    reaches (:func:`_reach`), ``cand[row:row + ng]`` its GT by decreasing IoU, later GT first on ties (the order
    pycocotools' ``>=`` scan prefers them in)."""
    for li in range(nlive):
        row = live[li] * ng
        for j in range(ng):
            v = ious[row + j]
            if v != v:  # NaN (non-finite boxes) reaches nothing: sorted last, like pycocotools never picks it
                v = -1.0
                ious[row + j] = v
            reach[row + j] = _reach(v, iou_thresholds)
            q = j - 1
            while q >= 0 and ious[row + cand[row + q]] <= v:
                cand[row + q + 1] = cand[row + q]
                q -= 1
            cand[row + q + 1] = j


@jit
def _match_scratch(max_nd, max_ng, na, nt):
    """Scratch arrays of :func:`_match_group` for groups of up to ``max_nd`` detections and ``max_ng`` GT."""
    pairs = max(max_nd * max_ng, 1)
    return (np.zeros(pairs, np.float64), np.zeros(max(max_nd, 1), np.int64),
            np.zeros(max(max_ng, 1), np.uint64), np.zeros(nt + 1, np.int64), np.zeros(nt + 1, np.uint64),
            np.zeros(na, np.int64), np.zeros(na, np.int64), np.zeros(na, np.bool_), np.zeros(pairs, np.uint64),
            np.zeros(pairs, np.int64))


@jit
def coco_match_kernel(gt_offsets, gt_xyxy, gt_box_area, gt_area, gt_crowd, gt_ignore, group_offsets, group_order,
                      flag_row, det_xywh, det_area, iou_thresholds, area_ranges, max_det, num_images):
    """pycocotools' ``evaluateImg`` for every (class, image) group, every area range and IoU threshold, in one pass
    (:func:`_match_group` per group), outcomes by ``flag_row``: the per-detection flags that
    :func:`coco_evaluate_kernel` accumulates at once (the bootstrap of :mod:`vocbench.compare` keeps them).

    Args:
        gt_offsets: int64[G + 1] CSR offsets of the GT of each group (group = class * num_images + image).
        gt_xyxy: float64[M, 4] GT ``(x, y, x + w, y + h)`` in CSR order; gt_box_area: float64[M] ``w * h`` (the
            IoU's area); gt_area: float64[M] the ``area`` field (what the area ranges test); gt_crowd: bool[M]
            (crowd IoU, matched any number of times); gt_ignore: bool[M] (ignored in every area range).
        group_offsets: int64[G + 1] group segments of ``group_order``.
        group_order: int64[N] detection rows grouped, descending score (stable) within a group.
        flag_row: int64[N] output row of each position of ``group_order``.
        det_xywh: float64[N, 4] COCO ``[x, y, w, h]`` by row; det_area: float64[N] the area the ranges test.
        iou_thresholds: float64[T] ascending, already capped at 1 - 1e-10.
        area_ranges: float64[A, 2] inclusive area ranges.
        max_det: detections kept per group (the top ``max_det`` by score).
        num_images: images per class (the groups of one class are contiguous).

    Returns:
        counted, tp: uint64[N] outcome masks by ``flag_row`` (bit ``a * T + t``; see the module docstring);
        rank: int64[N] by ``flag_row``, rank within its group (0 = best score; ranks >= ``max_det`` are ignored);
        npig: int64[C, A] non-ignored GT per class and area range.
    """
    ngroups = gt_offsets.shape[0] - 1
    na = area_ranges.shape[0]
    nt = iou_thresholds.shape[0]
    n = group_order.shape[0]
    if na * nt > 64 or nt == 0 or nt > 63:
        raise ValueError("COCO matching supports 1 to 63 IoU thresholds and 64 (area range, threshold) columns")
    counted = np.zeros(n, np.uint64)
    tp = np.zeros(n, np.uint64)
    rank = np.empty(n, np.int64)
    ig, npig = _gt_ignore_bits(gt_offsets, gt_area, gt_ignore, area_ranges, num_images)
    max_ng = 1
    max_nd = 1
    for grp in range(ngroups):
        max_ng = max(max_ng, gt_offsets[grp + 1] - gt_offsets[grp])
        max_nd = max(max_nd, min(group_offsets[grp + 1] - group_offsets[grp], max_det))
    sc = _match_scratch(max_nd, max_ng, na, nt)
    dbox = np.zeros((max_nd, 5), np.float64)
    dab = np.zeros(max_nd, np.uint64)
    cm = np.zeros(max_nd, np.uint64)
    tm = np.zeros(max_nd, np.uint64)
    for grp in range(ngroups):
        g0, g1 = gt_offsets[grp], gt_offsets[grp + 1]
        p0, p1 = group_offsets[grp], group_offsets[grp + 1]
        ng = g1 - g0
        if p0 == p1:
            continue
        for p in range(p0, p1):
            rank[flag_row[p]] = p - p0  # beyond max_det: neither counted nor TP
        nd = min(p1 - p0, max_det)
        for i in range(nd):
            d = group_order[p0 + i]  # (x, y, x + w, y + h, w * h): as coco_evaluate_kernel forms them
            dbox[i, 0] = det_xywh[d, 0]
            dbox[i, 1] = det_xywh[d, 1]
            dbox[i, 2] = det_xywh[d, 0] + det_xywh[d, 2]
            dbox[i, 3] = det_xywh[d, 1] + det_xywh[d, 3]
            dbox[i, 4] = det_xywh[d, 2] * det_xywh[d, 3]
            dab[i] = _area_bits(det_area[d], area_ranges)
        if ng == 0:  # nothing to match: false positives inside each area range, ignored outside
            for i in range(nd):
                counted[flag_row[p0 + i]] = _unmatched_mask(dab[i], na, nt)
            continue
        _match_group(nd, 0, ng, g0, dbox, dab, gt_xyxy, gt_box_area, gt_crowd, ig, iou_thresholds, na, cm, tm, sc)
        for i in range(nd):
            r = flag_row[p0 + i]
            counted[r] = cm[i]
            tp[r] = tm[i]
    return counted, tp, rank, npig


# ----------------------------------------------------------------------------------------------- whole protocol
@jit
def _gt_by_class(gt_image, gt_class, gt_xywh, gt_area, gt_crowd, gt_ignore, area_ranges, num_images, num_classes):
    """Ground truth sorted by (class, image, input order) — pycocotools' ``_gts`` order within a (class, image)
    group — with what the matcher reads.

    Returns:
        (class_offsets int64[C + 1], image int64[M], xyxy float64[M, 4] ``(x, y, x + w, y + h)`` as ``maskApi.c``
        forms the far corner, box_area float64[M] ``w * h`` (the IoU's area), crowd bool[M], ig uint64[M] the
        ignore bits of :func:`_ignore_bits`, npig int64[C, A] the non-ignored GT per class and area range).
    """
    m = gt_image.shape[0]
    na = area_ranges.shape[0]
    by_image = np.empty(m, np.int64)  # stable counting sort by image, then by class
    start = np.zeros(num_images + 1, np.int64)
    offsets = np.zeros(num_classes + 1, np.int64)
    for g in range(m):
        start[gt_image[g] + 1] += 1
        offsets[gt_class[g] + 1] += 1
    for i in range(num_images):
        start[i + 1] += start[i]
    for k in range(num_classes):
        offsets[k + 1] += offsets[k]
    for g in range(m):
        by_image[start[gt_image[g]]] = g
        start[gt_image[g]] += 1
    fill = offsets[:num_classes].copy()
    image = np.empty(m, np.int64)
    xyxy = np.empty((m, 4), np.float64)
    box_area = np.empty(m, np.float64)
    crowd = np.empty(m, np.bool_)
    ig = np.empty(m, np.uint64)
    npig = np.zeros((num_classes, na), np.int64)
    for q in range(m):
        r = by_image[q]
        k = gt_class[r]
        g = fill[k]
        fill[k] = g + 1
        x, y, w, h = gt_xywh[r, 0], gt_xywh[r, 1], gt_xywh[r, 2], gt_xywh[r, 3]
        image[g] = gt_image[r]
        xyxy[g, 0] = x
        xyxy[g, 1] = y
        xyxy[g, 2] = x + w
        xyxy[g, 3] = y + h
        box_area[g] = w * h
        crowd[g] = gt_crowd[r]
        bits = _ignore_bits(gt_area[r], gt_ignore[r], area_ranges)
        ig[g] = bits
        for a in range(na):
            npig[k, a] += np.int64(((bits >> np.uint64(a)) & np.uint64(1)) ^ np.uint64(1))
    return offsets, image, xyxy, box_area, crowd, ig, npig


@jit
def _class_layout(det_image, det_class, num_images, num_classes):
    """Where each class's detections go in (class, image, input order): ``(class_offsets int64[C + 1], perm)``.
    ``perm`` (int32[N]): the rows in (image, input order) by a stable counting sort by image; empty when the rows
    are already in image order (results files usually are) or in (class, image) order (per-class files)."""
    n = det_image.shape[0]
    offsets = np.zeros(num_classes + 1, np.int64)
    by_image = True
    by_class = True
    for i in range(n):
        offsets[det_class[i] + 1] += 1
        if i > 0 and det_image[i] < det_image[i - 1]:
            by_image = False
            if det_class[i] <= det_class[i - 1]:
                by_class = False
        elif i > 0 and det_class[i] < det_class[i - 1]:
            by_class = False
    for k in range(num_classes):
        offsets[k + 1] += offsets[k]
    if by_image or by_class:
        return offsets, np.empty(0, np.int32)
    perm = np.empty(n, np.int32)
    start = np.zeros(num_images + 1, np.int64)
    for i in range(n):
        start[det_image[i] + 1] += 1
    for i in range(num_images):
        start[i + 1] += start[i]
    for i in range(n):
        perm[start[det_image[i]]] = i
        start[det_image[i]] += 1
    return offsets, perm


@jit
def _class_buckets(det_image, det_class, scores, det_xywh, det_area, area_ranges, offsets, perm, k0, k1, out):
    """The detections of classes ``k0 .. k1 - 1`` in (class, image, input order) into ``out`` = ``(image int32,
    score float64, xywh float64[., 4], area_bits uint64)`` from row 0 (class ``k`` at ``offsets[k] -
    offsets[k0]``), so that the per-class work reads memory in order (gathering each class straight from the input,
    in score order, made every read a cache miss: 0.6 s on 5M detections). ``area_bits``: bit ``a`` set where
    ``det_area`` is in range ``a``. One pass over the rows in (image, input order) (:func:`_class_layout`)."""
    image, score, xywh, bits = out
    n = det_image.shape[0]
    in_order = perm.shape[0] == 0
    fill = offsets[k0:k1] - offsets[k0]
    one, two, three = np.uint64(1), np.uint64(2), np.uint64(3)
    lo0 = hi0 = lo1 = hi1 = lo2 = hi2 = lo3 = hi3 = 0.0
    na = area_ranges.shape[0]
    if na == 4:
        lo0, hi0, lo1, hi1 = area_ranges[0, 0], area_ranges[0, 1], area_ranges[1, 0], area_ranges[1, 1]
        lo2, hi2, lo3, hi3 = area_ranges[2, 0], area_ranges[2, 1], area_ranges[3, 0], area_ranges[3, 1]
    for q in range(n):
        row = q if in_order else perm[q]
        k = det_class[row]
        if k < k0 or k >= k1:
            continue
        p = fill[k - k0]
        fill[k - k0] = p + 1
        image[p] = det_image[row]
        score[p] = scores[row]
        xywh[p, 0] = det_xywh[row, 0]
        xywh[p, 1] = det_xywh[row, 1]
        xywh[p, 2] = det_xywh[row, 2]
        xywh[p, 3] = det_xywh[row, 3]
        ar = det_area[row]
        if na == 4:  # the COCO ranges, unrolled: the loop over a runtime count cost 0.8 ms on 100k boxes
            bits[p] = ((np.uint64(ar >= lo0) & np.uint64(ar <= hi0)) | ((np.uint64(ar >= lo1) & np.uint64(ar <= hi1))
                       << one) | ((np.uint64(ar >= lo2) & np.uint64(ar <= hi2)) << two)
                       | ((np.uint64(ar >= lo3) & np.uint64(ar <= hi3)) << three))
        else:
            bits[p] = _area_bits(ar, area_ranges)


@jit
def _class_scratch(longest, max_det, max_ng, na, nt):
    """Scratch of :func:`_evaluate_class` for classes of up to ``longest`` detections (indices as int32: the
    per-class arrays stay in cache)."""
    n = max(longest, 1)
    cap_d = max(min(longest, max_det), 1)
    return (np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.int32), _sort_scratch(n),
            np.zeros((cap_d, 5), np.float64), np.zeros(cap_d, np.uint64), np.zeros(cap_d, np.uint64),
            np.zeros(cap_d, np.uint64), _match_scratch(cap_d, max_ng, na, nt))


@jit
def _evaluate_class(c0, nk, buckets, gts, k, iou_thresholds, na, max_det, umask, outcomes, scratch):
    """pycocotools' ``evaluateImg`` for every (class ``k``, image) group of the class: its ``nk`` detections at
    ``c0`` in ``buckets`` (:func:`_class_buckets`), ground truth ``gts`` (:func:`_gt_by_class`).

    The class order (:func:`_sort_class`) of rows in (image, input order) is pycocotools' (descending score, ties
    by image, then input order), and a (class, image) group's rows in class order are the group in score order.
    Writes ``outcomes`` = ``(ct, rank, score_of)`` at each detection's place ``p`` in the class order:
    ``ct[p] = (counted, tp)`` masks, ``rank[p]`` its rank in its group, ``score_of[p]`` (if it has rows).
    """
    b_image, b_score, b_xywh, b_bits = buckets
    g_offsets, g_image, g_xyxy, g_box_area, g_crowd, g_ig = gts
    ct, rank, score_of = outcomes
    cur, pos_of, gl, sort_sc, dbox, dab, cm, tm, msc = scratch
    nt = iou_thresholds.shape[0]
    _sort_class(b_score[c0:c0 + nk], nk, cur, sort_sc)
    for p in range(nk):
        pos_of[cur[p]] = p
    if score_of.shape[0] > 0:
        for p in range(nk):
            score_of[p] = b_score[c0 + cur[p]]
    g, g_end = g_offsets[k], g_offsets[k + 1]
    s = 0
    while s < nk:  # runs of one image (the rows are in image order): the (class, image) groups
        im = b_image[c0 + s]
        e = s + 1
        while e < nk and b_image[c0 + e] == im:
            e += 1
        if e - s == 1:  # most groups: one detection
            gl[s] = s
        else:
            _group_order(pos_of, s, e, gl)
        for q in range(s, e):  # every detection unmatched (a false positive inside its area ranges) unless matched
            i = gl[q]
            p = pos_of[i]
            rk = q - s
            rank[p] = rk
            bits = b_bits[c0 + i]
            # (uint64 against np.uint64: Numba compares uint64 with int64 as float64)
            um = umask[bits] if bits < np.uint64(umask.shape[0]) else _unmatched_mask(bits, na, nt)
            ct[p, 0] = um * np.uint64(rk < max_det)  # beyond max_det: ignored
            ct[p, 1] = 0
        while g < g_end and g_image[g] < im:  # the group's GT: images ascend on both sides
            g += 1
        g0 = g
        while g < g_end and g_image[g] == im:
            g += 1
        if g > g0:
            nd = min(e - s, max_det)
            for i in range(nd):
                d = c0 + gl[s + i]  # (x, y, x + w, y + h, w * h): the far corner as maskApi.c forms it
                dbox[i, 0] = b_xywh[d, 0]
                dbox[i, 1] = b_xywh[d, 1]
                dbox[i, 2] = b_xywh[d, 0] + b_xywh[d, 2]
                dbox[i, 3] = b_xywh[d, 1] + b_xywh[d, 3]
                dbox[i, 4] = b_xywh[d, 2] * b_xywh[d, 3]
                dab[i] = b_bits[d]
            if g - g0 == 1:
                _match_one_gt(nd, g0, dbox, dab, g_xyxy, g_box_area, g_crowd, g_ig, iou_thresholds, na, cm, tm)
            else:
                _match_group(nd, 0, g - g0, g0, dbox, dab, g_xyxy, g_box_area, g_crowd, g_ig, iou_thresholds, na,
                             cm, tm, msc)
            for i in range(nd):
                p = pos_of[gl[s + i]]
                ct[p, 0] = cm[i]
                ct[p, 1] = tm[i]
        s = e


@jit_inline
def _group_order(pos_of, s, e, gl):
    """``gl[s:e]`` := ``s .. e - 1`` by ascending ``pos_of`` (distinct places in the class order): a group in
    score order. Insertion sort (groups are short; already sorted when the detector wrote them by score), a
    merge sort for long ones."""
    if e - s > 64:
        o = np.argsort(pos_of[s:e], kind="mergesort")
        for q in range(e - s):
            gl[s + q] = s + o[q]
        return
    for q in range(s, e):
        v = pos_of[q]
        j = q - 1
        while j >= s and pos_of[gl[j]] > v:
            gl[j + 1] = gl[j]
            j -= 1
        gl[j + 1] = q


@jit
def coco_evaluate_kernel(det_image, det_class, scores, det_xywh, det_area, gt_image, gt_class, gt_xywh, gt_area,
                         gt_crowd, gt_ignore, num_images, num_classes, iou_thresholds, area_ranges, max_dets,
                         rec_thresholds, with_scores):
    """pycocotools' ``evaluate`` + ``accumulate`` on every class in one pass: precision, recall and scores arrays.

    The detections are laid out class by class, a batch of classes at a time (:func:`_class_layout`,
    :func:`_class_buckets`); per class, every (class, image) group is matched (:func:`_evaluate_class`) and the
    class accumulated (:func:`_accumulate_class`) while its outcomes are still in cache.

    Args:
        det_image, det_class: int64[N] positions in evaluation order (images by sorted COCO id); scores:
            float64[N] (no NaN); det_xywh: float64[N, 4] COCO ``[x, y, w, h]``; det_area: float64[N] the area
            the area ranges test (``w * h``, as ``loadRes`` sets it).
        gt_image, gt_class: int64[M]; gt_xywh: float64[M, 4] COCO boxes (the IoU uses ``w * h``); gt_area:
            float64[M] the annotation's ``area`` field (area ranges); gt_crowd: bool[M] (crowd IoU, matched any
            number of times); gt_ignore: bool[M] (ignored in every area range; pycocotools sets it to iscrowd).
        iou_thresholds: float64[T] ascending, capped at 1 - 1e-10. area_ranges: float64[A, 2] inclusive, A * T <= 64.
        max_dets: int64[M] ascending; the last is the matcher's per-image cap. rec_thresholds: float64[R] (any
            order, as ``np.searchsorted`` takes them). with_scores: compute ``scores`` (else it has 0 classes).

    Returns:
        precision float64[K, A, M, T, R], recall float64[K, A, M, T] and scores float64[K, A, M, T, R]:
        pycocotools' ``eval`` arrays (``[T, R, K, A, M]``, ``[T, K, A, M]``) with the class axis first, so that
        each class writes one contiguous block; -1 where a class has no non-ignored GT.
    """
    na = area_ranges.shape[0]
    nt = iou_thresholds.shape[0]
    nm = max_dets.shape[0]
    nr = rec_thresholds.shape[0]
    if na * nt > 64 or nt == 0 or nt > 63:
        raise ValueError("COCO matching supports 1 to 63 IoU thresholds and 64 (area range, threshold) columns")
    max_det = max_dets[nm - 1]
    gt_off, gt_img, gt_xyxy, gt_box_area, gt_cr, gt_ig, npig = _gt_by_class(
        gt_image, gt_class, gt_xywh, gt_area, gt_crowd, gt_ignore, area_ranges, num_images, num_classes)
    d_off, perm = _class_layout(det_image, det_class, num_images, num_classes)
    longest = 1
    for k in range(num_classes):
        longest = max(longest, d_off[k + 1] - d_off[k])
    # classes go through the buckets in batches of at most _BATCH_ROWS rows (one pass over the rows each, so the
    # layout's memory stays small); rows not in image order: one batch (each pass would gather through perm)
    cap = max(longest, _BATCH_ROWS) if perm.shape[0] == 0 else max(d_off[num_classes], 1)
    cap = min(cap, max(d_off[num_classes], 1))
    buckets = (np.empty(cap, np.int32), np.empty(cap, np.float64), np.empty((cap, 4), np.float64),
               np.empty(cap, np.uint64))
    max_ng = 1  # the most GT of one (class, image) group (or of two, where a class's last image is the next's first)
    run = 1
    for g in range(1, gt_img.shape[0]):
        run = run + 1 if gt_img[g] == gt_img[g - 1] else 1
        max_ng = max(max_ng, run)
    umask = np.zeros(1 << min(na, 8), np.uint64)  # unmatched counted mask of each area-bit pattern
    for v in range(umask.shape[0]):
        umask[v] = _unmatched_mask(np.uint64(v), na, nt)
    scratch = _class_scratch(longest, max_det, max_ng, na, nt)
    outcomes = (np.zeros((longest, 2), np.uint64), np.zeros(longest, np.int32),
                np.zeros(longest if with_scores else 0, np.float64))
    acc_state = _accumulate_state(npig, nt, nm)
    precision = np.empty((num_classes, na, nm, nt, nr), np.float64)  # every entry written per class
    recall = np.empty((num_classes, na, nm, nt), np.float64)
    score_out = np.empty((num_classes if with_scores else 0, na, nm, nt, nr), np.float64)
    gts = (gt_off, gt_img, gt_xyxy, gt_box_area, gt_cr, gt_ig)
    k1 = 0
    while k1 < num_classes:
        k0 = k1
        k1 = k0 + 1
        while k1 < num_classes and d_off[k1 + 1] - d_off[k0] <= cap:
            k1 += 1
        _class_buckets(det_image, det_class, scores, det_xywh, det_area, area_ranges, d_off, perm, k0, k1, buckets)
        for k in range(k0, k1):
            c0, nk = d_off[k] - d_off[k0], d_off[k + 1] - d_off[k]
            _evaluate_class(c0, nk, buckets, gts, k, iou_thresholds, na, max_det, umask, outcomes, scratch)
            _accumulate_class(outcomes[0], outcomes[1], outcomes[2], nk, npig[k], max_dets, rec_thresholds, nt, k,
                              acc_state, (precision, recall, score_out))
    return precision, recall, score_out


# ----------------------------------------------------------------------------------------------- accumulation
@jit
def _accumulate_state(npig, nt, nm):
    """Scratch of :func:`_accumulate_class`: ``(counted_at_tp int32[M, C, P + 1], base int64[M + 1, 8 W],
    lanes uint64[M + 1, W], ntp int64[M, C], spread uint64[256], bit_of int64[67], run float64[P + 2],
    place_at_tp int64[M, C, P + 1])`` for C = A * T columns in W words and P the most non-ignored GT of a class
    and area range."""
    na = npig.shape[1]
    longest = 0
    for k in range(npig.shape[0]):
        for a in range(na):
            longest = max(longest, npig[k, a])
    ncol = nt * na
    nw = (ncol + 7) // 8
    spread = np.zeros(256, np.uint64)  # byte -> its 8 bits as the 8 bytes of a word (SWAR counting)
    for v in range(256):
        for b in range(8):
            if (v >> b) & 1:
                spread[v] |= np.uint64(1) << np.uint64(8 * b)
    bit_of = np.zeros(67, np.int64)  # 2**b % 67 is distinct for b < 64: the index of a single set bit
    for b in range(64):
        bit_of[(np.uint64(1) << np.uint64(b)) % np.uint64(67)] = b
    return (np.empty((nm, ncol, longest + 1), np.int32), np.zeros((nm + 1, nw * 8), np.int64),
            np.zeros((nm + 1, nw), np.uint64), np.zeros((nm, ncol), np.int64), spread, bit_of,
            np.zeros(longest + 2, np.float64), np.empty((nm, ncol, longest + 1), np.int64))


@jit
def _accumulate_class(ct, rank, score_of, nk, npig_k, max_dets, rec_thresholds, nt, k, state, out):
    """pycocotools' ``accumulate`` for class ``k``: its ``nk`` outcomes in class order (``ct[:nk]`` the
    ``(counted, tp)`` masks, ``rank[:nk]``, ``score_of[:nk]``, read only for ``scores``), every area range,
    threshold and maxDet, into ``out`` = ``(precision, recall, scores)``.

    pycocotools computes ``rc = tp / npig`` and ``pr = tp / (fp + tp + eps)`` after every detection, takes the
    right-to-left running maximum of ``pr`` and reads it at the first index where ``rc >= r`` for each recall
    threshold ``r``. Recall only grows at true positives, so that index is the ``k``-th true positive with ``k``
    the smallest count where ``k / npig >= r``, and the running maximum from there is the largest precision at the
    ``j``-th true positive, ``j >= k`` (precision falls along false positives; ignored detections repeat the
    previous point). So one scan over the class records, for every column and maxDet at once, the number of
    counted detections at each true positive; the rest is arithmetic on those points, pycocotools' floating-point
    expressions. A maxDet that truncates no (class, image) group gives the same arrays as the next larger one.

    Counting is SWAR and per rank band (band ``b``: ``max_dets[b - 1] <= rank < max_dets[b]``; band M: beyond the
    last, never counted): byte lane ``l`` of word ``w`` of band ``b`` counts bit ``8 w + l`` over at most 255 rows,
    then is flushed into ``base``; maxDet ``m`` counts bands ``0 .. m``, summed only at true positives.
    """
    counted_at_tp, base, lanes, ntp, spread, bit_of, run, place_at_tp = state
    precision, recall, scores = out
    with_scores = scores.shape[0] > 0
    nm = max_dets.shape[0]
    nw = lanes.shape[1]
    base[:] = 0
    lanes[:] = 0
    ntp[:] = 0
    byte = np.uint64(0xFF)
    one = np.uint64(1)
    m67 = np.uint64(67)
    pending = 0
    biggest = 0  # largest (class, image) group of the class
    for s in range(nk):
        r = rank[s]
        biggest = max(biggest, r + 1)
        band = 0
        for mi in range(nm):
            band += r >= max_dets[mi]
        cmk = ct[s, 0]
        if cmk == np.uint64(0):  # ignored everywhere (beyond the last maxDet, or matched to ignored GT only)
            continue
        for w in range(nw):
            lanes[band, w] += spread[(cmk >> np.uint64(8 * w)) & byte]
        pending += 1
        tmk = ct[s, 1]
        while tmk:  # each set bit: a true positive of column c for every maxDet from the band on
            low = tmk & (~tmk + one)
            tmk ^= low
            c = bit_of[low % m67]
            sh = np.uint64(8 * (c & 7))
            cw = c >> 3
            total = 0
            for mi in range(nm):
                total += base[mi, c] + np.int64((lanes[mi, cw] >> sh) & byte)
                if mi >= band:
                    counted_at_tp[mi, c, ntp[mi, c]] = total  # a GT matches once: <= npig TPs per column
                    if with_scores:
                        place_at_tp[mi, c, ntp[mi, c]] = s
                    ntp[mi, c] += 1
        if pending == 255:
            _flush_lanes(lanes, base)
            pending = 0
    kthr = _recall_steps(npig_k, rec_thresholds)
    kcut = kthr.copy()
    for a in range(kcut.shape[0]):
        for r in range(1, kcut.shape[1]):
            kcut[a, r] = max(kcut[a, r], kcut[a, r - 1])
    for mi in range(nm - 1, -1, -1):
        if mi < nm - 1 and biggest <= max_dets[mi]:  # nothing truncated: same as the next larger maxDet
            for a in range(npig_k.shape[0]):
                for t in range(nt):
                    recall[k, a, mi, t] = recall[k, a, mi + 1, t]
                    for q in range(rec_thresholds.shape[0]):
                        precision[k, a, mi, t, q] = precision[k, a, mi + 1, t, q]
                        if with_scores:
                            scores[k, a, mi, t, q] = scores[k, a, mi + 1, t, q]
            continue
        _precision_recall(ntp[mi], counted_at_tp[mi], place_at_tp[mi], score_of, nk, npig_k, kthr, kcut, nt, k, mi,
                          out, run)


@jit
def _flush_lanes(lanes, base):
    """Add the byte lanes of ``lanes`` (uint64[B, W]) to ``base`` (int64[B, 8 W]) and clear them."""
    for mi in range(lanes.shape[0]):
        for w in range(lanes.shape[1]):
            v = lanes[mi, w]
            for b in range(8):
                base[mi, 8 * w + b] += np.int64((v >> np.uint64(8 * b)) & np.uint64(0xFF))
            lanes[mi, w] = 0


@jit
def _recall_steps(npig_k, rec_thresholds):
    """``kthr[a, r]``: the smallest true-positive count ``kk`` (0 .. npig) whose recall ``kk / npig`` reaches
    threshold ``r``, ``npig + 1`` where none does (NaN, above 1): pycocotools' ``searchsorted(rc, recThrs,
    side="left")`` on the recall curve, counted in true positives, each threshold on its own (any order)."""
    nr = rec_thresholds.shape[0]
    kthr = np.zeros((npig_k.shape[0], nr), np.int64)
    for a in range(npig_k.shape[0]):
        npg = npig_k[a]
        for r in range(nr):
            thr = rec_thresholds[r]
            lo, hi = 0, npg + 1  # answer in [lo, hi]; hi = npg + 1: not reached
            while lo < hi:
                mid = (lo + hi) // 2
                if npg > 0 and mid / npg >= thr:
                    hi = mid
                else:
                    lo = mid + 1
            kthr[a, r] = lo
    return kthr


@jit
def _precision_recall(ntp, counted_at_tp, place_at_tp, score_of, nk, npig_k, kthr, kcut, nt, k, mi, out, run):
    """Precision and score at the recall thresholds (``kthr`` from :func:`_recall_steps`) and final recall of class
    ``k`` at maxDet index ``mi``, every column, into ``out`` = ``(precision, recall, scores)`` at ``[k, a, mi, t]``
    (-1 for an area range without non-ignored GT). ``run``: float64 scratch of P + 2 entries.

    pycocotools reads ``pr[pi]`` / ``dtScoresSorted[pi]`` at ``pi = searchsorted(rc, thr)``: the first detection
    when ``kk = 0`` (a threshold <= 0), else the ``kk``-th true positive; the first threshold never reached ends
    its loop (an IndexError caught by a bare ``except``), so it and every later threshold keep 0: threshold ``r``
    is read iff ``kcut[a, r]`` (the running maximum of ``kthr``) is at most the TP count. ``scores`` of length 0
    along its class axis: not computed."""
    precision, recall, scores = out
    eps = 2.220446049250313e-16  # np.finfo(np.float64).eps, pycocotools' spacing term
    nr = kthr.shape[1]
    for a in range(npig_k.shape[0]):
        npg = npig_k[a]
        if npg == 0:
            for t in range(nt):
                recall[k, a, mi, t] = -1.0
                for r in range(nr):
                    precision[k, a, mi, t, r] = -1.0
                    if scores.shape[0]:
                        scores[k, a, mi, t, r] = -1.0
            continue
        for t in range(nt):
            c = a * nt + t
            n_tp = ntp[c]
            recall[k, a, mi, t] = n_tp / npg
            pts = counted_at_tp[c]
            best = 0.0  # right-to-left running maximum of the precision at the TPs; run[j]: from the j-th on
            for j in range(n_tp, 0, -1):
                best = max(best, j / (float(pts[j - 1] - j) + float(j) + eps))
                run[j] = best
            run[0] = best if n_tp > 0 else 0.0  # pr[0] after the running maximum: the best precision overall
            n_reach = n_tp if nk > 0 else -1  # no detection: every index is out of range
            for r in range(nr):
                precision[k, a, mi, t, r] = run[kthr[a, r]] if kcut[a, r] <= n_reach else 0.0
            if scores.shape[0] == 0:  # not asked for
                continue
            for r in range(nr):
                j = kthr[a, r]
                if kcut[a, r] > n_reach:
                    scores[k, a, mi, t, r] = 0.0
                else:
                    scores[k, a, mi, t, r] = score_of[place_at_tp[c, j - 1]] if j > 0 else score_of[0]
