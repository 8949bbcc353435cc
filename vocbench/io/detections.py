"""Read detections: devkit result folders, COCO results JSON, CSV, or a pandas DataFrame → :class:`Detections`.

Formats (``format=None`` guesses from the path: a folder → ``devkit``, ``*.json`` → ``coco``, ``*.csv`` → ``csv``):

* ``devkit``: a folder of ``comp4_det_test_<class>.txt`` files, one line per detection
  ``<image_id> <score> <xmin> <ymin> <xmax> <ymax>`` (VOC 1-based pixels). Any ``<prefix>_<class>.txt`` is
  accepted when the ``comp4`` name is absent (one file per class), matching the whole class name
  (``..._hot_dog.txt`` is ``hot_dog``, never ``dog``). A folder without any result file is an error; a class without
  a file has no detections and gets a warning naming the file expected (an error with ``strict=True``).
  Image ids are file stems (``000001``); for a union of years an id maps to its first image
  (:meth:`Dataset.image_lookup`). Row order within a class is kept (it breaks score ties).
* ``coco``: a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` against the ids of
  :func:`vocbench.io.coco.export_coco` (image ids 1..I, category ids 1..C); boxes are converted back with
  ``(x + 1, y + 1, x + w, y + h)``.
* ``csv``: columns ``image_id, class, score, xmin, ymin, xmax, ymax`` (class by name).
* a DataFrame with the CSV columns (or ``image_index`` / ``class_index`` instead of ``image_id`` / ``class``).

Bad input raises :class:`~vocbench.errors.InputError` naming the file and line: a malformed line, an unknown
class, NaN/inf scores or coordinates, an image id not in the dataset (unless ``ignore_unknown_images=True``,
which drops those rows with a warning). Devkit text is parsed with numpy (values exactly as Python's ``float``);
CSV with pandas. The line-by-line scan only runs to locate an error.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
else:
    from vocbench._lazy import pandas as pd  # start-up: imported on first use

from vocbench._lazy import loaded
from vocbench._native import kernels
from vocbench.errors import InputError, VocbenchWarning
from vocbench.io.voc import _open_regular, _short
from vocbench.structures import Dataset, Detections

__all__ = ["FORMATS", "read_detections", "write_devkit", "guess_format"]

FORMATS = ("devkit", "coco", "csv", "yolo", "absolute")  # yolo, absolute: per-image txt (vocbench.io.yolo)
_DEVKIT_FIELDS = "<image_id> <score> <xmin> <ymin> <xmax> <ymax>"
_CSV_COLUMNS = ("image_id", "class", "score", "xmin", "ymin", "xmax", "ymax")
_bk = kernels("vocbench.boxes._kernels")  # first_nonfinite_row: compiled ahead of time when built, else JIT


def guess_format(path: str | os.PathLike) -> str:
    """``devkit`` for a folder, ``coco`` for ``*.json``, ``csv`` for ``*.csv``; otherwise from the first bytes."""
    p = Path(path)
    if p.is_dir():  # devkit, yolo or absolute (per-image txt): vocbench.io.yolo sniffs the folder
        from vocbench.io.yolo import guess_folder_format

        return guess_folder_format(p)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix == ".csv":
        return "csv"
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if _sniff(p) == "json":
        return "coco"
    raise InputError(f"{p}: cannot guess the detections format from the name; give the format "
                     f"(--format on the command line, format= in Python) as one of {', '.join(FORMATS)}")


def _sniff(path: Path) -> str:
    """``"json"`` when the first non-blank character of ``path`` is ``[`` or ``{``, else ``"text"``."""
    with open(_open_regular(str(path), "detections file"), "rb") as fh:
        head = fh.read(4096)
    head = head.replace(b"\0", b"").lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n")  # BOMs, UTF-16 zero bytes, blanks
    return "json" if head[:1] in (b"[", b"{") else "text"


def read_detections(source, dataset: Dataset, format: str | None = None, *,
                    ignore_unknown_images: bool = False, strict: bool = False,
                    yolo_convention: str = "ultralytics", image_ids: str = "auto",
                    category_ids: str = "auto") -> Detections:
    """Read detections for ``dataset`` (see the module docstring for the formats).

    Args:
        source: a path (folder, ``.json``, ``.csv``) or a :class:`pandas.DataFrame`.
        dataset: the dataset the detections refer to (image ids and class names are resolved against it).
        format: ``"devkit"``, ``"coco"`` or ``"csv"``; guessed from the path when None.
        ignore_unknown_images: drop detections on images that are not in ``dataset`` (with a warning) instead of
            raising.
        strict: devkit folders: a class without a result file is an error instead of a warning.
        image_ids, category_ids: COCO results: how to read the ids (:mod:`vocbench.io.coco_match`): ``"auto"``
            (default: the one reading under which every id names an image / a class; refused when two disagree),
            ``"coco-id"`` or ``"stem"``; ``"coco-id"``, ``"index0"``, ``"index1"`` or ``"name"``.

    Returns:
        :class:`Detections` with ``image_index``/``class_index`` into ``dataset``, boxes in VOC pixels, rows in
        input order (devkit: class by class in class order, file order within a class).
    """
    if loaded("pandas") and isinstance(source, pd.DataFrame):  # no DataFrame without pandas imported
        return _from_frame(source, dataset, "DataFrame", ignore_unknown_images, header_lines=0)
    path = Path(source)
    fmt = format or guess_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    if fmt in ("yolo", "absolute"):  # per-image txt files, see vocbench.io.yolo (strict: refuse values outside [0, 1])
        from vocbench.io import yolo

        if fmt == "yolo":
            return yolo.read_yolo_detections(path, dataset, convention=yolo_convention, strict=strict,
                                             ignore_unknown_images=ignore_unknown_images)
        return yolo.read_absolute_detections(path, dataset, ignore_unknown_images=ignore_unknown_images)
    if fmt == "devkit":
        return _read_devkit(path, dataset, ignore_unknown_images, strict)
    if fmt == "coco":
        return _read_coco(path, dataset, ignore_unknown_images, image_ids, category_ids)
    return _read_csv(path, dataset, ignore_unknown_images)


# ------------------------------------------------------------------------------------------ helpers
def _map_ids(ids: np.ndarray, dataset: Dataset) -> np.ndarray:
    """image id strings → image index, -1 where unknown."""
    lookup = dataset.image_lookup()
    return np.fromiter((lookup.get(i, -1) for i in ids.tolist()), np.int64, len(ids))


def _data_line_numbers(path: Path, skip_header: int = 0) -> list[int]:
    """1-based line numbers of the non-blank data lines of ``path`` (error path only)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            if i <= skip_header:
                continue
            if line.strip():
                out.append(i)
    return out


def _line_of(path: Path | None, row: int, skip_header: int = 0) -> str:
    if path is None:
        return f"row {row}"
    lines = _data_line_numbers(path, skip_header)
    return f"line {lines[row]}" if row < len(lines) else f"row {row}"


def _unknown_images(image_index: np.ndarray, ids, where, ignore: bool, src: str) -> np.ndarray:
    """Keep-mask; raises on the first unknown id unless ``ignore``."""
    unknown = image_index < 0
    if not unknown.any():
        return np.ones(len(image_index), bool)
    if not ignore:
        r = int(np.flatnonzero(unknown)[0])
        bad = ids[r].item() if isinstance(ids[r], np.generic) else ids[r]
        raise InputError(f"{src}: {where(r)}: image id {bad!r} is not in the evaluated set "
                         "(use --ignore-unknown-images to drop such detections)")
    warnings.warn(f"{src}: dropped {int(unknown.sum())} detection(s) on images not in the evaluated set "
                  f"(first: {str(ids[int(np.flatnonzero(unknown)[0])])!r})", VocbenchWarning, stacklevel=4)
    return ~unknown


def _check_finite(values: np.ndarray, where, src: str) -> None:
    """values: float64[N, 5] score + box."""
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise InputError(f"{src}: {where(r)}: NaN or infinite score or coordinate "
                         f"({' '.join(repr(float(v)) for v in values[r])}); expected finite numbers")


# ------------------------------------------------------------------------------------------ devkit
def _class_files(folder: Path, classes, strict: bool = False,
                 with_gt: frozenset[str] | None = None) -> tuple[list[Path | None], str]:
    """The result file of each class (None where there is none), and the warning for the classes with ground
    truth (``with_gt``; default all) that have no file ("" when none; an error with ``strict``).

    ``comp4_det_test_<class>.txt`` wins; otherwise a ``<prefix>_<class>.txt`` whose class part is the *longest*
    class name it ends with (so ``x_hot_dog.txt`` belongs to ``hot_dog`` when both classes exist).
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of comp4_det_test_<class>.txt files")
    by_length = sorted(classes, key=len, reverse=True)
    owner: dict[str, list[Path]] = {c: [] for c in classes}
    n_txt = 0
    for p in sorted(folder.iterdir()):
        if p.suffix != ".txt" or p.is_dir():  # a FIFO or device named *.txt is refused when it is read
            continue
        n_txt += 1
        stem = p.stem
        for cls in by_length:
            if stem.endswith(f"_{cls}") and len(stem) > len(cls) + 1:
                owner[cls].append(p)
                break
    if not any(owner.values()):
        raise InputError(f"{folder}: no detection result files (expected comp4_det_test_<class>.txt for the classes "
                         f"{', '.join(classes)}; found {n_txt} other .txt file(s))")
    out: list[Path | None] = []
    missing = []
    for cls in classes:
        exact = folder / f"comp4_det_test_{cls}.txt"
        cands = owner[cls]
        if exact in cands:
            out.append(exact)
            continue
        if len(cands) > 1:
            raise InputError(f"{folder}: several result files for class {cls!r}: "
                             f"{', '.join(p.name for p in cands)}")
        out.append(cands[0] if cands else None)
        if not cands and (with_gt is None or cls in with_gt):
            missing.append(cls)
    msg = ""
    if missing:
        if len(missing) <= 3:
            what = ", ".join(f"{c} (expected comp4_det_test_{c}.txt)" for c in missing)
        else:
            what = f"{', '.join(missing)} (expected comp4_det_test_<class>.txt)"
        msg = (f"{folder}: no result file for {len(missing)} class(es) with ground truth, scored as no detections: "
               f"{what}")
        if strict:
            raise InputError(msg + " (--strict)")
    return out, msg


def _scan_devkit_file(path: Path) -> str:
    """Locate the first malformed line (slow path)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                shown = line.strip()
                shown = shown if len(shown) <= 120 else shown[:117] + "..."
                return f"{path}: line {i}: expected 6 fields {_DEVKIT_FIELDS}, got {len(parts)}: {shown!r}"
            for name, tok in zip(("score", "xmin", "ymin", "xmax", "ymax"), parts[1:]):
                try:
                    v = float(tok)
                except ValueError:
                    return f"{path}: line {i}: {name} {_short(tok)!r} is not a number (expected {_DEVKIT_FIELDS})"
                if not math.isfinite(v):
                    return f"{path}: line {i}: {name} is {tok!r}; expected a finite number"
    return f"{path}: could not parse the file as {_DEVKIT_FIELDS}"


#: Bytes of the fast devkit reader: printable ASCII plus space, tab and the line ends \n, \r (anything else —
#: non-ASCII ids, other control characters — goes through the line-by-line reader, which has the same result).
_PLAIN_BYTES = bytes(range(0x21, 0x7F)) + b" \t\n\r"
_IS_SPACE = np.zeros(256, np.bool_)
_IS_SPACE[[9, 10, 13, 32]] = True
_POW10 = 10.0 ** np.arange(23)  # exact doubles up to 1e22
_MAX_TOKEN = 24  # longer numbers are parsed by float(); longer ids (> 256 bytes) by the line-by-line reader


def _parse_devkit_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids, values float64[N, 5]) of one class file: ``ids`` are UTF-8 bytes (``S`` array) or str (object array).

    Values are the correctly rounded parse of the text (Python's ``float``). The vectorised reader handles files of
    printable ASCII; any other file, and any irregularity, falls back to a line-by-line reader; a malformed file
    raises :class:`InputError` naming the first bad line (:func:`_scan_devkit_file`).
    """
    with open(_open_regular(str(path), "detections file"), "rb") as fh:
        data = fh.read()
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM is not part of the first id
        data = data[3:]
    if data.translate(None, _PLAIN_BYTES):
        return _parse_devkit_lines(path, data)
    padded = b" " + data + b" " * (_MAX_TOKEN + 1)  # every token has a blank on both sides
    buf = np.frombuffer(padded, np.uint8)
    word = (buf > 32).view(np.int8)  # printable ASCII only here: blank = space, tab, \n, \r
    edge = word[1:] - word[:-1]
    token_starts = np.flatnonzero(edge == 1) + 1
    if token_starts.size == 0:
        return np.zeros(0, "S1"), np.zeros((0, 5))
    if token_starts.size % 6:
        raise InputError(_scan_devkit_file(path))
    starts = token_starts.reshape(-1, 6)
    ends = (np.flatnonzero(edge == -1) + 1).reshape(-1, 6)
    breaks = np.flatnonzero((buf == 10) | (buf == 13))
    first, last = np.searchsorted(breaks, starts[:, 0]), np.searchsorted(breaks, ends[:, 5])
    if not ((first == last).all() and (first[1:] > last[:-1]).all()):  # 6 tokens on each non-blank line
        raise InputError(_scan_devkit_file(path))
    id_len = ends[:, 0] - starts[:, 0]
    width = int(id_len.max())
    if width > 256:
        return _parse_devkit_lines(path, data)
    cols = np.arange(width)
    ids = np.where(cols < id_len[:, None], buf[np.minimum(starts[:, :1] + cols, buf.size - 1)],
                   np.uint8(0)).view(f"S{width}").reshape(-1)
    values = _parse_numbers(padded, starts[:, 1:].T.reshape(-1), ends[:, 1:].T.reshape(-1))
    if values is None:
        raise InputError(_scan_devkit_file(path))
    values = np.ascontiguousarray(values.reshape(5, -1).T)
    if not np.isfinite(values).all():
        raise InputError(_scan_devkit_file(path))
    return ids, values


def _parse_numbers(padded: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """float64 of the tokens ``padded[starts[i]:ends[i]]``, exactly ``float(token)``; None when one is not a number.
    ``padded`` ends with more than :data:`_MAX_TOKEN` blanks.

    A token ``[+-]digits[.digits]`` whose digits form an integer ``M <= 2**53`` with ``k <= 22`` decimals is
    ``M / 10**k``: both are exact doubles, so the one IEEE division is the correctly rounded value (Clinger's fast
    path). Every other token (exponents, ``inf``, long mantissas, ``1_0``) goes through ``float()``. Tokens of one
    length are read together, one pass per character position.
    """
    buf = np.frombuffer(padded, np.uint8)
    length = ends - starts
    out = np.empty(starts.size, np.float64)
    ok = np.zeros(starts.size, np.bool_)
    for n in np.flatnonzero(np.bincount(length)).tolist():  # (np.unique would import numpy.ma: start-up)
        if n > _MAX_TOKEN:
            continue
        sel = np.flatnonzero(length == n)
        at = starts[sel]
        c = buf[at]
        neg = c == 45
        signed = neg | (c == 43)
        bad = np.zeros(sel.size, np.bool_)
        seen_dot = np.zeros(sel.size, np.bool_)
        dot_at = np.zeros(sel.size, np.int64)
        mant = np.zeros(sel.size, np.int64)
        for j in range(n):
            if j:
                c = buf[at + j]
            d = c - np.uint8(48)
            digit = d < 10
            dot = c == 46
            bad |= ~(digit | dot | signed) if j == 0 else ~(digit | dot)
            bad |= dot & seen_dot
            seen_dot |= dot
            dot_at = np.where(dot, j, dot_at)
            mant = np.where(digit, mant * 10 + d, mant)
        ndig = n - seen_dot - signed
        ndec = np.where(seen_dot, n - 1 - dot_at, 0)
        good = ~bad & (ndig >= 1) & (ndig <= 18) & (ndec <= 22) & (mant <= 2**53)
        v = mant / _POW10[np.minimum(ndec, 22)]
        out[sel] = np.where(neg, -v, v)
        ok[sel] = good
    for i in np.flatnonzero(~ok).tolist():
        try:
            out[i] = float(padded[starts[i]:ends[i]])
        except ValueError:
            return None
    return out


def _parse_devkit_lines(path: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The line-by-line reader (any UTF-8 text; lines end at \\n, \\r or \\r\\n, fields split at whitespace)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(_scan_devkit_file(path)) from None
    ids: list[str] = []
    rows: list[list[float]] = []
    for line in io.StringIO(text, newline=None):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 6:
                raise ValueError
            row = [float(v) for v in parts[1:]]
        except ValueError:
            raise InputError(_scan_devkit_file(path)) from None
        if not all(map(math.isfinite, row)):
            raise InputError(_scan_devkit_file(path))
        ids.append(parts[0])
        rows.append(row)
    return np.array(ids, dtype=object).reshape(len(ids)), np.array(rows, np.float64).reshape(len(rows), 5)


def _image_index_of(ids: np.ndarray, lookup: dict[str, int], table: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Image index of each id (-1 where unknown): ``S`` ids by binary search in ``table`` (sorted ASCII keys and
    their image index), str ids through ``lookup``."""
    if ids.dtype.kind != "S":
        return np.fromiter((lookup.get(i, -1) for i in ids.tolist()), np.int64, len(ids))
    keys, index = table
    if keys.size == 0:
        return np.full(len(ids), -1, np.int64)
    width = max(keys.dtype.itemsize, ids.dtype.itemsize)
    keys, ids = keys.astype(f"S{width}"), ids.astype(f"S{width}")
    pos = np.minimum(np.searchsorted(keys, ids), keys.size - 1)
    return np.where(keys[pos] == ids, index[pos], -1)


def _lookup_table(lookup: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``S`` keys (the ids of printable ASCII, the only ones the vectorised reader yields) and their index."""
    plain = [k for k in lookup if k and k.isascii() and k.isprintable() and " " not in k]
    keys = np.array([k.encode() for k in plain], dtype="S") if plain else np.zeros(0, "S1")
    index = np.fromiter((lookup[k] for k in plain), np.int64, len(plain))
    order = np.argsort(keys, kind="stable")
    return keys[order], index[order]


def _devkit_rows(path: Path, lookup: dict[str, int], table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(image index, -1 where unknown; values float64[N, 5]; line numbers or None) of one file (numpy reader)."""
    ids, values = _parse_devkit_file(path)
    return _image_index_of(ids, lookup, table), values, None


def _scan_devkit(paths: list[Path], lookup: dict[str, int]):
    """The byte scanner's :class:`~vocbench.io._text_scan.TextTable` of ``paths`` with its text column mapped to
    image indices (-1: unknown); None when the input is too small for the scanner to pay off (or the JIT is off)."""
    from vocbench.io import _text_scan

    if not _text_scan.worth_scanning("devkit", paths):
        return None
    t = _text_scan.scan_table(paths, ["text", "num", "num", "num", "num", "num"], [list(lookup)])
    image_of_key = np.fromiter(lookup.values(), np.int64, len(lookup))
    key = t.index[:, 0]
    image_index = np.where(key >= 0, image_of_key[np.maximum(key, 0)], -1) if len(image_of_key) else key
    return t, image_index


def _scanned_parts(present: list[tuple[int, Path]], lookup: dict[str, int]) -> list:
    """Per file, (image index, values float64[N, 5], line numbers) from the scanner, or None for a file left to the
    numpy reader (all None when the scanner does not run)."""
    got = _scan_devkit([p for _, p in present], lookup)
    if got is None:
        return [None] * len(present)
    t, image_index = got
    out: list = []
    for f in range(len(present)):
        rows = slice(int(t.row_offsets[f]), int(t.row_offsets[f + 1]))
        out.append(None if t.fallback[f] else (image_index[rows], t.values[:, rows].T, t.lines[rows]))
    return out


def _field_on_line(path: Path, line: int) -> str:
    """The first field of line ``line`` of ``path`` (error messages)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, text in enumerate(fh, 1):
            if i == line:
                return (text.split() or [""])[0]
    return ""


def _read_devkit(folder: Path, dataset: Dataset, ignore_unknown: bool, strict: bool = False) -> Detections:
    has_gt = np.bincount(dataset.class_index, minlength=dataset.num_classes) > 0
    with_gt = frozenset(c for c, h in zip(dataset.classes, has_gt.tolist()) if h)
    files, missing_msg = _class_files(folder, dataset.classes, strict, with_gt)
    present = [(c, p) for c, p in enumerate(files) if p is not None]
    idx_parts, cls_parts, val_parts = [], [], []
    lookup = dataset.image_lookup()
    scanned = _scanned_parts(present, lookup)
    table = _lookup_table(lookup) if any(s is None for s in scanned) else None
    n_dropped = 0
    first_dropped = None
    for (c, path), rows in zip(present, scanned):
        image_index, values, lines = rows if rows is not None else _devkit_rows(path, lookup, table)
        unknown = image_index < 0
        if unknown.any():
            r = int(np.flatnonzero(unknown)[0])
            where = f"line {int(lines[r])}" if lines is not None else _line_of(path, r)
            bad = _field_on_line(path, int(lines[r])) if lines is not None else None
            if bad is None:
                ids, _ = _parse_devkit_file(path)
                bad = ids[r].decode() if isinstance(ids[r], bytes) else ids[r]
            if not ignore_unknown:
                raise InputError(f"{path}: {where}: image id {bad!r} is not in the evaluated set "
                                 f"{list(dataset.sets)} (use --ignore-unknown-images to drop such detections)")
            n_dropped += int(unknown.sum())
            first_dropped = first_dropped or f"{path.name}: {bad!r}"
            keep = ~unknown
            image_index, values = image_index[keep], values[keep]
        if len(image_index) == 0:
            continue
        idx_parts.append(image_index)
        cls_parts.append(np.full(len(image_index), c, np.int64))
        val_parts.append(values)
    if missing_msg:
        warnings.warn(missing_msg, VocbenchWarning, stacklevel=3)
    if n_dropped:
        warnings.warn(f"{folder}: dropped {n_dropped} detection(s) on images not in the evaluated set "
                      f"(first: {first_dropped})", VocbenchWarning, stacklevel=3)
    if not idx_parts:
        return Detections(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 4)),
                          source=str(folder))
    scores = np.concatenate([v[:, 0] for v in val_parts])  # contiguous columns in one copy each
    boxes = np.concatenate([v[:, 1:] for v in val_parts])
    return Detections(image_index=np.concatenate(idx_parts), class_index=np.concatenate(cls_parts),
                      scores=scores, boxes=boxes, source=str(folder))


def write_devkit(detections: Detections, dataset: Dataset, folder: str | os.PathLike,
                 prefix: str = "comp4_det_test_") -> Path:
    """Write ``detections`` as devkit result files ``<prefix><class>.txt`` (6 decimals, row order kept).

    Classes without detections get no file. Every class name is checked by :func:`vocbench.paths.safe_name`
    (it becomes a file name) before anything is written.
    """
    from vocbench.io.atomic import atomic_write_text  # tempfile: only for writers, not for the readers here
    from vocbench.paths import check_class_names, safe_name

    check_class_names(dataset)
    safe_name(prefix, "write_devkit", "prefix")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    df = detections.to_pandas(dataset)
    for c, name in enumerate(dataset.classes):
        part = df[df["class_index"] == c]
        if part.empty:
            continue
        lines = [f"{i} {s:.6f} {a:.6f} {b:.6f} {x:.6f} {y:.6f}" for i, s, a, b, x, y in
                 zip(part["image_id"], part["score"], part["xmin"], part["ymin"], part["xmax"], part["ymax"])]
        atomic_write_text(folder / f"{prefix}{name}.txt", "\n".join(lines) + "\n")
    return folder


# ------------------------------------------------------------------------------------------ coco
def _read_bytes(path: Path) -> bytes | np.ndarray:
    """The file's bytes: a read-only ``uint8`` view of the file mapped into memory (the page cache's own pages: no
    copy, and none of the page faults of a fresh buffer), or ``bytes`` where it cannot be mapped (an empty file).
    (Reading into a numpy buffer, which numpy backs with huge pages, is no faster in a fresh process and far less
    steady: page faults and compaction, not the copy, are the cost.)"""
    import mmap

    with open(_open_regular(str(path), "detections file"), "rb") as fh:
        try:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):
            return fh.read()
    return np.frombuffer(mapped, np.uint8)  # unmapped when the last view goes (the columns are copies)


def _read_coco(path: Path, dataset: Dataset, ignore_unknown: bool, image_ids: str = "auto",
               category_ids: str = "auto") -> Detections:
    from vocbench.io.coco_columns import read_coco_results_columns

    cols = read_coco_results_columns(path, raw=_read_bytes(path))  # (the bytes are freed on return)
    return _coco_detections(cols, dataset, ignore_unknown, image_ids, category_ids)


def _plain(v):
    """A numpy scalar as the Python value it holds (messages show ``42``, not ``np.int64(42)``)."""
    return v.item() if isinstance(v, np.generic) else v


def _coco_detections(cols, dataset: Dataset, ignore_unknown: bool, image_ids: str = "auto",
                     category_ids: str = "auto") -> Detections:
    """Detections of COCO results columns (:class:`~vocbench.io.coco_columns.CocoResultsColumns`): ids matched
    by what they carry (:mod:`vocbench.io.coco_match`), the ``bbox`` kept as written for the COCO metric (the VOC
    pixel boxes are built when first read: :attr:`Detections.boxes`)."""
    from vocbench.io.coco_match import match_category_ids, match_image_ids

    path = cols.path

    def where(r: int) -> str:
        return f"result {int(cols.record[r]) if cols.record is not None else r}"

    # the scanner's columns are strided: the one contiguous copy, checked in one pass and kept by Detections
    # (read-only, as Detections keeps them: the kernel's one compiled signature takes read-only arrays)
    xywh, score = np.ascontiguousarray(cols.xywh, np.float64), np.ascontiguousarray(cols.score, np.float64)
    xywh.flags.writeable = score.flags.writeable = False
    if _bk.first_nonfinite_row(score.reshape(-1, 1)) >= 0 or _bk.first_nonfinite_row(xywh) >= 0:
        _check_finite(np.column_stack([score, xywh]), where, path)
    image_index, image_reading = match_image_ids(dataset, cols.image_id, path, image_ids)
    cat = match_category_ids(dataset, cols.category_id, path, category_ids,
                             export_images=image_reading == "coco-id" and dataset.coco is None)
    if cat.min(initial=0) < 0:  # (one reduction, no N-row mask)
        r = int(np.flatnonzero(cat < 0)[0])
        known = (", ".join(str(int(c)) for c in dataset.coco.category_ids[:30]) if dataset.coco is not None
                 else f"1..{dataset.num_classes} in class order, or 0-based indices")
        raise InputError(f"{path}: {where(r)}: category_id {_plain(cols.category_id[r])!r} is not a category of the "
                         f"ground truth (ids {known}; names {', '.join(dataset.classes[:10])}"
                         f"{', ...' if dataset.num_classes > 10 else ''})")
    unknown_images = image_index.min(initial=0) < 0
    if unknown_images and not ignore_unknown:
        r = int(np.flatnonzero(image_index < 0)[0])
        v = _plain(cols.image_id[r])
        raise InputError(f"{path}: {where(r)}: image id {v!r} is not in the evaluated set {list(dataset.sets)} under "
                         "any reading of the ids (COCO ids, file stems: --image-ids chooses one); use "
                         "--ignore-unknown-images to drop such detections")
    if unknown_images:  # (5M detections: no copies of every column when none is dropped)
        keep = _unknown_images(image_index, cols.image_id, where, ignore_unknown, path)
        xywh, score, image_index, cat = xywh[keep], score[keep], image_index[keep], cat[keep]
    return Detections(image_index=image_index, class_index=cat, scores=score, source=path, xywh=xywh)


# ------------------------------------------------------------------------------------------ csv / frame
def _scan_csv(path: Path, dataset: Dataset, ignore_unknown: bool) -> Detections | None:
    """A large CSV with exactly the header ``image_id,class,score,xmin,ymin,xmax,ymax`` and nothing the byte scanner
    leaves to pandas (quotes, empty fields, non-ASCII: :mod:`vocbench.io._text_scan`) read without a Python object
    per row; None where pandas reads it (same values: the scanner's are Python's ``float`` of the text)."""
    from vocbench.io import _text_scan

    if not _text_scan.worth_scanning("csv", [path]):
        return None
    with open(_open_regular(str(path), "detections file"), "rb") as fh:
        header = fh.readline(1 << 10).rstrip(b"\r\n")
    if header != ",".join(_CSV_COLUMNS).encode():
        return None
    lookup = dataset.image_lookup()
    t = _text_scan.scan_table([path], ["text", "text", "num", "num", "num", "num", "num"],
                              [list(lookup), list(dataset.classes)], sep=",", skip_lines=1)
    if t.fallback[0]:
        return None
    src = str(path)

    def where(r: int) -> str:
        return f"line {int(t.lines[r])}"

    def field(r: int, k: int) -> str:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, text in enumerate(fh, 1):
                if i == t.lines[r]:
                    return text.rstrip("\r\n").split(",")[k]
        return ""

    cindex = t.index[:, 1]
    if (cindex < 0).any():
        r = int(np.flatnonzero(cindex < 0)[0])
        raise InputError(f"{src}: {where(r)}: unknown class {field(r, 1)!r}; expected one of "
                         f"{', '.join(dataset.classes)}")
    image_of_key = np.fromiter(lookup.values(), np.int64, len(lookup))
    key = t.index[:, 0]
    image_index = np.where(key >= 0, image_of_key[np.maximum(key, 0)], -1) if len(image_of_key) else key
    if (image_index < 0).any():
        r = int(np.flatnonzero(image_index < 0)[0])
        ids = {r: field(r, 0)}
        keep = _unknown_images(image_index, ids, where, ignore_unknown, src)
        return Detections(image_index=image_index[keep], class_index=cindex[keep], scores=t.values[0, keep],
                          boxes=t.values[1:, keep].T, source=src)
    return Detections(image_index=image_index, class_index=cindex, scores=t.values[0], boxes=t.values[1:].T,
                      source=src)


def _read_csv(path: Path, dataset: Dataset, ignore_unknown: bool) -> Detections:
    _check_csv_header(path)
    scanned = _scan_csv(path, dataset, ignore_unknown)
    if scanned is not None:
        return scanned
    try:
        df = pd.read_csv(path, dtype={"image_id": str, "class": str}, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file; expected a header {','.join(_CSV_COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}"
                         ) from None
    return _from_frame(df, dataset, str(path), ignore_unknown, header_lines=1, path=path)


def _strict_int(x):
    """An int from an int or a plain decimal integer text (``"12"``, ``"-3"``); None for anything else (floats,
    booleans, ``"1.5"``, ``"True"``, digit strings too long to be an index)."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if type(x) is int or isinstance(x, np.integer):
        return int(x)
    if isinstance(x, str):
        t = x.strip()
        if t.lstrip("+-").isdigit() and t.isascii() and len(t) <= 20 and t.count("-") + t.count("+") <= 1 and \
                t[-1].isdigit():
            return int(t)
    return None


def _integer_column(col: pd.Series, name: str, src: str, where) -> np.ndarray:
    """An index column as int64; a fractional, NaN, boolean or non-numeric value is an error (never truncated)."""
    v = col.to_numpy()
    top = np.iinfo(np.int64).max
    if v.dtype.kind == "i":
        return v.astype(np.int64)
    if v.dtype.kind == "u":
        bad = v > top
    elif v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v)) | (np.abs(v) >= 2.0**53)
    else:  # object: Python ints beyond int64 (2**70), text (refused; a CSV column mixing numbers and words is text)
        parsed = [_strict_int(x) for x in v]
        fits = np.array([x is not None and -top - 1 <= x <= top for x in parsed], bool)
        bad = ~fits | np.array([isinstance(x, str) for x in v], bool)
        if bad.any() and not fits.all():  # point at the entry that is no integer, not at a digit string before it
            bad = ~fits
        v = np.array([x if ok else 0 for x, ok in zip(parsed, fits)], dtype=object)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        shown = col.to_numpy()[r]
        shown = shown.item() if isinstance(shown, np.generic) else shown
        raise InputError(f"{src}: {where(r)}: {name} {shown!r} is not an integer index (fractions, booleans and "
                         "values beyond int64 are refused)")
    return np.asarray(v.tolist(), np.int64) if v.dtype == object else v.astype(np.int64)


def _check_csv_header(path: Path, limit: int = 1 << 16) -> None:
    """Refuse JSON content and an absurd header line before pandas sees the file (bounded work)."""
    if _sniff(path) == "json":
        raise InputError(f"{path}: line 1: this is JSON, not CSV; read it as COCO results (--format coco, "
                         "format='coco' in Python)")
    with open(_open_regular(str(path), "detections file"), "rb") as fh:
        head = fh.readline(limit + 1)
    if len(head) > limit:
        raise InputError(f"{path}: line 1: header longer than {limit} bytes; expected the columns "
                         f"{','.join(_CSV_COLUMNS)}")


def _from_frame(df: pd.DataFrame, dataset: Dataset, src: str, ignore_unknown: bool, header_lines: int,
                path: Path | None = None) -> Detections:
    cols = set(df.columns)
    need = [("image_id", "image_index"), ("class", "class_index"), ("score",), ("xmin",), ("ymin",), ("xmax",),
            ("ymax",)]
    for alts in need:
        if not any(a in cols for a in alts):
            raise InputError(f"{src}: missing column {' or '.join(alts)}; expected columns {', '.join(_CSV_COLUMNS)}")

    def where(r: int) -> str:
        return _line_of(path, r, header_lines) if path is not None else f"row {r}"

    n = len(df)
    try:
        values = df[["score", "xmin", "ymin", "xmax", "ymax"]].to_numpy(dtype=np.float64)
    except (ValueError, TypeError, OverflowError):  # OverflowError: pandas keeps a 400-digit integer as an int
        for r in range(n):
            for c in ("score", "xmin", "ymin", "xmax", "ymax"):
                try:
                    float(df[c].iloc[r])
                except (ValueError, TypeError):
                    raise InputError(f"{src}: {where(r)}: {c} {df[c].iloc[r]!r} is not a number") from None
                except OverflowError:
                    raise InputError(f"{src}: {where(r)}: {c} {str(df[c].iloc[r])[:40]}... is too large for a "
                                     "number (expected a finite float)") from None
        raise
    _check_finite(values, where, src)

    if "class" in cols:
        names = df["class"].astype(str).to_numpy(dtype=object)
        cindex = pd.Index(list(dataset.classes)).get_indexer(pd.Index(names))
        if (cindex < 0).any():
            r = int(np.flatnonzero(cindex < 0)[0])
            raise InputError(f"{src}: {where(r)}: unknown class {names[r]!r}; expected one of "
                             f"{', '.join(dataset.classes)}")
    else:
        cindex = _integer_column(df["class_index"], "class_index", src, where)
        if n and ((cindex < 0) | (cindex >= dataset.num_classes)).any():
            r = int(np.flatnonzero((cindex < 0) | (cindex >= dataset.num_classes))[0])
            raise InputError(f"{src}: {where(r)}: class_index {cindex[r]} outside 0..{dataset.num_classes - 1}")
    if "image_id" in cols:
        ids = df["image_id"].astype(str).to_numpy(dtype=object)
        image_index = _map_ids(ids, dataset)
    else:
        ids = _integer_column(df["image_index"], "image_index", src, where)
        image_index = np.where((ids >= 0) & (ids < dataset.num_images), ids, -1).astype(np.int64)
    keep = _unknown_images(image_index, ids, where, ignore_unknown, src)
    return Detections(image_index=image_index[keep], class_index=np.asarray(cindex, np.int64)[keep],
                      scores=values[keep, 0], boxes=values[keep, 1:], source=src)
