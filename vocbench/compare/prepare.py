"""Once-matched inputs of the bootstrap kernels: one matching pass per model, then flat arrays.

* VOC: the evaluator's outcome codes (``evaluate`` → ``VocScores.outcome``) read in the evaluator's class order
  (:func:`vocbench.eval.matching.group_for_voc`; a sort, no re-matching).
* COCO: a thin adapter around the COCO matcher of :mod:`vocbench.eval._coco_kernels` on what
  :func:`vocbench.eval.coco.evaluate_coco` scores (on data read from COCO: the files' ``bbox``, ``area``,
  ``iscrowd`` and sorted-id image order; else the COCO export of the VOC boxes), restricted to the area range
  "all" and 100 detections per image and class, keeping the per-detection flags that ``evaluate_coco`` does not
  return. Its point AP is ``evaluate_coco``'s own (pycocotools' ``stats[0]``, bit for bit); the bootstrap kernel
  with every image once gives the same to 1e-12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocbench.eval._coco_kernels import coco_match_kernel
from vocbench.eval._kernels import (
    argsort_desc_stable,
    group_by_key,
    inverse_permutation,
    stable_partition,
)
from vocbench.eval.coco import (
    COCO_AREA_LABELS,
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    coco_xyxy_and_area,
    evaluate_coco,
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


@dataclass(frozen=True, eq=False)
class _CocoTerms:
    """What :func:`vocbench.eval.coco.evaluate_coco` scores (its defaults: ``area="file"``, ``ignore="iscrowd"``).

    position: int64[I] each image row's place in the evaluation order (sorted COCO id for data read from COCO:
    pycocotools breaks score ties across images by it; else the set order). gt_xywh, gt_area, gt_crowd: by object
    row (the file's ``bbox``, ``area``, ``iscrowd`` as written, or the COCO export of VOC boxes). det_xywh: by
    detection row (the results file's ``bbox`` as written, or the export of VOC boxes)."""

    position: np.ndarray
    gt_xywh: np.ndarray
    gt_area: np.ndarray
    gt_crowd: np.ndarray
    det_xywh: np.ndarray


def _coco_terms(dataset: Dataset, detections: Detections) -> _CocoTerms:
    coco = dataset.coco
    position = np.arange(dataset.num_images, dtype=np.int64)
    if coco is not None:
        position[np.argsort(coco.image_ids, kind="stable")] = np.arange(dataset.num_images)
        gt, area, crowd = np.asarray(coco.xywh, np.float64), coco.area, coco.iscrowd
    else:
        gt = voc_boxes_to_xywh(dataset.boxes)
        area, crowd = gt[:, 2] * gt[:, 3], dataset.difficult
    det = detections.xywh if detections.xywh is not None else voc_boxes_to_xywh(detections.boxes)
    return _CocoTerms(position=position, gt_xywh=gt, gt_area=np.asarray(area, np.float64),
                      gt_crowd=np.asarray(crowd, np.bool_), det_xywh=np.ascontiguousarray(det, np.float64))


def _coco_point(dataset: Dataset, detections: Detections) -> tuple[float, np.ndarray]:
    """``(AP@[.5:.95], per-class AP float64[C])`` of :func:`evaluate_coco`: its ``stats["AP"]`` and, per class, the
    mean of its precision over IoU and recall thresholds (area "all", 100 detections; NaN without non-ignored GT),
    the numbers pycocotools gives."""
    scores = evaluate_coco(dataset, detections)
    prec = scores.precision[:, :, :, COCO_AREA_LABELS.index("all"), COCO_MAX_DETS.index(max(COCO_MAX_DETS))]
    per_class = np.full(dataset.num_classes, np.nan)
    for k in range(dataset.num_classes):
        p = np.ascontiguousarray(prec[:, :, k])
        if (p > -1).any():
            per_class[k] = float(np.mean(p[p > -1]))
    return float(scores.stats["AP"]), per_class


def prepare_coco(dataset: Dataset, detections: Detections) -> CocoInputs:
    """Match once with the COCO matcher (area "all", 100 detections) and flatten the flags per threshold.

    The data are what :func:`~vocbench.eval.coco.evaluate_coco` scores (:class:`_CocoTerms`): on data read from
    COCO the file's boxes, areas and crowd flags, and detections in pycocotools' class order (descending score,
    ties by the image's sorted-id place, then file order). ``det_image`` and ``pos_image`` stay image *rows*, so a
    bootstrap weight vector (by row) means the same image copies whatever the evaluation order; a replicate lists
    each image's copies next to each other at the image's place in that order. ``ap`` / ``per_class`` are
    :func:`evaluate_coco`'s own numbers (pycocotools' ``stats[0]``, bit for bit).
    """
    ni, nc = dataset.num_images, dataset.num_classes
    ngroups = nc * ni
    terms = _coco_terms(dataset, detections)
    gt_key = dataset.class_index * ni + terms.position[dataset.image_index]
    gt_rows, gt_offsets = group_by_key(gt_key, ngroups)
    gt_xyxy, gt_box_area = coco_xyxy_and_area(terms.gt_xywh[gt_rows])
    gt_area, gt_crowd = terms.gt_area[gt_rows], np.ascontiguousarray(terms.gt_crowd[gt_rows])
    det_pos = terms.position[detections.image_index]
    by_image, _ = group_by_key(det_pos, ni)
    by_score = argsort_desc_stable(detections.scores, by_image)
    class_order, class_offsets = stable_partition(by_score, detections.class_index, nc)
    group_order, group_offsets = stable_partition(by_score, detections.class_index * ni + det_pos, ngroups)
    flag_row = inverse_permutation(class_order)[group_order]  # group position -> place in the class order
    iou_thr = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)
    nt = len(iou_thr)
    area_all = np.array([COCO_AREA_RANGES[0]], np.float64)
    max_det = max(COCO_MAX_DETS)
    out = coco_match_kernel(gt_offsets, gt_xyxy, gt_box_area, gt_area, gt_crowd, gt_crowd, group_offsets,
                            group_order, flag_row, terms.det_xywh, terms.det_xywh[:, 2] * terms.det_xywh[:, 3],
                            iou_thr, area_all, max_det, ni)
    tp_mask, counted_mask, rank, npig = _outcome_masks(out, nt)

    # non-ignored GT (area "all") per (class, image row): the kernel's rule, checked against its per-class totals
    lo, hi = area_all[0]
    counted_gt = ~terms.gt_crowd & (terms.gt_area >= lo) & (terms.gt_area <= hi)
    row_key = dataset.class_index * ni + dataset.image_index
    npig_ci = np.bincount(row_key[counted_gt], minlength=ngroups).astype(np.int64)
    if not np.array_equal(npig_ci.reshape(nc, ni).sum(axis=1), np.asarray(npig)[:, 0]):
        raise RuntimeError("COCO adapter: per-image non-ignored GT disagree with coco_match_kernel's totals")
    ap, per_class = _coco_point(dataset, detections)
    return _coco_entries(dataset, detections, class_order, tp_mask, counted_mask, rank, npig_ci, nt, ap, per_class)


def _coco_entries(dataset: Dataset, detections: Detections, class_order: np.ndarray, tp_mask: np.ndarray,
                  counted_mask: np.ndarray, rank: np.ndarray, npig_ci: np.ndarray, nt: int, ap: float,
                  per_class: np.ndarray) -> CocoInputs:
    """The bootstrap kernel's entries: class order, rank < 100, counted at some threshold, truncated after the last
    TP at any threshold (a same-image same-score block kept whole)."""
    ni, nc = dataset.num_images, dataset.num_classes
    sel = np.flatnonzero(rank < max(COCO_MAX_DETS))
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
    cls_idx, img_idx = np.divmod(np.arange(nc * ni), ni)
    pos = positives_csr(cls_idx, img_idx, npig_ci, nc, ni)
    return CocoInputs(class_offsets=class_offsets_e, det_image=det_image, kind=kind, tp_mask=tp_mask,
                      counted_mask=counted_mask, det_block=det_block, fp_run_end=fp_run_end, num_thresholds=nt,
                      pos_offsets=pos[0], pos_image=pos[1], pos_count=pos[2], ap=ap, per_class=per_class)
