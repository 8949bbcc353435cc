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
* ``protocol="coco"``: tidecv 1.0.1's rules (``TIDE().evaluate(gt, dets, mode=TIDE.BOX)``; on data read from
  COCO files, those files as written, ``iscrowd`` the ignore regions; other data through
  :func:`vocbench.io.coco.export_coco` / ``detections_to_coco``, crowd = difficult): the top 100 detections per
  image over all classes, matching on the first highest same-class IoU ``>= t_f`` (pycocotools' ``bbIou``),
  crowd regions ignoring detections of their class with crowd IoU ``> t_f`` (ignored detections still get an
  error type), 101-point AP with thresholds ``k / 100``, a class with detections but no positives counted with
  AP 0. TIDE's matching differs from pycocotools' (cross-class cap, first-best ties, crowd test), so it cannot
  reuse the COCO evaluator's pass; it has its own kernel (:func:`~vocbench.diagnose._kernels.tide_coco_kernel`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol

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
from vocbench.eval.coco import coco_xyxy_and_area
from vocbench.eval.evaluator import as_detections
from vocbench.eval.matching import check_iou_threshold, get_protocol, group_for_voc, match_grouped, validate_detections
from vocbench.eval.outcomes import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_TP
from vocbench.io.coco import voc_boxes_to_xywh
from vocbench.structures import Dataset, Detections

__all__ = ["diagnose", "diagnose_evaluation", "DIAGNOSE_PROTOCOLS", "TIDE_MAX_DETS"]

DIAGNOSE_PROTOCOLS = ("devkit", "voc_eval", "coco")
#: tidecv's detections kept per image (over all classes) for COCO data.
TIDE_MAX_DETS = 100
_CODE = {t: i for i, t in enumerate(ERROR_TYPES[:5])}


@dataclass(frozen=True)
class _Prepared:
    """Validated detections, thresholds, and the groupings every protocol shares."""

    dets: Detections
    iou: float
    background_iou: float
    gt_rows: np.ndarray  # int64[M] object rows grouped by image
    gt_img_offsets: np.ndarray  # int64[I + 1]
    by_score: np.ndarray  # int64[N] detection rows by descending score (stable)
    img_order: np.ndarray  # int64[N] rows by image, descending score within
    img_offsets: np.ndarray  # int64[I + 1]


@dataclass(frozen=True)
class _Labelling:
    """One labelling of the detections: the matching's, or an oracle fix of one error type."""

    name: str  # "base", an error type or a special type
    state: np.ndarray  # int8[N] OUTCOME_TP / OUTCOME_FP / OUTCOME_IGNORED (not counted)
    det_class: np.ndarray  # int64[N]
    npos: np.ndarray  # int64[C]
    fp_last: bool = False  # false_pos: every false positive scored below every TP


@dataclass(frozen=True)
class _Score:
    """AP of one labelling: per class (NaN: left out of the mean) and the mean, by AP kind (``"ap"`` is the
    protocol's AP; ``"voc07"`` the VOC07 11-point AP alongside, VOC protocols only)."""

    per_class: dict[str, np.ndarray]
    mean: dict[str, float]
    class_order: np.ndarray
    class_offsets: np.ndarray


@dataclass(frozen=True)
class _Decomposition:
    """The base score and the dAP of every error type (main: clamped at 0; special: not), by AP kind."""

    base: _Score
    errors: dict[str, dict[str, float]]
    special: dict[str, dict[str, float]]
    per_class_errors: dict[str, np.ndarray]
    per_class_special: dict[str, np.ndarray]


class _Matched:
    """Per-detection result of the one matching pass, and the oracle fixes as re-labellings of it."""

    def __init__(self, dataset: Dataset, det_class: np.ndarray, state: np.ndarray, err: np.ndarray,
                 target: np.ndarray, fixable: np.ndarray, matched_gt: np.ndarray, gt_used: np.ndarray,
                 gt_usable: np.ndarray, counted_gt: np.ndarray):
        self.nc = dataset.num_classes
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

    def base(self) -> _Labelling:
        return _Labelling("base", self.state, self.det_class, self.npos)

    def _fix(self, t: str) -> _Labelling:
        """TIDE's oracle fix of every error of type ``t`` (module docstring)."""
        if t == "miss":
            return _Labelling(t, self.state, self.det_class,
                              self.npos - np.bincount(self.gt_class[self.missed], minlength=self.nc))
        state = self.state.copy()
        cls = self.det_class
        m = self.err == _CODE[t]
        state[m] = OUTCOME_IGNORED  # removed
        if t in ("cls", "loc"):
            ok = m & self.fixable
            state[ok] = OUTCOME_TP
            if t == "cls":
                cls = self.det_class.copy()
                cls[ok] = self.gt_class[self.target[ok]]
        return _Labelling(t, state, cls, self.npos)

    def fixes(self):
        """The :class:`_Labelling` of each oracle fix: the six main types, then the two special ones."""
        for t in ERROR_TYPES:
            yield self._fix(t)
        yield _Labelling("false_pos", self.state, self.det_class, self.npos, fp_last=True)
        yield _Labelling("false_neg", self.state, self.det_class,
                         self.npos - np.bincount(self.gt_class[self.false_neg], minlength=self.nc))


class _Scorer(Protocol):
    """The AP of a labelling under one protocol's rules: :class:`_CocoScorer` or :class:`_VocScorer`."""

    def __call__(self, lab: _Labelling) -> _Score: ...


def _mean(ap: np.ndarray, include: np.ndarray) -> float:
    return float(np.mean(ap[include])) if include.any() else 0.0


class _CocoScorer:
    """tidecv's 101-point AP of a labelling, in tidecv's detection orders."""

    def __init__(self, dets: Detections, state: np.ndarray, num_images: int, num_classes: int):
        self.nc = num_classes
        self.det_class = dets.class_index
        by_image, _ = group_by_key(dets.image_index, num_images)
        base_order = argsort_desc_stable(dets.scores, by_image)  # tidecv's insertion order: image, then score
        errors_first, _ = stable_partition(by_image, (state == OUTCOME_TP).astype(np.int64), 2)
        self.fixed_order = argsort_desc_stable(dets.scores, errors_first)  # a fixed run: errors, then the TPs
        self.base_parts = stable_partition(base_order, dets.class_index, num_classes)
        self.fixed_parts = stable_partition(self.fixed_order, dets.class_index, num_classes)

    def __call__(self, lab: _Labelling) -> _Score:
        if lab.fp_last:  # false_pos: TPs first, false positives after them
            order = stable_partition(self.fixed_order, (lab.state != OUTCOME_TP).astype(np.int64), 2)[0]
            co, coff = stable_partition(order, lab.det_class, self.nc)
        elif lab.det_class is self.det_class:
            co, coff = self.base_parts if lab.name == "base" else self.fixed_parts
        else:
            co, coff = stable_partition(self.fixed_order, lab.det_class, self.nc)
        ap, counted = tide_ap_kernel(co, coff, lab.state, lab.npos)
        include = (counted > 0) | (lab.npos > 0)
        return _Score({"ap": np.where(include, ap, np.nan)}, {"ap": _mean(ap, include)}, co, coff)


class _VocScorer:
    """The evaluator's VOC12 (and VOC07) AP of a labelling, in the evaluator's detection order."""

    def __init__(self, dets: Detections, by_score: np.ndarray, class_parts: tuple[np.ndarray, np.ndarray],
                 base_npos: np.ndarray, voc07_thresholds: np.ndarray, num_classes: int):
        self.nc = num_classes
        self.dets = dets
        self.by_score = by_score
        self.class_parts = class_parts  # = stable_partition(by_score, class_index, nc)
        self.base_npos = base_npos
        self.thresholds = voc07_thresholds

    def __call__(self, lab: _Labelling) -> _Score:
        if lab.fp_last:  # false_pos: TPs first, false positives after every TP
            order = stable_partition(self.by_score, (lab.state != OUTCOME_TP).astype(np.int64), 2)[0]
            co, coff = stable_partition(order, lab.det_class, self.nc)
        elif lab.det_class is self.dets.class_index:
            co, coff = self.class_parts
        else:
            co, coff = stable_partition(self.by_score, lab.det_class, self.nc)
        npos = lab.npos
        offsets, prec, rec, _, counts = pr_curve_kernel(lab.state, co, coff, self.dets.scores, npos)
        counted = counts[:, OUTCOME_FP] + counts[:, OUTCOME_TP]
        gone = (npos == 0) & (self.base_npos > 0)  # every positive fixed away: AP 0 with detections, else out
        include = (self.base_npos > 0) & ((npos > 0) | (counted > 0))
        per, means = {}, {}
        for k, a in (("ap", ap_voc12_kernel(offsets, prec, rec, npos)),
                     ("voc07", ap_voc07_kernel(offsets, prec, rec, npos, self.thresholds))):
            a = np.where(gone, 0.0, a)
            per[k] = np.where(include, a, np.nan)
            means[k] = _mean(a, include)
        return _Score(per, means, co, coff)


def _check(dataset: Dataset, detections, protocol: str, iou: float, background_iou: float,
           score_threshold: float | None) -> _Prepared:
    if protocol not in DIAGNOSE_PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(DIAGNOSE_PROTOCOLS)}, got {protocol!r}")
    t = check_iou_threshold(iou)
    tb = float(background_iou)
    if not (0.0 <= tb <= t):
        raise ValueError(f"background_iou must be in [0, iou], got {background_iou}")
    dets = as_detections(dataset, detections)
    validate_detections(dataset, dets)
    if score_threshold is not None and not np.isfinite(float(score_threshold)):  # NaN would count nothing
        raise InputError(f"score_threshold must be a finite number, got {score_threshold}")
    ni = dataset.num_images
    gt_rows, gt_img_offsets = group_by_key(dataset.image_index, ni)
    by_score = argsort_desc_stable(dets.scores, np.arange(len(dets), dtype=np.int64))
    img_order, img_offsets = stable_partition(by_score, dets.image_index, ni)
    return _Prepared(dets, t, tb, gt_rows, gt_img_offsets, by_score, img_order, img_offsets)


def _inverted_message(dets: Detections) -> list[str]:
    inverted = int(np.count_nonzero((dets.boxes[:, 2] < dets.boxes[:, 0]) | (dets.boxes[:, 3] < dets.boxes[:, 1])))
    if not inverted:
        return []
    return [f"{dets.source or 'detections'}: {inverted} detection(s) with an inverted box (xmax < xmin or "
            "ymax < ymin) count with IoU 0 in VOC matching"]  # as vocbench.evaluate says it


def _coco_geometry(xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO ``[x, y, w, h]`` → (``(x, y, x + w, y + h)`` C-contiguous, ``w * h``): what ``bbIou`` computes with."""
    xyxy, area = coco_xyxy_and_area(np.asarray(xywh, np.float64).reshape(-1, 4))
    return np.ascontiguousarray(xyxy), np.ascontiguousarray(area)


def _match_coco(dataset: Dataset, p: _Prepared) -> tuple[_Matched, _Scorer, list[str]]:
    """tidecv's matching (:func:`~vocbench.diagnose._kernels.tide_coco_kernel`) on the COCO files tidecv would
    read: for data read from COCO the files' ``bbox`` as written and ``iscrowd`` as the ignore regions (tidecv's
    ``datasets.COCO``; an ``ignore: 1`` annotation is ordinary ground truth there), else the COCO export (crowd =
    difficult). Images in the dataset's order: tidecv visits them in the file's ``images`` order."""
    dets = p.dets
    coco = dataset.coco
    gt_xywh = coco.xywh if coco is not None else voc_boxes_to_xywh(dataset.boxes)
    crowd = np.ascontiguousarray(coco.iscrowd if coco is not None else dataset.difficult, np.bool_)
    dxy, darea = _coco_geometry(dets.xywh if dets.xywh is not None else voc_boxes_to_xywh(dets.boxes))
    gxy, garea = _coco_geometry(gt_xywh)
    state, err, target, fixable, matched_gt, gt_used, gt_usable = tide_coco_kernel(
        p.img_order, p.img_offsets, dxy, darea, dets.class_index, p.gt_img_offsets, p.gt_rows, gxy, garea,
        dataset.class_index, crowd, TIDE_MAX_DETS, p.iou, p.background_iou)
    mt = _Matched(dataset, dets.class_index, state, err, target, fixable, matched_gt, gt_used, gt_usable, ~crowd)
    messages = []
    empty = [dataset.classes[c] for c in np.flatnonzero(mt.npos == 0)]
    if empty:
        messages.append(f"no non-crowd ground truth for {len(empty)} class(es) ({', '.join(empty)}): as in "
                        "tidecv, such a class counts with AP 0 when it has detections, else it is left out")
    return mt, _CocoScorer(dets, state, dataset.num_images, dataset.num_classes), messages


def _match_voc(dataset: Dataset, p: _Prepared, protocol: str) -> tuple[_Matched, _Scorer, list[str]]:
    """The evaluator's VOC matching, then TIDE's error types of its false positives (``voc_errors_kernel``)."""
    dets = p.dets
    proto = get_protocol(protocol)
    g = group_for_voc(dataset, dets)
    outcome, _ = match_grouped(g, p.iou, proto)
    state = np.where(outcome == OUTCOME_DUPLICATE, OUTCOME_FP, outcome).astype(np.int8)
    err, target, fixable, matched_gt, gt_used, gt_usable = voc_errors_kernel(
        p.img_order, p.img_offsets, outcome, dets.boxes, dets.class_index, p.gt_img_offsets, p.gt_rows,
        dataset.boxes, dataset.class_index, dataset.difficult, p.iou, proto.inclusive, p.background_iou)
    mt = _Matched(dataset, dets.class_index, state, err, target, fixable, matched_gt, gt_used, gt_usable,
                  ~dataset.difficult)
    scorer = _VocScorer(dets, p.by_score, (g.class_order, g.class_offsets), mt.npos,
                        np.asarray(proto.voc07_thresholds, np.float64), dataset.num_classes)
    messages = []
    empty = [dataset.classes[c] for c in np.flatnonzero(mt.npos == 0)]
    if empty:
        messages.append(f"no non-difficult ground truth for {len(empty)} class(es) ({', '.join(empty)}): "
                        "AP is NaN and left out of mAP")
    return mt, scorer, messages


def _decompose(mt: _Matched, scorer: _Scorer) -> _Decomposition:
    """Score the base labelling and every oracle fix; dAP = fixed mean AP - base mean AP."""
    base = scorer(mt.base())
    errors: dict[str, dict[str, float]] = {k: {} for k in base.mean}
    special: dict[str, dict[str, float]] = {k: {} for k in base.mean}
    per_err: dict[str, np.ndarray] = {}
    per_spec: dict[str, np.ndarray] = {}
    for lab in mt.fixes():
        fixed = scorer(lab)
        is_special = lab.name in SPECIAL_TYPES
        for k in base.mean:
            d = fixed.mean[k] - base.mean[k]
            if is_special:
                special[k][lab.name] = d
            else:
                errors[k][lab.name] = max(d, 0.0)
        (per_spec if is_special else per_err)[lab.name] = fixed.per_class["ap"] - base.per_class["ap"]
    return _Decomposition(base, errors, special, per_err, per_spec)


def _error_counts(dataset: Dataset, det_class: np.ndarray, mt: _Matched) -> tuple[dict[str, int],
                                                                                   dict[str, np.ndarray]]:
    """Errors of each type, overall and per class (a miss counts against its object's class)."""
    nc = dataset.num_classes
    counts = {t: int(np.count_nonzero(mt.err == _CODE[t])) for t in ERROR_TYPES[:5]}
    counts["miss"] = int(np.count_nonzero(mt.missed))
    per = {t: np.bincount(det_class[mt.err == _CODE[t]], minlength=nc).astype(np.int64) for t in ERROR_TYPES[:5]}
    per["miss"] = np.bincount(dataset.class_index[mt.missed], minlength=nc).astype(np.int64)
    return counts, per


def diagnose(dataset: Dataset, detections, protocol: str = "devkit", iou: float = 0.5,
             background_iou: float = 0.1, *, sensitivity: bool = True, confusion: bool = True,
             score_threshold: float | None = None) -> Diagnosis:
    """Decompose the AP lost by ``detections`` into TIDE's error types (module docstring), under VOC or COCO rules.

    Args:
        dataset: the ground truth.
        detections: :class:`~vocbench.structures.Detections`, a DataFrame or a mapping of arrays (as
            :func:`vocbench.evaluate` takes).
        protocol: ``"devkit"`` (default; IoU >= t), ``"voc_eval"`` (IoU > t) or ``"coco"`` (tidecv's rules on
            COCO files as written, crowd = ``iscrowd``; on other data the COCO export, crowd = difficult).
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
    p = _check(dataset, detections, protocol, iou, background_iou, score_threshold)
    match = _match_coco(dataset, p) if protocol == "coco" else _match_voc(dataset, p, protocol)
    mt, scorer, messages = match
    messages = _inverted_message(p.dets) + messages
    dec = _decompose(mt, scorer)
    counts, per_counts = _error_counts(dataset, p.dets.class_index, mt)
    sens = _sensitivity(dataset, mt, dec.base) if sensitivity else None
    conf = _confusion(dataset, p.dets.scores, mt, dec.base, score_threshold) if confusion else None
    for msg in messages:
        warnings.warn(msg, VocbenchWarning, stacklevel=2)
    voc07 = None
    if "voc07" in dec.base.mean:
        voc07 = {"mAP": dec.base.mean["voc07"], "errors": dec.errors["voc07"], "special": dec.special["voc07"]}
    return Diagnosis(protocol=protocol, iou_threshold=p.iou, background_iou_threshold=p.background_iou,
                     classes=tuple(dataset.classes), mAP=dec.base.mean["ap"], errors=dec.errors["ap"],
                     special=dec.special["ap"], counts=counts, per_class_ap=dec.base.per_class["ap"],
                     per_class_errors=dec.per_class_errors, per_class_special=dec.per_class_special,
                     per_class_counts=per_counts, voc07=voc07, sensitivity=sens, confusion=conf,
                     error_type=mt.err, error_target=mt.target, matched_gt=mt.matched_gt, missed=mt.missed,
                     num_images=dataset.num_images, num_detections=len(p.dets), source=p.dets.source,
                     warnings=tuple(messages))


def diagnose_evaluation(dataset: Dataset, detections, result) -> Diagnosis | None:
    """The diagnosis that goes with an evaluation (``vocbench eval --html``): :func:`diagnose` under the
    evaluation's VOC protocol at its first IoU threshold; None when no VOC metric was evaluated.

    Args:
        dataset, detections: what ``result`` scored.
        result: the :class:`~vocbench.eval.results.EvalResult` of :func:`vocbench.evaluate`.

    Warnings the evaluation already gave (``result.warnings``: inverted boxes, classes without ground truth)
    are not repeated; any other warning of the diagnosis is raised.
    """
    if not result.voc:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = diagnose(dataset, detections, protocol=result.protocol, iou=result.voc[0].iou_threshold)
    for w in caught:
        if not (issubclass(w.category, VocbenchWarning) and str(w.message) in result.warnings):
            warnings.warn(w.message, w.category, stacklevel=2)
    return d


def _sensitivity(dataset: Dataset, mt: _Matched, base: _Score):
    from vocbench.diagnose.sensitivity import compute_sensitivity

    return compute_sensitivity(dataset, mt.state, mt.matched_gt, base.class_order, base.class_offsets, mt.counted_gt)


def _confusion(dataset: Dataset, scores: np.ndarray, mt: _Matched, base: _Score,
               score_threshold: float | None = None) -> ConfusionMatrix:
    """Confusion matrix at ``score_threshold`` or each class's F1-optimal score threshold (:class:`ConfusionMatrix`)."""
    nc = dataset.num_classes
    state, det_class, err = mt.state, mt.det_class, mt.err
    if score_threshold is None:
        offsets, prec, rec, cscores, _ = pr_curve_kernel(state, base.class_order, base.class_offsets, scores,
                                                         mt.npos)
        thr = best_f1_kernel(offsets, prec, rec, cscores, mt.npos)[:, 0]
    else:
        thr = np.full(nc, float(score_threshold))
    keep_thr = np.where(np.isfinite(thr), thr, np.inf)
    kept = (state != OUTCOME_IGNORED) & (scores >= keep_thr[det_class])
    mat = np.zeros((nc + 1, nc + 1), np.int64)
    tp = kept & (state == OUTCOME_TP)
    np.add.at(mat, (det_class[tp], det_class[tp]), 1)
    cls_err = kept & (state == OUTCOME_FP) & (err == _CODE["cls"])
    np.add.at(mat, (dataset.class_index[mt.target[cls_err]], det_class[cls_err]), 1)
    other = kept & (state == OUTCOME_FP) & (err != _CODE["cls"])
    np.add.at(mat, (np.full(int(other.sum()), nc), det_class[other]), 1)
    found = np.zeros(dataset.num_objects, np.bool_)
    found[mt.matched_gt[tp]] = True
    missed = mt.counted_gt & ~found
    np.add.at(mat, (dataset.class_index[missed], np.full(int(missed.sum()), nc)), 1)
    return ConfusionMatrix(classes=tuple(dataset.classes), matrix=mat, thresholds=thr)
