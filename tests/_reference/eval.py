"""Slow, obviously-correct twins of the scoring engine (plain Python, written after the devkit / voc_eval.py).

``voc_eval_ref`` follows the structure of the py-faster-rcnn port: for one class, build per-image GT records,
sort that class's detections by score, walk them one by one with a per-image ``det`` flag list, then cumulate
TP/FP and compute AP. Differences from the port are the named protocol switches: the IoU comparison
(``>=`` for the devkit) and the 11 recall thresholds; the sort is stable (``sorted`` with the input index).
"""

from __future__ import annotations

import math

__all__ = ["iou_voc_ref", "box_iou_ref", "voc_ap_ref", "voc_eval_ref", "voc_map_ref", "DEVKIT_THRESHOLDS",
           "VOC_EVAL_THRESHOLDS"]

DEVKIT_THRESHOLDS = [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
VOC_EVAL_THRESHOLDS = [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8,
                       0.9, 1.0]


def iou_voc_ref(a, b, offset=1.0):
    """IoU of two (xmin, ymin, xmax, ymax) boxes, devkit expression; 0 if either box is inverted."""
    if a[2] < a[0] or a[3] < a[1] or b[2] < b[0] or b[3] < b[1]:
        return 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0]) + offset
    ih = min(a[3], b[3]) - max(a[1], b[1]) + offset
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0] + offset) * (a[3] - a[1] + offset) + (b[2] - b[0] + offset) * (b[3] - b[1] + offset) - inter
    if union <= 0:
        return 0.0
    return inter / union


def box_iou_ref(boxes1, boxes2, offset=1.0):
    return [[iou_voc_ref(a, b, offset) for b in boxes2] for a in boxes1]


def voc_ap_ref(rec, prec, use_07, thresholds=DEVKIT_THRESHOLDS):
    """AP of one curve: 11-point (sum of the terms, then / 11) or all-point with sentinels."""
    if use_07:
        total = 0.0
        for t in thresholds:
            ps = [p for r, p in zip(rec, prec) if r >= t]
            total += max(ps) if ps else 0.0
        return total / len(thresholds)
    mrec = [0.0] + list(rec) + [1.0]
    mpre = [0.0] + list(prec) + [0.0]
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def voc_eval_ref(gt, dets, cls, iou=0.5, protocol="devkit"):
    """One class. ``gt``: list of (image, cls, box, difficult); ``dets``: list of (image, cls, score, box).

    Returns (ap07, ap12, outcomes) where outcomes maps detection index → 'tp' / 'fp' / 'dup' / 'ign'.
    """
    inclusive = protocol == "devkit"
    thresholds = DEVKIT_THRESHOLDS if inclusive else VOC_EVAL_THRESHOLDS
    recs: dict = {}
    npos = 0
    for img, c, box, diff in gt:
        if c != cls:
            continue
        r = recs.setdefault(img, {"boxes": [], "difficult": [], "det": []})
        r["boxes"].append(list(box))
        r["difficult"].append(bool(diff))
        r["det"].append(False)
        npos += 0 if diff else 1
    mine = [(i, d) for i, d in enumerate(dets) if d[1] == cls]
    mine = sorted(mine, key=lambda x: (-x[1][2], x[0]))  # descending score, stable
    tp, fp, outcomes = [], [], {}
    for idx, (img, _, _, box) in mine:
        r = recs.get(img)
        ovmax, jmax = -math.inf, -1
        if r is not None:
            for j, g in enumerate(r["boxes"]):
                ov = iou_voc_ref(box, g)
                if ov > ovmax:
                    ovmax, jmax = ov, j
        passes = jmax >= 0 and (ovmax >= iou if inclusive else ovmax > iou)
        if passes:
            if r["difficult"][jmax]:
                outcomes[idx] = "ign"
                tp.append(0)
                fp.append(0)
            elif not r["det"][jmax]:
                r["det"][jmax] = True
                outcomes[idx] = "tp"
                tp.append(1)
                fp.append(0)
            else:
                outcomes[idx] = "dup"
                tp.append(0)
                fp.append(1)
        else:
            outcomes[idx] = "fp"
            tp.append(0)
            fp.append(1)
    if npos == 0:
        return math.nan, math.nan, outcomes
    rec, prec = [], []
    ctp = cfp = 0
    for a, b in zip(tp, fp):
        ctp += a
        cfp += b
        rec.append(ctp / npos)  # an ignored detection repeats the previous point, as in the port
        prec.append(ctp / max(ctp + cfp, 2.220446049250313e-16))
    return voc_ap_ref(rec, prec, True, thresholds), voc_ap_ref(rec, prec, False), outcomes


def voc_map_ref(dataset, detections, iou=0.5, protocol="devkit"):
    """Per-class (ap07, ap12) lists for a vocbench Dataset/Detections pair, via :func:`voc_eval_ref`."""
    gt = list(zip(dataset.image_index.tolist(), dataset.class_index.tolist(), dataset.boxes.tolist(),
                  dataset.difficult.tolist()))
    dets = list(zip(detections.image_index.tolist(), detections.class_index.tolist(), detections.scores.tolist(),
                    detections.boxes.tolist()))
    ap07, ap12, outcomes = [], [], {}
    for c in range(dataset.num_classes):
        a7, a12, out = voc_eval_ref(gt, dets, c, iou, protocol)
        ap07.append(a7)
        ap12.append(a12)
        outcomes.update(out)
    return ap07, ap12, outcomes
