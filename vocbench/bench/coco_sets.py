"""Deterministic COCO-format file sets for the end-to-end benchmark rows (never committed: written to a cache).

Two shapes, both a function of a seed only (same bytes on every machine with the same numpy):

* ``coco``: a COCO-val-sized set: 5,000 images, 80 categories with COCO's sparse ids (1..90 with gaps), ~36k
  annotations whose ``area`` is a segment-like 55-95% of the box area (pycocotools ranks small/medium/large by
  ``area``, not by the box), ~1% crowd; 500k detections (100 per image, as detectors keep), ~48 MB of results JSON
  written as ``json.dumps`` writes a list of dicts (detectron2/mmdet style).
* ``o365``: Objects365-like: 365 categories, 50,000 images, ~500k annotations, 5M detections (~480 MB).

Detections are jittered copies of ground-truth boxes (true positives at every IoU) plus background boxes, with
scores correlated to the fit, so every AP/AR of the 12 numbers is well inside (0, 1).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["COCO_SETS", "coco_set_spec", "write_coco_set", "coco_set_paths"]

#: name -> (images, categories, mean annotations per image, detections per image)
COCO_SETS: dict[str, tuple[int, int, float, int]] = {
    "coco": (5_000, 80, 7.3, 100),
    "o365": (50_000, 365, 10.0, 100),
    "tiny": (60, 80, 7.3, 30),  # tests
}

#: COCO's 80 category ids (1..90 with the 10 unused ids left out).
_COCO_CAT_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def coco_set_spec(name: str) -> tuple[int, int, float, int]:
    """(images, categories, annotations per image, detections per image) of a named set."""
    if name not in COCO_SETS:
        raise ValueError(f"unknown COCO benchmark set {name!r} (known: {', '.join(COCO_SETS)})")
    return COCO_SETS[name]


def coco_set_paths(name: str, folder: str | os.PathLike) -> tuple[Path, Path]:
    """(``instances.json``, ``results.json``) of set ``name`` under ``folder``."""
    base = Path(folder) / f"{name}-v1"
    return base / "instances.json", base / "results.json"


def _ground_truth(rng: np.random.Generator, n_img: int, n_cat: int, per_img: float):
    cat_ids = np.array(_COCO_CAT_IDS if n_cat == 80 else range(1, n_cat + 1), np.int64)
    img_ids = np.sort(rng.choice(np.arange(1, 600_000), n_img, replace=False))
    widths = rng.integers(320, 641, n_img)
    heights = rng.integers(240, 641, n_img)
    counts = rng.poisson(per_img, n_img)
    owner = np.repeat(np.arange(n_img), counts)
    m = len(owner)
    w_img, h_img = widths[owner].astype(float), heights[owner].astype(float)
    scale = np.exp(rng.uniform(np.log(0.02), np.log(0.9), m))  # small, medium and large objects
    aspect = np.exp(rng.normal(0, 0.5, m))
    bw = np.minimum(np.sqrt(w_img * h_img) * scale * np.sqrt(aspect), w_img - 1)
    bh = np.minimum(np.sqrt(w_img * h_img) * scale / np.sqrt(aspect), h_img - 1)
    x = rng.uniform(0, 1, m) * (w_img - bw)
    y = rng.uniform(0, 1, m) * (h_img - bh)
    boxes = np.round(np.stack([x, y, bw, bh], axis=1), 2)
    area = np.round(boxes[:, 2] * boxes[:, 3] * rng.uniform(0.55, 0.95, m), 2)
    cats = cat_ids[np.minimum(rng.zipf(1.6, m) - 1, n_cat - 1)]  # a long tail of rare categories
    crowd = (rng.random(m) < 0.01).astype(np.int64)
    return cat_ids, img_ids, widths, heights, owner, boxes, area, cats, crowd


def _detections(rng: np.random.Generator, gt, per_img: int):
    cat_ids, img_ids, widths, heights, owner, boxes, _, cats, _ = gt
    n_img = len(img_ids)
    n = n_img * per_img
    det_img = np.repeat(np.arange(n_img), per_img)
    m = len(owner)
    tp = rng.random(n) < 0.5  # half of them regress an object of their image (if it has one)
    first = np.searchsorted(owner, np.arange(n_img))
    count = np.bincount(owner, minlength=n_img)
    has = count[det_img] > 0
    pick = first[det_img] + (rng.random(n) * np.maximum(count[det_img], 1)).astype(np.int64)
    pick = np.minimum(pick, max(m - 1, 0))
    tp &= has
    g = boxes[pick] if m else np.zeros((n, 4))
    jit = np.exp(rng.normal(0, 0.12, (n, 2)))
    out = np.empty((n, 4))
    out[:, 2:] = g[:, 2:] * jit
    out[:, :2] = g[:, :2] + rng.normal(0, 0.08, (n, 2)) * g[:, 2:]
    w_img, h_img = widths[det_img].astype(float), heights[det_img].astype(float)
    bg = ~tp
    k = int(bg.sum())
    side = np.sqrt(w_img[bg] * h_img[bg]) * np.exp(rng.uniform(np.log(0.02), np.log(0.7), k))
    out[bg, 2] = side * np.exp(rng.normal(0, 0.4, k))
    out[bg, 3] = side ** 2 / out[bg, 2]
    out[bg, 0] = rng.random(k) * w_img[bg]
    out[bg, 1] = rng.random(k) * h_img[bg]
    out = np.round(out, 2)
    dcat = np.where(tp & (rng.random(n) < 0.9), cats[pick] if m else cat_ids[0],
                    cat_ids[rng.integers(0, len(cat_ids), n)])
    score = np.where(tp, 0.3 + 0.7 * rng.beta(4, 2, n), 0.6 * rng.beta(1, 5, n))
    score = np.round(score, 5)
    return img_ids[det_img], dcat, out, score


def _write_gt(path: Path, gt) -> None:
    cat_ids, img_ids, widths, heights, owner, boxes, area, cats, crowd = gt
    data = {
        "info": {"description": "vocbench synthetic COCO-format benchmark set"},
        "images": [{"id": int(i), "file_name": f"{int(i):012d}.jpg", "width": int(w), "height": int(h)}
                   for i, w, h in zip(img_ids.tolist(), widths.tolist(), heights.tolist())],
        "annotations": [{"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": a, "iscrowd": z}
                        for k, (i, c, b, a, z) in enumerate(zip(img_ids[owner].tolist(), cats.tolist(),
                                                                boxes.tolist(), area.tolist(), crowd.tolist()))],
        "categories": [{"id": int(c), "name": f"class_{int(c)}", "supercategory": "thing"} for c in cat_ids],
    }
    path.write_text(json.dumps(data), encoding="utf-8")


def _write_results(path: Path, dets, chunk: int = 250_000) -> None:
    img, cat, boxes, score = dets
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for s in range(0, len(img), chunk):
            rows = zip(img[s:s + chunk].tolist(), cat[s:s + chunk].tolist(), boxes[s:s + chunk].tolist(),
                       score[s:s + chunk].tolist())
            text = ", ".join(json.dumps({"image_id": i, "category_id": c, "bbox": b, "score": p})
                             for i, c, b, p in rows)
            fh.write((", " if s else "") + text)
        fh.write("]")


def write_coco_set(name: str, folder: str | os.PathLike, seed: int = 0) -> tuple[Path, Path]:
    """Write set ``name`` (see the module docstring) under ``folder`` unless already there; returns
    (``instances.json``, ``results.json``). Files are written under temporary names and renamed when complete."""
    n_img, n_cat, per_img, det_per_img = coco_set_spec(name)
    gt_path, dt_path = coco_set_paths(name, folder)
    if gt_path.exists() and dt_path.exists():
        return gt_path, dt_path
    gt_path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, n_img, n_cat])
    gt = _ground_truth(rng, n_img, n_cat, per_img)
    dets = _detections(rng, gt, det_per_img)
    for path, write, arg in ((gt_path, _write_gt, gt), (dt_path, _write_results, dets)):
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        write(tmp, arg)
        os.replace(tmp, path)
    return gt_path, dt_path
