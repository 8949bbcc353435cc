"""The VOC scoring engine in plain numpy: grouping, devkit matching, precision/recall curves, VOC07 and VOC12 AP.

Exactly equal (bit for bit) to the Numba kernels of :mod:`vocbench.eval._kernels` — same orders, same tie
breaking, the same float operations in the same order — and used by :func:`vocbench.eval.evaluate` for the VOC
metrics, so that scoring a detection set loads no Numba (start-up: importing Numba and loading its cached kernels
costs about half a second, more than the whole VOC pass). Layout and outcome codes are those of ``_kernels.py``.

Why matching vectorises: the best GT of a detection (highest '+1' IoU in its class and image, the first on ties)
does not depend on what was matched before — the devkit never falls back to another GT. So every detection
takes its best GT at once; it is a TP iff that IoU passes the threshold, the GT is not difficult and it is the
*first* detection (descending score, stable) whose best GT it is; later ones are duplicates, hits on a difficult
GT are ignored, the rest are false positives.
"""

from __future__ import annotations

import numpy as np

from vocbench.eval.outcomes import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP

__all__ = ["group_by_key", "argsort_desc_stable", "stable_partition", "match_voc", "pr_curve", "ap_voc07",
           "ap_voc12", "best_f1"]


# ----------------------------------------------------------------------------------------------- grouping
def _offsets(keys: np.ndarray, num_keys: int) -> np.ndarray:
    offsets = np.zeros(num_keys + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=num_keys), out=offsets[1:])
    return offsets


def _radix_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative int64 ``keys``: LSD radix in 16-bit digits (numpy's stable sort of uint16
    is a counting sort), skipping digits that every key shares; timsort beyond 2**48."""
    n = keys.shape[0]
    if n == 0:
        return np.arange(0)
    top = int(keys.max())
    if top >= 1 << 48:
        return np.argsort(keys, kind="stable")
    cur = np.arange(n)
    shift = 0
    while shift == 0 or top >> shift:
        digit = ((keys[cur] >> shift) & 0xFFFF).astype(np.uint16)
        if not (digit == digit[0]).all():
            cur = cur[np.argsort(digit, kind="stable")]
        shift += 16
    return cur


def stable_partition(order: np.ndarray, keys: np.ndarray, num_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``order`` stably sorted by ``keys[row]`` (int64 in ``[0, num_keys)``) and the key offsets."""
    k = keys[order]
    return order[_radix_argsort(k)], _offsets(k, num_keys)


def group_by_key(keys: np.ndarray, num_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of ``keys``: ``(order, offsets)`` as in :func:`stable_partition`."""
    return _radix_argsort(keys).astype(np.int64, copy=False), _offsets(keys, num_keys)


def argsort_desc_stable(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows of ``order`` by descending ``values[row]``, ties in their order in ``order``; ``-0.0`` equals ``0.0``.
    The radix sort of the kernel: IEEE-754 bits mapped to ascending unsigned keys, four 16-bit digits.
    ``values`` must not hold NaN."""
    n = order.shape[0]
    if n == 0:
        return order.copy()
    bits = (values[order] + 0.0).view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    keys = ~np.where(bits & sign, ~bits, bits | sign)  # ascending keys = descending values
    cur = np.arange(n)
    for shift in (0, 16, 32, 48):
        digit = ((keys[cur] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.uint16)
        if not (digit == digit[0]).all():
            cur = cur[np.argsort(digit, kind="stable")]
    return order[cur]


# ----------------------------------------------------------------------------------------------- VOC matching
def _pair_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of aligned boxes with the float operations of ``boxes._kernels.iou_pair`` (offset 1, '+1' pixels)."""
    ax1, ay1, ax2, ay2 = det[:, 0], det[:, 1], det[:, 2], det[:, 3]
    bx1, by1, bx2, by2 = gt[:, 0], gt[:, 1], gt[:, 2], gt[:, 3]
    with np.errstate(invalid="ignore", over="ignore"):  # coordinates near 1e308 overflow, as in the kernel
        area_a = (ax2 - ax1 + 1.0) * (ay2 - ay1 + 1.0)
        area_b = (bx2 - bx1 + 1.0) * (by2 - by1 + 1.0)
        iw = np.minimum(ax2, bx2) - np.maximum(ax1, bx1) + 1.0
        ih = np.minimum(ay2, by2) - np.maximum(ay1, by1) + 1.0
        inter = iw * ih
        union = area_a + area_b - inter
        zero = (iw <= 0.0) | (ih <= 0.0) | (union <= 0.0)  # the kernel's early returns
        iou = np.where(zero, 0.0, inter / np.where(zero, 1.0, union))
    return np.where(np.isnan(iou), -1.0, iou)  # a NaN IoU (inf / inf) never wins, as `ov > best` in the kernel


def match_voc(group_order: np.ndarray, group_offsets: np.ndarray, det_boxes: np.ndarray, gt_offsets: np.ndarray,
              gt_boxes: np.ndarray, gt_difficult: np.ndarray, iou_threshold: float,
              inclusive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Greedy VOC matching of every (class, image) group: ``(outcome int8[N], best_iou float64[N])`` by row,
    equal to :func:`vocbench.eval._kernels.match_voc_kernel` (same arguments)."""
    n = group_order.shape[0]
    outcome = np.full(n, OUTCOME_FP, np.int8)
    best_iou = np.zeros(n, np.float64)
    if n == 0 or gt_boxes.shape[0] == 0:
        return outcome, best_iou
    group = np.repeat(np.arange(group_offsets.shape[0] - 1), np.diff(group_offsets))  # group of each position
    g0 = gt_offsets[group]
    cnt = gt_offsets[group + 1] - g0  # GT in the detection's group
    has = np.flatnonzero(cnt)  # positions with a candidate (the others stay FP with IoU 0)
    if has.size == 0:
        return outcome, best_iou
    cnt_h = cnt[has]
    seg = np.zeros(has.size, np.int64)  # first pair of each position
    np.cumsum(cnt_h[:-1], out=seg[1:])
    pair_pos = np.repeat(np.arange(has.size), cnt_h)
    gt_of_pair = np.repeat(g0[has] - seg, cnt_h) + np.arange(pair_pos.size)
    rows = group_order[has]
    iou = _pair_iou(det_boxes[rows][pair_pos], gt_boxes[gt_of_pair])
    best = np.maximum.reduceat(iou, seg)  # >= -1.0, the kernel's start value
    at_best = np.flatnonzero(iou == best[pair_pos])
    first = at_best[np.concatenate(([True], pair_pos[at_best[1:]] != pair_pos[at_best[:-1]]))]
    jbest = gt_of_pair[first]  # first GT of largest IoU, one per position of `has`
    best_iou[rows] = best
    passed = (best >= iou_threshold) if inclusive else (best > iou_threshold)
    difficult = gt_difficult[jbest]
    out = np.where(passed & difficult, np.int8(OUTCOME_IGNORED), np.int8(OUTCOME_FP))
    claim = np.flatnonzero(passed & ~difficult)  # in position order: within a group, descending score
    if claim.size:
        jc = jbest[claim]
        by_gt = _radix_argsort(jc)  # stable: the first claim of each GT comes first (np.unique: numpy.ma import)
        sorted_gt = jc[by_gt]
        first_claim = by_gt[np.concatenate(([True], sorted_gt[1:] != sorted_gt[:-1]))]
        out[claim] = OUTCOME_DUPLICATE
        out[claim[first_claim]] = OUTCOME_TP
    outcome[rows] = out
    return outcome, best_iou


# ----------------------------------------------------------------------------------------------- curves and AP
def pr_curve(outcome: np.ndarray, class_order: np.ndarray, class_offsets: np.ndarray, scores: np.ndarray,
             npos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision/recall after each counted detection of each class; equal to
    :func:`vocbench.eval._kernels.pr_curve_kernel` (same arguments and returns)."""
    nclass = class_offsets.shape[0] - 1
    o = outcome[class_order].astype(np.int64)
    cls = np.repeat(np.arange(nclass), np.diff(class_offsets))
    counts = np.bincount(cls * 4 + o, minlength=4 * nclass).reshape(nclass, 4).astype(np.int64)
    curve_offsets = np.zeros(nclass + 1, np.int64)
    np.cumsum(np.diff(class_offsets) - counts[:, OUTCOME_IGNORED], out=curve_offsets[1:])
    keep = o != OUTCOME_IGNORED
    kc = cls[keep]
    tp_all = np.cumsum(o[keep] == OUTCOME_TP)
    base = np.concatenate(([0], tp_all))[curve_offsets[:-1]]  # TPs before each class
    tp = tp_all - base[kc]
    seen = np.arange(1, kc.size + 1) - curve_offsets[:-1][kc]  # tp + fp
    precision = tp / seen
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(npos[kc] > 0, tp / np.maximum(npos[kc], 1), np.nan)
    return curve_offsets, precision, recall, scores[class_order[keep]], counts


def ap_voc07(curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, npos: np.ndarray,
             thresholds: np.ndarray) -> np.ndarray:
    """VOC07 11-point AP per class; equal to :func:`vocbench.eval._kernels.ap_voc07_kernel` (the terms summed in
    threshold order, then divided by their number; the recall pointer only moves forward)."""
    nclass = curve_offsets.shape[0] - 1
    nt = thresholds.shape[0]
    out = np.empty(nclass, np.float64)
    for c in range(nclass):
        if npos[c] == 0:
            out[c] = np.nan
            continue
        a, b = int(curve_offsets[c]), int(curve_offsets[c + 1])
        total = 0.0
        if b > a:
            env = np.maximum.accumulate(precision[a:b][::-1])[::-1]
            at = np.maximum.accumulate(np.searchsorted(recall[a:b], thresholds, side="left"))
            for v in env[at[at < b - a]].tolist():
                total += v
        out[c] = total / nt
    return out


def ap_voc12(curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, npos: np.ndarray) -> np.ndarray:
    """VOC12 all-point AP per class; equal to :func:`vocbench.eval._kernels.ap_voc12_kernel`
    (``all_point_area``: envelope, then ``(r[i+1] - r[i]) * p_env[i+1]`` summed in order where recall changes)."""
    nclass = curve_offsets.shape[0] - 1
    out = np.empty(nclass, np.float64)
    for c in range(nclass):
        if npos[c] == 0:
            out[c] = np.nan
            continue
        a, b = int(curve_offsets[c]), int(curve_offsets[c + 1])
        mrec = np.concatenate(([0.0], recall[a:b], [1.0]))
        mpre = np.concatenate(([0.0], precision[a:b], [0.0]))
        env = np.maximum.accumulate(mpre[::-1])[::-1]
        step = mrec[1:] != mrec[:-1]
        terms = (mrec[1:] - mrec[:-1])[step] * env[1:][step]
        out[c] = np.add.accumulate(np.concatenate(([0.0], terms)))[-1]  # sequential, as the kernel's loop
    return out


def best_f1(curve_offsets: np.ndarray, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray,
            npos: np.ndarray) -> np.ndarray:
    """Per class the F1-maximising score threshold; equal to :func:`vocbench.eval._kernels.best_f1_kernel`."""
    nclass = curve_offsets.shape[0] - 1
    out = np.full((nclass, 4), np.nan)
    for c in range(nclass):
        a, b = int(curve_offsets[c]), int(curve_offsets[c + 1])
        if npos[c] == 0 or b == a:
            continue
        s, p, r = scores[a:b], precision[a:b], recall[a:b]
        cut = np.flatnonzero(np.concatenate((s[1:] != s[:-1], [True])))  # last point of each run of tied scores
        pc, rc = p[cut], r[cut]
        den = pc + rc
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(den > 0.0, 2.0 * pc * rc / np.where(den > 0.0, den, 1.0), 0.0)
        j = int(np.argmax(f1))
        i = int(cut[j])
        out[c] = (s[i], p[i], r[i], f1[j])
    return out
