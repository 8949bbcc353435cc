"""Bounds of the counts the library takes, defined once: the Python API checks them and the command-line options
are built from them (``vocbench anchors -k/--n-init/--max-iter/--input-size/--stride/--curve``).

A light module (no NumPy, no Numba) so that every command can build its options from it at start-up.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

from vocbench.errors import InputError

__all__ = ["ANCHOR_LIMITS", "MAX_KS", "MAX_DEFAULT_BOXES", "check_count", "check_ks"]

#: Inclusive ``(low, high)`` of each count of the anchor API (:class:`vocbench.anchors.IoUKMeans`,
#: :func:`~vocbench.anchors.iou_kmeans_curve`, :func:`~vocbench.anchors.analyze_anchors`): up to 1,000 anchors
#: (VOC's box shapes saturate the mean IoU long before), 1,000 restarts, 100,000 centroid updates per run, network
#: input sides and strides up to 65,536 pixels, SSD layouts of up to 64 feature maps of up to 4096 x 4096 cells.
ANCHOR_LIMITS: dict[str, tuple[int, int]] = {
    "n_clusters": (1, 1000),
    "n_init": (1, 1000),
    "max_iter": (0, 100_000),
    "input_size": (1, 65_536),
    "stride": (1, 65_536),
    "feature_size": (1, 4096),
    "num_layers": (1, 64),
}

#: Most default boxes :func:`~vocbench.anchors.ssd_default_boxes` builds (float64[P, 4]: 320 MB; SSD300 has 8,732).
MAX_DEFAULT_BOXES = 10_000_000

#: Most entries a list of ks (a mean-IoU curve) may have, repeats included: read one by one, so an endless
#: iterator or ``range(1, 10**12)`` is refused after this many, not materialised.
MAX_KS = 100_000


def check_count(name: str, value, limit: str | None = None) -> int:
    """``value`` as an int when it is an integer (not a bool, never truncated: 2.5 is refused) within
    ``ANCHOR_LIMITS[limit or name]``; else :class:`~vocbench.errors.InputError` (a ValueError) naming ``name``."""
    low, high = ANCHOR_LIMITS[limit or name]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # NumPy integers are Integral
        raise InputError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    if not low <= int(value) <= high:
        raise InputError(f"{name} must be in {low}..{high}, got {int(value)}")
    return int(value)


def check_ks(ks: Iterable, name: str = "ks") -> list[int]:
    """The distinct ks of ``ks`` in increasing order, each checked as ``n_clusters`` (:func:`check_count`); at most
    :data:`MAX_KS` entries are read."""
    out: set[int] = set()
    for i, k in enumerate(ks):
        if i >= MAX_KS:
            raise InputError(f"{name}: more than {MAX_KS:,} entries")
        out.add(check_count(f"{name} entry", k, "n_clusters"))
    return sorted(out)
