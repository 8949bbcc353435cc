"""Inputs for the NMS benchmarks: raw-detector-like clusters around real VOC objects, and uniform random boxes.

Both are deterministic functions of ``(n, seed)`` so every implementation in a run sees the same arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NMS_SIZES", "cluster_boxes", "uniform_boxes", "pick_image"]

#: Benchmark sizes: YOLOv2 13x13x5, MobileNet-SSD, SSD300, SSD512 anchor counts, and 100k.
NMS_SIZES = (845, 1917, 8732, 24564, 100_000)


def pick_image(dataset, seed: int = 0, min_objects: int = 3) -> tuple[np.ndarray, float, float, str]:
    """A VOC image with at least ``min_objects`` objects: ``(gt_boxes float64[G, 4], width, height, image_id)``."""
    counts = np.bincount(dataset.image_index, minlength=dataset.num_images)
    candidates = np.flatnonzero(counts >= min_objects)
    if len(candidates) == 0:
        candidates = np.flatnonzero(counts >= 1)
    img = int(np.random.default_rng(seed).choice(candidates))
    gt = np.asarray(dataset.boxes[dataset.image_index == img], np.float64)
    return gt, float(dataset.widths[img]), float(dataset.heights[img]), str(dataset.image_ids[img])


def cluster_boxes(n: int, gt: np.ndarray, width: float, height: float, seed: int = 0,
                  object_share: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """``n`` boxes as a one-stage detector outputs them before NMS, for one image with ground truth ``gt``.

    ``object_share`` of the boxes are many regressions of the same object: jittered copies of a ground-truth
    box (centre shift ~ N(0, 0.1 size), log-size ~ N(0, 0.15)), scored by how well they fit (IoU² with noise,
    0.3..1). The rest are background anchors anywhere in the image (scale log-uniform 5%..80% of the image,
    aspect 0.5..2) with low scores (< 0.3). Boxes are clipped to the image; continuous coordinates.

    Returns:
        ``(boxes float64[n, 4], scores float64[n])``.
    """
    rng = np.random.default_rng(seed)
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    n_obj = int(round(n * object_share)) if len(gt) else 0
    n_bg = n - n_obj
    boxes = np.empty((n, 4))
    scores = np.empty(n)
    if n_obj:
        which = rng.integers(0, len(gt), n_obj)
        g = gt[which]
        gw = g[:, 2] - g[:, 0]
        gh = g[:, 3] - g[:, 1]
        cx = (g[:, 0] + g[:, 2]) / 2 + rng.normal(0, 0.1, n_obj) * gw
        cy = (g[:, 1] + g[:, 3]) / 2 + rng.normal(0, 0.1, n_obj) * gh
        w = gw * np.exp(rng.normal(0, 0.15, n_obj))
        h = gh * np.exp(rng.normal(0, 0.15, n_obj))
        b = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        iw = np.clip(np.minimum(b[:, 2], g[:, 2]) - np.maximum(b[:, 0], g[:, 0]), 0, None)
        ih = np.clip(np.minimum(b[:, 3], g[:, 3]) - np.maximum(b[:, 1], g[:, 1]), 0, None)
        inter = iw * ih
        iou = inter / (w * h + gw * gh - inter)
        boxes[:n_obj] = b
        scores[:n_obj] = np.clip(0.3 + 0.7 * iou ** 2 * rng.uniform(0.7, 1.0, n_obj), 0, 1)
    if n_bg:
        scale = np.exp(rng.uniform(np.log(0.05), np.log(0.8), n_bg)) * np.sqrt(width * height)
        aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n_bg))
        w = scale * np.sqrt(aspect)
        h = scale / np.sqrt(aspect)
        cx = rng.uniform(0, width, n_bg)
        cy = rng.uniform(0, height, n_bg)
        boxes[n_obj:] = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        scores[n_obj:] = 0.3 * rng.beta(1.0, 8.0, n_bg)
    boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
    boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    perm = rng.permutation(n)
    return boxes[perm], scores[perm]


def uniform_boxes(n: int, seed: int = 0, extent: float = 1000.0, min_size: float = 10.0,
                  max_size: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` boxes with corners uniform in ``[0, extent]²`` and sides uniform in ``[min_size, max_size]``,
    uniform scores. Returns ``(boxes float64[n, 4], scores float64[n])``."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, extent, (n, 2))
    wh = rng.uniform(min_size, max_size, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1), rng.random(n)
