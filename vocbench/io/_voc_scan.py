"""Strict byte scanner for VOC annotation XML: the fast path of :func:`vocbench.io.voc.load_voc`.

All files are read into one ``uint8`` buffer and one Numba kernel walks it, extracting exactly what
``vocbench.io.voc._parse_one`` extracts (image size; per object: class, box, difficult, truncated, occluded,
pose, line of ``<object>``) without building a Python object per element.

The scanner accepts only a narrow, fully validated subset of XML and sends every other file, whole, to the lxml
path (``_parse_one``), so every result and every error message stays the lxml path's. A file falls back when it
has anything the scanner does not fully check:

* bytes outside printable ASCII + tab + newline (non-ASCII, ``\\r``, control characters, a BOM);
* comments, CDATA, DOCTYPE, processing instructions, an XML declaration other than the usual
  ``<?xml version="1.0" [encoding="utf-8"] [standalone=...]?>`` forms, attributes, self-closing or spaced tags,
  namespaces, nesting deeper than 32, a text run over 1 MiB or a tag name over 1000 bytes, anything after the
  root element but whitespace;
* any ``&`` in a value vocbench reads (``&amp;`` etc. are accepted only in text it ignores, e.g. ``<owner>``),
  and any ``>`` in text (``]]>`` is an XML error);
* a missing or empty name, size, ``<bndbox>`` or coordinate; a repeated field; a child element inside a field;
  an extra child in ``<bndbox>``; an unknown class name; more than 256 distinct poses in one load; a flag other
  than ``0``/``1``; a size that is not a positive integer of at most 7 digits; a coordinate that is not
  ``-?DIGITS[.DIGITS]`` with at most 7 integer digits (so ``nan``, ``inf``, ``1e30`` and anything overflowing
  always take the checked path);
* a file that cannot be read.

Numbers are converted exactly: a coordinate whose digits (at most 18) form an integer ``mantissa <= 2**53`` is
``mantissa / 10**k`` — two exact doubles and one correctly rounded division, hence the very double Python's
``float`` gives; longer ones are converted by ``float`` on their bytes.

The kernel is a few named steps over named bytes (``B_LT`` is ``<``): :func:`_scan_kernel` → per file
:func:`_declaration_end`, :func:`_scan_file` (the text and tag loop, kept in one function: as separate steps it
cost 1.7x), :func:`_open_context`, :func:`_write_object`, :func:`_image_size`; helpers are inlined. Under
``NUMBA_DISABLE_JIT=1`` :func:`load_voc` sends every file to the lxml path (the scanner as plain Python is slower
than lxml), but the scanner itself still runs as plain Python when asked (``use_kernel`` patched, as the tests
do): same results, on ``bytes`` (whose items are Python ints; a ``uint8`` scalar would wrap in the digit sums).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Sequence

import numpy as np

from vocbench._numba import jit, jit_inline, jit_scan

__all__ = ["scan_voc"]

_MAX_DEPTH = 32
_MAX_TEXT = 1 << 20  # longer text runs and tag names take the lxml path (which has its own limits)
_MAX_NAME = 1000
_COLUMNS = ("sizes", "image_index", "class_index", "boxes", "difficult", "truncated", "occluded", "poses", "lines")

# tag ids (index into _TAGS)
_TAGS = (b"size", b"object", b"width", b"height", b"depth", b"name", b"pose", b"truncated", b"difficult",
         b"occluded", b"bndbox", b"xmin", b"ymin", b"xmax", b"ymax")
T_SIZE, T_OBJECT, T_WIDTH, T_HEIGHT, T_DEPTH, T_NAME, T_POSE, T_TRUNC, T_DIFF, T_OCC, T_BNDBOX = range(11)
T_XMIN = 11  # xmin, ymin, xmax, ymax = 11..14

# element contexts on the stack
C_IGNORE, C_ROOT, C_SIZE, C_OBJECT, C_BNDBOX, C_FIELD = 0, 1, 2, 3, 4, 5

# per-file status
S_OK, S_FALLBACK = 0, 1

# slots of leaf fields within a file / object (field span arrays are indexed by these)
F_WIDTH, F_HEIGHT, F_DEPTH = 0, 1, 2
F_NAME, F_POSE, F_TRUNC, F_DIFF, F_OCC = 3, 4, 5, 6, 7
F_XMIN = 8  # 8..11
_N_FIELDS = 12

# ASCII bytes the scanner compares with (named, so the kernels read as the grammar they check)
B_TAB, B_LF, B_SPACE = 9, 10, 32
B_AMP, B_PLUS, B_MINUS, B_DOT, B_SLASH = 38, 43, 45, 46, 47
B_0, B_1, B_9 = 48, 49, 57
B_LT, B_GT, B_QMARK = 60, 62, 63
B_A, B_E, B_Z, B_UNDERSCORE, B_a, B_e, B_z = 65, 69, 90, 95, 97, 101, 122
B_PRINT_FIRST, B_PRINT_LAST = 32, 126  # printable ASCII
_MAX_INT_DIGITS = 7  # sizes and a coordinate's integer part: longer ones take the checked path
_MANT_LIMIT = 10 ** 17  # a digit joins a number's mantissa while it is below: 18 significant digits (< 2**63)
_MAX_EXACT_MANTISSA = 2 ** 53  # up to here the mantissa is an exact double
_MAX_EXP = 100_000  # decimal exponents saturate here
_POW5_MIN_Q, _POW5_MAX_Q = -342, 308  # the rows of the 5**q table (io/_json_scan._pow5_table); beyond: 0 or inf
# shape flags of a number token (_decimal)
N_NEG, N_DOT, N_EXP, N_LEADING_ZERO, N_EMPTY_FRACTION, N_TRUNC = 1, 2, 4, 8, 16, 32
#: The predefined entities accepted in text vocbench ignores.
_ENTITIES = (b"&amp;", b"&lt;", b"&gt;", b"&quot;", b"&apos;")
# outcomes of one file (_scan_file) beyond S_OK / S_FALLBACK: the object arrays are full
_FULL = 2

_DECLS = frozenset(
    f"<?xml version={q}1.0{q}{enc}{sa}{sp}?>".encode()
    for q in ('"', "'")
    for enc in ["", *(f" encoding={q2}{e}{q2}" for q2 in ('"', "'") for e in ("utf-8", "UTF-8", "utf8", "UTF8"))]
    for sa in ["", *(f" standalone={q2}{v}{q2}" for q2 in ('"', "'") for v in ("yes", "no"))]
    for sp in ("", " ")
)


def _table(names: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated bytes and offsets (``len(names) + 1``) of a list of byte strings."""
    off = np.zeros(len(names) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(n) for n in names])
    data = np.frombuffer(b"".join(names), dtype=np.uint8).copy() if names else np.zeros(0, dtype=np.uint8)
    return data, off


_TAG_BYTES, _TAG_OFF = _table(_TAGS)
_ENT_BYTES, _ENT_OFF = _table(_ENTITIES)
_POW10 = np.array([10.0 ** i for i in range(23)], dtype=np.float64)  # exact doubles (10**22 is the last one)


@jit_inline
def _lookup(buf, s, e, table, off):
    """Index of ``buf[s:e]`` in the byte-string table, or -1."""
    n = e - s
    for k in range(len(off) - 1):
        a = off[k]
        if off[k + 1] - a != n:
            continue
        same = True
        for i in range(n):
            if buf[s + i] != table[a + i]:
                same = False
                break
        if same:
            return k
    return -1


@jit_inline
def _lookup_span(buf, s, e, tab, n_tab):
    """Index of ``buf[s:e]`` among the spans ``buf[tab[k, 0]:tab[k, 1]]``, ``k < n_tab``, or -1."""
    n = e - s
    for k in range(n_tab):
        a = tab[k, 0]
        if tab[k, 1] - a != n:
            continue
        same = True
        for i in range(n):
            if buf[s + i] != buf[a + i]:
                same = False
                break
        if same:
            return k
    return -1


@jit_inline
def _is_ws(c):
    return c == B_SPACE or c == B_TAB or c == B_LF


@jit_inline
def _is_digit(c):
    return B_0 <= c <= B_9


@jit_inline
def _is_name_start(c):
    return (B_A <= c <= B_Z) or (B_a <= c <= B_z) or c == B_UNDERSCORE


@jit_inline
def _strip(buf, s, e):
    while s < e and _is_ws(buf[s]):
        s += 1
    while e > s and _is_ws(buf[e - 1]):
        e -= 1
    return s, e


@jit_inline
def _uint(buf, s, e):
    """Digits only, 1.._MAX_INT_DIGITS of them → value; else -1."""
    if e <= s or e - s > _MAX_INT_DIGITS:
        return -1
    v = 0
    for i in range(s, e):
        c = buf[i]
        if not _is_digit(c):
            return -1
        v = v * 10 + (c - B_0)
    return v


@jit_inline
def _flag(buf, s, e, default):
    """Empty → default; exactly ``0`` or ``1`` → 0/1; else -2 (fallback)."""
    if e == s:
        return default
    if e - s == 1:
        if buf[s] == B_0:
            return 0
        if buf[s] == B_1:
            return 1
    return -2


@jit_inline
def _decimal(buf, i, n, pow10):
    """The decimal number ``-?D+(.D*)?([eE][+-]?D+)?`` at ``i`` (before ``n``): vocbench's one decimal parser,
    read in one pass; each caller checks its own grammar on ``shape`` and ``int_digits``.

    Returns:
        ``(end, status, value, mant, exp10, shape, int_digits)``. ``end``: index after the token, -1 when there is
        no number at ``i`` (no integer digit, or an exponent without digits). ``status`` 0: ``value`` is the exact
        double of the token, the one Python's ``float`` gives (Clinger's fast path: a mantissa ``<= 2**53`` and
        ``|exp10| <= 22`` are two exact doubles and one correctly rounded operation); 1: not decided here, the
        token is ``mant * 10**exp10`` (``mant``: its first 18 significant digits, ``N_TRUNC`` in ``shape`` when
        a nonzero digit was dropped; :func:`_eisel_lemire` converts it). ``shape``: the ``N_*`` flags.
    """
    neg = i < n and buf[i] == B_MINUS
    shape = N_NEG if neg else 0
    j = i + 1 if neg else i
    s = j
    mant = 0
    drop = 0  # integer digits left out of the mantissa: each one a factor 10
    while j < n and B_0 <= buf[j] <= B_9:
        if mant < _MANT_LIMIT:
            mant = mant * 10 + (int(buf[j]) - B_0)
        else:
            drop += 1
            if buf[j] != B_0:
                shape |= N_TRUNC
        j += 1
    ni = j - s
    if ni == 0:
        return -1, 2, 0.0, 0, 0, shape, 0
    if ni > 1 and buf[s] == B_0:
        shape |= N_LEADING_ZERO
    k = 0  # fraction digits in the mantissa
    if j < n and buf[j] == B_DOT:
        shape |= N_DOT
        j += 1
        f = j
        while j < n and B_0 <= buf[j] <= B_9:
            if mant < _MANT_LIMIT:
                mant = mant * 10 + (int(buf[j]) - B_0)
                k += 1
            elif buf[j] != B_0:
                shape |= N_TRUNC
            j += 1
        if j == f:
            shape |= N_EMPTY_FRACTION
    ex = 0
    if j < n and (buf[j] == B_e or buf[j] == B_E):
        shape |= N_EXP
        j += 1
        eneg = j < n and buf[j] == B_MINUS
        if j < n and (eneg or buf[j] == B_PLUS):
            j += 1
        f = j
        while j < n and B_0 <= buf[j] <= B_9:
            if ex < _MAX_EXP:  # saturates: any larger exponent is 0 or infinity all the same
                ex = ex * 10 + (int(buf[j]) - B_0)
            j += 1
        if j == f:
            return -1, 2, 0.0, 0, 0, shape, ni
        if eneg:
            ex = -ex
    exp10 = ex + drop - k
    if shape & N_TRUNC == 0 and mant <= _MAX_EXACT_MANTISSA:
        if mant == 0:
            return j, 0, -0.0 if neg else 0.0, mant, exp10, shape, ni
        if 0 <= exp10 <= 22:
            v = float(mant) * pow10[exp10]
            return j, 0, -v if neg else v, mant, exp10, shape, ni
        if -22 <= exp10 < 0:
            v = float(mant) / pow10[-exp10]
            return j, 0, -v if neg else v, mant, exp10, shape, ni
    return j, 1, 0.0, mant, exp10, shape, ni


@jit_inline
def _coord(buf, s, e, pow10):
    """``-?D{1,7}(.D*)?`` → (status, value): status 0 exact, 1 needs Python ``float``, 2 not accepted."""
    end, st, v, _, _, shape, ni = _decimal(buf, s, e, pow10)
    if end != e or ni > _MAX_INT_DIGITS or shape & N_EXP:
        return 2, 0.0
    return st, v


@jit_inline
def _mul128(a, b):
    """(high, low) uint64 halves of the 128-bit product of two uint64."""
    m32 = np.uint64(0xFFFFFFFF)
    a0, a1, b0, b1 = a & m32, a >> np.uint64(32), b & m32, b >> np.uint64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & m32) + (p10 & m32)
    return p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32)), \
        (mid << np.uint64(32)) | (p00 & m32)


@jit_scan
def _eisel_lemire_exact(w, q, pow5):
    """The double nearest ``w * 10**q`` (ties to even), ``0 < w < 2**63``: the Eisel-Lemire algorithm as
    fast_float's ``compute_float`` writes it (github.com/fastfloat/fast_float, ``decimal_to_binary.h``), whose
    128-bit product is always sufficient (Mushtak and Lemire, "Fast number parsing without fallback", 2023)."""
    if q < _POW5_MIN_Q:
        return 0.0
    if q > _POW5_MAX_Q:
        return math.inf
    lz = 1  # leading zeros of w (< 2**63)
    while w < (1 << 62) >> (lz - 1):
        lz += 1
    x = np.uint64(w) << np.uint64(lz)
    row = q - _POW5_MIN_Q
    hi, lo = _mul128(x, pow5[row, 0])
    if hi & np.uint64(0x1FF) == np.uint64(0x1FF):  # the 9 bits below the 55 kept may take a carry: refine
        hi2, _ = _mul128(x, pow5[row, 1])
        lo += hi2
        if hi2 > lo:
            hi += np.uint64(1)
    upper = int(hi >> np.uint64(63))
    shift = np.uint64(upper + 9)
    m = hi >> shift
    power2 = (((152170 + 65536) * q) >> 16) + 63 + upper - lz + 1023
    if power2 <= 0:  # subnormal (or zero)
        if 1 - power2 >= 64:
            return 0.0
        m >>= np.uint64(1 - power2)
        m = (m + (m & np.uint64(1))) >> np.uint64(1)
        return math.ldexp(float(m), -1074)
    if lo <= np.uint64(1) and -4 <= q <= 23 and m & np.uint64(3) == np.uint64(1) and (m << shift) == hi:
        m ^= np.uint64(1)  # exactly halfway between two doubles: round to even, down
    m = (m + (m & np.uint64(1))) >> np.uint64(1)
    if m >= np.uint64(1 << 53):
        m >>= np.uint64(1)
        power2 += 1
    if power2 >= 2047:
        return math.inf
    return math.ldexp(float(m), power2 - 1075)


@jit_scan
def _eisel_lemire(mant, exp10, shape, pow5):
    """``(ok, value)`` of a token :func:`_decimal` left undecided (status 1): the exact double by Eisel-Lemire;
    a token with dropped digits lies between ``mant`` and ``mant + 1`` times ``10**exp10``: exact when both
    round to the same double, else ``ok`` is False (Python's ``float`` decides)."""
    v = _eisel_lemire_exact(mant, exp10, pow5)
    if shape & N_TRUNC and _eisel_lemire_exact(mant + 1, exp10, pow5) != v:
        return False, 0.0
    return True, -v if shape & N_NEG else v


@jit_inline
def _declaration_end(buf, a, b):
    """Where the markup starts: ``a``, or past a leading ``<?...?>`` (its bytes are checked by the caller against
    the accepted declarations); -1 when the declaration is not closed or not printable."""
    if not (b - a >= 5 and buf[a] == B_LT and buf[a + 1] == B_QMARK):
        return a
    q = a + 2
    while q + 1 < b and not (buf[q] == B_QMARK and buf[q + 1] == B_GT):
        if buf[q] < B_PRINT_FIRST or buf[q] > B_PRINT_LAST:
            break
        q += 1
    if q + 1 >= b or buf[q] != B_QMARK:
        return -1
    return q + 2


@jit_inline
def _entity_length(buf, q, b, ents, ent_off):
    """Length of the predefined entity at ``buf[q] == '&'``, or 0 when none of :data:`_ENTITIES` starts there."""
    for k in range(len(ent_off) - 1):
        n = ent_off[k + 1] - ent_off[k]
        if b - q < n:
            continue
        same = True
        for i in range(1, n):
            if buf[q + i] != ents[ent_off[k] + i]:
                same = False
                break
        if same:
            return n
    return 0


@jit_inline
def _same_bytes(buf, s1, s2, n):
    for i in range(n):
        if buf[s1 + i] != buf[s2 + i]:
            return False
    return True


@jit_inline
def _intern_pose(buf, s, e, pose_tab, n_pose):
    """Code of the pose ``buf[s:e]`` (-1 when empty), interned in ``pose_tab``; -2 when the table is full."""
    if e <= s:
        return -1
    code = _lookup_span(buf, s, e, pose_tab, n_pose[0])
    if code < 0:
        if n_pose[0] >= len(pose_tab):  # too many distinct poses: checked path
            return -2
        code = n_pose[0]
        pose_tab[code, 0] = s
        pose_tab[code, 1] = e
        n_pose[0] += 1
    return code


@jit_inline
def _write_object(buf, fs, fe, row, line, classes, class_off, pow10, cls, boxes, slow, coord_span, difficult,
                  truncated, occluded, pose_code, lines, pose_tab, n_pose):
    """Write the object whose fields end at ``</object>`` into row ``row``: S_OK, S_FALLBACK (a field the scanner
    does not accept) or _FULL (no row left)."""
    if fs[F_NAME] < 0 or fe[F_NAME] == fs[F_NAME]:
        return S_FALLBACK
    ci = _lookup(buf, fs[F_NAME], fe[F_NAME], classes, class_off)
    if ci < 0:
        return S_FALLBACK
    if row >= len(cls):
        return _FULL
    for j in range(4):
        k = F_XMIN + j
        if fs[k] < 0:
            return S_FALLBACK
        st, v = _coord(buf, fs[k], fe[k], pow10)
        if st == 2:
            return S_FALLBACK
        slow[row, j] = st
        boxes[row, j] = v
        coord_span[row, 2 * j] = fs[k]
        coord_span[row, 2 * j + 1] = fe[k]
    dv = 0 if fs[F_DIFF] < 0 else _flag(buf, fs[F_DIFF], fe[F_DIFF], 0)
    tv = 0 if fs[F_TRUNC] < 0 else _flag(buf, fs[F_TRUNC], fe[F_TRUNC], 0)
    ov = -1 if fs[F_OCC] < 0 else _flag(buf, fs[F_OCC], fe[F_OCC], -1)
    if dv == -2 or tv == -2 or ov == -2:
        return S_FALLBACK
    code = -1 if fs[F_POSE] < 0 else _intern_pose(buf, fs[F_POSE], fe[F_POSE], pose_tab, n_pose)
    if code == -2:
        return S_FALLBACK
    cls[row] = ci
    difficult[row] = dv
    truncated[row] = tv
    occluded[row] = ov
    pose_code[row] = code
    lines[row] = line
    return S_OK


@jit_inline
def _open_context(buf, ns, ne, parent, depth, tags, tag_off):
    """``(context, field slot or -1)`` of an element opened at ``depth`` under a ``parent`` context; C_FIELD
    with slot -1 means "not accepted" (an unknown child of ``<bndbox>``)."""
    if depth == 1:
        return C_ROOT, -1
    if parent == C_ROOT:
        t = _lookup(buf, ns, ne, tags, tag_off)
        if t == T_SIZE:
            return C_SIZE, -1
        if t == T_OBJECT:
            return C_OBJECT, -1
    elif parent == C_SIZE:
        t = _lookup(buf, ns, ne, tags, tag_off)
        if t == T_WIDTH or t == T_HEIGHT or t == T_DEPTH:
            return C_FIELD, F_WIDTH + (t - T_WIDTH)
    elif parent == C_OBJECT:
        t = _lookup(buf, ns, ne, tags, tag_off)
        if T_NAME <= t <= T_OCC:
            return C_FIELD, F_NAME + (t - T_NAME)
        if t == T_BNDBOX:
            return C_BNDBOX, -1
    elif parent == C_BNDBOX:
        t = _lookup(buf, ns, ne, tags, tag_off)
        if t < T_XMIN:  # only the four coordinates inside <bndbox>
            return C_FIELD, -1
        return C_FIELD, F_XMIN + (t - T_XMIN)
    return C_IGNORE, -1


@jit_inline
def _image_size(buf, fs, fe, size_seen):
    """``(width, height, depth)`` of the ``<size>`` fields: positive integers (depth may be 0 or absent: 3)."""
    w = _uint(buf, fs[F_WIDTH], fe[F_WIDTH]) if size_seen and fs[F_WIDTH] >= 0 else -1
    h = _uint(buf, fs[F_HEIGHT], fe[F_HEIGHT]) if size_seen and fs[F_HEIGHT] >= 0 else -1
    d = 3
    if fs[F_DEPTH] >= 0 and fe[F_DEPTH] > fs[F_DEPTH]:
        d = _uint(buf, fs[F_DEPTH], fe[F_DEPTH])
    return w, h, d


@jit
def _scan_file(buf, b, p, tags, tag_off, ents, ent_off, classes, class_off, pow10, fi, first, sizes, out,
               pose_tab, n_pose, stack_s, stack_n, stack_c, stack_f, fs, fe):
    """Scan one file, ``buf[:b]`` from where its markup starts (``p``); its objects go to rows ``first``... of ``out``
    (the object arrays). Returns ``(S_OK, rows written) / (S_FALLBACK, 0) / (_FULL, 0)``."""
    cls, boxes, slow, coord_span, difficult, truncated, occluded, pose_code, lines = out
    n_obj = first
    line = 1
    for i in range(F_XMIN):
        fs[i] = -1
    size_seen = False
    bb_seen = False
    depth = 0
    done = False
    while True:
        # the text up to the next '<' (or the end): tab, newline, space and printable ASCII but '>'; only
        # whitespace outside the root element; a predefined entity only outside a field vocbench reads
        q = p
        while q < b:
            c = buf[q]
            if c == B_LT:
                break
            if c == B_LF:
                line += 1
            elif c == B_TAB or c == B_SPACE:
                pass
            elif depth == 0:
                return S_FALLBACK, 0
            elif c == B_AMP:
                n = 0 if stack_c[depth] == C_FIELD else _entity_length(buf, q, b, ents, ent_off)
                if n == 0:
                    return S_FALLBACK, 0
                q += n - 1
            elif c < B_PRINT_FIRST or c > B_PRINT_LAST or c == B_GT:  # control, non-ASCII, '>' (']]>')
                return S_FALLBACK, 0
            q += 1
        if q - p > _MAX_TEXT:  # libxml2 refuses text nodes over 10 MB (huge_tree off)
            return S_FALLBACK, 0
        if q >= b:
            break  # the root element must be closed, then only whitespace
        if done:  # markup after the root element
            return S_FALLBACK, 0
        # the tag at buf[q] == '<': only <name> and </name> (no attributes, spaces, '/>', ':', '!', '?')
        if q + 1 >= b:
            return S_FALLBACK, 0
        closing = buf[q + 1] == B_SLASH
        ns = q + 2 if closing else q + 1
        if not (ns < b and _is_name_start(buf[ns])):
            return S_FALLBACK, 0  # '!' (comment, CDATA, DOCTYPE), '?' (PI) or anything else
        ne = ns + 1
        while ne < b:
            c = buf[ne]
            if (B_A <= c <= B_Z) or (B_a <= c <= B_z) or (B_0 <= c <= B_9) or c == B_UNDERSCORE or c == B_MINUS \
                    or c == B_DOT:  # an XML name character (ASCII)
                ne += 1
            else:
                break
        if ne >= b or buf[ne] != B_GT or ne - ns > _MAX_NAME:
            return S_FALLBACK, 0
        if closing:
            if depth == 0 or stack_n[depth] != ne - ns or not _same_bytes(buf, stack_s[depth], ns, ne - ns):
                return S_FALLBACK, 0
            ctx = stack_c[depth]
            if ctx == C_FIELD:
                s, e = _strip(buf, p, q)
                fs[stack_f[depth]] = s
                fe[stack_f[depth]] = e
            elif ctx == C_OBJECT:  # the object's line was kept in the field slot
                st = _write_object(buf, fs, fe, n_obj, stack_f[depth], classes, class_off, pow10, cls, boxes, slow,
                                   coord_span, difficult, truncated, occluded, pose_code, lines, pose_tab, n_pose)
                if st != S_OK:
                    return st, 0
                n_obj += 1
            elif ctx == C_BNDBOX:
                for j in range(4):
                    if fs[F_XMIN + j] < 0:
                        return S_FALLBACK, 0
            depth -= 1
            done = depth == 0
            p = ne + 1
            continue
        # an opening tag
        parent = stack_c[depth] if depth > 0 else -1
        if depth >= _MAX_DEPTH or parent == C_FIELD:  # too deep, or a field with a child element
            return S_FALLBACK, 0
        depth += 1
        ctx, slot = _open_context(buf, ns, ne, parent, depth, tags, tag_off)
        if ctx == C_SIZE:
            if size_seen:
                return S_FALLBACK, 0
            size_seen = True
        elif ctx == C_OBJECT:
            slot = line
            for i in range(F_NAME, _N_FIELDS):
                fs[i] = -1
            bb_seen = False
        elif ctx == C_BNDBOX:
            if bb_seen:
                return S_FALLBACK, 0
            bb_seen = True
        elif ctx == C_FIELD:
            if slot < 0 or fs[slot] >= 0:  # not a coordinate inside <bndbox>, or a repeated field
                return S_FALLBACK, 0
            fs[slot] = ne + 1  # mark as seen (the span is set at the closing tag)
            fe[slot] = ne + 1
        stack_s[depth] = ns
        stack_n[depth] = ne - ns
        stack_c[depth] = ctx
        stack_f[depth] = slot
        p = ne + 1
    if not done:
        return S_FALLBACK, 0
    w, h, d = _image_size(buf, fs, fe, size_seen)
    sizes[fi, 0] = w
    sizes[fi, 1] = h
    sizes[fi, 2] = d
    if not (w > 0 and h > 0 and d >= 0):
        return S_FALLBACK, 0
    return S_OK, n_obj - first


@jit
def _scan_kernel(buf, starts, ends, tags, tag_off, ents, ent_off, classes, class_off, pow10, f_begin, n_begin,
                 status, sizes, decl_end, obj_first, obj_count, out, pose_tab, n_pose):
    """Scan the files ``buf[starts[i]:ends[i]]`` from ``f_begin`` on; see the module docstring for what is accepted.

    Per file it sets ``status`` (0 accepted, 1 fallback), ``sizes`` (w, h, d), ``decl_end`` (end of an XML
    declaration whose bytes the caller must check, else 0), ``obj_first``/``obj_count`` (slice of the object
    arrays). ``out`` holds the object arrays (:data:`_OBJECT_SPEC` order); objects of accepted files are written
    contiguously in file order from row ``n_begin``. Distinct poses are interned in ``pose_tab`` (span of the first
    occurrence; ``n_pose[0]`` of them), ``pose_code`` is -1 for an absent or empty pose. Returns ``(files done,
    rows written)``: fewer files than given when the object arrays are full (the caller grows them and calls again
    from there).
    """
    stack_s = np.empty(_MAX_DEPTH + 1, dtype=np.int64)  # name start, name length, context, field slot by depth
    stack_n = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    stack_c = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    stack_f = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    fs = np.empty(_N_FIELDS, dtype=np.int64)  # stripped field spans
    fe = np.empty(_N_FIELDS, dtype=np.int64)
    n_obj = n_begin
    for fi in range(f_begin, len(starts)):
        a = starts[fi]
        b = ends[fi]
        obj_first[fi] = n_obj
        obj_count[fi] = 0
        decl_end[fi] = 0
        status[fi] = S_FALLBACK
        if a < 0:  # unreadable
            continue
        p = _declaration_end(buf, a, b)
        if p < 0:
            continue
        if p != a:
            decl_end[fi] = p
        st, count = _scan_file(buf, b, p, tags, tag_off, ents, ent_off, classes, class_off, pow10, fi, n_obj,
                               sizes, out, pose_tab, n_pose, stack_s, stack_n, stack_c, stack_f, fs, fe)
        if st == _FULL:
            return fi, n_obj
        if st == S_OK:
            status[fi] = S_OK
            obj_count[fi] = count
            n_obj += count
    return len(starts), n_obj


def _read_all(paths: Sequence[str]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Every file's bytes, concatenated; ``starts[i] = -1`` for a file that cannot be read.

    Opened non-blocking (a FIFO must not hang the scan: it reads as empty, or fails); anything that is not a
    regular file shows as empty, unreadable or garbage and so falls back to ``_parse_one``, which reports it. Only
    a regular file is read past its first 64 KiB (``/dev/zero`` is not read forever).
    """
    chunks: list[bytes] = []
    n = len(paths)
    starts = [-1] * n
    ends = [-1] * n
    pos = 0
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    first = 1 << 16
    os_open, os_read, os_close, append = os.open, os.read, os.close, chunks.append
    for i, p in enumerate(paths):
        try:
            fd = os_open(p, flags)
        except OSError:
            continue
        try:
            data = os_read(fd, first)
            if len(data) == first:  # a big file, or a device: read on only if it is a regular file
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                parts = [data]
                while more := os_read(fd, 1 << 20):
                    parts.append(more)
                data = b"".join(parts)
        except OSError:  # a folder, EAGAIN on a FIFO or device, an I/O error
            continue
        finally:
            os_close(fd)
        append(data)
        starts[i] = pos
        pos += len(data)
        ends[i] = pos
    return b"".join(chunks), np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


#: The kernel's per-object output arrays: name → (trailing shape, dtype).
_OBJECT_SPEC = {"cls": ((), np.int64), "boxes": ((4,), np.float64), "slow": ((4,), np.uint8),
                "coord_span": ((8,), np.int64), "difficult": ((), np.uint8), "truncated": ((), np.uint8),
                "occluded": ((), np.int8), "pose_code": ((), np.int64), "lines": ((), np.int64)}


def _object_columns(cap: int, old: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Empty per-object arrays of ``cap`` rows (holding a copy of ``old``'s rows when growing)."""
    cols = {}
    for name, (shape, dtype) in _OBJECT_SPEC.items():
        cols[name] = np.empty((cap, *shape), dtype=dtype)
        if old is not None:
            cols[name][: len(old[name])] = old[name]
    return cols


def _poses(data: bytes, pose_tab: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``str`` array of the interned poses (code -1: absent or empty → ``"Unspecified"``, as the lxml path)."""
    if len(codes) == 0:
        return np.zeros(0, dtype="<U1")
    words = [data[s:e].decode("ascii") for s, e in pose_tab.tolist()] + ["Unspecified"]
    used = np.unique(codes)
    width = max(len(words[c]) for c in used.tolist())
    table = np.array(words, dtype=f"<U{width}") if width else np.array(words, dtype=str)
    return table[codes]


def scan_voc(paths: Sequence[str], class_to_index: dict[str, int],
             parse_files: Callable[[list[str]], list[tuple]]) -> dict[str, np.ndarray]:
    """Parse VOC annotation files into the columns ``load_voc`` stores (``sizes`` ... ``lines``, no ``issues``).

    Args:
        paths: annotation files, in image order.
        class_to_index: class name → class index.
        parse_files: the checked (lxml) path: a list of files → their ``(size, rows)`` in order, raising on the
            first bad file (``vocbench.io.voc._parse_all``).

    Files the scanner accepts are extracted by the kernel; every other file goes, in order, to ``parse_files``,
    which raises the same error it always raised. The result is identical to ``parse_files(paths)`` assembled.
    """
    if not use_kernel():
        return _assemble(list(range(len(paths))), parse_files(list(paths)), len(paths))
    data, starts, ends = _read_all(paths)
    n = len(paths)
    buf = np.frombuffer(data, dtype=np.uint8) if _jit_enabled() else data  # plain Python: ints, not uint8
    class_bytes, class_off = _table([c.encode("utf-8") for c in class_to_index])
    class_ids = np.array(list(class_to_index.values()), dtype=np.int64)
    status = np.empty(n, dtype=np.uint8)
    sizes = np.empty((n, 3), dtype=np.int64)
    decl_end = np.empty(n, dtype=np.int64)
    obj_first = np.empty(n, dtype=np.int64)
    obj_count = np.empty(n, dtype=np.int64)
    pose_tab = np.empty((256, 2), dtype=np.int64)
    n_pose = np.zeros(1, dtype=np.int64)
    cols = _object_columns(len(data) // 256 + 16)  # VOC: ~440 bytes per object; grown when full
    done = m = 0
    while True:
        done, m = _scan_kernel(buf, starts, ends, _TAG_BYTES, _TAG_OFF, _ENT_BYTES, _ENT_OFF, class_bytes, class_off,
                               _POW10, done, m, status, sizes, decl_end, obj_first, obj_count, tuple(cols.values()),
                               pose_tab, n_pose)
        if done == n:
            break
        cols = _object_columns(2 * len(cols["cls"]), cols)
    kernel_counts = obj_count
    for i in np.flatnonzero(decl_end).tolist():
        if status[i] == S_OK and data[starts[i]:decl_end[i]] not in _DECLS:
            status[i] = S_FALLBACK
    accepted = status == S_OK
    take = np.arange(m, dtype=np.int64) if accepted.all() else np.flatnonzero(np.repeat(accepted, kernel_counts))
    boxes = cols["boxes"][take]
    slow_rows, slow_cols = np.nonzero(cols["slow"][take])
    if len(slow_rows):  # more digits than an exact double division handles: Python's float on the same bytes
        spans = cols["coord_span"][take]
        for r, c in zip(slow_rows.tolist(), slow_cols.tolist()):
            boxes[r, c] = float(data[spans[r, 2 * c]:spans[r, 2 * c + 1]])
    arrays = {
        "class_index": class_ids[cols["cls"][take]],
        "boxes": boxes,
        "difficult": cols["difficult"][take].astype(bool),
        "truncated": cols["truncated"][take].astype(bool),
        "occluded": cols["occluded"][take],
        "poses": _poses(data, pose_tab[: n_pose[0]], cols["pose_code"][take]),
        "lines": cols["lines"][take],
    }
    counts = np.where(accepted, kernel_counts, 0)
    fallback = np.flatnonzero(~accepted).tolist()
    if fallback:
        extra = _assemble(fallback, parse_files([paths[i] for i in fallback]), n)
        sizes[fallback] = extra["sizes"][fallback]
        counts[fallback] = np.bincount(extra["image_index"], minlength=n)[fallback]
        row_fb = np.repeat(~accepted, counts)  # per output row: from a checked-path file?
        for key, fast in arrays.items():
            slow = extra[key]
            col = np.empty((len(row_fb), *fast.shape[1:]), dtype=np.result_type(fast.dtype, slow.dtype))
            col[~row_fb] = fast
            col[row_fb] = slow
            arrays[key] = col
    arrays["sizes"] = sizes
    arrays["image_index"] = np.repeat(np.arange(n, dtype=np.int64), counts)
    return {k: arrays[k] for k in _COLUMNS}


def _jit_enabled() -> bool:
    from numba.core import config

    return not getattr(config, "DISABLE_JIT", False)


def use_kernel() -> bool:
    """False under ``NUMBA_DISABLE_JIT=1``: the scanner as plain Python is slower than lxml, so all files then
    take the checked path."""
    return _jit_enabled()


def _assemble(files: list[int], parsed: list[tuple], n: int) -> dict[str, np.ndarray]:
    """Columns of the checked path's ``(size, rows)`` results for the image indices ``files`` (of ``n``)."""
    sizes = np.zeros((n, 3), dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    rows = []
    for i, (size, file_rows) in zip(files, parsed):
        sizes[i] = size
        counts[i] = len(file_rows)
        rows.extend(file_rows)
    m = len(rows)
    return {
        "sizes": sizes,
        "image_index": np.repeat(np.arange(n, dtype=np.int64), counts),
        "class_index": np.array([r[0] for r in rows], dtype=np.int64),
        "boxes": np.array([r[1] for r in rows], dtype=np.float64).reshape(m, 4),
        "difficult": np.array([r[2] for r in rows], dtype=bool),
        "truncated": np.array([r[3] for r in rows], dtype=bool),
        "occluded": np.array([r[4] for r in rows], dtype=np.int8),
        "poses": np.array([r[5] for r in rows], dtype=str) if m else np.zeros(0, dtype="<U1"),
        "lines": np.array([r[6] for r in rows], dtype=np.int64),
    }
