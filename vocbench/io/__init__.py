"""Readers and writers: VOC XML + ImageSets (:mod:`voc`), detections (:mod:`detections`), COCO export (:mod:`coco`),
the parsed-annotation cache (:mod:`cache`), atomic file writers (:mod:`atomic`) and strict JSON output
(:mod:`jsonio`).

Start-up: the names below load their module on first use (PEP 562), so a command that reads COCO files never
imports the VOC reader, its cache (hashlib) or the atomic writers (tempfile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vocbench.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
    from vocbench.io.jsonio import emit_json, to_jsonable
    from vocbench.io.voc import load_voc, parse_set_spec

__all__ = ["load_voc", "parse_set_spec", "atomic_open", "atomic_write_bytes", "atomic_write_text", "emit_json",
           "to_jsonable"]

_PUBLIC = {"load_voc": "vocbench.io.voc", "parse_set_spec": "vocbench.io.voc", "atomic_open": "vocbench.io.atomic",
           "atomic_write_bytes": "vocbench.io.atomic", "atomic_write_text": "vocbench.io.atomic",
           "emit_json": "vocbench.io.jsonio", "to_jsonable": "vocbench.io.jsonio"}


def __getattr__(name: str):
    import importlib
    import importlib.util

    module = _PUBLIC.get(name)
    if module is None:
        # a submodule (`vocbench.io.voc` after a bare `import vocbench.io`, as when this file imported eagerly)
        if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
