"""vocbench: PASCAL VOC dataset reports, exact and fast VOC/COCO detection scoring, NMS and mAP benchmarks.

The public API is curated here; subpackages hold the details (see STYLE.md for the layering). torch is never
imported by vocbench itself.
"""

from __future__ import annotations

__version__ = "0.1.0"

from vocbench.errors import InputError, VocbenchError, VocbenchWarning
from vocbench.structures import VOC_CLASSES, Dataset, Detections
from vocbench.io.voc import load_voc

__all__ = ["__version__", "VOC_CLASSES", "Dataset", "Detections", "load_voc", "VocbenchError", "VocbenchWarning",
           "InputError"]


def _extend(module_name: str, names: list[str]) -> None:
    """Re-export ``names`` from a subpackage when it exists (lets features land independently)."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return
        raise
    for n in names:
        if hasattr(module, n):
            globals()[n] = getattr(module, n)
            __all__.append(n)


_extend("vocbench.io.detections", ["read_detections"])
_extend("vocbench.eval", ["evaluate", "EvalResult"])
_extend("vocbench.anchors", ["IoUKMeans", "analyze_anchors", "ssd_default_boxes"])
_extend("vocbench.stats", ["compute_stats", "DatasetStats"])
_extend("vocbench.nms", ["batched_nms", "soft_nms"])  # not `nms`: it would shadow the subpackage vocbench.nms
