"""Renamed keyword arguments: the old name keeps working with a :class:`DeprecationWarning`.

vocbench names the IoU threshold ``iou`` in every public function (``evaluate``, ``diagnose``, ``compare``,
``nms``, ``batched_nms``, ``soft_nms``, ``match_detections``); result attributes that record it are called
``iou_threshold``. ``iou_threshold=`` as a keyword argument is the deprecated spelling.
"""

from __future__ import annotations

import warnings

__all__ = ["iou_argument"]

_MISSING = object()


def iou_argument(iou, iou_threshold, where: str, default=_MISSING):
    """The IoU threshold from ``iou`` or the deprecated ``iou_threshold`` keyword (``None`` = not given).

    Raises:
        TypeError: both are given, or neither and ``default`` is not set.
    """
    if iou_threshold is not None:
        if iou is not None:
            raise TypeError(f"{where}() got both iou and its deprecated spelling iou_threshold; pass iou only")
        warnings.warn(f"{where}(iou_threshold=...) is deprecated; use iou=...", DeprecationWarning, stacklevel=3)
        return iou_threshold
    if iou is None:
        if default is _MISSING:
            raise TypeError(f"{where}() missing required argument: 'iou' (the IoU threshold)")
        return default
    return iou
