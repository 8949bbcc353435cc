"""Readers and writers: VOC XML + ImageSets (:mod:`voc`), detections (:mod:`detections`), COCO export (:mod:`coco`),
the parsed-annotation cache (:mod:`cache`), atomic file writers (:mod:`atomic`) and strict JSON output
(:mod:`jsonio`).

Start-up: the names below load their module on first use (PEP 562), so a command that reads COCO files never
imports the VOC reader, its cache (hashlib) or the atomic writers (tempfile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vocbench._lazy import lazy_attributes

if TYPE_CHECKING:
    from vocbench.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
    from vocbench.io.jsonio import emit_json, to_jsonable
    from vocbench.io.voc import load_voc, parse_set_spec

__all__ = ["load_voc", "parse_set_spec", "atomic_open", "atomic_write_bytes", "atomic_write_text", "emit_json",
           "to_jsonable"]

_PUBLIC = {"load_voc": "vocbench.io.voc", "parse_set_spec": "vocbench.io.voc", "atomic_open": "vocbench.io.atomic",
           "atomic_write_bytes": "vocbench.io.atomic", "atomic_write_text": "vocbench.io.atomic",
           "emit_json": "vocbench.io.jsonio", "to_jsonable": "vocbench.io.jsonio"}


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)
