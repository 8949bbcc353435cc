"""``generate()``: write a complete VOC-format dataset of procedurally drawn images.

Layout (what a user's real VOCdevkit looks like)::

    OUT/VOCdevkit/VOC<year>/
        JPEGImages/000001.jpg ...            RGB JPEG, quality 90
        Annotations/000001.xml ...           VOC XML: size, object name/pose/truncated/occluded/difficult/bndbox
        ImageSets/Main/{train,val,trainval,test}.txt and <class>_<split>.txt (1 / 0 = difficult only / -1)
        vocbench_synth.json                  the parameters and counts (marks the folder as synthetic)

Conventions:
    * ``size`` is the **long side** of every image in pixels. Image shapes are drawn from VOC's 24 most common
      shapes (500×375 42 %, 500×333 13 %, 375×500 8 %, ...; 79 % of VOC images) or, for the other 21 %, an
      aspect ratio from VOC's remaining images, and scaled so the long side is ``size``; the default 416 gives
      mostly 416×312, 416×277 and 312×416 images.
    * Split: a seeded permutation of the images; **train 50 %, val 25 %, test 25 %** (trainval = train + val).
      Ids are ``000001`` ... in generation order; split files list ids in ascending order.
    * Boxes are the tight box of the object's pixels inside the image (occluders ignored, as VOC boxes the
      object, not only its visible part), VOC 1-based inclusive: a pixel column ``x`` (0-based) is ``x + 1``.
    * ``truncated`` = the object is cut by the image border, which is exactly when its box reaches the border
      (``xmin == 1``, ``ymin == 1``, ``xmax == width`` or ``ymax == height``); objects that are not cut are
      kept at least 2 px inside.
    * ``difficult`` = tiny (``sqrt(box area / image area) < 0.05``, about 22 px on a 500×375 image, 18 px on 416×312,
      or a box side under 6 px) or mostly hidden (less than 35 % of its pixels visible). ``occluded`` = less than 80 %
      visible. An object with less than 8 % (or 12 px) visible is left out of the annotation.
    * Layout statistics come from :data:`~vocbench.synth.profile.VOC0712_PROFILE` (VOC07+12 trainval): objects
      per image, box size given how crowded the image is, how often a box of that size reaches the border,
      per-class box aspect ratio and how often an image repeats a class. Class frequencies are VOC's
      flattened by a power ``class_balance`` (default 0.5; 1 = VOC's own, where person is 33 % of objects) so
      every class has enough examples to learn from; the per-class mean log aspect ratios are then shifted by
      one constant so that the overall aspect-ratio distribution stays VOC's.
    * Faint objects: an object other than an image's first is, with VOC's probability of being ``difficult``
      at its size, drawn see-through (25-40 % opacity) and marked ``difficult``.
    * Determinism: image ``i`` draws from ``numpy.random.default_rng([seed, 0, i])`` and the split from
      ``default_rng([seed, 1])``, so the output does not depend on the number of workers. Annotations are
      byte-identical for a seed; JPEG bytes are identical for the same numpy and Pillow versions.
"""

from __future__ import annotations

import io
import json
import math
import multiprocessing as mp
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from vocbench.errors import VocbenchError
from vocbench.io.atomic import atomic_write_bytes, atomic_write_text
from vocbench.synth.classes import CLASS_STYLES, PALETTES
from vocbench.synth.draw import (
    background,
    draw_distractors,
    frame_extent,
    hsv_to_rgb,
    local_frame,
    shape_mask,
    texture_mask,
)
from vocbench.synth.profile import SIZE_BINS, VOC0712_PROFILE, LayoutProfile, crowd_bucket

__all__ = ["generate", "render_image", "annotation_xml", "SPLIT_FRACTIONS", "MARKER", "DIFFICULT_SIZE",
           "DIFFICULT_VISIBLE", "OCCLUDED_VISIBLE"]

#: Shares of train, val and test.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.5, 0.25, 0.25)
#: The file that marks a folder as written by :func:`generate` (and holds its parameters and counts).
MARKER = "vocbench_synth.json"
#: ``sqrt(box area / image area)`` below which an object is difficult.
DIFFICULT_SIZE = 0.05
#: Box side (pixels) below which an object is difficult.
DIFFICULT_SIDE = 6
#: Visible share of its pixels below which an object is difficult.
DIFFICULT_VISIBLE = 0.35
#: Visible share below which an object is marked occluded.
OCCLUDED_VISIBLE = 0.8
#: Visible share (or pixel count) below which an object is left out of the annotation.
DROP_VISIBLE, DROP_PIXELS = 0.08, 12
#: Largest rotation of an object, radians.
MAX_ROTATION = math.radians(20.0)
JPEG_QUALITY = 90
#: Widening of the per-class aspect spread, making up for the narrowing where big boxes must fit the image.
ASPECT_SPREAD = 1.2
#: Added to every class's mean log aspect: fitting big boxes into (mostly landscape) images pulls aspects towards
#: the image's; measured on 2,000 images so that the overall mean log aspect matches the profile's.
ASPECT_OFFSET = -0.06


@dataclass(frozen=True)
class _Config:
    folder: str
    year: str
    size: int
    seed: int
    class_probs: tuple[float, ...]
    profile: LayoutProfile

    @property
    def aspect_shift(self) -> float:
        """Added to every class's mean log aspect so the mixture keeps the profile's mean under ``class_probs``."""
        mu = np.asarray(self.profile.class_aspect_mean)
        return float(np.dot(self.profile.class_probs, mu) / sum(self.profile.class_probs)
                     - np.dot(self.class_probs, mu))


# ---------------------------------------------------------------------------------------------------- layout
def _image_shape(rng: np.random.Generator, profile: LayoutProfile, size: int) -> tuple[int, int]:
    probs = np.append(np.asarray(profile.image_shape_probs), profile.other_shape_prob)
    k = rng.choice(len(probs), p=probs / probs.sum())
    w: float
    h: float
    if k < len(profile.image_shapes):
        w, h = profile.image_shapes[k]
    else:  # a less common shape: log(W / H) interpolated between the profile's quantiles
        q = np.asarray(profile.other_aspect_quantiles)
        la = float(np.interp(rng.uniform(0, len(q) - 1), np.arange(len(q)), q))
        w, h = (1000.0, 1000.0 * math.exp(-la)) if la >= 0 else (1000.0 * math.exp(la), 1000.0)
    scale = size / max(w, h)
    return max(int(round(w * scale)), 16), max(int(round(h * scale)), 16)


def _classes(rng: np.random.Generator, n: int, class_probs: np.ndarray, repeat: float) -> np.ndarray:
    out = np.empty(n, np.int64)
    for k in range(n):
        if k > 0 and rng.random() < repeat:
            out[k] = out[rng.integers(0, k)]
        else:
            out[k] = rng.choice(len(class_probs), p=class_probs)
    return out


def _log_aspect(rng: np.random.Generator, mean: float, std: float, size: float, image_log_aspect: float) -> float:
    """``log(w / h)`` from the class's normal, truncated so that a box of relative ``size`` fits the image.

    A box ``s * sqrt(W * H)`` on a side fits when ``|log(w / h) - log(W / H)| <= -2 log(s)``; big boxes thus take
    the image's shape, as VOC's image-filling boxes do.
    """
    half = min(-2.0 * math.log(max(size, 1e-3)), 2.3)
    lo, hi = image_log_aspect - half, image_log_aspect + half
    for _ in range(16):
        la = rng.normal(mean, std)
        if lo <= la <= hi:
            return float(la)
    return float(np.clip(rng.normal(mean, std), lo, hi))


_UNIT_GRID = np.stack(np.meshgrid(np.linspace(-1, 1, 65, dtype=np.float32),
                                   np.linspace(-1, 1, 65, dtype=np.float32)), 0)


def _fit_frame(family: int, shape_p: np.ndarray, cx: float, cy: float, ex: float, ey: float,
               theta: float) -> tuple[float, float, float, float]:
    """Centre and half sizes of a shape's local frame so that the rotated shape spans ``cx ± ex, cy ± ey``.

    The shape is sampled on a 65×65 grid of its unit frame; three fixed-point steps rescale the half sizes
    until the rotated samples span the target extent, then the centre is shifted onto the target's centre.
    """
    u, v = _UNIT_GRID
    inside = shape_mask(family, u, v, shape_p)
    u, v = u[inside].astype(np.float64), v[inside].astype(np.float64)
    co, si = math.cos(theta), math.sin(theta)
    a, b = ex, ey
    for _ in range(3):
        dx = a * u * co - b * v * si
        dy = a * u * si + b * v * co
        a *= 2 * ex / max(dx.max() - dx.min(), 1e-6)
        b *= 2 * ey / max(dy.max() - dy.min(), 1e-6)
    dx = a * u * co - b * v * si
    dy = a * u * si + b * v * co
    return cx - (dx.max() + dx.min()) / 2, cy - (dy.max() + dy.min()) / 2, max(a, 1.0), max(b, 1.0)


def _place_axis(rng: np.random.Generator, length: int, extent: int, touch_low: bool, touch_high: bool,
                beta: tuple[float, float]):
    """Start pixel of a box of ``length`` on an axis of ``extent`` px, and how far the object runs past each end.

    A box that does not reach the border sits at a Beta(``beta``)-distributed place in its free range.
    """
    if length >= extent - 4:
        touch_low = touch_high = True
        length = extent
    if touch_low and touch_high:
        return 0, extent, rng.uniform(0.0, 0.5) * length, rng.uniform(0.0, 0.5) * length
    if touch_low:
        return 0, length, rng.uniform(0.1, 0.7) * length, 0.0
    if touch_high:
        return extent - length, length, 0.0, rng.uniform(0.1, 0.7) * length
    free = extent - length - 4  # >= 0 here; the box keeps 2 px from both borders
    return 2 + int(round(rng.beta(*beta) * free)), length, 0.0, 0.0


def _sides(rng: np.random.Generator, p_touch: float) -> tuple[bool, bool, bool, bool]:
    """Which borders (left, top, right, bottom) a box reaches."""
    sides = [False] * 4
    if rng.random() < p_touch:
        first = int(rng.integers(0, 4))
        sides[first] = True
        if rng.random() < 0.3:  # a corner
            sides[(first + (1 if rng.random() < 0.5 else 3)) % 4] = True
    return sides[0], sides[1], sides[2], sides[3]


def _layout(rng: np.random.Generator, width: int, height: int, cfg: _Config) -> list[dict]:
    """Objects of one image: class, local frame (centre, half sizes, rotation) and look, in drawing order."""
    prof = cfg.profile
    n = int(rng.choice(len(prof.objects_per_image_probs), p=np.asarray(prof.objects_per_image_probs))) + 1
    classes = _classes(rng, n, np.asarray(cfg.class_probs), prof.repeat_class_prob)
    size_p = np.asarray(prof.size_probs[crowd_bucket(n)])
    size_p = size_p / size_p.sum()
    scale = math.sqrt(width * height)
    shift = cfg.aspect_shift + ASPECT_OFFSET
    # the first object is never tiny, so every image has something to learn from (VOC images all do)
    first_p = np.where(SIZE_BINS[1:] > 1.5 * DIFFICULT_SIZE, size_p, 0.0)
    first_p = first_p / first_p.sum()
    specs: list[dict[str, Any]] = []
    for k, c in enumerate(classes):
        b = int(rng.choice(len(size_p), p=first_p if k == 0 else size_p))
        s = rng.uniform(SIZE_BINS[b], SIZE_BINS[b + 1])
        if k == 0:
            s = max(s, 1.5 * DIFFICULT_SIZE)
        la = _log_aspect(rng, prof.class_aspect_mean[c] + shift, prof.class_aspect_std[c] * ASPECT_SPREAD, s,
                         math.log(width / height))
        bw = int(np.clip(round(s * scale * math.exp(la / 2)), 3, width))
        bh = int(np.clip(round(s * scale * math.exp(-la / 2)), 3, height))
        specs.append({"cls": int(c), "bw": bw, "bh": bh, "p_touch": prof.border_probs[b], "first": k == 0,
                      "p_faint": prof.difficult_probs[b] if b > 0 else 0.0})
    # big objects first (mostly): small ones then stay visible, as in photos where the big object is the subject
    jitter = rng.uniform(0.5, 1.5, n)
    specs = [specs[i] for i in np.argsort(-np.array([s["bw"] * s["bh"] for s in specs]) * jitter, kind="stable")]

    placed: list[tuple[int, int, int, int]] = []
    for spec in specs:
        for _ in range(6):
            left, top, right, bottom = _sides(rng, spec["p_touch"])
            x0, bw, ext_l, ext_r = _place_axis(rng, spec["bw"], width, left, right, prof.position_beta_x)
            y0, bh, ext_t, ext_b = _place_axis(rng, spec["bh"], height, top, bottom, prof.position_beta_y)
            box = (x0, y0, x0 + bw, y0 + bh)
            if all(_covered(box, q) < 0.5 for q in placed):
                break
        placed.append(box)
        # the full object frame in continuous pixel coordinates (pixel centres at integers)
        fx0, fx1 = x0 - 0.5 - ext_l, x0 + bw - 0.5 + ext_r
        fy0, fy1 = y0 - 0.5 - ext_t, y0 + bh - 0.5 + ext_b
        ex, ey = (fx1 - fx0) / 2, (fy1 - fy0) / 2
        tmax = min(MAX_ROTATION, 0.8 * math.atan(min(ex / ey, ey / ex)))
        theta = rng.uniform(-tmax, tmax)
        style = CLASS_STYLES[spec["cls"]]
        shape_p = rng.random(4)
        cx, cy, half_a, half_b = _fit_frame(style.shape, shape_p, (fx0 + fx1) / 2, (fy0 + fy1) / 2, ex, ey, theta)
        spec.update(cx=cx, cy=cy, a=half_a, b=half_b, theta=theta, shape_p=shape_p, tex_p=rng.random(4))
        first, p_faint = spec.pop("first"), spec.pop("p_faint")
        spec["faint"] = (not first) and bool(rng.random() < p_faint)
        pal = PALETTES[style.palette]
        spec["main"] = hsv_to_rgb(pal.hue + rng.uniform(-10, 10), rng.uniform(0.65, 1.0), rng.uniform(0.6, 1.0))
        ah, asat, aval = pal.accent_hsv
        spec["accent"] = hsv_to_rgb(ah + rng.uniform(-10, 10), asat * rng.uniform(0.8, 1.0),
                                    aval * rng.uniform(0.85, 1.0) if aval > 0.5 else aval + rng.uniform(0, 0.1))
        spec["shade"] = rng.uniform(0.0, 0.35)
        spec["alpha"] = rng.uniform(0.25, 0.4)
    return specs


def _covered(box: tuple, other: tuple) -> float:
    """Share of ``other`` (x0, y0, x1, y1; exclusive ends) covered by ``box``."""
    iw = min(box[2], other[2]) - max(box[0], other[0])
    ih = min(box[3], other[3]) - max(box[1], other[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max((other[2] - other[0]) * (other[3] - other[1]), 1)


# ---------------------------------------------------------------------------------------------------- drawing
def render_image(index: int, seed: int = 0, size: int = 416, profile: LayoutProfile = VOC0712_PROFILE,
                 class_balance: float = 0.5) -> tuple[np.ndarray, list[dict]]:
    """Draw image ``index`` of the dataset with ``seed`` in memory (the same pixels :func:`generate` writes).

    Args:
        index: 0-based image number (``000001`` is index 0).
        seed: dataset seed.
        size: long side of the image, pixels.
        profile: the layout statistics.
        class_balance: power applied to the profile's class frequencies (1 = as measured, 0 = uniform).

    Returns:
        ``(image, objects)``: uint8[H, W, 3] RGB and one dict per annotated object with ``name``, ``pose``,
        ``truncated``, ``occluded``, ``difficult`` (0/1), ``bbox`` (xmin, ymin, xmax, ymax), VOC 1-based
        inclusive pixels, ``layer`` (drawing order) and ``visible`` (share of its pixels not covered).
    """
    cfg = _Config("", "", size, seed, _class_probs(profile, class_balance), profile)
    image, objects, _ = _render(cfg, index)
    return image, objects


def _class_probs(profile: LayoutProfile, balance: float) -> tuple[float, ...]:
    p = np.asarray(profile.class_probs, np.float64) ** float(balance)
    return tuple((p / p.sum()).tolist())


def _render(cfg: _Config, index: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Image, annotated objects, and int32[H, W] owner map (layer of the object on top, -1 = background)."""
    rng = np.random.default_rng([cfg.seed, 0, index])
    width, height = _image_shape(rng, cfg.profile, cfg.size)
    img = background(rng, height, width)
    draw_distractors(img, rng, int(rng.integers(1, 7)))
    specs = _layout(rng, width, height, cfg)
    owner = np.full((height, width), -1, np.int32)
    pixels = np.zeros(len(specs), np.int64)
    boxes = np.zeros((len(specs), 4), np.int64)
    for k, sp in enumerate(specs):
        x0, y0, x1, y1 = frame_extent(sp["cx"], sp["cy"], sp["a"], sp["b"], sp["theta"])
        xa, ya = max(int(math.floor(x0)), 0), max(int(math.floor(y0)), 0)
        xb, yb = min(int(math.ceil(x1)) + 1, width), min(int(math.ceil(y1)) + 1, height)
        if xb <= xa or yb <= ya:
            continue
        u, v = local_frame(xa, ya, xb - xa, yb - ya, sp["cx"], sp["cy"], sp["a"], sp["b"], sp["theta"])
        style = CLASS_STYLES[sp["cls"]]
        mask = shape_mask(style.shape, u, v, sp["shape_p"])
        count = int(np.count_nonzero(mask))
        if count == 0:
            continue
        light = (1.0 - np.float32(sp["shade"]) * (v + 1.0) * 0.5)[..., None]  # lit from the top
        tex = texture_mask(style.texture, u, v, sp["tex_p"])
        colour = sp["main"] * light if tex is None else np.where(tex[..., None], sp["accent"], sp["main"]) * light
        region = img[ya:yb, xa:xb]
        if sp["faint"]:  # hard to make out: mostly see-through (these are the 'difficult' ones)
            alpha = np.float32(sp["alpha"])
            region[mask] = region[mask] * (1 - alpha) + colour[mask] * alpha
        else:
            region[mask] = colour[mask]
        owner[ya:yb, xa:xb][mask] = k
        pixels[k] = count
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        boxes[k] = (xa + cols[0], ya + rows[0], xa + cols[-1], ya + rows[-1])
    img += rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(rng.uniform(1.5, 5.0))  # grain
    image = np.clip(img, 0, 255, out=img).astype(np.uint8)

    visible = np.bincount(owner[owner >= 0], minlength=len(specs))
    objects = []
    for k, sp in enumerate(specs):
        if pixels[k] == 0:
            continue
        vis = visible[k] / pixels[k]
        if vis < DROP_VISIBLE or visible[k] < DROP_PIXELS:
            continue
        bx0, by0, bx1, by1 = (int(t) for t in boxes[k])
        bw, bh = bx1 - bx0 + 1, by1 - by0 + 1
        tiny = math.sqrt(bw * bh / (width * height)) < DIFFICULT_SIZE or min(bw, bh) < DIFFICULT_SIDE
        truncated = bx0 == 0 or by0 == 0 or bx1 == width - 1 or by1 == height - 1
        theta = sp["theta"]
        objects.append({
            "name": CLASS_STYLES[sp["cls"]].name,
            "pose": "Left" if theta < -0.1 else "Right" if theta > 0.1 else "Frontal",
            "truncated": int(truncated), "occluded": int(vis < OCCLUDED_VISIBLE),
            "difficult": int(tiny or sp["faint"] or vis < DIFFICULT_VISIBLE),
            "bbox": (bx0 + 1, by0 + 1, bx1 + 1, by1 + 1),
            "layer": k, "visible": float(vis),
        })
    # annotation order: top-left first (stable for equal keys), like annotators working across the image
    objects.sort(key=lambda o: (o["bbox"][1] // 64, o["bbox"][0]))
    return image, objects, owner


# ---------------------------------------------------------------------------------------------------- files
def annotation_xml(folder: str, image_id: str, width: int, height: int, objects: Sequence[dict],
                   database: str = "vocbench synthetic") -> str:
    """The VOC XML text of one image (tab-indented like the devkit's files; no timestamps).

    Args:
        folder: the ``<folder>`` value, e.g. ``"VOC2007"``.
        image_id: file stem, e.g. ``"000001"``.
        width, height: image size, pixels.
        objects: dicts with ``name``, ``pose``, ``truncated``, ``occluded``, ``difficult`` and ``bbox`` (1-based).
        database: the ``<source><database>`` value.
    """
    lines = ["<annotation>", f"\t<folder>{folder}</folder>", f"\t<filename>{image_id}.jpg</filename>",
             "\t<source>", f"\t\t<database>{database}</database>", "\t\t<annotation>vocbench synth</annotation>",
             "\t\t<image>procedural</image>", "\t</source>",
             "\t<size>", f"\t\t<width>{width}</width>", f"\t\t<height>{height}</height>", "\t\t<depth>3</depth>",
             "\t</size>", "\t<segmented>0</segmented>"]
    for o in objects:
        x0, y0, x1, y1 = o["bbox"]
        lines += ["\t<object>", f"\t\t<name>{o['name']}</name>", f"\t\t<pose>{o['pose']}</pose>",
                  f"\t\t<truncated>{o['truncated']}</truncated>", f"\t\t<occluded>{o['occluded']}</occluded>",
                  f"\t\t<difficult>{o['difficult']}</difficult>", "\t\t<bndbox>",
                  f"\t\t\t<xmin>{x0}</xmin>", f"\t\t\t<ymin>{y0}</ymin>", f"\t\t\t<xmax>{x1}</xmax>",
                  f"\t\t\t<ymax>{y1}</ymax>", "\t\t</bndbox>", "\t</object>"]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def _write_one(cfg: _Config, index: int) -> tuple[str, list[tuple[str, int]]]:
    from PIL import Image

    image_id = f"{index + 1:06d}"
    image, objects, _ = _render(cfg, index)
    folder = Path(cfg.folder)
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="JPEG", quality=JPEG_QUALITY)
    # atomic (temp + rename) but not fsynced one by one: the marker, written last and fsynced, marks completion
    atomic_write_bytes(folder / "JPEGImages" / f"{image_id}.jpg", buf.getvalue(), fsync=False)
    h, w = image.shape[:2]
    xml = annotation_xml(f"VOC{cfg.year}", image_id, w, h, objects)
    atomic_write_text(folder / "Annotations" / f"{image_id}.xml", xml, fsync=False)
    return image_id, [(o["name"], o["difficult"]) for o in objects]


def _prepare_folder(folder: Path) -> None:
    if folder.exists():
        marker = folder / MARKER
        if not marker.is_file() and any(folder.iterdir()):
            raise VocbenchError(f"{folder}: exists and was not written by 'vocbench synth' (no {MARKER}); "
                                f"refusing to overwrite it — choose another OUT")
        for sub in ("JPEGImages", "Annotations", "ImageSets"):
            shutil.rmtree(folder / sub, ignore_errors=True)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # an "incomplete" marker first: an interrupted run leaves a folder the next run may replace; the full marker
    # (with the counts) is written last
    atomic_write_text(folder / MARKER, json.dumps({"generator": "vocbench synth", "complete": False}) + "\n")


def _split(n: int, seed: int) -> dict[str, list[int]]:
    perm = np.random.default_rng([seed, 1]).permutation(n)
    n_train = int(round(n * SPLIT_FRACTIONS[0]))
    n_val = int(round(n * SPLIT_FRACTIONS[1]))
    train = sorted(perm[:n_train].tolist())
    val = sorted(perm[n_train:n_train + n_val].tolist())
    test = sorted(perm[n_train + n_val:].tolist())
    return {"train": train, "val": val, "trainval": sorted(train + val), "test": test}


def _default_workers(images: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, images // 64, 16))


def generate(out: str | os.PathLike, images: int = 2000, size: int = 416, seed: int = 0, year: str = "2007",
             workers: int | None = None, progress: bool = False, *, profile: LayoutProfile = VOC0712_PROFILE,
             class_balance: float = 0.5) -> Path:
    """Write a synthetic VOC-format dataset to ``out/VOCdevkit/VOC<year>`` (see the module docstring).

    Args:
        out: output folder; ``VOCdevkit/`` is created inside. A previous synthetic set there is replaced; a
            folder not written by vocbench is never touched.
        images: number of images (>= 1).
        size: long side of every image, pixels (>= 64).
        seed: the dataset seed; the same seed gives the same dataset whatever ``workers`` is.
        year: the ``VOC<year>`` folder name and the year in set specs (``"2007:trainval"``).
        workers: worker processes (None = one per available core, fewer for small sets; 1 = in this process).
        progress: show a tqdm progress bar on stderr.
        profile: the layout statistics to follow (default VOC07+12 trainval).
        class_balance: power applied to the profile's class frequencies (1 = as measured, 0 = uniform).

    Returns:
        The ``VOCdevkit`` path (load it with ``vocbench.load_voc(path, ["2007:trainval"])``).

    Raises:
        VocbenchError: bad arguments, or ``out`` holds a dataset that vocbench did not write.
    """
    images, size, year = int(images), int(size), str(year)
    if images < 1:
        raise VocbenchError(f"--images must be at least 1, got {images}")
    if size < 64 or size > 4096:
        raise VocbenchError(f"--size must be between 64 and 4096 pixels, got {size}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= int(seed) < 2**63:
        raise VocbenchError(f"--seed must be an integer in 0..2**63-1, got {seed!r}")
    if not year or any(ch in year for ch in "/\\: "):
        raise VocbenchError(f"--year must be a plain folder suffix like 2007, got {year!r}")
    if len(profile.classes) != len(CLASS_STYLES):
        raise VocbenchError(f"the layout profile has {len(profile.classes)} classes; the generator draws "
                            f"{len(CLASS_STYLES)}")
    devkit = Path(out) / "VOCdevkit"
    folder = devkit / f"VOC{year}"
    _prepare_folder(folder)
    cfg = _Config(str(folder), year, size, int(seed), _class_probs(profile, class_balance), profile)
    workers = _default_workers(images) if workers is None else max(1, int(workers))

    task = partial(_write_one, cfg)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=images, unit="img", desc="synth", dynamic_ncols=True)
    results: list = [None] * images
    try:
        if workers == 1:
            for i in range(images):
                results[i] = task(i)
                if bar is not None:
                    bar.update(1)
        else:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            if method == "forkserver":  # import once in the server; workers fork from it ready to draw
                ctx.set_forkserver_preload(["vocbench.synth.generator"])
            chunk = max(1, min(32, images // (workers * 8)))
            with ctx.Pool(workers) as pool:
                for i, res in enumerate(pool.imap(task, range(images), chunksize=chunk)):
                    results[i] = res
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    _write_image_sets(folder, results, _split(images, int(seed)))
    counts = {
        "images": images,
        "objects": sum(len(r[1]) for r in results),
        "difficult": sum(d for r in results for _, d in r[1]),
    }
    meta = {"generator": "vocbench synth", "seed": int(seed), "images": images, "size": size, "year": year,
            "class_balance": class_balance, "profile": profile.source, "split_fractions": list(SPLIT_FRACTIONS),
            "counts": counts}
    atomic_write_text(folder / MARKER, json.dumps(meta, indent=2) + "\n")
    return devkit


def _write_image_sets(folder: Path, results: list, splits: dict[str, list[int]]) -> None:
    main = folder / "ImageSets" / "Main"
    ids = [r[0] for r in results]
    # per image and class: 1 = a non-difficult object, 0 = only difficult ones, -1 = none
    flags = np.full((len(results), len(CLASS_STYLES)), -1, np.int8)
    index = {c.name: k for k, c in enumerate(CLASS_STYLES)}
    for i, (_, objs) in enumerate(results):
        for name, diff in objs:
            c = index[name]
            flags[i, c] = max(flags[i, c], 0 if diff else 1)
    for split, rows in splits.items():
        atomic_write_text(main / f"{split}.txt", "".join(f"{ids[i]}\n" for i in rows), fsync=False)
        for c, style in enumerate(CLASS_STYLES):
            text = "".join(f"{ids[i]} {flags[i, c]:2d}\n" for i in rows)
            atomic_write_text(main / f"{style.name}_{split}.txt", text, fsync=False)
