"""The diagnosis report: TIDE summary (table + pie), stacked dAP bars per class, Hoiem's sensitivity plot, the
confusion heat map and, when the images exist, a gallery of the top false positives of each type.

Built from a :class:`~vocbench.diagnose.Diagnosis` only: nothing is computed here (the caller diagnoses, e.g.
with :func:`vocbench.diagnose.diagnose_evaluation` for the evaluation report). :func:`write_diagnosis_report`
writes the standalone page (``vocbench diagnose --html``); :func:`diagnosis_sections` gives the sections for
other reports (the evaluation report, the demo).
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from vocbench.boxes import box_iou
from vocbench.diagnose.results import ERROR_DESCRIPTIONS, ERROR_TYPES, SPECIAL_TYPES, Diagnosis
from vocbench.report.html import ReportMeta, Section, figure_block, html_block, table_block, text_block, write_report
from vocbench.report.plots import fig_to_svg, new_figure
from vocbench.structures import Dataset, Detections

__all__ = ["diagnosis_sections", "write_diagnosis_report", "gallery_html",
           "GALLERY_PER_TYPE", "THUMBNAIL_PX"]

#: Highest-scored false positives shown per error type.
GALLERY_PER_TYPE = 8
#: Longest side of a gallery thumbnail, pixels.
THUMBNAIL_PX = 180
_COLORS = {"cls": "#d62728", "loc": "#ff7f0e", "both": "#9467bd", "dupe": "#8c564b", "bkg": "#1f77b4",
           "miss": "#7f7f7f", "false_pos": "#17becf", "false_neg": "#bcbd22"}
_RULES = {"coco": "COCO rules at one IoU, identical to tidecv 1.0.1 on the COCO export (101-point AP, crowd = "
                  "difficult, top 100 detections per image)",
          "devkit": "VOC devkit rules (IoU >= t_f, '+1' pixel areas, difficult objects ignored); base AP = the "
                    "VOC12 all-point mAP of vocbench eval",
          "voc_eval": "voc_eval.py rules (IoU > t_f, '+1' pixel areas, difficult objects ignored); base AP = the "
                      "VOC12 all-point mAP of vocbench eval"}


def _summary_table(d: Diagnosis) -> pd.DataFrame:
    rows = [{"error": t, "dAP": d.errors[t], "count": d.counts[t], "meaning": ERROR_DESCRIPTIONS[t]}
            for t in ERROR_TYPES]
    rows += [{"error": t, "dAP": d.special[t], "count": "", "meaning": ERROR_DESCRIPTIONS[t]} for t in SPECIAL_TYPES]
    if d.voc07 is not None:
        for r in rows:
            src = d.voc07["errors"] if r["error"] in ERROR_TYPES else d.voc07["special"]
            r["dAP (VOC07)"] = src[r["error"]]
    return pd.DataFrame(rows)


def _pie(d: Diagnosis) -> str:
    vals = np.array([max(d.errors[t], 0.0) for t in ERROR_TYPES])
    fig, (ax, bx) = new_figure(8.5, 3.0, ncols=2, gridspec_kw={"width_ratios": [1.0, 1.0], "wspace": 1.1})
    if vals.sum() > 0:
        wedges, _ = ax.pie(vals, startangle=90, counterclock=False, colors=[_COLORS[t] for t in ERROR_TYPES],
                           wedgeprops={"linewidth": 1, "edgecolor": "white"})
        ax.legend(wedges, [f"{t} {v:.3f} ({100 * v / vals.sum():.0f} %)" for t, v in zip(ERROR_TYPES, vals)],
                  loc="center left", bbox_to_anchor=(0.95, 0.5), fontsize=7, frameon=False)
    else:
        ax.text(0.5, 0.5, "no AP lost to any error type", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title("main errors (share of dAP)", fontsize=8)
    sv = [d.special[t] for t in SPECIAL_TYPES]
    bx.barh(list(SPECIAL_TYPES), sv, color=[_COLORS[t] for t in SPECIAL_TYPES])
    for i, v in enumerate(sv):
        bx.text(v, i, f" {v:.3f}", va="center", fontsize=7)
    bx.set_xlabel("dAP")
    bx.set_title("special errors", fontsize=8)
    return fig_to_svg(fig)


def _stacked_bars(d: Diagnosis) -> str:
    classes = list(d.classes)
    fig, ax = new_figure(max(6.0, 0.42 * len(classes)), 3.2)
    x = np.arange(len(classes))
    bottom = np.zeros(len(classes))
    for t in ERROR_TYPES:
        v = np.clip(np.nan_to_num(d.per_class_errors[t]), 0.0, None)
        ax.bar(x, v, 0.7, bottom=bottom, label=t, color=_COLORS[t])
        bottom += v
    ax.set_xticks(x, classes, rotation=60, ha="right")
    ax.set_ylabel("dAP (stacked)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig_to_svg(fig)


def _sensitivity_plot(d: Diagnosis) -> str:
    s = d.sensitivity
    assert s is not None
    names = list(s.characteristics)
    fig, ax = new_figure(max(5.0, 1.1 * len(names)), 3.2)
    for k, name in enumerate(names):
        v = s.ap_n[name]
        ok = np.isfinite(v)
        if not ok.any():
            continue
        hi, lo = np.nanmax(v), np.nanmin(v)
        ax.plot([k, k], [lo, hi], color="#555", lw=1.5)
        ax.plot([k], [hi], "o", color="#2ca02c")
        ax.plot([k], [lo], "o", color="#d62728")
        ax.annotate(f"{hi:.3f}", (k, hi), xytext=(4, 2), textcoords="offset points", fontsize=6)
        ax.annotate(f"{lo:.3f}", (k, lo), xytext=(4, -8), textcoords="offset points", fontsize=6)
        labels = s.characteristics[name]
        ax.annotate(labels[int(np.nanargmax(v))], (k, hi), xytext=(-4, 2), textcoords="offset points",
                    fontsize=6, ha="right", color="#2ca02c")
        ax.annotate(labels[int(np.nanargmin(v))], (k, lo), xytext=(-4, -8), textcoords="offset points",
                    fontsize=6, ha="right", color="#d62728")
    if np.isfinite(s.overall):
        ax.axhline(s.overall, ls="--", color="#1f77b4", lw=1, label=f"overall AP_N {s.overall:.3f}")
        ax.legend(fontsize=7, frameon=False, loc="lower left")
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("normalised AP (AP_N)")
    return fig_to_svg(fig)


def _sensitivity_table(d: Diagnosis) -> pd.DataFrame:
    s = d.sensitivity
    assert s is not None
    rows = []
    for name, labels in s.characteristics.items():
        for i, b in enumerate(labels):
            rows.append({"characteristic": name, "bin": b, "objects": int(s.counts[name][i]),
                         "AP_N": float(s.ap_n[name][i])})
    return pd.DataFrame(rows)


def _confusion_plot(d: Diagnosis) -> str:
    m = d.confusion
    assert m is not None
    from matplotlib.colors import SymLogNorm
    from matplotlib.ticker import FuncFormatter

    mat = m.matrix.astype(float)
    nr, ncol = mat.shape
    size = max(5.0, 0.5 * ncol + 2.0)  # ~0.5 in per cell: four-digit counts stay legible at the page's width
    fig, ax = new_figure(size, size * 0.85)
    vmax = max(float(mat.max()), 10.0)
    norm = SymLogNorm(linthresh=1.0, linscale=0.5, vmin=0.0, vmax=vmax, base=10)  # colour on a log scale of counts
    im = ax.imshow(mat, cmap="Blues", norm=norm, aspect="auto")
    ax.set_xticks(range(ncol), list(m.column_labels), rotation=60, ha="right", fontsize=9)
    ax.set_yticks(range(nr), list(m.row_labels), fontsize=9)
    ax.set_xlabel("predicted class (+ missed objects)", fontsize=10)
    ax.set_ylabel("GT class (+ background)", fontsize=10)
    ax.grid(False)
    for i in range(nr):
        for j in range(ncol):
            if mat[i, j] > 0:
                ax.text(j, i, f"{int(mat[i, j])}", ha="center", va="center", fontsize=8 if mat[i, j] < 1000 else 7,
                        color="white" if norm(mat[i, j]) > 0.6 else "black")
    ticks = [t for t in (0, 1, 10, 100, 1000, 10_000, 100_000) if t <= vmax]
    cb = fig.colorbar(im, ax=ax, fraction=0.035, ticks=ticks)
    cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    cb.set_label("detections (colour on a log scale)", fontsize=9)
    return fig_to_svg(fig)


# ------------------------------------------------------------------------------------------------ gallery
def _thumb(path: Path, fp_box, gt_boxes, target_box, label: str) -> str:
    from PIL import Image, ImageDraw

    try:
        src = Image.open(path)
    except Image.DecompressionBombError as exc:  # a huge header: skipped like an unreadable image, never decoded
        raise OSError(f"{path}: {exc}") from None
    with src:
        im = src.convert("RGB")
    boxes = [fp_box] + ([target_box] if target_box is not None else [])
    x1 = min(b[0] for b in boxes) - 1
    y1 = min(b[1] for b in boxes) - 1
    x2 = max(b[2] for b in boxes)
    y2 = max(b[3] for b in boxes)
    mx, my = 0.3 * (x2 - x1) + 8, 0.3 * (y2 - y1) + 8
    crop = (max(0, int(x1 - mx)), max(0, int(y1 - my)), min(im.size[0], int(x2 + mx)), min(im.size[1], int(y2 + my)))
    if crop[2] - crop[0] < 4 or crop[3] - crop[1] < 4:
        crop = (0, 0, im.size[0], im.size[1])
    im = im.crop(crop)
    scale = min(1.0 * THUMBNAIL_PX / max(im.size), 4.0)
    im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))))
    draw = ImageDraw.Draw(im)

    def rect(b, colour, width):
        draw.rectangle([(b[0] - 1 - crop[0]) * scale, (b[1] - 1 - crop[1]) * scale, (b[2] - crop[0]) * scale,
                        (b[3] - crop[1]) * scale], outline=colour, width=width)

    for b in gt_boxes:
        rect(b, (44, 160, 44), 1)
    if target_box is not None:
        rect(target_box, (44, 200, 44), 3)
    rect(fp_box, (214, 39, 40), 2)
    draw.text((3, 2), label, fill=(255, 255, 0))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def gallery_html(dataset: Dataset, diagnosis: Diagnosis, detections: Detections,
                 per_type: int = GALLERY_PER_TYPE) -> tuple[str | None, str]:
    """The gallery of the top false positives of each type as HTML, or ``(None, reason)`` without images.

    Red: the false positive; thick green: the GT it is measured against (cls/loc), repeats (dupe) or overlaps most
    (both); thin green: every other GT of the image. Captions give the VOC '+1' IoU with that GT.
    """
    from vocbench.io.gt import image_paths

    paths = image_paths(dataset)
    if not any(p is not None for p in paths):
        where = f"under {dataset.root}" if dataset.root else "(in-memory dataset)"
        return None, f"Gallery left out: no images found {where} (VOC<year>/JPEGImages/<id>.jpg)."
    parts = []
    scores = detections.scores
    for code, t in enumerate(ERROR_TYPES[:5]):
        rows = np.flatnonzero((diagnosis.error_type == code) & np.array([paths[i] is not None for i in
                                                                           detections.image_index]))
        if rows.size == 0:
            continue
        rows = rows[np.argsort(-scores[rows], kind="stable")[:per_type]]
        cells = []
        for r in rows.tolist():
            im = int(detections.image_index[r])
            on_img = np.flatnonzero(dataset.image_index == im)
            tgt = int(diagnosis.error_target[r])
            target_box = dataset.boxes[tgt].tolist() if tgt >= 0 else None
            cname = dataset.classes[int(detections.class_index[r])]
            label = f"{cname} {scores[r]:.2f}"
            img_path = paths[im]
            assert img_path is not None  # rows were filtered on found images
            try:
                uri = _thumb(img_path, detections.boxes[r].tolist(), dataset.boxes[on_img].tolist(), target_box,
                             label)
            except OSError:
                continue
            extra = f" vs GT {dataset.classes[int(dataset.class_index[tgt])]}" if tgt >= 0 else ""
            if tgt >= 0 and t in ("cls", "loc", "both", "dupe"):
                b1, b2 = detections.boxes[r], dataset.boxes[tgt]
                extra += f", IoU {float(box_iou(b1[None], b2[None])[0, 0]):.2f}"
            cap = html.escape(f"{dataset.image_ids[im]}: {cname} {scores[r]:.3f}{extra}")
            cells.append(f'<figure style="display:inline-block;margin:4px;vertical-align:top">'
                         f'<img src="{uri}" alt="{cap}" style="max-width:{THUMBNAIL_PX}px">'
                         f'<figcaption style="font-size:11px;max-width:{THUMBNAIL_PX}px">{cap}</figcaption></figure>')
        if cells:
            parts.append(f'<h3>{html.escape(t)} — {html.escape(ERROR_DESCRIPTIONS[t])}</h3><div class="gallery">'
                         + "".join(cells) + "</div>")
    if not parts:
        return None, "Gallery left out: no false positive falls on an image that was found."
    return "".join(parts), ""


def diagnosis_sections(dataset: Dataset, diagnosis: Diagnosis, detections: Detections | None = None,
                       prefix: str = "") -> list[Section]:
    """The diagnosis sections (summary, per class, sensitivity, confusion, gallery)."""
    d = diagnosis
    head = f"{prefix}TIDE errors"
    intro = (f"{_RULES.get(d.protocol, d.protocol)}. t_f = {d.iou_threshold:g}, "
             f"t_b = {d.background_iou_threshold:g}. dAP = mAP after "
             "TIDE's oracle fix of every error of the type − base mAP (clamped at 0, as TIDE does); special: "
             "every false positive scored below every TP (false_pos), every unmatched object removed "
             "(false_neg). AP units 0..1. Each false positive gets the first type that applies, in TIDE's order "
             "loc, cls, dupe, bkg, both. A duplicate is one definition throughout: a detection whose best-overlap "
             "object of its class was already matched by a higher-scored detection (the evaluation's outcome "
             "table counts all of them); 'dupe' here counts those that are not a cls error first (a duplicate "
             "that also overlaps an object of another class at t_f is a cls error), so it can be lower.")
    blocks = [text_block(f"Base mAP {d.mAP:.6f}" + (f" (VOC07 11-point {d.voc07['mAP']:.6f})" if d.voc07 else "")
                         + f"; {d.num_detections} detections on {d.num_images} images."),
              table_block(_summary_table(d), caption="TIDE summary", float_format="{:.4f}"),
              figure_block(_pie(d), "Main errors as a share of the AP they cost, and the special errors")]
    for w in d.warnings:
        blocks.append(text_block(f"Warning: {w}"))
    sections = [Section(head, blocks, intro=intro, id=f"{prefix.lower().strip()}tide-errors".replace(" ", "-"))]
    table = d.to_pandas().reset_index()
    sections.append(Section(f"{prefix}dAP per class", [
        figure_block(_stacked_bars(d), "dAP of each main error type per class (stacked)"),
        table_block(table, caption="Per class: AP, dAP per error type, error counts")]))
    if d.sensitivity is not None:
        s = d.sensitivity
        sections.append(Section(f"{prefix}Sensitivity to object characteristics", [
            figure_block(_sensitivity_plot(d), "Max (green) and min (red) normalised AP over the bins of each "
                                                "characteristic; dashed: AP_N with every object"),
            table_block(_sensitivity_table(d), caption="AP_N per bin")],
            intro=f"Hoiem et al. (ECCV 2012): normalised AP with N = {s.n_norm:g} positives per class "
                  "(0.15 × images, the paper's constant). Size and aspect-ratio bins are per-class percentiles "
                  "(XS/XT 10 %, S/T 20 %, M 40 %, L/W 20 %, XL/XW 10 %); a TP on an object outside the bin is not "
                  "counted, false positives are."))
    if d.confusion is not None:
        sections.append(Section(f"{prefix}Confusion matrix", [
            figure_block(_confusion_plot(d), "Counts of detections (and of missed objects in the last column); "
                                              "the colour scale is logarithmic, its bar labelled in counts")],
            intro="Rows: the GT class a detection counts against, then background (loc, both, dupe and bkg "
                  "errors); columns: the predicted class, then missed objects. Detections kept: score at least "
                  "their class's F1-optimal threshold; detections on difficult (crowd) objects are not counted."))
    if detections is not None:
        gal, why = gallery_html(dataset, d, detections)
        blocks = [html_block(gal)] if gal is not None else [text_block(why)]
        sections.append(Section(f"{prefix}Top false positives", blocks,
                                intro="The highest-scored false positives of each type on their images: red the "
                                      "detection, thick green the object it is measured against, thin green the "
                                      "other objects of the image."))
    return sections


def write_diagnosis_report(path: str | os.PathLike, dataset: Dataset, diagnosis: Diagnosis,
                           detections: Detections | None = None, title: str | None = None) -> Path:
    """Write the standalone HTML diagnosis page (``vocbench diagnose --html``). Returns the path."""
    src = (detections.source if detections is not None else diagnosis.source) or "detections"
    meta = ReportMeta(data=f"{src} on {', '.join(dataset.sets)} ({dataset.num_images} images, "
                           f"{int((~dataset.difficult).sum())} non-difficult objects)",
                      extra={"Protocol": diagnosis.protocol, "IoU": f"{diagnosis.iou_threshold:g}",
                             "Detections": str(diagnosis.num_detections)})
    title = title or f"Detection diagnosis: {Path(src).name}"
    return write_report(path, title, diagnosis_sections(dataset, diagnosis, detections), meta)
