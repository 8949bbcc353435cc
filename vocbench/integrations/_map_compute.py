"""The computation behind :class:`vocbench.integrations.torchmetrics.MeanAveragePrecision`: its states (numpy
arrays) → torchmetrics' result dict, through the same COCO front end as :mod:`vocbench.coco`
(:func:`vocbench._coco_compat.accumulate_problem`) or vocbench's VOC evaluator."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from vocbench._coco_compat import CocoProblem, accumulate_problem, ious_by_image, summarize_lines

__all__ = ["compute_coco", "compute_voc"]

_AREA_RANGES = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]  # pycocotools'
_AREA_LABELS = ["all", "small", "medium", "large"]


def _image_index(counts: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(counts.size, dtype=np.int64), counts)


def _problem(a: dict, labels_gt: np.ndarray, labels_dt: np.ndarray, cat_ids: np.ndarray) -> CocoProblem:
    """torchmetrics' COCO datasets as arrays: images 0..I-1, categories ``cat_ids`` (sorted labels), GT area from
    the target's ``area`` where > 0, else ``w * h``; crowd = ``int(iscrowd) != 0``, ignored = ``iscrowd != 0``."""
    gt_xywh, dt_xywh = a["gt_boxes"], a["det_boxes"]
    area = np.where(a["gt_area"] > 0, a["gt_area"], gt_xywh[:, 2] * gt_xywh[:, 3])
    n_gt, n_dt = labels_gt.size, labels_dt.size
    return CocoProblem(
        img_ids=list(np.arange(a["gt_counts"].size, dtype=np.int64)), cat_ids=list(cat_ids),
        gt_image=_image_index(a["gt_counts"]), gt_category=np.searchsorted(cat_ids, labels_gt), gt_xywh=gt_xywh,
        gt_area=area, gt_crowd=np.trunc(a["gt_crowd"]) != 0, gt_ignore=a["gt_crowd"] != 0,
        gt_ids=list(range(1, n_gt + 1)), dt_image=_image_index(a["det_counts"]),
        dt_category=np.searchsorted(cat_ids, labels_dt), dt_xywh=dt_xywh, dt_area=dt_xywh[:, 2] * dt_xywh[:, 3],
        dt_score=a["det_scores"], dt_ids=list(range(1, n_dt + 1)))


def _params(metric, cat_ids: np.ndarray, num_images: int) -> SimpleNamespace:
    """pycocotools' ``Params`` after ``evaluate()``, set as torchmetrics sets them."""
    return SimpleNamespace(
        imgIds=list(np.arange(num_images, dtype=np.int64)), catIds=list(cat_ids), useCats=1,
        iouThrs=np.array(metric.iou_thresholds, dtype=np.float64),
        recThrs=np.array(metric.rec_thresholds, dtype=np.float64), maxDets=sorted(metric.max_detection_thresholds),
        areaRng=_AREA_RANGES, areaRngLbl=_AREA_LABELS)


def _evaluate(a: dict, metric, micro: bool, with_scores: bool = False):
    labels_gt = np.zeros_like(a["gt_labels"]) if micro else a["gt_labels"]
    labels_dt = np.zeros_like(a["det_labels"]) if micro else a["det_labels"]
    cat_ids = np.unique(np.concatenate([labels_dt, labels_gt]))
    problem = _problem(a, labels_gt, labels_dt, cat_ids)
    p = _params(metric, cat_ids, a["gt_counts"].size)
    precision, recall, scores = accumulate_problem(problem, p, p, with_scores=with_scores)
    return problem, p, precision, recall, scores


def _stats_dict(stats, max_dets: list) -> dict[str, torch.Tensor]:
    names = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", f"mar_{max_dets[0]}",
             f"mar_{max_dets[1]}", f"mar_{max_dets[2]}", "mar_small", "mar_medium", "mar_large"]
    return {name: torch.tensor([float(v)], dtype=torch.float32) for name, v in zip(names, stats)}


def _per_class(a: dict, metric, macro) -> tuple[torch.Tensor, torch.Tensor]:
    """pycocotools' ``stats[0]`` and ``stats[8]`` of each class alone (its slice of the macro arrays: classes are
    matched and accumulated independently)."""
    _, p, precision, recall, _ = macro
    maps, mars = [], []
    for k, cat in enumerate(p.catIds):
        pk = SimpleNamespace(**{**vars(p), "catIds": [cat]})
        stats, _ = summarize_lines(precision[:, :, k:k + 1], recall[:, k:k + 1], pk)
        maps.append(float(stats[0]))
        mars.append(float(stats[8]))
    return torch.tensor(maps, dtype=torch.float32), torch.tensor(mars, dtype=torch.float32)


def compute_coco(a: dict, metric) -> dict[str, Any]:
    """torchmetrics' ``compute()`` with the pycocotools backend, from the metric's state arrays ``a``."""
    max_dets = metric.max_detection_thresholds
    classes = torch.tensor(np.unique(np.concatenate([a["det_labels"], a["gt_labels"]])).tolist(), dtype=torch.int32)
    if a["gt_counts"].size == 0 or a["det_counts"].size == 0:
        return {**_stats_dict([-1.0] * 12, max_dets), "classes": classes}
    micro = metric.average == "micro"
    run = _evaluate(a, metric, micro, with_scores=metric.extended_summary)
    problem, p, precision, recall, scores = run
    stats, _ = summarize_lines(precision, recall, p)
    result: dict[str, Any] = _stats_dict(stats, max_dets)
    if metric.extended_summary:
        ious = ious_by_image(problem, p)
        result["ious"] = {k: torch.tensor(v, dtype=torch.float32) if isinstance(v, np.ndarray) else v
                          for k, v in ious.items()}
        result.update(precision=torch.tensor(precision), recall=torch.tensor(recall), scores=torch.tensor(scores))
    if metric.class_metrics:
        map_pc, mar_pc = _per_class(a, metric, _evaluate(a, metric, False) if micro else run)
    else:
        map_pc, mar_pc = torch.tensor([-1], dtype=torch.float32), torch.tensor([-1], dtype=torch.float32)
    result["map_per_class"] = map_pc
    result[f"mar_{max_dets[-1]}_per_class"] = mar_pc
    result["classes"] = classes
    return result


def compute_voc(a: dict, metric) -> dict[str, Any]:
    """VOC devkit AP (``metric.metric`` = ``"voc07"``/``"voc12"``) at ``iou_thresholds[0]`` (0.5 by default)."""
    from vocbench.eval import evaluate
    from vocbench.structures import Dataset, Detections

    cat_ids = np.unique(np.concatenate([a["det_labels"], a["gt_labels"]]))
    classes = torch.tensor(cat_ids.tolist(), dtype=torch.int32)
    n = a["gt_counts"].size
    if n == 0 or cat_ids.size == 0:
        return {"map": torch.tensor(float("nan")), "map_per_class": torch.zeros(0), "classes": classes}
    gt, dt = a["gt_boxes"], a["det_boxes"]
    extent = np.ceil(np.max(np.concatenate([gt[:, 2:].reshape(-1), dt[:, 2:].reshape(-1), [1.0]])))
    size = np.full(n, max(int(extent), 1), np.int64)
    dataset = Dataset.from_arrays(
        image_ids=[str(i) for i in range(n)], widths=size, heights=size, image_index=_image_index(a["gt_counts"]),
        class_index=np.searchsorted(cat_ids, a["gt_labels"]), boxes=gt, difficult=a["gt_difficult"] != 0,
        classes=[str(c) for c in cat_ids.tolist()], sets=("torchmetrics",))
    detections = Detections(image_index=_image_index(a["det_counts"]),
                            class_index=np.searchsorted(cat_ids, a["det_labels"]), scores=a["det_scores"], boxes=dt)
    iou = float(metric.iou_thresholds[0]) if metric.iou_thresholds_given else 0.5
    result = evaluate(dataset, detections, metrics=(metric.metric,), iou=iou)
    ap = np.asarray(result.voc[0].ap[metric.metric], np.float64)
    return {"map": torch.tensor(float(result.mAP[metric.metric]), dtype=torch.float32),
            "map_per_class": torch.tensor(ap, dtype=torch.float32), "classes": classes}
