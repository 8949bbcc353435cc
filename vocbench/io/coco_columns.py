"""COCO JSON files → frozen numpy columns: the one reader of ``instances.json`` and results lists.

:func:`read_coco_gt_columns` and :func:`read_coco_results_columns` return every field vocbench scores, exactly as
written (numbers bit for bit), validated, with errors that name the file and the record. Building a
:class:`~vocbench.structures.Dataset` or :class:`~vocbench.structures.Detections` works on these columns only
(:mod:`vocbench.io.coco_gt`, :mod:`vocbench.io.detections`), so the parser behind them can change freely: the
common shapes go through the byte scanner (:mod:`vocbench.io._json_scan`), anything else through ``json``, and both
give the same columns.

Validation (beyond JSON syntax): ids are integers within int64 (an integral float such as ``1.0`` is matched as
pycocotools would match it; ``1.5``, ``true``, ``"3"``, ``2**70`` are refused); image ``width``/``height`` are
positive integers; image and category ids are unique, category names unique and non-empty; every annotation names
a known image and category and has a ``bbox`` of 4 finite numbers; ``area`` (optional) is a finite number;
``iscrowd`` and ``ignore`` (optional) are 0, 1, true or false.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vocbench.errors import InputError

__all__ = ["CocoGtColumns", "CocoResultsColumns", "read_coco_gt_columns", "read_coco_results_columns",
           "read_json_bytes"]

_INT64 = 2**63


@dataclass(frozen=True, eq=False)
class CocoGtColumns:
    """The columns of a COCO ``instances.json`` (file order everywhere).

    Attributes:
        path: the file.
        image_id: int64[I]; file_name: str[I] (``""`` where absent); width, height: int64[I] pixels.
        category_id: int64[K]; category_name: str[K].
        ann_image_id, ann_category_id: int64[M] (known ids); ann_xywh: float64[M, 4] ``bbox`` as written;
        ann_area: float64[M] the ``area`` field (NaN where absent); ann_iscrowd, ann_ignore: bool[M] (False where
        absent); ann_record: int64[M] index in the file's ``annotations`` list (for messages).
    """

    path: str
    image_id: np.ndarray
    file_name: np.ndarray
    width: np.ndarray
    height: np.ndarray
    category_id: np.ndarray
    category_name: np.ndarray
    ann_image_id: np.ndarray
    ann_category_id: np.ndarray
    ann_xywh: np.ndarray
    ann_area: np.ndarray
    ann_iscrowd: np.ndarray
    ann_ignore: np.ndarray
    ann_record: np.ndarray


@dataclass(frozen=True, eq=False)
class CocoResultsColumns:
    """The columns of a COCO results list (file order).

    Attributes:
        path: the file.
        image_id: int64[N], or str[N] (object array) when the file writes image ids as strings (file stems).
        category_id: int64[N], or str[N] (object array) when the file writes category names.
        xywh: float64[N, 4] ``bbox`` as written. score: float64[N] (finite: checked by the caller's rules).
        record: int64[N] index in the file's list (for messages), or None: row ``i`` is result ``i`` (both parse
            paths keep every result, in file order, so they leave it None: no N-row ``arange``).
    """

    path: str
    image_id: np.ndarray
    category_id: np.ndarray
    xywh: np.ndarray
    score: np.ndarray
    record: np.ndarray | None = None


# ----------------------------------------------------------------------------------------------- values
def _describe(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "not an integer" if not (type(v) is int and abs(v) >= _INT64) else "not an integer in the 64-bit range"
    return f"a {type(v).__name__}, not a number"


def _is_int(v) -> bool:
    """An id pycocotools would match as an integer: int within int64, or an integral float below 2**53."""
    return (type(v) is int and abs(v) < _INT64) or (type(v) is float and v.is_integer() and abs(v) < 2**53)


def _int(v, where: str, field: str) -> int:
    if _is_int(v):
        return int(v)
    extra = " in the 64-bit range" if type(v) is int else " (a boolean)" if isinstance(v, bool) else ""
    raise InputError(f"{where}: {field} {v!r} is not an integer{extra}")


def _flag(v, where: str, field: str) -> bool:
    """``iscrowd`` / ``ignore``: exactly 0, 1, true or false."""
    if v is True or v is False or (type(v) is int and v in (0, 1)):
        return bool(v)
    raise InputError(f"{where}: {field} {v!r} is not 0, 1, true or false")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def read_json_bytes(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of a regular file (a folder, FIFO or device is refused before it is opened for reading)."""
    path = Path(path)
    try:
        if not path.is_file():
            kind = "not a regular file" if path.exists() else "no such file"
            raise InputError(f"{path}: {kind}; expected a {what}")
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _parse(path: Path, raw: bytes, what: str):
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        enc = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\0" in raw[:64] else ""
        raise InputError(f"{path}: not UTF-8 text{enc}: byte {exc.start} is 0x{raw[exc.start]:02x}; "
                         "JSON must be UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except ValueError:  # an integer of over 4300 digits (CPython's int-from-text limit)
        raise InputError(f"{path}: a number has over 4300 digits; not a {what}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a {what}") from None


# ----------------------------------------------------------------------------------------------- ground truth
def read_coco_gt_columns(path: str | os.PathLike, raw: bytes | None = None) -> CocoGtColumns:
    """Read and validate a COCO ``instances.json`` (see the module docstring for the rules).

    Args:
        path: the file. raw: its bytes, when the caller has read them already.

    Raises:
        InputError: naming the file and the record (``images[3]``, ``annotations[17]``) at fault.
    """
    path = Path(path)
    if raw is None:
        raw = read_json_bytes(path, "COCO instances.json")
    from vocbench.io._json_scan import scan_coco_gt

    scanned = scan_coco_gt(raw)
    cols = _gt_from_scan(path, scanned) if scanned is not None else None
    if cols is None:
        cols = _gt_from_json(path, _parse(path, raw, "COCO ground-truth file"))
    _check_gt(cols)
    return cols


def _gt_from_scan(path: Path, scanned: dict) -> CocoGtColumns | None:
    """Columns of the byte scanner's sections, or None when a record lacks a required field or holds a value
    whose message the json path words (absent ``file_name`` is fine)."""
    images, cats = scanned.get("images"), scanned.get("categories")
    anns = scanned.get("annotations")
    if images is None or cats is None:
        return None
    if not (cats["present"]["id"].all() and cats["present"]["name"].all()
            and all(images["present"][k].all() for k in ("id", "width", "height"))):
        return None
    if anns is None:
        anns = {"count": 0, "present": {}}
    m = anns["count"]
    if m and not all(anns["present"][k].all() for k in ("image_id", "category_id", "bbox")):
        return None
    if m and (_not_flag(anns["iscrowd"]).any() or _not_flag(anns["ignore"]).any()):
        return None
    names = cats["name"]
    return CocoGtColumns(
        path=str(path), image_id=np.asarray(images["id"], np.int64),
        file_name=np.array([f or "" for f in images["file_name"]], dtype=str).reshape(-1),
        width=np.asarray(images["width"], np.int64), height=np.asarray(images["height"], np.int64),
        category_id=np.asarray(cats["id"], np.int64), category_name=np.array(names, dtype=str).reshape(-1),
        ann_image_id=np.asarray(anns["image_id"], np.int64) if m else np.zeros(0, np.int64),
        ann_category_id=np.asarray(anns["category_id"], np.int64) if m else np.zeros(0, np.int64),
        ann_xywh=np.asarray(anns["bbox"], np.float64).reshape(m, 4) if m else np.zeros((0, 4)),
        ann_area=np.asarray(anns["area"], np.float64) if m else np.zeros(0),
        ann_iscrowd=(anns["iscrowd"] != 0) if m else np.zeros(0, bool),
        ann_ignore=(anns["ignore"] != 0) if m else np.zeros(0, bool), ann_record=np.arange(m, dtype=np.int64))


def _gt_from_json(path: Path, data) -> CocoGtColumns:
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories")):
        raise InputError(f"{path}: expected a COCO ground-truth object with lists 'images', 'annotations' and "
                         "'categories' (a results list is detections: pass it to --dets)")
    anns = data.get("annotations")
    if anns is None:
        anns = []
    if not isinstance(anns, list):
        raise InputError(f"{path}: 'annotations' is not a list")
    cat_id, cat_name = [], []
    for k, c in enumerate(data["categories"]):
        where = f"{path}: categories[{k}]"
        if not isinstance(c, dict) or "id" not in c or "name" not in c:
            raise InputError(f"{where}: expected {{id, name}}, got {str(c)[:80]}")
        if not isinstance(c["name"], str):
            raise InputError(f"{where}: name {c['name']!r} is not a string")
        cat_id.append(_int(c["id"], where, "id"))
        cat_name.append(c["name"])
    img_id, files, widths, heights = [], [], [], []
    for i, im in enumerate(data["images"]):
        where = f"{path}: images[{i}]"
        if not isinstance(im, dict) or not all(k in im for k in ("id", "width", "height")):
            raise InputError(f"{where}: expected {{id, file_name, width, height}}, got {str(im)[:80]}")
        img_id.append(_int(im["id"], where, "id"))
        widths.append(_int(im["width"], where, "width"))
        heights.append(_int(im["height"], where, "height"))
        name = im.get("file_name")
        if name is not None and not isinstance(name, str):
            raise InputError(f"{where}: file_name {name!r} is not a string")
        files.append(name or "")
    return _annotation_columns(path, anns, img_id, files, widths, heights, cat_id, cat_name)


def _annotation_columns(path: Path, anns: list, img_id, files, widths, heights, cat_id, cat_name) -> CocoGtColumns:
    m = len(anns)
    a_img = np.empty(m, np.int64)
    a_cat = np.empty(m, np.int64)
    xywh = np.empty((m, 4), np.float64)
    area = np.full(m, np.nan)
    crowd = np.zeros(m, bool)
    ignore = np.zeros(m, bool)
    for j, a in enumerate(anns):
        where = f"{path}: annotations[{j}]"
        if not isinstance(a, dict) or not all(k in a for k in ("image_id", "category_id", "bbox")):
            raise InputError(f"{where}: expected {{image_id, category_id, bbox}}, got {str(a)[:80]}")
        a_img[j] = _int(a["image_id"], where, "image_id")
        a_cat[j] = _int(a["category_id"], where, "category_id")
        bb = a["bbox"]
        if not isinstance(bb, list) or len(bb) != 4 or not all(_number(v) for v in bb):
            raise InputError(f"{where}: bbox {str(bb)[:60]} is not [x, y, w, h] numbers")
        try:
            xywh[j] = bb
        except OverflowError:
            raise InputError(f"{where}: bbox {str(bb)[:60]} has a number too large for float64") from None
        if "area" in a:
            if not _number(a["area"]):
                raise InputError(f"{where}: area {a['area']!r} is not a number")
            try:
                area[j] = a["area"]
            except OverflowError:
                raise InputError(f"{where}: area {a['area']!r} is too large for float64") from None
            if np.isnan(area[j]):
                raise InputError(f"{where}: area is NaN")
        if "iscrowd" in a:
            crowd[j] = _flag(a["iscrowd"], where, "iscrowd")
        if "ignore" in a:
            ignore[j] = _flag(a["ignore"], where, "ignore")
    return CocoGtColumns(
        path=str(path), image_id=np.array(img_id, np.int64), file_name=np.array(files, dtype=str).reshape(-1),
        width=np.array(widths, np.int64), height=np.array(heights, np.int64), category_id=np.array(cat_id, np.int64),
        category_name=np.array(cat_name, dtype=str).reshape(-1), ann_image_id=a_img, ann_category_id=a_cat,
        ann_xywh=xywh, ann_area=area, ann_iscrowd=crowd, ann_ignore=ignore, ann_record=np.arange(m, dtype=np.int64))


def _first_repeat(values: np.ndarray) -> int:
    """Index of the first value seen before, -1 when all are distinct."""
    _, first = np.unique(values, return_index=True)
    if len(first) == len(values):
        return -1
    seen = np.zeros(len(values), bool)
    seen[first] = True
    return int(np.flatnonzero(~seen)[0])


def _not_flag(values: np.ndarray) -> np.ndarray:
    """bool[N]: the value is neither 0 nor 1 (``np.isin`` would import numpy.ma through ``np.unique``: start-up)."""
    return (values != 0) & (values != 1)


def _not_in(ids: np.ndarray, table: np.ndarray) -> np.ndarray:
    """bool[N]: ``ids[i]`` is not in ``table`` (``~np.isin`` without numpy.ma: a binary search in the sorted table)."""
    if len(table) == 0:
        return np.ones(len(ids), np.bool_)
    srt = np.sort(table)
    return srt[np.minimum(np.searchsorted(srt, ids), len(srt) - 1)] != ids


def _check_gt(c: CocoGtColumns) -> None:
    """The rules that hold across records (both parse paths end here): unique ids and names, positive sizes,
    known ids, finite boxes and areas."""
    path = c.path
    if not len(c.category_id):
        raise InputError(f"{path}: 'categories' is empty; expected at least one {{id, name}}")
    for name, ids, what in (("images", c.image_id, "image"), ("categories", c.category_id, "category")):
        r = _first_repeat(ids)
        if r >= 0:
            raise InputError(f"{path}: {name}[{r}]: id {int(ids[r])} repeats an earlier id (repeated {what} ids)")
    r = _first_repeat(c.category_name)
    if r >= 0 or (c.category_name == "").any():
        r = r if r >= 0 else int(np.flatnonzero(c.category_name == "")[0])
        raise InputError(f"{path}: categories[{r}]: name {str(c.category_name[r])!r} is empty or repeated "
                         "(category names must be unique)")
    bad = (c.width <= 0) | (c.height <= 0) | (c.width >= 2**31) | (c.height >= 2**31)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: images[{i}]: image size {int(c.width[i])}x{int(c.height[i])}, expected positive "
                         "width and height (below 2**31)")
    for field, ids, table, section in (("image_id", c.ann_image_id, c.image_id, "images"),
                                       ("category_id", c.ann_category_id, c.category_id, "categories")):
        unknown = _not_in(ids, table)
        if unknown.any():
            j = int(np.flatnonzero(unknown)[0])
            raise InputError(f"{path}: annotations[{int(c.ann_record[j])}]: {field} {int(ids[j])} is not in "
                             f"'{section}'")
    bad = ~np.isfinite(c.ann_xywh).all(axis=1)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: annotations[{int(c.ann_record[j])}]: bbox has NaN or infinite values")
    bad = np.isinf(c.ann_area) | (c.ann_area < 0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: annotations[{int(c.ann_record[j])}]: area {float(c.ann_area[j])!r} is not a "
                         "finite non-negative number")


# ----------------------------------------------------------------------------------------------- results
def read_coco_results_columns(path: str | os.PathLike, raw: bytes | np.ndarray | None = None) -> CocoResultsColumns:
    """Read and validate a COCO results list (``[{image_id, category_id, bbox, score}, ...]``; a ground-truth
    style object's ``annotations`` list is read too).

    ``image_id`` may be integers (COCO ids, or ``int(file stem)`` as ultralytics writes them) or strings (file
    stems); ``category_id`` integers or strings (category names); one kind per file and field. ``raw``: the file's
    bytes (or a ``uint8`` array of them) when the caller has read them already.

    Raises:
        InputError: naming the file and the result (``result 17``) at fault.
    """
    path = Path(path)
    if raw is None:
        raw = read_json_bytes(path, "COCO results list")
    from vocbench.io._json_scan import scan_coco_results

    cols = scan_coco_results(raw)  # the common shape straight into columns; anything else through json
    if cols is not None:
        return CocoResultsColumns(path=str(path), image_id=cols["image_id"], category_id=cols["category_id"],
                                  xywh=cols["bbox"], score=cols["score"])
    if not isinstance(raw, bytes):  # a mapped file (uint8 view): json reads bytes
        raw = raw.tobytes()
    data = _parse(path, raw, "results list")
    del raw
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of {{image_id, category_id, bbox, score}} results")
    return _results_from_json(path, data)


def _results_from_json(path: Path, data: list) -> CocoResultsColumns:
    n = len(data)
    try:
        img_raw = [d["image_id"] for d in data]
        cat_raw = [d["category_id"] for d in data]
        score = np.array([d["score"] for d in data], np.float64).reshape(n)
        bbox = np.array([d["bbox"] for d in data], np.float64).reshape(n, 4)
        if any(type(d["score"]) is bool or type(d["score"]) is str for d in data):
            raise TypeError
    except (KeyError, TypeError, ValueError, OverflowError, IndexError):
        for i, d in enumerate(data):
            ok = (isinstance(d, dict) and all(k in d for k in ("image_id", "category_id", "bbox", "score"))
                  and isinstance(d["bbox"], list) and len(d["bbox"]) == 4
                  and all(_number(v) for v in d["bbox"] + [d["score"]]))
            if not ok:
                raise InputError(f"{path}: result {i}: expected {{image_id, category_id, bbox: [x, y, w, h], "
                                 f"score}} with numbers, got {str(d)[:120]}") from None
        raise InputError(f"{path}: could not read the results list (a number too large for float64)") from None
    return CocoResultsColumns(path=str(path), image_id=_ids(img_raw, path, "image_id"),
                              category_id=_ids(cat_raw, path, "category_id"), xywh=bbox, score=score)


def _ids(values: list, path: Path, field: str) -> np.ndarray:
    """int64 ids, or a str object array when the file's first id is a string (then every id must be one)."""
    if values and type(values[0]) is str:
        for i, v in enumerate(values):
            if type(v) is not str:
                raise InputError(f"{path}: result {i}: {field} {v!r} is {_describe(v)}, while result 0 writes "
                                 f"{field} as a string; expected one kind per file")
        return np.array(values, dtype=object)
    if all(type(v) is int for v in values):
        try:
            return np.array(values, dtype=np.int64).reshape(len(values))
        except OverflowError:
            pass
    out = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        if not _is_int(v):
            what = "a str, not a number" if isinstance(v, str) else _describe(v)
            raise InputError(f"{path}: result {i}: {field} {v!r} is {what}; expected an integer id "
                             f"(pycocotools would not match it)")
        out[i] = int(v)
    return out
