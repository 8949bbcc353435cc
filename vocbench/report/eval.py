"""The evaluation report: mAP per metric, per-class AP and counts, PR curves (small multiples), error breakdown.

Built from an :class:`~vocbench.eval.results.EvalResult` only (nothing is recomputed here); written with the
shared report base (:mod:`vocbench.report.html`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from vocbench.diagnose.results import Diagnosis
from vocbench.eval.matching import PROTOCOLS
from vocbench.eval.results import EvalResult, VocScores
from vocbench.report.html import ReportMeta, Section, figure_block, grid_block, table_block, text_block, write_report
from vocbench.report.plots import fig_to_svg, new_figure
from vocbench.structures import Dataset, Detections

__all__ = ["eval_sections", "write_eval_report", "downsample_curve"]

_MAX_CURVE_POINTS = 300
_METRIC_LABELS = {"voc07": "VOC07 11-point AP", "voc12": "VOC12 all-point AP", "coco": "COCO AP@[.5:.95]"}


def downsample_curve(n: int, keep: int | None = None, max_points: int = _MAX_CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` (+1) evenly spaced points of an ``n``-point curve, ends and ``keep`` kept."""
    if n <= max_points:
        return np.arange(n)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
    if keep is not None and 0 <= keep < n:
        idx = np.union1d(idx, [keep])
    return idx


def _summary(result: EvalResult) -> list:
    rows = []
    for s in result.voc:
        for m in s.ap:
            rows.append({"metric": _METRIC_LABELS[m], "IoU": f"{s.iou_threshold:g}", "mAP": s.mAP[m]})
    if result.coco is not None:
        rows.append({"metric": _METRIC_LABELS["coco"], "IoU": ".50:.95", "mAP": result.coco.mAP})
    blocks = [table_block(pd.DataFrame(rows), caption="Mean average precision", float_format="{:.6f}")]
    if result.voc:
        s = result.voc[0]
        totals = pd.DataFrame([{
            "detections": int(s.detections.sum()), "true positives": int(s.tp.sum()),
            "false positives": int(s.fp.sum()), "of which duplicates": int(s.duplicates.sum()),
            "on difficult objects (ignored)": int(s.ignored.sum()), "positives (npos)": int(s.npos.sum()),
            "missed": int(s.missed.sum())}])
        blocks.append(table_block(totals, caption=f"Detection outcomes at IoU {s.iou_threshold:g}"))
        blocks.append(text_block(f"Protocol '{result.protocol}': {PROTOCOLS[result.protocol].description}. "
                                 "Difficult objects are ignored: a detection whose best-overlap object is difficult "
                                 "is neither a true nor a false positive; a class without non-difficult objects "
                                 "has no AP and is left out of mAP."))
    if result.coco is not None:
        blocks.append(table_block(result.to_pandas("coco"), float_format="{:.4f}",
                                  caption="COCO protocol (identical to pycocotools on the COCO export; difficult "
                                          "objects are crowd regions)"))
    for msg in result.warnings:
        blocks.append(text_block(f"Warning: {msg}"))
    return blocks


def _per_class_table(result: EvalResult) -> pd.DataFrame:
    table = result.to_pandas().reset_index()
    rename = {"detections": "dets", "duplicates": "dup", "ignored": "on difficult", "f1_threshold": "F1 score thr",
              "f1_precision": "F1 precision", "f1_recall": "F1 recall", "f1": "F1"}
    return table.rename(columns=rename)


def _ap_bars(result: EvalResult) -> str:
    cols = {}
    for m in result.metrics:
        try:
            cols[_METRIC_LABELS[m]] = result.per_class(m).to_numpy()
        except KeyError:
            continue
    classes = list(result.classes)
    fig, ax = new_figure(max(6.0, 0.42 * len(classes)), 3.0)
    x = np.arange(len(classes))
    width = 0.8 / max(len(cols), 1)
    for k, (label, ap) in enumerate(cols.items()):
        ax.bar(x + (k - (len(cols) - 1) / 2) * width, np.nan_to_num(ap), width, label=label)
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("AP")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig_to_svg(fig)


def _pr_grid(s: VocScores) -> dict:
    items = []
    for c, name in enumerate(s.classes):
        rec, prec, _ = s.curve(c)
        fig, ax = new_figure(2.4, 2.0)
        n = len(rec)
        best = s.best_f1[c]
        keep = None
        if n and not np.isnan(best[0]):
            keep = int(np.flatnonzero((prec == best[1]) & (rec == best[2]))[-1]) if np.any(
                (prec == best[1]) & (rec == best[2])) else None
        if n and s.npos[c] > 0:
            idx = downsample_curve(n, keep)
            ax.plot(rec[idx], prec[idx], lw=1.2, color="#1f77b4")
            env = np.maximum.accumulate(prec[::-1])[::-1]
            ax.plot(rec[idx], env[idx], lw=0.8, ls="--", color="#ff7f0e")
            if keep is not None:
                ax.plot([best[2]], [best[1]], "o", ms=4, color="#d62728")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall", fontsize=7)
        ax.set_ylabel("precision", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(name, fontsize=8)
        parts = [f"{m} {s.ap[m][c]:.3f}" for m in s.ap]
        if not np.isnan(best[0]):
            parts.append(f"F1 {best[3]:.3f} at score ≥ {best[0]:.3f}")
        items.append((fig_to_svg(fig), f"{name}: " + ", ".join(parts)))
    return grid_block(items)


def _error_bars(s: VocScores) -> str:
    classes = list(s.classes)
    fig, ax = new_figure(max(6.0, 0.42 * len(classes)), 3.2)
    x = np.arange(len(classes))
    parts = [("true positives", s.tp, "#2ca02c"), ("false positives (no match)", s.fp - s.duplicates, "#d62728"),
             ("duplicates", s.duplicates, "#ff7f0e"), ("on difficult (ignored)", s.ignored, "#7f7f7f")]
    total = np.asarray(s.detections, np.float64)
    bottom = np.zeros(len(classes))
    for label, v, color in parts:  # shares on a linear axis: every segment keeps its true proportion
        share = np.divide(np.asarray(v, np.float64), total, out=np.zeros(len(classes)), where=total > 0)
        ax.bar(x, share, 0.7, bottom=bottom, label=label, color=color)
        bottom += share
    for xi, n in zip(x, total):
        ax.text(xi, 1.01, f"{int(n):,}", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("share of the class's detections")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig_to_svg(fig)


def _f1_recall_bars(s: VocScores) -> str:
    classes = list(s.classes)
    fig, ax = new_figure(max(6.0, 0.42 * len(classes)), 2.6)
    x = np.arange(len(classes))
    ax.bar(x - 0.2, np.nan_to_num(s.best_f1[:, 1]), 0.4, label="precision at best F1")
    ax.bar(x + 0.2, np.nan_to_num(s.best_f1[:, 2]), 0.4, label="recall at best F1")
    ax.plot(x, np.where(s.npos > 0, s.tp / np.maximum(s.npos, 1), np.nan), "k_", ms=12, mew=2,
            label="recall with all detections")
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("precision, recall")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig_to_svg(fig)


def _coco_iou_curve(result: EvalResult) -> str:
    c = result.coco
    assert c is not None, "only called when the COCO metric was computed"
    p = c.precision[:, :, :, 0, -1]
    ap = []
    for t in range(p.shape[0]):
        v = p[t][p[t] > -1]
        ap.append(v.mean() if v.size else np.nan)
    fig, ax = new_figure(4.0, 2.6)
    ax.plot(c.iou_thresholds, ap, "o-")
    ax.set_xlabel("IoU threshold")
    ax.set_ylabel("COCO AP (101-point)")
    ax.set_ylim(0, 1)
    return fig_to_svg(fig)


def eval_sections(dataset: Dataset, result: EvalResult) -> list[Section]:
    """The report sections for ``result`` (on ``dataset``)."""
    sections = [Section("Summary", _summary(result))]
    per_class = [table_block(_per_class_table(result), caption="Per-class AP, outcome counts (first IoU threshold) "
                                                               "and the F1-optimal score threshold"),
                 figure_block(_ap_bars(result), "AP per class")]
    sections.append(Section("Per-class results", per_class))
    if result.voc:
        s = result.voc[0]
        sections.append(Section(
            "Precision-recall curves", [_pr_grid(s)],
            intro=f"IoU {s.iou_threshold:g}, protocol {result.protocol}. Solid: precision after each detection in "
                  "descending score order; dashed: the monotone envelope VOC12 AP integrates; dot: the F1-optimal "
                  f"score threshold. Curves with more than {_MAX_CURVE_POINTS} points are drawn from an evenly "
                  "spaced subset."))
        sections.append(Section(
            "Errors", [figure_block(_error_bars(s), "Outcome of every detection per class, as a share of the "
                                                    "class's detections (the number above each bar); positives "
                                                    "per class are in the table above"),
                       figure_block(_f1_recall_bars(s), "Precision and recall at the F1-optimal threshold")],
            intro="A duplicate is a detection whose best-overlap object was already matched by a higher-scored "
                  "detection; detections on difficult objects are ignored; missed = positives never matched."))
        if len(result.voc) > 1:
            rows = [{"IoU": f"{v.iou_threshold:g}", **{m: v.mAP[m] for m in v.ap},
                     "tp": int(v.tp.sum()), "fp": int(v.fp.sum()), "duplicates": int(v.duplicates.sum())}
                    for v in result.voc]
            sections.append(Section("IoU thresholds", [table_block(pd.DataFrame(rows), caption="mAP per IoU")]))
    if result.coco is not None:
        sections.append(Section("COCO protocol", [figure_block(_coco_iou_curve(result),
                                                               "AP (all areas, 100 detections) per IoU threshold")]))
    return sections


def write_eval_report(path: str | os.PathLike, dataset: Dataset, result: EvalResult,
                      detections: Detections | None = None, title: str | None = None,
                      diagnosis: Diagnosis | None = None) -> Path:
    """Write the self-contained HTML evaluation report; with ``diagnosis`` (computed by the caller, e.g.
    :func:`vocbench.diagnose.diagnose_evaluation`) its TIDE, sensitivity and confusion sections follow. Writes only:
    nothing is computed here. Returns the path."""
    src = (detections.source if detections is not None else result.source) or "detections"
    meta = ReportMeta(data=f"{src} on {', '.join(dataset.sets)} ({dataset.num_images} images, "
                           f"{int((~dataset.difficult).sum())} non-difficult objects)",
                      extra={"Protocol": result.protocol,
                             "Metrics": ", ".join(result.metrics),
                             "Detections": str(result.num_detections)})
    title = title or f"Detection evaluation: {Path(src).name}"
    sections = eval_sections(dataset, result)
    if diagnosis is not None:  # TIDE errors, sensitivity, confusion, gallery
        from vocbench.report.diagnose import diagnosis_sections

        sections += diagnosis_sections(dataset, diagnosis, detections, prefix="Diagnosis: ")
    return write_report(path, title, sections, meta)
