"""Fixed prior (anchor) sets and how well they fit a dataset's boxes.

Units: *normalised* sizes are fractions of the (squashed, square) network input, i.e. a box's ``w / W`` and
``h / H`` for an image of ``W x H`` pixels; *grid* sizes are normalised sizes times the grid size
(``input_size / stride``, 13 for YOLOv2 at 416 px), the unit darknet cfg files store anchors in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vocbench.anchors import _kernels
from vocbench.anchors.kmeans import as_wh
from vocbench.boxes import box_wh
from vocbench.errors import InputError
from vocbench.limits import ANCHOR_LIMITS, MAX_DEFAULT_BOXES, check_count

__all__ = ["YOLO_VOC_ANCHORS", "yolo_voc_anchors", "ssd_scales", "ssd_default_boxes", "SSDConfig", "SSD300",
           "MOBILENET_SSD", "SSD_CONFIGS", "best_possible_recall", "ratio_metric", "positioned_best_iou",
           "normalized_boxes", "normalized_wh", "unique_shapes"]

#: The yolo-voc.cfg (YOLOv2, VOC 07+12) anchors in 13×13 grid cells: (w, h) pairs.
YOLO_VOC_ANCHORS: tuple[tuple[float, float], ...] = (
    (1.3221, 1.73145), (3.19275, 4.00944), (5.05587, 8.09892), (9.47112, 4.84053), (11.2364, 10.0071))


def yolo_voc_anchors(grid_size: int | None = None) -> np.ndarray:
    """The yolo-voc anchors as ``float64[5, 2]`` (w, h): normalised (default) or in cells of a ``grid_size`` grid."""
    a = np.asarray(YOLO_VOC_ANCHORS, np.float64) / 13.0
    return a * grid_size if grid_size else a


def normalized_boxes(dataset, include_difficult: bool = False, pixel_offset: float = 0.0) -> np.ndarray:
    """Ground-truth boxes as ``float64[N, 4]`` ``(x1, y1, x2, y2)`` normalised by the image size (0..1).

    Args:
        dataset: a :class:`vocbench.Dataset`.
        include_difficult: keep boxes marked difficult (default: non-difficult only, as YOLOv2's clustering).
        pixel_offset: added to the width/height. The default 0 takes ``w = xmax − xmin`` (and ``x1 = xmin − 1``,
            the 0-based convention of SSD/YOLO data loaders), which reproduces the published VOC anchors; 1
            gives the devkit's inclusive-pixel width ``xmax − xmin + 1``.
    """
    keep = np.ones(dataset.num_objects, bool) if include_difficult else ~dataset.difficult
    b = dataset.boxes[keep]
    img = dataset.image_index[keep]
    w_img = dataset.widths[img].astype(np.float64)
    h_img = dataset.heights[img].astype(np.float64)
    bad = (w_img <= 0) | (h_img <= 0)
    if bad.any():
        i = int(img[np.flatnonzero(bad)[0]])
        raise InputError(f"image {dataset.image_ids[i]!r} has size {dataset.widths[i]}x{dataset.heights[i]}; "
                         "normalised boxes need a positive <size>")
    x1 = (b[:, 0] - 1.0) / w_img
    y1 = (b[:, 1] - 1.0) / h_img
    x2 = (b[:, 2] - 1.0 + pixel_offset) / w_img
    y2 = (b[:, 3] - 1.0 + pixel_offset) / h_img
    return np.ascontiguousarray(np.stack([x1, y1, x2, y2], axis=1))


def normalized_wh(dataset, include_difficult: bool = False, pixel_offset: float = 0.0,
                  drop_degenerate: bool = True) -> np.ndarray:
    """Box shapes ``float64[N, 2]`` as ``(w / W, h / H)`` — the box space of YOLO/SSD on a squashed input.

    See :func:`normalized_boxes` for the arguments. Zero-size boxes (``xmax == xmin``) are dropped when
    ``drop_degenerate`` (IoU is undefined for them).
    """
    b = normalized_boxes(dataset, include_difficult, pixel_offset)
    wh = box_wh(b, pixel_convention="continuous")  # the offset is already in the normalised corners
    if drop_degenerate:
        wh = wh[(wh > 0).all(axis=1)]
    return np.ascontiguousarray(wh)


def ratio_metric(wh, priors) -> np.ndarray:
    """YOLOv5 autoanchor's fit of every box to its best prior: ``max_p min(w/pw, pw/w, h/ph, ph/h)`` → float64[N]."""
    return _kernels.best_ratio_metric(as_wh(wh), as_wh(priors, "priors"))


def best_possible_recall(wh, priors, threshold: float = 4.0) -> float:
    """Best possible recall (YOLOv5's autoanchor): share of boxes whose best prior has ratio metric > 1/threshold.

    Args:
        wh: float[N, 2] box shapes; priors: float[K, 2] prior shapes, same unit.
        threshold: the anchor-multiple limit (YOLOv5's ``anchor_t``, default 4): a box can be predicted from
            a prior when neither side is more than ``threshold`` times larger or smaller.
    """
    m = ratio_metric(wh, priors)
    return float((m > 1.0 / threshold).mean()) if len(m) else float("nan")


def ssd_scales(num_layers: int, s_min: float = 0.2, s_max: float = 0.9) -> np.ndarray:
    """The SSD paper's scales ``s_k = s_min + (s_max − s_min)(k − 1)/(m − 1)``, k = 1..m, plus ``s_{m+1}``.

    Returns ``float64[m + 1]``; the extra last entry extends the same line (``s_max + step``) and is only used
    for the last layer's extra box ``sqrt(s_m s_{m+1})``.
    """
    num_layers = check_count("num_layers", num_layers)
    if num_layers == 1:
        return np.array([s_min, s_max], np.float64)
    step = (s_max - s_min) / (num_layers - 1)
    return s_min + step * np.arange(num_layers + 1, dtype=np.float64)


@dataclass(frozen=True)
class SSDConfig:
    """A default-box layout: feature-map sizes, scale range and aspect ratios per layer.

    Attributes:
        name: preset name (``"ssd300"``).
        feature_sizes: grid size of every source layer, finest first.
        aspect_ratios: per layer, the ratios r > 1 that add boxes of aspect r and 1/r (besides the two of
            aspect 1: scale ``s_k`` and ``sqrt(s_k s_{k+1})``).
        s_min, s_max: smallest and largest scale (fractions of the input side).
        s_last: ``s_{m+1}`` for the last layer's extra box; None extends the linear formula.
        reduce_first_layer: TensorFlow's MobileNet-SSD layout — the finest layer has only 3 boxes:
            (0.1, aspect 1), (s_min, aspect 2), (s_min, aspect 1/2).
        image_size: input side in pixels (for reporting pixel sizes).
    """

    name: str
    feature_sizes: tuple[int, ...]
    aspect_ratios: tuple[tuple[float, ...], ...]
    s_min: float = 0.2
    s_max: float = 0.9
    s_last: float | None = None
    reduce_first_layer: bool = False
    image_size: int = 300

    def boxes(self) -> np.ndarray:
        """The default boxes, ``float64[P, 4]`` (cx, cy, w, h) normalised — see :func:`ssd_default_boxes`."""
        return ssd_default_boxes(self.feature_sizes, s_min=self.s_min, s_max=self.s_max,
                                 aspect_ratios=self.aspect_ratios, s_last=self.s_last,
                                 reduce_first_layer=self.reduce_first_layer)


#: SSD300 (VGG16, Liu et al. 2016): 38, 19, 10, 5, 3, 1 grids, 4/6/6/6/4/4 boxes per cell → 8732 boxes.
SSD300 = SSDConfig("ssd300", (38, 19, 10, 5, 3, 1), ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)))
#: MobileNet-SSD (TensorFlow layout, 300 px): 19, 10, 5, 3, 2, 1 grids, 3 then 6 boxes per cell → 1917 boxes.
MOBILENET_SSD = SSDConfig("mobilenet-ssd", (19, 10, 5, 3, 2, 1), ((2, 3),) * 6, s_last=1.0,
                          reduce_first_layer=True)
SSD_CONFIGS: dict[str, SSDConfig] = {c.name: c for c in (SSD300, MOBILENET_SSD)}


def _layer_shapes(k: int, scales: np.ndarray, ratios: Sequence[float], reduce: bool) -> list[tuple[float, float]]:
    """(w, h) of the boxes of layer k (0-based) in the standard SSD order."""
    s = float(scales[k])
    if reduce:
        return [(0.1, 0.1), (s * math.sqrt(2.0), s / math.sqrt(2.0)), (s / math.sqrt(2.0), s * math.sqrt(2.0))]
    s_extra = math.sqrt(s * float(scales[k + 1]))
    shapes = [(s, s), (s_extra, s_extra)]
    for r in ratios:
        q = math.sqrt(float(r))
        shapes += [(s * q, s / q), (s / q, s * q)]
    return shapes


def ssd_default_boxes(feature_sizes: Sequence[int], *, image_size: float | None = None, s_min: float = 0.2,
                      s_max: float = 0.9, aspect_ratios: Sequence[float] | Sequence[Sequence[float]] = (2, 3),
                      s_last: float | None = None, reduce_first_layer: bool = False,
                      clip: bool = False) -> np.ndarray:
    """SSD default boxes (priors) from the SSD paper's formula.

    Layer k (1-based, of m) has scale ``s_k = s_min + (s_max − s_min)(k − 1)/(m − 1)``. Every cell (i, j) of an
    ``f × f`` grid holds, centred at ``((j + 0.5)/f, (i + 0.5)/f)``, the boxes — in this order —
    ``(s_k, s_k)``, ``(s'_k, s'_k)`` with ``s'_k = sqrt(s_k s_{k+1})``, then for each ratio r:
    ``(s_k √r, s_k / √r)`` and ``(s_k / √r, s_k √r)`` (aspect r, then 1/r).

    Order: layer by layer (finest grid first); within a layer row by row (i), then column (j), then the boxes
    of the cell as above — the order of ssd.pytorch's ``PriorBox`` and of the Caffe ``mbox_priorbox`` concat.

    Args:
        feature_sizes: grid sizes, finest first, e.g. ``(38, 19, 10, 5, 3, 1)``.
        image_size: None (default) returns normalised coordinates in [0, 1]; a number returns pixels.
        s_min, s_max: the smallest and largest scale (default 0.2, 0.9 as in the paper).
        aspect_ratios: ratios r > 1, either one tuple for every layer or one tuple per layer
            (SSD300: ``((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))``).
        s_last: ``s_{m+1}`` for the last layer's extra box (default None: ``s_max + step``, the formula's line
            extended; MobileNet-SSD's TensorFlow layout uses 1.0).
        reduce_first_layer: the finest layer gets only (0.1, aspect 1), (s_min, aspect 2), (s_min, aspect 1/2)
            (TensorFlow's ``reduce_boxes_in_lowest_layer``, used by MobileNet-SSD).
        clip: clip the boxes (as corners) to the unit square.

    Returns:
        float64[P, 4] as ``(cx, cy, w, h)``; SSD300 → 8732 rows, MobileNet-SSD → 1917 rows.
    """
    sizes = _feature_sizes(feature_sizes)
    m = len(sizes)
    ratios = _per_layer_ratios(aspect_ratios, m)
    total = sum(f * f * len(_layer_shapes(k, np.ones(m + 1), ratios[k], reduce_first_layer and k == 0))
                for k, f in enumerate(sizes))
    if total > MAX_DEFAULT_BOXES:  # before anything is allocated
        raise InputError(f"feature_sizes {sizes}: {total:,} default boxes, above the maximum {MAX_DEFAULT_BOXES:,}")
    scales = ssd_scales(m, s_min, s_max)
    if s_last is not None:
        scales[m] = s_last
    out = []
    for k, f in enumerate(sizes):
        shapes = np.asarray(_layer_shapes(k, scales, ratios[k], reduce_first_layer and k == 0), np.float64)
        c = (np.arange(f, dtype=np.float64) + 0.5) / f
        cy, cx = np.meshgrid(c, c, indexing="ij")  # row i → cy, column j → cx
        n_cells, n_shapes = f * f, len(shapes)
        layer = np.empty((n_cells, n_shapes, 4), np.float64)
        layer[:, :, 0] = cx.reshape(-1, 1)
        layer[:, :, 1] = cy.reshape(-1, 1)
        layer[:, :, 2] = shapes[:, 0]
        layer[:, :, 3] = shapes[:, 1]
        out.append(layer.reshape(-1, 4))
    boxes = np.concatenate(out, axis=0)
    if clip:
        x1 = np.clip(boxes[:, 0] - boxes[:, 2] / 2, 0, 1)
        y1 = np.clip(boxes[:, 1] - boxes[:, 3] / 2, 0, 1)
        x2 = np.clip(boxes[:, 0] + boxes[:, 2] / 2, 0, 1)
        y2 = np.clip(boxes[:, 1] + boxes[:, 3] / 2, 0, 1)
        boxes = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    if image_size is not None:
        boxes = boxes * float(image_size)
    return np.ascontiguousarray(boxes)


def _feature_sizes(feature_sizes: Sequence[int]) -> list[int]:
    """The grid sizes as ints, each in ``ANCHOR_LIMITS["feature_size"]``, at most ``ANCHOR_LIMITS["num_layers"]``
    of them (read one by one: an endless iterator is refused), never truncated (2.5 is refused)."""
    most = ANCHOR_LIMITS["num_layers"][1]
    sizes: list[int] = []
    for f in feature_sizes:
        if len(sizes) == most:
            raise InputError(f"feature_sizes: more than {most} feature maps")
        sizes.append(check_count("feature_sizes entry", f, "feature_size"))
    if not sizes:
        raise InputError("feature_sizes: need at least one feature map")
    return sizes


def _per_layer_ratios(aspect_ratios, m: int) -> list[tuple[float, ...]]:
    ar = list(aspect_ratios)
    if ar and all(isinstance(a, (int, float, np.integer, np.floating)) for a in ar):
        return [tuple(float(a) for a in ar)] * m
    if len(ar) != m:
        raise InputError(f"aspect_ratios: expected one tuple per feature map ({m}), got {len(ar)}")
    return [tuple(float(a) for a in layer) for layer in ar]


def unique_shapes(config: SSDConfig) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (w, h) of a layout and the layer of each: ``(float64[S, 2], int64[S])``."""
    m = len(config.feature_sizes)
    ratios = _per_layer_ratios(config.aspect_ratios, m)
    scales = ssd_scales(m, config.s_min, config.s_max)
    if config.s_last is not None:
        scales[m] = config.s_last
    shapes, layer = [], []
    for k in range(m):
        for s in _layer_shapes(k, scales, ratios[k], config.reduce_first_layer and k == 0):
            shapes.append(s)
            layer.append(k)
    return np.asarray(shapes, np.float64), np.asarray(layer, np.int64)


def positioned_best_iou(boxes, config: SSDConfig) -> np.ndarray:
    """For every ground-truth box the highest IoU with any default box of ``config`` at its real position.

    Args:
        boxes: float[N, 4] ``(x1, y1, x2, y2)`` normalised to [0, 1] (see :func:`normalized_boxes`).
        config: the (unclipped) default-box layout.

    Returns:
        float64[N]. Exact (equal to the IoU against all P default boxes) but O(N × shapes), not O(N × P).
    """
    b = np.ascontiguousarray(np.asarray(boxes, np.float64))
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"boxes: expected shape (N, 4), got {b.shape}")
    shapes, layer = unique_shapes(config)
    return _kernels.positioned_best_iou(b, np.asarray(config.feature_sizes, np.int64),
                                        np.ascontiguousarray(shapes[:, 0]), np.ascontiguousarray(shapes[:, 1]),
                                        layer)
