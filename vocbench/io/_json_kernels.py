"""Numba kernels of the COCO JSON byte scanner (:mod:`vocbench.io._json_scan` holds the tables and the public
functions, and documents the accepted subset). Kernels see only arrays and scalars; ``_scan_results_kernel`` and
``_scan_gt_kernel`` are the entry points the wrappers call.
"""

from __future__ import annotations

from vocbench._numba import jit
from vocbench.io._voc_scan import _coord

MAX_DEPTH = 64

# field kinds
K_INT, K_FLOAT, K_BOX, K_STR = 0, 1, 2, 3

#: Kernels the wrappers call (compiled ahead of time by vocbench._native: one argument-type set each).
ENTRY_POINTS = ("_scan_results_kernel", "_scan_gt_kernel")


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
