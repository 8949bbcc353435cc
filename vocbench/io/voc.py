"""PASCAL VOC annotations: ``ImageSets/Main/<split>.txt`` + ``Annotations/<id>.xml``, parsed with lxml.

Only annotations are needed: image sizes come from ``<size>``, JPEGImages need not exist.

A *set spec* is ``"YEAR:SPLIT"`` (``"2007:test"`` → ``ROOT/VOC2007/ImageSets/Main/test.txt``). For a custom
VOC-format dataset whose folder is not called ``VOC<year>``, ``"FOLDER:SPLIT"`` reads ``ROOT/FOLDER``.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lxml import etree
else:
    from vocbench._lazy import etree  # start-up: lxml is imported by the first parse

from vocbench.errors import InputError, VocbenchError, VocbenchWarning
from vocbench.paths import safe_name
from vocbench.structures import VOC_CLASSES, Dataset

__all__ = ["load_voc", "parse_set_spec", "read_split", "available_splits", "voc_class_names"]

_local = threading.local()
#: Largest accepted coordinate, size or flag magnitude (far beyond any image; keeps int64 areas exact).
_MAX_COORD = 1e9
# NOTE (diagnose, for the fast scanner too): vocbench.diagnose's Hoiem sensitivity reads truncated, occluded (-1 when
# absent) and pose ("Unspecified" when absent) per object; any other parser must extract the same three fields.
_OBJECT_TAGS = frozenset(("name", "pose", "truncated", "difficult", "occluded"))


def _parser() -> etree.XMLParser:
    p = getattr(_local, "parser", None)
    if p is None:
        p = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False)
        _local.parser = p
    return p


def parse_set_spec(root: Path, spec: str) -> tuple[str, Path, str]:
    """``"2007:test"`` → ``("2007", ROOT/VOC2007, "test")``. Raises VocbenchError for a malformed spec or folder."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise VocbenchError(f"set {spec!r}: expected YEAR:SPLIT, e.g. 2007:trainval")
    year, split = (s.strip() for s in spec.split(":"))
    safe_name(year, f"set {spec!r}", "year")  # both become path components: never leave ROOT
    safe_name(split, f"set {spec!r}", "split")
    for folder in (root / f"VOC{year}", root / year):
        if folder.is_dir():
            return year, folder, split
    have = (sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "Annotations").is_dir())
            if root.is_dir() else [])
    raise VocbenchError(f"{root / ('VOC' + year)}: no such dataset folder for set {spec!r} "
                        f"(found: {', '.join(have) or 'none'})")


def available_splits(folder: Path) -> list[str]:
    """Split names in ``folder/ImageSets/Main`` that are not per-class lists (``train``, ``val``, ...)."""
    main = folder / "ImageSets" / "Main"
    if not main.is_dir():
        return []
    return sorted(p.stem for p in main.glob("*.txt") if "_" not in p.stem)


def read_split(folder: Path, split: str) -> list[str]:
    """Image ids listed in ``folder/ImageSets/Main/<split>.txt`` (first token of each non-empty line)."""
    path = folder / "ImageSets" / "Main" / f"{split}.txt"
    if not path.exists():  # a FIFO or folder of that name is refused by _open_regular below
        have = available_splits(folder)
        raise VocbenchError(f"{path}: split file not found; splits that exist here: {', '.join(have) or 'none'}")
    ids = []
    with open(_open_regular(str(path), "split file"), encoding="utf-8-sig", errors="replace") as f:  # BOM dropped
        for lineno, line in enumerate(f, 1):
            tok = line.split()
            if tok:
                if "\0" in tok[0] or "\ufffd" in tok[0]:
                    raise InputError(f"{path}:{lineno}: image id {tok[0]!r} holds a NUL byte or bytes that are not "
                                     "UTF-8")
                ids.append(safe_name(tok[0], f"{path}:{lineno}", "image id"))  # Annotations/<id>.xml stays in ROOT
    if not ids:
        warnings.warn(f"{path}: split file lists no image ids", VocbenchWarning, stacklevel=3)
    return ids


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for an error message (a value may be megabytes long)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _open_regular(path: str, what: str) -> int:
    """A read-only descriptor of ``path``, refusing FIFOs, devices and folders (they would block or mislead).

    Opened non-blocking so that a FIFO cannot hang the open itself; the flag is cleared again for a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise InputError(f"{path}: {what} is a folder, expected a regular file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
            raise InputError(f"{path}: {what} is {kind}, expected a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _text(elem, tag: str, path: str, default=None, required: bool = False):
    child = elem.find(tag)
    if child is None or child.text is None or not child.text.strip():
        if required:
            raise InputError(f"{path}:{elem.sourceline}: <{elem.tag}> has no <{tag}> value")
        return default
    return child.text.strip()


def _number(elem, tag: str, path: str, kind=float, default=None, required: bool = True):
    raw = _text(elem, tag, path, default=None, required=required and default is None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        line = elem.find(tag).sourceline
        raise InputError(f"{path}:{line}: <{tag}> is {_short(raw)!r}, expected a number") from None
    if not math.isfinite(value) or abs(value) > _MAX_COORD:
        line = elem.find(tag).sourceline
        raise InputError(f"{path}:{line}: <{tag}> is {_short(raw)!r}, expected a finite number below {_MAX_COORD:g}")
    return value if kind is float else int(value)


def _flag(elem, tag: str, path: str) -> int:
    """0/1 tags (difficult, truncated); absent → 0, occluded absent → -1 is handled by the caller."""
    return 1 if _number(elem, tag, path, kind=int, default=0, required=False) else 0


def _parse_one(path: str, class_to_index: dict[str, int]) -> tuple:
    """Parse one annotation file → (size tuple, object rows). Raises InputError with file and line."""
    try:
        with open(_open_regular(path, "annotation file"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: annotation file not found (the image id is listed in the split file)") from None
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno is not None else exc.position[0]
        msg = exc.msg.split(", line")[0] if exc.msg else "malformed XML"
        raise InputError(f"{path}:{line}: malformed XML: {msg}") from None
    size = root.find("size")
    if size is None:
        raise InputError(f"{path}:{root.sourceline}: no <size> element (image width/height are required)")
    w = _number(size, "width", path, kind=int)
    h = _number(size, "height", path, kind=int)
    d = _number(size, "depth", path, kind=int, default=3, required=False)
    if w <= 0 or h <= 0:
        raise InputError(f"{path}:{size.sourceline}: image size {w}x{h}, expected positive width and height")
    rows = []
    for k, obj in enumerate(root.iterfind("object")):
        # one pass over the children (fast path); odd files fall back to the checked helpers below
        fields = {}
        bb = None
        for ch in obj:
            tag = ch.tag
            if tag == "bndbox":
                bb = ch
            elif tag in _OBJECT_TAGS:
                fields[tag] = ch.text
        name = (fields.get("name") or "").strip()
        if not name:
            raise InputError(f"{path}:{obj.sourceline}: object #{k + 1} has no <name> value")
        cls = class_to_index.get(name)
        if cls is None:
            known = ", ".join(class_to_index)
            raise InputError(f"{path}:{obj.sourceline}: object #{k + 1} has unknown class {name!r} "
                             f"(known classes: {known}; pass --classes for a custom dataset)")
        if bb is None:
            raise InputError(f"{path}:{obj.sourceline}: object #{k + 1} ({name}) has no <bndbox>")
        coords = {ch.tag: ch.text for ch in bb}
        try:
            box = (float(coords["xmin"]), float(coords["ymin"]), float(coords["xmax"]), float(coords["ymax"]))
        except (KeyError, TypeError, ValueError):
            box = (_number(bb, "xmin", path), _number(bb, "ymin", path), _number(bb, "xmax", path),
                   _number(bb, "ymax", path))
        try:
            if not math.isfinite(box[0] + box[1] + box[2] + box[3]) or max(map(abs, box)) > _MAX_COORD:
                raise ValueError  # the checked helpers name the tag, file and line
            difficult = 1 if int(fields.get("difficult") or 0) else 0
            truncated = 1 if int(fields.get("truncated") or 0) else 0
            occ = fields.get("occluded")
            occ = -1 if occ is None or not occ.strip() else (1 if int(occ) else 0)
        except (ValueError, OverflowError):
            box = (_number(bb, "xmin", path), _number(bb, "ymin", path), _number(bb, "xmax", path),
                   _number(bb, "ymax", path))
            difficult, truncated = _flag(obj, "difficult", path), _flag(obj, "truncated", path)
            occ = _number(obj, "occluded", path, kind=int, default=-1, required=False)
            occ = 1 if occ > 0 else occ
        pose = (fields.get("pose") or "").strip() or "Unspecified"
        rows.append((cls, box, difficult, truncated, occ, pose, obj.sourceline))
    return (w, h, d), rows


def _parse_all(paths: list[str], class_to_index: dict[str, int], progress: bool) -> list[tuple]:
    """Parse files in order with one reused parser per thread.

    Serial on purpose: lxml parsing is fast, and the Python-side extraction holds the GIL, so a thread pool
    measured slower here (2 cores); the cache makes every later load a ~50 ms affair.
    """
    it = (_parse_one(p, class_to_index) for p in paths)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, total=len(paths), desc="annotations", unit="file", leave=False)
    return list(it)


def voc_class_names(root: str | os.PathLike, sets: Sequence[str] | str) -> tuple[str, ...]:
    """The object class names the annotation files of ``sets`` use, sorted (``--classes auto``).

    Reads every ``<object><name>`` (not the ``<part><name>`` of the person layout) of the split's XML files. Files
    that cannot be read or parsed are skipped here: :func:`load_voc` reports them, with file and line.

    Args:
        root: a VOCdevkit folder; sets: set specs as for :func:`load_voc`.

    Returns:
        The distinct names, stripped, in sorted (code point) order; empty when the files name no object.
    """
    root = Path(root)
    if not root.is_dir():
        raise VocbenchError(f"{root}: dataset root not found (expected a VOCdevkit folder)")
    names: set[str] = set()
    for spec in [sets] if isinstance(sets, str) else sets:
        _, folder, split = parse_set_spec(root, spec.strip())
        ann_dir = os.path.join(str(folder), "Annotations")
        for img in read_split(folder, split):
            try:
                with open(f"{ann_dir}{os.sep}{img}.xml", "rb") as f:
                    tree = etree.fromstring(f.read(), _parser())
            except (OSError, etree.XMLSyntaxError):
                continue
            names.update(t.strip() for t in (e.text for e in tree.iterfind("object/name")) if t and t.strip())
    return tuple(sorted(names))


def load_voc(root: str | os.PathLike, sets: Sequence[str] | str, classes: Sequence[str] | None = None,
             strict: bool = False, cache: bool = True, progress: bool = False) -> Dataset:
    """Load one or more VOC splits as a single columnar :class:`~vocbench.structures.Dataset`.

    Args:
        root: a VOCdevkit folder (holding ``VOC2007/``, ``VOC2012/``, ...).
        sets: set specs such as ``["2007:trainval", "2012:trainval"]`` (a single string is accepted). Their union
            is loaded in order; an image listed by several sets appears once.
        classes: class names (index = class id); default the 20 VOC classes in the standard order.
        strict: if True, boxes with ``xmax < xmin``/``ymax < ymin`` or outside ``[1, width] x [1, height]`` are
            errors; otherwise they are kept, listed in ``Dataset.issues`` and summarised in one warning.
        cache: read/write the parsed arrays under the cache folder (see :mod:`vocbench.io.cache`), keyed by every
            annotation file's path, size and mtime.
        progress: show a tqdm progress bar while parsing.

    Returns:
        The dataset; boxes are as written in the XML (VOC 1-based inclusive pixels, floats accepted).

    Raises:
        VocbenchError: bad set spec, missing folder or split file (listing the splits that exist), an id without
            an XML file, malformed XML (file and line), an unknown class (file, line, object and known classes).
    """
    root = Path(root)
    if not root.exists():
        raise VocbenchError(f"{root}: dataset root not found (expected a VOCdevkit folder)")
    if not root.is_dir():
        raise VocbenchError(f"{root}: expected a VOCdevkit folder, got a file")
    if isinstance(sets, str):
        sets = [sets]
    sets = [s.strip() for s in sets]
    if not sets:
        raise VocbenchError("no set given (use --set YEAR:SPLIT, e.g. --set 2007:test)")
    classes = tuple(c.strip() for c in (classes if classes is not None else VOC_CLASSES))
    if len(set(classes)) != len(classes) or not all(classes):
        raise VocbenchError(f"class list has empty or repeated names: {list(classes)}")
    class_to_index = {c: i for i, c in enumerate(classes)}

    image_ids: list[str] = []
    image_years: list[str] = []
    image_sets: list[int] = []
    paths: list[str] = []
    seen: set[tuple[str, str]] = set()
    for si, spec in enumerate(sets):
        year, folder, split = parse_set_spec(root, spec)
        ann_dir = os.path.join(str(folder), "Annotations")  # plain strings: pathlib costs ~8 µs per file here
        for img in read_split(folder, split):
            year_img = (year, img)
            if year_img in seen:
                continue
            seen.add(year_img)
            image_ids.append(img)
            image_years.append(year)
            image_sets.append(si)
            paths.append(f"{ann_dir}{os.sep}{img}.xml")

    key: str | None = None
    if cache:
        from vocbench.io.cache import cache_load, file_signature  # hashlib: only for VOC folders (not COCO files)

        try:
            key = file_signature(paths, repr((classes, strict)))
        except FileNotFoundError as exc:
            raise InputError(f"{exc.filename}: annotation file not found "
                             f"(the image id is listed in the split file)") from None
        hit = cache_load(key)
        ds = _dataset_from_cache(hit, classes, sets, str(root), image_ids, image_years, image_sets)
        if ds is not None:
            _warn_issues(ds.issues)
            return ds

    # xmlscan (issue 15): every file the strict byte scanner in io/_voc_scan.py fully validates is read by one
    # Numba kernel; all other files go through _parse_all (lxml), in order, so results and errors are lxml's.
    from vocbench.io._voc_scan import scan_voc

    arrays = scan_voc(paths, class_to_index, lambda files: _parse_all(files, class_to_index, progress))
    _check_finite_arrays(arrays, paths)
    issues = _box_issues(arrays, paths)
    if strict and issues:
        raise InputError(f"{issues[0]} (--strict; {len(issues)} such box(es) in all)")
    arrays["issues"] = np.array(issues, dtype=str) if issues else np.zeros(0, dtype="<U1")
    if key is not None:
        from vocbench.io.cache import cache_store

        cache_store(key, arrays)
    ds = _dataset_from_arrays(arrays, classes, sets, str(root), image_ids, image_years, image_sets)
    _warn_issues(ds.issues)
    return ds


def _check_finite_arrays(arrays: dict, paths: list[str]) -> None:
    """Safety net behind every parser: a NaN/inf or absurd coordinate is an error naming the file and line."""
    b = arrays["boxes"]
    bad = ~(np.isfinite(b) & (np.abs(b) <= _MAX_COORD)).all(axis=1) if len(b) else np.zeros(0, bool)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(f"{paths[arrays['image_index'][j]]}:{arrays['lines'][j]}: box "
                         f"({', '.join(repr(float(v)) for v in b[j])}) has a non-finite or absurd coordinate")


_CACHE_KEYS = {"sizes": 2, "image_index": 1, "class_index": 1, "boxes": 2, "difficult": 1, "truncated": 1,
               "occluded": 1, "poses": 1, "lines": 1, "issues": 1}


def _dataset_from_cache(a: dict | None, classes, sets, root, image_ids, image_years, image_sets) -> Dataset | None:
    """The cached dataset, or None when the entry is missing, foreign or inconsistent (then it is re-parsed)."""
    if a is None or set(a) != set(_CACHE_KEYS) or any(a[k].ndim != d for k, d in _CACHE_KEYS.items()):
        return None
    n, m = len(image_ids), len(a["boxes"])
    try:
        ok = (a["sizes"].shape == (n, 3) and a["boxes"].shape == (m, 4)
              and all(len(a[k]) == m for k in ("image_index", "class_index", "difficult", "truncated", "occluded",
                                                "poses", "lines"))
              and a["image_index"].dtype.kind == "i" and a["class_index"].dtype.kind == "i"
              and (m == 0 or (0 <= a["image_index"].min() and a["image_index"].max() < n
                              and 0 <= a["class_index"].min() and a["class_index"].max() < len(classes)))
              and bool(np.isfinite(a["boxes"]).all()))
        return _dataset_from_arrays(a, classes, sets, root, image_ids, image_years, image_sets) if ok else None
    except (TypeError, ValueError):
        return None


def _box_issues(arrays: dict, paths: list[str]) -> list[str]:
    """One message per inverted or out-of-image box: ``file:line: ...``."""
    b = arrays["boxes"]
    if len(b) == 0:
        return []
    img = arrays["image_index"]
    w = arrays["sizes"][img, 0]
    h = arrays["sizes"][img, 1]
    inverted = (b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])
    outside = (b[:, 0] < 1) | (b[:, 1] < 1) | (b[:, 2] > w) | (b[:, 3] > h)
    out = []
    for j in np.flatnonzero(inverted | outside):
        where = f"{paths[img[j]]}:{arrays['lines'][j]}"
        box = ", ".join(f"{v:g}" for v in b[j])
        if inverted[j]:
            out.append(f"{where}: inverted box ({box}): xmax < xmin or ymax < ymin")
        else:
            out.append(f"{where}: box ({box}) extends outside the {w[j]}x{h[j]} image")
    return out


def _warn_issues(issues: Sequence[str]) -> None:
    if issues:
        n_inv = sum("inverted" in s for s in issues)
        warnings.warn(f"{len(issues)} box(es) are inverted ({n_inv}) or extend outside their image "
                      f"({len(issues) - n_inv}); first: {issues[0]}", VocbenchWarning, stacklevel=3)


def _dataset_from_arrays(a: dict, classes, sets, root, image_ids, image_years, image_sets) -> Dataset:
    sizes = a["sizes"]
    return Dataset(
        classes=classes, sets=tuple(sets), image_ids=np.array(image_ids, dtype=str),
        image_years=np.array(image_years, dtype=str), image_sets=np.array(image_sets, dtype=np.int64),
        widths=sizes[:, 0], heights=sizes[:, 1], depths=sizes[:, 2], image_index=a["image_index"],
        class_index=a["class_index"], boxes=a["boxes"], difficult=a["difficult"], truncated=a["truncated"],
        occluded=a["occluded"], poses=a["poses"], root=root, issues=tuple(str(s) for s in a["issues"]),
    )
