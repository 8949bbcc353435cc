"""Numba kernels of the image bootstrap. Arrays and scalars only (STYLE.md §1).

A bootstrap replicate is a vector of image multiplicities ``w`` (int32[I], summing to I). Matching never crosses
images, so a replicate is scored from the detections matched once on the original set: every detection counts
``w[image]`` times, every positive ``w[image]`` times. Only the points where a run of true positives ends can set
an AP (precision rises along true positives and falls along false positives; recall only moves at true positives),
so each class's curve is reduced to those points with weighted counts; the AP formulas then read them exactly as
the evaluator's kernels read the full curve (same floating-point expressions for precision, recall and the recall
thresholds).

Inputs shared by the kernels:

* ``weights``: int32[B, I] multiplicities of B replicates.
* A per-class segment of counted detections in the evaluator's order: ``det_image`` int64 (image of each entry)
  with the outcomes as runs (VOC) or per-threshold bit masks (COCO); ignored detections are left out, and entries
  after a class's last true positive are dropped beforehand (they never touch an AP).
* Positives in CSR form per class: ``pos_offsets`` int64[C + 1], ``pos_image`` int64, ``pos_count`` int64.
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit

__all__ = ["voc_bootstrap_kernel", "coco_bootstrap_kernel", "weights_from_draws_kernel"]


@jit
def weights_from_draws_kernel(draws, num_images):
    """int32[B, I] multiplicities from int64[B, I] drawn image indices (a per-row bincount)."""
    b = draws.shape[0]
    out = np.zeros((b, num_images), np.int32)
    for r in range(b):
        for j in range(draws.shape[1]):
            out[r, draws[r, j]] += 1
    return out


@jit
def _weighted_positives(w, pos_offsets, pos_image, pos_count, c):
    total = 0
    for q in range(pos_offsets[c], pos_offsets[c + 1]):
        total += w[pos_image[q]] * pos_count[q]
    return total


@jit
def _smallest_count(npos, t):
    """Smallest integer k in [0, npos] with ``k / npos >= t`` (the evaluators' float comparison)."""
    k = int(np.ceil(t * npos))
    if k < 0:
        k = 0
    if k > npos:
        k = npos
    while k > 0 and (k - 1) / npos >= t:
        k -= 1
    while k < npos and not (k / npos >= t):
        k += 1
    return k


@jit
def voc_bootstrap_kernel(weights, class_runs, run_offsets, run_is_tp, det_image, pos_offsets, pos_image, pos_count,
                         thresholds07):
    """VOC07 11-point and VOC12 all-point AP per replicate and class.

    A class's counted detections (descending score, stable) are given as alternating runs of true and of false
    positives: a run only adds its weight, so each is one gather-sum; a false-positive run of non-zero weight ends
    the open run of true positives (a run of weight 0 vanishes, as its images are not drawn).

    Args:
        weights: int32[B, I] image multiplicities.
        class_runs: int64[C + 1] class segments of the runs.
        run_offsets: int64[U + 1] entry segments of the runs. run_is_tp: uint8[U].
        det_image: int64[N'] image of each counted detection (ignored ones left out, trailing FPs dropped).
        pos_offsets, pos_image, pos_count: non-difficult GT per (class, image), CSR by class.
        thresholds07: float64[11] the protocol's VOC07 recall thresholds.

    Returns:
        ap07 float64[B, C], ap12 float64[B, C] (NaN where the replicate has no positive of the class),
        npos int64[B, C] weighted positives.
    """
    nb = weights.shape[0]
    nc = class_runs.shape[0] - 1
    nt = thresholds07.shape[0]
    ap07 = np.empty((nb, nc), np.float64)
    ap12 = np.empty((nb, nc), np.float64)
    npos_out = np.empty((nb, nc), np.int64)
    longest = 1
    for c in range(nc):
        longest = max(longest, class_runs[c + 1] - class_runs[c] + 1)
    run_tp = np.empty(longest, np.int64)
    run_fp = np.empty(longest, np.int64)
    run_pr = np.empty(longest, np.float64)
    for b in range(nb):
        w = weights[b]
        for c in range(nc):
            npos = _weighted_positives(w, pos_offsets, pos_image, pos_count, c)
            npos_out[b, c] = npos
            if npos == 0:
                ap07[b, c] = np.nan
                ap12[b, c] = np.nan
                continue
            tp = 0
            fp = 0
            nruns = 0
            last_tp = False
            for u in range(class_runs[c], class_runs[c + 1]):
                tot = 0
                for q in range(run_offsets[u], run_offsets[u + 1]):
                    tot += w[det_image[q]]
                if tot == 0:
                    continue
                if run_is_tp[u]:
                    tp += tot
                    last_tp = True
                else:
                    if last_tp:
                        run_tp[nruns] = tp
                        run_fp[nruns] = fp
                        nruns += 1
                        last_tp = False
                    fp += tot
            if last_tp:
                run_tp[nruns] = tp
                run_fp[nruns] = fp
                nruns += 1
            for i in range(nruns):
                run_pr[i] = run_tp[i] / (run_tp[i] + run_fp[i])
            for i in range(nruns - 2, -1, -1):  # suffix maximum = the precision envelope at each run end
                if run_pr[i + 1] > run_pr[i]:
                    run_pr[i] = run_pr[i + 1]
            # VOC12: area under the envelope; recall only moves along runs of true positives
            area = 0.0
            prev = 0.0
            for i in range(nruns):
                r = run_tp[i] / npos
                area += (r - prev) * run_pr[i]
                prev = r
            ap12[b, c] = area
            # VOC07: the envelope at the first point whose recall reaches t (a point of that TP run has the same
            # envelope as its end; t = 0 reads the first point, whose envelope is the overall maximum)
            total = 0.0
            i = 0
            for ti in range(nt):
                k = max(_smallest_count(npos, thresholds07[ti]), 1)
                while i < nruns and run_tp[i] < k:
                    i += 1
                if i < nruns:
                    total += run_pr[i]
            ap07[b, c] = total / nt
    return ap07, ap12, npos_out


@jit
def _coco_step(e, wv, kind, tp_mask, counted_mask, nt, g, last, tp, fpx, nruns, run_tp, run_fp):
    """One entry of :func:`coco_bootstrap_kernel`'s fused pass with weight ``wv``; returns the new ``(g, last)``.

    ``g``: weighted count of entries that are false positives at every threshold (shared by all thresholds);
    ``fpx[t]``: the other false positives of threshold ``t``; ``last``: bit ``t`` set while threshold ``t`` is in
    a run of true positives."""
    if kind[e] == 1:  # a false positive everywhere: ends every open run, then counts once for all thresholds
        while last != 0:
            t = 0
            while not (last >> t) & 1:
                t += 1
            run_tp[t, nruns[t]] = tp[t]
            run_fp[t, nruns[t]] = g + fpx[t]
            nruns[t] += 1
            last &= ~(1 << t)
        return g + wv, last
    tpm = np.int64(tp_mask[e])
    cm = np.int64(counted_mask[e])
    for t in range(nt):
        if (cm >> t) & 1:
            if (tpm >> t) & 1:
                tp[t] += wv
                last |= 1 << t
            else:
                if (last >> t) & 1:
                    run_tp[t, nruns[t]] = tp[t]
                    run_fp[t, nruns[t]] = g + fpx[t]
                    nruns[t] += 1
                    last &= ~(1 << t)
                fpx[t] += wv
    return g, last


@jit
def coco_bootstrap_kernel(weights, class_offsets, det_image, kind, tp_mask, counted_mask, det_block, fp_run_end,
                          num_thresholds, pos_offsets, pos_image, pos_count, rec_thresholds):
    """COCO AP@[.5:.95] (all areas, 100 detections per image and class) per replicate and class.

    pycocotools' ``accumulate`` on weighted counts: precision ``tp / (fp + tp + eps)``, its right-to-left running
    maximum read at the first point whose recall ``tp / npig`` reaches each of the 101 recall thresholds, averaged
    over recall and IoU thresholds. One pass per class serves every IoU threshold: an entry holds bit masks of the
    thresholds where it is a true positive and where it counts (not ignored); entries that are false positives at
    every threshold (most of them) update one shared counter.

    Args:
        weights: int32[B, I].
        class_offsets: int64[C + 1] class segments of the entries (class order: descending score, ties by image
            then input order; the per-image 100-detection cut applied; entries after the last TP dropped).
        det_image: int64[N'] image of each entry. kind: uint8[N'] (1 = false positive at every threshold).
        tp_mask, counted_mask: uint16[N'] bit ``t`` for IoU threshold ``t``.
        det_block: int64[N'] length of a same-score same-image block at its first entry, 0 inside it; in a
            resampled set such a block repeats once per copy of the image, so it is replayed ``w`` times.
        fp_run_end: int64[N'] at the first of a run of entries that are false positives everywhere (outside mixed
            blocks), the index after the run; 0 elsewhere. Such a run only adds its weight to the shared counter
            (and closes the open runs of true positives if that weight is not 0): one gather-sum.
        num_thresholds: T (10).
        pos_offsets, pos_image, pos_count: non-ignored GT (all areas) per (class, image), CSR by class.
        rec_thresholds: float64[R].

    Returns:
        ap float64[B, C] (NaN where the replicate has no non-ignored GT of the class), npig int64[B, C].
    """
    nb = weights.shape[0]
    nc = class_offsets.shape[0] - 1
    nt = num_thresholds
    nr = rec_thresholds.shape[0]
    eps = np.finfo(np.float64).eps
    ap = np.empty((nb, nc), np.float64)
    npig_out = np.empty((nb, nc), np.int64)
    longest = 1
    for c in range(nc):
        longest = max(longest, class_offsets[c + 1] - class_offsets[c] + 1)
    run_tp = np.empty((nt, longest), np.int64)
    run_fp = np.empty((nt, longest), np.int64)
    run_pr = np.empty(longest, np.float64)
    tp = np.zeros(nt, np.int64)
    fpx = np.zeros(nt, np.int64)
    nruns = np.zeros(nt, np.int64)
    kthr = np.empty(nr, np.int64)
    for b in range(nb):
        w = weights[b]
        for c in range(nc):
            npg = _weighted_positives(w, pos_offsets, pos_image, pos_count, c)
            npig_out[b, c] = npg
            if npg == 0:
                ap[b, c] = np.nan
                continue
            tp[:] = 0
            fpx[:] = 0
            nruns[:] = 0
            g = 0
            last = 0
            s = class_offsets[c]
            s1 = class_offsets[c + 1]
            while s < s1:
                e_run = fp_run_end[s]
                if e_run > s:
                    tot = 0
                    for q in range(s, e_run):
                        tot += w[det_image[q]]
                    if tot > 0:
                        if last != 0:
                            g, last = _coco_step(s, 0, kind, tp_mask, counted_mask, nt, g, last, tp, fpx, nruns,
                                                 run_tp, run_fp)
                        g += tot
                    s = e_run
                    continue
                length = max(det_block[s], 1)
                wi = np.int64(w[det_image[s]])
                if wi == 0:
                    s += length
                    continue
                if length == 1 and kind[s] == 1:  # the common case, inline: a false positive everywhere
                    if last != 0:
                        g, last = _coco_step(s, wi, kind, tp_mask, counted_mask, nt, g, last, tp, fpx, nruns,
                                             run_tp, run_fp)
                    else:
                        g += wi
                elif length == 1:  # inline the general step, on bit masks (a call per entry costs more)
                    cm = np.int64(counted_mask[s])
                    tpb = cm & np.int64(tp_mask[s])
                    fpb = cm & ~tpb
                    close = last & fpb  # open runs that this false positive ends
                    while close != 0:
                        t = 0
                        while not (close >> t) & 1:
                            t += 1
                        run_tp[t, nruns[t]] = tp[t]
                        run_fp[t, nruns[t]] = g + fpx[t]
                        nruns[t] += 1
                        close &= ~(1 << t)
                    for t in range(nt):  # branch-free adds
                        tp[t] += wi * ((tpb >> t) & 1)
                        fpx[t] += wi * ((fpb >> t) & 1)
                    last = (last & ~fpb) | tpb
                elif wi == 1:
                    for e in range(s, s + length):
                        g, last = _coco_step(e, wi, kind, tp_mask, counted_mask, nt, g, last, tp, fpx, nruns,
                                             run_tp, run_fp)
                else:
                    for _ in range(wi):
                        for e in range(s, s + length):
                            g, last = _coco_step(e, 1, kind, tp_mask, counted_mask, nt, g, last, tp, fpx, nruns,
                                                 run_tp, run_fp)
                s += length
            for t in range(nt):
                if (last >> t) & 1:
                    run_tp[t, nruns[t]] = tp[t]
                    run_fp[t, nruns[t]] = g + fpx[t]
                    nruns[t] += 1
            for r in range(nr):
                kthr[r] = max(_smallest_count(npg, rec_thresholds[r]), 1)
            total = 0.0
            for t in range(nt):
                n_runs = nruns[t]
                for i in range(n_runs):
                    run_pr[i] = run_tp[t, i] / (float(run_fp[t, i]) + float(run_tp[t, i]) + eps)
                for i in range(n_runs - 2, -1, -1):
                    if run_pr[i + 1] > run_pr[i]:
                        run_pr[i] = run_pr[i + 1]
                i = 0
                for r in range(nr):
                    while i < n_runs and run_tp[t, i] < kthr[r]:
                        i += 1
                    if i >= n_runs:
                        break
                    total += run_pr[i]
            ap[b, c] = total / (nt * nr)
    return ap, npig_out
