"""Numba kernels of the line-per-record text readers (:mod:`vocbench.io._text_scan` holds the wrappers and documents
the accepted subset): devkit result files, CSV, per-image YOLO txt files. Kernels see only arrays and scalars.

One pass over the concatenated bytes of many files splits each non-blank line into fields, parses the numeric
fields with the one decimal parser (:func:`vocbench.io._voc_scan._decimal`: Clinger's fast path, then
Eisel-Lemire: the very double Python's ``float`` gives) and looks the text fields up in hash tables of the known
names (image ids, class names), so no Python object is made per record. A file with anything outside the subset
is flagged, whole, for the wrapper's checked reader.
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit, jit_inline
from vocbench.io._voc_scan import _decimal, _eisel_lemire

# per-file outcome
F_OK, F_FALLBACK = 0, 1
# per-row flag: a numeric field the fast parser leaves to Python's float (long mantissa, exponent, words)
R_OK, R_SLOW = 0, 1

B_TAB, B_LF, B_CR, B_SPACE, B_QUOTE = 9, 10, 13, 32, 34
B_PRINT_FIRST, B_PRINT_LAST = 33, 126
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


@jit_inline
def _hash(buf, s, e):
    """FNV-1a, 64 bits, of ``buf[s:e]``."""
    h = np.uint64(_FNV_OFFSET)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * np.uint64(_FNV_PRIME)
    return h


@jit
def build_slots(keys, key_off, col_key, col_slot):
    """Open-addressing hash tables of the keys, one per text column: column ``t`` owns keys
    ``col_key[t]:col_key[t + 1]`` and slots ``col_slot[t]:col_slot[t + 1]`` (a power of two, at least twice its
    keys); a slot holds a key index or -1. A key equal to an earlier one of its column is not entered (the first
    wins)."""
    slots = np.full(col_slot[-1], -1, np.int64)
    for t in range(len(col_key) - 1):
        base, size = col_slot[t], col_slot[t + 1] - col_slot[t]
        for k in range(col_key[t], col_key[t + 1]):
            if _find(keys, key_off[k], key_off[k + 1], keys, key_off, slots, base, size) < 0:
                j = _hash(keys, key_off[k], key_off[k + 1]) & np.uint64(size - 1)
                while slots[base + j] >= 0:
                    j = (j + np.uint64(1)) & np.uint64(size - 1)
                slots[base + j] = k
    return slots


@jit_inline
def _find(buf, s, e, keys, key_off, slots, base, size):
    """Index of the key equal to ``buf[s:e]`` in the table at ``slots[base:base + size]``; -1 when none is."""
    j = _hash(buf, s, e) & np.uint64(size - 1)
    while True:
        k = slots[base + j]
        if k < 0:
            return -1
        ks, ke = key_off[k], key_off[k + 1]
        if ke - ks == e - s:
            same = True
            for m in range(e - s):
                if keys[ks + m] != buf[s + m]:
                    same = False
                    break
            if same:
                return k
        j = (j + np.uint64(1)) & np.uint64(size - 1)


@jit_inline
def _bad_byte(c, sep):
    """Outside the subset: not printable ASCII, space or tab; a quote in CSV."""
    return (c < B_PRINT_FIRST and c != B_SPACE and c != B_TAB) or c > B_PRINT_LAST or (sep != 0 and c == B_QUOTE)


@jit_inline
def _next_line(buf, e, n):
    """Start of the line after the one ending at ``e`` (``\\n``, ``\\r\\n`` or ``\\r``, as universal newlines)."""
    if e < n and buf[e] == B_CR and e + 1 < n and buf[e + 1] == B_LF:
        return e + 2
    return e + 1


@jit_inline
def _skip_line(buf, i, n, sep):
    """(end of the line from ``i``, whether a byte on it is outside the subset)."""
    bad = False
    while i < n and buf[i] != B_LF and buf[i] != B_CR:
        bad |= _bad_byte(buf[i], sep)
        i += 1
    return i, bad


@jit_inline
def _field(buf, i, n, sep, k, kinds, keys, key_off, slots, col_slot, pow10, pow5, row, values, index):
    """Field ``k`` of row ``row`` from ``buf[i:]``: (its end, R_OK / R_SLOW, or -1 for a byte outside the
    subset)."""
    fs = i
    while i < n:
        c = buf[i]
        if c == B_LF or c == B_CR or (c == sep if sep != 0 else (c == B_SPACE or c == B_TAB)):
            break
        if _bad_byte(c, sep):
            return i, -1
        i += 1
    flag = R_OK
    if kinds[k] < 0:  # numeric: the one decimal parser; Python's float for anything it leaves or cannot end
        end, st, v, mant, exp10, shape, _ = _decimal(buf, fs, i, pow10)
        if end == i and st == 1:
            ok, v = _eisel_lemire(mant, exp10, shape, pow5)
            st = 0 if ok else 1
        if end != i or st != 0 or not np.isfinite(v):
            flag = R_SLOW
            v = np.nan
        values[-kinds[k] - 1, row] = v
    else:  # text, looked up in its column's table
        t = kinds[k]
        index[row, t] = _find(buf, fs, i, keys, key_off, slots, col_slot[t], col_slot[t + 1] - col_slot[t])
    return i, flag


@jit_inline
def _line(buf, i, n, sep, kinds, keys, key_off, slots, col_slot, pow10, pow5, row, values, index):
    """The line from ``i`` as row ``row``: (its end, R_OK / R_SLOW, 0 for a blank line, or -1: malformed or a byte
    outside the subset)."""
    n_fields = len(kinds)
    k = 0
    flag = R_OK
    while True:
        while sep == 0 and i < n and (buf[i] == B_SPACE or buf[i] == B_TAB):
            i += 1
        if i == n or buf[i] == B_LF or buf[i] == B_CR:
            if k == 0:
                return i, 0  # blank
            if sep != 0:  # a trailing separator, or a blank tail of a CSV line
                return _skip_line(buf, i, n, sep)[0], -1
            break
        if k == n_fields or (sep != 0 and buf[i] == sep):  # a field too many, or an empty CSV field
            return _skip_line(buf, i, n, sep)[0], -1
        i, f = _field(buf, i, n, sep, k, kinds, keys, key_off, slots, col_slot, pow10, pow5, row, values, index)
        if f < 0:
            return _skip_line(buf, i, n, sep)[0], -1
        flag = max(flag, f)
        k += 1
        if sep != 0:
            if i == n or buf[i] == B_LF or buf[i] == B_CR:
                break
            i += 1  # past the separator
    if k != n_fields:
        return i, -1
    return i, flag + 1


@jit
def scan_fields(buf, file_starts, file_ends, skip_lines, sep, kinds, keys, key_off, slots, col_slot, pow10, pow5,
                values, index, lines, line_starts, row_flag, row_offsets, file_status):
    """Every file's non-blank lines → one row each.

    Args:
        buf: uint8[B] the files' bytes; file ``f`` is ``buf[file_starts[f]:file_ends[f]]`` (``-1``: unreadable,
            flagged for fallback).
        skip_lines: leading lines of each file skipped (a CSV header: 1).
        sep: 0: fields are separated by runs of spaces and tabs; else that byte separates them, exactly (blanks
            belong to the fields; only an empty line is blank).
        kinds: int64[K] per field: ``-(j + 1)`` numeric column ``j`` of ``values``; ``t >= 0`` text column ``t``
            of ``index``, looked up in ``slots[col_slot[t]:col_slot[t + 1]]`` (:func:`build_slots` over the keys
            ``keys[key_off[k]:key_off[k + 1]]``).
        values: float64[numeric columns, cap] (a column per numeric field, each contiguous);
        index: int64[cap, text columns]: key index (-1: not a known key);
        lines: int64[cap] 1-based line of each row within its file; line_starts: int64[cap] its byte offset;
        pow10, pow5: the decimal parser's tables (``_voc_scan._POW10``, ``_json_scan._POW5``).
        row_flag: uint8[cap] R_SLOW where a numeric field needs Python's float (its value is NaN here): a token
            outside ``-?D+(.D*)?([eE][+-]?D+)?``, one Eisel-Lemire cannot decide, or one that is not finite.
        row_offsets: int64[F + 1] out: rows of file ``f`` are ``row_offsets[f]:row_offsets[f + 1]``.
        file_status: uint8[F] out: F_FALLBACK for a file with a byte outside printable ASCII + space, tab, line
            ends, a quote (CSV), or a non-blank line without exactly K non-empty fields (its rows are dropped).

    Returns:
        The number of rows.
    """
    n_files = len(file_starts)
    row = 0
    for f in range(n_files):
        row_offsets[f] = row
        file_status[f] = F_OK
        i, n = file_starts[f], file_ends[f]
        if i < 0:
            file_status[f] = F_FALLBACK
            continue
        first = row
        line = 0
        while i < n:
            line += 1
            if line <= skip_lines:
                e, bad = _skip_line(buf, i, n, sep)
                got = -1 if bad else 0
            else:
                e, got = _line(buf, i, n, sep, kinds, keys, key_off, slots, col_slot, pow10, pow5, row, values,
                               index)
            if got < 0:
                file_status[f] = F_FALLBACK
                row = first
                break
            if got > 0:
                lines[row] = line
                line_starts[row] = i
                row_flag[row] = got - 1
                row += 1
            i = _next_line(buf, e, n)
    row_offsets[n_files] = row
    return row
