"""COCO-format ground truth (``instances.json``) → :class:`~vocbench.structures.Dataset`.

Reading convention (the inverse of :func:`vocbench.io.coco.export_coco`, so an export reads back bit for bit):

* classes: the ``categories`` sorted by ``id`` (category order = class order); detections' ``category_id`` are
  matched against these ids.
* images: the ``images`` list in file order; the image id of the dataset is the ``file_name`` stem (the COCO
  ``id`` as text when stems repeat); widths/heights from the entry. Detections' ``image_id`` are matched against
  the COCO ids.
* annotations: ``bbox = [x, y, w, h]`` → VOC pixels ``(x + 1, y + 1, x + w, y + h)``; ``iscrowd`` → difficult
  (ignored by the VOC metrics, crowd regions for the COCO metric), ``ignore: 1`` (some converters) as well.
  ``area`` and ``segmentation`` are not carried (vocbench's COCO metric measures the box area, as for the export).

Bad input raises :class:`~vocbench.errors.InputError` naming the file and the entry (JSON has no useful lines
once parsed; a syntax error names its line).
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["load_coco_gt", "remap_coco_ids", "coco_ids"]

#: Dataset → (image ids int64[I], category ids int64[C]) for sets whose COCO ids are not simply 1..I / 1..C.
_COCO_IDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def coco_ids(dataset: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The original COCO (image ids, category ids) of a dataset read by :func:`load_coco_gt`, else None."""
    return _COCO_IDS.get(dataset)


def remap_coco_ids(dataset: Dataset, image_ids: np.ndarray, category_ids: np.ndarray, path,
                   ignore_unknown: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """COCO results ids → the 1-based positions the COCO results reader expects (identity for other datasets).

    Unknown category ids raise; unknown image ids raise unless ``ignore_unknown`` (they become 0, which the
    reader drops with a warning).
    """
    ids = _COCO_IDS.get(dataset)
    if ids is None:
        return image_ids, category_ids
    img_ids, cat_ids = ids

    def positions(values: np.ndarray, table: np.ndarray) -> np.ndarray:
        order = np.argsort(table, kind="stable")
        sorted_ids = table[order]
        pos = np.searchsorted(sorted_ids, values)
        pos_c = np.minimum(pos, len(table) - 1) if len(table) else pos
        found = (pos < len(table)) & (sorted_ids[pos_c] == values) if len(table) else np.zeros(len(values), bool)
        return np.where(found, order[pos_c] + 1, 0).astype(np.int64)

    cat = positions(np.asarray(category_ids, np.int64), cat_ids)
    if (cat == 0).any():
        r = int(np.flatnonzero(cat == 0)[0])
        raise InputError(f"{path}: result {r}: category_id {int(category_ids[r])} is not a category of the "
                         f"ground truth (ids {', '.join(str(int(c)) for c in cat_ids[:30])})")
    img = positions(np.asarray(image_ids, np.int64), img_ids)
    if (img == 0).any() and not ignore_unknown:
        r = int(np.flatnonzero(img == 0)[0])
        raise InputError(f"{path}: result {r}: image_id {int(image_ids[r])} is not an image of the ground truth "
                         f"{list(dataset.sets)} (use --ignore-unknown-images to drop such detections)")
    return img, cat


def _int(v, where: str, field: str) -> int:
    if type(v) is int or (type(v) is float and v.is_integer()):
        return int(v)
    raise InputError(f"{where}: {field} {v!r} is not an integer")


def _sorted_positions(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Position in ``table`` (unique ids) of each of ``ids``; -1 where absent."""
    order = np.argsort(table, kind="stable")
    pos = np.searchsorted(table[order], ids)
    pos_c = np.minimum(pos, max(len(table) - 1, 0))
    found = (pos < len(table)) & (table[order][pos_c] == ids) if len(table) else np.zeros(len(ids), bool)
    return np.where(found, order[pos_c] if len(table) else 0, -1)


def _from_columns(path: Path, cols: dict, classes) -> Dataset | None:
    """The Dataset of scanned columns (:func:`vocbench.io._json_scan.scan_coco_gt`) when every record is valid;
    None otherwise, so that the json path reads the file and names the bad record in its message."""
    images, cats = cols.get("images"), cols.get("categories")
    anns = cols.get("annotations") or {"count": 0, "present": {}}
    if images is None or cats is None or not cats["count"]:
        return None
    if not (cats["present"]["id"].all() and cats["present"]["name"].all()
            and all(images["present"][k].all() for k in ("id", "width", "height"))
            and all(anns["present"][k].all() for k in ("image_id", "category_id", "bbox") if anns["count"])):
        return None
    order = np.argsort(cats["id"], kind="stable")
    cat_ids = cats["id"][order]
    names = tuple(cats["name"][k] for k in order.tolist())
    img_ids, widths, heights = images["id"], images["width"], images["height"]
    if (len(np.unique(cat_ids)) != len(cat_ids) or len(set(names)) != len(names)
            or (classes is not None and tuple(classes) != names)
            or len(np.unique(img_ids)) != len(img_ids) or (widths <= 0).any() or (heights <= 0).any()):
        return None
    m = anns["count"]
    image_index = _sorted_positions(anns["image_id"], img_ids) if m else np.zeros(0, np.int64)
    class_index = _sorted_positions(anns["category_id"], cat_ids) if m else np.zeros(0, np.int64)
    boxes = anns["bbox"] if m else np.zeros((0, 4))
    if (image_index < 0).any() or (class_index < 0).any() or not np.isfinite(boxes).all():
        return None
    difficult = ((anns["iscrowd"] != 0) | (anns["ignore"] != 0)) if m else np.zeros(0, bool)
    stems = [_stem(f or str(i)) for f, i in zip(images["file_name"], img_ids.tolist())]
    if len(set(stems)) != len(stems):
        stems = [str(int(v)) for v in img_ids]
    return _dataset(path, img_ids, cat_ids, names, stems, widths, heights, image_index, class_index, boxes,
                    difficult, _PathList([f or f"{i}.jpg" for f, i in zip(images["file_name"], img_ids.tolist())]))


def _stem(name: str) -> str:
    """``Path(name).stem`` (a third of the reading time of a 5k-image file when built as Path objects)."""
    if "/" in name or name == ".":
        return Path(name).stem
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


class _PathList(Sequence):
    """The images' ``file_name`` s as :class:`Path` objects, made when read (most commands never read them)."""

    def __init__(self, names: list[str]) -> None:
        self._names = names

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [Path(v) for v in self._names[k]]
        return Path(self._names[k])

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


def _dataset(path: Path, img_ids, cat_ids, names, stems, widths, heights, image_index, class_index, boxes,
             difficult, files) -> Dataset:
    from vocbench.io.coco import xywh_to_voc_boxes
    from vocbench.io.gt import IMAGE_FILES

    m = len(image_index)
    order = np.argsort(image_index, kind="stable")  # Dataset objects are grouped by image, file order within
    vboxes = xywh_to_voc_boxes(boxes[order]) if m else np.zeros((0, 4))
    ds = Dataset.from_arrays(image_ids=stems, widths=np.asarray(widths, np.int64),
                             heights=np.asarray(heights, np.int64), image_index=image_index[order],
                             class_index=class_index[order], boxes=vboxes, difficult=difficult[order], classes=names,
                             sets=(path.stem,), root=str(path), image_years=[path.stem] * len(stems))
    identity = (np.array_equal(img_ids, np.arange(1, len(img_ids) + 1))
                and np.array_equal(cat_ids, np.arange(1, len(cat_ids) + 1)))
    if not identity:
        _COCO_IDS[ds] = (np.asarray(img_ids, np.int64), np.asarray(cat_ids, np.int64))
    IMAGE_FILES[ds] = files
    return ds


def load_coco_gt(path: str | os.PathLike, classes=None) -> Dataset:
    """Read a COCO ``instances.json`` as a :class:`Dataset` (see the module docstring for the convention).

    Args:
        path: the JSON file (``images``, ``annotations``, ``categories``).
        classes: optional class names; when given they must be the category names in id order.

    Raises:
        InputError: not JSON, missing keys, an annotation on an unknown image or category, a bad bbox.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    from vocbench.io._json_scan import scan_coco_gt

    scanned = scan_coco_gt(raw)
    ds = _from_columns(path, scanned, classes) if scanned is not None else None
    if ds is not None:
        return ds
    try:
        data = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 JSON file") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a COCO ground-truth file") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise InputError(f"{path}: expected a COCO ground-truth object with lists 'images', 'annotations' and "
                         "'categories' (a results list is detections: pass it to --dets)")
    anns = data.get("annotations") or []
    if not isinstance(anns, list):
        raise InputError(f"{path}: 'annotations' is not a list")

    cats = []
    for k, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise InputError(f"{path}: categories[{k}]: expected {{id, name}}, got {str(c)[:80]}")
        cats.append((_int(c["id"], f"{path}: categories[{k}]", "id"), str(c["name"])))
    cats.sort(key=lambda t: t[0])
    cat_ids = np.array([c[0] for c in cats], np.int64)
    names = tuple(c[1] for c in cats)
    if len(set(cat_ids.tolist())) != len(cat_ids):
        raise InputError(f"{path}: repeated category ids")
    if len(set(names)) != len(names) or not names:
        raise InputError(f"{path}: category names are empty or repeated: {list(names)[:20]}")
    if classes is not None and tuple(classes) != names:
        raise InputError(f"{path}: categories {list(names)} differ from the requested classes {list(classes)}")

    img_ids = np.empty(len(data["images"]), np.int64)
    stems, widths, heights = [], [], []
    for i, im in enumerate(data["images"]):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict) or not all(k in im for k in ("id", "width", "height")):
            raise InputError(f"{where}: expected {{id, file_name, width, height}}, got {str(im)[:80]}")
        img_ids[i] = _int(im["id"], where, "id")
        w, h = _int(im["width"], where, "width"), _int(im["height"], where, "height")
        if w <= 0 or h <= 0:
            raise InputError(f"{where}: image size {w}x{h}, expected positive width and height")
        widths.append(w)
        heights.append(h)
        stems.append(Path(str(im.get("file_name") or im["id"])).stem)
    if len(set(img_ids.tolist())) != len(img_ids):
        raise InputError(f"{path}: repeated image ids")
    if len(set(stems)) != len(stems):
        stems = [str(int(v)) for v in img_ids]
    img_pos = {int(v): i for i, v in enumerate(img_ids.tolist())}
    cat_pos = {int(v): k for k, v in enumerate(cat_ids.tolist())}

    m = len(anns)
    image_index = np.empty(m, np.int64)
    class_index = np.empty(m, np.int64)
    difficult = np.zeros(m, bool)
    boxes = np.empty((m, 4), np.float64)
    for j, a in enumerate(anns):
        where = f"{path}: annotations[{j}]"
        if not isinstance(a, dict) or not all(k in a for k in ("image_id", "category_id", "bbox")):
            raise InputError(f"{where}: expected {{image_id, category_id, bbox}}, got {str(a)[:80]}")
        im = img_pos.get(_int(a["image_id"], where, "image_id"))
        if im is None:
            raise InputError(f"{where}: image_id {a['image_id']} is not in 'images'")
        ck = cat_pos.get(_int(a["category_id"], where, "category_id"))
        if ck is None:
            raise InputError(f"{where}: category_id {a['category_id']} is not in 'categories'")
        bb = a["bbox"]
        if (not isinstance(bb, list) or len(bb) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bb)):
            raise InputError(f"{where}: bbox {str(bb)[:60]} is not [x, y, w, h] numbers")
        boxes[j] = bb
        image_index[j] = im
        class_index[j] = ck
        difficult[j] = bool(a.get("iscrowd", 0)) or bool(a.get("ignore", 0))
    if not np.isfinite(boxes).all():
        j = int(np.flatnonzero(~np.isfinite(boxes).all(axis=1))[0])
        raise InputError(f"{path}: annotations[{j}]: bbox has NaN or infinite values")
    files = [Path(str(im.get("file_name") or f"{im['id']}.jpg")) for im in data["images"]]
    return _dataset(path, img_ids, cat_ids, names, stems, widths, heights, image_index, class_index, boxes,
                    difficult, files)
