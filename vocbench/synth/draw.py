"""Vectorised drawing for the synthetic dataset: shape masks, textures, backgrounds and clutter.

Everything works on coordinate grids with numpy (no per-pixel Python loops). Images are ``float32[H, W, 3]`` in
``[0, 255]`` while drawing. Object shapes live in a *local frame*: ``u, v`` in ``[-1, 1]`` span the object's
(unrotated) box, ``u`` to the right, ``v`` downwards. A shape family is a predicate on ``(u, v)``; a texture is a
second predicate that says where the accent colour shows.
"""

from __future__ import annotations

import colorsys

import numpy as np

__all__ = ["SHAPES", "TEXTURES", "shape_mask", "texture_mask", "hsv_to_rgb", "local_frame", "frame_extent",
           "background", "draw_distractors", "upsample_bilinear"]

#: Shape families (index = family id).
SHAPES: tuple[str, ...] = ("ellipse", "rectangle", "triangle", "diamond", "star", "ring", "cross")
#: Textures (index = texture id): where the accent colour shows on the object.
TEXTURES: tuple[str, ...] = ("solid", "stripes", "checker", "dots")


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """float32[3] RGB in ``[0, 255]`` from hue in degrees, saturation and value in ``[0, 1]``."""
    r, g, b = colorsys.hsv_to_rgb((h % 360.0) / 360.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return np.array([r * 255.0, g * 255.0, b * 255.0], np.float32)


def local_frame(x0: int, y0: int, width: int, height: int, cx: float, cy: float, a: float, b: float,
                theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Local coordinates of the pixel centres of a window.

    Args:
        x0, y0: top-left pixel of the window (0-based).
        width, height: window size in pixels.
        cx, cy: object centre in pixel coordinates (0-based, pixel centres at integers).
        a, b: half-width and half-height of the object's local frame, pixels.
        theta: rotation of the frame, radians (positive = clockwise on screen).

    Returns:
        ``(u, v)``, each float32[height, width].
    """
    xs = np.arange(x0, x0 + width, dtype=np.float32) - np.float32(cx)
    ys = np.arange(y0, y0 + height, dtype=np.float32) - np.float32(cy)
    c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
    u = (xs[None, :] * c + ys[:, None] * s) * np.float32(1.0 / a)
    v = (ys[:, None] * c - xs[None, :] * s) * np.float32(1.0 / b)
    return u, v


def frame_extent(cx: float, cy: float, a: float, b: float, theta: float) -> tuple[float, float, float, float]:
    """Axis-aligned extent ``(xmin, ymin, xmax, ymax)`` (pixel coordinates) of the rotated local square."""
    c, s = abs(np.cos(theta)), abs(np.sin(theta))
    ex = a * c + b * s
    ey = a * s + b * c
    return cx - ex, cy - ey, cx + ex, cy + ey


def shape_mask(family: int, u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Where the shape covers the window.

    Args:
        family: index into :data:`SHAPES`.
        u, v: float32[H, W] local coordinates (see :func:`local_frame`).
        p: float[4] per-object shape parameters in ``[0, 1)`` (corner radius, ring width, arm width, ...).

    Returns:
        bool[H, W].
    """
    name = SHAPES[family]
    if name == "ellipse":
        return u * u + v * v <= 1.0
    au, av = np.abs(u), np.abs(v)
    if name == "rectangle":
        r = np.float32(0.15 + 0.25 * p[0])  # rounded corners
        du = np.maximum(au - (1 - r), 0)
        dv = np.maximum(av - (1 - r), 0)
        return (au <= 1) & (av <= 1) & (du * du + dv * dv <= r * r)
    if name == "triangle":  # apex at the top, base at the bottom; the apex may lean left or right
        lean = np.float32(0.5 * (p[0] - 0.5))
        t = (v + 1) * 0.5  # 0 at the apex, 1 at the base
        return (av <= 1) & (np.abs(u - lean * (1 - t)) <= t)
    if name == "diamond":
        return au + av <= 1.0
    if name == "star":
        rho = np.sqrt(u * u + v * v)
        phi = np.arctan2(u, -v)  # 0 = up
        k = (phi * np.float32(5.0 / (2 * np.pi))) % 1.0
        tri = np.abs(2.0 * k - 1.0)  # 1 at the points, 0 between them
        inner = np.float32(0.42 + 0.12 * p[1])
        return rho <= inner + (1 - inner) * tri ** 1.6
    if name == "ring":
        rr = u * u + v * v
        inner = np.float32(0.45 + 0.2 * p[1])
        return (rr <= 1.0) & (rr >= inner * inner)
    if name == "cross":
        w = np.float32(0.28 + 0.14 * p[2])
        return (au <= 1) & (av <= 1) & ((au <= w) | (av <= w))
    raise ValueError(f"unknown shape family {family}")


def texture_mask(texture: int, u: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray | None:
    """Where the accent colour shows (None for a solid object).

    Args:
        texture: index into :data:`TEXTURES`.
        u, v: float32[H, W] local coordinates.
        p: float[4] per-object texture parameters in ``[0, 1)`` (frequency, orientation, phase, dot size).

    Returns:
        bool[H, W] or None.
    """
    name = TEXTURES[texture]
    if name == "solid":
        return None
    freq = np.float32(2.2 + 1.6 * p[0])  # cycles across the object
    phase = np.float32(p[2])
    if name == "stripes":
        ang = np.float32((p[1] - 0.5) * 0.9 + np.pi / 4)  # diagonal, +-25 degrees
        t = (u * np.cos(ang) + v * np.sin(ang)) * (freq * 0.5) + phase
        return (t % 1.0) < 0.5
    if name == "checker":
        f = freq * np.float32(0.5)
        return (((u * f + phase) % 1.0) < 0.5) ^ (((v * f + phase) % 1.0) < 0.5)
    if name == "dots":
        f = freq * np.float32(0.6)
        du = (u * f + phase) % 1.0 - 0.5
        dv = (v * f + phase) % 1.0 - 0.5
        r = np.float32(0.24 + 0.1 * p[3])
        return du * du + dv * dv <= r * r
    raise ValueError(f"unknown texture {texture}")


def _interp_weights(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower source index and weight of the upper neighbour for linear interpolation, corners aligned."""
    pos = np.linspace(0, n_in - 1, n_out, dtype=np.float64)
    lo = np.minimum(pos.astype(np.int64), max(n_in - 2, 0))
    return lo, (pos - lo).astype(np.float32)


def upsample_bilinear(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear upsampling of a small ``float32[h, w(, c)]`` grid (h, w >= 2) to ``[height, width(, c)]``.

    Corners are aligned (the grid's corner values land on the output's corner pixels). Separable: the columns
    are interpolated on the small grid, then the rows on the output.
    """
    grid = np.asarray(grid, np.float32)
    gh, gw = grid.shape[:2]
    tail = (1,) * (grid.ndim - 2)
    lo, f = _interp_weights(width, gw)
    f = f.reshape(1, -1, *tail)
    cols = grid[:, lo] * (1 - f) + grid[:, np.minimum(lo + 1, gw - 1)] * f  # [gh, width, ...]
    lo, f = _interp_weights(height, gh)
    f = f.reshape(-1, 1, *tail)
    out = cols[lo]
    out *= 1 - f
    out += cols[np.minimum(lo + 1, gh - 1)] * f
    return out


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.35), rng.uniform(0.25, 0.92))


def _gradient_grid(rng: np.random.Generator, gh: int, gw: int, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """float32[gh, gw, 3]: a linear two-colour gradient sampled on a coarse grid, plus smooth blotches."""
    ang = rng.uniform(0, 2 * np.pi)
    ys = np.linspace(-0.5, 0.5, gh, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, gw, dtype=np.float32)[None, :]
    t = np.clip(xs * np.float32(np.cos(ang)) + ys * np.float32(np.sin(ang)) + np.float32(0.5), 0, 1)
    grid = c1[None, None, :] + (c2 - c1)[None, None, :] * t[:, :, None]
    return grid + rng.normal(0.0, rng.uniform(8.0, 26.0), size=(gh, gw, 3)).astype(np.float32)


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A cluttered backdrop: a two-colour gradient with smooth blotches, sometimes split at a horizon.

    The gradient and blotches are built on a coarse grid and upsampled bilinearly in one pass (a linear
    gradient survives bilinear upsampling exactly).

    Returns:
        float32[height, width, 3] in about ``[0, 255]``.
    """
    gh, gw = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    if rng.random() < 0.35:  # a horizon: sky above, ground below
        split = int(height * rng.uniform(0.3, 0.7))
        top = upsample_bilinear(_gradient_grid(rng, gh, gw, _muted_colour(rng), _muted_colour(rng)), split, width)
        bottom = upsample_bilinear(_gradient_grid(rng, gh, gw, _muted_colour(rng), _muted_colour(rng)),
                                   height - split, width)
        return np.concatenate([top, bottom], axis=0)
    return upsample_bilinear(_gradient_grid(rng, gh, gw, _muted_colour(rng), _muted_colour(rng)), height, width)


def _distractor_colour(rng: np.random.Generator) -> np.ndarray:
    return hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.75), rng.uniform(0.15, 0.95))


def draw_distractors(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Draw ``count`` shapes of no class (thick lines, blotches, arcs, grids) onto ``img`` in place."""
    height, width = img.shape[:2]
    scale = float(np.sqrt(height * width))
    for _ in range(count):
        kind = rng.integers(0, 4)
        colour = _distractor_colour(rng)
        if kind == 0:  # a thick line segment
            x0, x1 = rng.uniform(-0.1, 1.1, 2) * width
            y0, y1 = rng.uniform(-0.1, 1.1, 2) * height
            half = rng.uniform(0.004, 0.02) * scale
            xa, xb = int(max(min(x0, x1) - half, 0)), int(min(max(x0, x1) + half + 1, width))
            ya, yb = int(max(min(y0, y1) - half, 0)), int(min(max(y0, y1) + half + 1, height))
            if xb <= xa or yb <= ya:
                continue
            xs = np.arange(xa, xb, dtype=np.float32)[None, :]
            ys = np.arange(ya, yb, dtype=np.float32)[:, None]
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
            d2 = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2
            mask = d2 <= half * half
        else:
            r = rng.uniform(0.04, 0.22) * scale
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            xa, xb = int(max(cx - r, 0)), int(min(cx + r + 1, width))
            ya, yb = int(max(cy - r, 0)), int(min(cy + r + 1, height))
            if xb - xa < 2 or yb - ya < 2:
                continue
            u = (np.arange(xa, xb, dtype=np.float32)[None, :] - cx) / r
            v = (np.arange(ya, yb, dtype=np.float32)[:, None] - cy) / r
            rr = u * u + v * v
            if kind == 1:  # an irregular blotch: a thresholded smooth noise field inside a disc
                field = upsample_bilinear(rng.normal(0, 1, (5, 5)).astype(np.float32), yb - ya, xb - xa)
                mask = (field + 1.2 * (1 - rr)) > 1.0
            elif kind == 2:  # an arc: part of a thin ring
                start, span = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.6) * np.pi
                ang = (np.arctan2(v, u) - start) % (2 * np.pi)
                thick = rng.uniform(0.06, 0.18)
                mask = (rr <= 1) & (rr >= (1 - thick) ** 2) & (ang <= span)
            else:  # a patch of thin grid lines (fence, tiles)
                period = rng.uniform(0.15, 0.35)
                line = rng.uniform(0.12, 0.25)
                mask = (rr <= 1) & (((u % period) < period * line) | ((v % period) < period * line))
        region = img[ya:yb, xa:xb]
        region[mask] = colour
