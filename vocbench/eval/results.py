"""Frozen, typed results of :func:`vocbench.evaluate`: :class:`VocScores`, :class:`CocoScores`, :class:`EvalResult`.

JSON layout of :meth:`EvalResult.to_dict` (NaN becomes ``null`` through ``to_jsonable``)::

    {
      "voc07": {"mAP": x, "per_class": {"aeroplane": ap, ...}},      # at the first IoU threshold
      "voc12": {"mAP": x, "per_class": {...}},
      "coco":  {"AP": .., "AP50": .., "AP75": .., "APs": .., "APm": .., "APl": ..,
                "AR1": .., "AR10": .., "AR100": .., "ARs": .., "ARm": .., "ARl": .., "per_class": {...}},
      "protocol": "devkit", "iou_threshold": 0.5, "num_images": I, "num_detections": N,
      "counts": {"aeroplane": {"npos", "detections", "tp", "fp", "duplicates", "ignored", "missed"}, ...},
      "f1": {"aeroplane": {"threshold", "precision", "recall", "f1"}, ...},
      "iou": {"0.7": {"voc07": {...}, "voc12": {...}, "counts": {...}, "f1": {...}}}   # only with extra thresholds
    }

Only the metrics that were asked for appear. ``coco.per_class`` is AP@[.5:.95] per class (all areas, 100 dets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
else:
    from vocbench._lazy import pandas as pd  # start-up: imported on first use

__all__ = ["VocScores", "CocoScores", "EvalResult", "COCO_STAT_NAMES", "COCO_STAT_SPECS", "COCO_AREA_NAMES",
           "VOC_METRICS", "METRICS"]

#: The 12 summary numbers of pycocotools' ``COCOeval.summarize``, in its order.
COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
VOC_METRICS = ("voc07", "voc12")
METRICS = VOC_METRICS + ("coco",)


def _iou_key(t: float) -> str:
    return format(float(t), "g")


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else float("nan")


@dataclass(frozen=True, eq=False)
class VocScores:
    """VOC matching and AP of every class at one IoU threshold.

    Attributes:
        iou_threshold: the IoU threshold.
        protocol: ``"devkit"`` or ``"voc_eval"``.
        classes: class names.
        ap: metric name (``"voc07"``/``"voc12"``) → float64[C] AP per class (NaN when npos = 0).
        npos: int64[C] non-difficult GT per class.
        detections, tp, fp, duplicates, ignored: int64[C] — detections per class; true positives; false positives
            (duplicates included); duplicates (best GT already matched); ignored (best GT difficult).
        curve_offsets: int64[C + 1] — the PR curve of class ``c`` is ``[curve_offsets[c]:curve_offsets[c + 1]]`` of
            ``precision``, ``recall`` and ``curve_scores`` (one point per counted detection, descending score).
        best_f1: float64[C, 4] — score threshold maximising F1 (keep score >= it), its precision, recall and F1.
        outcome: int8[N] per detection in input order (codes of :mod:`vocbench.eval.matching`).
        best_iou: float64[N] IoU with the best GT of the same class and image, input order.
    """

    iou_threshold: float
    protocol: str
    classes: tuple[str, ...]
    ap: dict
    npos: np.ndarray
    detections: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    duplicates: np.ndarray
    ignored: np.ndarray
    curve_offsets: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    curve_scores: np.ndarray
    best_f1: np.ndarray
    outcome: np.ndarray
    best_iou: np.ndarray

    @property
    def missed(self) -> np.ndarray:
        """int64[C] non-difficult GT left unmatched (npos - tp)."""
        return self.npos - self.tp

    @property
    def mAP(self) -> dict[str, float]:
        """The headline score per metric (``"voc07"``/``"voc12"``): mean AP over classes with npos > 0 (NaN when
        there is none)."""
        return {m: _nanmean(ap) for m, ap in self.ap.items()}

    def curve(self, cls: int | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(recall, precision, scores)`` of one class (index or name)."""
        c = self.classes.index(cls) if isinstance(cls, str) else int(cls)
        s = slice(self.curve_offsets[c], self.curve_offsets[c + 1])
        return self.recall[s], self.precision[s], self.curve_scores[s]

    def to_pandas(self, table: str = "counts") -> pd.DataFrame:
        """One row per class: ``"counts"`` (npos, detections, tp, fp, duplicates, ignored, missed; the default),
        ``"f1"`` (the F1-optimal score threshold with its precision, recall and F1) or ``"ap"`` (AP per metric)."""
        if table == "counts":
            return self._counts_frame()
        if table == "f1":
            return pd.DataFrame(self.best_f1, columns=["f1_threshold", "f1_precision", "f1_recall", "f1"],
                                index=pd.Index(self.classes, name="class"))
        if table == "ap":
            return pd.DataFrame(self.ap, index=pd.Index(self.classes, name="class"))
        raise ValueError(f"table must be 'counts', 'f1' or 'ap', got {table!r}")

    def _counts_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"npos": self.npos, "detections": self.detections, "tp": self.tp, "fp": self.fp,
                             "duplicates": self.duplicates, "ignored": self.ignored, "missed": self.missed},
                            index=pd.Index(self.classes, name="class"))

    def to_dict(self) -> dict:
        maps = self.mAP
        out: dict = {m: {"mAP": maps[m], "per_class": dict(zip(self.classes, self.ap[m].tolist()))}
                     for m in self.ap}
        out["counts"] = {c: {k: int(v) for k, v in row.items()}
                         for c, row in self._counts_frame().to_dict(orient="index").items()}
        out["f1"] = {c: {"threshold": float(r[0]), "precision": float(r[1]), "recall": float(r[2]), "f1": float(r[3])}
                     for c, r in zip(self.classes, self.best_f1)}
        return out


#: Area range names of :class:`CocoScores`, in the order of its area axis (pycocotools' ``areaRngLbl``).
COCO_AREA_NAMES = ("all", "small", "medium", "large")

#: The 12 summary numbers, the one definition: name -> (``"ap"`` or ``"ar"``, IoU threshold or None (all ten),
#: area range, maxDets), in pycocotools' ``summarize()`` order.
COCO_STAT_SPECS: dict[str, tuple[str, float | None, str, int]] = {
    "AP": ("ap", None, "all", 100), "AP50": ("ap", 0.5, "all", 100), "AP75": ("ap", 0.75, "all", 100),
    "APs": ("ap", None, "small", 100), "APm": ("ap", None, "medium", 100), "APl": ("ap", None, "large", 100),
    "AR1": ("ar", None, "all", 1), "AR10": ("ar", None, "all", 10), "AR100": ("ar", None, "all", 100),
    "ARs": ("ar", None, "small", 100), "ARm": ("ar", None, "medium", 100), "ARl": ("ar", None, "large", 100)}


@dataclass(frozen=True, eq=False)
class CocoScores:
    """The COCO protocol, computed exactly as pycocotools does on the COCO export (:mod:`vocbench.io.coco`).

    Read it through the typed accessors: :meth:`ap` and :meth:`ar` (any IoU threshold, area range, maxDets and
    class), :meth:`by_area` (the nested breakdown), :meth:`to_pandas` (the 12 summary numbers per class). The raw
    arrays stay available for code written against pycocotools.

    Attributes:
        stats: the 12 numbers of ``COCOeval.summarize`` by name (:data:`COCO_STAT_NAMES`); NaN where undefined
            (where pycocotools prints -1).
        precision, recall: pycocotools' arrays, -1 where undefined (inside them only, as pycocotools has them).
        precision: float64[T, R, K, A, M] interpolated precision (pycocotools' ``eval["precision"]``).
        recall: float64[T, K, A, M] final recall (pycocotools' ``eval["recall"]``).
        iou_thresholds: float64[T] ``np.linspace(.5, .95, 10)``. rec_thresholds: float64[R] ``np.linspace(0, 1, 101)``.
        area_ranges: ((lo, hi), ...) for ``("all", "small", "medium", "large")``. max_dets: (1, 10, 100).
        classes: class names.
    """

    stats: dict
    precision: np.ndarray
    recall: np.ndarray
    iou_thresholds: np.ndarray
    rec_thresholds: np.ndarray
    area_ranges: tuple
    max_dets: tuple
    classes: tuple[str, ...]

    # -------------------------------------------------------------- typed access
    @property
    def mAP(self) -> float:
        """The headline score: AP@[.5:.95] over all areas, 100 detections (``stats["AP"]``); NaN if undefined."""
        return float(self.stats["AP"])

    def _index(self, iou: float | None, area: str, max_dets: int, cls: int | str | None):
        if iou is None:
            t = slice(None)
        else:
            hit = np.flatnonzero(np.isclose(self.iou_thresholds, float(iou), rtol=0, atol=1e-9))
            if not hit.size:
                raise ValueError(f"iou must be None or one of {np.round(self.iou_thresholds, 2).tolist()}, got {iou}")
            t = slice(int(hit[0]), int(hit[0]) + 1)
        if area not in COCO_AREA_NAMES[:len(self.area_ranges)]:
            raise ValueError(f"area must be one of {list(COCO_AREA_NAMES[:len(self.area_ranges)])}, got {area!r}")
        if max_dets not in self.max_dets:
            raise ValueError(f"max_dets must be one of {list(self.max_dets)}, got {max_dets}")
        if cls is None:
            k: slice | int = slice(None)
        elif isinstance(cls, str):
            if cls not in self.classes:
                raise ValueError(f"unknown class {cls!r}; classes are {list(self.classes)}")
            k = self.classes.index(cls)
        else:
            k = int(cls)
            if not 0 <= k < len(self.classes):
                raise ValueError(f"class index {cls} out of range 0..{len(self.classes) - 1}")
        return t, k, COCO_AREA_NAMES.index(area), self.max_dets.index(max_dets)

    def ap(self, iou: float | None = None, area: str = "all", max_dets: int = 100,
           cls: int | str | None = None) -> float:
        """Average precision as pycocotools' ``summarize`` forms it: the mean of the 101-point interpolated
        precision over the recall thresholds, the IoU thresholds (all ten when ``iou`` is None, else that one),
        and the classes (all when ``cls`` is None, else that class, by index or name) that have non-ignored ground
        truth in the area range.

        ``ap()`` is ``stats["AP"]``, ``ap(0.5)`` ``stats["AP50"]``, ``ap(area="small")`` ``stats["APs"]``.

        Returns:
            The AP in [0, 1]; NaN where no class has ground truth in that area range.
        """
        t, k, a, m = self._index(iou, area, max_dets, cls)
        v = self.precision[t, :, k, a, m]
        v = v[v > -1]
        return float(v.mean()) if v.size else float("nan")

    def ar(self, iou: float | None = None, area: str = "all", max_dets: int = 100,
           cls: int | str | None = None) -> float:
        """Average recall (pycocotools' definition: the final recall with at most ``max_dets`` detections per image
        and class, averaged over the IoU thresholds and classes as in :meth:`ap`). ``ar(max_dets=1)`` is
        ``stats["AR1"]``. NaN where undefined."""
        t, k, a, m = self._index(iou, area, max_dets, cls)
        v = self.recall[t, k, a, m]
        v = v[v > -1]
        return float(v.mean()) if v.size else float("nan")

    def summary(self, cls: int | str | None = None) -> dict[str, float]:
        """The 12 summary numbers (:data:`COCO_STAT_NAMES`) over all classes, or of one class; NaN where
        undefined."""
        return {name: (self.ap if kind == "ap" else self.ar)(iou, area, md, cls)
                for name, (kind, iou, area, md) in COCO_STAT_SPECS.items()}

    def by_area(self) -> dict[str, dict[str, float]]:
        """Nested breakdown: area range -> ``{"AP", "AP50", "AP75", "AR1", "AR10", "AR100"}`` over all classes."""
        out = {}
        for area in COCO_AREA_NAMES[:len(self.area_ranges)]:
            out[area] = {"AP": self.ap(None, area), "AP50": self.ap(0.5, area), "AP75": self.ap(0.75, area),
                         "AR1": self.ar(None, area, 1), "AR10": self.ar(None, area, 10),
                         "AR100": self.ar(None, area, 100)}
        return out

    def per_class_ap(self, iou: float | None = None) -> np.ndarray:
        """float64[K] AP per class, all areas, 100 detections: mean over IoU thresholds (or at ``iou``) and recall
        thresholds; NaN for classes pycocotools skips (no non-ignored GT)."""
        t, _, a, m = self._index(iou, "all", 100, None)
        per = np.ascontiguousarray(np.moveaxis(self.precision[t, :, :, a, m], 2, 0)).reshape(len(self.classes), -1)
        if per.shape[1] == 0:
            return np.full(len(self.classes), np.nan)
        valid = per > -1
        full, none = valid.all(axis=1), ~valid.any(axis=1)
        # a row-wise mean sums each contiguous row as np.mean sums the filtered 1-D selection: the same doubles as
        # ap(iou, cls=k), without ~K Python calls; a class partly -1 (not produced by the evaluator) takes ap()
        out = np.where(full, per.mean(axis=1) if per.size else 0.0, np.nan)
        for k in np.flatnonzero(~full & ~none).tolist():
            out[k] = self.ap(iou, "all", 100, k)
        return out

    def to_pandas(self, table: str = "per_class") -> pd.DataFrame:
        """``"per_class"`` (the default: one row per class, the 12 summary numbers of that class alone) or
        ``"summary"`` (one row, the 12 numbers over all classes, :data:`COCO_STAT_NAMES`); NaN where undefined."""
        if table == "summary":
            return pd.DataFrame([self.stats], columns=list(COCO_STAT_NAMES))
        if table != "per_class":
            raise ValueError(f"table must be 'per_class' or 'summary', got {table!r}")
        rows = [self.summary(k) for k in range(len(self.classes))]
        return pd.DataFrame(rows, index=pd.Index(self.classes, name="class"), columns=list(COCO_STAT_NAMES))

    def to_dict(self) -> dict:
        """``{AP, AP50, ..., ARl, "per_class": {class: AP}, "by_area": {area: {...}}}`` (NaN becomes null in JSON)."""
        out: dict = {k: float(v) for k, v in self.stats.items()}
        out["per_class"] = dict(zip(self.classes, self.per_class_ap().tolist()))
        out["by_area"] = self.by_area()
        return out

    def summarize_text(self) -> str:
        """The 12 lines ``COCOeval.summarize()`` prints, character for character (``-1.000`` where pycocotools
        prints it: no ground truth in that area range)."""
        lo, hi = float(self.iou_thresholds[0]), float(self.iou_thresholds[-1])
        lines = []
        for name, (kind, iou, area, max_dets) in COCO_STAT_SPECS.items():
            value = float(self.stats[name])
            value = -1.0 if value != value else value  # pycocotools' text: -1 where vocbench says NaN
            title, short = ("Average Precision", "(AP)") if kind == "ap" else ("Average Recall", "(AR)")
            iou_text = f"{lo:0.2f}:{hi:0.2f}" if iou is None else f"{iou:0.2f}"
            lines.append(f" {title:<18} {short} @[ IoU={iou_text:<9} | area={area:>6s} | "
                         f"maxDets={max_dets:>3d} ] = {value:0.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = ["COCO (pycocotools rules):", self.summarize_text()]
        for area, d in self.by_area().items():
            lines.append(f"  {area:<6} " + "  ".join(f"{k} {v:.4f}" for k, v in d.items()))
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Everything :func:`vocbench.evaluate` measured.

    Attributes:
        classes: class names.
        metrics: the metrics asked for (``"voc07"``, ``"voc12"``, ``"coco"``).
        protocol: VOC protocol name.
        iou_thresholds: VOC IoU thresholds, first one = the main one.
        voc: one :class:`VocScores` per IoU threshold (empty when only ``"coco"`` was asked for).
        coco: :class:`CocoScores` or None.
        num_images, num_detections: sizes of the evaluated data.
        source: where the detections came from.
    """

    classes: tuple[str, ...]
    metrics: tuple[str, ...]
    protocol: str
    iou_thresholds: tuple[float, ...]
    voc: tuple[VocScores, ...]
    coco: CocoScores | None
    num_images: int
    num_detections: int
    source: str = ""
    warnings: tuple[str, ...] = field(default=())

    # -------------------------------------------------------------- access
    @property
    def mAP(self) -> dict[str, float]:
        """The headline score per metric: VOC mAP at the first IoU threshold; COCO AP@[.5:.95]."""
        voc = self.voc[0].mAP if self.voc else {}
        out = {m: voc[m] for m in self.metrics if m in VOC_METRICS}
        if self.coco is not None:
            out["coco"] = self.coco.mAP
        return out

    def scores_at(self, iou: float | None = None) -> VocScores:
        """The :class:`VocScores` at IoU threshold ``iou`` (default: the first)."""
        if not self.voc:
            raise KeyError("no VOC metric was evaluated")
        if iou is None:
            return self.voc[0]
        for s in self.voc:
            if abs(s.iou_threshold - iou) < 1e-12:
                return s
        raise KeyError(f"IoU threshold {iou} was not evaluated (have {list(self.iou_thresholds)})")

    def per_class(self, metric: str, iou: float | None = None) -> pd.Series:
        """AP per class for ``metric`` (``"voc07"``, ``"voc12"``, ``"coco"``), NaN where undefined."""
        if metric == "coco":
            if self.coco is None:
                raise KeyError("metric 'coco' was not evaluated")
            return pd.Series(self.coco.per_class_ap(), index=pd.Index(self.classes, name="class"), name="coco")
        s = self.scores_at(iou)
        if metric not in s.ap:
            raise KeyError(f"metric {metric!r} was not evaluated (have {list(self.metrics)})")
        return pd.Series(s.ap[metric], index=pd.Index(self.classes, name="class"), name=metric)

    # -------------------------------------------------------------- export
    def to_pandas(self, table: str = "per_class") -> pd.DataFrame:
        """``"per_class"`` (the default): one row per class: counts and F1 at the first IoU threshold, then AP
        columns (``ap_voc07``, ``ap_voc12``, ``ap_coco``; extra IoU thresholds as ``ap_voc07@0.7``).
        ``"summary"``: one row per (metric, IoU threshold) with its mAP; ``"coco"``: the 12 COCO summary numbers
        (:meth:`CocoScores.to_pandas` ``("summary")``)."""
        if table == "summary":
            return self._summary_frame()
        if table == "coco":
            if self.coco is None:
                raise KeyError("metric 'coco' was not evaluated")
            return self.coco.to_pandas("summary")
        if table != "per_class":
            raise ValueError(f"table must be 'per_class', 'summary' or 'coco', got {table!r}")
        frames = []
        if self.voc:
            first = self.voc[0]
            frames += [first.to_pandas("counts"), first.to_pandas("f1")]
            for i, s in enumerate(self.voc):
                suffix = "" if i == 0 else f"@{_iou_key(s.iou_threshold)}"
                for m, ap in s.ap.items():
                    frames.append(pd.DataFrame({f"ap_{m}{suffix}": ap}, index=pd.Index(self.classes, name="class")))
        if self.coco is not None:
            frames.append(pd.DataFrame({"ap_coco": self.coco.per_class_ap(), "ap50_coco": self.coco.per_class_ap(0.5)},
                                       index=pd.Index(self.classes, name="class")))
        return pd.concat(frames, axis=1) if frames else pd.DataFrame(index=pd.Index(self.classes, name="class"))

    def _summary_frame(self) -> pd.DataFrame:
        rows = [{"metric": m, "iou_threshold": s.iou_threshold, "mAP": v} for s in self.voc for m, v in s.mAP.items()]
        if self.coco is not None:
            rows.append({"metric": "coco", "iou_threshold": float("nan"), "mAP": self.coco.mAP})
        return pd.DataFrame(rows, columns=["metric", "iou_threshold", "mAP"])

    def to_dict(self) -> dict:
        """The JSON layout of the module docstring."""
        out: dict = {}
        if self.voc:
            first = self.voc[0].to_dict()
            for m in self.metrics:
                if m in first:
                    out[m] = first[m]
        if self.coco is not None:
            out["coco"] = self.coco.to_dict()
        out["protocol"] = self.protocol
        if self.voc:
            out["iou_threshold"] = self.iou_thresholds[0]
        out["num_images"] = self.num_images
        out["num_detections"] = self.num_detections
        if self.voc:
            out["counts"] = first["counts"]
            out["f1"] = first["f1"]
            if len(self.voc) > 1:
                out["iou"] = {_iou_key(s.iou_threshold): s.to_dict() for s in self.voc[1:]}
        return out

    def _table_columns(self) -> dict[str, tuple[np.ndarray, float]]:
        """Printed columns → (per-class values, the bottom "all" row): instances, P and R at each class's max-F1
        point, VOC APs, then COCO mAP50 and mAP50-95 (ultralytics' names for AP@.50 and AP@[.50:.95])."""
        cols: dict[str, tuple[np.ndarray, float]] = {}
        if self.voc:
            first = self.voc[0]
            npos = np.asarray(first.npos, np.float64)
            cols["instances"] = (npos, float(npos.sum()))
            best = np.asarray(first.best_f1, np.float64).reshape(len(self.classes), 4)
            cols["P"] = (best[:, 1], _nanmean(best[:, 1]))
            cols["R"] = (best[:, 2], _nanmean(best[:, 2]))
        for i, s in enumerate(self.voc):
            suffix = "" if i == 0 else f"@{_iou_key(s.iou_threshold)}"
            for m, ap in s.ap.items():
                cols[f"{m}{suffix}"] = (ap, _nanmean(ap))
        if self.coco is not None:
            cols["mAP50"] = (self.coco.per_class_ap(0.5), self.coco.ap(0.5))
            cols["mAP50-95"] = (self.coco.per_class_ap(), self.coco.ap())
        return cols

    def __str__(self) -> str:
        lines = [f"{self.source or 'detections'}: {self.num_detections} detections on {self.num_images} images, "
                 f"protocol {self.protocol}"]
        cols = self._table_columns()
        if cols:
            width = max(len(c) for c in self.classes + ("all",))
            names = list(cols)
            lines.append(" ".join([f"{'class':<{width}}"] + [f"{n:>10}" for n in names]))
            for k, c in enumerate(["all", *self.classes]):
                cells = [cols[n][1] if k == 0 else cols[n][0][k - 1] for n in names]
                lines.append(" ".join([f"{c:<{width}}"] + [f"{v:>10.0f}" if n == "instances" else f"{v:>10.4f}"
                                                            for n, v in zip(names, cells)]))
            notes = []
            if self.voc:
                notes.append(f"instances: non-difficult objects; P, R: precision and recall at each class's max-F1 "
                             f"score threshold (IoU {_iou_key(self.voc[0].iou_threshold)}, {self.protocol} "
                             "matching; ultralytics picks one threshold for all classes)")
            notes.append("all: mean over classes with ground truth" + (" (mAP = the 'all' row)" if self.voc else ""))
            if self.coco is not None:
                notes.append("mAP50, mAP50-95: COCO AP at IoU .50 and averaged over .50:.95 (pycocotools rules)")
            lines += [f"  {n}" for n in notes]
        if self.coco is not None:
            lines += ["", "pycocotools summarize():", self.coco.summarize_text()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        maps = ", ".join(f"{k}={v:.6f}" for k, v in self.mAP.items())
        return f"EvalResult({maps}, protocol={self.protocol!r}, iou={list(self.iou_thresholds)})"
