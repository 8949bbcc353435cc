"""Slow, obviously-correct twins of :func:`vocbench.diagnose` (plain Python, one box at a time) and a tidecv runner.

The twin works on plain lists: ``gt = [(image, cls, (x1, y1, x2, y2), difficult), ...]`` and
``dets = [(image, cls, (x1, y1, x2, y2), score), ...]`` (VOC pixels). It returns
``{"ap": float, "errors": {type: dAP}, "special": {type: dAP}, "counts": {type: n}}`` in AP units.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")


# ------------------------------------------------------------------------------------------------ geometry
def iou_voc(a, b):
    """IoU with the devkit's '+1' inclusive pixels."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1.0
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1.0
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1.0) + (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0) - inter
    return inter / union if union > 0 else 0.0


def to_xywh(b):
    return (b[0] - 1.0, b[1] - 1.0, b[2] - b[0] + 1.0, b[3] - b[1] + 1.0)


def iou_coco(d, g, crowd=False):
    """pycocotools' bbIou on [x, y, w, h] boxes."""
    w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    i = w * h
    u = d[2] * d[3] if crowd else d[2] * d[3] + g[2] * g[3] - i
    return i / u


# ------------------------------------------------------------------------------------------------ AP
def ap_all_point(flags, npos):
    """VOC12: area under the monotone precision envelope (flags: True = TP, in score order)."""
    tp = fp = 0
    rec, prec = [], []
    for f in flags:
        tp += f
        fp += not f
        rec.append(tp / npos)
        prec.append(tp / (tp + fp))
    mrec = [0.0] + rec + [1.0]
    mpre = [0.0] + prec + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


def ap_11_point(flags, npos, thresholds):
    tp = fp = 0
    rec, prec = [], []
    for f in flags:
        tp += f
        fp += not f
        rec.append(tp / npos)
        prec.append(tp / (tp + fp))
    total = 0.0
    for t in thresholds:
        ps = [p for r, p in zip(rec, prec) if r >= t]
        total += max(ps) if ps else 0.0
    return total / len(thresholds)


def ap_tide(flags, npos):
    """tidecv's 101-point AP (AP units): precision at the first recall >= k/100 of the smoothed curve."""
    if npos == 0:
        return 0.0
    tp = fp = 0
    rec, prec = [], []
    for f in flags:
        tp += f
        fp += not f
        rec.append(tp / npos)
        prec.append(tp / (tp + fp))
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = max(prec[i], prec[i + 1])
    total = 0.0
    for k in range(101):
        x = k / 100
        idx = next((i for i, r in enumerate(rec) if r >= x), None)
        total += prec[idx] if idx is not None else 0.0
    return total / 101


def ap_normalized(flags, npos, n_norm):
    """Hoiem's AP_N of one curve: all-point area under the envelope of R·N / (R·N + F)."""
    tp = fp = 0
    rec, prec = [], []
    for f in flags:
        tp += f
        fp += not f
        r = tp / npos
        rec.append(r)
        prec.append(r * n_norm / (r * n_norm + fp) if tp else 0.0)
    return ap_all_point_curve(rec, prec)


def ap_all_point_curve(rec, prec):
    mrec = [0.0] + list(rec) + [1.0]
    mpre = [0.0] + list(prec) + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])


# ------------------------------------------------------------------------------------------------ labelling
def _label_voc(gt, dets, t, inclusive, tb):
    """Per detection: (state, err, target, class) and per GT: missed / false negative, under VOC rules."""
    passes = (lambda v: v >= t) if inclusive else (lambda v: v > t)
    order = sorted(range(len(dets)), key=lambda i: (-dets[i][3], i))
    matched = set()
    outcome = {}
    cand = {}
    for i in order:  # class by class gives the same labels: a GT belongs to one class and image
        im, c, box, _ = dets[i]
        best, jb = -1.0, None
        for j, (gim, gc, gbox, _) in enumerate(gt):
            if gim == im and gc == c:
                v = iou_voc(box, gbox)
                if v > best:
                    best, jb = v, j
        cand[i] = (jb, max(best, 0.0))
        if jb is not None and passes(best):
            if gt[jb][3]:
                outcome[i] = "ign"
            elif jb not in matched:
                outcome[i] = "tp"
                matched.add(jb)
            else:
                outcome[i] = "dup"
        else:
            outcome[i] = "fp"
    labels = {}
    claimed = set()
    usable = set()
    for i in order:
        im, c, box, s = dets[i]
        o = outcome[i]
        if o in ("tp", "ign"):
            labels[i] = (1 if o == "tp" else 3, None, None)
            continue
        other, vo, vall = None, -1.0, 0.0
        for j, (gim, gc, gbox, _) in enumerate(gt):
            if gim != im:
                continue
            v = iou_voc(box, gbox)
            vall = max(vall, v)
            if gc != c and v > vo:
                vo, other = v, j
        jc, vc = cand[i]
        tgt = None
        if o == "fp" and jc is not None and vc >= tb:
            e, tgt = "loc", jc
        elif other is not None and passes(vo):
            e, tgt = "cls", other
        elif o == "dup":
            e = "dupe"
        elif vall < tb:
            e = "bkg"
        else:
            e = "both"
        fix = None
        if tgt is not None and tgt not in matched and not gt[tgt][3]:
            usable.add(tgt)
            if tgt not in claimed:
                claimed.add(tgt)
                fix = gt[tgt][1]
        labels[i] = (0, e, fix)
    counted = [j for j in range(len(gt)) if not gt[j][3]]
    missed = [j for j in counted if j not in matched and j not in usable]
    fneg = [j for j in counted if j not in matched]
    return labels, missed, fneg, order


def _label_tide(gt, dets, t, tb, max_dets=100):
    """tidecv's TIDERun rules on the COCO export (crowd = difficult)."""
    labels = {}
    matched_all, usable = set(), set()
    images = sorted({g[0] for g in gt} | {d[0] for d in dets})
    for im in images:
        preds = sorted([i for i in range(len(dets)) if dets[i][0] == im], key=lambda i: (-dets[i][3], i))[:max_dets]
        reg = [j for j in range(len(gt)) if gt[j][0] == im and not gt[j][3]]
        crowd = [j for j in range(len(gt)) if gt[j][0] == im and gt[j][3]]
        iou = {(i, j): iou_coco(to_xywh(dets[i][2]), to_xywh(gt[j][2])) for i in preds for j in reg}
        used = set()
        state = {}
        for i in preds:
            best, jb = 0.0, None
            for j in reg:
                v = iou[i, j] if (gt[j][1] == dets[i][1] and j not in used) else 0.0
                if jb is None or v > best:
                    best, jb = v, j
            if jb is not None and best >= t:
                used.add(jb)
                state[i] = 1
            else:
                state[i] = 0
        for j in crowd:
            for i in preds:
                if state[i] != 1 and gt[j][1] == dets[i][1] and \
                        iou_coco(to_xywh(dets[i][2]), to_xywh(gt[j][2]), crowd=True) > t:
                    state[i] = 3
        claimed = set()
        for i in preds:
            if state[i] == 1:
                labels[i] = (1, None, None)
                continue
            if not reg:
                labels[i] = (state[i], "bkg", None)
                continue
            c = dets[i][1]

            def argmax(vals):
                b = max(vals)
                return vals.index(b), b

            j1, v1 = argmax([iou[i, j] if gt[j][1] == c else 0.0 for j in reg])
            j2, v2 = argmax([iou[i, j] if gt[j][1] != c else 0.0 for j in reg])
            _, v3 = argmax([iou[i, j] if (gt[j][1] == c and j in used) else 0.0 for j in reg])
            _, v4 = argmax([iou[i, j] for j in reg])
            tgt = None
            if tb <= v1 <= t:
                e, tgt = "loc", reg[j1]
            elif v2 >= t:
                e, tgt = "cls", reg[j2]
            elif v3 >= t:
                e = "dupe"
            elif v4 <= tb:
                e = "bkg"
            else:
                e = "both"
            fix = None
            if tgt is not None and tgt not in used:
                usable.add(tgt)
                if tgt not in claimed:
                    claimed.add(tgt)
                    fix = gt[tgt][1]
            labels[i] = (state[i], e, fix)
        matched_all |= used
    counted = [j for j in range(len(gt)) if not gt[j][3]]
    missed = [j for j in counted if j not in matched_all and j not in usable]
    fneg = [j for j in counted if j not in matched_all]
    return labels, missed, fneg


# ------------------------------------------------------------------------------------------------ fixes
def _fixed_points(dets, labels, fix_type):
    """(class, score, is_tp, is_original_tp, row) of every counted detection after fixing ``fix_type``."""
    out = []
    for i, (state, e, fix) in labels.items():
        c, s = dets[i][1], dets[i][3]
        if state == 1:
            out.append((c, s, True, True, i))
            continue
        if e == fix_type and fix_type in ("cls", "loc"):
            if fix is not None:
                out.append((fix if fix_type == "cls" else c, s, True, False, i))
            continue
        if e == fix_type:
            continue
        if state == 0:
            out.append((c, s, False, False, i))
    return out


def reference_diagnose(gt, dets, num_classes, protocol="devkit", iou=0.5, background_iou=0.1, thresholds=None):
    """The twin. ``thresholds``: VOC07 recall thresholds (the protocol's by default) for the ``voc07`` entry."""
    t, tb = iou, background_iou
    coco = protocol == "coco"
    if coco:
        labels, missed, fneg = _label_tide(gt, dets, t, tb)
        images = {d[0] for d in dets} | {g[0] for g in gt}
        rank = {im: k for k, im in enumerate(sorted(images))}
    else:
        labels, missed, fneg, _ = _label_voc(gt, dets, t, protocol == "devkit", tb)
    npos = [sum(1 for g in gt if g[1] == c and not g[3]) for c in range(num_classes)]
    base_classes = [c for c in range(num_classes) if npos[c] > 0]
    if thresholds is None:  # MATLAB 0:0.1:1 (devkit) or numpy.arange(0., 1.1, 0.1) (voc_eval.py)
        thresholds = (0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
        if protocol == "voc_eval":
            thresholds = tuple(float(x) for x in np.arange(0.0, 1.1, 0.1))
    thr = thresholds

    def mean_ap(points, npos_, base=False, ap_kind="ap"):
        aps = []
        for c in range(num_classes):
            pts = [p for p in points if p[0] == c]
            if coco:
                key = (lambda p: (-p[1], rank[dets[p[4]][0]], p[4])) if base else \
                    (lambda p: (-p[1], p[3], rank[dets[p[4]][0]], p[4]))
            else:
                key = lambda p: (-p[1], p[4])  # noqa: E731
            pts.sort(key=key)
            flags = [p[2] for p in pts]
            if coco:
                if pts or npos_[c] > 0:
                    aps.append(ap_tide(flags, npos_[c]))
            elif c in base_classes:
                if npos_[c] == 0:
                    if pts:
                        aps.append(0.0)
                    continue
                aps.append(ap_all_point(flags, npos_[c]) if ap_kind == "ap" else ap_11_point(flags, npos_[c], thr))
        return sum(aps) / len(aps) if aps else 0.0

    base_pts = _fixed_points(dets, labels, None)
    out = {}
    for kind in (("ap",) if coco else ("ap", "voc07")):
        base = mean_ap(base_pts, npos, base=True, ap_kind=kind)
        errors = {}
        for e in TYPES:
            if e == "miss":
                n2 = list(npos)
                for j in missed:
                    n2[gt[j][1]] -= 1
                val = mean_ap(base_pts, n2, ap_kind=kind)
            else:
                val = mean_ap(_fixed_points(dets, labels, e), npos, ap_kind=kind)
            errors[e] = max(val - base, 0.0)
        fp_pts = [(c, 1.0 if tp else 0.0, tp, orig, i) for c, s, tp, orig, i in base_pts]
        n2 = list(npos)
        for j in fneg:
            n2[gt[j][1]] -= 1
        special = {"false_pos": mean_ap(fp_pts, npos, ap_kind=kind) - base,
                   "false_neg": mean_ap(base_pts, n2, ap_kind=kind) - base}
        out[kind] = {"ap": base, "errors": errors, "special": special}
    counts = {e: sum(1 for lab in labels.values() if lab[1] == e) for e in TYPES[:5]}
    counts["miss"] = len(missed)
    res = dict(out["ap"])
    res["counts"] = counts
    if "voc07" in out:
        res["voc07"] = out["voc07"]
    return res


# ------------------------------------------------------------------------------------------------ tidecv
def run_tidecv(dataset, detections, workdir=None, iou=0.5, background_iou=0.1):
    """tidecv 1.0.1 on the COCO export of ``dataset`` / ``detections`` (box polygons as segmentation).

    Returns ``{"ap", "errors", "special"}`` in AP units (tidecv's percent / 100).
    """
    from tidecv import TIDE, datasets

    from vocbench.io.coco import detections_to_coco, export_coco

    gt = export_coco(dataset)
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    folder = Path(workdir or tempfile.mkdtemp(prefix="vocbench-tide-"))
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "res.json").write_text(json.dumps(detections_to_coco(dataset, detections)))
    g = datasets.COCO(str(folder / "gt.json"))
    p = datasets.COCOResult(str(folder / "res.json"))
    tide = TIDE(pos_threshold=iou, background_threshold=background_iou)
    run = tide.evaluate(g, p, mode=TIDE.BOX)
    main = tide.get_main_errors()[p.name]
    spec = tide.get_special_errors()[p.name]
    names = {"cls": "Cls", "loc": "Loc", "both": "Both", "dupe": "Dupe", "bkg": "Bkg", "miss": "Miss"}
    return {"ap": run.ap / 100, "errors": {k: main[v] / 100 for k, v in names.items()},
            "special": {"false_pos": spec["FalsePos"] / 100, "false_neg": spec["FalseNeg"] / 100},
            "counts": {k: len(run.error_dict[e]) for k, e in zip(names, TIDE._error_types)}}
