"""The COCO detection protocol, bit for bit as pycocotools' ``COCOeval(gt, dt, "bbox")``.

:func:`evaluate_coco_arrays` is the one front end: COCO arrays in, pycocotools' ``evaluate()`` + ``accumulate()``
arrays out (precision, recall, scores) for any parameter lists. :func:`evaluate_coco` feeds it a
:class:`~vocbench.structures.Dataset` and :class:`~vocbench.structures.Detections` and adds ``summarize()``: data
read from COCO files is scored as written (sorted-id image and category order, the file's ``bbox``, ``area``,
``iscrowd``); other data as pycocotools scores its COCO export (:mod:`vocbench.io.coco`).

The rules: the IoU is ``maskApi.c``'s ``bbIou`` (continuous coordinates, ``w * h`` areas; a crowd GT uses the
detection's area as the union and can be matched any number of times), 10 IoU thresholds
``np.linspace(.5, .95, 10)`` (each capped at ``1 - 1e-10``), 101 recall thresholds ``np.linspace(0, 1, 101)``,
max 1/10/100 detections per image and category, the four area ranges (inclusive) on the GT ``area`` field and the
detection's ``w * h``, pycocotools' fall-back matching and tie-breaking (stable score sorts; across images, ties
go to the image that comes first in sorted-id order).

The work is one kernel call (:func:`vocbench.eval._coco_kernels.coco_evaluate_kernel`: class order, matching of
every (class, image) group for all thresholds and area ranges at once, accumulation) and ``summarize`` here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocbench._native import kernels
from vocbench.boxes import COCO_AREA_LABELS, COCO_AREA_RANGES  # the one definition (pycocotools areaRng)
from vocbench.eval.results import COCO_STAT_SPECS, CocoScores
from vocbench.structures import Dataset, Detections

_ck = kernels("vocbench.eval._coco_kernels")  # compiled ahead of time when built (no Numba import), else JIT

__all__ = ["COCO_IOU_THRESHOLDS", "COCO_REC_THRESHOLDS", "COCO_AREA_RANGES", "COCO_AREA_LABELS", "COCO_MAX_DETS",
           "COCO_AREA_SOURCES", "COCO_IGNORE_RULES", "evaluate_coco", "evaluate_coco_arrays", "CocoArrays",
           "coco_xyxy_and_area"]

COCO_IOU_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
COCO_REC_THRESHOLDS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
COCO_MAX_DETS = (1, 10, 100)



def _summarize(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """pycocotools' ``summarize`` of ``precision[T, R, K, A, M]`` / ``recall[T, K, A, M]`` (any memory layout:
    ``s[..., a, m]`` is copied in C order, the order pycocotools' ``np.mean`` adds in)."""
    out = {}
    for name, (kind, thr, area, md) in COCO_STAT_SPECS.items():
        s = precision if kind == "ap" else recall
        if thr is not None:
            s = s[np.where(thr == COCO_IOU_THRESHOLDS)[0]]
        s = np.ascontiguousarray(s[..., COCO_AREA_LABELS.index(area), COCO_MAX_DETS.index(md)])
        v = s[s > -1]
        out[name] = float(np.mean(v)) if v.size else float("nan")  # pycocotools says -1: undefined is NaN here
    return out


def coco_xyxy_and_area(xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO ``[x, y, w, h]`` → (``(x, y, x + w, y + h)`` as ``maskApi.c`` forms the far corner, ``w * h``)."""
    out = np.empty_like(xywh)
    out[:, 0] = xywh[:, 0]
    out[:, 1] = xywh[:, 1]
    out[:, 2] = xywh[:, 0] + xywh[:, 2]
    out[:, 3] = xywh[:, 1] + xywh[:, 3]
    return out, xywh[:, 2] * xywh[:, 3]


@dataclass(frozen=True, eq=False)
class CocoArrays:
    """pycocotools' ``COCOeval.eval`` arrays (``evaluate()`` + ``accumulate()``), bit for bit.

    Attributes:
        precision: float64[T, R, K, A, M] interpolated precision; -1 where a category has no non-ignored GT.
        recall: float64[T, K, A, M] final recall; -1 likewise.
        scores: float64[T, R, K, A, M] the detection score at each recall threshold (``eval["scores"]``).
        iou_thresholds: float64[T], rec_thresholds: float64[R], area_ranges: float64[A, 2], max_dets: int64[M] —
            the parameters as given (pycocotools' ``params``, uncapped; ``max_dets`` sorted, as ``evaluate()``
            leaves ``params.maxDets``).
    """

    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    iou_thresholds: np.ndarray
    rec_thresholds: np.ndarray
    area_ranges: np.ndarray
    max_dets: np.ndarray


def _column(name: str, value, dtype, n: int | None, width: int | None = None) -> np.ndarray:
    """``value`` as a C-contiguous ``dtype`` array of length ``n`` (and ``width`` columns); ValueError otherwise."""
    arr = np.asarray(value)
    if dtype is np.int64 and arr.size and arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integers, got {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if width is not None:
        if arr.size == 0:
            arr = arr.reshape(0, width)
        if arr.ndim != 2 or arr.shape[1] != width:
            raise ValueError(f"{name} must have shape (N, {width}), got {arr.shape}")
    elif arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows, expected {n}")
    return arr


def _positions(name: str, arr: np.ndarray, count: int) -> None:
    if arr.size and (arr.min() < 0 or arr.max() >= count):
        raise ValueError(f"{name} must be positions 0..{count - 1}, got values from {arr.min()} to {arr.max()}")


def evaluate_coco_arrays(*, gt_image, gt_category, gt_xywh, gt_area, gt_iscrowd, dt_image, dt_category, dt_xywh,
                         dt_score, num_images: int, num_categories: int, iou_thresholds=COCO_IOU_THRESHOLDS,
                         rec_thresholds=COCO_REC_THRESHOLDS, area_ranges=COCO_AREA_RANGES, max_dets=COCO_MAX_DETS,
                         dt_area=None, gt_ignore=None, with_scores: bool = True) -> CocoArrays:
    """pycocotools' bbox ``COCOeval`` (``evaluate`` + ``accumulate``) on COCO arrays: the one COCO front end.

    Images and categories are positions in evaluation order: the caller maps pycocotools' ``sorted(imgIds)`` /
    ``sorted(catIds)`` to ``0..I-1`` / ``0..K-1``. Rows keep file order (ground truth as in ``instances.json``,
    detections as in the results list): pycocotools breaks IoU and score ties by it. ``useCats=0`` is one
    category for everything, with the rows ordered as pycocotools gathers them then: stably by category id.

    Args:
        gt_image, gt_category: int64[M] positions. gt_xywh: float64[M, 4] COCO ``[x, y, w, h]`` (the IoU uses
            ``w * h``, as ``maskApi.c``'s ``bbIou``). gt_area: float64[M] the annotation's ``area`` field (what the
            area ranges test). gt_iscrowd: bool[M] crowd regions (IoU over the detection's area, any number of
            matches; ignored).
        dt_image, dt_category: int64[N] positions. dt_xywh: float64[N, 4]. dt_score: float64[N], no NaN.
        num_images, num_categories: I and K.
        iou_thresholds: float64[T], 1 <= T <= 63, any order (each capped at ``1 - 1e-10`` as pycocotools does).
        rec_thresholds: float64[R], any order. area_ranges: float64[A, 2] inclusive ``[lo, hi]`` in pixels².
        max_dets: int64[M] detections per image and category, sorted as pycocotools' ``evaluate()`` sorts them
            (the arrays' last axis follows the sorted list, :attr:`CocoArrays.max_dets`).
        dt_area: float64[N] detection areas for the area ranges; default ``w * h`` (``loadRes``).
        gt_ignore: bool[M] GT ignored in every area range; default ``gt_iscrowd`` (pycocotools overwrites the
            file's ``ignore`` with ``iscrowd``).
        with_scores: compute ``scores`` (False leaves it empty, shape ``(T, R, 0, A, M)``, and saves time).

    Returns:
        :class:`CocoArrays` with ``precision[T, R, K, A, M]``, ``recall[T, K, A, M]``, ``scores[T, R, K, A, M]``.

    Raises:
        ValueError: mismatched lengths, positions out of range, NaN scores, an empty or oversized threshold list.
    """
    gt_xywh = _column("gt_xywh", gt_xywh, np.float64, None, 4)
    m = gt_xywh.shape[0]
    gt_image, gt_category = _column("gt_image", gt_image, np.int64, m), _column("gt_category", gt_category, np.int64, m)
    gt_area = _column("gt_area", gt_area, np.float64, m)
    gt_iscrowd = _column("gt_iscrowd", gt_iscrowd, np.bool_, m)
    gt_ignore = gt_iscrowd if gt_ignore is None else _column("gt_ignore", gt_ignore, np.bool_, m)
    dt_xywh = _column("dt_xywh", dt_xywh, np.float64, None, 4)
    n = dt_xywh.shape[0]
    dt_image, dt_category = _column("dt_image", dt_image, np.int64, n), _column("dt_category", dt_category, np.int64, n)
    dt_score = _column("dt_score", dt_score, np.float64, n)
    dt_area = dt_xywh[:, 2] * dt_xywh[:, 3] if dt_area is None else _column("dt_area", dt_area, np.float64, n)
    num_images, num_categories = int(num_images), int(num_categories)
    for name, arr, count in (("gt_image", gt_image, num_images), ("dt_image", dt_image, num_images),
                             ("gt_category", gt_category, num_categories),
                             ("dt_category", dt_category, num_categories)):
        _positions(name, arr, count)
    if np.isnan(dt_score).any():
        raise ValueError(f"dt_score has NaN at row {int(np.flatnonzero(np.isnan(dt_score))[0])}")
    thr = _column("iou_thresholds", iou_thresholds, np.float64, None)
    rec = _column("rec_thresholds", rec_thresholds, np.float64, None)
    rng = _column("area_ranges", area_ranges, np.float64, None, 2)
    md = np.sort(_column("max_dets", max_dets, np.int64, None))  # pycocotools' evaluate() sorts params.maxDets
    if not 1 <= thr.size <= 63 or rng.shape[0] == 0 or md.size == 0 or (md < 0).any():
        raise ValueError("need 1 to 63 IoU thresholds, at least one area range and non-negative max_dets")
    if num_images == 0 or num_categories == 0:  # nothing to evaluate: pycocotools leaves every entry at -1
        t, r, a, k = thr.size, rec.size, rng.shape[0], num_categories
        return CocoArrays(precision=np.full((t, r, k, a, md.size), -1.0), recall=np.full((t, k, a, md.size), -1.0),
                          scores=np.full((t, r, k if with_scores else 0, a, md.size), -1.0), iou_thresholds=thr.copy(),
                          rec_thresholds=rec.copy(), area_ranges=rng.copy(), max_dets=md.copy())
    precision, recall, scores = _run_kernel_chunks(
        (dt_image, dt_category, dt_score, dt_xywh, dt_area, gt_image, gt_category, gt_xywh, gt_area, gt_iscrowd,
         gt_ignore, num_images, num_categories), thr, rec, rng, md, with_scores)
    return CocoArrays(precision=precision, recall=recall, scores=scores, iou_thresholds=thr.copy(),
                      rec_thresholds=rec.copy(), area_ranges=rng.copy(), max_dets=md.copy())


def _run_kernel_chunks(data: tuple, thr: np.ndarray, rec: np.ndarray, rng: np.ndarray, md: np.ndarray,
                       with_scores: bool):
    """The kernel's arrays in pycocotools' axes for any parameter lists: thresholds sorted (each is matched on
    its own) and capped, put back in the given order; ``md`` (sorted, as ``evaluate()`` sorts ``params.maxDets``)
    without repeats; area ranges in chunks of ``64 // T`` (one bit per (range, threshold) column)."""
    t_order = np.argsort(thr, kind="stable")
    capped = np.ascontiguousarray(np.minimum(thr[t_order], 1 - 1e-10))
    md_sorted, md_pos = np.unique(md, return_inverse=True)
    per_chunk = 64 // thr.size
    k = int(data[12])
    t_count, r_count, a_count, m_count = thr.size, rec.size, rng.shape[0], md.size
    precision = np.empty((t_count, r_count, k, a_count, m_count))
    scores = np.empty((t_count, r_count, k if with_scores else 0, a_count, m_count))
    recall = np.empty((t_count, k, a_count, m_count))
    for a0 in range(0, a_count, per_chunk):
        a1 = min(a0 + per_chunk, a_count)
        args = (*data, capped, np.ascontiguousarray(rng[a0:a1]), np.ascontiguousarray(md_sorted.astype(np.int64)),
                rec, with_scores)
        p_k, r_k, s_k = _ck.coco_evaluate_kernel(*args)
        # kernel axes [K, A, M', T', R] → [T', R, K, A, M'] → given threshold and maxDet order
        p = p_k.transpose(3, 4, 0, 1, 2)[:, :, :, :, md_pos]
        s = s_k.transpose(3, 4, 0, 1, 2)[:, :, :, :, md_pos]
        r = r_k.transpose(3, 0, 1, 2)[:, :, :, md_pos]
        precision[t_order, :, :, a0:a1] = p
        scores[t_order, :, :, a0:a1] = s
        recall[t_order, :, a0:a1] = r
    return precision, recall, scores




def _sorted_id_positions(image_ids: np.ndarray) -> np.ndarray | None:
    """Image row -> position in sorted-id order (pycocotools evaluates images in ``sorted(imgIds)`` order), or None
    when the rows are in that order already (no N-row gathers of the image index)."""
    if len(image_ids) < 2 or (image_ids[1:] > image_ids[:-1]).all():
        return None
    rank = np.empty(len(image_ids), np.int64)
    rank[np.argsort(image_ids, kind="stable")] = np.arange(len(image_ids))
    return rank


#: ``area=`` choices of :func:`evaluate_coco`: the annotation's ``area`` field (pycocotools) or the box's w * h.
COCO_AREA_SOURCES = ("file", "box")
#: ``ignore=`` choices: pycocotools overwrites ``ignore`` with ``iscrowd``; ``"file"`` also ignores ``ignore: 1``.
COCO_IGNORE_RULES = ("iscrowd", "file")


def evaluate_coco(dataset: Dataset, detections: Detections, *, area: str = "file",
                  ignore: str = "iscrowd") -> CocoScores:
    """COCO AP/AR of ``detections`` on ``dataset``, as pycocotools scores the same data.

    A dataset read from COCO (:attr:`Dataset.coco`) is scored in COCO terms, as written: images in sorted COCO-id
    order (pycocotools' ``sorted(imgIds)``: ties across images follow it), categories in sorted-id order, the
    file's ``bbox``, ``area``, ``iscrowd``; detections read from a COCO results file keep their ``bbox`` as written
    (:attr:`Detections.xywh`). Other data is scored as pycocotools scores its COCO export
    (:mod:`vocbench.io.coco`: images in set order, ``bbox = [xmin - 1, ymin - 1, w, h]`` with the VOC pixel
    extent, ``area = w * h``, crowd = difficult).

    Args:
        dataset: the ground truth.
        detections: validated detections (indices into ``dataset``).
        area: ``"file"`` (default, pycocotools): the small/medium/large ranges test the annotation's ``area``
            field (the mask area on real COCO; ``w * h`` where the file has none); ``"box"``: the box's ``w * h``.
        ignore: ``"iscrowd"`` (default, pycocotools: the file's ``ignore`` flag is overwritten by ``iscrowd``) or
            ``"file"`` (an annotation with ``ignore: 1`` is ignored too, like a crowd region but matched once).

    Returns:
        :class:`CocoScores` with the 12 summary numbers and pycocotools' precision/recall arrays.
    """
    from vocbench.io.coco import voc_boxes_to_xywh

    if area not in COCO_AREA_SOURCES or ignore not in COCO_IGNORE_RULES:
        raise ValueError(f"area must be one of {COCO_AREA_SOURCES} and ignore one of {COCO_IGNORE_RULES}, got "
                         f"{area!r}, {ignore!r}")
    coco = dataset.coco
    if coco is not None:
        gt, gt_area, crowd = coco.xywh, coco.area, coco.iscrowd
        gt_ignore = coco.iscrowd | coco.ignore if ignore == "file" else None
        rank = _sorted_id_positions(coco.image_ids)
    else:
        gt = voc_boxes_to_xywh(dataset.boxes)
        gt_area, crowd, gt_ignore, rank = gt[:, 2] * gt[:, 3], dataset.difficult, None, None
    if area == "box":
        gt_area = gt[:, 2] * gt[:, 3]
    dt = detections.xywh if detections.xywh is not None else voc_boxes_to_xywh(detections.boxes)
    arrays = evaluate_coco_arrays(
        gt_image=dataset.image_index if rank is None else rank[dataset.image_index], gt_category=dataset.class_index,
        gt_xywh=gt, gt_area=gt_area, gt_iscrowd=crowd, gt_ignore=gt_ignore,
        dt_image=detections.image_index if rank is None else rank[detections.image_index],
        dt_category=detections.class_index, dt_xywh=dt, dt_score=detections.scores, num_images=dataset.num_images,
        num_categories=dataset.num_classes, with_scores=False)
    return CocoScores(stats=_summarize(arrays.precision, arrays.recall), precision=arrays.precision,
                      recall=arrays.recall, iou_thresholds=COCO_IOU_THRESHOLDS.copy(),
                      rec_thresholds=COCO_REC_THRESHOLDS.copy(), area_ranges=COCO_AREA_RANGES,
                      max_dets=COCO_MAX_DETS, classes=tuple(dataset.classes))
