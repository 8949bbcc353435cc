"""Deterministic text-format detection sets for the io benchmark rows (never committed: written to a cache).

The same images, categories and detections as :mod:`vocbench.bench.coco_sets` (same seed, same generator), written
as the text formats users bring, with an in-memory :class:`~vocbench.structures.Dataset` to read them against:

* ``devkit``: one ``comp4_det_test_<class>.txt`` per category, ``<image_id> <score> <xmin> <ymin> <xmax> <ymax>``
  in VOC 1-based pixels with six decimals (darknet's ``validate_detector`` writes ``%f``);
* ``csv``: ``image_id,class,score,xmin,ymin,xmax,ymax``, the same numbers;
* ``yolo``: one ``<image_id>.txt`` per image, ``<class> <cx> <cy> <w> <h> <conf>`` normalised by the image size,
  each number as ``%g`` (ultralytics' ``save_txt`` with ``save_conf``).

The COCO-scale shape (5,000 images, 500k detections) gives the 5k-file YOLO folder; the Objects365-like shape
(50,000 images, 365 categories, 5M detections) the 5M-line devkit and CSV files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from vocbench.bench.coco_sets import _detections, _ground_truth, coco_set_spec
from vocbench.structures import Dataset

__all__ = ["TEXT_FORMATS", "text_set_dataset", "write_text_set"]

TEXT_FORMATS = ("devkit", "csv", "yolo")


def _generate(name: str, seed: int = 0):
    n_img, n_cat, per_img, det_per_img = coco_set_spec(name)
    rng = np.random.default_rng([seed, n_img, n_cat])  # the coco_sets stream: the same detections
    gt = _ground_truth(rng, n_img, n_cat, per_img)
    return gt, _detections(rng, gt, det_per_img)


def _dataset(gt) -> Dataset:
    cat_ids, img_ids, widths, heights, owner, boxes, _, cats, crowd = gt
    m = len(owner)
    xyxy = np.column_stack([boxes[:, 0] + 1, boxes[:, 1] + 1, boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]])
    return Dataset(classes=tuple(f"class_{int(c)}" for c in cat_ids), sets=("bench",),
                   image_ids=np.array([f"{int(i):012d}" for i in img_ids]), image_years=np.full(len(img_ids), "bench"),
                   image_sets=np.zeros(len(img_ids), np.int64), widths=widths, heights=heights,
                   depths=np.full(len(img_ids), 3), image_index=owner, class_index=np.searchsorted(cat_ids, cats),
                   boxes=xyxy, difficult=crowd.astype(bool), truncated=np.zeros(m, bool),
                   occluded=np.full(m, -1, np.int8), poses=np.full(m, "Unspecified"))


def text_set_dataset(name: str, seed: int = 0) -> Dataset:
    """The ground truth of set ``name`` (``"coco"``, ``"o365"``, ``"tiny"``) as an in-memory dataset: image ids are
    the 12-digit COCO file stems, classes ``class_<category id>``."""
    return _dataset(_generate(name, seed)[0])


def _lines(fmt: str, rows: tuple[np.ndarray, ...]) -> str:
    """Text of ``rows`` (columns of equal length) formatted with the printf pattern ``fmt`` (no Python object per
    value kept: the chunk is formatted in one ``%`` per line and joined)."""
    return "".join(fmt % r for r in zip(*(c.tolist() for c in rows)))


def _write_devkit(folder: Path, ds: Dataset, stems, cls, voc, score) -> None:
    order = np.argsort(cls, kind="stable")
    cuts = np.searchsorted(cls[order], np.arange(ds.num_classes + 1))
    for c, name in enumerate(ds.classes):
        rows = order[cuts[c]:cuts[c + 1]]
        text = _lines("%s %f %f %f %f %f\n", (stems[rows], score[rows], *voc[rows].T))
        (folder / f"comp4_det_test_{name}.txt").write_text(text, encoding="ascii")


def _write_csv(path: Path, ds: Dataset, stems, cls, voc, score, chunk: int = 500_000) -> None:
    names = np.array(ds.classes)
    with open(path, "w", encoding="ascii") as fh:
        fh.write("image_id,class,score,xmin,ymin,xmax,ymax\n")
        for s in range(0, len(cls), chunk):
            sl = slice(s, s + chunk)
            fh.write(_lines("%s,%s,%f,%f,%f,%f,%f\n", (stems[sl], names[cls[sl]], score[sl], *voc[sl].T)))


def _write_yolo(folder: Path, ds: Dataset, img, cls, voc, score) -> None:
    from vocbench.io.yolo import clip_normalised, voc_to_yolo

    norm, _ = clip_normalised(voc_to_yolo(voc, ds.widths[img], ds.heights[img]))  # ultralytics clips to the image
    cuts = np.searchsorted(img, np.arange(ds.num_images + 1))  # detections come grouped by image
    for i, stem in enumerate(ds.image_ids.tolist()):
        sl = slice(cuts[i], cuts[i + 1])
        text = _lines("%d %g %g %g %g %g\n", (cls[sl], *norm[sl].T, score[sl]))
        (folder / f"{stem}.txt").write_text(text, encoding="ascii")


def write_text_set(name: str, fmt: str, folder: str | os.PathLike, seed: int = 0) -> tuple[Path, Dataset]:
    """Write set ``name`` in text format ``fmt`` (:data:`TEXT_FORMATS`) under ``folder`` unless already there;
    returns (the folder or file to read, its dataset). Written under a temporary name and renamed when complete."""
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown text format {fmt!r} (known: {', '.join(TEXT_FORMATS)})")
    gt, dets = _generate(name, seed)
    ds = _dataset(gt)
    target = Path(folder) / f"{name}-v1" / ("detections.csv" if fmt == "csv" else f"{fmt}-detections")
    if target.exists():
        return target, ds
    target.parent.mkdir(parents=True, exist_ok=True)
    img_ids, dcat, xywh, score = dets
    img = np.searchsorted(gt[1], img_ids)
    cls = np.searchsorted(gt[0], dcat)
    voc = np.round(np.column_stack([xywh[:, 0] + 1, xywh[:, 1] + 1, xywh[:, 0] + xywh[:, 2],
                                    xywh[:, 1] + xywh[:, 3]]), 2)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    if fmt == "csv":
        _write_csv(tmp, ds, ds.image_ids[img], cls, voc, score)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if fmt == "devkit":
            _write_devkit(tmp, ds, ds.image_ids[img], cls, voc, score)
        else:
            _write_yolo(tmp, ds, img, cls, voc, score)
    os.replace(tmp, target)
    return target, ds
