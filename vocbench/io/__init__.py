"""Readers and writers: VOC XML + ImageSets (:mod:`voc`), detections (:mod:`detections`), COCO export (:mod:`coco`),
and the parsed-annotation cache (:mod:`cache`)."""

from vocbench.io.voc import load_voc, parse_set_spec

__all__ = ["load_voc", "parse_set_spec"]
