"""vocbench: PASCAL VOC dataset reports, exact and fast VOC/COCO detection scoring, NMS and mAP benchmarks.

The public API is curated here; subpackages hold the details (see STYLE.md for the layering). torch is never
imported by vocbench itself.
"""

from __future__ import annotations

__version__ = "0.1.0"

from vocbench.errors import InputError, VocbenchError, VocbenchWarning
from vocbench.structures import VOC_CLASSES, Dataset, Detections
from vocbench.io.voc import load_voc
from vocbench.io.detections import read_detections
from vocbench.eval import EvalResult, VocEvaluator, evaluate
from vocbench.io.gt import load_ground_truth  # VOCdevkit folder, COCO instances.json or YOLO data.yaml
from vocbench.anchors import IoUKMeans, analyze_anchors, ssd_default_boxes
from vocbench.stats import DatasetStats, compute_stats
from vocbench.diagnose import Diagnosis, diagnose
from vocbench.nms import batched_nms, soft_nms  # `nms` itself stays in vocbench.nms (same name as the subpackage)

__all__ = ["__version__", "VOC_CLASSES", "Dataset", "Detections", "load_voc", "read_detections", "evaluate",
           "EvalResult", "IoUKMeans", "analyze_anchors", "ssd_default_boxes", "compute_stats", "DatasetStats",
           "batched_nms", "soft_nms", "VocbenchError", "VocbenchWarning", "InputError",
           "VocEvaluator", "load_ground_truth", "diagnose", "Diagnosis"]
