"""Numba kernels of the dataset audit: SSD-style prior matching and the per-image detection/annotation overlaps
behind the label-error candidates. Arrays and scalars only (STYLE.md §1); IoUs come from
:mod:`vocbench.boxes._kernels`. Slow plain-Python twins live in ``tests/test_audit.py``.
"""

from __future__ import annotations

import math

import numpy as np

from vocbench._numba import jit
from vocbench.boxes._kernels import iou_pair

__all__ = ["ssd_match_image_groups", "detection_overlaps", "near_duplicate_pairs"]


@jit
def _overlap_1d(lo, hi, c, half):
    """Overlap of ``[lo, hi]`` with a prior's extent ``[c - half, c + half]`` (may be <= 0)."""
    return min(hi, c + half) - max(lo, c - half)


@jit
def _cell_range(lo, hi, half, f):
    """Cells ``j`` of an ``f``-grid whose prior (centre ``(j + .5)/f``, half-size ``half``) can overlap
    ``[lo, hi]``: one cell of margin on each side, clipped to the grid."""
    a = int(math.floor((lo - half) * f - 0.5)) - 1
    b = int(math.ceil((hi + half) * f - 0.5)) + 1
    return max(a, 0), min(b, f - 1)


@jit
def _overlaps(lo, hi, half, f, out):
    """1-D overlaps of ``[lo, hi]`` with the priors of the cells that can touch it: ``out[j - j0]``; returns
    ``(j0, j1, best, j_best)`` with the first cell of the largest overlap."""
    j0, j1 = _cell_range(lo, hi, half, f)
    best = -1.0
    jb = j0
    for j in range(j0, j1 + 1):
        o = _overlap_1d(lo, hi, (j + 0.5) / f, half)
        out[j - j0] = o
        if o > best:
            best = o
            jb = j
    return j0, j1, best, jb


@jit
def _match_one(b, o, threshold, grid_sizes, layer_offset, layer_shapes, shape_w, shape_h, shape_layer, shape_slot,
               owner, owner_iou, touched, nt, ox, oy):
    """Best IoU and best prior (lowest index among equal IoUs) of object ``o``, and offer ``o`` to every prior of
    IoU ``>= threshold`` (a prior keeps the highest IoU, the earlier object on ties). IoU of a prior at cell
    (i, j) is ``ox[j] oy[i] / (area + pw ph - ox[j] oy[i])`` for positive overlaps: monotone in each overlap, so
    the best cell is the best column times the best row. Returns ``(best_iou, best_prior, nt)``."""
    area = (b[2] - b[0]) * (b[3] - b[1])
    best = -1.0
    best_p = -1
    for s in range(shape_w.shape[0]):
        k = shape_layer[s]
        f = grid_sizes[k]
        pw = shape_w[s]
        ph = shape_h[s]
        pa = pw * ph
        j0, j1, bx, jb = _overlaps(b[0], b[2], 0.5 * pw, f, ox)
        i0, i1, by, ib = _overlaps(b[1], b[3], 0.5 * ph, f, oy)
        v = 0.0
        if bx > 0.0 and by > 0.0:
            inter = bx * by
            v = inter / (area + pa - inter)
        p = layer_offset[k] + (ib * f + jb) * layer_shapes[k] + shape_slot[s]
        if v > best or (v == best and p < best_p):
            best = v
            best_p = p
        if v < threshold:
            continue
        for i in range(i0, i1 + 1):
            oyi = oy[i - i0]
            if oyi <= 0.0:
                continue
            for j in range(j0, j1 + 1):
                oxj = ox[j - j0]
                if oxj <= 0.0:
                    continue
                inter = oxj * oyi
                u = inter / (area + pa - inter)
                if u < threshold:
                    continue
                q = layer_offset[k] + (i * f + j) * layer_shapes[k] + shape_slot[s]
                if owner[q] < 0:
                    touched[nt] = q
                    nt += 1
                    owner[q] = o
                    owner_iou[q] = u
                elif u > owner_iou[q]:
                    owner[q] = o
                    owner_iou[q] = u
    return best, best_p, nt


@jit
def ssd_match_image_groups(boxes, starts, grid_sizes, layer_offset, layer_shapes, shape_w, shape_h, shape_layer,
                           shape_slot, threshold, n_priors):
    """SSD matching (ssd.pytorch ``match``) of every image's boxes to the default boxes, without the P x M matrix.

    Args:
        boxes: float64[M, 4] normalised ``(x1, y1, x2, y2)`` with positive sides, grouped by image.
        starts: int64[I + 1] — image ``i`` owns rows ``starts[i]:starts[i+1]``.
        grid_sizes, layer_offset, layer_shapes: int64[L] — grid side, first prior index and priors per cell of
            every layer (prior index = offset + (row * f + col) * shapes + slot, the SSD order).
        shape_w, shape_h: float64[S] prior sizes; shape_layer, shape_slot: int64[S] their layer and slot.
        threshold: IoU at which a prior becomes positive (``>=``, as ``conf[overlap < threshold] = 0``).
        n_priors: total number of priors.

    Priors are unclipped, centred at ``((j + .5)/f, (i + .5)/f)``; IoU = ``inter / (area + pw ph - inter)``.
    Rules (ssd.pytorch): every prior goes to the object of highest IoU (ties: the lower object index); then every
    object, in order, takes its own best prior (ties: the lowest prior index), a later object overriding an
    earlier one that wanted the same prior. A prior is positive when it is forced or its IoU ``>= threshold``.

    Returns:
        ``(best_iou float64[M], positives int64[M])``.
    """
    m = boxes.shape[0]
    best_iou = np.zeros(m, np.float64)
    positives = np.zeros(m, np.int64)
    owner = np.full(n_priors, -1, np.int64)  # prior -> object (within the current image), reset after each image
    owner_iou = np.zeros(n_priors, np.float64)
    touched = np.empty(n_priors, np.int64)  # priors offered an object in the current image
    fmax = 1
    for k in range(grid_sizes.shape[0]):
        fmax = max(fmax, grid_sizes[k])
    ox = np.empty(fmax, np.float64)
    oy = np.empty(fmax, np.float64)
    for im in range(starts.shape[0] - 1):
        a = starts[im]
        z = starts[im + 1]
        forced = np.empty(z - a, np.int64)
        nt = 0
        for o in range(a, z):
            bv, bp, nt = _match_one(boxes[o], o, threshold, grid_sizes, layer_offset, layer_shapes, shape_w, shape_h,
                                    shape_layer, shape_slot, owner, owner_iou, touched, nt, ox, oy)
            best_iou[o] = bv
            forced[o - a] = bp
        for o in range(a, z):  # forced best priors, later objects override earlier ones
            p = forced[o - a]
            if owner[p] < 0:
                touched[nt] = p
                nt += 1
            owner[p] = o
            owner_iou[p] = 2.0
        for t in range(nt):
            p = touched[t]
            if owner_iou[p] >= threshold:
                positives[owner[p]] += 1
            owner[p] = -1
            owner_iou[p] = 0.0
    return best_iou, positives


@jit
def detection_overlaps(gt_boxes, gt_class, gt_difficult, gt_start, det_boxes, det_class, det_score, det_start,
                       match_iou, min_score, near_threshold):
    """Per-image overlaps of one detector's boxes with the annotations (VOC '+1' IoU), for the label-error ranks.

    Args:
        gt_boxes: float64[M, 4], gt_class: int64[M], gt_difficult: bool[M], grouped by image (``gt_start[I+1]``).
        det_boxes: float64[N, 4], det_class: int64[N], det_score: float64[N], grouped by image (``det_start``).
        match_iou: the IoU of a match (devkit: 0.5, ``>=``).
        min_score: the score of a confident detection.
        near_threshold: the IoU at which a detection "comes near" an annotation (``>=``).

    Returns (per detection): ``any_iou`` best IoU with a non-difficult annotation of any class, ``dont_care_iou``
    best IoU with a difficult one, ``same_iou``/``same_gt`` best IoU with a non-difficult annotation of its class
    and that annotation (-1: none; ties: the first). Per annotation: ``same_score`` best score of a same-class
    detection with IoU >= match_iou, ``other_score``/``other_class`` best score (and its class) of a confident
    other-class detection with IoU >= match_iou that matches no annotation of its own class, ``near_iou`` best IoU
    with any detection, ``near_score`` best score of a detection of any class with IoU >= near_threshold,
    ``near_same_score`` best score of a detection of its class with IoU >= near_threshold.
    """
    n = det_boxes.shape[0]
    m = gt_boxes.shape[0]
    any_iou = np.zeros(n, np.float64)
    dont_care_iou = np.zeros(n, np.float64)
    same_iou = np.zeros(n, np.float64)
    same_gt = np.full(n, -1, np.int64)
    same_score = np.zeros(m, np.float64)
    other_score = np.zeros(m, np.float64)
    other_class = np.full(m, -1, np.int64)
    near_iou = np.zeros(m, np.float64)
    near_score = np.zeros(m, np.float64)
    near_same_score = np.zeros(m, np.float64)
    for im in range(gt_start.shape[0] - 1):
        for d in range(det_start[im], det_start[im + 1]):
            db = det_boxes[d]
            for g in range(gt_start[im], gt_start[im + 1]):
                gb = gt_boxes[g]
                v = iou_pair(db[0], db[1], db[2], db[3], gb[0], gb[1], gb[2], gb[3], 1.0)
                if v > near_iou[g]:
                    near_iou[g] = v
                if v >= near_threshold and det_score[d] > near_score[g]:
                    near_score[g] = det_score[d]
                if v >= near_threshold and gt_class[g] == det_class[d] and det_score[d] > near_same_score[g]:
                    near_same_score[g] = det_score[d]
                if gt_difficult[g]:
                    dont_care_iou[d] = max(dont_care_iou[d], v)
                    continue
                any_iou[d] = max(any_iou[d], v)
                if gt_class[g] == det_class[d]:
                    if v > same_iou[d]:
                        same_iou[d] = v
                        same_gt[d] = g
                    if v >= match_iou and det_score[d] > same_score[g]:
                        same_score[g] = det_score[d]
        for d in range(det_start[im], det_start[im + 1]):  # second pass: needs same_iou of every detection
            if det_score[d] < min_score or same_iou[d] >= match_iou:
                continue
            db = det_boxes[d]
            for g in range(gt_start[im], gt_start[im + 1]):
                if gt_difficult[g] or gt_class[g] == det_class[d] or det_score[d] <= other_score[g]:
                    continue
                gb = gt_boxes[g]
                if iou_pair(db[0], db[1], db[2], db[3], gb[0], gb[1], gb[2], gb[3], 1.0) >= match_iou:
                    other_score[g] = det_score[d]
                    other_class[g] = det_class[d]
    return (any_iou, dont_care_iou, same_iou, same_gt, same_score, other_score, other_class, near_iou, near_score,
            near_same_score)


@jit
def near_duplicate_pairs(boxes, starts, threshold):
    """Pairs of boxes in the same group (one image and class) with VOC '+1' IoU ``> threshold``.

    Args:
        boxes: float64[M, 4] sorted by group; starts: int64[G + 1] group bounds; threshold: IoU, ``>``.

    Returns:
        ``(first int64[P], second int64[P], iou float64[P])`` — row indices (``first < second``) in group order.
    """
    n = 0
    for pass_ in range(2):
        if pass_ == 1:
            first = np.empty(n, np.int64)
            second = np.empty(n, np.int64)
            iou = np.empty(n, np.float64)
            n = 0
        for gi in range(starts.shape[0] - 1):
            for a in range(starts[gi], starts[gi + 1]):
                ba = boxes[a]
                for b in range(a + 1, starts[gi + 1]):
                    bb = boxes[b]
                    v = iou_pair(ba[0], ba[1], ba[2], ba[3], bb[0], bb[1], bb[2], bb[3], 1.0)
                    if v > threshold:
                        if pass_ == 1:
                            first[n] = a
                            second[n] = b
                            iou[n] = v
                        n += 1
    return first, second, iou
