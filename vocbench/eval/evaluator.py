"""``evaluate``: VOC07 / VOC12 mAP (devkit or voc_eval protocol, any IoU thresholds) and the COCO protocol."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
else:
    from vocbench._lazy import pandas as pd  # start-up: imported on first use

from vocbench._lazy import loaded
from vocbench.errors import InputError, VocbenchWarning
from vocbench.eval.matching import check_iou_threshold, get_protocol, group_for_voc, match_grouped, validate_detections
from vocbench.eval.results import METRICS, VOC_METRICS, EvalResult, VocScores
from vocbench.structures import Dataset, Detections

__all__ = ["evaluate", "as_detections"]


def as_detections(dataset: Dataset, detections) -> Detections:
    """Accept :class:`Detections`, a DataFrame (columns of :func:`vocbench.read_detections`), a mapping of arrays
    ``image_index``, ``class_index``, ``scores``, ``boxes`` (float64[N, 4] VOC pixels), or a list of per-image
    dicts ``{"boxes", "scores", "labels"}`` (torchmetrics style, numpy or torch; entry ``i`` = image ``i`` unless
    it has an ``"image_id"``; see :func:`vocbench.eval.accumulate.detections_from_list`)."""
    if isinstance(detections, Detections):
        return detections
    if isinstance(detections, (list, tuple)) and all(isinstance(d, Mapping) for d in detections):
        from vocbench.eval.accumulate import detections_from_list

        return detections_from_list(dataset, detections)
    if loaded("pandas") and isinstance(detections, pd.DataFrame):  # no DataFrame without pandas imported
        from vocbench.io.detections import read_detections

        return read_detections(detections, dataset)
    if isinstance(detections, Mapping):
        missing = {"image_index", "class_index", "scores", "boxes"} - set(detections)
        if missing:
            raise ValueError(f"detection arrays lack {sorted(missing)}")
        return Detections(image_index=detections["image_index"], class_index=detections["class_index"],
                          scores=detections["scores"], boxes=detections["boxes"],
                          source=str(detections.get("source", "arrays")))
    raise TypeError(f"detections must be Detections, a DataFrame, a mapping of arrays or a list of per-image "
                    f"dicts, got {type(detections)}")


def _normalise_metrics(metrics) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    out = []
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; expected some of {list(METRICS)}")
        if m not in out:
            out.append(m)
    if not out:
        raise ValueError("no metric to evaluate")
    return tuple(out)


def _normalise_ious(iou) -> tuple[float, ...]:
    values = [iou] if np.isscalar(iou) else list(iou)
    out: list[float] = []
    for raw in values:
        t = check_iou_threshold(float(raw))  # type: ignore[arg-type]
        if t not in out:
            out.append(t)
    if not out:
        raise ValueError("no IoU threshold given")
    return tuple(out)


def evaluate(dataset: Dataset, detections, metrics: Sequence[str] | str = ("voc07", "voc12"),
             protocol: str = "devkit", iou: float | Sequence[float] = 0.5, engine: str = "auto", *,
             coco_area: str = "file", coco_ignore: str = "iscrowd") -> EvalResult:
    """Score detections against a VOC dataset.

    VOC metrics (see :mod:`vocbench.eval.matching` for the matching rules, :mod:`vocbench.eval.ap` for AP):

    * ``"voc07"``: 11-point interpolated AP; ``"voc12"``: all-point AP (area under the precision envelope).
    * A class without detections has AP 0; a class without non-difficult GT has AP NaN, is left out of mAP and
      triggers a :class:`~vocbench.errors.VocbenchWarning`.

    ``"coco"``: AP@[.5:.95], AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l, identical to pycocotools on the COCO files
    the data came from, or on its COCO export (:mod:`vocbench.eval.coco`); ``protocol`` and ``iou`` do not apply.

    Args:
        dataset: the ground truth.
        detections: :class:`~vocbench.structures.Detections`, a DataFrame, a mapping of arrays or a list of
            per-image dicts ``{"boxes", "scores", "labels"}`` (:func:`as_detections`).
        metrics: any of ``"voc07"``, ``"voc12"``, ``"coco"``; default ``("voc07", "voc12")``.
        protocol: ``"devkit"`` (default; IoU >= threshold, MATLAB 11-point thresholds) or ``"voc_eval"``
            (IoU > threshold, numpy thresholds).
        iou: VOC IoU threshold in (0, 1], or several (the first is the headline one); default 0.5.
        engine: VOC pass implementation, ``"auto"`` (default), ``"numpy"`` or ``"numba"``; identical results,
            only the cost differs (``"auto"``: numpy unless Numba is already imported or the set has at least
            :data:`vocbench.eval.engine.NUMBA_MIN_DETECTIONS` detections; see :mod:`vocbench.eval.engine`).
        coco_area: COCO metric, what the area ranges test: ``"file"`` (default, pycocotools: the annotation's
            ``area`` field) or ``"box"`` (``w * h``). coco_ignore: ``"iscrowd"`` (default, pycocotools) or
            ``"file"`` (also the annotations marked ``ignore: 1``); see :func:`vocbench.eval.coco.evaluate_coco`.

    Returns:
        A frozen :class:`~vocbench.eval.results.EvalResult`.

    Raises:
        InputError: detections that point outside the dataset or hold NaN/inf.
    """
    metrics = _normalise_metrics(metrics)
    proto = get_protocol(protocol)
    ious = _normalise_ious(iou)
    if dataset.num_images == 0:
        raise InputError(f"{dataset.root or 'dataset'}: the evaluated set {list(dataset.sets)} has no images; "
                         "nothing to score")
    dets = as_detections(dataset, detections)
    validate_detections(dataset, dets)
    messages: list[str] = []
    src = dets.source or "detections"

    n_inverted = int(np.count_nonzero(dets.inverted()))
    if n_inverted:
        messages.append(f"{src}: {n_inverted} detection(s) with an inverted box (xmax < xmin or ymax < ymin) "
                        "count with IoU 0 in VOC matching")

    voc_metrics = [m for m in metrics if m in VOC_METRICS]
    voc_scores = _voc_scores(dataset, dets, voc_metrics, proto, ious, engine, messages) if voc_metrics else []

    coco = None
    if "coco" in metrics:
        from vocbench.eval.coco import evaluate_coco

        coco = evaluate_coco(dataset, dets, area=coco_area, ignore=coco_ignore)

    for msg in messages:
        warnings.warn(msg, VocbenchWarning, stacklevel=2)
    return EvalResult(classes=tuple(dataset.classes), metrics=metrics, protocol=proto.name,
                      iou_thresholds=ious if voc_metrics else (), voc=tuple(voc_scores), coco=coco,
                      num_images=dataset.num_images, num_detections=len(dets), source=dets.source,
                      warnings=tuple(messages))


def _voc_scores(dataset: Dataset, dets: Detections, voc_metrics: list[str], proto, ious: tuple[float, ...],
                engine: str, messages: list[str]) -> list[VocScores]:
    """The VOC metrics at every IoU threshold: one grouping, one matching pass per threshold (warnings are
    appended to ``messages``)."""
    voc_scores: list[VocScores] = []
    g = group_for_voc(dataset, dets, engine)
    k = g.engine
    empty = [dataset.classes[c] for c in np.flatnonzero(g.npos == 0)]
    if empty:
        messages.append(f"no non-difficult ground truth for {len(empty)} class(es) ({', '.join(empty)}): "
                        "AP is NaN and left out of mAP")
    thresholds = np.asarray(proto.voc07_thresholds, np.float64)
    for t in ious:
        outcome, best_iou = match_grouped(g, t, proto)
        offsets, prec, rec, cscores, counts = k.pr_curve(outcome, g.class_order, g.class_offsets, g.scores,
                                                         g.npos)
        ap = {}
        for m in voc_metrics:
            if m == "voc07":
                ap[m] = k.ap_voc07(offsets, prec, rec, g.npos, thresholds)
            else:
                ap[m] = k.ap_voc12(offsets, prec, rec, g.npos)
        voc_scores.append(VocScores(
            iou_threshold=t, protocol=proto.name, classes=tuple(dataset.classes), ap=ap, npos=g.npos,
            detections=np.diff(g.class_offsets), tp=counts[:, 1], fp=counts[:, 0] + counts[:, 2],
            duplicates=counts[:, 2], ignored=counts[:, 3], curve_offsets=offsets, precision=prec, recall=rec,
            curve_scores=cscores, best_f1=k.best_f1(offsets, prec, rec, cscores, g.npos),
            outcome=outcome, best_iou=best_iou))
    return voc_scores
