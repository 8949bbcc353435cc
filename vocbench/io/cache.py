"""On-disk cache of parsed annotation sets (``.npz``, no pickle).

The key hashes the vocbench cache format, the load options and, for every annotation file, its path, size,
modification time, status-change time (``ctime``) and inode number, all in nanoseconds — so an edited annotation
is never served stale (voc_eval.py's ``annots.pkl`` bug), even an in-place edit that keeps the size and restores
the mtime (``os.utime`` cannot set the ctime, and a replaced file gets a new inode). A content hash was measured
instead and rejected: on VOC07+12 trainval it costs 17-42 % of the parse it would save and makes a cached load
2.4-3.5x slower (see ``docs/robustness.md``).

The folder is ``$VOCBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vocbench``, else ``~/.cache/vocbench``. The cache
never fails a command: an unreadable or unwritable folder is a miss with one :class:`VocbenchWarning` per folder
and process, and a truncated, foreign or corrupt entry is a silent miss (it is rewritten).
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vocbench.errors import VocbenchWarning
from vocbench.io.atomic import atomic_open

__all__ = ["cache_dir", "file_signature", "cache_load", "cache_store"]

#: Bump when the cached arrays or the key change meaning.
CACHE_FORMAT = 2

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def cache_dir() -> Path:
    env = os.environ.get("VOCBENCH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vocbench"


def file_signature(paths: Iterable[str], options: str) -> str:
    """SHA-1 of the options plus (path, size, mtime_ns, ctime_ns, inode) of each file.

    Raises FileNotFoundError for a missing file.
    """
    h = hashlib.sha1(f"vocbench-cache-{CACHE_FORMAT}\n{options}\n".encode())
    stat = os.stat
    for p in paths:
        st = stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n".encode())
    return h.hexdigest()


def _warn_once(directory: Path, action: str, exc: OSError) -> None:
    key = (str(directory), action)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    reason = exc.strerror or type(exc).__name__
    warnings.warn(f"{directory}: annotation cache folder cannot be {action} ({reason}); parsing without the cache "
                  "(set VOCBENCH_CACHE_DIR or pass --no-cache)", VocbenchWarning, stacklevel=4)


def cache_load(key: str, directory: Path | None = None) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or None (missing, unreadable, truncated or foreign entries are misses)."""
    directory = directory or cache_dir()
    path = directory / f"voc-{key}.npz"
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        _warn_once(directory, "read", exc)
        return None
    except Exception:  # a truncated, corrupt or foreign file (or a folder with that name) is just a miss
        return None


def cache_store(key: str, arrays: dict[str, np.ndarray], directory: Path | None = None) -> Path | None:
    """Write atomically (temp file + fsync-free rename). Returns the path, or None (with one warning) when the folder
    is not writable."""
    directory = directory or cache_dir()
    final = directory / f"voc-{key}.npz"
    try:
        with atomic_open(final, "wb", fsync=False) as fh:  # a lost cache entry is a miss, not data loss
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        return final
    except OSError as exc:
        _warn_once(directory, "written", exc)
        return None
