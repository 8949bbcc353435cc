"""The whole anchor analysis of a box set: k-means anchors, the mean-IoU curve, fixed prior sets compared."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from vocbench.anchors.kmeans import as_wh, iou_kmeans_curve, mean_iou, sse_kmeans_curve
from vocbench.anchors.priors import (
    SSD_CONFIGS,
    best_possible_recall,
    normalized_boxes,
    positioned_best_iou,
    unique_shapes,
    yolo_voc_anchors,
)
from vocbench.errors import InputError
from vocbench.limits import ANCHOR_LIMITS, check_count, check_ks

__all__ = ["AnchorAnalysis", "CurvePoint", "PriorFit", "analyze_anchors", "analyze_dataset_anchors",
           "darknet_anchors_line", "parse_k_range"]


@dataclass(frozen=True)
class CurvePoint:
    """One k of the curve: IoU k-means vs the Euclidean (SSE) k-means on the same (w, h)."""

    k: int
    mean_iou: float
    sse_mean_iou: float
    anchors_norm: np.ndarray = field(repr=False)
    converged: bool = True


@dataclass(frozen=True)
class PriorFit:
    """How well one prior set fits the boxes.

    Attributes:
        name: ``"kmeans"``, ``"yolo-voc"``, ``"ssd300"``, ``"mobilenet-ssd"``.
        n_priors: number of priors (SSD: all default boxes, e.g. 8732).
        n_shapes: distinct (w, h) among them.
        mean_iou: mean over boxes of the aligned (shape-only) IoU with the best prior shape.
        bpr: best possible recall (YOLOv5 autoanchor, threshold 4).
        positioned_match: SSD only — share of boxes with a default box at its real grid position of IoU > 0.5
            (NaN for shape-only prior sets).
    """

    name: str
    n_priors: int
    n_shapes: int
    mean_iou: float
    bpr: float
    positioned_match: float = float("nan")

    def to_dict(self) -> dict:
        d = {"mean_iou": self.mean_iou, "bpr": self.bpr, "n_priors": self.n_priors, "n_shapes": self.n_shapes}
        if self.positioned_match == self.positioned_match:
            d["positioned_match"] = self.positioned_match
        return d


@dataclass(frozen=True)
class AnchorAnalysis:
    """Result of :func:`analyze_anchors`.

    Attributes:
        k: number of anchors chosen.
        anchors_norm: float64[k, 2] (w, h) as fractions of the input side, sorted by area.
        anchors_grid: float64[k, 2] the same in grid cells (``input_size / stride`` per side).
        mean_iou: mean IoU of the boxes with their closest anchor.
        bpr: best possible recall of the anchors (threshold 4).
        labels: int64[N] the anchor of every box (for plots; not in ``to_dict``).
        wh: float64[N, 2] the box shapes analysed (normalised; not in ``to_dict``).
        curve: one :class:`CurvePoint` per k of the curve (empty when no curve was asked for).
        priors: name → :class:`PriorFit` (the k-means anchors, yolo-voc, ssd300, mobilenet-ssd).
        input_size, stride: the network input side (px) and output stride; grid = input_size / stride.
        n_init, random_state, centroid: the k-means settings.
    """

    k: int
    anchors_norm: np.ndarray
    anchors_grid: np.ndarray
    mean_iou: float
    bpr: float
    labels: np.ndarray = field(repr=False)
    wh: np.ndarray = field(repr=False)
    curve: tuple[CurvePoint, ...] = ()
    priors: dict[str, PriorFit] = field(default_factory=dict)
    input_size: int = 416
    stride: int = 32
    n_init: int = 5
    random_state: int = 0
    centroid: str = "mean"

    @property
    def grid_size(self) -> float:
        return self.input_size / self.stride

    @property
    def n_boxes(self) -> int:
        return len(self.wh)

    def darknet_line(self, decimals: int = 2) -> str:
        """The ``anchors=`` line of a darknet cfg (grid cells)."""
        return darknet_anchors_line(self.anchors_grid, decimals)

    def to_dict(self) -> dict:
        return {
            "k": self.k, "n_boxes": self.n_boxes, "input_size": self.input_size, "stride": self.stride,
            "grid_size": self.grid_size, "centroid": self.centroid, "n_init": self.n_init,
            "random_state": self.random_state,
            "anchors_norm": self.anchors_norm.tolist(), "anchors_grid": self.anchors_grid.tolist(),
            "mean_iou": self.mean_iou, "bpr": self.bpr, "darknet": self.darknet_line(),
            "curve": [{"k": c.k, "mean_iou": c.mean_iou, "sse_mean_iou": c.sse_mean_iou} for c in self.curve],
            "priors": {name: p.to_dict() for name, p in self.priors.items()},
        }

    def to_pandas(self, table: str = "priors") -> pd.DataFrame:
        """A table of the analysis: ``"priors"`` (the prior-set comparison, one row per prior set; the default),
        ``"anchors"`` (the chosen anchors: normalised, in grid cells and in input pixels) or ``"curve"`` (mean IoU vs k,
        IoU k-means and Euclidean k-means)."""
        if table == "anchors":
            return self._anchors_frame()
        if table == "curve":
            return self._curve_frame()
        if table != "priors":
            raise ValueError(f"table must be 'priors', 'anchors' or 'curve', got {table!r}")
        return pd.DataFrame([{"priors": p.name, "n_priors": p.n_priors, "n_shapes": p.n_shapes,
                              "mean_iou": p.mean_iou, "bpr": p.bpr, "positioned_match": p.positioned_match}
                             for p in self.priors.values()])

    def _anchors_frame(self) -> pd.DataFrame:
        a = self.anchors_norm
        return pd.DataFrame({"anchor": np.arange(1, self.k + 1), "w_norm": a[:, 0], "h_norm": a[:, 1],
                             "w_grid": self.anchors_grid[:, 0], "h_grid": self.anchors_grid[:, 1],
                             "w_px": a[:, 0] * self.input_size, "h_px": a[:, 1] * self.input_size,
                             "boxes": np.bincount(self.labels, minlength=self.k)})

    def _curve_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"k": c.k, "mean_iou": c.mean_iou, "sse_mean_iou": c.sse_mean_iou}
                             for c in self.curve])

    def __str__(self) -> str:
        g = self.grid_size
        lines = [f"IoU k-means anchors: k={self.k}, {self.n_boxes} boxes, mean IoU {self.mean_iou:.4f}, "
                 f"BPR {self.bpr:.4f} (grid {g:g}x{g:g} for {self.input_size} px, stride {self.stride})",
                 self.to_pandas("anchors").to_string(index=False, float_format=lambda v: f"{v:.4f}"), ""]
        if self.curve:
            lines += ["mean IoU vs k (IoU k-means, Euclidean k-means):",
                      self.to_pandas("curve").to_string(index=False, float_format=lambda v: f"{v:.4f}"), ""]
        if self.priors:
            lines += ["prior sets:", self.to_pandas().to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                                               na_rep="-"), ""]
        lines.append(self.darknet_line())
        return "\n".join(lines)


def darknet_anchors_line(anchors_grid, decimals: int = 2) -> str:
    """``anchors = w1,h1,  w2,h2, ...`` as in a darknet ``[region]``/``[yolo]`` section (grid cells)."""
    a = np.asarray(anchors_grid, np.float64).reshape(-1, 2)
    return "anchors = " + ",  ".join(f"{w:.{decimals}f},{h:.{decimals}f}" for w, h in a)


def parse_k_range(text: str) -> list[int]:
    """``"1-15"`` → [1, ..., 15]; ``"3,5,9"`` and mixtures like ``"1-5,9"`` work too. Every k must be in
    ``ANCHOR_LIMITS["n_clusters"]`` (1..1000, :mod:`vocbench.limits`), checked before a range is built."""
    ks: set[int] = set()
    low, high = ANCHOR_LIMITS["n_clusters"]
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            ends = [int(p) for p in part.split("-", 1)] if "-" in part else [int(part)]
            for e in ends:  # checked before a range is built
                if e < low:
                    raise InputError(f"bad k range {text!r}: k must be >= {low}")
                if e > high:
                    raise InputError(f"bad k range {text!r}: k = {e} is above the maximum {high}")
            ks.update(range(ends[0], ends[-1] + 1))
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"bad k range {text!r}: expected e.g. '1-15' or '3,5,9'") from None
    if not ks:
        raise InputError(f"bad k range {text!r}: no k")
    return sorted(ks)


def analyze_anchors(wh, *, k: int = 5, curve: Iterable[int] | None = range(1, 16), n_init: int = 5,
                    max_iter: int = 300, centroid: Literal["mean", "median"] = "mean", random_state: int = 0,
                    input_size: int = 416, stride: int = 32, boxes=None, sse_baseline: bool = False,
                    priors: Iterable[str] = ("yolo-voc", "ssd300", "mobilenet-ssd")) -> AnchorAnalysis:
    """Run the anchor analysis on normalised box shapes.

    Args:
        wh: float[N, 2] box (w, h) as fractions of the image side (:func:`~vocbench.anchors.normalized_wh`).
        k: the number of anchors to report.
        curve: the ks of the mean-IoU curve (None or empty: no curve; ks above the number of boxes are left
            out). ``k`` is always fitted as part of the
            same chain (see :func:`~vocbench.anchors.iou_kmeans_curve`), so the anchors reported for ``k`` are
            the curve's.
        n_init: restarts per k (one of them the warm start from the previous k).
        max_iter, centroid, random_state: k-means settings (:class:`~vocbench.anchors.IoUKMeans`).
        input_size, stride: network input side (px) and output stride; anchors in grid cells are
            ``anchors_norm * input_size / stride`` (13 cells for 416/32).
        boxes: optional float[N, 4] normalised ``(x1, y1, x2, y2)`` of the same boxes, for the positioned SSD
            match (share of boxes with a default box of IoU > 0.5 at its real position).
        sse_baseline: also fit scikit-learn's Euclidean k-means for every k of the curve (YOLOv2's baseline; off
            by default: on VOC07+12 it takes ~10x the time of the IoU k-means curve itself).
        priors: fixed prior sets to evaluate (any of ``"yolo-voc"``, ``"ssd300"``, ``"mobilenet-ssd"``).
    """
    wh = as_wh(wh)
    curve = check_ks(curve, "curve") if curve is not None else []  # bounded before anything is built
    k = check_count("k", k, "n_clusters")
    input_size, stride = check_count("input_size", input_size), check_count("stride", stride)
    n_init, max_iter = check_count("n_init", n_init), check_count("max_iter", max_iter)
    if len(wh) < int(k):
        raise InputError(f"need at least k={k} boxes to fit {k} anchors, got {len(wh)}")
    # ks above the number of boxes cannot be fitted: the curve stops there
    curve_ks = sorted({int(c) for c in curve if int(c) <= len(wh)})
    all_ks = sorted(set(curve_ks) | {int(k)})
    fits = iou_kmeans_curve(wh, all_ks, n_init=n_init, max_iter=max_iter, centroid=centroid,
                            random_state=random_state)
    by_k = {f.n_clusters: f for f in fits}
    sse = {kk: m for kk, _, m in sse_kmeans_curve(wh, curve_ks, n_init=n_init, random_state=random_state)} \
        if sse_baseline and curve_ks else {}
    points = tuple(CurvePoint(kk, by_k[kk].mean_iou_, sse.get(kk, float("nan")), by_k[kk].cluster_centers_,
                              by_k[kk].converged_) for kk in curve_ks)
    chosen = by_k[int(k)]
    grid = input_size / stride
    fits_out: dict[str, PriorFit] = {
        "kmeans": PriorFit("kmeans", int(k), int(k), chosen.mean_iou_,
                           best_possible_recall(wh, chosen.cluster_centers_)),
    }
    b = None if boxes is None else np.asarray(boxes, np.float64)
    if b is not None and b.shape != (len(wh), 4):
        raise InputError(f"boxes: expected shape ({len(wh)}, 4) matching wh, got {b.shape}")
    for name in priors:
        if name == "yolo-voc":
            a = yolo_voc_anchors()
            fits_out[name] = PriorFit(name, len(a), len(a), mean_iou(wh, a), best_possible_recall(wh, a))
        elif name in SSD_CONFIGS:
            cfg = SSD_CONFIGS[name]
            shapes, _ = unique_shapes(cfg)
            shapes_u = np.unique(np.round(shapes, 12), axis=0)
            pos = float((positioned_best_iou(b, cfg) > 0.5).mean()) if b is not None and len(b) else float("nan")
            fits_out[name] = PriorFit(name, len(cfg.boxes()), len(shapes_u), mean_iou(wh, shapes_u),
                                      best_possible_recall(wh, shapes_u), pos)
        else:
            raise InputError(f"unknown prior set {name!r}; known: yolo-voc, {', '.join(SSD_CONFIGS)}")
    return AnchorAnalysis(
        k=int(k), anchors_norm=chosen.cluster_centers_, anchors_grid=chosen.cluster_centers_ * grid,
        mean_iou=chosen.mean_iou_, bpr=fits_out["kmeans"].bpr, labels=chosen.labels_, wh=wh, curve=points,
        priors=fits_out, input_size=int(input_size), stride=int(stride), n_init=int(n_init),
        random_state=int(random_state), centroid=centroid,
    )


def analyze_dataset_anchors(dataset, *, include_difficult: bool = False, pixel_offset: float = 0.0,
                            **kwargs) -> AnchorAnalysis:
    """:func:`analyze_anchors` on a :class:`~vocbench.Dataset`'s normalised boxes (non-difficult by default)."""
    b = normalized_boxes(dataset, include_difficult, pixel_offset)
    wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    keep = (wh > 0).all(axis=1)
    if not keep.any():
        raise InputError(f"{dataset.root or 'dataset'}: no boxes to cluster"
                         + ("" if include_difficult else " (difficult boxes are excluded)"))
    return analyze_anchors(np.ascontiguousarray(wh[keep]), boxes=np.ascontiguousarray(b[keep]), **kwargs)
