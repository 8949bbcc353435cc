"""COCO-format ground truth (``instances.json``) → :class:`~vocbench.structures.Dataset`.

Reading convention (an export of :func:`vocbench.io.coco.export_coco` reads back bit for bit):

* classes: the ``categories`` sorted by ``id`` (pycocotools' ``sorted(catIds)``; category order = class order).
* images: the ``images`` list in file order; the image id of the dataset is the ``file_name`` stem (the COCO
  ``id`` as text when stems repeat); widths/heights from the entry; ``file_name`` kept as
  :attr:`Dataset.image_files` (relative to the JSON's folder). Stems, file names and VOC boxes are built when
  first read (the COCO metric reads none of them).
* annotations, grouped by image (file order within an image): ``bbox = [x, y, w, h]`` → VOC pixels
  ``(x + 1, y + 1, x + w, y + h)`` for the VOC metrics; ``iscrowd`` or ``ignore: 1`` → difficult.
* :attr:`Dataset.coco` (:class:`~vocbench.structures.CocoAnnotations`) keeps what the COCO metric scores, as
  written: the COCO image and category ids, ``bbox``, ``area`` (``w * h`` where absent, as pycocotools would fail
  without it), ``iscrowd``, ``ignore``.

Boxes with a negative width or height, or reaching outside their image, are kept and reported as VOC reports its
own (one warning, :attr:`Dataset.issues`); ``strict=True`` makes them errors. Bad input raises
:class:`~vocbench.errors.InputError` naming the file and the record (:mod:`vocbench.io.coco_columns`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vocbench.errors import InputError
from vocbench.io.coco_columns import CocoGtColumns, read_coco_gt_columns
from vocbench.structures import CocoAnnotations, Dataset, constant_column

__all__ = ["load_coco_gt", "dataset_from_coco_columns", "coco_ids"]


def coco_ids(dataset: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The COCO (image ids int64[I], category ids int64[K]) of a dataset read from COCO, else None."""
    if dataset.coco is None:
        return None
    return dataset.coco.image_ids, dataset.coco.category_ids


def load_coco_gt(path: str | os.PathLike, classes=None, strict: bool = False) -> Dataset:
    """Read a COCO ``instances.json`` as a :class:`Dataset` (see the module docstring for the convention).

    Args:
        path: the JSON file (``images``, ``annotations``, ``categories``).
        classes: optional class names; when given they must be the category names in id order.
        strict: boxes with a negative width or height or outside their image are errors, not one warning.

    Raises:
        InputError: not JSON, missing keys, an annotation on an unknown image or category, a bad bbox, id or flag.
    """
    return dataset_from_coco_columns(read_coco_gt_columns(path), classes=classes, strict=strict)


def _stem(name: str) -> str:
    """``Path(name).stem`` (building Path objects was a third of the reading time of a 5k-image file)."""
    if "/" in name or "\\" in name or name == ".":
        return Path(name).stem
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


def coco_image_files(file_names: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """str[I]: each image's ``file_name``, ``"<id>.jpg"`` where the file has none (:attr:`Dataset.image_files`)."""
    return np.array([f or f"{i}.jpg" for f, i in zip(file_names.tolist(), image_ids.tolist())], dtype=str).reshape(-1)


def coco_image_stems(files: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """str[I]: the file stems, or every COCO id as text when two stems are the same (:attr:`Dataset.image_ids`)."""
    stems = [_stem(f) for f in files.tolist()]
    if len(set(stems)) != len(stems):
        stems = [str(int(v)) for v in image_ids.tolist()]
    return np.array(stems, dtype=str).reshape(-1)


def dataset_from_coco_columns(cols: CocoGtColumns, classes=None, strict: bool = False) -> Dataset:
    """The :class:`Dataset` of validated COCO ground-truth columns (:func:`read_coco_gt_columns`); its image ids
    (file stems), image files and VOC pixel boxes are built from :attr:`Dataset.coco` when first read."""
    path = Path(cols.path)
    corder = np.argsort(cols.category_id, kind="stable")
    cat_ids = cols.category_id[corder]
    names = tuple(str(v) for v in cols.category_name[corder].tolist())
    if classes is not None and tuple(classes) != names:
        raise InputError(f"{path}: categories {list(names)} differ from the requested classes {list(classes)}")
    img_ids = cols.image_id
    iorder = np.argsort(img_ids, kind="stable")
    image_index = iorder[np.searchsorted(img_ids[iorder], cols.ann_image_id)]
    class_index = np.searchsorted(cat_ids, cols.ann_category_id)  # both validated: every id is known
    order = np.argsort(image_index, kind="stable")  # Dataset objects are grouped by image, file order within
    xywh = cols.ann_xywh[order]
    area = cols.ann_area[order]
    area = np.where(np.isnan(area), xywh[:, 2] * xywh[:, 3], area)
    crowd, ignore = cols.ann_iscrowd[order], cols.ann_ignore[order]
    image_index = image_index[order]
    issues = _box_issues(path, xywh, cols.ann_record[order], cols.width[image_index], cols.height[image_index])
    if strict and issues:
        raise InputError(f"{issues[0]} (--strict; {len(issues)} such box(es) in all)")
    from vocbench.io.voc import _warn_issues

    _warn_issues(issues)
    coco = CocoAnnotations(image_ids=img_ids, category_ids=cat_ids, xywh=xywh, area=area, iscrowd=crowd,
                           ignore=ignore, file_names=cols.file_name)
    n, m = len(img_ids), len(image_index)
    built: Any = None  # image ids (stems) and VOC boxes: built from `coco` when first read
    return Dataset(classes=names, sets=(path.stem,), image_ids=built, image_years=np.full(n, path.stem),
                   image_sets=np.zeros(n, np.int64), widths=cols.width, heights=cols.height, depths=np.full(n, 3),
                   image_index=image_index, class_index=class_index[order], boxes=built,
                   difficult=crowd | ignore, truncated=constant_column(m, False, bool),
                   occluded=constant_column(m, -1, np.int8), poses=constant_column(m, "Unspecified", str),
                   root=str(path), issues=tuple(issues), coco=coco)


def _box_issues(path: Path, xywh: np.ndarray, records: np.ndarray, widths: np.ndarray,
                heights: np.ndarray) -> list[str]:
    """One message per box with a negative width or height (VOC's "inverted") or reaching outside
    ``[0, width] x [0, height]``."""
    inverted = (xywh[:, 2] < 0) | (xywh[:, 3] < 0)
    outside = ((xywh[:, 0] < 0) | (xywh[:, 1] < 0) | (xywh[:, 0] + xywh[:, 2] > widths)
               | (xywh[:, 1] + xywh[:, 3] > heights))
    out = []
    for j in np.flatnonzero(inverted | outside).tolist():
        box = ", ".join(f"{v:g}" for v in xywh[j].tolist())
        where = f"{path}: annotations[{int(records[j])}]"
        if inverted[j]:
            out.append(f"{where}: inverted box [{box}]: negative width or height")
        else:
            out.append(f"{where}: box [{box}] extends outside the {int(widths[j])}x{int(heights[j])} image")
    return out
