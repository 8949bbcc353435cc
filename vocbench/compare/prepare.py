"""Once-matched inputs of the bootstrap kernels: one matching pass per model, then flat arrays.

* VOC: the evaluator's outcome codes (``evaluate`` → ``VocScores.outcome``) read in the evaluator's class order
  (:func:`vocbench.eval.matching.group_for_voc`; a sort, no re-matching).
* COCO: a thin adapter around the COCO matcher of :mod:`vocbench.eval._coco_kernels` — the same front end as
  :func:`vocbench.eval.coco.evaluate_coco` (box conversion, class order with ties by image, 100 detections per
  image and class) restricted to the area range "all", keeping the per-detection flags that ``evaluate_coco``
  does not return. Its point AP is the bootstrap kernel with every image once (equal to ``evaluate_coco``'s to 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocbench.compare._kernels import coco_bootstrap_kernel
from vocbench.eval._coco_kernels import coco_match_kernel
from vocbench.eval._kernels import (
    argsort_desc_stable,
    group_by_key,
    inverse_permutation,
    stable_partition,
)
from vocbench.eval.coco import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    COCO_REC_THRESHOLDS,
    coco_xyxy_and_area,
)
from vocbench.eval.matching import OUTCOME_IGNORED, OUTCOME_TP, group_for_voc
from vocbench.io.coco import voc_boxes_to_xywh
from vocbench.structures import Dataset, Detections

__all__ = ["VocInputs", "CocoInputs", "prepare_voc", "prepare_coco", "positives_csr"]


def positives_csr(class_index: np.ndarray, image_index: np.ndarray, counts: np.ndarray | None, num_classes: int,
                  num_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives per (class, image) in CSR form by class: ``(offsets int64[C + 1], image int64[P], count int64[P])``.

    ``counts`` None counts rows; otherwise it holds one count per (class, image) entry already."""
    key = np.asarray(class_index, np.int64) * num_images + np.asarray(image_index, np.int64)
    if counts is None:
        keys, cnt = np.unique(key, return_counts=True)
    else:
        nz = np.asarray(counts) > 0
        keys, cnt = key[nz], np.asarray(counts, np.int64)[nz]
        order = np.argsort(keys, kind="stable")
        keys, cnt = keys[order], cnt[order]
    cls = keys // num_images
    offsets = np.searchsorted(cls, np.arange(num_classes + 1), side="left").astype(np.int64)
    return offsets, (keys % num_images).astype(np.int64), cnt.astype(np.int64)


def _truncate_after_last_tp(seg_ids: np.ndarray, is_tp: np.ndarray, num_segments: int,
                            block_end: np.ndarray | None = None):
    """Keep, per segment (entries already grouped by segment), the entries up to its last true positive — up to the
    end of that entry's block when ``block_end`` (int64[N], last index of each entry's block) is given: a block is
    replayed per image copy, so its entries after a TP are not trailing.

    Returns ``(keep bool[N], offsets int64[S + 1])`` of the kept entries."""
    n = len(seg_ids)
    pos = np.arange(n)
    last = np.full(num_segments, -1, np.int64)
    if n:
        ends = pos if block_end is None else block_end
        np.maximum.at(last, seg_ids[is_tp], ends[is_tp])
    keep = pos <= last[seg_ids] if n else np.zeros(0, bool)
    counts = np.bincount(seg_ids[keep], minlength=num_segments)
    return keep, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@dataclass(frozen=True, eq=False)
class VocInputs:
    """Counted detections of one model in the evaluator's class order (ignored ones left out, trailing false
    positives dropped), as alternating runs of true and false positives: runs of class ``c`` are
    ``class_runs[c]:class_runs[c + 1]``, entries of run ``u`` are ``run_offsets[u]:run_offsets[u + 1]``."""

    class_runs: np.ndarray
    run_offsets: np.ndarray
    run_is_tp: np.ndarray
    det_image: np.ndarray
    pos_offsets: np.ndarray
    pos_image: np.ndarray
    pos_count: np.ndarray


def prepare_voc(dataset: Dataset, detections: Detections, outcome: np.ndarray) -> VocInputs:
    """Kernel inputs from the evaluator's outcome codes (int8[N] by detection row)."""
    nc, ni = dataset.num_classes, dataset.num_images
    g = group_for_voc(dataset, detections)
    rows = g.class_order
    oc = outcome[rows]
    keep = oc != OUTCOME_IGNORED
    rows, oc = rows[keep], oc[keep]
    cls = detections.class_index[rows]
    is_tp = oc == OUTCOME_TP
    kept, _ = _truncate_after_last_tp(cls, is_tp, nc)
    rows, cls, is_tp = rows[kept], cls[kept], is_tp[kept]
    n = len(rows)
    start = np.ones(n, bool)
    if n:
        start[1:] = (cls[1:] != cls[:-1]) | (is_tp[1:] != is_tp[:-1])
    starts = np.flatnonzero(start)
    run_offsets = np.append(starts, n).astype(np.int64)
    class_runs = np.searchsorted(cls[starts], np.arange(nc + 1), side="left").astype(np.int64)
    nd = ~dataset.difficult
    pos = positives_csr(dataset.class_index[nd], dataset.image_index[nd], None, nc, ni)
    return VocInputs(class_runs=class_runs, run_offsets=run_offsets, run_is_tp=is_tp[starts].astype(np.uint8),
                     det_image=np.ascontiguousarray(detections.image_index[rows]), pos_offsets=pos[0],
                     pos_image=pos[1], pos_count=pos[2])


@dataclass(frozen=True, eq=False)
class CocoInputs:
    """Counted detections of one model in COCO's class order (100 per image and class), every IoU threshold.

    Attributes:
        class_offsets, det_image, kind, tp_mask, counted_mask, det_block, fp_run_end, num_thresholds: entry arrays of
            :func:`vocbench.compare._kernels.coco_bootstrap_kernel`.
        pos_*: non-ignored GT per (class, image), CSR by class.
        ap: float — AP@[.5:.95] of the original set (``evaluate_coco``'s ``stats["AP"]`` to 1e-12).
        per_class: float64[C] — its per-class AP (NaN without non-ignored GT).
    """

    class_offsets: np.ndarray
    det_image: np.ndarray
    kind: np.ndarray
    tp_mask: np.ndarray
    counted_mask: np.ndarray
    det_block: np.ndarray
    fp_run_end: np.ndarray
    num_thresholds: int
    pos_offsets: np.ndarray
    pos_image: np.ndarray
    pos_count: np.ndarray
    ap: float
    per_class: np.ndarray


def _fp_runs(seg: np.ndarray, kind: np.ndarray, block: np.ndarray) -> np.ndarray:
    """At the first entry of each maximal run (within a segment) of entries that are false positives at every
    threshold and not in a block holding other entries, the index after the run; 0 elsewhere."""
    n = len(seg)
    out = np.zeros(n, np.int64)
    if n == 0:
        return out
    starts = np.flatnonzero(block)
    lengths = block[starts]
    block_id = np.repeat(np.arange(len(starts)), lengths)
    mixed_block = np.zeros(len(starts), bool)
    np.logical_or.at(mixed_block, block_id, kind == 0)
    simple = (kind == 1) & ~(mixed_block[block_id] & (lengths[block_id] > 1))
    run_start = simple.copy()
    run_start[1:] &= ~(simple[:-1] & (seg[1:] == seg[:-1]))
    first = np.flatnonzero(run_start)
    # a run ends where the next entry is not simple or belongs to another segment
    stop = np.ones(n, bool)
    stop[:-1] = ~simple[1:] | (seg[1:] != seg[:-1])
    last = np.flatnonzero(simple & stop)
    out[first] = last + 1
    return out


def _block_lengths(seg: np.ndarray, image: np.ndarray, score: np.ndarray) -> np.ndarray:
    """At the first entry of each run of equal (segment, image, score), the run's length; 0 inside a run."""
    n = len(seg)
    if n == 0:
        return np.zeros(0, np.int64)
    start = np.ones(n, bool)
    start[1:] = (seg[1:] != seg[:-1]) | (image[1:] != image[:-1]) | (score[1:] != score[:-1])
    starts = np.flatnonzero(start)
    out = np.zeros(n, np.int64)
    out[starts] = np.diff(np.append(starts, n))
    return out


def _outcome_masks(out, nt: int):
    """``coco_match_kernel``'s outcomes with one area range — uint64 ``counted`` and ``tp`` masks, bit ``t`` for IoU
    threshold ``t`` — as uint16 masks, by place in the class order: ``(tp_mask, counted_mask, rank, npig)``."""
    counted, tp, rank, npig = out
    full = np.uint64((1 << nt) - 1)
    counted_mask = (np.asarray(counted, np.uint64) & full).astype(np.uint16)
    tp_mask = (np.asarray(tp, np.uint64) & full).astype(np.uint16)
    return tp_mask, counted_mask, np.asarray(rank), np.asarray(npig)


def prepare_coco(dataset: Dataset, detections: Detections) -> CocoInputs:
    """Match once with the COCO kernels (area "all", 100 detections) and flatten the flags per threshold."""
    ni, nc = dataset.num_images, dataset.num_classes
    ngroups = nc * ni
    gt_rows, gt_offsets = group_by_key(dataset.class_index * ni + dataset.image_index, ngroups)
    gt_xyxy, gt_area = coco_xyxy_and_area(voc_boxes_to_xywh(dataset.boxes[gt_rows]))
    gt_crowd = np.ascontiguousarray(dataset.difficult[gt_rows])
    det_xyxy, det_area = coco_xyxy_and_area(voc_boxes_to_xywh(detections.boxes))
    by_image, _ = group_by_key(detections.image_index, ni)
    by_score = argsort_desc_stable(detections.scores, by_image)
    class_order, class_offsets = stable_partition(by_score, detections.class_index, nc)
    group_order, group_offsets = stable_partition(by_score, detections.class_index * ni + detections.image_index,
                                                  ngroups)
    flag_row = inverse_permutation(class_order)[group_order]  # group position -> place in the class order
    iou_thr = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)
    nt = len(iou_thr)
    area_all = np.array([COCO_AREA_RANGES[0]], np.float64)
    max_det = max(COCO_MAX_DETS)
    out = coco_match_kernel(gt_offsets, gt_xyxy, gt_area, gt_crowd, group_offsets, group_order, flag_row,
                            np.ascontiguousarray(detections.boxes), iou_thr, area_all, max_det, ni)
    tp_mask, counted_mask, rank, npig = _outcome_masks(out, nt)

    # non-ignored GT (area "all") per (class, image): the kernel's rule, checked against its per-class totals
    lo, hi = area_all[0]
    counted_gt = ~gt_crowd & (gt_area >= lo) & (gt_area <= hi)
    gt_key = (dataset.class_index * ni + dataset.image_index)[gt_rows]
    npig_ci = np.bincount(gt_key[counted_gt], minlength=ngroups).astype(np.int64)
    if not np.array_equal(npig_ci.reshape(nc, ni).sum(axis=1), np.asarray(npig)[:, 0]):
        raise RuntimeError("COCO adapter: per-image non-ignored GT disagree with coco_match_kernel's totals")

    # entries: class order, rank < 100, counted at some threshold, truncated after the last TP at any threshold
    sel = np.flatnonzero(rank < max_det)
    tp_mask, counted_mask = tp_mask[sel], counted_mask[sel]
    keep = counted_mask != 0
    sel, tp_mask, counted_mask = sel[keep], tp_mask[keep], counted_mask[keep]
    rows = class_order[sel]
    cls = detections.class_index[rows]
    blocks = _block_lengths(cls, detections.image_index[rows], detections.scores[rows])
    starts = np.flatnonzero(blocks)
    block_end = np.repeat(starts + blocks[starts] - 1, blocks[starts])
    kept, class_offsets_e = _truncate_after_last_tp(cls, tp_mask != 0, nc, block_end)
    rows, tp_mask, counted_mask = rows[kept], tp_mask[kept], counted_mask[kept]
    full = np.uint16((1 << nt) - 1)
    kind = ((tp_mask == 0) & (counted_mask == full)).astype(np.uint8)
    det_image = np.ascontiguousarray(detections.image_index[rows])
    det_block = _block_lengths(cls[kept], det_image, detections.scores[rows])
    fp_run_end = _fp_runs(cls[kept], kind, det_block)
    cls_idx, img_idx = np.divmod(np.arange(ngroups), ni)
    pos = positives_csr(cls_idx, img_idx, npig_ci, nc, ni)
    # the original set = the replicate with every image once: the same accumulate, summed per class
    ones = np.ones((1, ni), np.int32)
    ap_c, _ = coco_bootstrap_kernel(ones, class_offsets_e, det_image, kind, tp_mask, counted_mask, det_block,
                                    fp_run_end, nt, pos[0], pos[1], pos[2], COCO_REC_THRESHOLDS)
    per_class = ap_c[0]
    ap = float(np.nanmean(per_class)) if np.any(~np.isnan(per_class)) else float("nan")
    return CocoInputs(class_offsets=class_offsets_e, det_image=det_image, kind=kind, tp_mask=tp_mask,
                      counted_mask=counted_mask, det_block=det_block, fp_run_end=fp_run_end, num_thresholds=nt,
                      pos_offsets=pos[0],
                      pos_image=pos[1], pos_count=pos[2], ap=ap, per_class=per_class)
