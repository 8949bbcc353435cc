"""VOC matching: the protocols, the one-time grouping of ground truth and detections, and :func:`match_detections`.

Matching for one class (both protocols): detections are sorted by descending score with a **stable** sort (ties
keep input order, as the MATLAB devkit and pycocotools do). Each detection takes the single GT box of its class
and image with the highest IoU — VOC '+1' pixels, difficult boxes included, the first box on ties. If that IoU
passes the threshold: a difficult GT makes the detection *ignored* (neither TP nor FP; the GT is never marked, so
repeat hits on it are ignored too); an unmatched GT makes it a TP and marks the GT; an already matched GT makes
it a *duplicate* FP (no fall-back to another GT). Otherwise it is an FP. ``npos`` = non-difficult GT of the class.

Protocols (:data:`PROTOCOLS`):

* ``"devkit"`` (default) — the official MATLAB devkit: IoU ``>=`` threshold; VOC07 11-point recall thresholds as
  MATLAB's ``0:0.1:1`` produces them (``0.30000000000000004`` is the only inexact one).
* ``"voc_eval"`` — the py-faster-rcnn / detectron2 Python port ``voc_eval.py``: IoU ``>`` threshold; thresholds
  from ``numpy.arange(0., 1.1, 0.1)`` (``0.6000000000000001``, ``0.7000000000000001``). vocbench keeps the stable
  sort here too; the port's unstable sort differs only on tied scores.

Engines: the numpy engine and the Numba kernels give identical results; ``engine="auto"`` picks one by the rule
of :mod:`vocbench.eval.engine` (numpy unless Numba is already loaded or the set is large).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocbench.errors import InputError
from vocbench.eval.ap import VOC07_THRESHOLDS_DEVKIT, VOC07_THRESHOLDS_VOC_EVAL
from vocbench.eval.engine import VocEngine, voc_engine

# the outcome codes of match_detections (one definition, shared with the kernels)
from vocbench.eval.outcomes import OUTCOME_DUPLICATE, OUTCOME_FP, OUTCOME_IGNORED, OUTCOME_NAMES, OUTCOME_TP
from vocbench.structures import Dataset, Detections

__all__ = ["Protocol", "PROTOCOLS", "OUTCOME_FP", "OUTCOME_TP", "OUTCOME_DUPLICATE", "OUTCOME_IGNORED",
           "OUTCOME_NAMES", "MatchResult", "match_detections", "get_protocol", "validate_detections"]



@dataclass(frozen=True)
class Protocol:
    """A VOC scoring convention.

    Attributes:
        name: ``"devkit"`` or ``"voc_eval"``.
        inclusive: True when a match needs ``IoU >= threshold``, False for ``IoU > threshold``.
        voc07_thresholds: the 11 recall thresholds of VOC07 AP, exactly as that implementation computes them.
        description: one line for reports.
    """

    name: str
    inclusive: bool
    voc07_thresholds: tuple[float, ...]
    description: str


PROTOCOLS: dict[str, Protocol] = {
    "devkit": Protocol(
        "devkit", True, VOC07_THRESHOLDS_DEVKIT,
        "official MATLAB devkit: IoU >= threshold, stable score sort, 11-point thresholds of MATLAB's 0:0.1:1"),
    "voc_eval": Protocol(
        "voc_eval", False, VOC07_THRESHOLDS_VOC_EVAL,
        "py-faster-rcnn/detectron2 voc_eval.py: IoU > threshold, 11-point thresholds of numpy.arange(0, 1.1, 0.1) "
        "(stable score sort kept)"),
}


def get_protocol(protocol: str | Protocol) -> Protocol:
    """The :class:`Protocol` named ``protocol`` (``"devkit"`` or ``"voc_eval"``)."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}") from None


def validate_detections(dataset: Dataset, detections: Detections) -> None:
    """Raise :class:`InputError` when detections point outside the dataset or hold NaN/inf values."""
    src = detections.source or "detections"
    n = len(detections)
    if n == 0:
        return
    for name, arr, hi in (("image_index", detections.image_index, dataset.num_images),
                          ("class_index", detections.class_index, dataset.num_classes)):
        if arr.min() >= 0 and arr.max() < hi:  # the common case in two reductions; the row only on error
            continue
        bad = np.flatnonzero((arr < 0) | (arr >= hi))
        if bad.size:
            raise InputError(f"{src}: detection {bad[0]} has {name} {arr[bad[0]]}, expected 0..{hi - 1}")
    i = detections.first_nonfinite()  # (COCO results: tested on xywh, the VOC boxes stay unbuilt)
    if i >= 0:
        raise InputError(f"{src}: detection {i} has a NaN or infinite score or coordinate "
                         f"(score {detections.scores[i]}, box {detections.boxes[i].tolist()})")


@dataclass(frozen=True, eq=False)
class VocGrouping:
    """Ground truth and detections grouped once for VOC matching (internal; reused across IoU thresholds).

    Attributes:
        class_order: int64[N] detection rows by class, then descending score (stable).
        class_offsets: int64[C + 1] class segments of ``class_order``.
        group_order: int64[N] detection rows by ``class * num_images + image``, then descending score (stable).
        group_offsets: int64[C * I + 1] segments of ``group_order``.
        gt_offsets: int64[C * I + 1] CSR offsets of the GT of ``(class, image)``.
        gt_rows: int64[M] dataset object rows in CSR order.
        gt_boxes, gt_difficult: CSR-ordered copies.
        npos: int64[C] non-difficult GT per class.
        engine: the :class:`~vocbench.eval.engine.VocEngine` that grouped them (and will match and score them).
    """

    num_images: int
    num_classes: int
    scores: np.ndarray
    det_boxes: np.ndarray
    class_order: np.ndarray
    class_offsets: np.ndarray
    group_order: np.ndarray
    group_offsets: np.ndarray
    gt_offsets: np.ndarray
    gt_rows: np.ndarray
    gt_boxes: np.ndarray
    gt_difficult: np.ndarray
    npos: np.ndarray
    engine: VocEngine


def group_for_voc(dataset: Dataset, detections: Detections, engine: str = "auto") -> VocGrouping:
    """Stable grouping of GT by (class, image) and of detections by class and by (class, image), descending score
    within (one stable sort of the scores, then two stable partitions). ``engine``: ``"auto"``, ``"numpy"`` or
    ``"numba"`` (:mod:`vocbench.eval.engine`; identical arrays)."""
    k = voc_engine(engine, len(detections))
    ni, nc = dataset.num_images, dataset.num_classes
    gt_rows, gt_offsets = k.group_by_key(dataset.class_index * ni + dataset.image_index, nc * ni)
    npos = np.bincount(dataset.class_index[~dataset.difficult], minlength=nc).astype(np.int64)
    by_score = k.argsort_desc_stable(detections.scores, np.arange(len(detections), dtype=np.int64))
    class_order, class_offsets = k.stable_partition(by_score, detections.class_index, nc)
    group_order, group_offsets = k.stable_partition(by_score, detections.class_index * ni + detections.image_index,
                                                    nc * ni)
    return VocGrouping(
        num_images=ni, num_classes=nc, scores=detections.scores, det_boxes=detections.boxes,
        class_order=class_order, class_offsets=class_offsets, group_order=group_order, group_offsets=group_offsets,
        gt_offsets=gt_offsets, gt_rows=gt_rows, gt_boxes=np.ascontiguousarray(dataset.boxes[gt_rows]),
        gt_difficult=np.ascontiguousarray(dataset.difficult[gt_rows]), npos=npos, engine=k)


def match_grouped(g: VocGrouping, iou_threshold: float, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """Outcome codes and best IoU by detection row (see :func:`match_detections`), with ``g``'s engine."""
    return g.engine.match_voc(g.group_order, g.group_offsets, g.det_boxes, g.gt_offsets, g.gt_boxes,
                              g.gt_difficult, float(iou_threshold), protocol.inclusive)


def check_iou_threshold(t: float) -> float:
    t = float(t)
    if not (0.0 < t <= 1.0):
        raise ValueError(f"IoU threshold must be in (0, 1], got {t}")
    return t


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Per-detection outcome of VOC matching, in the detections' input order.

    Attributes:
        outcome: int8[N] — :data:`OUTCOME_FP` (0), :data:`OUTCOME_TP` (1), :data:`OUTCOME_DUPLICATE` (2, an FP whose
            best GT was already matched), :data:`OUTCOME_IGNORED` (3, best GT difficult).
        best_iou: float64[N] — IoU with the best GT of the same class and image (0 when there is none).
        iou_threshold: the threshold used.
        protocol: protocol name.
    """

    outcome: np.ndarray
    best_iou: np.ndarray
    iou_threshold: float
    protocol: str

    def counts(self) -> dict[str, int]:
        """Number of detections per outcome name."""
        return {name: int(np.count_nonzero(self.outcome == code)) for code, name in enumerate(OUTCOME_NAMES)}


def match_detections(dataset: Dataset, detections: Detections, *, iou: float = 0.5,
                     protocol: str = "devkit", engine: str = "auto") -> MatchResult:
    """Label every detection TP / FP / duplicate / ignored with the VOC greedy matching (module docstring).

    Args:
        dataset: the ground truth.
        detections: detections on ``dataset`` (image and class indices into it; boxes in VOC pixels).
        iou: IoU threshold in (0, 1]; default 0.5.
        protocol: ``"devkit"`` (default, IoU >= threshold) or ``"voc_eval"`` (IoU > threshold).
        engine: ``"auto"`` (default), ``"numpy"`` or ``"numba"``: same result (:mod:`vocbench.eval.engine`).

    Returns:
        A :class:`MatchResult` in the detections' input order.
    """
    proto = get_protocol(protocol)
    t = check_iou_threshold(iou)
    validate_detections(dataset, detections)
    g = group_for_voc(dataset, detections, engine)
    outcome, best_iou = match_grouped(g, t, proto)
    return MatchResult(outcome=outcome, best_iou=best_iou, iou_threshold=t, protocol=proto.name)
