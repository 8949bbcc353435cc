"""``diagnose``: TIDE's error decomposition under VOC or COCO rules, plus sensitivity and confusion.

Error types (TIDE, Bolya et al. 2020; foreground IoU ``t_f = iou``, background ``t_b = background_iou``): every
false positive gets exactly one of **cls**, **loc**, **both**, **dupe**, **bkg** (tested in that order as TIDE
does, see the kernels); a counted GT that no detection matched and no cls/loc error points at is a **miss**.
The dAP of a type is the mAP after TIDE's oracle fix of every error of that type minus the base mAP (clamped at
0, as TIDE does):

* cls / loc: the highest-scored cls-or-loc error of each unmatched GT becomes a TP (a cls error moves to the GT's
  class); every other error of the type is removed. both / dupe / bkg: the errors are removed.
* miss: the missed GT are removed from the positives (npos).
* special **false_pos**: every false positive scored below every TP (perfect precision, same recall);
  **false_neg**: every unmatched GT removed from npos (perfect recall, same precision). Not clamped.

The matching is done once; a fix is a re-labelling of the detections' states (TP / FP / not counted) and classes
or a change of npos, then the protocol's AP code runs on it:

* ``protocol="devkit"`` / ``"voc_eval"``: the evaluator's VOC matching (:func:`vocbench.eval.matching`) and its
  PR-curve and AP kernels. The base AP is exactly :func:`vocbench.evaluate`'s VOC12 mAP; VOC07 dAPs alongside.
  Difficult objects: a detection the matching ignores is neither a TP nor an error; a cls/loc error measured
  against a difficult object is removed by its fix (it would be ignored). A class without positives is left out.
* ``protocol="coco"``: tidecv 1.0.1's rules (``TIDE().evaluate(gt, dets, mode=TIDE.BOX)`` on
  :func:`vocbench.io.coco.export_coco` / ``detections_to_coco``; crowd = difficult): the top 100 detections per
  image over all classes, matching on the first highest same-class IoU ``>= t_f`` (pycocotools' ``bbIou``),
  crowd regions ignoring detections of their class with crowd IoU ``> t_f`` (ignored detections still get an
  error type), 101-point AP with thresholds ``k / 100``, a class with detections but no positives counted with
  AP 0. TIDE's matching differs from pycocotools' (cross-class cap, first-best ties, crowd test), so it cannot
  reuse the COCO evaluator's pass; it has its own kernel (:func:`~vocbench.diagnose._kernels.tide_coco_kernel`).
"""

from __future__ import annotations

import warnings

import numpy as np

from vocbench.diagnose._kernels import tide_ap_kernel, tide_coco_kernel, voc_errors_kernel
from vocbench.diagnose.results import ERROR_TYPES, SPECIAL_TYPES, ConfusionMatrix, Diagnosis
from vocbench.errors import InputError, VocbenchWarning
from vocbench.eval._kernels import (
    ap_voc07_kernel,
    ap_voc12_kernel,
    argsort_desc_stable,
    best_f1_kernel,
    group_by_key,
    pr_curve_kernel,
    stable_partition,
)
from vocbench.eval.evaluator import as_detections
from vocbench.eval.matching import check_iou_threshold, get_protocol, group_for_voc, match_grouped, validate_detections
from vocbench.io.coco import voc_boxes_to_xywh
from vocbench.structures import Dataset

__all__ = ["diagnose", "DIAGNOSE_PROTOCOLS", "TIDE_MAX_DETS"]

DIAGNOSE_PROTOCOLS = ("devkit", "voc_eval", "coco")
#: tidecv's detections kept per image (over all classes) for COCO data.
TIDE_MAX_DETS = 100
_CODE = {t: i for i, t in enumerate(ERROR_TYPES[:5])}


class _Matched:
    """Per-detection result of the one matching pass, and how to score a re-labelled copy of it."""

    def __init__(self, dataset: Dataset, scores: np.ndarray, det_class: np.ndarray, state: np.ndarray,
                 err: np.ndarray, target: np.ndarray, fixable: np.ndarray, matched_gt: np.ndarray,
                 gt_used: np.ndarray, gt_usable: np.ndarray, counted_gt: np.ndarray):
        self.nc = dataset.num_classes
        self.scores = scores
        self.det_class = det_class
        self.state = state
        self.err = err
        self.target = target
        self.fixable = fixable
        self.matched_gt = matched_gt
        self.gt_class = dataset.class_index
        self.counted_gt = counted_gt
        self.npos = np.bincount(dataset.class_index[counted_gt], minlength=self.nc).astype(np.int64)
        self.missed = counted_gt & ~gt_used & ~gt_usable
        self.false_neg = counted_gt & ~gt_used

    def fixes(self):
        """(name, state, class, npos, scores) of each oracle fix."""
        base_cls = self.det_class
        for t in ERROR_TYPES:
            state = self.state.copy()
            cls = base_cls
            npos = self.npos
            if t == "miss":
                npos = self.npos - np.bincount(self.gt_class[self.missed], minlength=self.nc)
            else:
                m = self.err == _CODE[t]
                if t in ("cls", "loc"):
                    ok = m & self.fixable
                    state[m] = 3
                    state[ok] = 1
                    if t == "cls":
                        cls = base_cls.copy()
                        cls[ok] = self.gt_class[self.target[ok]]
                else:
                    state[m] = 3
            yield t, state, cls, npos, None
        fp_scores = np.where(self.state == 1, 1.0, 0.0)
        yield "false_pos", self.state, base_cls, self.npos, fp_scores
        yield "false_neg", self.state, base_cls, self.npos - np.bincount(self.gt_class[self.false_neg],
                                                                         minlength=self.nc), None


def _mean(ap: np.ndarray, include: np.ndarray) -> float:
    return float(np.mean(ap[include])) if include.any() else 0.0


def _check(dataset: Dataset, detections, protocol: str, iou: float, background_iou: float):
    if protocol not in DIAGNOSE_PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(DIAGNOSE_PROTOCOLS)}, got {protocol!r}")
    t = check_iou_threshold(iou)
    tb = float(background_iou)
    if not (0.0 <= tb <= t):
        raise ValueError(f"background_iou must be in [0, iou], got {background_iou}")
    dets = as_detections(dataset, detections)
    validate_detections(dataset, dets)
    return dets, t, tb


def diagnose(dataset: Dataset, detections, protocol: str = "devkit", iou: float = 0.5,
             background_iou: float = 0.1, *, sensitivity: bool = True, confusion: bool = True,
             score_threshold: float | None = None) -> Diagnosis:
    """Decompose the AP lost by ``detections`` into TIDE's error types (module docstring), under VOC or COCO rules.

    Args:
        dataset: the ground truth.
        detections: :class:`~vocbench.structures.Detections`, a DataFrame or a mapping of arrays (as
            :func:`vocbench.evaluate` takes).
        protocol: ``"devkit"`` (default; IoU >= t), ``"voc_eval"`` (IoU > t) or ``"coco"`` (tidecv's rules on the
            COCO export, crowd = difficult).
        iou: the foreground IoU threshold t_f in (0, 1]; default 0.5.
        background_iou: TIDE's background threshold t_b in [0, iou]; default 0.1.
        sensitivity: also compute Hoiem's normalised-AP sensitivity (:class:`~vocbench.diagnose.Sensitivity`).
        confusion: also compute the confusion matrix.
        score_threshold: the confusion matrix counts detections scoring at least this; default (None) each
            class's F1-optimal threshold on the protocol's precision/recall curve (as :func:`vocbench.evaluate`).

    Returns:
        A frozen :class:`~vocbench.diagnose.Diagnosis` (AP units, 0..1).

    Raises:
        InputError: detections that point outside the dataset or hold NaN/inf (as :func:`vocbench.evaluate`).
    """
    dets, t, tb = _check(dataset, detections, protocol, iou, background_iou)
    if score_threshold is not None and not np.isfinite(float(score_threshold)):  # NaN would count nothing
        raise InputError(f"score_threshold must be a finite number, got {score_threshold}")
    ni, nc = dataset.num_images, dataset.num_classes
    n = len(dets)
    rows = np.arange(n, dtype=np.int64)
    gt_rows, gt_img_offsets = group_by_key(dataset.image_index, ni)
    by_score = argsort_desc_stable(dets.scores, rows)
    img_order, img_offsets = stable_partition(by_score, dets.image_index, ni)
    messages: list[str] = []
    inverted = int(np.count_nonzero((dets.boxes[:, 2] < dets.boxes[:, 0]) | (dets.boxes[:, 3] < dets.boxes[:, 1])))
    if inverted:  # as vocbench.evaluate says it
        messages.append(f"{dets.source or 'detections'}: {inverted} detection(s) with an inverted box (xmax < xmin or "
                        "ymax < ymin) count with IoU 0 in VOC matching")

    if protocol == "coco":
        dx = voc_boxes_to_xywh(dets.boxes)
        gx = voc_boxes_to_xywh(dataset.boxes)

        def xyxy(a):
            return np.ascontiguousarray(np.stack([a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]], axis=1))

        state, err, target, fixable, matched_gt, gt_used, gt_usable = tide_coco_kernel(
            img_order, img_offsets, xyxy(dx), dx[:, 2] * dx[:, 3], dets.class_index, gt_img_offsets, gt_rows,
            xyxy(gx), gx[:, 2] * gx[:, 3], dataset.class_index, dataset.difficult, TIDE_MAX_DETS, t, tb)
        mt = _Matched(dataset, dets.scores, dets.class_index, state, err, target, fixable, matched_gt, gt_used,
                      gt_usable, ~dataset.difficult)
        by_image, _ = group_by_key(dets.image_index, ni)
        base_order = argsort_desc_stable(dets.scores, by_image)  # tidecv's insertion order: image, then score
        errors_first, _ = stable_partition(by_image, (state == 1).astype(np.int64), 2)
        fixed_order = argsort_desc_stable(dets.scores, errors_first)  # a fixed run pushes errors, then the TPs
        parts = {"base": stable_partition(base_order, dets.class_index, nc),
                 "fixed": stable_partition(fixed_order, dets.class_index, nc)}

        def score(state_, cls_, npos_, scores_, base=False):
            if scores_ is not None:  # false_pos: TPs scored 1, false positives 0
                order = stable_partition(fixed_order, (scores_ == 0.0).astype(np.int64), 2)[0]
                co, coff = stable_partition(order, cls_, nc)
            elif cls_ is dets.class_index:
                co, coff = parts["base" if base else "fixed"]
            else:
                co, coff = stable_partition(fixed_order, cls_, nc)
            ap, counted = tide_ap_kernel(co, coff, state_, npos_)
            include = (counted > 0) | (npos_ > 0)
            return {"ap": np.where(include, ap, np.nan)}, {"ap": _mean(ap, include)}, (co, coff)

        empty = [dataset.classes[c] for c in np.flatnonzero(mt.npos == 0)]
        if empty:
            messages.append(f"no non-crowd ground truth for {len(empty)} class(es) ({', '.join(empty)}): as in "
                            "tidecv, such a class counts with AP 0 when it has detections, else it is left out")
    else:
        proto = get_protocol(protocol)
        g = group_for_voc(dataset, dets)
        outcome, _ = match_grouped(g, t, proto)
        state = np.where(outcome == 2, 0, outcome).astype(np.int8)
        err, target, fixable, matched_gt, gt_used, gt_usable = voc_errors_kernel(
            img_order, img_offsets, outcome, dets.boxes, dets.class_index, gt_img_offsets, gt_rows, dataset.boxes,
            dataset.class_index, dataset.difficult, t, proto.inclusive, tb)
        mt = _Matched(dataset, dets.scores, dets.class_index, state, err, target, fixable, matched_gt, gt_used,
                      gt_usable, ~dataset.difficult)
        base_npos = mt.npos
        thresholds = np.asarray(proto.voc07_thresholds, np.float64)

        voc_parts = (g.class_order, g.class_offsets)  # = stable_partition(by_score, class_index, nc)

        def score(state_, cls_, npos_, scores_, base=False):
            if scores_ is not None:  # false_pos: TPs scored 1, false positives 0 (after every TP)
                order = stable_partition(by_score, (scores_ == 0.0).astype(np.int64), 2)[0]
                co, coff = stable_partition(order, cls_, nc)
            elif cls_ is dets.class_index:
                co, coff = voc_parts
            else:
                co, coff = stable_partition(by_score, cls_, nc)
            offsets, prec, rec, _, counts = pr_curve_kernel(state_, co, coff, dets.scores, npos_)
            counted = counts[:, 0] + counts[:, 1]
            a12 = ap_voc12_kernel(offsets, prec, rec, npos_)
            a07 = ap_voc07_kernel(offsets, prec, rec, npos_, thresholds)
            gone = (npos_ == 0) & (base_npos > 0)  # every positive fixed away: AP 0 with detections, else out
            include = (base_npos > 0) & ((npos_ > 0) | (counted > 0))
            per = {}
            means = {}
            for k, a in (("ap", a12), ("voc07", a07)):
                a = np.where(gone, 0.0, a)
                per[k] = np.where(include, a, np.nan)
                means[k] = _mean(a, include)
            return per, means, (co, coff)

        empty = [dataset.classes[c] for c in np.flatnonzero(mt.npos == 0)]
        if empty:
            messages.append(f"no non-difficult ground truth for {len(empty)} class(es) ({', '.join(empty)}): "
                            "AP is NaN and left out of mAP")

    base_per, base_mean, (base_co, base_coff) = score(state, dets.class_index, mt.npos, None, base=True)
    keys = list(base_mean)
    errors: dict[str, dict[str, float]] = {k: {} for k in keys}
    special: dict[str, dict[str, float]] = {k: {} for k in keys}
    per_err: dict[str, np.ndarray] = {}
    per_spec: dict[str, np.ndarray] = {}
    for name, st, cls, npos, sc in mt.fixes():
        per, means, _ = score(st, cls, npos, sc)
        for k in keys:
            d = means[k] - base_mean[k]
            if name in SPECIAL_TYPES:
                special[k][name] = d
            else:
                errors[k][name] = max(d, 0.0)
        if name in SPECIAL_TYPES:
            per_spec[name] = per["ap"] - base_per["ap"]
        else:
            per_err[name] = per["ap"] - base_per["ap"]

    counts = {tname: int(np.count_nonzero(err == _CODE[tname])) for tname in ERROR_TYPES[:5]}
    counts["miss"] = int(np.count_nonzero(mt.missed))
    per_counts = {tname: np.bincount(dets.class_index[err == _CODE[tname]], minlength=nc).astype(np.int64)
                  for tname in ERROR_TYPES[:5]}
    per_counts["miss"] = np.bincount(dataset.class_index[mt.missed], minlength=nc).astype(np.int64)

    sens = None
    if sensitivity:
        from vocbench.diagnose.sensitivity import compute_sensitivity

        sens = compute_sensitivity(dataset, state, matched_gt, base_co, base_coff, mt.counted_gt)
    conf = None
    if confusion:
        conf = _confusion(dataset, dets.scores, dets.class_index, state, err, target, matched_gt, base_co, base_coff,
                          mt.npos, mt.counted_gt, score_threshold)

    voc07 = None
    if "voc07" in base_mean:
        voc07 = {"mAP": base_mean["voc07"], "errors": errors["voc07"], "special": special["voc07"]}
    for msg in messages:
        warnings.warn(msg, VocbenchWarning, stacklevel=2)
    return Diagnosis(protocol=protocol, iou_threshold=t, background_iou_threshold=tb, classes=tuple(dataset.classes),
                     mAP=base_mean["ap"], errors=errors["ap"], special=special["ap"], counts=counts,
                     per_class_ap=base_per["ap"], per_class_errors=per_err, per_class_special=per_spec,
                     per_class_counts=per_counts, voc07=voc07, sensitivity=sens, confusion=conf,
                     error_type=err, error_target=target, matched_gt=matched_gt, missed=mt.missed,
                     num_images=ni, num_detections=n, source=dets.source, warnings=tuple(messages))


def _confusion(dataset: Dataset, scores, det_class, state, err, target, matched_gt, class_order, class_offsets, npos,
               counted_gt, score_threshold: float | None = None) -> ConfusionMatrix:
    """Confusion matrix at ``score_threshold`` or each class's F1-optimal score threshold (:class:`ConfusionMatrix`)."""
    nc = dataset.num_classes
    if score_threshold is None:
        offsets, prec, rec, cscores, _ = pr_curve_kernel(state, class_order, class_offsets, scores, npos)
        thr = best_f1_kernel(offsets, prec, rec, cscores, npos)[:, 0]
    else:
        thr = np.full(nc, float(score_threshold))
    keep_thr = np.where(np.isfinite(thr), thr, np.inf)
    kept = (state != 3) & (scores >= keep_thr[det_class])
    mat = np.zeros((nc + 1, nc + 1), np.int64)
    tp = kept & (state == 1)
    np.add.at(mat, (det_class[tp], det_class[tp]), 1)
    cls_err = kept & (state == 0) & (err == _CODE["cls"])
    np.add.at(mat, (dataset.class_index[target[cls_err]], det_class[cls_err]), 1)
    other = kept & (state == 0) & (err != _CODE["cls"])
    np.add.at(mat, (np.full(int(other.sum()), nc), det_class[other]), 1)
    found = np.zeros(dataset.num_objects, np.bool_)
    found[matched_gt[tp]] = True
    missed = counted_gt & ~found
    np.add.at(mat, (dataset.class_index[missed], np.full(int(missed.sum()), nc)), 1)
    return ConfusionMatrix(classes=tuple(dataset.classes), matrix=mat, thresholds=thr)
