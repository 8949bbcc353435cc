"""Atomic file writers: a failure never leaves a truncated file where a good one was.

Every vocbench writer (``--json``, ``--html``, ``export-coco``, ``synth``, devkit/COCO detection files, cached
arrays) goes through :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_open`: the data is
written to a temporary file in the target folder, flushed and fsynced, then renamed over the target with
:func:`os.replace` (atomic on POSIX and Windows). On any error the temporary file is removed and the target is
left exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_open", "same_file"]


def _target(path: str | os.PathLike) -> tuple[Path, bool]:
    """(path, special): ``special`` for an existing FIFO or device (``/dev/null``, ``/dev/stdout``), which is written
    in place since it cannot be replaced; a folder is an error."""
    p = Path(path)
    if os.path.islink(p):  # write through a symlink: replace the file it points at, keep the link
        p = Path(os.path.realpath(p))
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return p, False
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:  # a parent is a file: let mkdir / mkstemp name the problem
            return p, False
        raise
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file path", str(p))
    return p, not stat.S_ISREG(mode)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                newline: str | None = None, fsync: bool = True, mkdir: bool = True) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it replaces ``path`` atomically.

    Args:
        path: the final file. Its parent folder is created when ``mkdir``.
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        encoding, newline: for text mode.
        fsync: flush the data to disk before the rename (default True).

    Raises:
        OSError: the folder cannot be created or written, the disk is full, ``path`` is a folder, ... — the
            target is then untouched and no temporary file is left behind.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target, special = _target(path)
    if special:
        try:
            dev: IO = open(target, "wb") if mode == "wb" else open(target, "w", encoding=encoding, newline=newline)
            with dev:
                yield dev
                dev.flush()
        except OSError as exc:  # /dev/full: name the file
            if exc.filename is None:
                exc.filename = str(target)
            raise
        return
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:80]}.", suffix=".tmp", dir=target.parent)
    try:
        if mode == "wb":
            fh: IO = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        try:  # keep the permissions of the file we replace (mkstemp creates 0600)
            mode_bits = stat.S_IMODE(os.stat(target).st_mode) if target.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode_bits)
        except OSError:
            pass
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + fsync + ``os.replace``)."""
    with atomic_open(path, "wb", fsync=fsync) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", fsync: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    with atomic_open(path, "w", encoding=encoding, fsync=fsync) as fh:
        fh.write(text)
    return Path(path)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file or folder (or the same path when neither exists)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)
