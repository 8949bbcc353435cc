"""Byte scanner for line-per-record text (devkit result files, CSV, per-image YOLO txt): the fast path of the
readers in :mod:`vocbench.io.detections` and :mod:`vocbench.io.yolo` at scale.

:func:`scan_table` reads every file in place into one buffer sized by ``stat`` (no copy of their bytes), and one
Numba kernel (:mod:`vocbench.io._text_kernels`) turns each non-blank line into a row: numeric fields as float64
(exactly Python's ``float``: the shared decimal parser with Eisel-Lemire, then ``float`` on the bytes of the few
fields it leaves: ``+1``, ``.5``, ``inf``, ``1_0``), text fields as indices into the known names (image ids, class
names; -1 for a name that is not known). No Python object is made per record.

A file is flagged for the caller's checked reader (which parses it or names the line at fault) when it has a byte
outside printable ASCII + space, tab and line ends (``\\n``, ``\\r\\n``, ``\\r``), a quote (CSV), a non-blank line
without exactly the expected fields, or a numeric field that Python's ``float`` refuses or reads as NaN/inf.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["TextTable", "scan_table", "worth_scanning", "SCAN_MIN_BYTES"]

#: Inputs smaller than this (bytes, all files together) are read by the reader's own path, per format: importing
#: Numba and loading the kernel (~0.3 s) costs more than that path spends on them (devkit: a numpy reader, ~15 ns a
#: byte, the scanner saving a third of it; CSV: pandas; YOLO txt: a Python loop, ~100 ns a byte).
SCAN_MIN_BYTES = {"devkit": 64 << 20, "csv": 4 << 20, "yolo": 2 << 20}


def worth_scanning(fmt: str, paths: Sequence[str | os.PathLike]) -> bool:
    """Whether :func:`scan_table` should read ``paths`` (format ``fmt``): the JIT is on (the scanner as plain
    Python is slower than the checked readers, ``NUMBA_DISABLE_JIT=1``) and they hold at least
    ``SCAN_MIN_BYTES[fmt]`` bytes."""
    total = 0
    for p in paths:
        try:
            total += os.stat(p).st_size
        except OSError:
            return False  # the checked reader names it
        if total >= SCAN_MIN_BYTES[fmt]:
            break
    else:
        return False
    from vocbench.io._voc_scan import use_kernel  # imports Numba: only once the input is worth it

    return use_kernel()


@dataclass(frozen=True)
class TextTable:
    """Rows of :func:`scan_table`.

    Attributes:
        values: float64[numeric fields, N] in field order (each field's column contiguous).
        index: int64[N, text fields]: index of each text field into its name list, -1 when not in it.
        lines: int64[N] 1-based line number of each row in its file.
        row_offsets: int64[F + 1]: the rows of file ``f`` are ``row_offsets[f]:row_offsets[f + 1]``.
        fallback: bool[F]: files the caller must read with its checked reader (they have no rows here).
        total_bytes: size of all files read.
    """

    values: np.ndarray
    index: np.ndarray
    lines: np.ndarray
    row_offsets: np.ndarray
    fallback: np.ndarray
    total_bytes: int


def _key_tables(tables: Sequence[Sequence[str]]):
    """Concatenated UTF-8 keys, their offsets, hash slots and slot ranges for :func:`_text_kernels.scan_fields`,
    and each key's position in its own column's list."""
    from vocbench.io import _text_kernels as _k

    encoded = [k.encode("utf-8") for names in tables for k in names]
    keys = np.frombuffer(b"".join(encoded) or b"\0", np.uint8)
    key_off = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(k) for k in encoded], out=key_off[1:])
    sizes = [len(names) for names in tables]
    col_key = np.zeros(len(tables) + 1, np.int64)
    np.cumsum(sizes, out=col_key[1:])
    col_slot = np.zeros(len(tables) + 1, np.int64)
    np.cumsum([1 << max(1, (2 * n).bit_length()) for n in sizes], out=col_slot[1:])
    slots = _k.build_slots(keys, key_off, col_key, col_slot)
    local = np.arange(len(encoded), dtype=np.int64) - np.repeat(col_key[:-1], sizes)
    return keys, key_off, slots, col_slot, local


def _fix_slow_rows(buf: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray, sep: int,
                   numeric: list[int], values: np.ndarray) -> np.ndarray:
    """Python's ``float`` for the numeric fields of ``rows`` (their lines start at ``starts``, in files that end at
    ``stops``); returns the rows where a field is not a finite number."""
    bad = []
    for r, s, stop in zip(rows.tolist(), starts.tolist(), stops.tolist()):
        text = buf[s:stop]
        breaks = np.flatnonzero((text == 10) | (text == 13))
        line = text[:int(breaks[0]) if breaks.size else len(text)].tobytes()
        fields = line.split() if sep == 0 else line.split(bytes([sep]))
        try:
            got = [float(fields[k]) for k in numeric]
        except ValueError:
            bad.append(r)
            continue
        if not np.isfinite(got).all():
            bad.append(r)
        values[:, r] = got
    return np.asarray(bad, np.int64)


def _read_into(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every file's bytes in one uint8 buffer, read in place (no copy); ``starts[i] = -1`` for a file that is not
    a regular file or cannot be read (the checked reader then reports it). Sizes come from ``stat``; a file that
    grows meanwhile is read as far as its size was, one that shrinks as far as it goes."""
    sizes = np.zeros(len(paths), np.int64)
    for i, p in enumerate(paths):
        try:
            st = os.stat(p)
        except OSError:
            sizes[i] = -1
            continue
        sizes[i] = st.st_size if stat.S_ISREG(st.st_mode) else -1
    room = np.maximum(sizes, 0)
    starts = np.zeros(len(paths), np.int64)
    np.cumsum(room[:-1], out=starts[1:])
    buf = np.empty(int(room.sum()) + 1, np.uint8)
    ends = starts.copy()
    view = memoryview(buf)  # type: ignore[arg-type]  # (numpy arrays export the buffer protocol)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for i, p in enumerate(paths):
        pos, stop = int(starts[i]), int(starts[i] + room[i])
        try:
            if sizes[i] < 0:
                raise OSError
            fd = os.open(p, flags)
            try:
                while pos < stop and (got := os.readv(fd, [view[pos:stop]])):
                    pos += got
            finally:
                os.close(fd)
        except OSError:  # gone, a folder, an I/O error, not a regular file
            starts[i] = ends[i] = -1
            continue
        ends[i] = pos
    return buf, starts, ends


def scan_table(paths: Sequence[str | os.PathLike], kinds: Sequence[str], tables: Sequence[Sequence[str]] = (),
               sep: str = "", skip_lines: int = 0) -> TextTable:
    """Scan ``paths`` (see the module docstring).

    Args:
        paths: the files, read in this order.
        kinds: per field, ``"num"`` or ``"text"`` (the ``t``-th text field is looked up in ``tables[t]``).
        tables: the known names of each text field; an image id or a class name maps to its position.
        sep: ``""``: runs of spaces and tabs separate fields (``str.split()``); else that one character.
        skip_lines: leading lines of every file to skip (a CSV header).
    """
    from vocbench.io import _text_kernels as _k
    from vocbench.io._json_scan import _POW5
    from vocbench.io._voc_scan import _POW10

    buf, starts, ends = _read_into([os.fspath(p) for p in paths])
    numeric = [i for i, k in enumerate(kinds) if k == "num"]
    code = np.zeros(len(kinds), np.int64)
    code[numeric] = -1 - np.arange(len(numeric))
    text = [i for i, k in enumerate(kinds) if k != "num"]
    code[text] = np.arange(len(text))
    keys, key_off, slots, col_slot, local = _key_tables(tables)
    # a row takes at least 2 bytes per field (a character and a separator or line end): the arrays are never
    # outgrown; np.empty leaves the pages past the last row untouched (not resident)
    cap = len(buf) // (2 * len(kinds)) + len(paths) + 1
    values = np.empty((len(numeric), cap), np.float64)
    index = np.empty((cap, len(text)), np.int64)
    lines = np.empty(cap, np.int64)
    line_starts = np.empty(cap, np.int64)
    flag = np.empty(cap, np.uint8)
    row_offsets = np.empty(len(paths) + 1, np.int64)
    status = np.empty(len(paths), np.uint8)
    sep_byte = ord(sep) if sep else 0
    n = _k.scan_fields(buf, starts, ends, int(skip_lines), sep_byte, code, keys, key_off, slots, col_slot, _POW10,
                       _POW5, values, index, lines, line_starts, flag, row_offsets, status)
    values, index, lines, flag = values[:, :n], index[:n], lines[:n], flag[:n]
    fallback = status == _k.F_FALLBACK
    slow = np.flatnonzero(flag == _k.R_SLOW)
    if slow.size:
        file_of = np.searchsorted(row_offsets, slow, side="right") - 1
        bad = _fix_slow_rows(buf, slow, line_starts[slow], ends[file_of], sep_byte, numeric, values)
        if bad.size:
            fallback[np.searchsorted(row_offsets, bad, side="right") - 1] = True
    if text and local.size:
        index = np.where(index >= 0, local[np.maximum(index, 0)], -1)
    if fallback.any():  # drop the rows of the files that the checked reader re-reads
        counts = np.diff(row_offsets)
        counts[fallback] = 0
        keep = np.repeat(~fallback, np.diff(row_offsets))
        values, index, lines = values[:, keep], index[keep], lines[keep]
        row_offsets = np.concatenate([[0], np.cumsum(counts)])
    return TextTable(values, index, lines, row_offsets, fallback, len(buf) - 1)
