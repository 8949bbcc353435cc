"""Readers and writers: VOC XML + ImageSets (:mod:`voc`), detections (:mod:`detections`), COCO export (:mod:`coco`),
the parsed-annotation cache (:mod:`cache`), atomic file writers (:mod:`atomic`) and strict JSON output
(:mod:`jsonio`)."""

from vocbench.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from vocbench.io.jsonio import emit_json, to_jsonable
from vocbench.io.voc import load_voc, parse_set_spec

__all__ = ["load_voc", "parse_set_spec", "atomic_open", "atomic_write_bytes", "atomic_write_text", "emit_json",
           "to_jsonable"]
