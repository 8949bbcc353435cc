"""The COCO detection protocol, identical to pycocotools run on the COCO export of the same data.

:func:`evaluate_coco` reproduces ``COCOeval(gt, dt, "bbox")`` + ``evaluate()`` + ``accumulate()`` +
``summarize()`` on ``export_coco(dataset)`` / ``detections_to_coco(dataset, detections)``
(:mod:`vocbench.io.coco`): boxes are converted with the same float operations, the IoU is ``maskApi.c``'s
``bbIou`` (continuous coordinates; crowd = difficult GT uses the detection area as the union), 10 IoU thresholds
``np.linspace(.5, .95, 10)``, 101 recall thresholds ``np.linspace(0, 1, 101)``, max 1/10/100 detections per image
and class, the four area ranges on the GT ``area`` field (inclusive), pycocotools' fall-back matching and
tie-breaking (stable score sorts; across images ties go to the lower image id).
"""

from __future__ import annotations

import numpy as np

from vocbench.eval._kernels import (argsort_desc_stable, coco_accumulate_kernel, coco_match_kernel,
                                    coco_select_kernel, group_by_key, inverse_permutation, stable_partition)
from vocbench.eval.results import COCO_STAT_NAMES, CocoScores
from vocbench.io.coco import voc_boxes_to_xywh
from vocbench.structures import Dataset, Detections

__all__ = ["COCO_IOU_THRESHOLDS", "COCO_REC_THRESHOLDS", "COCO_AREA_RANGES", "COCO_AREA_LABELS", "COCO_MAX_DETS",
           "evaluate_coco"]

COCO_IOU_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
COCO_REC_THRESHOLDS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
COCO_AREA_RANGES = ((0 ** 2, 1e5 ** 2), (0 ** 2, 32 ** 2), (32 ** 2, 96 ** 2), (96 ** 2, 1e5 ** 2))
COCO_AREA_LABELS = ("all", "small", "medium", "large")
COCO_MAX_DETS = (1, 10, 100)

# (is AP, IoU threshold or None, area label, max dets) of each summary number, pycocotools' order
_SUMMARY = ((1, None, "all", 100), (1, .5, "all", 100), (1, .75, "all", 100), (1, None, "small", 100),
            (1, None, "medium", 100), (1, None, "large", 100), (0, None, "all", 1), (0, None, "all", 10),
            (0, None, "all", 100), (0, None, "small", 100), (0, None, "medium", 100), (0, None, "large", 100))


def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    out = {}
    for name, (is_ap, thr, area, md) in zip(COCO_STAT_NAMES, _SUMMARY):
        a = COCO_AREA_LABELS.index(area)
        m = COCO_MAX_DETS.index(md)
        s = precision if is_ap else recall
        if thr is not None:
            s = s[np.where(thr == COCO_IOU_THRESHOLDS)[0]]
        s = s[..., a, m]
        v = s[s > -1]
        out[name] = float(np.mean(v)) if v.size else -1.0
    return out


def evaluate_coco(dataset: Dataset, detections: Detections) -> CocoScores:
    """COCO AP/AR of ``detections`` on ``dataset`` (see the module docstring for the exact rules).

    Args:
        dataset: the ground truth (difficult objects act as crowd regions).
        detections: validated detections (indices into ``dataset``; VOC pixel boxes).

    Returns:
        :class:`CocoScores` with the 12 summary numbers and pycocotools' precision/recall arrays.
    """
    ni, nc = dataset.num_images, dataset.num_classes
    ngroups = nc * ni
    g = voc_boxes_to_xywh(dataset.boxes)
    gt_rows, gt_offsets = group_by_key(dataset.class_index * ni + dataset.image_index, ngroups)
    gx, gy, gw, gh = (np.ascontiguousarray(g[gt_rows, i]) for i in range(4))
    garea = gw * gh
    gcrowd = np.ascontiguousarray(dataset.difficult[gt_rows])

    d = voc_boxes_to_xywh(detections.boxes)
    dx, dy, dw, dh = (np.ascontiguousarray(d[:, i]) for i in range(4))
    darea = dw * dh
    # class-wide order: descending score, ties by image then input order (pycocotools' concatenation + mergesort)
    by_image, _ = group_by_key(detections.image_index, ni)
    by_score = argsort_desc_stable(detections.scores, by_image)
    class_order, class_offsets = stable_partition(by_score, detections.class_index, nc)
    group_order, group_offsets = stable_partition(by_score, detections.class_index * ni + detections.image_index,
                                                  ngroups)
    class_positions = inverse_permutation(group_order)[class_order]
    group_start = np.repeat(group_offsets[:-1], np.diff(group_offsets))

    iou_thr = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)
    area_lo = np.array([r[0] for r in COCO_AREA_RANGES], np.float64)
    area_hi = np.array([r[1] for r in COCO_AREA_RANGES], np.float64)
    flags, npig_groups = coco_match_kernel(gt_offsets, gx, gy, gw, gh, garea, gcrowd, group_offsets, group_order,
                                           dx, dy, dw, dh, darea, iou_thr, area_lo, area_hi, max(COCO_MAX_DETS), ni)
    npig = np.ascontiguousarray(npig_groups.reshape(nc, ni, len(COCO_AREA_RANGES)).sum(axis=1))
    positions, offsets = coco_select_kernel(class_positions, class_offsets, group_start,
                                            np.asarray(COCO_MAX_DETS, np.int64))
    precision, recall = coco_accumulate_kernel(flags, positions, offsets, npig, COCO_REC_THRESHOLDS)
    return CocoScores(stats=_summarize(precision, recall), precision=precision, recall=recall,
                      iou_thresholds=COCO_IOU_THRESHOLDS.copy(), rec_thresholds=COCO_REC_THRESHOLDS.copy(),
                      area_ranges=COCO_AREA_RANGES, max_dets=COCO_MAX_DETS, classes=tuple(dataset.classes))
