"""Slow, obviously-correct twins of the anchor kernels (plain Python / plain numpy)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["wh_iou_slow", "lloyd_slow", "ratio_metric_slow", "ssd_boxes_slow", "positioned_best_iou_slow",
           "box_iou_slow"]


def wh_iou_slow(a, b) -> np.ndarray:
    """IoU of (w, h) pairs, both boxes placed with their centre at the origin, by explicit interval overlap."""
    out = np.zeros((len(a), len(b)))
    for i, (w1, h1) in enumerate(a):
        for j, (w2, h2) in enumerate(b):
            ox = max(0.0, min(w1 / 2, w2 / 2) - max(-w1 / 2, -w2 / 2))
            oy = max(0.0, min(h1 / 2, h2 / 2) - max(-h1 / 2, -h2 / 2))
            inter = ox * oy
            out[i, j] = inter / (w1 * h1 + w2 * h2 - inter)
    return out


def _iou_matrix(wh, c):
    inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
    return inter / (wh[:, 0, None] * wh[:, 1, None] + c[None, :, 0] * c[None, :, 1] - inter)


def lloyd_slow(wh, init, max_iter=300, median=False):
    """Plain Lloyd with d = 1 - IoU: assign (argmax IoU, first index on ties), mean/median update, empty clusters
    re-seeded at the box with the lowest IoU (first index), stop when no label changes.

    Returns ``(centers, labels, iou, mean_iou, converged)``.
    """
    wh = np.asarray(wh, np.float64)
    c = np.array(init, np.float64)
    prev = None
    n_iter = 0
    while True:
        m = _iou_matrix(wh, c)
        labels = np.argmax(m, axis=1)
        best = m[np.arange(len(wh)), labels]
        if prev is not None and np.array_equal(labels, prev):
            return c, labels, best, float(best.sum() / len(wh)), True
        if n_iter >= max_iter:
            return c, labels, best, float(best.sum() / len(wh)), False
        best = best.copy()
        counts = np.bincount(labels, minlength=len(c))
        for j in range(len(c)):
            if counts[j]:
                members = wh[labels == j]
                if median:
                    c[j] = np.median(members, axis=0)
                else:
                    s0 = 0.0
                    s1 = 0.0
                    for w, h in members:  # sequential sums, the definition
                        s0 += w
                        s1 += h
                    c[j] = (s0 / counts[j], s1 / counts[j])
        reseeded = False
        for j in range(len(c)):
            if counts[j] == 0:
                worst = int(np.argmin(best))
                c[j] = wh[worst]
                best[worst] = 2.0
                reseeded = True
        prev = None if reseeded else labels
        n_iter += 1


def ratio_metric_slow(wh, priors) -> np.ndarray:
    return np.array([max(min(w / pw, pw / w, h / ph, ph / h) for pw, ph in priors) for w, h in wh])


def ssd_boxes_slow(feature_sizes, s_min, s_max, ratios_per_layer, s_last=None, reduce_first=False):
    """Default boxes written straight from the SSD paper, one at a time, (cx, cy, w, h)."""
    m = len(feature_sizes)
    s = [s_min + (s_max - s_min) * (k - 1) / (m - 1) for k in range(1, m + 2)]
    if s_last is not None:
        s[m] = s_last
    out = []
    for k, f in enumerate(feature_sizes):
        for i in range(f):
            for j in range(f):
                cx, cy = (j + 0.5) / f, (i + 0.5) / f
                if reduce_first and k == 0:
                    cell = [(0.1, 0.1), (s[0] * math.sqrt(2), s[0] / math.sqrt(2)),
                            (s[0] / math.sqrt(2), s[0] * math.sqrt(2))]
                else:
                    cell = [(s[k], s[k]), (math.sqrt(s[k] * s[k + 1]),) * 2]
                    for r in ratios_per_layer[k]:
                        cell += [(s[k] * math.sqrt(r), s[k] / math.sqrt(r)), (s[k] / math.sqrt(r), s[k] * math.sqrt(r))]
                out += [(cx, cy, w, h) for w, h in cell]
    return np.array(out)


def box_iou_slow(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def positioned_best_iou_slow(boxes, priors_cxcywh) -> np.ndarray:
    """Best IoU of every box (x1, y1, x2, y2) against every prior, vectorised over priors only."""
    p = np.asarray(priors_cxcywh)
    px1, py1 = p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2
    px2, py2 = p[:, 0] + p[:, 2] / 2, p[:, 1] + p[:, 3] / 2
    out = []
    for x1, y1, x2, y2 in boxes:
        ix = np.clip(np.minimum(x2, px2) - np.maximum(x1, px1), 0, None)
        iy = np.clip(np.minimum(y2, py2) - np.maximum(y1, py1), 0, None)
        inter = ix * iy
        out.append(np.max(inter / ((x2 - x1) * (y2 - y1) + p[:, 2] * p[:, 3] - inter)))
    return np.array(out)


def lloyd_numpy(wh, init, max_iter=300):
    """The plain numpy peer: vectorised (N, K) IoU matrix per iteration, ``np.bincount`` means, same stopping
    and re-seeding rules as :func:`lloyd_slow`. Returns ``(centers, labels, iou, mean_iou)``."""
    wh = np.asarray(wh, np.float64)
    c = np.array(init, np.float64)
    prev = None
    for _ in range(max_iter + 1):
        m = _iou_matrix(wh, c)
        labels = np.argmax(m, axis=1)
        best = m[np.arange(len(wh)), labels]
        if prev is not None and np.array_equal(labels, prev):
            break
        counts = np.bincount(labels, minlength=len(c))
        sw = np.bincount(labels, weights=wh[:, 0], minlength=len(c))
        sh = np.bincount(labels, weights=wh[:, 1], minlength=len(c))
        nz = counts > 0
        c[nz, 0] = sw[nz] / counts[nz]
        c[nz, 1] = sh[nz] / counts[nz]
        prev = labels
        for j in np.flatnonzero(~nz):
            worst = int(np.argmin(best))
            c[j] = wh[worst]
            best[worst] = 2.0
            prev = None
    return c, labels, best, float(best.mean())


def curve_numpy(wh, ks, n_init=5, random_state=0, max_iter=300):
    """The whole mean-IoU curve with :func:`lloyd_numpy`, same starts as ``vocbench.anchors.iou_kmeans_curve``
    (random starts seeded by ``(random_state, k)`` plus the warm start from the previous k).
    Returns ``[(k, centers sorted by area, mean_iou)]``."""
    wh = np.asarray(wh, np.float64)
    out, prev = [], None
    for k in sorted(set(ks)):
        rng = np.random.default_rng([int(random_state), k])
        n_random = n_init - 1 if prev is not None else n_init
        starts = [wh[rng.choice(len(wh), k, replace=False)].copy() for _ in range(n_random)]
        if prev is not None:
            c = prev.copy()
            best = _iou_matrix(wh, c).max(axis=1)
            while len(c) < k:
                i = int(np.argmin(best))
                c = np.vstack([c, wh[i:i + 1]])
                best = np.maximum(best, _iou_matrix(wh, wh[i:i + 1])[:, 0])
            starts.insert(0, c)
        runs = [lloyd_numpy(wh, s, max_iter) for s in starts]
        c, _, _, mean = max(runs, key=lambda r: r[3])
        if prev is not None and mean < out[-1][2]:
            c, mean = starts[0], float(_iou_matrix(wh, starts[0]).max(axis=1).mean())
        c = c[np.argsort(c[:, 0] * c[:, 1], kind="stable")]
        out.append((k, c, mean))
        prev = c
    return out
