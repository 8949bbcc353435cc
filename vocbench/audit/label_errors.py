"""Label-error candidates from detectors' predictions: annotations that are probably wrong, ranked.

The detectors must not have been trained on the images audited (out-of-sample), or they will have learned the
errors. IoUs are the devkit's (VOC '+1' pixels). Difficult objects are "don't care", as in the devkit: they are
never flagged, and a detection on one is never a ``missing`` candidate. With ``D`` detectors:

* ``missing`` — a confident detection (score ``>= min_score``) with IoU ``< near_iou`` with every annotation of
  any class (difficult included): an object nobody annotated. Per detector, overlapping candidates (IoU ``>=
  match_iou``, any class) keep the highest score; across detectors, candidates are clustered the same way and
  the score is the sum of each detector's best score in the cluster over ``D`` (agreement ranks higher).
* ``wrong_class`` — a non-difficult annotation of class ``c`` covered (IoU ``>= match_iou``) by a confident
  detection of another class ``c'`` that matches no annotation of ``c'``, scoring higher than the best ``c``
  detection on it. Score: the difference of the two scores, averaged over detectors (0 for a detector that does
  not flag it); ``suggested_class`` is ``c'`` of the detector with the largest difference.
* ``badloc`` — a non-difficult annotation that no confident detection of its class matches (IoU ``>=
  match_iou``) while a confident one of its class, for which it is the best-overlapping annotation, overlaps it
  only partly (``badloc_iou <= IoU < match_iou``). Score: that detection's score, averaged over detectors;
  ``suggested_box`` is the detection of the highest score.
* ``spurious`` — a non-difficult annotation that no detection (any class, any score) of any detector overlaps
  with IoU ``>= near_iou``. Score: ``1 - `` the best such IoU (so in ``(1 - near_iou, 1]``); a high-recall
  detector (low score threshold) is needed for this to mean anything.

Scores rank candidates within a kind; ``label_issues`` lists every kind sorted by score (descending), ties by
kind, image and box order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vocbench.audit import _kernels
from vocbench.boxes import box_iou
from vocbench.errors import InputError
from vocbench.structures import Dataset, Detections

__all__ = ["LabelIssues", "find_label_issues", "LABEL_ISSUE_KINDS"]

LABEL_ISSUE_KINDS = ("missing", "wrong_class", "badloc", "spurious")
_COLUMNS = ["image_id", "kind", "class", "xmin", "ymin", "xmax", "ymax", "score", "object", "image_index",
            "suggested_class", "sx1", "sy1", "sx2", "sy2", "detectors"]


@dataclass(frozen=True)
class LabelIssues:
    """Ranked label-error candidates (:func:`find_label_issues`).

    Attributes:
        table: one row per candidate, sorted by score: ``image_id``, ``kind``, ``class`` (the annotated class;
            ``missing``: the detected one), the box ``xmin ymin xmax ymax`` (VOC pixels: the annotation's, or the
            detection's for ``missing``), ``score``, ``object`` (row in the dataset's object table, -1 for
            ``missing``), ``image_index``, ``suggested_class`` and ``sx1 sy1 sx2 sy2`` (the detection that raised
            it; ``wrong_class``/``badloc``), ``detectors`` (how many flagged it).
        detectors: the detectors' names; settings: the thresholds.
    """

    table: pd.DataFrame = field(repr=False)
    detectors: tuple[str, ...]
    settings: dict

    def to_pandas(self, kind: str | None = None) -> pd.DataFrame:
        """All candidates, or those of one ``kind``."""
        if kind is None:
            return self.table
        if kind not in LABEL_ISSUE_KINDS:
            raise ValueError(f"kind must be one of {LABEL_ISSUE_KINDS}, got {kind!r}")
        return self.table[self.table["kind"] == kind].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        return {k: int((self.table["kind"] == k).sum()) for k in LABEL_ISSUE_KINDS}

    def entries(self, limit: int | None = None) -> list[dict]:
        """The ``label_issues`` JSON entries: ``image_id``, ``kind``, ``class``, ``box``, ``score`` (+ the rest)."""
        t = self.table if limit is None else self.table.head(limit)
        out = []
        for r in t.to_dict("records"):
            e = {"image_id": r["image_id"], "kind": r["kind"], "class": r["class"],
                 "box": [r["xmin"], r["ymin"], r["xmax"], r["ymax"]], "score": float(r["score"]),
                 "object": int(r["object"]), "detectors": int(r["detectors"])}
            if r["suggested_class"]:
                e["suggested_class"] = r["suggested_class"]
            if np.isfinite(r["sx1"]):
                e["suggested_box"] = [r["sx1"], r["sy1"], r["sx2"], r["sy2"]]
            out.append(e)
        return out

    def to_dict(self, limit: int | None = None) -> dict:
        return {"detectors": list(self.detectors), "settings": dict(self.settings), "counts": self.counts(),
                "label_issues": self.entries(limit)}

    def __str__(self) -> str:
        c = self.counts()
        return (f"label-error candidates from {', '.join(self.detectors)}: "
                + ", ".join(f"{k} {v}" for k, v in c.items()))


def _grouped(image_index: np.ndarray, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(image_index, kind="stable")
    starts = np.searchsorted(image_index[order], np.arange(n_images + 1)).astype(np.int64)
    return order, starts


def _overlaps(dataset: Dataset, dets: Detections, g_order, g_starts, match_iou, min_score,
              near_iou) -> dict[str, np.ndarray]:
    """The kernel's per-detection and per-annotation arrays, back in the callers' row order."""
    d_order, d_starts = _grouped(dets.image_index, dataset.num_images)
    res = _kernels.detection_overlaps(
        np.ascontiguousarray(dataset.boxes[g_order]), dataset.class_index[g_order], dataset.difficult[g_order],
        g_starts, np.ascontiguousarray(dets.boxes[d_order]), dets.class_index[d_order], dets.scores[d_order],
        d_starts, float(match_iou), float(min_score), float(near_iou))
    names = ("any_iou", "dont_care_iou", "same_iou", "same_gt", "same_score", "other_score", "other_class",
             "near_iou", "near_score", "near_same_score")
    out = {}
    for name, arr in zip(names, res):
        order = d_order if name in names[:4] else g_order
        back = np.empty_like(arr)
        back[order] = arr
        out[name] = back
    gt_rows = out["same_gt"] >= 0
    out["same_gt"][gt_rows] = g_order[out["same_gt"][gt_rows]]  # kernel rows → dataset rows
    return out


def _dedupe(boxes: np.ndarray, scores: np.ndarray, image: np.ndarray, iou: float) -> np.ndarray:
    """Greedy, class-agnostic: the cluster id of every row, the row of its head (highest score first, ties by
    row; a row joins the first head it overlaps with IoU ``>= iou``)."""
    cluster = np.full(len(scores), -1, np.int64)
    order = np.lexsort((np.arange(len(scores)), -scores, image))
    bounds = np.flatnonzero(np.r_[True, image[order][1:] != image[order][:-1], True])
    for a, z in zip(bounds[:-1], bounds[1:]):
        rows = order[a:z]
        ious = box_iou(boxes[rows], boxes[rows])
        for i, r in enumerate(rows):
            if cluster[r] >= 0:
                continue
            cluster[r] = r
            free = cluster[rows] < 0
            cluster[rows[free & (ious[i] >= iou)]] = r
    return cluster


def _explains_badloc(ov: dict, min_score: float, near_iou: float) -> np.ndarray:
    """bool[N]: detections that overlap an annotation of their class (IoU >= near_iou) that no confident
    detection matches — they point at a badly placed box, not at a missing one."""
    g = ov["same_gt"]
    out = (g >= 0) & (ov["same_iou"] >= near_iou)
    out[out] = ov["same_score"][g[out]] < min_score
    return out


def _missing(dataset, dets_list, ov_list, min_score, missing_iou, match_iou, near_iou) -> list[dict]:
    parts = []
    for k, (dets, ov) in enumerate(zip(dets_list, ov_list)):
        m = (dets.scores >= min_score) & (ov["any_iou"] < missing_iou) & (ov["dont_care_iou"] < missing_iou)
        m &= ~_explains_badloc(ov, min_score, near_iou)
        parts.append((k, np.flatnonzero(m)))
    boxes = np.concatenate([dets_list[k].boxes[r] for k, r in parts]) if parts else np.zeros((0, 4))
    if len(boxes) == 0:
        return []
    scores = np.concatenate([dets_list[k].scores[r] for k, r in parts])
    image = np.concatenate([dets_list[k].image_index[r] for k, r in parts])
    cls = np.concatenate([dets_list[k].class_index[r] for k, r in parts])
    who = np.concatenate([np.full(len(r), k) for k, r in parts])
    cluster = _dedupe(boxes, scores, image, match_iou)
    best = np.zeros((len(dets_list), len(scores)))  # [detector, cluster head]: that detector's best score in it
    np.maximum.at(best, (who, cluster), scores)
    heads = np.flatnonzero(cluster == np.arange(len(scores)))
    return [_row(dataset, "missing", int(image[c]), int(cls[c]), boxes[c], best[:, c].sum() / len(dets_list), -1,
                 int((best[:, c] > 0).sum())) for c in heads]


def _row(dataset, kind, image, cls, box, score, obj, n, suggested_class="", suggested_box=None) -> dict:
    sb = suggested_box if suggested_box is not None else (np.nan,) * 4
    return {"image_id": str(dataset.image_ids[image]), "kind": kind, "class": dataset.classes[cls],
            "xmin": float(box[0]), "ymin": float(box[1]), "xmax": float(box[2]), "ymax": float(box[3]),
            "score": float(score), "object": obj, "image_index": image, "suggested_class": suggested_class,
            "sx1": float(sb[0]), "sy1": float(sb[1]), "sx2": float(sb[2]), "sy2": float(sb[3]), "detectors": n}


def _per_annotation(dataset, dets_list, ov_list, min_score, match_iou, near_iou) -> list[dict]:
    m = dataset.num_objects
    D = len(dets_list)
    wc = np.zeros((D, m))
    wc_cls = np.full((D, m), -1, np.int64)
    bl = np.zeros((D, m))
    bl_det = np.full((D, m), -1, np.int64)
    for k, (dets, ov) in enumerate(zip(dets_list, ov_list)):
        flag = (ov["other_score"] >= min_score) & (ov["other_score"] > ov["same_score"]) & ~dataset.difficult
        wc[k, flag] = (ov["other_score"] - ov["same_score"])[flag]
        wc_cls[k] = ov["other_class"]
        cand = np.flatnonzero((dets.scores >= min_score) & (ov["same_gt"] >= 0) & (ov["same_iou"] >= near_iou)
                              & (ov["same_iou"] < match_iou))
        for d in cand[ov["same_score"][ov["same_gt"][cand]] < min_score]:
            g = ov["same_gt"][d]
            if dets.scores[d] > bl[k, g]:
                bl[k, g] = dets.scores[d]
                bl_det[k, g] = d
    rows = []
    for g in np.flatnonzero(wc.any(axis=0)):
        k = int(np.argmax(wc[:, g]))
        rows.append(_row(dataset, "wrong_class", int(dataset.image_index[g]), int(dataset.class_index[g]),
                         dataset.boxes[g], wc[:, g].mean(), int(g), int((wc[:, g] > 0).sum()),
                         suggested_class=dataset.classes[wc_cls[k, g]]))
    for g in np.flatnonzero(bl.any(axis=0)):
        k = int(np.argmax(bl[:, g]))
        rows.append(_row(dataset, "badloc", int(dataset.image_index[g]), int(dataset.class_index[g]),
                         dataset.boxes[g], bl[:, g].mean(), int(g), int((bl[:, g] > 0).sum()),
                         suggested_box=dets_list[k].boxes[bl_det[k, g]]))
    return rows


def _recall_by_size(dataset: Dataset, found: np.ndarray, bins: int = 10) -> np.ndarray:
    """Per annotation: the share of non-difficult annotations of similar relative size (``sqrt(area / image
    area)``, ``bins`` quantile bins) that the detectors found — how surprising a miss of this size is."""
    w = np.maximum(dataset.boxes[:, 2] - dataset.boxes[:, 0] + 1.0, 0.0)
    h = np.maximum(dataset.boxes[:, 3] - dataset.boxes[:, 1] + 1.0, 0.0)
    img_area = np.maximum(dataset.widths * dataset.heights, 1)[dataset.image_index].astype(np.float64)
    rel = np.sqrt(w * h / img_area)
    ref = ~dataset.difficult
    if not ref.any():
        return np.zeros(dataset.num_objects)
    edges = np.unique(np.quantile(rel[ref], np.linspace(0, 1, bins + 1)[1:-1]))
    b = np.searchsorted(edges, rel, side="right")
    hits = np.bincount(b[ref], weights=found[ref].astype(np.float64), minlength=len(edges) + 1)
    total = np.bincount(b[ref], minlength=len(edges) + 1)
    return (hits / np.maximum(total, 1))[b]


def _spurious(dataset, ov_list, min_score) -> list[dict]:
    near = np.max([ov["near_score"] for ov in ov_list], axis=0)
    support = np.max([ov["near_same_score"] for ov in ov_list], axis=0)
    recall = _recall_by_size(dataset, near >= min_score)
    flag = (near < min_score) & ~dataset.difficult
    return [_row(dataset, "spurious", int(dataset.image_index[g]), int(dataset.class_index[g]), dataset.boxes[g],
                 recall[g] * (1.0 - support[g]), int(g), len(ov_list)) for g in np.flatnonzero(flag)]


def find_label_issues(dataset: Dataset, detections: Detections | Sequence[Detections], *,
                      names: Sequence[str] | None = None, min_score: float = 0.5, match_iou: float = 0.5,
                      missing_iou: float = 0.5, near_iou: float = 0.1) -> LabelIssues:
    """Rank likely annotation errors of ``dataset`` from one or more detectors (see the module docstring).

    Args:
        dataset: the annotations audited.
        detections: one :class:`~vocbench.Detections` or several (each for ``dataset``'s images).
        names: a name per detector (default: their ``source``).
        min_score: score of a confident detection (default 0.5).
        match_iou: IoU of a match (default 0.5, ``>=``, the devkit's).
        near_iou: below this IoU a detection is "nowhere near" an annotation (default 0.1).
        badloc_iou: the lowest IoU of a ``badloc`` overlap (default 0.1).

    Returns:
        :class:`LabelIssues`, sorted by score.
    """
    dets_list = [detections] if isinstance(detections, Detections) else list(detections)
    if not dets_list:
        raise InputError("need at least one set of detections")
    for name, v in (("min_score", min_score), ("match_iou", match_iou), ("missing_iou", missing_iou),
                    ("near_iou", near_iou)):
        if not np.isfinite(v) or not 0.0 <= float(v) <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {v}")
    for d in dets_list:
        if len(d) and (d.image_index.min() < 0 or d.image_index.max() >= dataset.num_images
                       or d.class_index.min() < 0 or d.class_index.max() >= dataset.num_classes):
            raise InputError(f"{d.source or 'detections'}: image or class index outside the dataset")
    g_order, g_starts = _grouped(dataset.image_index, dataset.num_images)
    ov_list = [_overlaps(dataset, d, g_order, g_starts, match_iou, min_score, near_iou) for d in dets_list]
    rows = _missing(dataset, dets_list, ov_list, min_score, missing_iou, match_iou, near_iou)
    rows += _per_annotation(dataset, dets_list, ov_list, min_score, match_iou, near_iou)
    rows += _spurious(dataset, ov_list, min_score)
    table = pd.DataFrame(rows, columns=_COLUMNS)
    kind_rank = table["kind"].map({k: i for i, k in enumerate(LABEL_ISSUE_KINDS)})
    area = (table["xmax"] - table["xmin"] + 1).to_numpy() * (table["ymax"] - table["ymin"] + 1).to_numpy()
    order = np.lexsort((table["image_index"].to_numpy(), -area, kind_rank.to_numpy(), -table["score"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    names = tuple(names) if names is not None else tuple(d.source or f"detector {i + 1}"
                                                         for i, d in enumerate(dets_list))
    return LabelIssues(table=table, detectors=names,
                       settings={"min_score": min_score, "match_iou": match_iou, "missing_iou": missing_iou,
                                 "near_iou": near_iou})
