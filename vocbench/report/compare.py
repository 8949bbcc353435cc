"""The comparison report: leaderboard with bootstrap intervals, forest plot, pairwise difference matrix, per-class
deltas with Holm-corrected significance, overlaid PR curves per class, ranking stability.

Built from a :class:`~vocbench.compare.Comparison` only (nothing is recomputed here); written with the shared report
base (:mod:`vocbench.report.html`). :func:`write_compare_report` is what ``vocbench compare --html`` and the demo
call.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from vocbench.compare.comparison import Comparison, PairDiff, format_p_value
from vocbench.report.eval import downsample_curve
from vocbench.report.html import (
    ReportMeta,
    Section,
    figure_block,
    grid_block,
    html_block,
    table_block,
    text_block,
    write_report,
)
from vocbench.report.plots import fig_to_svg, new_figure
from vocbench.structures import Dataset

__all__ = ["compare_sections", "write_compare_report"]

_LABELS = {"voc07": "VOC07 mAP (11-point)", "voc12": "VOC12 mAP (all-point)", "coco": "COCO AP@[.5:.95]"}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf",
           "#bcbd22")


def _color(j: int) -> str:
    return _COLORS[j % len(_COLORS)]


def _leaderboard(c: Comparison) -> pd.DataFrame:
    rows = []
    for m in c.metrics:
        board = c.rank_stability.leaderboards.get("coco" if m == "coco" else f"{m}/{c.protocol}", c.names)
        values = [c.score(name, m).mAP for name in board]
        for name in board:
            s = c.score(name, m)
            rank = 1 + sum(v > s.mAP for v in values)  # tied models share a rank ("1, 1, 3")
            rows.append({"metric": _LABELS[m], "rank": rank, "model": name, "value": s.mAP, "CI low": s.ci[0],
                         "CI high": s.ci[1], "± half-width": (s.ci[1] - s.ci[0]) / 2,
                         "best in (share of replicates)": c.rank_stability.p_top[m][name],
                         "detections": c.num_detections[name]})
    return pd.DataFrame(rows)


def _forest(c: Comparison) -> str:
    nk = len(c.metrics)
    fig, axes = new_figure(3.2 * nk + 1.0, 0.45 * len(c.names) + 1.2, ncols=nk, squeeze=False)
    for k, m in enumerate(c.metrics):
        ax = axes[0, k]
        y = np.arange(len(c.names))[::-1]
        for j, name in enumerate(c.names):
            s = c.score(name, m)
            # the interval and the point are drawn separately: a percentile interval may exclude its point estimate
            ax.errorbar([(s.ci[0] + s.ci[1]) / 2], [y[j]], xerr=[[(s.ci[1] - s.ci[0]) / 2]], fmt="none", capsize=4,
                        color=_color(j), lw=1.6)
            ax.plot([s.mAP], [y[j]], "o", ms=5, color=_color(j))
        ax.set_yticks(y, list(c.names) if k == 0 else [""] * len(c.names))
        ax.set_ylim(-0.7, len(c.names) - 0.3)
        ax.set_title(_LABELS[m], fontsize=9)
        ax.set_xlabel("point estimate and percentile interval")
    return fig_to_svg(fig)


def _pair_matrix(c: Comparison, metric: str) -> str:
    names = c.names
    n = len(names)
    mat = np.full((n, n), np.nan)
    sig = np.zeros((n, n), bool)
    for p in c.pairs:
        if p.metric != metric:
            continue
        ia, ib = names.index(p.a), names.index(p.b)
        mat[ib, ia] = p.diff  # row - column
        mat[ia, ib] = -p.diff
        sig[ib, ia] = sig[ia, ib] = p.significant
    size = max(2.2, 0.8 * n + 1.2)
    fig, ax = new_figure(size + 0.7, size)
    lim = np.nanmax(np.abs(mat)) if np.any(~np.isnan(mat)) else 1.0
    lim = lim if lim > 0 else 1.0
    im = ax.imshow(mat, cmap="RdBu", vmin=-lim, vmax=lim)
    ax.grid(False)
    for i in range(n):
        for j in range(n):
            if i == j or np.isnan(mat[i, j]):
                continue
            ax.text(j, i, f"{mat[i, j]:+.4f}{' *' if sig[i, j] else ''}", ha="center", va="center", fontsize=8,
                    color="white" if abs(mat[i, j]) > 0.6 * lim else "black")
    ax.set_xticks(range(n), names, rotation=30, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("minus this model")
    ax.set_ylabel("this model")
    ax.set_title(_LABELS[metric], fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label="difference")
    return fig_to_svg(fig)


def _pairs_table(c: Comparison) -> pd.DataFrame:
    df = c.to_pandas("pairs")
    df["metric"] = [_LABELS[m] for m in df["metric"]]
    df["significant"] = ["yes" if s else "no" for s in df["significant"]]
    df["p_value"] = [format_p_value(p, c.bootstrap) for p in df["p_value"]]  # "< 0.001" at the bootstrap's floor
    return df.rename(columns={"diff": "b - a", "ci_lo": "CI low", "ci_hi": "CI high", "p_value": "p (two-sided)",
                              "detectable_diff": "resolves ±"})


def _class_deltas(c: Comparison, p: PairDiff) -> str:
    classes = list(c.classes)
    x = np.arange(len(classes))
    fig, ax = new_figure(max(6.0, 0.42 * len(classes)), 3.0)
    d = np.nan_to_num(p.per_class_diff)
    colors = ["#2ca02c" if (s and v > 0) else "#d62728" if s else "#c7c7c7" for s, v in
              zip(p.per_class_significant, d)]
    lo = np.nan_to_num(p.per_class_ci[0])
    hi = np.nan_to_num(p.per_class_ci[1])
    ax.bar(x, d, 0.7, color=colors)
    # the interval around its own midpoint, not around the bar: a percentile interval may exclude the difference
    ax.errorbar(x, (lo + hi) / 2, yerr=np.abs(hi - lo) / 2, fmt="none", ecolor="black", lw=0.8, capsize=2)
    top = np.nanmax(np.abs(np.concatenate([lo, hi]))) if len(classes) else 1.0
    for k in np.flatnonzero(p.per_class_significant):
        ax.text(x[k], (hi[k] if d[k] >= 0 else lo[k]) + (0.04 * top if d[k] >= 0 else -0.08 * top), "*",
                ha="center", fontsize=11)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set_ylabel(f"AP({p.b}) - AP({p.a})")
    ax.set_title(f"{_LABELS[p.metric]}: {p.b} - {p.a}", fontsize=9)
    return fig_to_svg(fig)


def _pr_overlay(c: Comparison) -> dict | None:
    if not c.results:
        return None
    items = []
    first = next(iter(c.results.values())).voc[0]
    legend_drawn = False
    for k, cls in enumerate(c.classes):
        fig, ax = new_figure(2.4, 2.0)
        parts = []
        for j, name in enumerate(c.names):
            s = c.results[name].voc[0]
            rec, prec, _ = s.curve(k)
            if len(rec) and s.npos[k] > 0:
                idx = downsample_curve(len(rec))
                ax.plot(rec[idx], prec[idx], lw=1.1, color=_color(j), label=name)
            ap = s.ap.get("voc07", s.ap.get("voc12"))
            parts.append(f"{name} {ap[k]:.3f}" if ap is not None else name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall", fontsize=7)
        ax.set_ylabel("precision", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_title(cls, fontsize=8)
        if not legend_drawn and ax.get_legend_handles_labels()[0]:  # the first class that has curves to draw
            ax.legend(fontsize=6, loc="lower left", frameon=False)
            legend_drawn = True
        metric = "VOC07" if "voc07" in first.ap else "VOC12"
        items.append((fig_to_svg(fig), f"{cls}: {metric} AP " + ", ".join(parts)))
    return grid_block(items)


def _stability(c: Comparison) -> list:
    rs = c.rank_stability
    rows = [{"rule set": k, "leaderboard (best first)": " > ".join(v),
             "scores": ", ".join(f"{n} {rs.scores[k][n]:.4f}" for n in v)} for k, v in rs.leaderboards.items()]
    blocks = [table_block(pd.DataFrame(rows), caption="Leaderboards by point estimate under every metric and VOC "
                                                      "protocol (devkit: IoU >= t; voc_eval: IoU > t)")]
    defined = [v for v in rs.kendall_tau.values() if v == v]
    if defined and all(v == 1.0 for v in defined):  # one sentence instead of a table of +1.000 rows
        blocks.append(text_block(f"Every leaderboard has the same order: Kendall's tau-b = +1 for all "
                                 f"{len(defined)} pairs of leaderboards."))
    elif rs.kendall_tau:
        taus = pd.DataFrame([{"boards": k, "Kendall tau-b": v} for k, v in rs.kendall_tau.items()])
        blocks.append(table_block(taus, caption="Agreement between leaderboards (1 = same order; NaN when a board "
                                                "has all models tied)", float_format="{:+.3f}"))
    rep = pd.DataFrame([{"metric": _LABELS[m], "top model changes (share of replicates)": rs.top_change[m],
                         "top tied (share of replicates)": rs.p_tie.get(m, float("nan")),
                         "mean tau-b, replicate vs point": rs.replicate_tau.get(m, float("nan"))}
                        for m in c.metrics])
    blocks.append(table_block(rep, caption="Stability of the ranking under the image bootstrap (a change is a "
                                           "replicate whose set of best models differs from the point estimate's; "
                                           "a replicate with a tied top credits each tied model equally in "
                                           "'best in')"))
    return blocks


def _outside(value: float, ci) -> bool:
    return bool(value < ci[0] or value > ci[1])  # False when NaN


def _excluded_points(c: Comparison) -> list[str]:
    """One line per percentile interval (mAP, paired difference, per-class difference) that excludes its point
    estimate: drawn as it is, and said so in the page."""
    out = [f"{s.name} under {_LABELS[s.metric]}: {s.mAP:.4f} outside [{s.ci[0]:.4f}, {s.ci[1]:.4f}]"
           for s in c.models if _outside(s.mAP, s.ci)]
    for p in c.pairs:
        if _outside(p.diff, p.ci):
            out.append(f"{p.b} - {p.a} under {_LABELS[p.metric]}: {p.diff:+.4f} outside "
                       f"[{p.ci[0]:+.4f}, {p.ci[1]:+.4f}]")
        n = sum(_outside(v, (lo, hi)) for v, lo, hi in zip(p.per_class_diff, *p.per_class_ci))
        if n:
            out.append(f"{p.b} - {p.a} under {_LABELS[p.metric]}: {n} per-class difference(s) outside their interval")
    return out


def _excluded_note(c: Comparison) -> list:
    lines = _excluded_points(c)
    if not lines:
        return []
    return [text_block("Some percentile intervals do not contain their point estimate (the bootstrap distribution "
                       "is skewed or shifted against the full-set value, common with few images or rare classes); "
                       "the plots draw each interval and its point separately, as they are: " + "; ".join(lines)
                       + ".")]


def compare_sections(dataset: Dataset, c: Comparison) -> list[Section]:
    """The report sections for comparison ``c`` (computed on ``dataset``)."""
    pct = f"{100 * c.confidence:g}%"
    summary = [table_block(_leaderboard(c), caption=f"Leaderboard with {pct} percentile bootstrap intervals "
                                                    f"({c.bootstrap} replicates, seed {c.seed})"),
               text_block(f"Method: {c.method}. Images of the set ({c.num_images}) are drawn with replacement; each "
                          "model is matched once and a replicate re-weights its matched detections, which equals "
                          "scoring the resampled set exactly; an image drawn twice counts twice (hotcoco's compare "
                          "de-duplicates each draw, which narrows its intervals by about a quarter). All models share "
                          "each replicate's resample, so the differences below are paired. VOC protocol "
                          f"'{c.protocol}', IoU {c.iou_threshold:g}; COCO as pycocotools.")]
    for w in c.warnings:
        summary.append(text_block(f"Warning: {w}"))
    summary.extend(_excluded_note(c))
    sections = [Section("Leaderboard", summary),
                Section("Forest plot", [figure_block(_forest(c), f"Point estimate and {pct} interval per metric")])]
    diff_blocks: list = [table_block(_pairs_table(c), caption=f"Paired differences b - a with {pct} intervals, "
                                                              "two-sided bootstrap p-values and the smallest "
                                                              "difference the set resolves (half the interval width)")]
    diff_blocks.append(grid_block([(_pair_matrix(c, m), f"{_LABELS[m]}: row model minus column model "
                                                        f"(* = significant at {pct})") for m in c.metrics]))
    sections.append(Section("Pairwise differences", diff_blocks))
    per_class = []
    for p in c.pairs:
        n_sig = int(p.per_class_significant.sum())
        per_class.append(figure_block(_class_deltas(c, p), f"{_LABELS[p.metric]}: per-class AP difference "
                                                           f"{p.b} - {p.a} with {pct} intervals; coloured and * = "
                                                           f"significant after Holm's correction over the classes "
                                                           f"({n_sig} of {len(c.classes)})"))
    sections.append(Section("Per-class differences", per_class,
                            intro=f"Each class's AP difference with its {pct} percentile interval. Significance: "
                                  "two-sided bootstrap p-values, Holm-corrected over the classes of a pair and metric. "
                                  f"With {c.bootstrap} replicates the smallest p-value is 2/{c.bootstrap + 1}, so "
                                  "after the correction over many classes only more replicates can make a class "
                                  "significant."))
    pr = _pr_overlay(c)
    if pr is not None:
        sections.append(Section("Precision-recall curves", [pr],
                                intro=f"Every model's PR curve per class (IoU {c.iou_threshold:g}, protocol "
                                      f"{c.protocol}); curves with many points are drawn from an evenly spaced "
                                      "subset."))
    sections.append(Section("Ranking stability", _stability(c)))
    legend = " ".join(f'<span style="color:{_color(j)}">&#9632; {html.escape(n)}</span>'
                      for j, n in enumerate(c.names))
    sections[1].blocks.append(html_block(f"<p>{legend}</p>"))
    return sections


def write_compare_report(path: str | os.PathLike, dataset: Dataset, comparison: Comparison,
                         title: str | None = None) -> Path:
    """Write the self-contained HTML comparison report (atomically). Returns the path."""
    c = comparison
    meta = ReportMeta(data=f"{', '.join(c.names)} on {', '.join(dataset.sets)} ({dataset.num_images} images, "
                           f"{int((~dataset.difficult).sum())} non-difficult objects)",
                      extra={"Bootstrap": f"{c.bootstrap} replicates, seed {c.seed}",
                             "Metrics": ", ".join(c.metrics), "Protocol": c.protocol})
    title = title or f"Detector comparison: {' vs '.join(c.names)}"
    return write_report(path, title, compare_sections(dataset, c), meta)
