"""Strict byte scanner for COCO JSON files: results lists and ``instances.json``, straight into numpy columns.

One Numba kernel walks the raw bytes once and writes the fields vocbench reads into preallocated columns, without
a Python object per record (``json.loads`` of a 48 MB results file builds 3.5 million of them). It accepts a
narrow, fully validated subset of JSON and answers ``None`` for anything else, so the caller's ``json`` path
handles, exactly, every file the scanner does not (and names the file and record of every error):

* a BOM, invalid UTF-8, a control character inside a string, a backslash escape in a key or in a string
  vocbench reads (``file_name``, ``name``: escapes are accepted, checked, in values it skips);
* ``NaN``/``Infinity`` (Python's ``json`` accepts them), any other token outside strict JSON (RFC 8259),
  nesting deeper than :data:`MAX_DEPTH`;
* a record that is not an object, a field vocbench reads given twice (``json`` keeps the last), a field of the
  wrong kind (an id written ``1.0``, a ``bbox`` that is not 4 numbers, a string where a number belongs),
  an integer of more than 18 digits, a number token over 255 bytes;
* ground truth: a top-level value that is not an object, a section (``images``, ``annotations``,
  ``categories``) that is not a list or is given twice.

Fields vocbench does not read (``segmentation``, ``supercategory``, ``license``, extra keys of any shape) are
skipped, but still checked against the JSON grammar, so an invalid file never reads as valid.

Numbers are exact: every number goes through vocbench's one decimal parser
(:func:`vocbench.io._voc_scan._decimal`: Clinger's fast path, then Eisel-Lemire with 128-bit powers of five for the
rest, e.g. the 17-digit reprs of float32 values), which gives the very double Python's ``float`` gives; only a
token of more than 18 significant digits that the parser cannot decide is converted afterwards by ``float`` on its
bytes. Integers have at most 18 digits. Under ``NUMBA_DISABLE_JIT=1`` the scanner answers ``None``
(as plain Python it would be slower than ``json``) unless called with ``force=True`` (the tests do).
"""

from __future__ import annotations

import numpy as np

from vocbench._native import jit_enabled, kernels

_k = kernels("vocbench.io._json_kernels")  # compiled ahead of time when built (no Numba import), else the JIT module
K_INT, K_FLOAT, K_BOX, K_STR, MAX_DEPTH = _k.K_INT, _k.K_FLOAT, _k.K_BOX, _k.K_STR, _k.MAX_DEPTH

__all__ = ["scan_coco_results", "scan_coco_gt", "MAX_DEPTH", "RESULT_FIELDS", "GT_FIELDS"]

#: results list: (name, kind)
RESULT_FIELDS = (("image_id", K_INT), ("category_id", K_INT), ("bbox", K_BOX), ("score", K_FLOAT))
#: instances.json sections and their fields
GT_FIELDS = {
    "images": (("id", K_INT), ("width", K_INT), ("height", K_INT), ("file_name", K_STR)),
    "annotations": (("id", K_INT), ("image_id", K_INT), ("category_id", K_INT), ("bbox", K_BOX),
                    ("area", K_FLOAT), ("iscrowd", K_INT), ("ignore", K_INT)),
    "categories": (("id", K_INT), ("name", K_STR)),
}

_POW10 = 10.0 ** np.arange(23)  # exact doubles


def _pow5_table() -> np.ndarray:
    """uint64[651, 2]: 128-bit approximations of ``5**q``, ``q`` in -342..308 (the range of
    ``vocbench.io._voc_scan._eisel_lemire_exact``), normalised (top bit set): truncated for ``q >= 0``, rounded
    up for ``q < 0``, as fast_float's ``script/table_generation.py`` writes them. (Here, not beside the parser:
    this module must not import Numba.)"""
    rows = []
    for q in range(-342, 309):
        if q < 0:
            p5 = 5 ** -q
            z = (p5 - 1).bit_length()  # the least z with 2**z >= 5**-q
            c = (1 << (z + 127 if q >= -27 else 2 * z + 128)) // p5 + 1
            c >>= max(0, c.bit_length() - 128)
        else:
            c = 5 ** q
            c = c << (128 - c.bit_length()) if c.bit_length() < 128 else c >> (c.bit_length() - 128)
        rows.append((c >> 64, c & ((1 << 64) - 1)))
    return np.array(rows, dtype=np.uint64)


_POW5 = _pow5_table()


# ------------------------------------------------------------------------------------------------ tables
def _name_table(names) -> tuple[np.ndarray, np.ndarray]:
    raw = [n.encode() for n in names]
    offs = np.zeros(len(raw) + 1, np.int64)
    offs[1:] = np.cumsum([len(b) for b in raw])
    return np.frombuffer(b"".join(raw) or b"\0", np.uint8).copy(), offs


def _field_table(fields) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """(kinds, columns, ..., int width, float width) of one field list: ints and strings (2 columns: start, end)
    in the int matrix, numbers and boxes (4 columns) in the float matrix."""
    kinds, cols = [], []
    ni = nf = 0
    for _, kind in fields:
        kinds.append(kind)
        if kind in (K_INT, K_STR):
            cols.append(ni)
            ni += 1 if kind == K_INT else 2
        else:
            cols.append(nf)
            nf += 4 if kind == K_BOX else 1
    return np.array(kinds, np.int64), np.array(cols, np.int64), np.zeros(0), ni, nf


_RES_NAMES = _name_table([f for f, _ in RESULT_FIELDS])
_RES_KINDS, _RES_COLS, _, _RES_NI, _RES_NF = _field_table(RESULT_FIELDS)
_GT_SECTIONS = _name_table(list(GT_FIELDS))
_GT_NAMES = _name_table([f for fs in GT_FIELDS.values() for f, _ in fs])
_GT_TABLES = [_field_table(fs) for fs in GT_FIELDS.values()]
_GT_KINDS = np.concatenate([t[0] for t in _GT_TABLES])
_GT_COLS = np.concatenate([t[1] for t in _GT_TABLES])
_GT_LO = np.cumsum([0] + [len(fs) for fs in GT_FIELDS.values()]).astype(np.int64)
_GT_NI = max(t[3] for t in _GT_TABLES)
_GT_NF = max(t[4] for t in _GT_TABLES)


# ------------------------------------------------------------------------------------------------ public
def _use_kernel(force: bool) -> bool:
    return force or jit_enabled()  # as io._voc_scan.use_kernel, without importing Numba


def _buffer(data: bytes | np.ndarray) -> np.ndarray | None:
    """The bytes (``bytes`` or a ``uint8`` array) as ``uint8`` when the scanner may read them: UTF-8 without a
    BOM."""
    if isinstance(data, np.ndarray):  # (io.coco_columns.read_file_array)
        if bytes(data[:3]) == b"\xef\xbb\xbf":
            return None
        if len(data) and data.max() >= 128:
            try:
                str(data.data, "utf-8")
            except UnicodeDecodeError:
                return None
        view = data.view()  # read-only, as a buffer over bytes is: the kernels keep one argument-type set
        view.flags.writeable = False
        return view
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return np.frombuffer(data, np.uint8)


def _float_views(flat: np.ndarray, cap: int, fields) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The kernel's flat float buffer (float column ``c`` from ``c * cap``; a box's four columns one row-major
    block) as per-field views (``bbox`` float64[cap, 4] and numbers float64[cap], C-contiguous) and as one
    float64[cap] view per float column (for :func:`_convert_slow`)."""
    kinds, cols, _, _, nf = _field_table(fields)
    by_field: dict[str, np.ndarray] = {}
    columns: list[np.ndarray] = [flat[c * cap:(c + 1) * cap] for c in range(nf)]
    for (name, _), kind, c in zip(fields, kinds.tolist(), cols.tolist()):
        if kind == K_BOX:
            by_field[name] = box = flat[c * cap:(c + 4) * cap].reshape(cap, 4)
            columns[c:c + 4] = [box[:, j] for j in range(4)]
        elif kind == K_FLOAT:
            by_field[name] = columns[c]
    return by_field, columns


def _convert_slow(data: bytes | np.ndarray, columns: list[np.ndarray], slow: np.ndarray) -> None:
    """``float`` of the tokens the kernel left to Python (their ``start * 256 + length`` is in their cell);
    ``columns``: one writable float64[len(slow)] view per float column (bit ``c`` of ``slow`` is column ``c``)."""
    rows = np.flatnonzero(slow)
    if rows.size == 0:
        return
    for col, values in enumerate(columns):
        at = rows[(slow[rows] >> col) & 1 == 1]
        if at.size:
            code = values[at].astype(np.int64)
            values[at] = [float(bytes(data[s:s + n])) for s, n in zip((code >> 8).tolist(), (code & 255).tolist())]


def scan_coco_results(data: bytes | np.ndarray, force: bool = False) -> dict[str, np.ndarray] | None:
    """Columns of a COCO results list (``[{"image_id", "category_id", "bbox", "score"}, ...]``), or None when the
    file is outside the scanner's subset (see the module docstring) and the ``json`` path must read it.

    Args:
        data: the file's bytes, as ``bytes`` or a ``uint8`` array.
        force: run the kernel even under ``NUMBA_DISABLE_JIT=1`` (tests).

    Returns:
        ``image_id``/``category_id``: int64[N] as written; ``bbox``: float64[N, 4] ``[x, y, w, h]`` as written;
        ``score``: float64[N]. Every record has all four fields (else None).
    """
    if not _use_kernel(force):
        return None
    buf = _buffer(data)
    if buf is None:
        return None
    # a record with its four fields takes at least 58 bytes ('{"image_id":0,"category_id":0,"bbox":[0,0,0,0],
    # "score":0},'); a file of shorter records overflows the columns and goes to the json path, which names the
    # record missing a field. (Pages of np.empty are touched only where written: no cost for the spare rows.)
    cap = len(data) // 58 + 1
    ints = np.empty((cap, _RES_NI), np.int64)
    floats = np.empty(cap * _RES_NF, np.float64)
    slow = np.zeros(cap, np.uint8)
    seen = np.empty(cap, np.uint16)
    stack = np.zeros(MAX_DEPTH, np.int64)
    r = _k._scan_results_kernel(buf, *_RES_NAMES, _RES_KINDS, _RES_COLS, ints, floats, slow, seen, stack, _POW10,
                                _POW5)
    if r < 0 or (seen[:r] != (1 << len(RESULT_FIELDS)) - 1).any():
        return None
    by_field, columns = _float_views(floats, cap, RESULT_FIELDS)
    _convert_slow(data, [c[:r] for c in columns], slow[:r])
    return {"image_id": ints[:r, 0], "category_id": ints[:r, 1], "bbox": by_field["bbox"][:r],
            "score": by_field["score"][:r]}


def _section_columns(data: bytes, name: str, fields, ints, floats: dict[str, np.ndarray], seen) -> dict:
    """One section's columns: numbers as arrays, strings as lists of ``str`` (None where absent), and
    ``present``: bool[N] per field name."""
    kinds, cols, _, _, _ = _field_table(fields)
    out: dict = {"count": len(seen), "present": {}}
    for k, (field, kind) in enumerate(fields):
        has = (seen >> k) & 1 == 1
        out["present"][field] = has
        c = int(cols[k])
        if kind == K_INT:
            out[field] = np.where(has, ints[:, c], 0)
        elif kind == K_FLOAT:
            out[field] = np.where(has, floats[field], np.nan)
        elif kind == K_BOX:
            out[field] = np.where(has[:, None], floats[field], np.nan)
        else:
            out[field] = [data[s:e].decode("utf-8") if h else None
                          for s, e, h in zip(ints[:, c].tolist(), ints[:, c + 1].tolist(), has.tolist())]
    return out


def _scan_gt_rows(buf: np.ndarray, cap: int) -> tuple[np.ndarray, ...] | None:
    """The GT kernel's columns with room for ``cap`` records: (ints, floats, slow, seen, section start, section
    count), or None when the kernel answers -1 (outside the subset, or more than ``cap`` records)."""
    ints = np.zeros((cap, _GT_NI), np.int64)
    floats = np.zeros(cap * _GT_NF, np.float64)
    slow = np.zeros(cap, np.uint8)
    seen = np.zeros(cap, np.uint16)
    stack = np.zeros(MAX_DEPTH, np.int64)
    start = np.full(len(GT_FIELDS), -1, np.int64)
    count = np.zeros(len(GT_FIELDS), np.int64)
    status = _k._scan_gt_kernel(buf, *_GT_SECTIONS, _GT_LO, *_GT_NAMES, _GT_KINDS, _GT_COLS, ints, floats, slow, seen,
                                stack, _POW10, _POW5, start, count)
    return None if status < 0 else (ints, floats, slow, seen, start, count)


def scan_coco_gt(data: bytes, force: bool = False) -> dict[str, dict] | None:
    """Columns of a COCO ``instances.json``, or None when the ``json`` path must read the file.

    Returns:
        For each section of :data:`GT_FIELDS` present in the file (a missing section is absent): ``count``,
        ``present`` (field → bool[N]: the record has the field) and per field: ints as int64[N] (0 where absent),
        numbers float64[N] and ``bbox`` float64[N, 4] as written (NaN where absent), strings a list of ``str``
        (None where absent).
    """
    if not _use_kernel(force):
        return None
    buf = _buffer(data)
    if buf is None:
        return None
    # Rows for every record: a valid file's records take at least 19 bytes ('{"id":1,"name":"a"}'), most far
    # more; np.zeros pages are touched only where written. Sized at 1 per 32 bytes (no 21 ms count of a 66 MB
    # file); a file of shorter records overflows, and is scanned again with room for every '{'.
    cap = len(buf) // 32 + 64
    got = _scan_gt_rows(buf, cap)
    if got is None:
        braces = data.count(b"{") if isinstance(data, bytes) else int(np.count_nonzero(buf == ord("{")))
        if braces <= cap:
            return None
        cap = braces
        got = _scan_gt_rows(buf, cap)
        if got is None:
            return None
    ints, floats, slow, seen, start, count = got
    out = {}
    for s, (name, fields) in enumerate(GT_FIELDS.items()):
        if start[s] < 0:
            continue
        rows = slice(int(start[s]), int(start[s] + count[s]))
        by_field, columns = _float_views(floats, cap, fields)
        _convert_slow(data, [c[rows] for c in columns], slow[rows])
        out[name] = _section_columns(data, name, fields, ints[rows], {k: v[rows] for k, v in by_field.items()},
                                     seen[rows])
    return out
