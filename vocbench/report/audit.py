"""The audit sections (``vocbench audit --html`` and the dataset report): lost objects against the grid, the
assignment on the default grid, SSD matching, resize policies, the health check and the label-error candidates.

Writers only: every number comes from :mod:`vocbench.audit` results computed by the caller.
"""

from __future__ import annotations

import base64
import html as _html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vocbench.report.html import ReportMeta, Section, figure_block, html_block, table_block, text_block, write_report
from vocbench.report.plots import fig_to_svg, new_figure

__all__ = ["audit_sections", "label_issue_sections", "write_audit_report", "AUDIT_TITLES", "LABEL_ISSUE_TITLE"]

#: Section headings of the dataset audit, in order.
AUDIT_TITLES = ("Audit: lost objects vs grid size", "Audit: grid assignment", "Audit: SSD matching",
                "Audit: resize policy", "Audit: annotation health")
LABEL_ISSUE_TITLE = "Label-error candidates"
_KIND_COLOURS = {"missing": "#d9480f", "wrong_class": "#7048e8", "badloc": "#2b8a3e", "spurious": "#c2255c"}


def _fig_sweep(sweep, highlight: int) -> str:
    fig, ax = new_figure(6.4, 3.4)
    df = sweep.to_pandas()
    ax.plot(df["grid_side"], df["lost_cell"], "o-", color="#2563a6", label="one object per cell (YOLOv2)")
    ax.plot(df["grid_side"], df["lost_cell_anchor"], "s--", color="#d9480f", label="one object per (cell, anchor)")
    for g, v in zip(df["grid_side"], df["lost_cell"]):
        ax.annotate(f"{v}", (g, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    if highlight in set(df["grid_side"]):
        ax.axvline(highlight, color="black", lw=0.8, ls=":")
        ax.text(highlight, ax.get_ylim()[1] * 0.95, f" {highlight}×{highlight}", fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_xticks(df["grid_side"], [f"{g}" for g in df["grid_side"]])
    ax.minorticks_off()
    ax.set_xlabel("grid side (cells; input = side × 32 px)")
    ax.set_ylabel("objects lost")
    ax.legend(fontsize=8)
    ax.set_title(f"Objects lost vs grid size ({sweep.prior_set} anchors, {sweep.objects} objects)")
    return fig_to_svg(fig)


def _fig_lost_by_size(assignment) -> str:
    fig, axes = new_figure(7.6, 3.2, ncols=2, layout="constrained")
    for ax, table, label in ((axes[0], "coco_size", "COCO size (original pixels)"),
                             (axes[1], "input_size", "sqrt(w·h) at the input")):
        df = assignment.to_pandas(table)
        x = np.arange(len(df))
        ax.bar(x - 0.2, df["lost_cell_pct"].fillna(0), 0.4, color="#2563a6", label="per cell")
        ax.bar(x + 0.2, df["lost_cell_anchor_pct"].fillna(0), 0.4, color="#d9480f", label="per (cell, anchor)")
        ax.set_xticks(x, df.iloc[:, 0].tolist(), rotation=30, fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylabel("objects lost (%)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Lost objects by size, {assignment.grid} grid", fontsize=10)
    return fig_to_svg(fig)


def _fig_positives(ssd) -> str:
    fig, ax = new_figure(6.4, 3.0)
    df = ssd.to_pandas("positives")
    ax.bar(df["positives"], df["objects"], color="#2563a6", width=0.9)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("positive default boxes per object (IoU ≥ threshold, plus the forced best)")
    ax.set_ylabel("objects")
    ax.set_title(f"{ssd.prior_set}: positives per object (mean {ssd.mean_positives:.1f})")
    return fig_to_svg(fig)


def _fig_resize(resize) -> str:
    n = len(resize.policies)
    fig, axes = new_figure(3.3 * n + 0.6, 3.6, ncols=n, squeeze=False, layout="constrained")
    s = resize.input_size
    for ax, p in zip(axes[0], resize.policies):
        hb = ax.hexbin(np.clip(p.wh[:, 0], 0, s), np.clip(p.wh[:, 1], 0, s), gridsize=40, extent=(0, s, 0, s),
                       bins="log", cmap="viridis", mincnt=1, linewidths=0.0)
        hb.set_rasterized(True)
        if len(p.anchors):
            ax.scatter(p.anchors[:, 0], p.anchors[:, 1], marker="X", s=70, c="#ff6b6b", edgecolors="black",
                       linewidths=0.8, label=f"k-means (mean IoU {p.mean_iou:.3f})")
            ax.legend(fontsize=7, loc="upper left")
        ax.plot([0, s], [0, s], color="black", lw=0.5, ls="--", alpha=0.6)
        ax.set_xlim(0, s)
        ax.set_ylim(0, s)
        ax.set_aspect("equal")
        ax.grid(False)
        ax.set_xlabel("box width at input (px)")
        ax.set_title(f"{p.policy}: {len(p.wh)} boxes", fontsize=9)
    axes[0][0].set_ylabel("box height at input (px)")
    fig.suptitle(f"Box shapes at the {s}×{s} input per resize policy", fontsize=10)
    return fig_to_svg(fig)


def _assignment_blocks(assignments) -> list[dict]:
    main = assignments[0]
    blocks = [text_block(str(main)), figure_block(_fig_lost_by_size(main), "Share of objects lost, by size. "
                                                  "Small objects crowd into shared cells."),
              table_block(main.to_pandas("class"), caption=f"Per class, {main.grid} grid, {main.prior_set} anchors",
                          float_format="{:.2f}")]
    if len(assignments) > 1:
        rows = [{"grid": a.grid, "prior_set": a.prior_set, "objects": a.objects, "shared_cell": a.shared_cell,
                 "lost_cell": a.lost_cell, "lost_cell_anchor": a.lost_cell_anchor} for a in assignments]
        blocks.append(table_block(pd.DataFrame(rows), caption="Every grid layout and prior set audited"))
    return blocks


def audit_sections(audit) -> list[Section]:
    """Sections for a :class:`~vocbench.audit.DatasetAudit` (the first assignment is the headline case)."""
    main = audit.assignments[0] if audit.assignments else None
    g = main.grids[-1] if main is not None else 13
    sections = [Section(AUDIT_TITLES[0], [
        figure_block(_fig_sweep(audit.sweep, g),
                     "Objects whose grid cell (or cell and best anchor) another object of the same image already "
                     "claimed: the first in annotation order keeps it, as YOLO keeps the first after a shuffle."),
        table_block(audit.sweep.to_pandas(), caption="Lost objects per grid side", float_format="{:.3f}"),
    ], intro="A one-stage detector's grid can only learn one object per cell (YOLOv2) or per (cell, anchor); a "
             "finer grid loses fewer. Boxes are squashed to the square input, difficult objects left out.")]
    if main is not None:
        sections.append(Section(AUDIT_TITLES[1], _assignment_blocks(audit.assignments)))
    ssd = audit.ssd
    sections.append(Section(AUDIT_TITLES[2], [
        text_block(str(ssd)), figure_block(_fig_positives(ssd), "ssd.pytorch's matching: every default box goes "
                                           "to the object of highest IoU when ≥ the threshold; every object also "
                                           "takes its own best default box."),
        table_block(ssd.to_pandas("class"), caption="Per class", float_format="{:.2f}")]))
    sections.append(Section(AUDIT_TITLES[3], [
        table_block(audit.resize.to_pandas(), caption=f"Resize policies at {audit.resize.input_size} px "
                                                      f"(k = {audit.resize.k})"),
        figure_block(_fig_resize(audit.resize), "squash: each side scaled to the input (aspect ratios change); "
                     "letterbox: the long side scaled, the short side padded; crop: the short side scaled and "
                     "the centre square kept (cut: partly outside; lost: wholly outside)."),
    ]))
    h = audit.health
    sections.append(Section(AUDIT_TITLES[4], [
        table_block(h.to_pandas("summary"), caption="Findings per check"),
        text_block(f"Class imbalance: largest / smallest class {h.imbalance:.1f}×; normalised entropy of the "
                   f"class shares {h.entropy:.3f} (1 = balanced). Thresholds: {h.thresholds}."),
        table_block(h.to_pandas("findings").head(100), caption="Findings (first 100)", float_format="{:g}"),
        table_block(h.to_pandas("classes"), caption="Non-difficult objects per class", float_format="{:.2f}"),
    ]))
    return sections


def _thumbnail(path: Path, row, size: int = 220) -> str | None:
    """A PNG data URI of the image with the candidate box (and the detection behind it) drawn; None if unreadable."""
    try:
        from PIL import Image, ImageDraw

        with Image.open(path) as im:
            im = im.convert("RGB")
            draw = ImageDraw.Draw(im)
            colour = _KIND_COLOURS.get(row["kind"], "#ff0000")
            draw.rectangle([row["xmin"] - 1, row["ymin"] - 1, row["xmax"] - 1, row["ymax"] - 1], outline=colour,
                           width=3)
            if np.isfinite(row["sx1"]):
                draw.rectangle([row["sx1"] - 1, row["sy1"] - 1, row["sx2"] - 1, row["sy2"] - 1], outline="#ffd43b",
                               width=2)
            im.thumbnail((size, size))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=70)
    except (OSError, ValueError, Image.DecompressionBombError):  # a huge header is never decoded
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _gallery(rows: pd.DataFrame, paths: Sequence[Path | None]) -> str:
    items = []
    for _, r in rows.iterrows():
        p = paths[int(r["image_index"])]
        uri = _thumbnail(p, r) if p is not None else None
        if uri is None:
            continue
        label = f"{r['kind']} · {r['class']}" + (f" → {r['suggested_class']}" if r["suggested_class"] else "")
        items.append(f'<figure style="display:inline-block;margin:4px;width:230px"><img src="{uri}" alt="">'
                     f"<figcaption>{_html.escape(str(r['image_id']))}: {_html.escape(label)} "
                     f"({r['score']:.3f})</figcaption></figure>")
    return "<div>" + "".join(items) + "</div>" if items else ""


def label_issue_sections(issues, *, top: int = 40, image_paths: Sequence[Path | None] | None = None) -> list[Section]:
    """The label-error candidates: counts, the top ``top`` per kind (drawn on their images when found)."""
    counts = pd.DataFrame({"kind": list(issues.counts()), "candidates": list(issues.counts().values())})
    blocks: list[dict] = [
        text_block(f"Ranked from {', '.join(issues.detectors)} (models that did not see these images). Settings: "
                   f"{issues.settings}. Difficult objects are don't care. A candidate is a place to look, not a "
                   "verdict."),
        table_block(counts, caption="Candidates per kind")]
    cols = ["image_id", "class", "xmin", "ymin", "xmax", "ymax", "score", "suggested_class", "detectors"]
    for kind in counts["kind"]:
        t = issues.to_pandas(kind).head(top)
        if not len(t):
            continue
        shown = t[cols].copy()
        if kind == "badloc":  # the detection that suggests where the box should be
            shown["detection"] = [f"{a:.0f} {b:.0f} {c:.0f} {d:.0f}" for a, b, c, d in
                                  t[["sx1", "sy1", "sx2", "sy2"]].to_numpy()]
        blocks.append(table_block(shown, caption=f"{kind}: top {len(t)}", float_format="{:.3f}"))
        if image_paths is not None:
            gallery = _gallery(t.head(12), image_paths)
            if gallery:
                blocks.append(html_block(gallery))
    if image_paths is None or not any(p is not None for p in image_paths):
        blocks.append(text_block("No images were found next to the annotations, so the candidates are listed, "
                                 "not drawn (give --images DIR to draw them)."))
    return [Section(LABEL_ISSUE_TITLE, blocks)]


def write_audit_report(path: str | os.PathLike, dataset, audit, *, label_issues=None, top: int = 40,
                       images_dir: str | os.PathLike | None = None, title: str | None = None,
                       meta: ReportMeta | None = None) -> Path:
    """Write the audit report: :func:`audit_sections` and, with ``label_issues``, :func:`label_issue_sections`
    (drawn on the images found by :func:`vocbench.io.gt.image_paths`)."""
    from vocbench.io.gt import image_paths

    name = " + ".join(dataset.sets) or "dataset"
    sections = audit_sections(audit)
    if label_issues is not None:
        paths = image_paths(dataset, images_dir)
        sections = label_issue_sections(label_issues, top=top, image_paths=paths) + sections
    meta = meta or ReportMeta(data=f"{dataset.root or 'in-memory'} — {name}: {dataset.num_images} images, "
                                   f"{int((~dataset.difficult).sum())} non-difficult objects")
    return write_report(path, title or f"Dataset audit: {name}", sections, meta)
