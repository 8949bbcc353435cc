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
``float`` gives; longer ones are converted by ``float`` on their bytes. Under ``NUMBA_DISABLE_JIT=1`` every file
takes the lxml path (the scanner as plain Python would be slower than lxml).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence

import numpy as np

from vocbench._numba import jit

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
_POW10 = np.array([10.0 ** i for i in range(23)], dtype=np.float64)  # exact doubles (10**22 is the last one)


@jit
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


@jit
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


@jit
def _is_ws(c):
    return c == 32 or c == 9 or c == 10


@jit
def _strip(buf, s, e):
    while s < e and _is_ws(buf[s]):
        s += 1
    while e > s and _is_ws(buf[e - 1]):
        e -= 1
    return s, e


@jit
def _uint(buf, s, e):
    """Digits only, 1..7 of them → value; else -1."""
    if e <= s or e - s > 7:
        return -1
    v = 0
    for i in range(s, e):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@jit
def _flag(buf, s, e, default):
    """Empty → default; exactly ``0`` or ``1`` → 0/1; else -2 (fallback)."""
    if e == s:
        return default
    if e - s == 1:
        if buf[s] == 48:
            return 0
        if buf[s] == 49:
            return 1
    return -2


@jit
def _coord(buf, s, e, pow10):
    """``-?D{1,7}(.D*)?`` → (status, value): status 0 exact, 1 needs Python ``float``, 2 not accepted."""
    if e <= s:
        return 2, 0.0
    neg = buf[s] == 45
    i = s + 1 if neg else s
    mant = 0
    nd = 0  # digits in the mantissa
    ni = 0  # integer digits
    while i < e and 48 <= buf[i] <= 57:
        if nd < 18:
            mant = mant * 10 + (buf[i] - 48)
        nd += 1
        ni += 1
        i += 1
    if ni == 0 or ni > 7:
        return 2, 0.0
    k = 0
    if i < e and buf[i] == 46:
        i += 1
        while i < e and 48 <= buf[i] <= 57:
            if nd < 18:
                mant = mant * 10 + (buf[i] - 48)
                k += 1
            nd += 1
            i += 1
    if i != e:
        return 2, 0.0
    if nd > 18 or mant > 9007199254740992:  # beyond 2**53 the mantissa is not an exact double
        return 1, 0.0
    v = float(mant) / pow10[k]
    return 0, -v if neg else v


@jit
def _scan_kernel(buf, starts, ends, tags, tag_off, classes, class_off, pow10, f_begin, n_begin,
                 status, sizes, decl_end, obj_first, obj_count,
                 cls, boxes, slow, coord_span, difficult, truncated, occluded, pose_code, lines, pose_tab, n_pose):
    """Scan the files ``buf[starts[i]:ends[i]]`` from ``f_begin`` on; see the module docstring for what is accepted.

    Per file it sets ``status`` (0 accepted, 1 fallback), ``sizes`` (w, h, d), ``decl_end`` (end of an XML
    declaration whose bytes the caller must check, else 0), ``obj_first``/``obj_count`` (slice of the object
    arrays). Objects of accepted files are written contiguously in file order from row ``n_begin``. Distinct
    poses are interned in ``pose_tab`` (span of the first occurrence; ``n_pose[0]`` of them), ``pose_code`` is -1
    for an absent or empty pose. Returns ``(files done, rows written)``: fewer files than given when the object
    arrays are full (the caller grows them and calls again from there).
    """
    stack_s = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    stack_n = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    stack_c = np.empty(_MAX_DEPTH + 1, dtype=np.int64)
    stack_f = np.empty(_MAX_DEPTH + 1, dtype=np.int64)  # field slot of a C_FIELD element
    fs = np.empty(_N_FIELDS, dtype=np.int64)  # stripped field spans
    fe = np.empty(_N_FIELDS, dtype=np.int64)
    n_obj = n_begin
    cap = len(cls)
    for fi in range(f_begin, len(starts)):
        a = starts[fi]
        b = ends[fi]
        first = n_obj
        obj_first[fi] = first
        obj_count[fi] = 0
        decl_end[fi] = 0
        ok = True
        if a < 0:  # unreadable
            status[fi] = S_FALLBACK
            continue
        p = a
        line = 1
        if b - a >= 5 and buf[a] == 60 and buf[a + 1] == 63:  # "<?": only a declaration, checked by the caller
            q = a + 2
            while q + 1 < b and not (buf[q] == 63 and buf[q + 1] == 62):
                if buf[q] < 32 or buf[q] > 126:
                    break
                q += 1
            if q + 1 >= b or buf[q] != 63:
                status[fi] = S_FALLBACK
                continue
            p = q + 2
            decl_end[fi] = p
        for i in range(F_XMIN):
            fs[i] = -1
        size_seen = False
        bb_seen = False
        depth = 0
        done = False
        content = p  # start of the current text run
        while ok:
            # text run up to the next '<' (or the end)
            q = p
            while q < b:
                c = buf[q]
                if c == 60:
                    break
                if c == 10:
                    line += 1
                elif c == 9 or c == 32:
                    pass
                elif depth == 0:  # outside the root element: whitespace only
                    ok = False
                    break
                elif c == 38:  # '&': a predefined entity, in text vocbench ignores only
                    if stack_c[depth] == C_FIELD:
                        ok = False
                        break
                    m = b - q
                    if m >= 5 and buf[q + 1] == 97 and buf[q + 2] == 109 and buf[q + 3] == 112 and buf[q + 4] == 59:
                        q += 4  # &amp;
                    elif m >= 4 and (buf[q + 1] == 108 or buf[q + 1] == 103) and buf[q + 2] == 116 \
                            and buf[q + 3] == 59:
                        q += 3  # &lt; &gt;
                    elif m >= 6 and buf[q + 1] == 113 and buf[q + 2] == 117 and buf[q + 3] == 111 \
                            and buf[q + 4] == 116 and buf[q + 5] == 59:
                        q += 5  # &quot;
                    elif m >= 6 and buf[q + 1] == 97 and buf[q + 2] == 112 and buf[q + 3] == 111 \
                            and buf[q + 4] == 115 and buf[q + 5] == 59:
                        q += 5  # &apos;
                    else:
                        ok = False
                        break
                elif c < 32 or c > 126 or c == 62:  # control, non-ASCII, '>' (']]>' is an error)
                    ok = False
                    break
                q += 1
            if not ok or q - p > _MAX_TEXT:  # libxml2 refuses text nodes over 10 MB (huge_tree off)
                ok = False
                break
            if q >= b:
                ok = done  # the root element must be closed, then only whitespace
                break
            if done:  # markup after the root element
                ok = False
                break
            # a tag at buf[q] == '<'
            if q + 1 >= b:
                ok = False
                break
            c = buf[q + 1]
            closing = c == 47
            ns = q + 2 if closing else q + 1
            c = buf[ns] if ns < b else 0
            if not ((65 <= c <= 90) or (97 <= c <= 122) or c == 95):
                ok = False  # '!' (comment, CDATA, DOCTYPE), '?' (PI) or anything else
                break
            ne = ns + 1
            while ne < b:
                c = buf[ne]
                if (65 <= c <= 90) or (97 <= c <= 122) or (48 <= c <= 57) or c == 95 or c == 45 or c == 46:
                    ne += 1
                else:
                    break
            if ne >= b or buf[ne] != 62 or ne - ns > _MAX_NAME:  # attributes, spaces, '/>', ':' ...
                ok = False
                break
            if closing:
                if depth == 0 or stack_n[depth] != ne - ns:
                    ok = False
                    break
                ss = stack_s[depth]
                for i in range(ne - ns):
                    if buf[ss + i] != buf[ns + i]:
                        ok = False
                        break
                if not ok:
                    break
                ctx = stack_c[depth]
                if ctx == C_FIELD:
                    s, e = _strip(buf, content, q)
                    k = stack_f[depth]
                    fs[k] = s
                    fe[k] = e
                elif ctx == C_OBJECT:
                    # name
                    if fs[F_NAME] < 0 or fe[F_NAME] == fs[F_NAME]:
                        ok = False
                        break
                    ci = _lookup(buf, fs[F_NAME], fe[F_NAME], classes, class_off)
                    if ci < 0:
                        ok = False
                        break
                    if n_obj >= cap:
                        return fi, first
                    for j in range(4):
                        k = F_XMIN + j
                        if fs[k] < 0:
                            ok = False
                            break
                        st, v = _coord(buf, fs[k], fe[k], pow10)
                        if st == 2:
                            ok = False
                            break
                        slow[n_obj, j] = st
                        boxes[n_obj, j] = v
                        coord_span[n_obj, 2 * j] = fs[k]
                        coord_span[n_obj, 2 * j + 1] = fe[k]
                    if not ok:
                        break
                    dv = 0 if fs[F_DIFF] < 0 else _flag(buf, fs[F_DIFF], fe[F_DIFF], 0)
                    tv = 0 if fs[F_TRUNC] < 0 else _flag(buf, fs[F_TRUNC], fe[F_TRUNC], 0)
                    ov = -1 if fs[F_OCC] < 0 else _flag(buf, fs[F_OCC], fe[F_OCC], -1)
                    if dv == -2 or tv == -2 or ov == -2:
                        ok = False
                        break
                    cls[n_obj] = ci
                    difficult[n_obj] = dv
                    truncated[n_obj] = tv
                    occluded[n_obj] = ov
                    code = -1
                    if fs[F_POSE] >= 0 and fe[F_POSE] > fs[F_POSE]:
                        code = _lookup_span(buf, fs[F_POSE], fe[F_POSE], pose_tab, n_pose[0])
                        if code < 0:
                            if n_pose[0] >= len(pose_tab):  # too many distinct poses: checked path
                                ok = False
                                break
                            code = n_pose[0]
                            pose_tab[code, 0] = fs[F_POSE]
                            pose_tab[code, 1] = fe[F_POSE]
                            n_pose[0] += 1
                    pose_code[n_obj] = code
                    lines[n_obj] = stack_f[depth]  # the object's line was kept in the field slot
                    n_obj += 1
                elif ctx == C_BNDBOX:
                    for j in range(4):
                        if fs[F_XMIN + j] < 0:
                            ok = False
                            break
                depth -= 1
                if depth == 0:
                    done = True
                p = ne + 1
                content = p
                continue
            # opening tag
            if depth >= _MAX_DEPTH:
                ok = False
                break
            parent = stack_c[depth] if depth > 0 else -1
            if parent == C_FIELD:  # a field with a child element
                ok = False
                break
            depth += 1
            stack_s[depth] = ns
            stack_n[depth] = ne - ns
            ctx = C_IGNORE
            slot = -1
            if depth == 1:
                ctx = C_ROOT
            elif parent == C_ROOT:
                t = _lookup(buf, ns, ne, tags, tag_off)
                if t == T_SIZE:
                    if size_seen:
                        ok = False
                        break
                    size_seen = True
                    ctx = C_SIZE
                elif t == T_OBJECT:
                    ctx = C_OBJECT
                    slot = line
                    for i in range(F_NAME, _N_FIELDS):
                        fs[i] = -1
                    bb_seen = False
            elif parent == C_SIZE:
                t = _lookup(buf, ns, ne, tags, tag_off)
                if t == T_WIDTH or t == T_HEIGHT or t == T_DEPTH:
                    ctx = C_FIELD
                    slot = F_WIDTH + (t - T_WIDTH)
            elif parent == C_OBJECT:
                t = _lookup(buf, ns, ne, tags, tag_off)
                if T_NAME <= t <= T_OCC:
                    ctx = C_FIELD
                    slot = F_NAME + (t - T_NAME)
                elif t == T_BNDBOX:
                    if bb_seen:
                        ok = False
                        break
                    bb_seen = True
                    ctx = C_BNDBOX
            elif parent == C_BNDBOX:
                t = _lookup(buf, ns, ne, tags, tag_off)
                if t < T_XMIN:  # only the four coordinates inside <bndbox>
                    ok = False
                    break
                ctx = C_FIELD
                slot = F_XMIN + (t - T_XMIN)
            if ctx == C_FIELD and fs[slot] >= 0:  # a repeated field
                ok = False
                break
            stack_c[depth] = ctx
            stack_f[depth] = slot
            if ctx == C_FIELD:
                fs[slot] = ne + 1  # mark as seen (the span is set at the closing tag)
                fe[slot] = ne + 1
            p = ne + 1
            content = p
        if ok:
            w = _uint(buf, fs[F_WIDTH], fe[F_WIDTH]) if size_seen and fs[F_WIDTH] >= 0 else -1
            h = _uint(buf, fs[F_HEIGHT], fe[F_HEIGHT]) if size_seen and fs[F_HEIGHT] >= 0 else -1
            d = 3
            if fs[F_DEPTH] >= 0 and fe[F_DEPTH] > fs[F_DEPTH]:
                d = _uint(buf, fs[F_DEPTH], fe[F_DEPTH])
            ok = w > 0 and h > 0 and d >= 0
            sizes[fi, 0] = w
            sizes[fi, 1] = h
            sizes[fi, 2] = d
        if ok:
            status[fi] = S_OK
            obj_count[fi] = n_obj - first
        else:
            status[fi] = S_FALLBACK
            n_obj = first
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
    buf = np.frombuffer(data, dtype=np.uint8)
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
        done, m = _scan_kernel(buf, starts, ends, _TAG_BYTES, _TAG_OFF, class_bytes, class_off, _POW10, done, m,
                               status, sizes, decl_end, obj_first, obj_count, *cols.values(),  # type: ignore[call-arg]
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


def use_kernel() -> bool:
    """False under ``NUMBA_DISABLE_JIT=1``: the scanner as plain Python is slower than lxml, so all files then
    take the checked path."""
    from numba.core import config

    return not getattr(config, "DISABLE_JIT", False)


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
