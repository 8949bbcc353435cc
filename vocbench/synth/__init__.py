"""The built-in synthetic VOC dataset: procedurally drawn images in the exact VOCdevkit layout.

``generate(out)`` writes ``out/VOCdevkit/VOC2007`` with JPEGs, VOC XML and ImageSets, so every vocbench
command (and the reference detectors) runs on a machine that has no VOC images. See
:mod:`vocbench.synth.generator` for the conventions, :mod:`vocbench.synth.classes` for how the 20 classes look
and :mod:`vocbench.synth.profile` for the VOC layout statistics it reproduces.
"""

from vocbench.synth.classes import CLASS_STYLES, PALETTES, ClassStyle, Palette, style_table
from vocbench.synth.generator import MARKER, SPLIT_FRACTIONS, annotation_xml, generate, render_image
from vocbench.synth.profile import VOC0712_PROFILE, LayoutProfile, profile_from_dataset

__all__ = ["generate", "render_image", "annotation_xml", "SPLIT_FRACTIONS", "MARKER", "CLASS_STYLES", "PALETTES",
           "ClassStyle", "Palette", "style_table", "VOC0712_PROFILE", "LayoutProfile", "profile_from_dataset"]
