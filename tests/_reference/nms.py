"""Slow, obviously-correct twins of vocbench.nms (plain Python loops, torchvision's IoU expression)."""

from __future__ import annotations

import math

__all__ = ["iou_ref", "nms_ref", "batched_nms_ref", "soft_nms_ref"]


def iou_ref(a, b, offset=0.0):
    """IoU of box ``a`` (the earlier / kept one) and ``b``, torchvision's expression; NaN when the union is 0."""
    area_a = (a[2] - a[0] + offset) * (a[3] - a[1] + offset)
    area_b = (b[2] - b[0] + offset) * (b[3] - b[1] + offset)
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + offset)
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + offset)
    inter = w * h
    union = area_a + area_b - inter
    if union == 0.0:
        return math.nan
    return inter / union


def _order(scores):
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def nms_ref(boxes, scores, thr, offset=0.0):
    boxes = [list(map(float, b)) for b in boxes]
    scores = [float(s) for s in scores]
    keep = []
    for i in _order(scores):
        if all(not (iou_ref(boxes[k], boxes[i], offset) > thr) for k in keep):
            keep.append(i)
    return keep


def batched_nms_ref(boxes, scores, labels, thr, offset=0.0):
    keep = []
    for lab in sorted(set(int(x) for x in labels)):
        rows = [i for i in range(len(scores)) if int(labels[i]) == lab]
        sub = nms_ref([boxes[i] for i in rows], [scores[i] for i in rows], thr, offset)
        keep += [rows[j] for j in sub]
    return sorted(keep, key=lambda i: (-float(scores[i]), i))


def soft_nms_ref(boxes, scores, thr=0.3, method="linear", sigma=0.5, score_threshold=0.001, offset=0.0):
    """Algorithm 1 of the Soft-NMS paper, literally."""
    boxes = [list(map(float, b)) for b in boxes]
    s = {i: float(v) for i, v in enumerate(scores) if float(v) >= score_threshold}
    keep, kept_scores = [], []
    while s:
        m = min(s, key=lambda i: (-s[i], i))
        keep.append(m)
        kept_scores.append(s.pop(m))
        for i in list(s):
            o = iou_ref(boxes[m], boxes[i], offset)
            o = 0.0 if math.isnan(o) else o
            if method == "gaussian":
                s[i] *= math.exp(-(o * o) / sigma)
            elif o >= thr:
                s[i] *= 1.0 - o
            if s[i] < score_threshold:
                del s[i]
    return keep, kept_scores
