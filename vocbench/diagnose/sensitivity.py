"""Sensitivity to object characteristics (Hoiem, Chodpathumwan and Dai, "Diagnosing Error in Object Detectors",
ECCV 2012): normalised AP per bin of size, aspect ratio, truncation, occlusion, viewpoint and COCO size class.

Normalised precision ``P_N = R * N / (R * N + F)`` is the precision a class would have with ``N`` positives, so
classes and bins with different numbers of objects compare; the paper sets ``N = 0.15 × the number of images``
(:data:`HOIEM_N_FRACTION`). For a bin, the positives are the class's counted objects in the bin; a detection
matched to an object outside the bin is not counted (neither TP nor FP); false positives stay. AP_N is the
all-point area under the envelope of ``P_N`` (VOC12 style), averaged over the classes with positives in the bin.

Bins (objects of the class that count as positives: non-difficult / non-crowd):

* ``size``: area percentiles per class, as the paper: XS bottom 10 %, S next 20 %, M middle 40 %, L next 20 %,
  XL top 10 % (VOC '+1' pixel areas).
* ``aspect``: width / height percentiles per class, same split: XT (extra tall), T, M, W, XW (extra wide).
* ``truncated``: no / yes (VOC ``<truncated>``). ``occluded``: no / yes (VOC2012 ``<occluded>``; objects without
  the tag are left out of this characteristic). ``pose``: VOC ``<pose>`` values present.
* ``coco_size``: small (area <= 32²), medium (<= 96²), large: on data read from COCO the annotation's ``area``
  field (what pycocotools' area ranges test), else the COCO export's ``w * h``.
"""

from __future__ import annotations

import numpy as np

from vocbench.diagnose._kernels import normalized_ap_bins_kernel, normalized_ap_kernel
from vocbench.diagnose.results import Sensitivity
from vocbench.eval.outcomes import OUTCOME_TP
from vocbench.structures import Dataset

__all__ = ["HOIEM_N_FRACTION", "compute_sensitivity", "characteristic_bins"]

#: Hoiem et al.: N = 0.15 × number of images.
HOIEM_N_FRACTION = 0.15
_PCT = (10.0, 30.0, 70.0, 90.0)


def _percentile_bins(values: np.ndarray, classes: np.ndarray, counted: np.ndarray, nc: int) -> np.ndarray:
    out = np.full(values.shape[0], -1, np.int64)
    for c in range(nc):
        inc = classes == c
        ref = values[inc & counted]
        if ref.size == 0:
            continue
        edges = np.percentile(ref, _PCT)
        out[inc] = np.searchsorted(edges, values[inc], side="right")
    return out


def characteristic_bins(dataset: Dataset, counted: np.ndarray) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """Per characteristic, its bin labels and int64[M] bin index per object (-1 = not in this characteristic)."""
    b = dataset.boxes
    w = b[:, 2] - b[:, 0] + 1.0
    h = b[:, 3] - b[:, 1] + 1.0
    area = w * h
    nc = dataset.num_classes
    out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    out["size"] = (("XS", "S", "M", "L", "XL"), _percentile_bins(area, dataset.class_index, counted, nc))
    ratio = np.where(h > 0, w / np.where(h > 0, h, 1.0), 0.0)
    out["aspect"] = (("XT", "T", "M", "W", "XW"), _percentile_bins(ratio, dataset.class_index, counted, nc))
    out["truncated"] = (("no", "yes"), dataset.truncated.astype(np.int64))
    occ = dataset.occluded.astype(np.int64)
    if np.any(occ >= 0):
        out["occluded"] = (("no", "yes"), np.where(occ >= 0, occ, -1))
    poses = np.asarray(dataset.poses).astype(str)
    labels = tuple(sorted(set(poses[counted].tolist()))) if counted.any() else ()
    if len(labels) > 1 or (labels and labels != ("Unspecified",)):
        lookup = {p: i for i, p in enumerate(labels)}
        out["pose"] = (labels, np.array([lookup.get(p, -1) for p in poses.tolist()], np.int64))
    # pycocotools' area ranges test the file's area field; other data: the export's w * h (w = xmax - xmin + 1)
    coco_area = dataset.coco.area if dataset.coco is not None else w * h
    out["coco_size"] = (("small", "medium", "large"),
                        np.where(coco_area <= 32 ** 2, 0, np.where(coco_area <= 96 ** 2, 1, 2)).astype(np.int64))
    return out


def compute_sensitivity(dataset: Dataset, state: np.ndarray, matched_gt: np.ndarray, class_order: np.ndarray,
                        class_offsets: np.ndarray, counted: np.ndarray) -> Sensitivity:
    """Normalised AP per bin (module docstring).

    Args:
        dataset: the ground truth.
        state: int8[N] detection states of the protocol's matching (0 FP, 1 TP, 3 not counted).
        matched_gt: int64[N] object row of each TP.
        class_order, class_offsets: detection rows per class in the protocol's score order.
        counted: bool[M] objects that count as positives.
    """
    nc = dataset.num_classes
    n_norm = HOIEM_N_FRACTION * dataset.num_images
    npos_all = np.bincount(dataset.class_index[counted], minlength=nc).astype(np.int64)
    overall_pc = normalized_ap_kernel(class_order, class_offsets, state, npos_all, n_norm)
    ok = np.isfinite(overall_pc)
    overall = float(np.mean(overall_pc[ok])) if ok.any() else float("nan")
    tp = state == OUTCOME_TP
    chars: dict[str, tuple[str, ...]] = {}
    ap_n: dict[str, np.ndarray] = {}
    per_class: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for name, (labels, bins) in characteristic_bins(dataset, counted).items():
        nb = len(labels)
        tp_bin = np.full(state.shape[0], -1, np.int64)
        tp_bin[tp] = bins[matched_gt[tp]]
        ok = counted & (bins >= 0)
        npos_bins = np.zeros((nc, nb), np.int64)
        np.add.at(npos_bins, (dataset.class_index[ok], bins[ok]), 1)
        cnt = npos_bins.sum(axis=0)
        pc = normalized_ap_bins_kernel(class_order, class_offsets, state, tp_bin, npos_bins, n_norm)
        with np.errstate(all="ignore"):
            good = np.isfinite(pc)
            sums = np.where(good, pc, 0.0).sum(axis=0)
            num = good.sum(axis=0)
            ap_n[name] = np.where(num > 0, sums / np.maximum(num, 1), np.nan)
        chars[name] = labels
        per_class[name] = pc
        counts[name] = cnt
    return Sensitivity(n_norm=n_norm, classes=tuple(dataset.classes), characteristics=chars, ap_n=ap_n,
                       per_class=per_class, counts=counts, overall=overall)
