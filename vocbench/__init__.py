"""vocbench: PASCAL VOC dataset reports, exact and fast VOC/COCO detection scoring, NMS and mAP benchmarks.

The public API is curated here; subpackages hold the details (see STYLE.md for the layering). torch is never
imported by vocbench itself.

One vocabulary for every result (``docs/glossary.md``):

* headline score: ``mAP`` (``EvalResult.mAP``, ``VocScores.mAP``, ``CocoScores.mAP``, ``Diagnosis.mAP``,
  ``Comparison.score(name, metric).mAP``; the JSON key ``"mAP"``);
* IoU threshold: the argument ``iou``; a result records ``iou_threshold`` (one) or ``iou_thresholds`` (several);
* undefined: NaN (``null`` in JSON); pycocotools' -1 only inside the pycocotools-compatible surface;
* tables: ``to_pandas(table=...)`` on every result;
* boxes and NMS: ``pixel_convention="voc"`` (default; 1-based inclusive pixels) or ``"continuous"``.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

from vocbench._lazy import lazy_attributes
from vocbench.errors import InputError, VocbenchError, VocbenchWarning

#: Public name → the module that defines it. Imported on first access (PEP 562), so ``import vocbench`` loads
#: neither numba nor pandas, matplotlib or lxml; add a public name with one line here, under TYPE_CHECKING below
#: (for type checkers and IDEs) and in ``__all__``.
_PUBLIC = {
    "VOC_CLASSES": "vocbench.structures", "Dataset": "vocbench.structures", "Detections": "vocbench.structures",
    "load_voc": "vocbench.io.voc",
    "read_detections": "vocbench.io.detections",
    "EvalResult": "vocbench.eval", "VocEvaluator": "vocbench.eval", "evaluate": "vocbench.eval",
    "load_ground_truth": "vocbench.io.gt",  # VOCdevkit folder, COCO instances.json or YOLO data.yaml
    "IoUKMeans": "vocbench.anchors", "analyze_anchors": "vocbench.anchors", "ssd_default_boxes": "vocbench.anchors",
    "DatasetStats": "vocbench.stats", "compute_stats": "vocbench.stats",
    "Diagnosis": "vocbench.diagnose", "diagnose": "vocbench.diagnose",
    "Comparison": "vocbench.compare", "compare": "vocbench.compare",
    "batched_nms": "vocbench.nms", "soft_nms": "vocbench.nms",  # `nms` itself stays in vocbench.nms (subpackage)
    "box_iou": "vocbench.boxes", "box_area": "vocbench.boxes", "box_convert": "vocbench.boxes",
    "init_as_pycocotools": "vocbench.coco", "restore_pycocotools": "vocbench.coco",  # pycocotools drop-in
}

if TYPE_CHECKING:
    from vocbench.anchors import IoUKMeans, analyze_anchors, ssd_default_boxes
    from vocbench.boxes import box_area, box_convert, box_iou
    from vocbench.coco import init_as_pycocotools, restore_pycocotools
    from vocbench.compare import Comparison, compare
    from vocbench.diagnose import Diagnosis, diagnose
    from vocbench.eval import EvalResult, VocEvaluator, evaluate
    from vocbench.io.detections import read_detections
    from vocbench.io.gt import load_ground_truth
    from vocbench.io.voc import load_voc
    from vocbench.nms import batched_nms, soft_nms
    from vocbench.stats import DatasetStats, compute_stats
    from vocbench.structures import VOC_CLASSES, Dataset, Detections

#: Kept literal for type checkers and linters; tests/test_startup.py checks it lists exactly _PUBLIC + the above.
__all__ = ["__version__", "VOC_CLASSES", "Dataset", "Detections", "load_voc", "read_detections", "evaluate",
           "EvalResult", "IoUKMeans", "analyze_anchors", "ssd_default_boxes", "compute_stats", "DatasetStats",
           "batched_nms", "soft_nms", "VocbenchError", "VocbenchWarning", "InputError",
           "VocEvaluator", "load_ground_truth", "diagnose", "Diagnosis", "compare", "Comparison",
           "box_iou", "box_area", "box_convert", "init_as_pycocotools", "restore_pycocotools"]


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)


class _Package(types.ModuleType):
    """Keeps a public name that is also a subpackage's name (``vocbench.diagnose``: the function, as an eager
    ``from vocbench.diagnose import diagnose`` here would) when the import system binds the subpackage on us."""

    def __setattr__(self, name: str, value) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return  # resolved by __getattr__ on first access
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
