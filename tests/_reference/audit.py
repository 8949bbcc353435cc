"""Slow, obviously-correct twins of the audit (plain Python loops / plain numpy), and the injected-error
simulation used to measure the label-error ranks."""

from __future__ import annotations

import math

import numpy as np

from vocbench.structures import Dataset, Detections

__all__ = ["assignment_slow", "ssd_match_slow", "detection_overlaps_slow", "near_duplicates_slow", "iou_voc",
           "simulate_detector", "inject_errors", "precision_at_k"]


def iou_voc(a, b) -> float:
    """IoU of two VOC boxes with inclusive pixels (width = x2 - x1 + 1)."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1.0
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1.0
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    ua = (a[2] - a[0] + 1.0) * (a[3] - a[1] + 1.0) + (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0) - inter
    return inter / ua if ua > 0 else 0.0


def assignment_slow(dataset: Dataset, priors, grids, include_difficult=False):
    """YOLO assignment, one object at a time: cell of the centre, best anchor by aligned IoU (first max), the
    priors split over the heads by area, and a dict of claimed cells / (cell, anchor) slots in annotation order.

    Returns a list of dicts (one per kept object, in image then annotation order)."""
    priors = [tuple(map(float, p)) for p in priors]
    k, n_levels = len(priors), len(grids)
    by_area = sorted(range(k), key=lambda i: (priors[i][0] * priors[i][1], i))
    level_of = {p: rank // (k // n_levels) for rank, p in enumerate(by_area)}
    claimed_cell, claimed_slot, members = set(), set(), {}
    out = []
    for img in range(dataset.num_images):
        for o in range(dataset.num_objects):
            if dataset.image_index[o] != img or (dataset.difficult[o] and not include_difficult):
                continue
            W, H = float(dataset.widths[img]), float(dataset.heights[img])
            x1, y1 = (dataset.boxes[o, 0] - 1) / W, (dataset.boxes[o, 1] - 1) / H
            x2, y2 = (dataset.boxes[o, 2] - 1) / W, (dataset.boxes[o, 3] - 1) / H
            w, h = x2 - x1, y2 - y1
            if w <= 0 or h <= 0:
                continue
            ious = []
            for pw, ph in priors:
                inter = min(w, pw) * min(h, ph)
                ious.append(inter / (w * h + pw * ph - inter))
            anchor = ious.index(max(ious))
            lev = level_of[anchor]
            g = grids[lev]
            col = min(int((x1 + x2) / 2 * g), g - 1)
            row = min(int((y1 + y2) / 2 * g), g - 1)
            cell = (img, lev, row, col)
            lost_cell = cell in claimed_cell
            lost_slot = (cell, anchor) in claimed_slot
            claimed_cell.add(cell)
            claimed_slot.add((cell, anchor))
            members.setdefault(cell, []).append(len(out))
            out.append({"object": o, "anchor": anchor, "level": lev, "lost_cell": lost_cell,
                        "lost_cell_anchor": lost_slot})
    for rows in members.values():
        for r in rows:
            out[r]["shared"] = len(rows) > 1
    return out


def ssd_match_slow(boxes, image_index, n_images, prior_boxes, threshold=0.5):
    """ssd.pytorch's ``match`` against every default box (``prior_boxes``: float[P, 4] cx, cy, w, h), image by
    image, with the full objects × priors IoU matrix. Returns ``(best_iou, positives)``."""
    px1 = prior_boxes[:, 0] - 0.5 * prior_boxes[:, 2]
    px2 = prior_boxes[:, 0] + 0.5 * prior_boxes[:, 2]
    py1 = prior_boxes[:, 1] - 0.5 * prior_boxes[:, 3]
    py2 = prior_boxes[:, 1] + 0.5 * prior_boxes[:, 3]
    pa = prior_boxes[:, 2] * prior_boxes[:, 3]
    best = np.zeros(len(boxes))
    pos = np.zeros(len(boxes), np.int64)
    for im in range(n_images):
        rows = np.flatnonzero(image_index == im)
        if len(rows) == 0:
            continue
        ious = []
        for o in rows:
            x1, y1, x2, y2 = boxes[o]
            iw = np.minimum(x2, px2) - np.maximum(x1, px1)
            ih = np.minimum(y2, py2) - np.maximum(y1, py1)
            inter = iw * ih
            ious.append(np.where((iw > 0) & (ih > 0), inter / ((x2 - x1) * (y2 - y1) + pa - inter), 0.0))
        m = np.array(ious)
        best_prior = m.argmax(axis=1)  # first maximum: the lowest prior index
        best[rows] = m.max(axis=1)
        owner = m.argmax(axis=0)  # first maximum: the lowest object
        owner_iou = m.max(axis=0)
        for j in range(len(rows)):  # every object takes its best prior; later objects override
            owner[best_prior[j]] = j
            owner_iou[best_prior[j]] = 2.0
        for p in np.flatnonzero(owner_iou >= threshold):
            pos[rows[owner[p]]] += 1
    return best, pos


def detection_overlaps_slow(ds: Dataset, dets: Detections, match_iou, min_score, near_iou):
    """Plain loops over every (detection, annotation) pair of an image: the kernel's ten arrays."""
    n, m = len(dets), ds.num_objects
    any_iou, dc_iou, same_iou = [0.0] * n, [0.0] * n, [0.0] * n
    same_gt = [-1] * n
    same_score, other_score, near, near_score = [0.0] * m, [0.0] * m, [0.0] * m, [0.0] * m
    near_same = [0.0] * m
    other_class = [-1] * m
    for d in range(n):
        for g in range(m):
            if ds.image_index[g] != dets.image_index[d]:
                continue
            v = iou_voc(dets.boxes[d], ds.boxes[g])
            near[g] = max(near[g], v)
            if v >= near_iou:
                near_score[g] = max(near_score[g], dets.scores[d])
            if v >= near_iou and ds.class_index[g] == dets.class_index[d]:
                near_same[g] = max(near_same[g], dets.scores[d])
            if ds.difficult[g]:
                dc_iou[d] = max(dc_iou[d], v)
                continue
            any_iou[d] = max(any_iou[d], v)
            if ds.class_index[g] == dets.class_index[d]:
                if v > same_iou[d]:
                    same_iou[d], same_gt[d] = v, g
                if v >= match_iou:
                    same_score[g] = max(same_score[g], dets.scores[d])
    for d in range(n):
        if dets.scores[d] < min_score or same_iou[d] >= match_iou:
            continue
        for g in range(m):
            if (ds.image_index[g] != dets.image_index[d] or ds.difficult[g]
                    or ds.class_index[g] == dets.class_index[d]):
                continue
            if iou_voc(dets.boxes[d], ds.boxes[g]) >= match_iou and dets.scores[d] > other_score[g]:
                other_score[g], other_class[g] = dets.scores[d], int(dets.class_index[d])
    return [np.array(x) for x in (any_iou, dc_iou, same_iou, same_gt, same_score, other_score, other_class, near,
                                  near_score, near_same)]


def near_duplicates_slow(ds: Dataset, threshold):
    """Sorted (first, second) object pairs of one image and class with IoU > threshold."""
    out = []
    for a in range(ds.num_objects):
        for b in range(a + 1, ds.num_objects):
            if ds.image_index[a] == ds.image_index[b] and ds.class_index[a] == ds.class_index[b] and \
                    iou_voc(ds.boxes[a], ds.boxes[b]) > threshold:
                out.append((a, b))
    return sorted(out)


# ---------------------------------------------------------------------------------- injected-error measurement
def simulate_detector(ds: Dataset, seed: int, hardness_seed: int = 0) -> Detections:
    """A detector that saw clean data, on the clean annotations ``ds``.

    Every object has a hardness shared by all simulated detectors (real detectors trained on the same data miss
    the same hard objects): it is found when ``0.8 hardness + 0.2 u < p``, p = 0.6 / 0.9 / 0.97 for relative
    sizes ``sqrt(area / image area)`` < 0.1 / < 0.25 / larger. A found object gives a box jittered by N(0, 6%) of
    its size with score Beta(6, 2); 30% get a looser duplicate at a lower score, 10% a low-score (Beta(2, 5))
    detection of another class. 70% of all objects (found or not) get a low-score (Beta(1, 10)) loose box
    (a high-recall detector at a low threshold). Every image gets Poisson(4) random background boxes with score
    Beta(1, 12), 2% of them confident (Beta(5, 3)) — confident false positives on background.
    """
    rng = np.random.default_rng(seed)
    hardness = np.random.default_rng(hardness_seed).random(ds.num_objects)
    img, cls, sc, bx = [], [], [], []

    def emit(i, c, s, b):
        W, H = ds.widths[i], ds.heights[i]
        b = np.clip(b, 1, [W, H, W, H])
        if b[2] > b[0] and b[3] > b[1]:
            img.append(i)
            cls.append(c)
            sc.append(s)
            bx.append(b)

    nc = ds.num_classes
    for o in range(ds.num_objects):
        i, c, b = int(ds.image_index[o]), int(ds.class_index[o]), ds.boxes[o]
        w, h = b[2] - b[0] + 1, b[3] - b[1] + 1
        rel = math.sqrt(w * h / (ds.widths[i] * ds.heights[i]))
        p_det = 0.6 if rel < 0.1 else (0.9 if rel < 0.25 else 0.97)
        if 0.8 * hardness[o] + 0.2 * rng.random() < p_det:
            emit(i, c, rng.beta(6, 2), b + rng.normal(0, 0.06, 4) * [w, h, w, h])
            if rng.random() < 0.3:
                emit(i, c, rng.beta(6, 2) * rng.uniform(0.2, 0.6), b + rng.normal(0, 0.15, 4) * [w, h, w, h])
            if rng.random() < 0.1:
                emit(i, (c + rng.integers(1, nc)) % nc, rng.beta(2, 5), b + rng.normal(0, 0.08, 4) * [w, h, w, h])
        if rng.random() < 0.7:
            emit(i, c, rng.beta(1, 10), b + rng.normal(0, 0.25, 4) * [w, h, w, h])
    for i in range(ds.num_images):
        W, H = ds.widths[i], ds.heights[i]
        for _ in range(rng.poisson(4)):
            x, y = rng.uniform(1, W), rng.uniform(1, H)
            bw, bh = rng.uniform(0.05, 0.4) * W, rng.uniform(0.05, 0.4) * H
            s = rng.beta(1, 12) if rng.random() > 0.02 else rng.beta(5, 3)
            emit(i, int(rng.integers(nc)), s, np.array([x, y, x + bw, y + bh]))
    return Detections(np.array(img), np.array(cls), np.array(sc), np.array(bx).reshape(-1, 4), source=f"sim{seed}")


def inject_errors(ds: Dataset, k: int, seed: int):
    """``k`` errors of each kind on distinct, uniformly drawn non-difficult objects of ``ds``: remove (missing),
    relabel to another class (wrong_class), shift by half the width or height towards the image's centre
    (badloc: IoU 1/3 with the true box), and add boxes of 15-40% of the image side of a random class where no
    annotation overlaps (spurious). Returns ``(corrupted dataset, truth)``; truth maps a kind to the corrupted
    dataset's object rows (missing: ``(image_index, boxes)`` of the removed objects)."""
    from vocbench.boxes import box_iou

    rng = np.random.default_rng(seed)
    pick = rng.choice(np.flatnonzero(~ds.difficult), 3 * k, replace=False)
    missing, wrong, bad = pick[:k], pick[k:2 * k], pick[2 * k:]
    boxes, cls = ds.boxes.copy(), ds.class_index.copy()
    cls[wrong] = (cls[wrong] + rng.integers(1, ds.num_classes, k)) % ds.num_classes
    for o in bad:
        b = boxes[o]
        W, H = ds.widths[ds.image_index[o]], ds.heights[ds.image_index[o]]
        if rng.random() < 0.5:
            b[[0, 2]] += 0.5 * (b[2] - b[0] + 1) * (1 if b[0] - 1 < W - b[2] else -1)
        else:
            b[[1, 3]] += 0.5 * (b[3] - b[1] + 1) * (1 if b[1] - 1 < H - b[3] else -1)
    keep = np.ones(ds.num_objects, bool)
    keep[missing] = False
    sp_img, sp_box = [], []
    while len(sp_img) < k:
        i = int(rng.integers(ds.num_images))
        W, H = ds.widths[i], ds.heights[i]
        bw, bh = rng.uniform(0.15, 0.4) * W, rng.uniform(0.15, 0.4) * H
        x, y = rng.uniform(1, W - bw), rng.uniform(1, H - bh)
        b = np.array([[x, y, x + bw, y + bh]])
        others = ds.boxes[ds.image_index == i]
        if len(others) and box_iou(b, others).max() > 0.0:
            continue
        sp_img.append(i)
        sp_box.append(b[0])
    image_index = np.r_[ds.image_index[keep], sp_img]
    order = np.argsort(image_index, kind="stable")
    new = Dataset.from_arrays(
        image_ids=ds.image_ids, widths=ds.widths, heights=ds.heights, image_index=image_index[order],
        class_index=np.r_[cls[keep], rng.integers(ds.num_classes, size=k)][order],
        boxes=np.r_[boxes[keep], np.array(sp_box)][order],
        difficult=np.r_[ds.difficult[keep], np.zeros(k, bool)][order], classes=ds.classes)
    new_row = np.empty(len(order), np.int64)
    new_row[order] = np.arange(len(order))
    old_to_new = np.full(ds.num_objects, -1)
    old_to_new[np.flatnonzero(keep)] = new_row[:keep.sum()]
    truth = {"missing": (ds.image_index[missing], ds.boxes[missing]), "wrong_class": set(old_to_new[wrong].tolist()),
             "badloc": set(old_to_new[bad].tolist()), "spurious": set(new_row[keep.sum():].tolist())}
    return new, truth


def precision_at_k(issues, truth, k: int) -> dict[str, int]:
    """Hits among the top ``k`` candidates of each kind (missing: a candidate box of IoU >= 0.5 with a removed
    object of its image)."""
    out = {}
    for kind in ("missing", "wrong_class", "badloc", "spurious"):
        top = issues.to_pandas(kind).head(k)
        if kind == "missing":
            img, boxes = truth["missing"]
            hits = 0
            for r in top.itertuples():
                cand = [iou_voc((r.xmin, r.ymin, r.xmax, r.ymax), b) for b in boxes[img == r.image_index]]
                hits += bool(cand and max(cand) >= 0.5)
        else:
            hits = int(top["object"].isin(truth[kind]).sum())
        out[kind] = hits
    return out
