"""On-disk cache of parsed annotation sets (``.npz``, no pickle).

The key hashes the vocbench cache format, the load options and, for every annotation file, its path, size and
modification time in nanoseconds — so an edited annotation is never served stale (voc_eval.py's ``annots.pkl``
bug). The folder is ``$VOCBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vocbench``, else ``~/.cache/vocbench``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["cache_dir", "file_signature", "cache_load", "cache_store"]

#: Bump when the cached arrays change meaning.
CACHE_FORMAT = 1


def cache_dir() -> Path:
    env = os.environ.get("VOCBENCH_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vocbench"


def file_signature(paths: Iterable[str], options: str) -> str:
    """SHA-1 of the options plus (path, size, mtime_ns) of each file. Raises FileNotFoundError for a missing file."""
    h = hashlib.sha1(f"vocbench-cache-{CACHE_FORMAT}\n{options}\n".encode())
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_load(key: str, directory: Path | None = None) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or None (missing or unreadable entries are misses)."""
    path = (directory or cache_dir()) / f"voc-{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a truncated or foreign file is just a miss
        return None


def cache_store(key: str, arrays: dict[str, np.ndarray], directory: Path | None = None) -> Path | None:
    """Write atomically (temp file + rename). Returns the path, or None when the folder is not writable."""
    directory = directory or cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".voc-", suffix=".npz", dir=directory)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        final = directory / f"voc-{key}.npz"
        os.replace(tmp, final)
        return final
    except OSError:
        return None
