"""Anchor (prior box) analysis: IoU k-means, fixed prior sets (YOLO, SSD default boxes), mean IoU and BPR."""

from vocbench.anchors.kmeans import IoUKMeans, iou_kmeans_curve, mean_iou, sse_kmeans_curve, wh_iou

__all__ = ["IoUKMeans", "iou_kmeans_curve", "mean_iou", "sse_kmeans_curve", "wh_iou"]
