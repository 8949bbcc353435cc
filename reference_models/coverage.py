"""Prior/anchor coverage by object size: for each size bin, the share of ground-truth objects that have at least
one prior (SSD default box, or YOLO anchor placed at a cell centre) with IoU above a threshold.

A detector can only learn an object well when some prior is close to it: SSD matches default boxes with IoU > 0.5
to a truth, and a YOLO detector starts from its anchor at the centre of its cell (``σ(tx) = σ(ty) = 0.5``,
``tw = th = 0``). Coverage is measured with the priors **at their positions**, so a finer grid (a stride-16 YOLO
head, a stride-8 SSD map) shows up as better coverage of small objects even with the same prior shapes.

Box space: normalised ``(x1, y1, x2, y2)`` on the square network input (images are squashed to it); object size
is ``√(w·h)`` in pixels **at the network input** (``input_size`` px side). IoUs come from
:func:`vocbench.boxes.box_iou` (continuous convention); the shape-only best possible recall of YOLOv5's autoanchor
from :func:`vocbench.anchors.best_possible_recall`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from vocbench.anchors import best_possible_recall, normalized_boxes
from vocbench.boxes import box_iou

__all__ = ["SIZE_BINS", "CoverageResult", "prior_coverage", "model_priors", "model_coverage", "size_bin_labels",
           "describe_layout"]

#: Edges (px at the network input, ``√(w·h)``) of the size bins: <16, 16–32, 32–64, 64–128, ≥128.
SIZE_BINS: tuple[float, ...] = (0.0, 16.0, 32.0, 64.0, 128.0, math.inf)


def size_bin_labels(edges: Sequence[float] = SIZE_BINS) -> list[str]:
    """``["<16", "16–32", ..., "≥128"]`` for bin edges ``[lo, hi)``."""
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo <= 0:
            out.append(f"<{hi:g}")
        elif math.isinf(hi):
            out.append(f"≥{lo:g}")
        else:
            out.append(f"{lo:g}–{hi:g}")
    return out


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of ground-truth objects by a prior set, per size bin.

    Attributes:
        name: what was measured (model and layout).
        input_size: network input side (px); sizes are measured there.
        iou_threshold: an object is covered when some prior has IoU > this.
        bins: bin labels; edges: the bin edges ``[lo, hi)`` in px (``√(w·h)`` at the input).
        objects: objects per bin; covered: covered objects per bin.
        bpr: per bin, YOLOv5's shape-only best possible recall (ratio metric, ``anchor_t = 4``) against the
            distinct prior shapes (NaN for an empty bin).
        priors: number of priors.
    """

    name: str
    input_size: int
    iou_threshold: float
    bins: tuple[str, ...]
    edges: tuple[float, ...]
    objects: tuple[int, ...]
    covered: tuple[int, ...]
    bpr: tuple[float, ...]
    priors: int

    @property
    def fraction(self) -> tuple[float, ...]:
        """Covered share per bin (NaN for an empty bin)."""
        return tuple(c / n if n else float("nan") for c, n in zip(self.covered, self.objects))

    @property
    def overall(self) -> float:
        """Covered share of all objects."""
        n = sum(self.objects)
        return sum(self.covered) / n if n else float("nan")

    def to_dict(self) -> dict:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        d["edges"] = [None if math.isinf(e) else e for e in self.edges]
        d["fraction"] = list(self.fraction)
        d["overall"] = self.overall
        return d

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({"size (px at input)": list(self.bins), "objects": list(self.objects),
                             "covered": list(self.covered), "coverage": list(self.fraction),
                             "shape BPR": list(self.bpr)})

    def __str__(self) -> str:
        head = (f"{self.name}: {self.priors} priors, IoU > {self.iou_threshold:g}, {sum(self.objects)} objects, "
                f"coverage {self.overall:.3f}")
        rows = [f"  {b:>8}  {n:7d} objects  {f:6.3f}" for b, n, f in zip(self.bins, self.objects, self.fraction)]
        return "\n".join([head, *rows])


def _best_iou(boxes: np.ndarray, priors: np.ndarray, chunk: int = 1024) -> np.ndarray:
    best = np.zeros(len(boxes), np.float64)
    for start in range(0, len(boxes), chunk):
        iou = box_iou(boxes[start:start + chunk], priors, pixel_convention="continuous")
        best[start:start + chunk] = iou.max(1) if iou.shape[1] else 0.0
    return best


def prior_coverage(boxes, priors, input_size: int, *, iou_threshold: float = 0.5,
                   edges: Sequence[float] = SIZE_BINS, name: str = "") -> CoverageResult:
    """Coverage of ``boxes`` by ``priors`` per size bin.

    Args:
        boxes: float[N, 4] ground truth, normalised ``(x1, y1, x2, y2)`` on the square input.
        priors: float[P, 4] priors, normalised ``(x1, y1, x2, y2)`` (see :func:`model_priors`).
        input_size: network input side in px (object size = ``√(w·h)·input_size``).
        iou_threshold: covered when the best prior IoU is strictly above this (SSD's positive rule).
        edges: increasing bin edges in px, bins ``[lo, hi)`` (objects outside them are not counted).
        name: label of the result.
    """
    b = np.ascontiguousarray(np.asarray(boxes, np.float64).reshape(-1, 4))
    p = np.ascontiguousarray(np.asarray(priors, np.float64).reshape(-1, 4))
    e = np.asarray(edges, np.float64)
    if len(e) < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must increase, got {list(edges)}")
    wh = np.clip(b[:, 2:] - b[:, :2], 0.0, None)
    size = np.sqrt(wh[:, 0] * wh[:, 1]) * float(input_size)
    best = _best_iou(b, p)
    which = np.searchsorted(e, size, side="right") - 1  # bin [lo, hi)
    prior_wh = np.unique(p[:, 2:] - p[:, :2], axis=0)
    objects, covered, bpr = [], [], []
    for k in range(len(e) - 1):
        sel = which == k
        objects.append(int(sel.sum()))
        covered.append(int((best[sel] > iou_threshold).sum()))
        ok = sel & (wh > 0).all(1)
        bpr.append(best_possible_recall(wh[ok], prior_wh) if ok.any() and len(prior_wh) else float("nan"))
    return CoverageResult(name=name, input_size=int(input_size), iou_threshold=float(iou_threshold),
                          bins=tuple(size_bin_labels([float(v) for v in e])), edges=tuple(float(v) for v in e),
                          objects=tuple(objects),
                          covered=tuple(covered), bpr=tuple(float(v) for v in bpr), priors=len(p))


def model_priors(model) -> np.ndarray:
    """The priors of a reference model as normalised ``float64[P, 4]`` ``(x1, y1, x2, y2)``.

    SSD: its default boxes (unclipped). YOLO: every anchor of every head at the centre of every cell of that
    head's grid (``(col + 0.5, row + 0.5)·stride``) — where the detector starts before any offset is learnt.
    """
    if model.name == "ssdlite":
        c = model.priors.detach().cpu().double().numpy()
        return np.ascontiguousarray(np.c_[c[:, :2] - c[:, 2:] / 2, c[:, :2] + c[:, 2:] / 2])
    out = []
    for h, stride in enumerate(getattr(model, "strides", (32,))):
        grid = model.input_size // int(stride)
        anchors = model.anchors_for_head(h).detach().cpu().double().numpy() / grid  # fractions of the image
        centre = (np.arange(grid, dtype=np.float64) + 0.5) / grid
        cy, cx = np.meshgrid(centre, centre, indexing="ij")
        cxy = np.stack((cx.ravel(), cy.ravel()), 1)[:, None, :]  # [S·S, 1, 2]
        half = anchors[None, :, :] / 2  # [1, B, 2]
        out.append(np.concatenate((cxy - half, cxy + half), -1).reshape(-1, 4))
    return np.ascontiguousarray(np.concatenate(out, 0))


def model_coverage(model, dataset, *, iou_threshold: float = 0.5, edges: Sequence[float] = SIZE_BINS,
                   include_difficult: bool = False, name: str | None = None) -> CoverageResult:
    """:func:`prior_coverage` of ``dataset``'s objects (non-difficult unless ``include_difficult``, normalised by
    :func:`vocbench.anchors.normalized_boxes`) by ``model``'s priors at its input size."""
    boxes = normalized_boxes(dataset, include_difficult=include_difficult)
    return prior_coverage(boxes, model_priors(model), model.input_size, iou_threshold=iou_threshold, edges=edges,
                          name=name or describe_layout(model))


def describe_layout(model) -> str:
    """``yolov2_tiny (stride 32, 5 anchors)``, ``ssdlite (6 maps + stride 8)`` and the like."""
    if model.name == "ssdlite":
        extra = " + stride-8 map" if getattr(model, "extra_stride8", False) else ""
        return f"{model.name} (6 maps{extra}, {model.input_size} px)"
    strides = getattr(model, "strides", (32,))
    heads = " + ".join(f"stride {s}: {len(i)}" for s, i in zip(strides, model.head_anchors))
    return f"{model.name} ({heads} anchors, {model.input_size} px)"
