"""The COCO detection protocol, identical to pycocotools run on the COCO export of the same data.

:func:`evaluate_coco` reproduces ``COCOeval(gt, dt, "bbox")`` + ``evaluate()`` + ``accumulate()`` +
``summarize()`` on ``export_coco(dataset)`` / ``detections_to_coco(dataset, detections)``
(:mod:`vocbench.io.coco`): boxes are converted with the same float operations, the IoU is ``maskApi.c``'s
``bbIou`` (continuous coordinates; crowd = difficult GT uses the detection area as the union), 10 IoU thresholds
``np.linspace(.5, .95, 10)``, 101 recall thresholds ``np.linspace(0, 1, 101)``, max 1/10/100 detections per image
and class, the four area ranges on the GT ``area`` field (inclusive), pycocotools' fall-back matching and
tie-breaking (stable score sorts; across images ties go to the lower image id).

The work is one kernel call (:func:`vocbench.eval._coco_kernels.coco_evaluate_kernel`: class order, matching of
every (class, image) group for all thresholds and area ranges at once, accumulation) and ``summarize`` here.
"""

from __future__ import annotations

import numpy as np

from vocbench.boxes import COCO_AREA_LABELS, COCO_AREA_RANGES  # the one definition (pycocotools areaRng)
from vocbench.eval._coco_kernels import coco_evaluate_kernel
from vocbench.eval.results import COCO_STAT_NAMES, CocoScores
from vocbench.structures import Dataset, Detections

__all__ = ["COCO_IOU_THRESHOLDS", "COCO_REC_THRESHOLDS", "COCO_AREA_RANGES", "COCO_AREA_LABELS", "COCO_MAX_DETS",
           "evaluate_coco", "coco_xyxy_and_area"]

COCO_IOU_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
COCO_REC_THRESHOLDS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
COCO_MAX_DETS = (1, 10, 100)
_IOU_THRESHOLDS_CAPPED = np.minimum(COCO_IOU_THRESHOLDS, 1 - 1e-10)  # pycocotools' min([t, 1 - 1e-10])
_AREA_RANGES = np.array(COCO_AREA_RANGES, np.float64)
_MAX_DETS = np.asarray(COCO_MAX_DETS, np.int64)

# (is AP, IoU threshold or None, area label, max dets) of each summary number, pycocotools' order
_SUMMARY = ((1, None, "all", 100), (1, .5, "all", 100), (1, .75, "all", 100), (1, None, "small", 100),
            (1, None, "medium", 100), (1, None, "large", 100), (0, None, "all", 1), (0, None, "all", 10),
            (0, None, "all", 100), (0, None, "small", 100), (0, None, "medium", 100), (0, None, "large", 100))


def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """pycocotools' ``summarize`` of ``precision[T, R, K, A, M]`` / ``recall[T, K, A, M]`` (any memory layout:
    ``s[..., a, m]`` is copied in C order, the order pycocotools' ``np.mean`` adds in)."""
    out = {}
    for name, (is_ap, thr, area, md) in zip(COCO_STAT_NAMES, _SUMMARY):
        s = precision if is_ap else recall
        if thr is not None:
            s = s[np.where(thr == COCO_IOU_THRESHOLDS)[0]]
        s = np.ascontiguousarray(s[..., COCO_AREA_LABELS.index(area), COCO_MAX_DETS.index(md)])
        v = s[s > -1]
        out[name] = float(np.mean(v)) if v.size else -1.0
    return out


def coco_xyxy_and_area(xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO ``[x, y, w, h]`` → (``(x, y, x + w, y + h)`` as ``maskApi.c`` forms the far corner, ``w * h``)."""
    out = np.empty_like(xywh)
    out[:, 0] = xywh[:, 0]
    out[:, 1] = xywh[:, 1]
    out[:, 2] = xywh[:, 0] + xywh[:, 2]
    out[:, 3] = xywh[:, 1] + xywh[:, 3]
    return out, xywh[:, 2] * xywh[:, 3]


def evaluate_coco(dataset: Dataset, detections: Detections) -> CocoScores:
    """COCO AP/AR of ``detections`` on ``dataset`` (see the module docstring for the exact rules).

    Args:
        dataset: the ground truth (difficult objects act as crowd regions).
        detections: validated detections (indices into ``dataset``; VOC pixel boxes).

    Returns:
        :class:`CocoScores` with the 12 summary numbers and pycocotools' precision/recall arrays.
    """
    precision_k, recall_k = coco_evaluate_kernel(
        detections.image_index, detections.class_index, detections.scores, detections.boxes, dataset.image_index,
        dataset.class_index, dataset.boxes, dataset.difficult, dataset.num_images, dataset.num_classes,
        _IOU_THRESHOLDS_CAPPED, _AREA_RANGES, _MAX_DETS, COCO_REC_THRESHOLDS)
    precision = precision_k.transpose(3, 4, 0, 1, 2)  # [T, R, K, A, M], pycocotools' axes (a view)
    recall = recall_k.transpose(3, 0, 1, 2)
    return CocoScores(stats=_summarize(precision, recall), precision=precision, recall=recall,
                      iou_thresholds=COCO_IOU_THRESHOLDS.copy(), rec_thresholds=COCO_REC_THRESHOLDS.copy(),
                      area_ranges=COCO_AREA_RANGES, max_dets=COCO_MAX_DETS, classes=tuple(dataset.classes))
