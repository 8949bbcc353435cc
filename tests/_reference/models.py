"""Slow, obviously-correct twins of the reference models' target assignment (one Python loop per box)."""

from __future__ import annotations

import math

import numpy as np


def iou_xyxy(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def yolo_assign(boxes, labels, anchors, grid):
    """Per image: {detector index: (label, tx, ty, tw, th)}; first object wins a (cell, anchor) slot."""
    out = {}
    b_count = len(anchors)
    for box, lab in zip(boxes, labels):
        cx, cy = (box[0] + box[2]) / 2 * grid, (box[1] + box[3]) / 2 * grid
        w, h = (box[2] - box[0]) * grid, (box[3] - box[1]) * grid
        col, row = min(int(math.floor(cx)), grid - 1), min(int(math.floor(cy)), grid - 1)
        best, best_iou = 0, -1.0
        for k, (aw, ah) in enumerate(anchors):
            inter = min(w, aw) * min(h, ah)
            iou = inter / (w * h + aw * ah - inter)
            if iou > best_iou:
                best, best_iou = k, iou
        det = (row * grid + col) * b_count + best
        if det in out:
            continue
        out[det] = (int(lab), cx - col, cy - row, math.log(w / anchors[best][0]), math.log(h / anchors[best][1]))
    return out


def ssd_assign(boxes, labels, priors_cxcywh, threshold=0.5):
    """Per image: target label per prior (0 = background); forced best prior per truth, then IoU > threshold."""
    pri = [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) for cx, cy, w, h in priors_cxcywh]
    target = np.zeros(len(pri), np.int64)
    best_gt = np.full(len(pri), -1)
    best_iou = np.zeros(len(pri))
    for j, p in enumerate(pri):
        for g, box in enumerate(boxes):
            v = iou_xyxy(box, p)
            if v > best_iou[j]:
                best_iou[j], best_gt[j] = v, g
    for g, box in enumerate(boxes):
        ious = [iou_xyxy(box, p) for p in pri]
        j = int(np.argmax(ious))
        best_iou[j], best_gt[j] = 2.0, g
    for j in range(len(pri)):
        if best_iou[j] > threshold:
            target[j] = labels[best_gt[j]] + 1
    return target
