"""What the resize policy does to the boxes (the essay's "beware of the aspect ratios"): squash, letterbox (pad)
and crop of the shorter side, each to the square network input.

Pixel boxes use the anchor convention (:func:`vocbench.anchors.normalized_boxes`): ``x1 = xmin - 1``,
``x2 = xmax - 1``, so a box is ``xmax - xmin`` wide. For an image of ``W × H`` and input side ``S``:

* ``squash``: x scaled by ``S / W``, y by ``S / H`` (YOLO, SSD); aspect ratios change by ``W / H``.
* ``letterbox``: both scaled by ``S / max(W, H)``, the short side padded; aspect ratios kept, objects smaller.
* ``crop``: both scaled by ``S / min(W, H)``, then the centred ``S × S`` window is kept; boxes are clipped to it.
  An object is **cut** when part of it falls outside the window and **lost** when all of it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.anchors.kmeans import IoUKMeans, mean_iou
from vocbench.anchors.priors import yolo_voc_anchors
from vocbench.audit.assignment import ObjectGeometry, object_geometry
from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["RESIZE_POLICIES", "PolicyResult", "ResizeAudit", "analyze_resize", "boxes_at_input"]

RESIZE_POLICIES = ("squash", "letterbox", "crop")


def boxes_at_input(boxes_norm: np.ndarray, widths: np.ndarray, heights: np.ndarray, input_size: int,
                   policy: str) -> np.ndarray:
    """Boxes at the network input, float64[M, 4] ``(x1, y1, x2, y2)`` in input pixels (``crop``: clipped to the
    window, so a lost object has zero or negative width).

    Args:
        boxes_norm: float64[M, 4] normalised boxes (:func:`~vocbench.audit.object_geometry`).
        widths, heights: float64[M] the size of each box's image, pixels.
        input_size: the square input side S; policy: one of :data:`RESIZE_POLICIES`.
    """
    s = float(input_size)
    x = boxes_norm[:, [0, 2]] * widths[:, None]
    y = boxes_norm[:, [1, 3]] * heights[:, None]
    if policy == "squash":
        x, y = x * (s / widths[:, None]), y * (s / heights[:, None])
    elif policy == "letterbox":
        r = (s / np.maximum(widths, heights))[:, None]
        x = x * r + (s - widths[:, None] * r) / 2
        y = y * r + (s - heights[:, None] * r) / 2
    elif policy == "crop":
        r = (s / np.minimum(widths, heights))[:, None]
        x = np.clip(x * r - (widths[:, None] * r - s) / 2, 0.0, s)
        y = np.clip(y * r - (heights[:, None] * r - s) / 2, 0.0, s)
    else:
        raise InputError(f"unknown resize policy {policy!r}; known: {', '.join(RESIZE_POLICIES)}")
    return np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1)


@dataclass(frozen=True)
class PolicyResult:
    """One resize policy.

    Attributes:
        policy: ``"squash"``, ``"letterbox"`` or ``"crop"``.
        wh: float64[M', 2] box (w, h) at the input, pixels (objects that survive the policy).
        anchors: float64[k, 2] IoU k-means anchors of ``wh``, input pixels, sorted by area.
        mean_iou: mean IoU of the boxes with their closest k-means anchor.
        yolo_voc_mean_iou: the same with the yolo-voc anchors (made on squashed boxes) scaled to the input.
        cut, lost: objects partly / wholly outside the crop window (0 for the other policies).
        under_8px: objects whose shorter side is under 8 input pixels.
        median_log_aspect_change: median ``|ln(w/h at input) - ln(w/h in the image)|``.
    """

    policy: str
    wh: np.ndarray = field(repr=False)
    anchors: np.ndarray
    mean_iou: float
    yolo_voc_mean_iou: float
    cut: int
    lost: int
    under_8px: int
    median_log_aspect_change: float

    def to_dict(self) -> dict:
        return {"policy": self.policy, "objects": len(self.wh), "anchors_px": self.anchors.tolist(),
                "mean_iou": self.mean_iou, "yolo_voc_mean_iou": self.yolo_voc_mean_iou, "cut": self.cut,
                "lost": self.lost, "under_8px": self.under_8px,
                "median_log_aspect_change": self.median_log_aspect_change}


@dataclass(frozen=True)
class ResizeAudit:
    """The three policies side by side (:func:`analyze_resize`)."""

    input_size: int
    k: int
    objects: int
    policies: tuple[PolicyResult, ...]

    def to_pandas(self) -> pd.DataFrame:
        """One row per policy (the anchors as ``w×h`` pixel strings)."""
        rows = []
        for p in self.policies:
            d = p.to_dict()
            d["anchors_px"] = " ".join(f"{w:.0f}×{h:.0f}" for w, h in p.anchors)
            rows.append(d)
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "k": self.k, "objects": self.objects,
                "policies": [p.to_dict() for p in self.policies]}

    def __str__(self) -> str:
        return (f"resize policies at {self.input_size} px (k = {self.k} anchors):\n"
                + self.to_pandas().to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def _policy(policy: str, geom: ObjectGeometry, w_img: np.ndarray, h_img: np.ndarray, input_size: int, k: int,
            n_init: int, random_state: int) -> PolicyResult:
    b = boxes_at_input(geom.boxes, w_img, h_img, input_size, policy)
    wh = b[:, 2:] - b[:, :2]
    alive = (wh > 0).all(axis=1)
    full_w = (geom.boxes[:, 2] - geom.boxes[:, 0]) * w_img
    full_h = (geom.boxes[:, 3] - geom.boxes[:, 1]) * h_img
    if policy == "crop":
        r = input_size / np.minimum(w_img, h_img)
        cut = int((alive & ((wh[:, 0] < full_w * r * (1 - 1e-9)) | (wh[:, 1] < full_h * r * (1 - 1e-9)))).sum())
    else:
        cut = 0
    wh = np.ascontiguousarray(wh[alive])
    change = np.abs(np.log(wh[:, 0] / wh[:, 1]) - np.log(full_w[alive] / full_h[alive]))
    kk = min(int(k), len(wh))
    if kk >= 1:
        km = IoUKMeans(kk, n_init=n_init, random_state=random_state).fit(wh / input_size)
        anchors, miou = km.cluster_centers_ * input_size, float(km.mean_iou_)
    else:
        anchors, miou = np.zeros((0, 2)), float("nan")
    return PolicyResult(policy=policy, wh=wh, anchors=anchors, mean_iou=miou,
                        yolo_voc_mean_iou=mean_iou(wh, yolo_voc_anchors() * input_size) if len(wh) else float("nan"),
                        cut=cut, lost=int((~alive).sum()), under_8px=int((wh.min(axis=1) < 8.0).sum()),
                        median_log_aspect_change=float(np.median(change)) if len(change) else float("nan"))


def analyze_resize(dataset: Dataset, *, input_size: int = 416, k: int = 5, n_init: int = 3, random_state: int = 0,
                   include_difficult: bool = False, geometry: ObjectGeometry | None = None) -> ResizeAudit:
    """Box shapes, k-means anchors and losses under each resize policy (see the module docstring).

    Args:
        dataset: the ground truth (image sizes must be positive).
        input_size: the square network input side, pixels (default 416).
        k, n_init, random_state: :class:`~vocbench.anchors.IoUKMeans` settings per policy.
        include_difficult, geometry: as in :func:`~vocbench.audit.analyze_assignment`.
    """
    if int(input_size) <= 0 or not 1 <= int(k) <= 1000:
        raise InputError(f"input size must be positive and k in 1..1000, got {input_size} and {k}")
    geom = geometry if geometry is not None else object_geometry(dataset, include_difficult)
    w_img = dataset.widths[geom.image_index].astype(np.float64)
    h_img = dataset.heights[geom.image_index].astype(np.float64)
    pols = tuple(_policy(p, geom, w_img, h_img, int(input_size), int(k), int(n_init), int(random_state))
                 for p in RESIZE_POLICIES)
    return ResizeAudit(input_size=int(input_size), k=int(k), objects=len(geom.rows), policies=pols)
