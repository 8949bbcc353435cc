"""Box format conversion: ``xyxy``, ``xywh``, ``cxcywh``, each absolute or normalised by the image size.

Formats (per row):

* ``"xyxy"``: (x1, y1, x2, y2) corners.
* ``"xywh"``: (x1, y1, w, h) top-left corner and size (COCO ``bbox``).
* ``"cxcywh"``: (cx, cy, w, h) centre and size (YOLO labels).
* ``"nxyxy"``, ``"nxywh"``, ``"ncxcywh"``: the same normalised to [0, 1] by the image size.

The pixel convention sets what "size" means (:mod:`vocbench.boxes.conventions`). Under ``"voc"`` (default) a box
covers the pixels ``x1..x2`` inclusive, so ``w = x2 - x1 + 1`` and the centre of that extent is
``(x1 - 1 + x2) / 2`` in 0-based continuous coordinates; normalised coordinates are 0-based continuous
(``(x1 - 1) / W``), so the full-image box ``[1, 1, W, H]`` becomes ``[0, 0, 1, 1]``. Under ``"continuous"``
``w = x2 - x1`` and normalising divides by the image size. Every conversion is exactly invertible up to float
rounding (round trips are tested).
"""

from __future__ import annotations

import numpy as np

from vocbench.boxes.conventions import DEFAULT_PIXEL_CONVENTION, check_boxes, pixel_offset
from vocbench.errors import InputError

__all__ = ["BOX_FORMATS", "box_convert"]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh", "nxyxy", "nxywh", "ncxcywh")


def _image_sizes(image_size, n: int) -> tuple[np.ndarray, np.ndarray]:
    if image_size is None:
        raise InputError("normalised box formats need image_size=(width, height) or an array of shape (N, 2)")
    s = np.asarray(image_size, np.float64)
    if s.shape == (2,):
        s = np.broadcast_to(s, (n, 2))
    if s.shape != (n, 2):
        raise InputError(f"image_size must be (width, height) or shape ({n}, 2), got shape {s.shape}")
    bad = np.flatnonzero(~(np.isfinite(s).all(axis=1) & (s > 0).all(axis=1)))
    if len(bad):
        raise InputError(f"image_size[{int(bad[0])}] must be positive and finite: {s[bad[0]].tolist()}")
    return s[:, 0], s[:, 1]


def _to_xywh(b: np.ndarray, fmt: str, off: float, W, H) -> np.ndarray:
    """(x, y, w, h): the box's extent in 0-based continuous coordinates (same float ops as the COCO export)."""
    if fmt == "xyxy":  # the only format whose numbers are pixel indices under "voc"
        return np.stack([b[:, 0] - off, b[:, 1] - off, b[:, 2] - b[:, 0] + off, b[:, 3] - b[:, 1] + off], axis=1)
    base = fmt[1:] if fmt.startswith("n") else fmt
    if base == "xyxy":
        x, y, w, h = b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    elif base == "xywh":
        x, y, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    else:
        x, y, w, h = b[:, 0] - 0.5 * b[:, 2], b[:, 1] - 0.5 * b[:, 3], b[:, 2], b[:, 3]
    if fmt.startswith("n"):
        x, w, y, h = x * W, w * W, y * H, h * H
    return np.stack([x, y, w, h], axis=1)


def _from_xywh(e: np.ndarray, fmt: str, off: float, W, H) -> np.ndarray:
    x, y, w, h = e[:, 0], e[:, 1], e[:, 2], e[:, 3]
    if fmt == "xyxy":
        return np.stack([x + off, y + off, x + w, y + h], axis=1)
    if fmt.startswith("n"):
        x, w, y, h = x / W, w / W, y / H, h / H
    base = fmt[1:] if fmt.startswith("n") else fmt
    if base == "xyxy":
        cols = (x, y, x + w, y + h)
    elif base == "xywh":
        cols = (x, y, w, h)
    else:
        cols = (x + 0.5 * w, y + 0.5 * h, w, h)
    return np.stack(cols, axis=1)


def box_convert(boxes, in_fmt: str, out_fmt: str, *, image_size=None,
                pixel_convention: str = DEFAULT_PIXEL_CONVENTION) -> np.ndarray:
    """Convert boxes between formats.

    Args:
        boxes: float[N, 4] in ``in_fmt``.
        in_fmt, out_fmt: one of :data:`BOX_FORMATS`.
        image_size: (width, height) or float[N, 2] per box; needed when either format is normalised.
        pixel_convention: ``"voc"`` (default; absolute ``xyxy`` are 1-based inclusive pixels and absolute
            ``xywh``/``cxcywh`` describe the pixel extent: ``w = x2 - x1 + 1``, ``x = x1 - 1``) or
            ``"continuous"`` (``w = x2 - x1``, no shift).

    Returns:
        float64[N, 4] in ``out_fmt``.

    Example:
        >>> box_convert([[1, 1, 10, 20]], "xyxy", "xywh")          # VOC pixels -> COCO bbox
        array([[ 0.,  0., 10., 20.]])
    """
    for f in (in_fmt, out_fmt):
        if f not in BOX_FORMATS:
            raise InputError(f"box format must be one of {BOX_FORMATS}, got {f!r}")
    off = pixel_offset(pixel_convention)
    b = check_boxes(boxes)
    if in_fmt == out_fmt:
        return b.copy()
    W = H = None
    if in_fmt.startswith("n") or out_fmt.startswith("n"):
        W, H = _image_sizes(image_size, len(b))
    return np.ascontiguousarray(_from_xywh(_to_xywh(b, in_fmt, off, W, H), out_fmt, off, W, H))
