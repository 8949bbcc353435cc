"""Frozen results of :func:`vocbench.diagnose`: :class:`Diagnosis`, :class:`Sensitivity`, :class:`ConfusionMatrix`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ERROR_TYPES", "SPECIAL_TYPES", "ERROR_DESCRIPTIONS", "Diagnosis", "Sensitivity", "ConfusionMatrix"]

#: The six main error types, TIDE's order.
ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")
#: The two special error types.
SPECIAL_TYPES = ("false_pos", "false_neg")
ERROR_DESCRIPTIONS = {
    "cls": "right box (IoU >= t_f with a GT of another class), wrong class",
    "loc": "right class, t_b <= IoU < t_f with a GT of its class",
    "both": "wrong class and mislocalised (t_b <= IoU < t_f with another class)",
    "dupe": "its GT was already matched by a higher-scored detection",
    "bkg": "IoU < t_b with every GT",
    "miss": "GT never detected and not explained by a cls/loc error",
    "false_pos": "every false positive removed (perfect precision, same recall)",
    "false_neg": "every unmatched GT removed (perfect recall, same precision)",
}


def _f(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Hoiem et al.'s sensitivity to object characteristics: normalised AP (AP_N) per bin.

    AP_N replaces precision by ``R * N / (R * N + F)`` (recall R, false positives F), i.e. precision as if every
    class had ``N`` positives; N = 0.15 × the number of images (the paper's constant; ≈ the mean number of
    objects per class in VOC2007 test). For a bin, the positives are the class's counted objects in the bin;
    true positives matched to objects outside the bin are not counted (neither TP nor FP), false positives stay.

    Attributes:
        n_norm: the constant N.
        characteristics: name → tuple of bin labels.
        ap_n: name → float64[B] mean AP_N over classes with positives in the bin (NaN when none).
        per_class: name → float64[C, B] AP_N by class and bin.
        counts: name → int64[B] objects per bin.
        overall: AP_N with every object (mean over classes).
    """

    n_norm: float
    classes: tuple[str, ...]
    characteristics: dict[str, tuple[str, ...]]
    ap_n: dict[str, np.ndarray]
    per_class: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    overall: float

    def max_min(self) -> dict[str, tuple[float, float]]:
        """Per characteristic, (max, min) of AP_N over its bins (the paper's summary plot)."""
        out = {}
        for k, v in self.ap_n.items():
            ok = v[np.isfinite(v)]
            out[k] = (float(ok.max()), float(ok.min())) if ok.size else (math.nan, math.nan)
        return out

    def to_dict(self) -> dict:
        return {"n_norm": self.n_norm, "overall": _f(self.overall),
                "characteristics": {k: {"bins": list(bins), "ap_n": [_f(x) for x in self.ap_n[k]],
                                        "objects": [int(x) for x in self.counts[k]],
                                        "max": _f(self.max_min()[k][0]), "min": _f(self.max_min()[k][1])}
                                    for k, bins in self.characteristics.items()}}

    def to_pandas(self) -> pd.DataFrame:
        rows = [{"characteristic": k, "bin": b, "ap_n": self.ap_n[k][i], "objects": int(self.counts[k][i])}
                for k, bins in self.characteristics.items() for i, b in enumerate(bins)]
        return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """Detections above a score threshold against the GT, at the diagnosis IoU threshold.

    Rows: the GT class a detection is counted against, then ``"background"`` (a false positive that overlaps no
    GT of another class at IoU >= t_f: loc, both, dupe and bkg errors). Columns: the predicted class, then
    ``"missed"`` (a counted GT no kept detection matched: its row is its class). A TP is counted on the diagonal, a
    cls error at (class of the GT it overlaps, predicted class). Detections ignored by difficult (crowd) objects are
    not counted. Thresholds: per predicted class, its F1-optimal score (from the protocol's precision/recall curve);
    a class without detections keeps none.

    Attributes:
        matrix: int64[C + 1, C + 1].
        thresholds: float64[C] score threshold per class (NaN: the class keeps no detection).
    """

    classes: tuple[str, ...]
    matrix: np.ndarray
    thresholds: np.ndarray

    @property
    def row_labels(self) -> tuple[str, ...]:
        return (*self.classes, "background")

    @property
    def column_labels(self) -> tuple[str, ...]:
        return (*self.classes, "missed")

    def to_dict(self) -> dict:
        return {"rows": list(self.row_labels), "columns": list(self.column_labels),
                "axes": "rows = GT class (+ background: unmatched detections), columns = predicted class "
                        "(+ missed: undetected GT)",
                "matrix": self.matrix.tolist(), "thresholds": {c: _f(t) for c, t in zip(self.classes,
                                                                                         self.thresholds)}}

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix, index=list(self.row_labels), columns=list(self.column_labels))


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """Why a detector loses AP: TIDE's error decomposition, sensitivity, confusion.

    ``mAP`` is the base mAP under the protocol (``"devkit"``/``"voc_eval"``: the VOC12 all-point mAP of
    :func:`vocbench.evaluate`; ``"coco"``: tidecv's 101-point AP at one IoU). ``errors[t]`` is the mAP after TIDE's
    oracle fix of every error of type ``t`` minus ``mAP`` (clamped at 0 as TIDE does); ``special`` the two special
    dAPs (not clamped). All in AP units (0..1). ``per_class_*`` hold the same per class (not clamped), NaN where a
    class is left out of the mean. ``voc07`` holds the same decomposition with VOC07 11-point AP (VOC protocols).

    Per detection (input row order): ``error_type`` (int8, -1 none, else the index in :data:`ERROR_TYPES`),
    ``error_target`` (object row a cls/loc error is measured against, the matched object a dupe repeats, the object
    a both error overlaps most; -1 otherwise), ``matched_gt`` (object row of a TP, -1 otherwise); per object:
    ``missed`` (a miss error). ``confusion`` counts detections scoring at least ``score_threshold`` when given,
    else each class's F1-optimal threshold.
    """

    protocol: str
    iou_threshold: float
    background_iou_threshold: float
    classes: tuple[str, ...]
    mAP: float
    errors: dict[str, float]
    special: dict[str, float]
    counts: dict[str, int]
    per_class_ap: np.ndarray
    per_class_errors: dict[str, np.ndarray]
    per_class_special: dict[str, np.ndarray]
    per_class_counts: dict[str, np.ndarray]
    voc07: dict | None
    sensitivity: Sensitivity | None
    confusion: ConfusionMatrix | None
    error_type: np.ndarray
    error_target: np.ndarray
    matched_gt: np.ndarray
    missed: np.ndarray
    num_images: int
    num_detections: int
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        per_class = {}
        for k, name in enumerate(self.classes):
            per_class[name] = {
                "ap": _f(self.per_class_ap[k]),
                "errors": {t: _f(self.per_class_errors[t][k]) for t in ERROR_TYPES},
                "special": {t: _f(self.per_class_special[t][k]) for t in SPECIAL_TYPES},
                "counts": {t: int(self.per_class_counts[t][k]) for t in ERROR_TYPES},
            }
        out = {"protocol": self.protocol, "iou_threshold": self.iou_threshold,
               "background_iou_threshold": self.background_iou_threshold, "mAP": _f(self.mAP),
               "errors": {t: _f(self.errors[t]) for t in ERROR_TYPES},
               "special": {t: _f(self.special[t]) for t in SPECIAL_TYPES},
               "counts": {t: int(self.counts[t]) for t in ERROR_TYPES},
               "per_class": per_class,
               "sensitivity": self.sensitivity.to_dict() if self.sensitivity is not None else None,
               "confusion": self.confusion.to_dict() if self.confusion is not None else None,
               "num_images": self.num_images, "num_detections": self.num_detections,
               "warnings": list(self.warnings)}
        if self.voc07 is not None:
            out["voc07"] = {"mAP": _f(self.voc07["mAP"]),
                            "errors": {t: _f(self.voc07["errors"][t]) for t in ERROR_TYPES},
                            "special": {t: _f(self.voc07["special"][t]) for t in SPECIAL_TYPES}}
        return out

    def to_pandas(self, table: str = "per_class") -> pd.DataFrame:
        """``"per_class"`` (the default): AP, the six dAPs, the two special dAPs and the error counts per
        class;
        ``"errors"``: one row per error type (main and special) with its dAP and count; ``"sensitivity"`` and
        ``"confusion"``: those results' tables."""
        if table == "errors":
            return pd.DataFrame([{"error": t, "dAP": self.errors[t], "count": self.counts[t]} for t in ERROR_TYPES]
                                + [{"error": t, "dAP": self.special[t], "count": np.nan} for t in SPECIAL_TYPES])
        if table in ("sensitivity", "confusion"):
            part = self.sensitivity if table == "sensitivity" else self.confusion
            if part is None:
                raise KeyError(f"the diagnosis was run without {table}")
            return part.to_pandas()
        if table != "per_class":
            raise ValueError(f"table must be 'per_class', 'errors', 'sensitivity' or 'confusion', got {table!r}")
        data: dict[str, object] = {"ap": self.per_class_ap}
        for t in ERROR_TYPES:
            data[f"d_{t}"] = self.per_class_errors[t]
        for t in SPECIAL_TYPES:
            data[f"d_{t}"] = self.per_class_special[t]
        for t in ERROR_TYPES:
            data[f"n_{t}"] = self.per_class_counts[t]
        return pd.DataFrame(data, index=pd.Index(list(self.classes), name="class"))

    def __str__(self) -> str:
        rule = {"coco": "COCO rules (tidecv)", "devkit": "VOC devkit rules", "voc_eval": "voc_eval.py rules"}
        lines = [f"TIDE diagnosis — {rule.get(self.protocol, self.protocol)}, IoU t_f = {self.iou_threshold:g}, "
                 f"t_b = {self.background_iou_threshold:g}; {self.num_detections} detections on "
                 f"{self.num_images} images",
                 f"base mAP {self.mAP:.4f}" + (f" (VOC07 {self.voc07['mAP']:.4f})" if self.voc07 else ""),
                 "",
                 f"{'error':<10}{'dAP':>9}{'count':>9}"]
        for t in ERROR_TYPES:
            lines.append(f"{t:<10}{self.errors[t]:>9.4f}{self.counts[t]:>9d}")
        for t in SPECIAL_TYPES:
            lines.append(f"{t:<10}{self.special[t]:>9.4f}")
        lines.append("")
        head = f"{'class':<14}{'AP':>7}" + "".join(f"{t:>7}" for t in ERROR_TYPES)
        lines.append(head)
        for k, name in enumerate(self.classes):
            if not np.isfinite(self.per_class_ap[k]):
                continue
            lines.append(f"{name:<14}{self.per_class_ap[k]:>7.3f}"
                         + "".join(f"{self.per_class_errors[t][k]:>7.3f}" for t in ERROR_TYPES))
        if self.sensitivity is not None:
            lines.append("")
            lines.append(f"sensitivity (normalised AP, N = {self.sensitivity.n_norm:g}): max / min per bin")
            for char, (hi, lo) in self.sensitivity.max_min().items():
                lines.append(f"  {char:<12}{hi:>7.3f} {lo:>7.3f}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)
