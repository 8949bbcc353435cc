"""Anchor (prior box) analysis: IoU k-means, fixed prior sets (YOLO anchors, SSD default boxes), mean IoU, BPR.

Box space: normalised ``(w / W, h / H)`` — every image is squashed to the square network input, as YOLO and SSD
do. Grid units multiply by ``input_size / stride`` (13 for 416 px and stride 32).
"""

from vocbench.anchors.analysis import (
    AnchorAnalysis,
    CurvePoint,
    PriorFit,
    analyze_anchors,
    analyze_dataset_anchors,
    darknet_anchors_line,
    parse_k_range,
)
from vocbench.anchors.kmeans import IoUKMeans, as_wh, iou_kmeans_curve, mean_iou, sse_kmeans_curve, wh_iou
from vocbench.anchors.priors import (
    MOBILENET_SSD,
    SSD300,
    SSD_CONFIGS,
    YOLO_VOC_ANCHORS,
    SSDConfig,
    best_possible_recall,
    normalized_boxes,
    normalized_wh,
    positioned_best_iou,
    ratio_metric,
    ssd_default_boxes,
    ssd_scales,
    unique_shapes,
    yolo_voc_anchors,
)

__all__ = ["AnchorAnalysis", "CurvePoint", "PriorFit", "analyze_anchors", "analyze_dataset_anchors",
           "darknet_anchors_line", "parse_k_range", "IoUKMeans", "as_wh", "iou_kmeans_curve", "mean_iou",
           "sse_kmeans_curve", "wh_iou", "MOBILENET_SSD", "SSD300", "SSD_CONFIGS", "YOLO_VOC_ANCHORS", "SSDConfig",
           "best_possible_recall", "normalized_boxes", "normalized_wh", "positioned_best_iou", "ratio_metric",
           "ssd_default_boxes", "ssd_scales", "unique_shapes", "yolo_voc_anchors"]
