"""Slow, obviously-correct twins of vocbench.boxes, written after the devkit's ``VOCevaldet.m`` loop.

The devkit computes, for a detection ``bb`` and a ground-truth box ``bbgt``::

    bi = [max(bb(1), bbgt(1)); max(bb(2), bbgt(2)); min(bb(3), bbgt(3)); min(bb(4), bbgt(4))];
    iw = bi(3) - bi(1) + 1;  ih = bi(4) - bi(2) + 1;
    if iw > 0 & ih > 0
        ua = (bb(3) - bb(1) + 1) * (bb(4) - bb(2) + 1) + (bbgt(3) - bbgt(1) + 1) * (bbgt(4) - bbgt(2) + 1) - iw * ih;
        ov = iw * ih / ua;

with no rule for inverted boxes; ``offset`` generalises the ``+ 1`` (0 for the continuous convention).
"""

from __future__ import annotations

__all__ = ["devkit_iou", "devkit_iou_matrix", "wh_iou_ref"]


def devkit_iou(bb, bbgt, offset=1.0):
    bi = [max(bb[0], bbgt[0]), max(bb[1], bbgt[1]), min(bb[2], bbgt[2]), min(bb[3], bbgt[3])]
    iw = bi[2] - bi[0] + offset
    ih = bi[3] - bi[1] + offset
    if iw > 0 and ih > 0:
        ua = (bb[2] - bb[0] + offset) * (bb[3] - bb[1] + offset) \
            + (bbgt[2] - bbgt[0] + offset) * (bbgt[3] - bbgt[1] + offset) - iw * ih
        return iw * ih / ua
    return 0.0


def devkit_iou_matrix(boxes1, boxes2, offset=1.0):
    return [[devkit_iou(a, b, offset) for b in boxes2] for a in boxes1]


def wh_iou_ref(wh1, wh2):
    """Aligned (w, h) IoU: the rectangles [0, w] x [0, h] overlap in min(w) x min(h)."""
    out = []
    for w1, h1 in wh1:
        row = []
        for w2, h2 in wh2:
            inter = min(w1, w2) * min(h1, h2)
            row.append(inter / (w1 * h1 + w2 * h2 - inter))
        out.append(row)
    return out
