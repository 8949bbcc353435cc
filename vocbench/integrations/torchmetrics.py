"""torchmetrics' ``MeanAveragePrecision`` (boxes) scored by vocbench's COCO kernel, plus the VOC protocols.

Migration (same constructor, ``update(preds, target)``, ``compute()`` keys and numbers as torchmetrics with its
default ``backend="pycocotools"``)::

    # from torchmetrics.detection import MeanAveragePrecision
    from vocbench.integrations.torchmetrics import MeanAveragePrecision
    metric = MeanAveragePrecision(box_format="xyxy", class_metrics=True)

It is a ``torchmetrics.Metric`` when torchmetrics is installed (DDP sync, Lightning ``self.log``), a plain
class otherwise (``pip install vocbench[torchmetrics]`` for the former). Its states are flat 1-D tensors with
``dist_reduce_fx="cat"`` (boxes, scores, labels, per-image counts), so ranks merge by concatenation: the merged
images are rank 0's, then rank 1's, ... (torchmetrics interleaves them; only score ties across images can tell).

What torchmetrics' pycocotools backend does, reproduced: image ids are positions in the update order; boxes are
converted to ``xywh`` with torchvision's ``box_convert`` arithmetic in the input dtype; a target's ``area`` is used
where > 0, else ``w * h``; ``iscrowd`` marks crowd regions; categories are the labels seen in preds and targets;
``average="micro"`` puts every label in one category; ``iou_thresholds`` default to ``torch.linspace(0.5, 0.95,
10)`` (float32 values, as torchmetrics), the 12 numbers are pycocotools' ``stats`` (-1 where undefined,
pycocotools' convention, kept in this compatible surface).

``metric="voc07"`` or ``"voc12"`` scores with the PASCAL VOC devkit rules instead (vocbench's VOC evaluator:
IoU >= ``iou_thresholds[0]`` (default 0.5) with the devkit's ``+1`` pixel widths, difficult objects from a
target's ``difficult`` key, else its ``iscrowd``): ``compute()`` gives ``map`` (NaN-free mean over classes with
positives), ``map_per_class`` (NaN where a class has no non-difficult object) and ``classes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

try:  # torchmetrics is optional: a Metric when installed
    from torchmetrics import Metric as _Base

    _TORCHMETRICS = True
except ImportError:  # pragma: no cover - exercised where torchmetrics is absent
    _Base = object  # type: ignore[assignment,misc]
    _TORCHMETRICS = False

__all__ = ["MeanAveragePrecision"]

_STATES = ("det_boxes", "det_scores", "det_labels", "det_counts", "gt_boxes", "gt_labels", "gt_crowd", "gt_area",
           "gt_difficult", "gt_counts")
_METRICS = ("coco", "voc07", "voc12")


def _convert(boxes: torch.Tensor, fmt: str, out: str) -> torch.Tensor:
    """torchvision ``box_convert`` (its float operations, in the input dtype) for ``xyxy``/``xywh``/``cxcywh``."""
    if fmt == out:
        return boxes
    a, b, c, d = boxes.unbind(-1)
    if fmt == "cxcywh":  # torchvision goes through xyxy
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    elif fmt == "xywh":
        c, d = a + c, b + d
    if out == "xywh":
        c, d = c - a, d - b
    return torch.stack((a, b, c, d), dim=-1)


def _rows(boxes: torch.Tensor) -> torch.Tensor:
    return boxes if boxes.ndim == 2 else boxes.reshape(-1, 4)


def _boxes_state(boxes: list, fmt: str, out: str) -> torch.Tensor:
    """float64[4 N]: the batch's boxes converted to ``out`` in their own dtype (as torchvision), flattened."""
    if len({b.dtype for b in boxes}) == 1:
        converted = _convert(torch.cat([_rows(b) for b in boxes]), fmt, out)
    else:  # mixed dtypes: each converted in its own before concatenating
        converted = torch.cat([_convert(_rows(b), fmt, out).to(torch.float64) for b in boxes])
    return converted.detach().to(torch.float64).reshape(-1)


def _cat(values: list, dtype, like: list | None = None) -> torch.Tensor:
    """The batch's per-image 1-D tensors concatenated as ``dtype``; a missing one (None) is zeros like ``like``."""
    if like is not None:
        values = [torch.zeros(ref.shape[0], dtype=dtype, device=ref.device) if v is None else v
                  for v, ref in zip(values, like)]
    return torch.cat([v if v.ndim == 1 else v.reshape(-1) for v in values]).detach().to(dtype)


def _counts(items: list) -> torch.Tensor:
    return torch.tensor([item["labels"].shape[0] if item["labels"].ndim else 1 for item in items],
                        dtype=torch.int64, device=items[0]["labels"].device)


def _check_inputs(preds, target) -> None:
    """torchmetrics' input checks (same messages)."""
    if not isinstance(preds, (list, tuple)):
        raise ValueError(f"Expected argument `preds` to be of type Sequence, but got {preds}")
    if not isinstance(target, (list, tuple)):
        raise ValueError(f"Expected argument `target` to be of type Sequence, but got {target}")
    if len(preds) != len(target):
        raise ValueError(f"Expected argument `preds` and `target` to have the same length, but got {len(preds)} "
                         f"and {len(target)}")
    for side, items, keys in (("preds", preds, ("boxes", "labels", "scores")), ("target", target, ("boxes", "labels"))):
        for key in keys:
            if any(key not in item for item in items):
                raise ValueError(f"Expected all dicts in `{side}` to contain the `{key}` key")
            if not all(isinstance(item[key], torch.Tensor) for item in items):
                raise ValueError(f"Expected all {key} in `{side}` to be of type Tensor")
    for side, items in (("preds", preds), ("targets", target)):
        for i, item in enumerate(items):
            b = item["boxes"]
            lengths = {b.shape[0] if b.ndim == 2 else b.numel() // 4, item["labels"].numel()}
            if side == "preds":
                lengths.add(item["scores"].numel())
            if len(lengths) != 1:
                raise ValueError(f"Input boxes, labels{' and scores' if side == 'preds' else ''} of sample {i} in "
                                 f"{side} have different lengths")


class _PlainMetric:
    """The part of ``torchmetrics.Metric`` this class uses, where torchmetrics is not installed."""

    def __init__(self, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)} (torchmetrics is not installed)")
        self._defaults: dict = {}

    def add_state(self, name: str, default, dist_reduce_fx=None) -> None:
        self._defaults[name] = default
        setattr(self, name, list(default))

    def reset(self) -> None:
        for name, default in self._defaults.items():
            setattr(self, name, list(default))


_Parent: Any = _Base if _TORCHMETRICS else _PlainMetric


class MeanAveragePrecision(_Parent):
    """Mean average precision and recall of boxes: torchmetrics' ``MeanAveragePrecision`` (pycocotools backend).

    Args:
        box_format: ``"xyxy"`` (default), ``"xywh"`` or ``"cxcywh"``, pixels.
        iou_type: ``"bbox"`` only (``"segm"`` raises NotImplementedError).
        iou_thresholds: IoU thresholds; default ``torch.linspace(0.5, 0.95, 10).tolist()``. For ``metric="voc07"``
            / ``"voc12"`` the first is the matching threshold (default 0.5).
        rec_thresholds: recall points; default ``torch.linspace(0, 1, 101).tolist()``.
        max_detection_thresholds: three maxDets; default ``[1, 10, 100]``.
        class_metrics: also ``map_per_class`` and ``mar_{maxdet}_per_class``.
        extended_summary: also ``ious`` ({(image, class): float32[D, G]}), ``precision`` float64[T, R, K, A, M],
            ``recall`` float64[T, K, A, M], ``scores`` float64[T, R, K, A, M].
        average: ``"macro"`` (mean over classes, default) or ``"micro"`` (all boxes as one class).
        backend: accepted for compatibility (``"pycocotools"``, ``"faster_coco_eval"``); both give these numbers.
        metric: ``"coco"`` (default: torchmetrics' keys) or ``"voc07"`` / ``"voc12"`` (VOC devkit AP).
        kwargs: torchmetrics ``Metric`` options (``dist_sync_on_step``, ``process_group``, ...).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = True
    warn_on_many_detections = False

    def __init__(self, box_format: str = "xyxy", iou_type: str = "bbox", iou_thresholds: list | None = None,
                 rec_thresholds: list | None = None, max_detection_thresholds: list | None = None,
                 class_metrics: bool = False, extended_summary: bool = False, average: str = "macro",
                 backend: str = "pycocotools", metric: str = "coco", **kwargs: Any):
        super().__init__(**kwargs)
        self.box_format, self.iou_type = box_format, iou_type
        self.iou_thresholds_given = iou_thresholds is not None
        self.iou_thresholds = iou_thresholds or torch.linspace(0.5, 0.95, round((0.95 - 0.5) / 0.05) + 1).tolist()
        self.rec_thresholds = rec_thresholds or torch.linspace(0.0, 1.00, round(1.00 / 0.01) + 1).tolist()
        max_dets = torch.tensor(max_detection_thresholds or [1, 10, 100], dtype=torch.int)
        self.max_detection_thresholds = torch.sort(max_dets)[0].tolist()
        self.class_metrics, self.extended_summary, self.average = class_metrics, extended_summary, average
        self.backend, self.metric = backend, metric
        self._check_options(iou_thresholds, rec_thresholds, max_detection_thresholds)
        for name in _STATES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def _check_options(self, iou_thresholds, rec_thresholds, max_detection_thresholds) -> None:
        if self.box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"Expected argument `box_format` to be one of ('xyxy', 'xywh', 'cxcywh') but got "
                             f"{self.box_format}")
        if self.iou_type not in ("bbox", ("bbox",)):
            raise NotImplementedError(f"vocbench's MeanAveragePrecision scores boxes only (iou_type='bbox'); got "
                                      f"{self.iou_type!r}: use torchmetrics' own for masks")
        for name, value in (("iou_thresholds", iou_thresholds), ("rec_thresholds", rec_thresholds),
                            ("max_detection_thresholds", max_detection_thresholds)):
            if value is not None and not isinstance(value, list):
                raise ValueError(f"Expected argument `{name}` to either be `None` or a list but got {value}")
        if max_detection_thresholds is not None and len(max_detection_thresholds) != 3:
            raise ValueError("When providing a list of max detection thresholds it should have length 3."
                             f" Got value {len(max_detection_thresholds)}")
        for name in ("class_metrics", "extended_summary"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"Expected argument `{name}` to be a boolean")
        if self.average not in ("macro", "micro"):
            raise ValueError(f"Expected argument `average` to be one of ('macro', 'micro') but got {self.average}")
        if self.backend not in ("pycocotools", "faster_coco_eval"):
            raise ValueError(f"Expected argument `backend` to be one of ('pycocotools', 'faster_coco_eval') but got "
                             f"{self.backend}")
        if self.metric not in _METRICS:
            raise ValueError(f"Expected argument `metric` to be one of {_METRICS} but got {self.metric!r}")

    def update(self, preds: list[dict[str, torch.Tensor]], target: list[dict[str, torch.Tensor]]) -> None:
        """Add a batch: ``preds`` dicts with ``boxes`` [N, 4], ``scores`` [N], ``labels`` [N] (int); ``target`` dicts
        with ``boxes`` [M, 4], ``labels`` [M] and optional ``iscrowd`` [M], ``area`` [M], ``difficult`` [M]."""
        _check_inputs(preds, target)
        if not preds:
            return
        out = "xywh" if self.metric == "coco" else "xyxy"
        # one tensor per state and batch, not per image (per-tensor overhead dominates an update)
        f64, i64 = torch.float64, torch.int64
        self.det_boxes.append(_boxes_state([item["boxes"] for item in preds], self.box_format, out))
        self.det_scores.append(_cat([item["scores"] for item in preds], f64))
        self.det_labels.append(_cat([item["labels"] for item in preds], i64))
        self.det_counts.append(_counts(preds))
        labels = [item["labels"] for item in target]
        crowd = [item.get("iscrowd") for item in target]
        self.gt_boxes.append(_boxes_state([item["boxes"] for item in target], self.box_format, out))
        self.gt_labels.append(_cat(labels, i64))
        self.gt_crowd.append(_cat(crowd, f64, labels))
        self.gt_area.append(_cat([item.get("area") for item in target], f64, labels))
        self.gt_difficult.append(_cat([item.get("difficult", c) for item, c in zip(target, crowd)], f64, labels))
        self.gt_counts.append(_counts(target))

    def _arrays(self) -> dict[str, np.ndarray]:
        """The states as numpy arrays (concatenated: a list after updates, one tensor after a DDP sync)."""
        out = {}
        for name in _STATES:
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                value = torch.cat([v.reshape(-1) for v in value]) if len(value) else torch.zeros(0)
            out[name] = value.detach().cpu().double().numpy() if value.is_floating_point() else \
                value.detach().cpu().numpy()
        for name in ("det_labels", "gt_labels", "det_counts", "gt_counts"):
            out[name] = out[name].astype(np.int64)  # an empty rank's state arrives as float32 from torchmetrics
        out["det_boxes"] = out["det_boxes"].reshape(-1, 4)
        out["gt_boxes"] = out["gt_boxes"].reshape(-1, 4)
        return out

    def compute(self) -> dict[str, Any]:
        """torchmetrics' keys: ``map, map_50, map_75, map_small, map_medium, map_large, mar_1, mar_10, mar_100,
        mar_small, mar_medium, mar_large`` (float32, -1 where undefined), ``map_per_class``, ``mar_100_per_class``
        (``-1`` unless ``class_metrics``), ``classes`` (int32); the ``mar_*`` names follow
        ``max_detection_thresholds``. ``metric="voc07"``/``"voc12"``: ``map``, ``map_per_class``, ``classes``."""
        from vocbench.integrations._map_compute import compute_coco, compute_voc

        arrays = self._arrays()
        if self.metric == "coco":
            result = compute_coco(arrays, self)
        else:
            result = compute_voc(arrays, self)
        if not _TORCHMETRICS:  # torchmetrics' compute wrapper squeezes one-element tensors
            result = {k: v.squeeze() if isinstance(v, torch.Tensor) and v.numel() == 1 else v
                      for k, v in result.items()}
        return result
