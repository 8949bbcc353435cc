"""Build the ahead-of-time module: ``python -m vocbench._native build`` (``make setup``, ``make native``).

1. Find the kernel modules: every ``vocbench`` module with a module-level ``ENTRY_POINTS = (...)`` tuple.
2. Skip when the build is fresh (:func:`stale`: sources, numpy/Numba versions, the module list): ~10 ms.
3. Harvest the signatures: run ``vocbench eval --metric coco`` on the tiny generated COCO set
   (:mod:`vocbench.bench.coco_sets`) through the real wrappers on the JIT path, then read each entry's
   ``dispatcher.signatures``. An entry must have exactly one (variants that differ only in an array being
   read-only are one: the read-only form, which accepts writable arrays too and compiled, so the kernel does not
   write that argument); else the build stops naming the entry, as it does for an entry the run never called.
4. Compile every entry with ``numba.pycc.CC`` (``target_cpu`` = this machine's CPU: built where it runs) into
   ``vocbench/_native/_aot.<abi>.so`` and write the sidecar ``_aot.json``: per module its source files' SHA-256
   (the module and, recursively, the vocbench modules it imports, plus this builder), the entries' symbols and
   argument specs, its constants; the numpy/Numba versions; the extension's size and mtime.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from vocbench._native import (
    EXTENSION,
    SOURCE_ROOT,
    extension_stamp,
    file_record,
    numba_version,
    sidecar_path,
    stale_reason,
)

__all__ = ["build", "stale", "kernel_modules", "source_files", "harvest_signatures", "BuildError"]

_PACKAGE = SOURCE_ROOT / "vocbench"
_ENTRY_LINE = re.compile(rb"^ENTRY_POINTS\s*[:=]", re.MULTILINE)
_BUILDER = "vocbench/_native/build.py"


class BuildError(RuntimeError):
    """The build cannot proceed (an entry without exactly one signature, an unsupported argument type)."""


def kernel_modules() -> list[str]:
    """Dotted names of the vocbench modules that declare ``ENTRY_POINTS`` (found by reading, not importing)."""
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        if _ENTRY_LINE.search(path.read_bytes()):
            rel = path.relative_to(SOURCE_ROOT).with_suffix("")
            found.append(".".join(rel.parts))
    return found


def _module_file(dotted: str) -> str | None:
    base = SOURCE_ROOT.joinpath(*dotted.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand.relative_to(SOURCE_ROOT).as_posix()
    return None


def _imports(relpath: str) -> set[str]:
    """The vocbench modules ``relpath`` imports (``from a.b import c`` counts ``a.b.c`` when it is a module)."""
    tree = ast.parse((SOURCE_ROOT / relpath).read_bytes(), relpath)
    package = ".".join(Path(relpath).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m == "vocbench" or m.startswith("vocbench.")}


def source_files(module: str) -> list[str]:
    """The files ``module``'s compiled code is built from: its own, the vocbench modules it imports (recursively;
    a package's ``__init__`` only when imported as such) and this builder. Paths relative to the source root."""
    todo, seen = [module], set()
    files = {_BUILDER}
    while todo:
        rel = _module_file(todo.pop())
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        if rel.endswith("__init__.py"):
            continue  # `from vocbench.io import x` names x; a package's __init__ holds no kernel code
        files.add(rel)
        todo.extend(_imports(rel) - {"vocbench"})
    return sorted(files)


def stale(modules: list[str] | None = None) -> str:
    """Why the build must run ('' when it is fresh)."""
    from vocbench._native import _sidecar

    modules = kernel_modules() if modules is None else modules
    side = _sidecar()
    if side is None:
        return "no build yet"
    if sorted(side.get("modules", {})) != sorted(modules):
        return "the kernel modules changed"
    for m in modules:
        why = stale_reason(side, m)
        if why:
            return why
        if sorted(side["modules"][m]["files"]) != source_files(m):
            return f"{m} imports other modules now"
    if extension_stamp(_extension_path()) != side.get("extension"):
        return "the extension module is missing or was replaced"
    return ""


def _extension_path() -> Path:
    import importlib.machinery

    return sidecar_path().parent / ("_aot" + importlib.machinery.EXTENSION_SUFFIXES[0])


# ------------------------------------------------------------------------------------------------ harvesting
def _run_tiny_coco(folder: Path) -> None:
    """``vocbench eval`` of the tiny COCO set on the JIT path (the real wrappers choose every argument type)."""
    import contextlib
    import io

    from vocbench.bench.coco_sets import write_coco_set
    from vocbench.cli import main

    gt, dt = write_coco_set("tiny", folder)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["eval", "--gt", str(gt), "--dets", str(dt), "--metric", "coco", "--json", str(folder / "o.json")])
    if rc != 0:
        raise BuildError(f"vocbench eval of the tiny COCO set failed ({rc}): {err.getvalue().strip()}")


def _merge_readonly(dispatcher, where: str):
    """The one signature (args, return type) of ``dispatcher``, read-only variants merged."""
    from numba.core import types

    sigs = list(dispatcher.signatures)
    if not sigs:
        raise BuildError(f"{where}: not called on the tiny COCO set (an ENTRY_POINTS name the path never calls?)")

    def key(sig):
        return tuple(t.copy(readonly=False) if isinstance(t, types.Array) else t for t in sig)

    if len({key(s) for s in sigs}) != 1:
        listed = "; ".join(str(s) for s in sigs)
        raise BuildError(f"{where}: {len(sigs)} signatures ({listed}); cast in the wrapper so one serves every call")
    merged = tuple(
        t.copy(readonly=True) if isinstance(t, types.Array) and any(not s[i].mutable for s in sigs) else t
        for i, t in enumerate(sigs[0]))
    returns = {dispatcher.overloads[s].signature.return_type for s in sigs}
    if len(returns) != 1:
        raise BuildError(f"{where}: return types differ between its signatures: {returns}")
    return merged, returns.pop()


def _arg_spec(t, where: str) -> list:
    from numba.core import types

    if isinstance(t, types.Array):
        return ["array", str(t.dtype), int(t.ndim), t.layout, not t.mutable]
    if t == types.int64:
        return ["int64"]
    if t == types.float64:
        return ["float64"]
    if t == types.boolean:
        return ["bool"]
    raise BuildError(f"{where}: argument type {t} is not supported ahead of time (arrays, int64, float64, bool)")


def _check_options(dispatcher, where: str) -> None:
    opts = dispatcher.targetoptions
    if opts.get("parallel") or opts.get("fastmath") or opts.get("error_model", "python") != "python":
        raise BuildError(f"{where}: options {opts} differ from the ahead-of-time compiler's (serial, no fastmath, "
                         "Python error model)")


def _constants(mod) -> dict:
    def plain(v) -> bool:
        if isinstance(v, tuple):
            return all(plain(x) for x in v)
        return isinstance(v, (bool, int, float, str))

    return {k: v for k, v in vars(mod).items() if not k.startswith("__") and plain(v)}


def harvest_signatures(modules: list[str]) -> dict[str, dict]:
    """``module → {entry → (dispatcher, args, return type)}`` after a JIT run of the tiny COCO set."""
    import importlib

    os.environ["VOCBENCH_NATIVE"] = "0"  # this process runs (and compiles) the JIT kernels
    with tempfile.TemporaryDirectory(prefix="vocbench-native-") as tmp:
        _run_tiny_coco(Path(tmp))
    out: dict[str, dict] = {}
    for m in modules:
        mod = importlib.import_module(m)
        names = getattr(mod, "ENTRY_POINTS", None)
        if not isinstance(names, tuple) or not names or not all(isinstance(n, str) for n in names):
            raise BuildError(f"{m}: ENTRY_POINTS must be a non-empty tuple of kernel names")
        out[m] = {}
        for name in names:
            where = f"{m}.{name}"
            disp = getattr(mod, name, None)
            if disp is None or not hasattr(disp, "signatures"):
                raise BuildError(f"{where}: not a Numba kernel")
            _check_options(disp, where)
            args, ret = _merge_readonly(disp, where)
            out[m][name] = (disp, args, ret)
    return out


# ------------------------------------------------------------------------------------------------ compiling
def _symbol(module: str, name: str) -> str:
    return module.removeprefix("vocbench.").replace(".", "_") + "__" + name


def _compile(harvest: dict[str, dict], folder: Path) -> Path:
    from llvmlite import binding
    from numba.pycc import CC

    cc = CC(EXTENSION.rsplit(".", 1)[1])
    cc.output_dir = str(folder)
    cc.target_cpu = binding.get_host_cpu_name()  # built on the machine that runs it
    cc.verbose = False
    for m, entries in harvest.items():
        for name, (disp, args, ret) in entries.items():
            cc.export(_symbol(m, name), ret(*args))(disp.py_func)
    cc.compile()
    return folder / cc.output_file


def _sidecar_data(harvest: dict[str, dict], ext_path: Path) -> dict:
    import importlib

    import numpy as np

    modules = {}
    for m, entries in harvest.items():
        modules[m] = {
            "files": {rel: file_record(rel) for rel in source_files(m)},
            "entries": {name: {"symbol": _symbol(m, name), "signature": f"{ret}{tuple(str(a) for a in args)}",
                               "args": [_arg_spec(a, f"{m}.{name}") for a in args]}
                        for name, (_, args, ret) in entries.items()},
            "constants": _constants(importlib.import_module(m)),
        }
    return {"numpy": np.__version__, "numba": numba_version(), "cache_tag": sys.implementation.cache_tag,
            "target_cpu": _host_cpu(), "extension": extension_stamp(ext_path), "modules": modules}


def _host_cpu() -> str:
    from llvmlite import binding

    return str(binding.get_host_cpu_name())


def build(force: bool = False, log=print) -> bool:
    """Build unless fresh (or ``force``). Returns True when it built. Raises :class:`BuildError`."""
    os.environ.pop("NUMBA_DISABLE_JIT", None)  # the harvest runs the JIT kernels
    modules = kernel_modules()
    why = "forced" if force else stale(modules)
    if not why:
        _refresh_stamps()
        log(f"vocbench._native: up to date ({len(modules)} kernel modules)")
        return False
    t0 = time.perf_counter()
    log(f"vocbench._native: building ({why}): {', '.join(modules)}")
    harvest = harvest_signatures(modules)
    t1 = time.perf_counter()
    side, target = sidecar_path(), _extension_path()
    with tempfile.TemporaryDirectory(prefix="vocbench-native-build-", dir=side.parent) as tmp:
        for e in [*_arg_specs_checked(harvest)]:
            log(f"  {e}")
        try:
            built = _compile(harvest, Path(tmp))
        except Exception as exc:  # distutils/setuptools compile and link errors have no common base
            why = " ".join(str(exc).split())[:300]
            raise BuildError(f"numba.pycc failed ({type(exc).__name__}: {why}); it needs a C compiler (gcc) and "
                             "Python's headers (python3-dev)") from exc
        side.unlink(missing_ok=True)  # never a sidecar describing another module than the one beside it
        os.replace(built, target)
    data = _sidecar_data(harvest, target)
    _write_sidecar(data)
    log(f"vocbench._native: built {target.name} in {time.perf_counter() - t0:.1f} s "
        f"(signatures {t1 - t0:.1f} s, compile {time.perf_counter() - t1:.1f} s, target_cpu {data['target_cpu']})")
    return True


def _write_sidecar(data: dict) -> None:
    side = sidecar_path()
    tmp_side = side.with_name(side.name + f".tmp{os.getpid()}")
    tmp_side.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp_side, side)


def _refresh_stamps() -> None:
    """A fresh build whose sources were rewritten with the same bytes (a checkout, a rebase) is checked by hash
    at every load; recording their new size and mtime keeps the loader's check a stat."""
    from vocbench._native import _sidecar

    side = _sidecar()
    if side is None:
        return
    changed = False
    for entry in side["modules"].values():
        for rel, record in entry["files"].items():
            now = file_record(rel)
            if now != record and now["sha256"] == record.get("sha256"):
                entry["files"][rel] = now
                changed = True
    if changed:
        _write_sidecar(side)


def _arg_specs_checked(harvest: dict[str, dict]) -> list[str]:
    """One line per entry; raises :class:`BuildError` before compiling if an argument type is not supported."""
    lines = []
    for m, entries in harvest.items():
        for name, (_, args, ret) in entries.items():
            for a in args:
                _arg_spec(a, f"{m}.{name}")
            lines.append(f"{m}.{name}: {len(args)} arguments -> {ret}")
    return lines
