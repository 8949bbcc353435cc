"""Ahead-of-time compiled kernels: the COCO path without importing Numba.

``import numba`` costs ~0.27 s and ~66 MB before any kernel runs, more than the rest of a COCO-scale
``vocbench eval``. :mod:`vocbench._native.build` (``python -m vocbench._native build``, run by ``make setup`` and
``make native``) compiles the entry kernels of the COCO path (each kernel module lists them in ``ENTRY_POINTS``)
with ``numba.pycc`` into one extension module in this folder, ``_aot``, beside a sidecar ``_aot.json`` that
records what it was built from. :func:`kernels` hands wrappers those functions when they are fresh, else the Numba
module itself:

* fresh means: every source file the kernel module is built from (the module and the vocbench modules it
  imports, recursively: helpers such as ``io/_voc_scan.py``, ``boxes/_kernels.py``, ``_numba.py``) has the
  content the sidecar records (its size and mtime, as Python trusts a ``.pyc``; else its SHA-256 decides), and
  numpy and Numba have the versions it was built with. A stale or missing build is never used: the wrapper gets
  the JIT module (:func:`describe`, ``vocbench --debug`` and ``python -m vocbench._native status`` say why);
* ``VOCBENCH_NATIVE=0`` forces the JIT module; ``NUMBA_DISABLE_JIT=1`` forces the module too (its kernels are
  then plain Python), so the no-JIT test run tests the Python twins, not the compiled code;
* each compiled entry has one signature (harvested from a JIT run of the tiny COCO set, see the builder). A call
  whose arguments do not fit it (another dtype, a non-contiguous array, a read-only array where the kernel
  writes) runs the JIT kernel instead, correct as ever; :func:`describe` lists such calls;
* names the build did not compile (other kernels, helpers) resolve lazily to the JIT module's attributes;
  module-level constants (ints, floats, strings, tuples of them) are served from the sidecar without the import.

The compiled code targets the CPU of the machine that built it (``target_cpu`` = the host's): it is built where
it runs (``make setup``), never shipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from vocbench._lazy import LazyModule

__all__ = ["kernels", "describe", "jit_enabled", "native_enabled", "sidecar_path", "stale_reason", "file_record",
           "file_unchanged", "file_sha256", "extension_stamp", "numba_version", "EXTENSION", "SOURCE_ROOT"]

#: The compiled extension module (``vocbench/_native/_aot.<abi>.so``).
EXTENSION = "vocbench._native._aot"
#: The folder holding the ``vocbench`` package: sidecar file paths are relative to it.
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent

_HERE = Path(__file__).resolve().parent
_LOADED: dict[str, Any] = {}
_STATUS: dict[str, str] = {}
_MISFITS: list[str] = []


def sidecar_path() -> Path:
    """The sidecar JSON written beside the extension module."""
    return _HERE / "_aot.json"


def jit_enabled() -> bool:
    """False under ``NUMBA_DISABLE_JIT`` set to a non-zero value (Numba reads the variable the same way)."""
    try:
        return not int(os.environ.get("NUMBA_DISABLE_JIT", "0") or "0")
    except ValueError:
        return True


def native_enabled() -> bool:
    """Whether :func:`kernels` may hand out compiled functions: JIT enabled and ``VOCBENCH_NATIVE`` not ``0``."""
    return jit_enabled() and os.environ.get("VOCBENCH_NATIVE", "1").strip() != "0"


def kernels(module: str) -> Any:
    """The entry kernels of Numba kernel module ``module`` (e.g. ``"vocbench.io._json_kernels"``).

    Returns:
        An object whose attributes are the compiled functions when the build is present and fresh (see the module
        docstring), else the module itself (imported then, lazily: Numba loads only when a JIT kernel is needed).
        Call it once per wrapper module (``_k = kernels(...)``) and call ``_k.name(...)``.
    """
    got = _LOADED.get(module)
    if got is None:
        got = _LOADED[module] = _load(module)
    return got


def describe() -> dict[str, str]:
    """For each kernel module handed out so far: ``"aot"``, ``"jit (<why>)"`` or ``"python (NUMBA_DISABLE_JIT)"``;
    plus ``"misfit calls"`` when a call fell back to the JIT kernel because of its argument types."""
    out = {m: _STATUS.get(m, "?") for m in _LOADED}
    if _MISFITS:
        out["misfit calls"] = "; ".join(sorted(set(_MISFITS)))
    return out


def _load(module: str) -> Any:
    if not jit_enabled():
        _STATUS[module] = "python (NUMBA_DISABLE_JIT)"
        return LazyModule(module)
    if not native_enabled():
        _STATUS[module] = "jit (VOCBENCH_NATIVE=0)"
        return LazyModule(module)
    why, ns = _compiled(module)
    _STATUS[module] = "aot" if ns is not None else f"jit ({why})"
    return ns if ns is not None else LazyModule(module)


def _sidecar() -> dict | None:
    try:
        side = json.loads(sidecar_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return side if isinstance(side, dict) and isinstance(side.get("modules"), dict) else None


_FILE_HASHES: dict[str, str] = {}


def file_sha256(relpath: str) -> str:
    """SHA-256 (hex) of a file under :data:`SOURCE_ROOT`; '' when it cannot be read. Memoised per process."""
    got = _FILE_HASHES.get(relpath)
    if got is None:
        import hashlib  # only when a stamp differs: the common, fresh case costs a stat per file

        try:
            got = hashlib.sha256((SOURCE_ROOT / relpath).read_bytes()).hexdigest()
        except OSError:
            got = ""
        _FILE_HASHES[relpath] = got
    return got


def file_record(relpath: str) -> dict:
    """What the sidecar records of a source file: its SHA-256, size and mtime (ns)."""
    st = os.stat(SOURCE_ROOT / relpath)
    return {"sha256": file_sha256(relpath), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_unchanged(relpath: str, record: dict) -> bool:
    """Whether a source file still has the recorded content. As Python trusts a ``.pyc`` whose source has the
    recorded size and mtime, so does this (a stat); any other stamp (an edit, a checkout) compares the SHA-256."""
    try:
        st = os.stat(SOURCE_ROOT / relpath)
    except OSError:
        return False
    if st.st_size == record.get("size") and st.st_mtime_ns == record.get("mtime_ns"):
        return True
    return file_sha256(relpath) == record.get("sha256")


def numba_version() -> str:
    """The installed Numba's version, read from its ``_version.py`` without importing Numba; '' if absent."""
    spec = importlib.util.find_spec("numba")
    if spec is None or not spec.origin:
        return ""
    try:
        text = (Path(spec.origin).parent / "_version.py").read_text("utf-8")
        start = text.index("version_json = '''") + len("version_json = '''")
        return str(json.loads(text[start:text.index("'''", start)])["version"])
    except (OSError, ValueError, KeyError):
        return ""


def extension_stamp(path: str | os.PathLike | None) -> list[int] | None:
    """(size, mtime in ns) of the extension file: the sidecar records it, so a module replaced after the sidecar
    was written is not trusted."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return None if st is None else [st.st_size, st.st_mtime_ns]


def stale_reason(side: dict | None, module: str) -> str:
    """Why the build in ``side`` cannot serve ``module`` ('' when it can)."""
    import numpy as np

    if side is None:
        return "not built (python -m vocbench._native build)"
    entry = side.get("modules", {}).get(module)
    if entry is None:
        return f"{module} not in the build"
    if side.get("cache_tag") != sys.implementation.cache_tag:
        return f"built for {side.get('cache_tag')}"
    if side.get("numpy") != np.__version__:
        return f"built with numpy {side.get('numpy')}, numpy is {np.__version__}"
    if side.get("numba") != numba_version():
        return f"built with numba {side.get('numba')}, numba is {numba_version() or 'absent'}"
    for rel, record in entry.get("files", {}).items():
        if not isinstance(record, dict) or not file_unchanged(rel, record):
            return f"{rel} changed since the build"
    return ""


def _compiled(module: str) -> tuple[str, Any]:
    side = _sidecar()
    why = stale_reason(side, module)
    if why:
        return why, None
    assert side is not None
    try:
        ext = importlib.import_module(EXTENSION)
    except ImportError as exc:
        return f"cannot import {EXTENSION}: {exc}", None
    if extension_stamp(getattr(ext, "__file__", None)) != side.get("extension"):
        return f"{EXTENSION} is not the module the sidecar describes", None
    from vocbench._native._entry import AotKernels

    entry = side["modules"][module]
    try:
        return "", AotKernels(module, ext, entry["entries"], entry.get("constants", {}), _MISFITS)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a sidecar that does not fit the module
        return f"the build's description of {module} is unusable ({type(exc).__name__}: {exc})", None
