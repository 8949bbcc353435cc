"""Numba kernels of the COCO JSON byte scanner (:mod:`vocbench.io._json_scan` holds the tables and the public
functions, and documents the accepted subset). Kernels see only arrays and scalars; the wrappers call the entry
points in :data:`ENTRY_POINTS` through this module, each with one fixed set of argument types.

Numbers go through the one decimal parser, :func:`vocbench.io._voc_scan._decimal` (Clinger's fast path inline),
then :func:`~vocbench.io._voc_scan._eisel_lemire` for the tokens that path leaves undecided (17-digit reprs of
float32 values, exponents beyond 22); only a token over 18 significant digits whose neighbours round apart is left
to Python's ``float``. One compiled record loop (:func:`_read_list`, its steps inlined) serves both entry
kernels; keys are matched against a name table by length and first byte, then in full.
"""

from __future__ import annotations

import numpy as np

from vocbench._numba import jit_inline, jit_scan
from vocbench.io._voc_scan import (
    N_DOT,
    N_EMPTY_FRACTION,
    N_EXP,
    N_LEADING_ZERO,
    N_NEG,
    N_TRUNC,
    _decimal,
    _eisel_lemire,
)

__all__ = ["ENTRY_POINTS", "MAX_DEPTH", "K_INT", "K_FLOAT", "K_BOX", "K_STR"]

#: The kernels the wrappers call (compiled ahead of time by vocbench._native).
ENTRY_POINTS = ("_scan_results_kernel", "_scan_gt_kernel")

MAX_DEPTH = 64
MAX_TOKEN = 255  # longest number token read (a slow token's cell holds start * 256 + length)

# field kinds
K_INT, K_FLOAT, K_BOX, K_STR = 0, 1, 2, 3

# ASCII bytes the scanner compares with
B_TAB, B_LF, B_CR, B_SPACE, B_QUOTE, B_COMMA, B_MINUS, B_COLON = 9, 10, 13, 32, 34, 44, 45, 58
B_LBRACKET, B_BACKSLASH, B_RBRACKET, B_LBRACE, B_RBRACE = 91, 92, 93, 123, 125
B_0, B_9 = 48, 57
# a number token not of strict JSON's grammar (01, 1.)
_NOT_JSON = N_LEADING_ZERO | N_EMPTY_FRACTION


# ------------------------------------------------------------------------------------------------ tokens
@jit_scan
def _ws(buf, i, n):
    while i < n:
        c = buf[i]
        if c == B_SPACE or c == B_LF or c == B_CR or c == B_TAB:
            i += 1
        else:
            break
    return i


@jit_scan
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


@jit_scan
def _string_end(buf, i, n):
    """End (after the closing quote) of the string opening at ``i``; -1 on an escape or a control character."""
    j = i + 1
    while j < n:
        c = buf[j]
        if c == B_QUOTE:
            return j + 1
        if c == B_BACKSLASH or c < 32:
            return -1
        j += 1
    return -1


@jit_scan
def _escaped_string_end(buf, i, n):
    """End of the string opening at ``i`` whose value is skipped: escapes allowed (``\\"``, ``\\uXXXX``, ...),
    checked against the grammar; -1 on a bad escape or a control character."""
    j = i + 1
    while j < n:
        c = buf[j]
        if c == B_QUOTE:
            return j + 1
        if c < 32:
            return -1
        if c == B_BACKSLASH:
            j += 1
            if j >= n:
                return -1
            c = buf[j]
            if c == 117:  # u: four hex digits
                if j + 4 >= n:
                    return -1
                for t in range(j + 1, j + 5):
                    h = buf[t] | 32  # lower case
                    if not (B_0 <= buf[t] <= B_9 or 97 <= h <= 102):
                        return -1
                j += 4
            elif not (c == B_QUOTE or c == B_BACKSLASH or c == 47 or c == 98 or c == 102 or c == 110 or c == 114
                      or c == 116):  # " \ / b f n r t
                return -1
        j += 1
    return -1


@jit_scan
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


@jit_scan
def _scalar_end(buf, i, n):
    c = buf[i]
    if c == B_QUOTE:
        return _escaped_string_end(buf, i, n)
    if c == B_MINUS or B_0 <= c <= B_9:
        return _number_end(buf, i, n)
    return _literal_end(buf, i, n)


@jit_scan
def _key_end(buf, i, n):
    """``"key" :`` at ``i`` (after whitespace): (key start, key end, index after the colon and whitespace), -1s on
    failure."""
    if i >= n or buf[i] != B_QUOTE:
        return -1, -1, -1
    e = _string_end(buf, i, n)
    if e < 0:
        return -1, -1, -1
    j = _ws(buf, e, n)
    if j >= n or buf[j] != B_COLON:
        return -1, -1, -1
    return i + 1, e - 1, _ws(buf, j + 1, n)


@jit_scan
def _skip_value(buf, i, n, stack):
    """Index after the JSON value starting at ``i`` (whitespace skipped first), checked against the grammar;
    -1 if it is not valid strict JSON or nests deeper than the stack."""
    depth = 0
    while True:
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        c = buf[i]
        if c == B_LBRACE or c == B_LBRACKET:  # open, then the first member or an empty container
            if depth >= stack.size:
                return -1
            stack[depth] = c
            depth += 1
            i = _ws(buf, i + 1, n)
            if i < n and buf[i] == c + 2:  # } or ]
                i += 1
                depth -= 1
            elif c == B_LBRACE:
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
            if c == B_COMMA:
                i = _ws(buf, i + 1, n)
                if top == B_LBRACE:
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


# ------------------------------------------------------------------------------------------------ records
@jit_scan
def _match(buf, s, e, names, offs, lo, hi):
    """Index in ``[lo, hi)`` of the name ``buf[s:e]`` in the table ``names``/``offs``; -1 if absent."""
    for k in range(lo, hi):
        a, b = offs[k], offs[k + 1]
        if b - a != e - s or names[a] != buf[s]:
            continue
        same = True
        for t in range(1, b - a):
            if names[a + t] != buf[s + t]:
                same = False
                break
        if same:
            return k
    return -1


@jit_scan
def _expected_key(buf, i, n, names, offs, f):
    """``f`` when the string at ``i`` is the name ``f`` (quotes included), else -1."""
    a, b = offs[f], offs[f + 1]
    e = i + b - a + 1
    if e >= n or buf[i] != B_QUOTE or buf[e] != B_QUOTE:
        return -1
    for t in range(b - a):
        if buf[i + 1 + t] != names[a + t]:
            return -1
    return f


@jit_inline
def _read_value(buf, i, n, kind, col, r, ints, floats, slow, pow10, pow5):
    """The value of kind ``kind`` at ``i`` into row ``r`` from column ``col``; index after it, or -1.

    Integers (at most 18 digits) into ``ints``; numbers and boxes (exactly four numbers) into the flat ``floats``
    (float column ``c`` starts at ``c * slow.size``; a box fills columns ``col..col + 3`` as one row-major
    ``[rows, 4]`` block, so the wrapper hands out C-contiguous ``bbox`` and ``score`` views without a copy), exact
    doubles (a token Python's ``float`` must convert stores ``start * 256 + length`` and sets its bit in
    ``slow[r]``); strings as their span (without the quotes) in two ``ints`` columns. One number site: the parser
    is inlined once."""
    if kind == K_STR:
        if buf[i] != B_QUOTE:
            return -1
        e = _string_end(buf, i, n)
        if e < 0:
            return -1
        ints[r, col] = i + 1
        ints[r, col + 1] = e - 1
        return e
    count = 1
    if kind == K_BOX:
        if buf[i] != B_LBRACKET:
            return -1
        i = _ws(buf, i + 1, n)
        count = 4
    for k in range(count):
        if k > 0:
            i = _ws(buf, i, n)
            if i >= n or buf[i] != B_COMMA:
                return -1
            i = _ws(buf, i + 1, n)
        end, status, v, mant, exp10, shape, _ = _decimal(buf, i, n, pow10)
        if end < 0 or shape & _NOT_JSON or end - i > MAX_TOKEN:
            return -1
        if kind == K_INT:
            if shape & (N_DOT | N_EXP | N_TRUNC) or exp10 != 0:
                return -1
            ints[r, col] = -mant if shape & N_NEG else mant
        else:
            if status != 0:
                ok, v = _eisel_lemire(mant, exp10, shape, pow5)
                if not ok:
                    v = float(i * 256 + (end - i))
                    slow[r] |= 1 << (col + k)
            elif v == 0.0 and shape & (N_DOT | N_EXP) == 0:  # json reads "-0" as the int 0, hence +0.0
                v = 0.0
            # column-major blocks of ``slow.size`` rows: a box's four numbers side by side from block ``col``
            floats[col * slow.size + (4 * r + k if kind == K_BOX else r)] = v
        i = end
    if kind == K_BOX:
        i = _ws(buf, i, n)
        if i >= n or buf[i] != B_RBRACKET:
            return -1
        i += 1
    return i


@jit_inline
def _read_record(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10, pow5):
    """The object at ``i`` as record ``r`` (fields ``lo..hi`` of the tables; ``seen[r]``: bit ``f - lo`` per field
    read); index after it, or -1."""
    if i >= n or buf[i] != B_LBRACE:
        return -1
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == B_RBRACE:
        seen[r] = 0
        return i + 1
    mask = 0
    expect = lo  # files write the fields in one order: the next key is most likely the table's next name
    while True:
        f = _expected_key(buf, i, n, names, offs, expect) if expect < hi else -1
        if f >= 0:
            i = _ws(buf, i + offs[f + 1] - offs[f] + 2, n)
            if i >= n or buf[i] != B_COLON:
                return -1
            i = _ws(buf, i + 1, n)
        else:
            ks, ke, i = _key_end(buf, i, n)
            if i < 0:
                return -1
            f = _match(buf, ks, ke, names, offs, lo, hi)
        if i >= n:
            return -1
        expect = f + 1 if f >= 0 else hi  # after an unknown key: no guess
        if f < 0:
            i = _skip_value(buf, i, n, stack)
        else:
            bit = 1 << (f - lo)
            if mask & bit:  # a repeated field: json keeps the last one, the json path decides
                return -1
            mask |= bit
            i = _read_value(buf, i, n, kinds[f], cols[f], r, ints, floats, slow, pow10, pow5)
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        if buf[i] == B_RBRACE:
            seen[r] = mask
            return i + 1
        if buf[i] != B_COMMA:
            return -1
        i = _ws(buf, i + 1, n)


@jit_scan
def _read_list(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10, pow5):
    """The list of records at ``i``, written from row ``r``: (index after it or -1, next free row). The one
    compiled loop both entry kernels run (its helpers are inlined into it)."""
    if i >= n or buf[i] != B_LBRACKET:
        return -1, r
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == B_RBRACKET:
        return i + 1, r
    while True:
        if r >= seen.size:
            return -1, r
        i = _read_record(buf, i, n, stack, names, offs, kinds, cols, lo, hi, ints, floats, slow, seen, r, pow10,
                         pow5)
        if i < 0:
            return -1, r
        r += 1
        i = _ws(buf, i, n)
        if i >= n:
            return -1, r
        if buf[i] == B_RBRACKET:
            return i + 1, r
        if buf[i] != B_COMMA:
            return -1, r
        i = _ws(buf, i + 1, n)


# ----------------------------------------------------------------------------------------------- entries
@jit_scan
def _scan_results_kernel(buf, names, offs, kinds, cols, ints, floats, slow, seen, stack, pow10, pow5):
    """A results list → number of records (rows written), or -1 when the json path must read the file."""
    n = buf.size
    i, r = _read_list(buf, _ws(buf, 0, n), n, stack, names, offs, kinds, cols, np.int64(0), kinds.size, ints,
                      floats, slow, seen, np.int64(0), pow10, pow5)
    if i < 0 or _ws(buf, i, n) != n:
        return -1
    return r


@jit_scan
def _scan_gt_kernel(buf, sections, sec_offs, field_lo, names, offs, kinds, cols, ints, floats, slow, seen, stack,
                    pow10, pow5, sec_start, sec_count):
    """An ``instances.json`` object: its section lists into rows (``sec_start``/``sec_count`` per section, -1
    start when absent); returns 0, or -1 when the json path must read the file."""
    n = buf.size
    i = _ws(buf, 0, n)
    if i >= n or buf[i] != B_LBRACE:
        return -1
    i = _ws(buf, i + 1, n)
    if i < n and buf[i] == B_RBRACE:
        return 0 if _ws(buf, i + 1, n) == n else -1
    r = np.int64(0)
    while True:
        ks, ke, i = _key_end(buf, i, n)
        if i < 0 or i >= n:
            return -1
        s = _match(buf, ks, ke, sections, sec_offs, 0, sec_start.size)
        if s < 0:
            i = _skip_value(buf, i, n, stack)
        else:
            if sec_start[s] >= 0:
                return -1
            sec_start[s] = r
            i, r2 = _read_list(buf, i, n, stack, names, offs, kinds, cols, field_lo[s], field_lo[s + 1], ints,
                               floats, slow, seen, r, pow10, pow5)
            sec_count[s] = r2 - r
            r = r2
        if i < 0:
            return -1
        i = _ws(buf, i, n)
        if i >= n:
            return -1
        if buf[i] == B_RBRACE:
            return 0 if _ws(buf, i + 1, n) == n else -1
        if buf[i] != B_COMMA:
            return -1
        i = _ws(buf, i + 1, n)
