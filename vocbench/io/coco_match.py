"""Which image and category a COCO result names: matched by the ids it carries, never guessed.

Tools write the ids of a COCO results list in different ways: pycocotools' own ids (a COCO ``instances.json``, or
vocbench's COCO export: images ``1..I`` in set order, categories ``1..K`` in class order), ultralytics' ``save_json``
(``image_id = int(file stem)`` or the stem string, ``category_id`` a 0-based class index), category names. The
readings (``image_ids=``):

* ``"coco-id"``: the ground truth's COCO image ids (a VOC or YOLO set: the export's ``1..I``);
* ``"stem"``: the file stem, as a string or, written as an integer, ``int(stem)`` (stems that are decimal numbers
  and unique as numbers);

and (``category_ids=``): ``"coco-id"`` (the ground truth's category ids; a VOC or YOLO set: ``1..K``),
``"index0"`` / ``"index1"`` (0- or 1-based class index), ``"name"`` (the class name; strings).

``"auto"`` (the default) takes the one reading under which every id of the file names something. A COCO ground
truth's own ids come first (the results format means them), and so do the export's category ids (1-based) in a
file whose image ids are the export's; otherwise, when several readings fit every id and disagree on what one
names, the file is refused with a message naming the option to choose — never guessed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vocbench.errors import InputError
from vocbench.structures import Dataset

__all__ = ["IMAGE_ID_READINGS", "CATEGORY_ID_READINGS", "match_image_ids", "match_category_ids"]

IMAGE_ID_READINGS = ("auto", "coco-id", "stem")
CATEGORY_ID_READINGS = ("auto", "coco-id", "index0", "index1", "name")


def _lookup(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Position in ``table`` (unique int64 ids) of each of ``ids``; -1 where absent."""
    if not len(table):
        return np.full(len(ids), -1, np.int64)
    lo, hi = int(table.min()), int(table.max())
    if len(ids) and hi - lo < 4 * (len(ids) + len(table)) + 4096:  # compact ids: one gather from a dense table
        lut = np.full(hi - lo + 3, -1, np.int64)  # (5M results: 0.1 s instead of 0.5 s of sort-and-search)
        lut[table - lo + 1] = np.arange(len(table))  # slots 0 and hi - lo + 2 stay -1: ids below and above
        at = np.subtract(ids, lo, dtype=np.int64)  # (wraps around for ids far outside: clipped all the same)
        np.clip(at, -1, hi - lo + 1, out=at)
        at += 1
        return np.take(lut, at, out=at, mode="clip")  # in place: no second N-row array (its page faults)
    order = np.argsort(table, kind="stable")
    srt = table[order]
    pos = np.minimum(np.searchsorted(srt, ids), len(srt) - 1)
    return np.where(srt[pos] == ids, order[pos], -1).astype(np.int64)


def _numeric_stems(dataset: Dataset) -> np.ndarray | None:
    """``int(stem)`` of every image when all stems are decimal numbers, unique as numbers; else None."""
    stems = dataset.image_ids.tolist()
    if not stems or not all(s.isascii() and s.isdigit() and len(s) < 19 for s in stems):
        return None
    values = np.array([int(s) for s in stems], np.int64)
    srt = np.sort(values)  # unique as numbers (np.unique would import numpy.ma: start-up)
    return values if (srt[1:] != srt[:-1]).all() else None


#: A reading computed on demand: image / class index per id (-1: names nothing), or None where it does not apply.
_Reading = Callable[[], "np.ndarray | None"]


def _image_readings(dataset: Dataset, ids: np.ndarray) -> dict[str, _Reading]:
    """image index under each reading of ``ids``, computed when asked for (-1: names no image)."""
    if ids.dtype == object:  # strings: file stems
        def stem_names() -> np.ndarray:
            lookup = dataset.image_lookup()
            return np.fromiter((lookup.get(str(v), -1) for v in ids.tolist()), np.int64, len(ids))

        return {"stem": stem_names}
    coco = (dataset.coco.image_ids if dataset.coco is not None
            else np.arange(1, dataset.num_images + 1, dtype=np.int64))

    def stem_numbers() -> np.ndarray | None:
        stems = _numeric_stems(dataset)
        return _lookup(ids, stems) if stems is not None else None

    return {"coco-id": lambda: _lookup(ids, coco), "stem": stem_numbers}


def _category_readings(dataset: Dataset, ids: np.ndarray) -> dict[str, _Reading]:
    """class index under each reading of ``ids``, computed when asked for (-1: names no class)."""
    if ids.dtype == object:
        def names() -> np.ndarray:
            index = {c: k for k, c in enumerate(dataset.classes)}
            return np.fromiter((index.get(str(v), -1) for v in ids.tolist()), np.int64, len(ids))

        return {"name": names}
    k = dataset.num_classes
    out: dict[str, _Reading] = {}
    if dataset.coco is not None:
        coco = dataset.coco.category_ids
        out["coco-id"] = lambda: _lookup(ids, coco)
    out["index0"] = lambda: np.where((ids >= 0) & (ids < k), ids, -1).astype(np.int64)
    out["index1"] = lambda: np.where((ids >= 1) & (ids <= k), ids - 1, -1).astype(np.int64)
    return out


_SAYS = {"coco-id": "the ground truth's COCO ids", "stem": "file stems", "index0": "0-based class indices",
         "index1": "1-based class indices", "name": "class names"}


def _choose(readings: dict[str, _Reading], reading: str, field: str, option: str, path: str,
            prefer: str | None) -> tuple[str, np.ndarray]:
    """The reading to use: the one asked for, or under ``"auto"`` the one that fits every id (``prefer`` first,
    and then the only one computed), refusing when several fit and disagree. With none fitting, the reading with
    most matches (its unknown ids are the caller's error or warning), refusing a tie."""
    cache: dict[str, np.ndarray | None] = {}

    def get(name: str) -> np.ndarray | None:
        if name not in cache:
            cache[name] = readings[name]()
        return cache[name]

    if reading != "auto":
        chosen = get(reading) if reading in readings else None
        if chosen is None:
            kinds = ", ".join(name for name in readings if get(name) is not None)
            raise InputError(f"{path}: {option} {reading} does not apply to these {field}s (possible: {kinds})")
        return reading, chosen
    if prefer is not None and prefer in readings:
        first = get(prefer)
        if first is not None and first.min(initial=0) >= 0:  # fits every id: the others are not needed
            return prefer, first
    applicable = {name: v for name in readings if (v := get(name)) is not None}
    return _choose_auto(applicable, field, option, path, prefer)


def _choose_auto(readings: dict[str, np.ndarray], field: str, option: str, path: str,
                 prefer: str | None) -> tuple[str, np.ndarray]:
    """``"auto"`` among computed readings (see :func:`_choose`)."""
    fits = {name: v for name, v in readings.items() if (v >= 0).all()}
    if prefer is not None and prefer in fits:
        return prefer, fits[prefer]
    if len(fits) == 1:
        return next(iter(fits.items()))
    if fits:
        names = list(fits)
        first = fits[names[0]]
        if all(np.array_equal(first, fits[n]) for n in names[1:]):
            return names[0], first
        r = int(np.flatnonzero(fits[names[0]] != fits[names[1]])[0])
        raise InputError(f"{path}: result {r}: the {field}s read as {_SAYS[names[0]]} and as {_SAYS[names[1]]} "
                         f"name different things; choose with {option} {'|'.join(names)}")
    hits = {name: int((v >= 0).sum()) for name, v in readings.items()}
    best = max(hits.values())
    if prefer is not None and prefer in hits and hits[prefer] == best:
        return prefer, readings[prefer]
    top = [name for name, h in hits.items() if h == best]
    if len(top) > 1 and best > 0 and not all(np.array_equal(readings[top[0]], readings[n]) for n in top[1:]):
        raise InputError(f"{path}: some {field}s are unknown under every reading and the rest fit {' and '.join(top)} "
                         f"equally; choose with {option} {'|'.join(top)}")
    return top[0], readings[top[0]]


def match_image_ids(dataset: Dataset, ids: np.ndarray, path: str, reading: str = "auto") -> tuple[np.ndarray, str]:
    """Image index (int64[N], -1 for an id that names no image) of COCO result image ids, and the reading used.

    Args:
        dataset: the ground truth. ids: int64[N], or a str object array (file stems).
        path: the results file (messages). reading: one of :data:`IMAGE_ID_READINGS`.

    Raises:
        InputError: the reading does not apply, or ``"auto"`` finds two readings that disagree.
    """
    if reading not in IMAGE_ID_READINGS:
        raise ValueError(f"image_ids must be one of {IMAGE_ID_READINGS}, got {reading!r}")
    prefer = "coco-id" if dataset.coco is not None else None
    name, index = _choose(_image_readings(dataset, ids), reading, "image id", "--image-ids", path, prefer)
    return index, name


def match_category_ids(dataset: Dataset, ids: np.ndarray, path: str, reading: str = "auto",
                       export_images: bool = False) -> np.ndarray:
    """Class index (int64[N], -1 for an id that names no class) of COCO result category ids.

    Args:
        dataset: the ground truth. ids: int64[N], or a str object array (class names).
        path: the results file (messages). reading: one of :data:`CATEGORY_ID_READINGS` (``"coco-id"`` of a
            VOC or YOLO set is ``"index1"``, the export's ids).
        export_images: the file's image ids were read as the COCO export's ids (a VOC or YOLO set): its category
            ids are then the export's too (1-based) when they fit, as a COCO ground truth's own ids come first.

    Raises:
        InputError: the reading does not apply, or ``"auto"`` finds two readings that disagree.
    """
    if reading not in CATEGORY_ID_READINGS:
        raise ValueError(f"category_ids must be one of {CATEGORY_ID_READINGS}, got {reading!r}")
    readings = _category_readings(dataset, ids)
    if reading == "coco-id" and dataset.coco is None and "index1" in readings:
        reading = "index1"
    prefer = "coco-id" if dataset.coco is not None else "index1" if export_images else None
    return _choose(readings, reading, "category id", "--category-ids", path, prefer)[1]
