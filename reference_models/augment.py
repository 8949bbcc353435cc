"""Geometric and photometric augmentation applied to an image and its boxes together.

The geometric part — SSD-style random crop, scale/translate jitter, horizontal flip and the final squash-resize
to the network input — is composed into one 2×3 affine matrix and applied with a single ``cv2.warpAffine``; boxes
go through the same matrix. A box is kept when its centre stays inside the output (the SSD crop rule) and is then
clipped to it. Colour jitter works in HSV.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["AugmentConfig", "augment", "resize_only", "hsv_jitter"]

#: Fill value for pixels outside the source image (mid grey).
FILL = (124, 116, 104)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths. Probabilities are per image.

    Attributes:
        flip: probability of a horizontal flip.
        crop: probability of an SSD-style random crop (area ``crop_scale``, aspect ``crop_aspect``).
        jitter: probability of scale/translate jitter (scale ``jitter_scale``, shift up to ``jitter_shift`` of
            the side).
        hue, saturation, value: HSV jitter: hue shift in degrees (±), saturation/value gain (× in [1/g, g]).
    """

    flip: float = 0.5
    crop: float = 0.5
    crop_scale: tuple[float, float] = (0.3, 1.0)
    crop_aspect: tuple[float, float] = (0.5, 2.0)
    jitter: float = 0.5
    jitter_scale: tuple[float, float] = (0.7, 1.25)
    jitter_shift: float = 0.15
    hue: float = 2.0  # small: the synthetic classes differ by hue (palettes ≥ 25° apart)
    saturation: float = 1.5
    value: float = 1.5


def hsv_jitter(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random hue shift and saturation/value gains on an RGB ``uint8[H, W, 3]`` image."""
    if cfg.hue <= 0 and cfg.saturation <= 1 and cfg.value <= 1:
        return img
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    dh = rng.uniform(-cfg.hue, cfg.hue) / 2.0  # OpenCV hue is 0..179
    gs = np.exp(rng.uniform(-np.log(cfg.saturation), np.log(cfg.saturation)))
    gv = np.exp(rng.uniform(-np.log(cfg.value), np.log(cfg.value)))
    lut_h = ((np.arange(256) + dh) % 180).astype(np.uint8)
    lut_s = np.clip(np.arange(256) * gs, 0, 255).astype(np.uint8)
    lut_v = np.clip(np.arange(256) * gv, 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hsv[..., 0], lut_h), cv2.LUT(hsv[..., 1], lut_s), cv2.LUT(hsv[..., 2], lut_v)))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _crop_window(boxes: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[float, float, float, float]:
    """A crop ``(x0, y0, w, h)`` in normalised source coordinates that keeps at least one box centre."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2 if len(boxes) else np.zeros((0, 2))
    for _ in range(20):
        area = rng.uniform(*cfg.crop_scale)
        aspect = np.exp(rng.uniform(np.log(cfg.crop_aspect[0]), np.log(cfg.crop_aspect[1])))
        w, h = min(1.0, np.sqrt(area * aspect)), min(1.0, np.sqrt(area / aspect))
        x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        if len(centres) == 0:
            return x0, y0, w, h
        inside = ((centres[:, 0] > x0) & (centres[:, 0] < x0 + w) & (centres[:, 1] > y0) & (centres[:, 1] < y0 + h))
        if inside.any():
            return x0, y0, w, h
    return 0.0, 0.0, 1.0, 1.0


def augment(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator,
            cfg: AugmentConfig = AugmentConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment one sample and squash-resize it to ``size × size``.

    Args:
        img: uint8[H, W, 3] RGB.
        boxes: float[K, 4] normalised continuous xyxy in ``[0, 1]``.
        labels: int64[K].
        size: output side in pixels.

    Returns:
        ``uint8[size, size, 3]``, the kept boxes ``float32[K', 4]`` (normalised, clipped) and their labels.
    """
    h_src, w_src = img.shape[:2]
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    # normalised source → normalised output: out = a * src + t (per axis)
    ax = ay = 1.0
    tx = ty = 0.0
    if rng.random() < cfg.crop:
        x0, y0, w, h = _crop_window(boxes, rng, cfg)
        ax, ay, tx, ty = 1.0 / w, 1.0 / h, -x0 / w, -y0 / h
    if rng.random() < cfg.jitter:
        s = rng.uniform(*cfg.jitter_scale)
        sx = s * np.exp(rng.uniform(-0.1, 0.1))
        sy = s / np.exp(rng.uniform(-0.1, 0.1))
        dx, dy = rng.uniform(-cfg.jitter_shift, cfg.jitter_shift, 2)
        # scale about the centre, then shift
        ax, tx = ax * sx, (tx - 0.5) * sx + 0.5 + dx
        ay, ty = ay * sy, (ty - 0.5) * sy + 0.5 + dy
    if rng.random() < cfg.flip:
        ax, tx = -ax, 1.0 - tx
    # pixel matrix: out_px = (a * (src_px / W_src) + t) * size
    m = np.array([[ax * size / w_src, 0.0, tx * size], [0.0, ay * size / h_src, ty * size]], np.float64)
    out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=FILL)
    out = hsv_jitter(out, rng, cfg)
    if len(boxes):
        xs = boxes[:, [0, 2]] * ax + tx
        ys = boxes[:, [1, 3]] * ay + ty
        nb = np.stack((xs.min(1), ys.min(1), xs.max(1), ys.max(1)), 1)
        cx, cy = (nb[:, 0] + nb[:, 2]) / 2, (nb[:, 1] + nb[:, 3]) / 2
        keep = (cx > 0) & (cx < 1) & (cy > 0) & (cy < 1)
        nb = np.clip(nb[keep], 0.0, 1.0)
        big = ((nb[:, 2] - nb[:, 0]) * size >= 2) & ((nb[:, 3] - nb[:, 1]) * size >= 2)
        boxes, labels = nb[big], np.asarray(labels)[keep][big]
    return out, boxes.astype(np.float32), np.asarray(labels, np.int64)


def resize_only(img: np.ndarray, size: int) -> np.ndarray:
    """Squash-resize ``uint8[H, W, 3]`` to ``size × size`` (the inference preprocessing)."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
