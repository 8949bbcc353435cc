"""Strict byte scanner for COCO JSON files: results lists and ``instances.json``, straight into numpy columns.

One Numba kernel walks the raw bytes once and writes the fields vocbench reads into preallocated columns, without
a Python object per record (``json.loads`` of a 48 MB results file builds 3.5 million of them). It accepts a
narrow, fully validated subset of JSON and answers ``None`` for anything else, so the caller's ``json`` path
handles, exactly, every file the scanner does not (and names the file and record of every error):

* a BOM, invalid UTF-8, any backslash escape or control character inside a string;
* ``NaN``/``Infinity`` (Python's ``json`` accepts them), any other token outside strict JSON (RFC 8259),
  nesting deeper than :data:`MAX_DEPTH`;
* a record that is not an object, a field vocbench reads given twice (``json`` keeps the last), a field of the
  wrong kind (an id written ``1.0``, a ``bbox`` that is not 4 numbers, a string where a number belongs),
  an integer of more than 18 digits, a number token over 255 bytes;
* ground truth: a top-level value that is not an object, a section (``images``, ``annotations``,
  ``categories``) that is not a list or is given twice.

Fields vocbench does not read (``segmentation``, ``supercategory``, ``license``, extra keys of any shape) are
skipped, but still checked against the JSON grammar, so an invalid file never reads as valid.

Numbers are exact: integers are read digit by digit; a decimal goes through the XML scanner's exact decimal
parser (:func:`vocbench.io._voc_scan._coord`, Clinger's fast path: the very double Python's ``float`` gives),
and the tokens outside its fast path (exponents, more than 18 significant digits, ``2**53`` < mantissa) are
converted afterwards by ``float`` on their bytes. Under ``NUMBA_DISABLE_JIT=1`` the scanner answers ``None``
(as plain Python it would be slower than ``json``) unless called with ``force=True`` (the tests do).
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit
from vocbench.io._voc_scan import _coord

__all__ = ["scan_coco_results", "scan_coco_gt", "MAX_DEPTH", "RESULT_FIELDS", "GT_FIELDS"]

MAX_DEPTH = 64

# field kinds
K_INT, K_FLOAT, K_BOX, K_STR = 0, 1, 2, 3

#: results list: (name, kind)
RESULT_FIELDS = (("image_id", K_INT), ("category_id", K_INT), ("bbox", K_BOX), ("score", K_FLOAT))
#: instances.json sections and their fields
GT_FIELDS = {
    "images": (("id", K_INT), ("width", K_INT), ("height", K_INT), ("file_name", K_STR)),
    "annotations": (("id", K_INT), ("image_id", K_INT), ("category_id", K_INT), ("bbox", K_BOX),
                    ("area", K_FLOAT), ("iscrowd", K_INT), ("ignore", K_INT)),
    "categories": (("id", K_INT), ("name", K_STR)),
}

_POW10 = 10.0 ** np.arange(23)
_FAIL = -1


# ------------------------------------------------------------------------------------------------ tokens
@jit
def _ws(buf, i, n):
    while i < n:
        c = buf[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
        else:
            break
    return i


@jit
def _number_end(buf, i, n):
    """End of the strict JSON number starting at ``i``; -1 if there is none."""
    j = i
    if j < n and buf[j] == 45:
        j += 1
    if j >= n:
        return -1
    c = buf[j]
    if c == 48:
        j += 1
    elif 49 <= c <= 57:
        while j < n and 48 <= buf[j] <= 57:
            j += 1
    else:
        return -1
    if j < n and buf[j] == 46:
        j += 1
        k = j
        while j < n and 48 <= buf[j] <= 57:
            j += 1
        if j == k:
            return -1
    if j < n and (buf[j] == 101 or buf[j] == 69):
        j += 1
        if j < n and (buf[j] == 43 or buf[j] == 45):
            j += 1
        k = j
        while j < n and 48 <= buf[j] <= 57:
            j += 1
        if j == k:
            return -1
    return j


@jit
def _string_end(buf, i, n):
    """End (after the closing quote) of the string opening at ``i``; -1 on an escape or a control character."""
    j = i + 1
    while j < n:
        c = buf[j]
        if c == 34:
            return j + 1
        if c == 92 or c < 32:
            return -1
        j += 1
    return -1


@jit
def _literal_end(buf, i, n):
    """End of ``true``, ``false`` or ``null`` at ``i``; -1 otherwise."""
    c = buf[i]
    if c == 116 and i + 4 <= n and buf[i + 1] == 114 and buf[i + 2] == 117 and buf[i + 3] == 101:
        return i + 4
    if c == 102 and i + 5 <= n and buf[i + 1] == 97 and buf[i + 2] == 108 and buf[i + 3] == 115 \
            and buf[i + 4] == 101:
        return i + 5
    if c == 110 and i + 4 <= n and buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108:
        return i + 4
    return -1


@jit
def _scalar_end(buf, i, n):
    c = buf[i]
    if c == 34:
        return _string_end(buf, i, n)
    if c == 45 or 48 <= c <= 57:
        return _number_end(buf, i, n)
    return _literal_end(buf, i, n)


@jit
def _key_end(buf, i, n):
    """``"key" :`` at ``i`` (after whitespace): (key start, key end, index after the colon), -1s on failure."""
    if i >= n or buf[i] != 34:
        return -1, -1, -1
    e = _string_end(buf, i, n)
    if e < 0:
        return -1, -1, -1
    j = _ws(buf, e, n)
    if j >= n or buf[j] != 58:
        return -1, -1, -1
    return i + 1, e - 1, j + 1


@jit
def _skip_value(buf, i, n, stack):
    """Index after the JSON value starting at ``i`` (whitespace skipped first), checked against the grammar;
    -1 if it is not valid strict JSON or nests deeper than the stack."""
    depth = 0
    while True:
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        c = buf[i]
        if c == 123 or c == 91:  # { [ : open, then the first member or an empty container
            if depth >= stack.size:
                return -1
            stack[depth] = c
            depth += 1
            i = _ws(buf, i + 1, n)
            if i < n and buf[i] == c + 2:  # } or ]
                i += 1
                depth -= 1
            elif c == 123:
                ks, ke, i = _key_end(buf, i, n)
                if i < 0:
                    return -1
                continue
            else:
                continue
        else:
            i = _scalar_end(buf, i, n)
            if i < 0:
                return -1
        # after a value: close containers or move to the next member
        while depth > 0:
            i = _ws(buf, i, n)
            if i >= n:
                return -1
            c = buf[i]
            top = stack[depth - 1]
            if c == 44:
                i = _ws(buf, i + 1, n)
                if top == 123:
                    ks, ke, i = _key_end(buf, i, n)
                    if i < 0:
                        return -1
                break
            if c == top + 2:
                depth -= 1
                i += 1
                continue
            return -1
        if depth == 0:
            return i


@jit
def _int_value(buf, s, e):
    """(ok, value) of a strict JSON number token that is an integer of at most 18 digits."""
    neg = buf[s] == 45
    j = s + 1 if neg else s
    if e - j > 18:
        return False, 0
    v = 0
    for k in range(j, e):
        c = buf[k]
        if c < 48 or c > 57:
            return False, 0
        v = v * 10 + (c - 48)
    return True, -v if neg else v


@jit
def _match(buf, s, e, names, offs, lo, hi):
    """Index in ``[lo, hi)`` of the name ``buf[s:e]`` in the table ``names``/``offs``; -1 if absent."""
    for k in range(lo, hi):
        a, b = offs[k], offs[k + 1]
        if b - a != e - s:
            continue
        same = True
        for t in range(b - a):
            if names[a + t] != buf[s + t]:
                same = False
                break
        if same:
            return k
    return -1


# ----------------------------------------------------------------------------------------------- records
@jit
def _is_integer_token(buf, s, e):
    for k in range(s, e):
        c = buf[k]
        if c == 46 or c == 101 or c == 69:
            return False
    return True


@jit
def _read_float(buf, s, e, floats, slow, r, col, pow10):
    """Exact double of the number token ``buf[s:e]`` into ``floats[r, col]``; a token outside the fast path
    stores ``s * 256 + length`` there and sets bit ``col`` of ``slow[r]`` (converted by ``float`` afterwards)."""
    if e < 0 or e - s > 255:
        return -1
    st, v = _coord(buf, s, e, pow10)
    if st == 0:
        if v == 0.0 and _is_integer_token(buf, s, e):  # json reads "-0" as the int 0, hence +0.0
            v = 0.0
        floats[r, col] = v
    else:
        floats[r, col] = float(s * 256 + (e - s))
        slow[r] |= 1 << col
    return e


@jit
def _read_field(buf, i, n, kind, col, ints, floats, slow, r, pow10):
    """Read one field value of kind ``kind`` at ``i`` into column ``col``; index after it, or -1."""
    if kind == 0:  # K_INT
        e = _number_end(buf, i, n)
        if e < 0:
            return -1
        ok, v = _int_value(buf, i, e)
        if not ok:
            return -1
        ints[r, col] = v
        return e
    if kind == 1:  # K_FLOAT
        return _read_float(buf, i, _number_end(buf, i, n), floats, slow, r, col, pow10)
    if kind == 2:  # K_BOX: exactly four numbers
        if buf[i] != 91:
            return -1
        for k in range(4):
            i = _ws(buf, i + 1, n)
            if i >= n:
                return -1
            i = _read_float(buf, i, _number_end(buf, i, n), floats, slow, r, col + k, pow10)
            if i < 0:
                return -1
            i = _ws(buf, i, n)
            if i >= n or buf[i] != (93 if k == 3 else 44):
                return -1
        return i + 1
    if buf[i] != 34:  # K_STR: the span without the quotes
        return -1
    e = _string_end(buf, i, n)
    if e < 0:
        return -1
    ints[r, col] = i + 1
    ints[r, col + 1] = e - 1
    return e


@jit
def _read_record(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10):
    """The object at ``i`` as record ``r`` (fields ``lo..hi`` of the tables); index after it, or -1."""
    if i >= n or buf[i] != 123:
        return -1
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == 125:
        return i + 1
    while True:
        ks, ke, i = _key_end(buf, i, n)
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        f = _match(buf, ks, ke, names, offs, lo, hi)
        if f < 0:
            i = _skip_value(buf, i, n, stack)
        else:
            bit = 1 << (f - lo)
            if seen[r] & bit:  # a repeated field: json keeps the last one, the json path decides
                return -1
            seen[r] |= bit
            i = _read_field(buf, i, n, kinds[f], cols[f], ints, floats, slow, r, pow10)
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        if buf[i] == 125:
            return i + 1
        if buf[i] != 44:
            return -1
        i = _ws(buf, i + 1, n)


@jit
def _read_list(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10):
    """The list of records at ``i``, written from row ``r``: (index after it or -1, next free row)."""
    if i >= n or buf[i] != 91:
        return -1, r
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == 93:
        return i + 1, r
    while True:
        if r >= seen.size:
            return -1, r
        i = _read_record(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10)
        if i < 0:
            return -1, r
        r += 1
        i = _ws(buf, i, n)
        if i >= n:
            return -1, r
        if buf[i] == 93:
            return i + 1, r
        if buf[i] != 44:
            return -1, r
        i = _ws(buf, i + 1, n)


@jit
def _scan_results_kernel(buf, names, offs, kinds, cols, ints, floats, slow, seen, stack, pow10):
    """A results list → number of records (rows written), or -1 when the json path must read the file."""
    n = buf.size
    i, r = _read_list(buf, _ws(buf, 0, n), n, stack, names, offs, kinds, cols, 0, kinds.size, ints, floats, slow,
                      seen, 0, pow10)
    if i < 0 or _ws(buf, i, n) != n:
        return -1
    return r


@jit
def _scan_gt_kernel(buf, sections, sec_offs, field_lo, names, offs, kinds, cols, ints, floats, slow, seen, stack,
                    pow10, sec_start, sec_count):
    """An ``instances.json`` object: its section lists into rows (``sec_start``/``sec_count`` per section, -1
    start when absent); returns 0, or -1 when the json path must read the file."""
    n = buf.size
    i = _ws(buf, 0, n)
    if i >= n or buf[i] != 123:
        return -1
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == 125:
        return 0 if _ws(buf, i + 1, n) == n else -1
    r = 0
    while True:
        ks, ke, i = _key_end(buf, i, n)
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        s = _match(buf, ks, ke, sections, sec_offs, 0, sec_start.size)
        if s < 0:
            i = _skip_value(buf, i, n, stack)
        else:
            if sec_start[s] >= 0:
                return -1
            sec_start[s] = r
            i, r2 = _read_list(buf, i, n, stack, names, offs, kinds, cols, field_lo[s], field_lo[s + 1], ints,
                               floats, slow, seen, r, pow10)
            sec_count[s] = r2 - r
            r = r2
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        if buf[i] == 125:
            return 0 if _ws(buf, i + 1, n) == n else -1
        if buf[i] != 44:
            return -1
        i = _ws(buf, i + 1, n)


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
    from vocbench.io._voc_scan import use_kernel

    return force or use_kernel()


def _buffer(data: bytes) -> np.ndarray | None:
    """The bytes as ``uint8`` when the scanner may read them: UTF-8 without a BOM."""
    if data.startswith(b"\xef\xbb\xbf"):
        return None
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return np.frombuffer(data, np.uint8)


def _convert_slow(data: bytes, floats: np.ndarray, slow: np.ndarray) -> None:
    """``float`` of the tokens the kernel left to Python (their ``start * 256 + length`` is in their cell)."""
    rows = np.flatnonzero(slow)
    if rows.size == 0:
        return
    for col in range(floats.shape[1]):
        at = rows[(slow[rows] >> col) & 1 == 1]
        if at.size:
            code = floats[at, col].astype(np.int64)
            floats[at, col] = [float(data[s:s + n]) for s, n in zip((code >> 8).tolist(), (code & 255).tolist())]


def scan_coco_results(data: bytes, force: bool = False) -> dict[str, np.ndarray] | None:
    """Columns of a COCO results list (``[{"image_id", "category_id", "bbox", "score"}, ...]``), or None when the
    file is outside the scanner's subset (see the module docstring) and the ``json`` path must read it.

    Args:
        data: the file's bytes.
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
    floats = np.empty((cap, _RES_NF), np.float64)
    slow = np.zeros(cap, np.uint8)
    seen = np.zeros(cap, np.uint16)
    stack = np.zeros(MAX_DEPTH, np.int64)
    r = _scan_results_kernel(buf, *_RES_NAMES, _RES_KINDS, _RES_COLS, ints, floats, slow, seen, stack, _POW10)
    if r < 0 or (seen[:r] != (1 << len(RESULT_FIELDS)) - 1).any():
        return None
    floats = floats[:r]
    _convert_slow(data, floats, slow[:r])
    return {"image_id": ints[:r, 0], "category_id": ints[:r, 1], "bbox": floats[:, 0:4], "score": floats[:, 4]}


def _section_columns(data: bytes, name: str, fields, ints, floats, seen) -> dict:
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
            out[field] = np.where(has, floats[:, c], np.nan)
        elif kind == K_BOX:
            out[field] = np.where(has[:, None], floats[:, c:c + 4], np.nan)
        else:
            out[field] = [data[s:e].decode("utf-8") if h else None
                          for s, e, h in zip(ints[:, c].tolist(), ints[:, c + 1].tolist(), has.tolist())]
    return out


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
    cap = data.count(b"{")
    ints = np.zeros((cap, _GT_NI), np.int64)
    floats = np.zeros((cap, _GT_NF), np.float64)
    slow = np.zeros(cap, np.uint8)
    seen = np.zeros(cap, np.uint16)
    stack = np.zeros(MAX_DEPTH, np.int64)
    start = np.full(len(GT_FIELDS), -1, np.int64)
    count = np.zeros(len(GT_FIELDS), np.int64)
    status = _scan_gt_kernel(buf, *_GT_SECTIONS, _GT_LO, *_GT_NAMES, _GT_KINDS, _GT_COLS, ints, floats, slow, seen,
                             stack, _POW10, start, count)
    if status < 0:
        return None
    out = {}
    for s, (name, fields) in enumerate(GT_FIELDS.items()):
        if start[s] < 0:
            continue
        rows = slice(int(start[s]), int(start[s] + count[s]))
        f = floats[rows]
        _convert_slow(data, f, slow[rows])
        out[name] = _section_columns(data, name, fields, ints[rows], f, seen[rows])
    return out
