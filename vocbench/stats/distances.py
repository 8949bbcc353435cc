"""Distances between distributions — the one module for them — and between the box and image distributions of two
datasets (e.g. a synthetic set against VOC).

Distances between samples: :func:`total_variation` (histograms), :func:`histogram_tv`, :func:`wasserstein_1d`,
:func:`ks_statistic` (used here and by :func:`vocbench.synth.profile.layout_distances`).

Every feature is compared two ways:

* ``tv`` — total-variation distance ``½ Σ |p_i − q_i|`` between the two normalised histograms on fixed bins
  (listed in :data:`FEATURE_BINS`): 0 for identical histograms, 1 for disjoint ones.
* ``w1`` — Wasserstein-1 (earth mover's) distance between the two empirical distributions, exact, in the
  feature's unit: ``∫ |F_a(x) − F_b(x)| dx``.

Features (boxes are non-difficult unless ``include_difficult``; box geometry is :mod:`vocbench.boxes`' under the
VOC '+1' pixel convention, ``w = xmax − xmin + 1``, as the evaluator and the dataset report measure boxes):
    objects_per_image: non-difficult objects per image (images without any count as 0).
    box_area: ``(w / W) · (h / H)``, the box area as a fraction of the image (0..1).
    box_log_aspect: ``ln(w / h)`` in pixels (the object's true shape; 0 = square).
    image_aspect: ``W / H`` of every image.
    box_center_x, box_center_y: box centre as a fraction of the image side.
    class_share: the per-class share of boxes (``tv`` only; needs the same class list).
"""

from __future__ import annotations

import numpy as np

from vocbench.boxes import box_convert
from vocbench.structures import Dataset

__all__ = ["FEATURE_BINS", "distribution_features", "distribution_distances", "total_variation",
           "wasserstein_1d", "histogram_tv", "ks_statistic"]

#: Histogram bin edges used for the ``tv`` distances (integer features get unit bins instead).
FEATURE_BINS: dict[str, np.ndarray] = {
    "box_area": np.linspace(0.0, 1.0, 51),
    "box_log_aspect": np.linspace(-3.0, 3.0, 61),
    "image_aspect": np.linspace(0.2, 3.0, 57),
    "box_center_x": np.linspace(0.0, 1.0, 21),
    "box_center_y": np.linspace(0.0, 1.0, 21),
}


def distribution_features(dataset: Dataset, include_difficult: bool = False) -> dict[str, np.ndarray]:
    """The samples behind each compared distribution (see the module docstring), as float64 arrays."""
    keep = np.ones(dataset.num_objects, bool) if include_difficult else ~dataset.difficult
    b = dataset.boxes[keep]
    img = dataset.image_index[keep]
    W = dataset.widths[img].astype(np.float64)
    H = dataset.heights[img].astype(np.float64)
    ok = (W > 0) & (H > 0)
    n = box_convert(b[ok], "xyxy", "ncxcywh", image_size=np.stack([W[ok], H[ok]], axis=1))
    good_box = (n[:, 2] > 0) & (n[:, 3] > 0)
    n = n[good_box]
    iw = dataset.widths.astype(np.float64)
    ih = dataset.heights.astype(np.float64)
    good = (iw > 0) & (ih > 0)
    w_px, h_px = n[:, 2] * W[ok][good_box], n[:, 3] * H[ok][good_box]
    return {
        "objects_per_image": np.bincount(img, minlength=dataset.num_images).astype(np.float64),
        "box_area": n[:, 2] * n[:, 3],
        "box_log_aspect": np.log(w_px / h_px),
        "image_aspect": iw[good] / ih[good],
        "box_center_x": n[:, 0],
        "box_center_y": n[:, 1],
        "class_index": dataset.class_index[keep][ok][good_box].astype(np.float64),
    }


def total_variation(p, q) -> float:
    """``½ Σ |p/Σp − q/Σq|`` of two histograms on the same bins (NaN if either is empty)."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def histogram_tv(a, b, edges) -> float:
    """Total variation between the histograms of samples ``a`` and ``b`` on ``edges`` (values clipped in)."""
    edges = np.asarray(edges, np.float64)
    lo, hi = edges[0], edges[-1]
    ha, _ = np.histogram(np.clip(a, lo, hi), edges)
    hb, _ = np.histogram(np.clip(b, lo, hi), edges)
    return total_variation(ha, hb)


def wasserstein_1d(a, b) -> float:
    """Exact Wasserstein-1 distance of two 1-D empirical distributions (equal weights per sample)."""
    a = np.sort(np.asarray(a, np.float64))
    b = np.sort(np.asarray(b, np.float64))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    x = np.concatenate([a, b])
    x.sort(kind="mergesort")
    dx = np.diff(x)
    fa = np.searchsorted(a, x[:-1], side="right") / len(a)
    fb = np.searchsorted(b, x[:-1], side="right") / len(b)
    return float(np.sum(np.abs(fa - fb) * dx))


def ks_statistic(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs (NaN if empty)."""
    a = np.sort(np.asarray(a, np.float64))
    b = np.sort(np.asarray(b, np.float64))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b)
    return float(np.max(np.abs(gap)))


def distribution_distances(a: Dataset, b: Dataset, include_difficult: bool = False) -> dict[str, dict[str, float]]:
    """Distances between the distributions of ``a`` and ``b``: ``{feature: {"tv": .., "w1": ..}}``.

    Features and measures are described in the module docstring; ``class_share`` (tv only) is present when
    both datasets have the same classes. Symmetric in ``a`` and ``b``; 0 for a dataset against itself.
    """
    fa = distribution_features(a, include_difficult)
    fb = distribution_features(b, include_difficult)
    out: dict[str, dict[str, float]] = {}
    n_max = int(max(fa["objects_per_image"].max(initial=0), fb["objects_per_image"].max(initial=0)))
    edges = np.arange(n_max + 2) - 0.5
    out["objects_per_image"] = {"tv": histogram_tv(fa["objects_per_image"], fb["objects_per_image"], edges),
                                "w1": wasserstein_1d(fa["objects_per_image"], fb["objects_per_image"])}
    for name, e in FEATURE_BINS.items():
        out[name] = {"tv": histogram_tv(fa[name], fb[name], e), "w1": wasserstein_1d(fa[name], fb[name])}
    if tuple(a.classes) == tuple(b.classes):
        n = len(a.classes)
        out["class_share"] = {"tv": total_variation(np.bincount(fa["class_index"].astype(np.int64), minlength=n),
                                                    np.bincount(fb["class_index"].astype(np.int64), minlength=n))}
    return out
