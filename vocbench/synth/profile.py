"""Layout profiles: the statistics of a VOC-format dataset that the synthetic generator reproduces.

A :class:`LayoutProfile` holds what a layout needs — image shapes, objects per image, box sizes (conditioned on
how crowded the image is), how often a box reaches the image border, class frequencies, per-class box aspect
ratios and how often a crowded image repeats a class. :data:`VOC0712_PROFILE` is measured once from the real
PASCAL VOC2007+2012 trainval annotations (16,551 images, 47,223 objects) by :func:`profile_from_dataset`; the
numbers are embedded so that a fresh machine without VOC gets VOC-like layouts, and a test re-measures them
from the real annotations.

Definitions (used by the profile, the generator and the tests alike):
    size: ``sqrt(box_w * box_h / (image_w * image_h))`` — the box's side relative to the image, in ``[0, 1]``,
        from VOC 1-based inclusive boxes (``box_w = xmax - xmin + 1``).
    aspect: ``log(box_w / box_h)`` (natural log; 0 = square, > 0 = wide).
    touches the border: ``xmin == 1 or ymin == 1 or xmax == width or ymax == height``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocbench.boxes import box_wh
from vocbench.stats.distances import histogram_tv, ks_statistic, total_variation, wasserstein_1d
from vocbench.structures import VOC_CLASSES, Dataset

__all__ = ["LayoutProfile", "VOC0712_PROFILE", "profile_from_dataset", "SIZE_BINS", "CROWD_BUCKETS",
           "crowd_bucket", "box_sizes", "box_log_aspects", "touches_border", "layout_distances"]

#: Edges of the 20 size bins (``size`` as defined above) used for the size and border histograms.
SIZE_BINS: np.ndarray = np.linspace(0.0, 1.0, 21)
#: Upper bounds (inclusive) of the "how crowded is the image" buckets: 1, 2, 3-4, 5-7, 8+ objects.
CROWD_BUCKETS: tuple[int, ...] = (1, 2, 4, 7, 1 << 30)


def crowd_bucket(n_objects: int) -> int:
    """Index of the crowd bucket of an image with ``n_objects`` objects (all objects, difficult included)."""
    for b, hi in enumerate(CROWD_BUCKETS):
        if n_objects <= hi:
            return b
    return len(CROWD_BUCKETS) - 1


def box_sizes(ds: Dataset) -> np.ndarray:
    """float64[M]: ``sqrt(box area / image area)`` of every object (VOC '+1' box widths)."""
    wh = box_wh(ds.boxes)  # VOC '+1' widths
    bw, bh = wh[:, 0], wh[:, 1]
    area = ds.widths[ds.image_index].astype(np.float64) * ds.heights[ds.image_index]
    return np.sqrt(np.clip(bw * bh, 0.0, None) / area)


def box_log_aspects(ds: Dataset) -> np.ndarray:
    """float64[M]: ``log(box_w / box_h)`` of every object (VOC '+1' box widths)."""
    wh = np.maximum(box_wh(ds.boxes), 1.0)  # VOC '+1' widths, at least one pixel
    return np.log(wh[:, 0] / wh[:, 1])


def touches_border(ds: Dataset) -> np.ndarray:
    """bool[M]: the box reaches the image border (VOC 1-based inclusive pixels)."""
    b = ds.boxes
    w = ds.widths[ds.image_index]
    h = ds.heights[ds.image_index]
    return (b[:, 0] <= 1) | (b[:, 1] <= 1) | (b[:, 2] >= w) | (b[:, 3] >= h)


@dataclass(frozen=True)
class LayoutProfile:
    """What a VOC-like layout is drawn from. All probability vectors sum to 1.

    Attributes:
        image_shapes: ``((width, height), ...)`` — the most common image shapes, pixels.
        image_shape_probs: float[S] — their frequencies among all images (they sum to 1 - other_shape_prob).
        other_shape_prob: the share of images with a shape outside ``image_shapes``.
        other_aspect_quantiles: float[21] — quantiles 0, 5, ..., 100 % of ``log(width / height)`` of those images.
        objects_per_image_probs: float[K] — ``P(n = k + 1)`` for images holding ``k + 1`` objects (difficult
            included), k = 0..K-1; the tail beyond K is folded into the last entry.
        size_probs: float[len(CROWD_BUCKETS), 20] — per crowd bucket, the histogram of ``size`` over
            :data:`SIZE_BINS`.
        border_probs: float[20] — per size bin, the share of boxes that touch the image border.
        difficult_probs: float[20] — per size bin, the share of objects marked ``difficult``.
        class_probs: float[C] — class frequencies (objects), in ``classes`` order.
        class_aspect_mean, class_aspect_std: float[C] — mean and standard deviation of ``log(w / h)`` per class.
        position_beta_x, position_beta_y: ``(alpha, beta)`` of a Beta distribution fitted (method of moments) to
            where a box that does not reach the border sits in its free range: ``(xmin - 1) / (W - w)``.
        repeat_class_prob: probability that an object after the first in an image repeats a class already in it.
        classes: class names.
        source: where the numbers were measured.
    """

    image_shapes: tuple[tuple[int, int], ...]
    image_shape_probs: tuple[float, ...]
    other_shape_prob: float
    other_aspect_quantiles: tuple[float, ...]
    objects_per_image_probs: tuple[float, ...]
    size_probs: tuple[tuple[float, ...], ...]
    border_probs: tuple[float, ...]
    difficult_probs: tuple[float, ...]
    class_probs: tuple[float, ...]
    class_aspect_mean: tuple[float, ...]
    class_aspect_std: tuple[float, ...]
    position_beta_x: tuple[float, float]
    position_beta_y: tuple[float, float]
    repeat_class_prob: float
    classes: tuple[str, ...] = VOC_CLASSES
    source: str = ""

    def to_dict(self) -> dict:
        """JSON-ready dict of every field."""
        return {
            "source": self.source, "classes": list(self.classes),
            "image_shapes": [list(s) for s in self.image_shapes], "image_shape_probs": list(self.image_shape_probs),
            "other_shape_prob": self.other_shape_prob, "other_aspect_quantiles": list(self.other_aspect_quantiles),
            "position_beta_x": list(self.position_beta_x), "position_beta_y": list(self.position_beta_y),
            "objects_per_image_probs": list(self.objects_per_image_probs),
            "size_probs": [list(r) for r in self.size_probs], "border_probs": list(self.border_probs),
            "difficult_probs": list(self.difficult_probs),
            "class_probs": list(self.class_probs), "class_aspect_mean": list(self.class_aspect_mean),
            "class_aspect_std": list(self.class_aspect_std), "repeat_class_prob": self.repeat_class_prob,
        }

    def __str__(self) -> str:
        n = np.arange(1, len(self.objects_per_image_probs) + 1)
        mean_n = float(np.dot(n, self.objects_per_image_probs))
        return (f"LayoutProfile({self.source or 'custom'}: {len(self.image_shapes)} image shapes, "
                f"mean {mean_n:.2f} objects/image, {len(self.classes)} classes)")


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    s = v.sum()
    return v / s if s > 0 else np.full(len(v), 1.0 / len(v))


def _rounded(v, digits: int = 4) -> tuple[float, ...]:
    return tuple(round(float(x), digits) for x in v)


def profile_from_dataset(ds: Dataset, max_shapes: int = 24, max_objects: int = 24, source: str = "") -> LayoutProfile:
    """Measure a :class:`LayoutProfile` from a dataset (all objects, difficult included).

    Args:
        ds: the dataset (typically VOC2007+2012 trainval).
        max_shapes: keep this many most common image shapes.
        max_objects: objects-per-image histogram length; images with more objects count in the last entry.
        source: a label stored in the profile.

    Returns:
        The profile, with probabilities rounded to 4 decimals (and renormalised where they must sum to 1).
    """
    if ds.num_objects == 0:
        raise ValueError("profile_from_dataset: the dataset has no objects")
    shapes, counts = np.unique(np.stack([ds.widths, ds.heights], 1), axis=0, return_counts=True)
    order = np.lexsort((shapes[:, 1], shapes[:, 0], -counts))[:max_shapes]
    shape_probs = counts[order] / ds.num_images
    is_top = np.zeros(ds.num_images, bool)
    for w, h in shapes[order]:
        is_top |= (ds.widths == w) & (ds.heights == h)
    other = np.log(ds.widths[~is_top] / ds.heights[~is_top])
    other_q = np.quantile(other, np.linspace(0, 1, 21)) if len(other) else np.zeros(21)

    n = np.bincount(ds.image_index, minlength=ds.num_images)
    n = n[n > 0]
    hist = np.bincount(np.minimum(n, max_objects), minlength=max_objects + 1)[1:]

    size = box_sizes(ds)
    size_bin = np.clip(np.digitize(size, SIZE_BINS) - 1, 0, len(SIZE_BINS) - 2)
    n_of_obj = np.bincount(ds.image_index, minlength=ds.num_images)[ds.image_index]
    bucket = np.array([crowd_bucket(int(k)) for k in range(int(n_of_obj.max()) + 1)])[n_of_obj]
    size_probs = []
    for b in range(len(CROWD_BUCKETS)):
        size_probs.append(_rounded(_normalise(np.bincount(size_bin[bucket == b], minlength=20)), 5))
    touch = touches_border(ds)
    per_bin = np.bincount(size_bin, minlength=20)
    border = np.bincount(size_bin, weights=touch.astype(np.float64), minlength=20) / np.maximum(per_bin, 1)
    difficult = np.bincount(size_bin, weights=ds.difficult.astype(np.float64), minlength=20) / np.maximum(per_bin, 1)

    aspect = box_log_aspects(ds)
    c = ds.num_classes
    cnt = np.bincount(ds.class_index, minlength=c).astype(np.float64)
    mean = np.bincount(ds.class_index, weights=aspect, minlength=c) / np.maximum(cnt, 1)
    var = np.bincount(ds.class_index, weights=aspect ** 2, minlength=c) / np.maximum(cnt, 1) - mean ** 2
    std = np.sqrt(np.maximum(var, 0.0))

    # where boxes that do not reach the border sit in their free range (Beta fit by the method of moments)
    free = ~touch
    b_, w_, h_ = ds.boxes[free], ds.widths[ds.image_index[free]], ds.heights[ds.image_index[free]]
    betas = []
    wh_ = box_wh(b_)
    for lo, length, extent in ((b_[:, 0], wh_[:, 0], w_), (b_[:, 1], wh_[:, 1], h_)):
        f = np.clip((lo - 1) / np.maximum(extent - length, 1), 0, 1)
        m, v = f.mean(), f.var()
        k = m * (1 - m) / v - 1 if v > 0 else 2.0
        betas.append((round(float(m * k), 3), round(float((1 - m) * k), 3)))

    # share of objects (after the first of their image, in file order) whose class already occurred in the image
    first = np.ones(ds.num_objects, bool)
    first[1:] = ds.image_index[1:] != ds.image_index[:-1]
    key = ds.image_index * c + ds.class_index
    _, first_of_key = np.unique(key, return_index=True)
    new_class = np.zeros(ds.num_objects, bool)
    new_class[first_of_key] = True
    later = ~first
    repeat = float((~new_class[later]).mean()) if later.any() else 0.0

    return LayoutProfile(
        image_shapes=tuple((int(w), int(h)) for w, h in shapes[order]),
        image_shape_probs=_rounded(shape_probs, 5),
        other_shape_prob=round(float(1 - shape_probs.sum()), 5),
        other_aspect_quantiles=_rounded(other_q),
        objects_per_image_probs=_rounded(_normalise(hist), 5),
        size_probs=tuple(size_probs),
        border_probs=_rounded(border),
        difficult_probs=_rounded(difficult),
        class_probs=_rounded(_normalise(cnt), 5),
        class_aspect_mean=_rounded(mean),
        class_aspect_std=_rounded(std),
        position_beta_x=betas[0],
        position_beta_y=betas[1],
        repeat_class_prob=round(repeat, 4),
        classes=tuple(ds.classes),
        source=source,
    )


#: Measured by ``profile_from_dataset(load_voc(VOCdevkit, ["2007:trainval", "2012:trainval"]))``
#: (tests/test_synth_profile.py re-measures it from ../shared/voc).
VOC0712_PROFILE = LayoutProfile(
    image_shapes=((500, 375), (500, 333), (375, 500), (333, 500), (500, 334), (500, 332), (500, 335), (500, 374),
                  (334, 500), (500, 331), (500, 400), (500, 500), (332, 500), (500, 357), (500, 281), (500, 338),
                  (500, 376), (500, 377), (500, 336), (480, 360), (400, 300), (335, 500), (374, 500), (500, 339)),
    image_shape_probs=(0.42034, 0.13214, 0.08453, 0.03039, 0.02344, 0.02229, 0.011, 0.00979, 0.00616, 0.00586,
                       0.0058, 0.00532, 0.00526, 0.00441, 0.00356, 0.00356, 0.0035, 0.00302, 0.00284, 0.00266,
                       0.0026, 0.00218, 0.00205, 0.00199),
    other_shape_prob=0.2053,
    other_aspect_quantiles=(-1.2588, -0.4155, -0.351, -0.2877, -0.2246, -0.1347, 0.002, 0.1052, 0.1815, 0.2307,
                            0.2692, 0.2877, 0.3092, 0.3397, 0.3653, 0.3945, 0.4246, 0.4526, 0.5061, 0.6242, 1.9519),
    objects_per_image_probs=(0.41212, 0.22331, 0.11866, 0.0748, 0.04954, 0.03474, 0.02175, 0.01764, 0.01106, 0.01045,
                             0.00514, 0.00471, 0.00429, 0.00218, 0.00211, 0.00157, 0.00097, 0.00109, 0.00097,
                             0.00073, 0.00036, 0.00024, 0.00036, 0.00121),
    size_probs=((0.00103, 0.0151, 0.02214, 0.02771, 0.03225, 0.03167, 0.03958, 0.04002, 0.04149, 0.05058, 0.0497,
                 0.06245, 0.06773, 0.07316, 0.07169, 0.07975, 0.07242, 0.07975, 0.06685, 0.07492),
                (0.00825, 0.04586, 0.05384, 0.04816, 0.05844, 0.06196, 0.06291, 0.06196, 0.06778, 0.06615, 0.06507,
                 0.06507, 0.05817, 0.05682, 0.0506, 0.04545, 0.03531, 0.03003, 0.02503, 0.03314),
                (0.02379, 0.09959, 0.09646, 0.08954, 0.07921, 0.0817, 0.07119, 0.06621, 0.06132, 0.05773, 0.05681,
                 0.04602, 0.03486, 0.03292, 0.02905, 0.01964, 0.01937, 0.01291, 0.00987, 0.0118),
                (0.04717, 0.15799, 0.14062, 0.11559, 0.10576, 0.08282, 0.06912, 0.06336, 0.05094, 0.03863, 0.03505,
                 0.02522, 0.01718, 0.0149, 0.01132, 0.00834, 0.00596, 0.00377, 0.00308, 0.00318),
                (0.09383, 0.23495, 0.19254, 0.13591, 0.08912, 0.07077, 0.04539, 0.03737, 0.02827, 0.02009, 0.01612,
                 0.01017, 0.00736, 0.00645, 0.00422, 0.00231, 0.00165, 0.00149, 0.00116, 0.00083)),
    border_probs=(0.063, 0.1167, 0.177, 0.2142, 0.2597, 0.3022, 0.3427, 0.395, 0.4171, 0.4493, 0.498, 0.5093, 0.5359,
                  0.5426, 0.586, 0.6133, 0.6679, 0.764, 0.8449, 0.9525),
    difficult_probs=(0.7614, 0.3575, 0.1936, 0.1524, 0.1237, 0.0951, 0.0767, 0.0591, 0.0451, 0.0473, 0.0559, 0.0303,
                     0.0339, 0.0339, 0.029, 0.0257, 0.0421, 0.0322, 0.0353, 0.1112),
    class_probs=(0.02721, 0.02558, 0.03854, 0.02958, 0.04481, 0.01925, 0.08487, 0.03422, 0.09186, 0.0224, 0.02238,
                 0.04403, 0.02448, 0.02416, 0.32984, 0.03651, 0.02852, 0.02564, 0.02084, 0.02526),
    class_aspect_mean=(0.7936, 0.02, 0.008, 0.4, -0.805, 0.2148, 0.4097, 0.1012, -0.2048, 0.0671, 0.6163, 0.0247,
                       -0.1203, 0.0739, -0.5386, -0.2558, 0.0824, 0.3731, 0.4744, 0.0226),
    class_aspect_std=(0.4334, 0.4976, 0.5054, 0.7307, 0.5104, 0.5959, 0.5031, 0.4127, 0.5095, 0.4962, 0.5926, 0.4153,
                      0.4713, 0.4614, 0.4834, 0.4746, 0.4325, 0.4349, 0.6162, 0.3952),
    position_beta_x=(1.242, 1.269),
    position_beta_y=(1.889, 1.621),
    repeat_class_prob=0.7039,
    classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
             'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
    source='VOC2007+2012 trainval',
)


def layout_distances(a: Dataset, b: Dataset, max_objects: int = 20) -> dict[str, float]:
    """How far apart the layouts of two datasets are (non-difficult objects, as the dataset report counts them).

    Args:
        a, b: the datasets (e.g. a synthetic set and VOC07+12 trainval).
        max_objects: objects-per-image counts above this are pooled.

    Returns:
        ``objects_per_image_tv``: total variation distance (0..1) between the objects-per-image histograms;
        ``size_ks`` / ``size_w1``: KS statistic and 1-Wasserstein distance between the ``size`` samples;
        ``size_tv``: total variation between the 20-bin ``size`` histograms;
        ``aspect_ks`` / ``aspect_w1``: the same for ``log(w / h)``; ``aspect_std_ratio``: std(a) / std(b).
    """
    def counts(ds: Dataset) -> np.ndarray:
        n = np.bincount(ds.image_index[~ds.difficult], minlength=ds.num_images)
        return np.bincount(np.minimum(n, max_objects), minlength=max_objects + 1)

    keep_a, keep_b = ~a.difficult, ~b.difficult
    sa, sb = box_sizes(a)[keep_a], box_sizes(b)[keep_b]
    la, lb = box_log_aspects(a)[keep_a], box_log_aspects(b)[keep_b]
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError("layout_distances: a dataset has no non-difficult objects")
    return {
        "objects_per_image_tv": total_variation(counts(a), counts(b)),
        "size_ks": ks_statistic(sa, sb), "size_w1": wasserstein_1d(sa, sb),
        "size_tv": histogram_tv(sa, sb, SIZE_BINS),
        "aspect_ks": ks_statistic(la, lb), "aspect_w1": wasserstein_1d(la, lb),
        "aspect_std_ratio": float(la.std() / lb.std()) if lb.std() > 0 else float("nan"),
    }
