"""The dataset report (``vocbench stats --html``, ``vocbench anchors --html``): tables, distribution plots and the
anchor analysis, as one self-contained HTML page with inline SVG figures.

The numbers come from the compute layers (:mod:`vocbench.stats`, :mod:`vocbench.stats.distances`,
:mod:`vocbench.anchors`); this module only lays them out and draws them. Box geometry comes from
:mod:`vocbench.boxes` under the VOC '+1' pixel convention (``w = xmax - xmin + 1``), the evaluator's: normalised
sizes and centres are ``box_convert(..., "ncxcywh")`` and COCO's size classes use the pixel area ``w * h`` with
pycocotools' inclusive ranges (:data:`vocbench.boxes.COCO_AREA_RANGES`), so every object is in the size class
the COCO evaluator puts it in (an area of exactly 32² or 96² is in both neighbouring classes, as in pycocotools).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from vocbench.boxes import COCO_AREA_LABELS, COCO_AREA_RANGES, box_area, box_convert, coco_area_masks
from vocbench.report.html import ReportMeta, Section, figure_block, html_block, table_block, text_block, write_report
from vocbench.report.plots import fig_to_svg, new_figure
from vocbench.stats.distances import distribution_distances
from vocbench.structures import Dataset

__all__ = ["write_dataset_report", "dataset_sections", "anchor_sections", "write_anchor_report",
           "distribution_distances", "box_geometry", "coco_size_counts", "SECTION_TITLES", "ANCHOR_TITLES",
           "COCO_AREA_RANGES"]

#: Section headings of the dataset report, in order (the anchors and comparison sections are optional).
SECTION_TITLES = ("Overview", "Per-class counts", "Class balance", "Objects per image", "Box areas",
                  "Box width vs height", "Image aspect ratios", "Box centres", "Box sizes per class")
#: Section headings of the anchor analysis.
ANCHOR_TITLES = ("Anchors: mean IoU vs number of anchors", "Anchors on the grid", "Anchor clusters",
                 "Prior sets")
COMPARE_TITLE = "Distribution distances"

_MAIN = "#2563a6"
_OTHERS = ("#d9480f", "#2b8a3e", "#7048e8", "#e8590c", "#0b7285")
_CLUSTER_COLOURS = [matplotlib.colormaps["tab20"](i) for i in range(20)]


# ------------------------------------------------------------------ geometry (display helpers, no statistics)
def box_geometry(dataset: Dataset, include_difficult: bool = False) -> dict[str, np.ndarray]:
    """Per-box arrays used by the plots: normalised w, h, area, centre, pixel area, class; per-image aspect."""
    keep = np.ones(dataset.num_objects, bool) if include_difficult else ~dataset.difficult
    b = dataset.boxes[keep]
    img = dataset.image_index[keep]
    W = np.maximum(dataset.widths[img].astype(np.float64), 1.0)
    H = np.maximum(dataset.heights[img].astype(np.float64), 1.0)
    n = box_convert(b, "xyxy", "ncxcywh", image_size=np.stack([W, H], axis=1))
    return {
        "w": n[:, 2], "h": n[:, 3], "area": n[:, 2] * n[:, 3], "px_area": box_area(b),
        "cx": n[:, 0], "cy": n[:, 1],
        "class_index": dataset.class_index[keep], "image_index": img,
        "image_aspect": dataset.widths / np.maximum(dataset.heights, 1),
    }


def coco_size_counts(dataset: Dataset, include_difficult: bool = False) -> pd.DataFrame:
    """Objects per class in COCO's small/medium/large area ranges (VOC pixel area, non-difficult by default).

    Exactly the objects the COCO evaluator counts in each range (:func:`vocbench.boxes.coco_area_masks`): an
    object of area exactly 32² or 96² is counted in both neighbouring ranges, as pycocotools does.
    """
    g = box_geometry(dataset, include_difficult)
    masks = coco_area_masks(g["px_area"])
    rows = {}
    for a, name in enumerate(COCO_AREA_LABELS):
        if name != "all":
            rows[name] = np.bincount(g["class_index"][masks[:, a]], minlength=dataset.num_classes)
    df = pd.DataFrame(rows, index=pd.Index(list(dataset.classes), name="class"))
    df.loc["total"] = df.sum()
    return df


def _objects_per_image(dataset: Dataset) -> np.ndarray:
    return np.bincount(dataset.image_index[~dataset.difficult], minlength=dataset.num_images)


def _colour(i: int) -> str:
    return _MAIN if i == 0 else _OTHERS[(i - 1) % len(_OTHERS)]


# ------------------------------------------------------------------ figures
def _fig_class_balance(datasets: list[tuple[str, Dataset]]) -> str:
    classes = datasets[0][1].classes
    n = len(classes)
    fig, ax = new_figure(7.0, max(3.0, 0.22 * n + 1.0))
    y = np.arange(n)
    if len(datasets) == 1:
        counts = np.bincount(datasets[0][1].class_index[~datasets[0][1].difficult], minlength=n)
        ax.barh(y, counts, color=_MAIN)
        for yi, c in zip(y, counts):
            ax.text(c, yi, f" {c}", va="center", fontsize=7)
        ax.set_xlabel("non-difficult objects")
    else:
        height = 0.8 / len(datasets)
        for i, (name, ds) in enumerate(datasets):
            cls = ds.class_index[~ds.difficult]
            share = np.bincount(cls, minlength=n)[:n] / max(len(cls), 1)
            ax.barh(y + (i - (len(datasets) - 1) / 2) * height, 100 * share, height=height, color=_colour(i),
                    label=name)
        ax.set_xlabel("share of non-difficult objects (%)")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, classes)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_title("Class balance")
    return fig_to_svg(fig)


def _fig_objects_per_image(datasets: list[tuple[str, Dataset]]) -> str:
    fig, ax = new_figure(7.0, 3.4)
    share = len(datasets) > 1
    for i, (name, ds) in enumerate(datasets):
        per = _objects_per_image(ds)
        counts = np.bincount(per) if len(per) else np.zeros(1, np.int64)
        x = np.arange(len(counts))
        vals = counts / max(len(per), 1) * 100 if share else counts
        if i == 0:
            ax.bar(x, vals, width=0.9, color=_MAIN, label=name, alpha=0.85 if share else 1.0)
            mx = int(per.max()) if len(per) else 0
            top = vals.max() if len(vals) else 1
            who = ds.image_ids[int(np.argmax(per))] if len(per) else ""
            ax.annotate(f"max {mx} objects\n(image {who})", xy=(mx, 0), xytext=(mx, top * 0.35),
                        ha="right" if mx > 5 else "left", fontsize=8,
                        arrowprops=dict(arrowstyle="->", color="black", lw=0.8))
        else:
            ax.step(x, vals, where="mid", color=_colour(i), label=name, lw=1.4)
    ax.set_xlabel("non-difficult objects in the image")
    ax.set_ylabel("images (%)" if share else "images")
    ax.set_yscale("symlog", linthresh=1.0 if not share else 0.01)
    ax.legend(fontsize=8)
    ax.set_title("Objects per image")
    return fig_to_svg(fig)


def _fig_box_areas(datasets: list[tuple[str, Dataset]], geoms: list[dict]) -> str:
    fig, ax = new_figure(7.0, 3.4)
    edges = np.linspace(0, 1, 51)
    for i, ((name, _), g) in enumerate(zip(datasets, geoms)):
        hist, _ = np.histogram(np.clip(g["area"], 0, 1), edges)
        pct = 100 * hist / max(hist.sum(), 1)
        if i == 0:
            ax.bar(edges[:-1], pct, width=np.diff(edges), align="edge", color=_MAIN, label=name,
                   alpha=0.85 if len(datasets) > 1 else 1.0)
            full = float((g["area"] >= 0.95).mean() * 100) if len(g["area"]) else 0.0
            ax.annotate(f"{full:.1f}% of boxes fill ≥ 95%\nof their image", xy=(0.99, pct[-1]),
                        xytext=(0.55, max(pct) * 0.08), fontsize=8,
                        arrowprops=dict(arrowstyle="->", color="black", lw=0.8))
        else:
            ax.step(edges[:-1], pct, where="post", color=_colour(i), label=name, lw=1.4)
    if any(len(g["area"]) for g in geoms):  # a log axis needs a positive value
        ax.set_yscale("log")
    ax.set_xlabel("box area / image area  (w/W · h/H)")
    ax.set_ylabel("boxes (%)")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8, loc="upper center")
    ax.set_title("Box areas (normalised)")
    return fig_to_svg(fig)


def _aspect_lines(ax) -> None:
    x = np.linspace(0, 1, 2)
    for r, label in ((3.0, "1:3"), (2.0, "1:2"), (1.0, "1:1"), (0.5, "2:1"), (1 / 3, "3:1")):
        ax.plot(x, r * x, color="black", lw=0.6, ls="--", alpha=0.6)
        xe = min(1.0, 1.0 / r) * 0.82
        ax.text(xe, r * xe, label, fontsize=7, ha="right", va="bottom", alpha=0.8)


def _wh_axes(ax) -> None:
    """The unit square of normalised box width vs height, with the aspect-ratio guide lines."""
    _aspect_lines(ax)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("box width / image width")
    ax.set_ylabel("box height / image height")


def _fig_wh(datasets: list[tuple[str, Dataset]], geoms: list[dict]) -> str:
    n = len(datasets)
    fig, axes = new_figure(3.6 * n + 1.0, 3.9, ncols=n, squeeze=False, layout="constrained")
    for ax, (name, _), g in zip(axes[0], datasets, geoms):
        hb = ax.hexbin(np.clip(g["w"], 0, 1), np.clip(g["h"], 0, 1), gridsize=50, extent=(0, 1, 0, 1),
                       bins="log", cmap="viridis", mincnt=1, linewidths=0.0)
        _wh_axes(ax)
        ax.set_title(f"{name} ({len(g['w'])} boxes)", fontsize=9)
        ax.grid(False)
        hb.set_rasterized(True)
    if any(len(g["w"]) for g in geoms):  # a log colour scale needs at least one box
        fig.colorbar(hb, ax=axes[0].tolist(), label="boxes per cell", shrink=0.8)
    fig.suptitle("Box width vs height (normalised; dashed: aspect-ratio slopes)", fontsize=10)
    return fig_to_svg(fig)


def _fig_image_aspect(datasets: list[tuple[str, Dataset]], geoms: list[dict]) -> str:
    fig, ax = new_figure(7.0, 3.4)
    edges = np.arange(0.2, 3.0 + 1e-9, 0.02)
    for i, ((name, _), g) in enumerate(zip(datasets, geoms)):
        a = np.clip(g["image_aspect"], edges[0], edges[-1])
        hist, _ = np.histogram(a, edges)
        pct = 100 * hist / max(hist.sum(), 1)
        if i == 0:
            colours = np.where(edges[:-1] + 0.01 >= 1.0, "#c92a2a", "#1098ad")
            ax.bar(edges[:-1], pct, width=0.02, align="edge", color=colours, label=name)
        else:
            ax.step(edges[:-1], pct, where="post", color=_colour(i), label=name, lw=1.2)
    for r, label in ((4 / 3, "4:3 (1.333)"), (3 / 2, "3:2 (1.5)"), (3 / 4, "3:4 (0.75)")):
        ax.axvline(r, color="black", lw=0.7, ls=":")
        ax.text(r, ax.get_ylim()[1] * 0.95, " " + label, fontsize=8, rotation=90, va="top", ha="right")
    if any(len(g["image_aspect"]) for g in geoms):  # a log axis needs a positive value
        ax.set_yscale("log")
    ax.set_xlabel("image width / height (red: wider than tall, cyan: taller than wide)")
    ax.set_ylabel("images (%)")
    ax.legend(fontsize=8)
    ax.set_title("Image aspect ratios")
    return fig_to_svg(fig)


def _fig_centres(datasets: list[tuple[str, Dataset]], geoms: list[dict]) -> str:
    n = len(datasets)
    fig, axes = new_figure(3.4 * n + 1.0, 3.6, ncols=n, squeeze=False, layout="constrained")
    im = None
    for ax, (name, _), g in zip(axes[0], datasets, geoms):
        hist, _, _ = np.histogram2d(np.clip(g["cy"], 0, 1), np.clip(g["cx"], 0, 1), bins=32,
                                    range=((0, 1), (0, 1)))
        dens = hist / max(hist.sum(), 1) * hist.size  # 1 = uniform
        im = ax.imshow(dens, extent=(0, 1, 1, 0), cmap="magma", vmin=0, vmax=max(3.0, float(dens.max())))
        ax.set_xlabel("centre x / image width")
        ax.set_ylabel("centre y / image height")
        ax.set_title(name, fontsize=9)
        ax.grid(False)
    if im is not None:  # at least one dataset drawn
        fig.colorbar(im, ax=axes[0].tolist(), label="density (1 = uniform)", shrink=0.8)
    fig.suptitle("Box centre heat map (image top at the top)", fontsize=10)
    return fig_to_svg(fig)


def _fig_sizes_per_class(sizes: pd.DataFrame) -> str:
    df = sizes.drop(index="total")
    fig, ax = new_figure(7.0, max(3.0, 0.22 * len(df) + 1.0))
    left = np.zeros(len(df))
    y = np.arange(len(df))
    for name, colour in zip(("small", "medium", "large"), ("#ffa94d", "#4dabf7", "#364fc7")):
        ax.barh(y, df[name].to_numpy(), left=left, color=colour, label=f"{name}")
        left += df[name].to_numpy()
    ax.set_yticks(y, df.index)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("non-difficult objects (COCO area ranges: small < 32², medium < 96² px², large)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Box sizes per class")
    return fig_to_svg(fig)


# ------------------------------------------------------------------ anchor figures
def _fig_anchor_curve(analysis) -> str:
    fig, ax = new_figure(6.5, 3.6)
    cf = analysis.to_pandas("curve")
    ax.plot(cf["k"], cf["mean_iou"], "o-", color=_MAIN, label="IoU k-means (d = 1 − IoU)")
    if cf["sse_mean_iou"].notna().any():
        ax.plot(cf["k"], cf["sse_mean_iou"], "s--", color="#868e96", label="Euclidean k-means (SSE)")
    for name, marker, colour in (("yolo-voc", "*", "#c92a2a"),):
        p = analysis.priors.get(name)
        if p is not None:
            ax.plot([p.n_priors], [p.mean_iou], marker, color=colour, ms=11, label=f"{name} anchors")
    ax.axvline(analysis.k, color="black", lw=0.6, ls=":")
    ax.annotate(f"k = {analysis.k}: {analysis.mean_iou:.3f}", xy=(analysis.k, analysis.mean_iou),
                xytext=(analysis.k + 1, analysis.mean_iou - 0.06), fontsize=8,
                arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.set_xlabel("number of anchors k")
    ax.set_ylabel("mean IoU with the closest anchor")
    ax.set_xticks(cf["k"])
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Average IoU vs number of anchors")
    return fig_to_svg(fig)


def _fig_anchor_grid(analysis) -> str:
    size = analysis.input_size
    stride = analysis.stride
    fig, ax = new_figure(4.8, 4.8)
    for t in np.arange(0, size + 1e-9, stride):
        ax.axhline(t, color="#ced4da", lw=0.5)
        ax.axvline(t, color="#ced4da", lw=0.5)
    c = size / 2
    wh = analysis.wh
    areas = wh[:, 0] * wh[:, 1]
    for idx in (int(np.argmin(areas)), int(np.argmax(areas))):
        w, h = wh[idx] * size
        ax.add_patch(Rectangle((c - w / 2, c - h / 2), w, h, fill=False, ec="#15aabf", lw=1.2))
    g = analysis.grid_size
    for j, (w, h) in enumerate(analysis.anchors_norm * size):
        colour = _CLUSTER_COLOURS[(2 * j) % 20]
        ax.add_patch(Rectangle((c - w / 2, c - h / 2), w, h, fill=False, ec=colour, lw=1.8))
        ax.text(c - w / 2 + 2, c - h / 2 + 2, f"{w / size * g:.2f}×{h / size * g:.2f}", color=colour, fontsize=7,
                va="top")
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xticks(np.arange(0, size + 1, stride * 2))
    ax.set_yticks(np.arange(0, size + 1, stride * 2))
    ax.set_title(f"{analysis.k} anchors in a {size}×{size} input, {g:g}×{g:g} grid (cyan: smallest and "
                 f"largest box)", fontsize=8)
    return fig_to_svg(fig)


def _fig_anchor_clusters(analysis) -> str:
    fig, ax = new_figure(5.2, 5.0)
    wh = analysis.wh
    colours = np.asarray(_CLUSTER_COLOURS)[(2 * analysis.labels) % 20]
    ax.scatter(wh[:, 0], wh[:, 1], s=1.5, c=colours, alpha=0.5, linewidths=0, rasterized=True)
    a = analysis.anchors_norm
    ax.scatter(a[:, 0], a[:, 1], s=90, c=np.asarray(_CLUSTER_COLOURS)[(2 * np.arange(len(a))) % 20],
               edgecolors="black", linewidths=1.2, marker="X", zorder=3, label="anchors (centroids)")
    _wh_axes(ax)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"IoU k-means clusters, k = {analysis.k} ({len(wh)} boxes)")
    return fig_to_svg(fig)


def anchor_sections(analysis) -> list[Section]:
    """Sections for an :class:`~vocbench.anchors.AnchorAnalysis`: curve, anchors on the grid, clusters, priors."""
    g = analysis.grid_size
    out = []
    if analysis.curve:
        sse = any(c.sse_mean_iou == c.sse_mean_iou for c in analysis.curve)
        baseline = ("against scikit-learn's Euclidean k-means on the same (w, h)" if sse else
                    "(the Euclidean k-means baseline is left out: `vocbench anchors --sse` adds it)")
        out.append(Section(ANCHOR_TITLES[0], [
            figure_block(_fig_anchor_curve(analysis),
                         f"Mean IoU of each box with its closest centroid, best of {analysis.n_init} restarts per k "
                         f"(one warm-started from k − 1), {baseline}. The YOLOv2 paper's Table 1 on VOC: 58.7 "
                         "(SSE, k=5), 61.0 (IoU, k=5), 67.2 (IoU, k=9)."),
            table_block(analysis.to_pandas("curve"), caption="Mean IoU vs k"),
        ], intro="k-means on the normalised (w/W, h/H) box shapes with d = 1 − IoU (boxes aligned at a common "
                 "centre); centroids are the mean of their members."))
    out.append(Section(ANCHOR_TITLES[1], [
        figure_block(_fig_anchor_grid(analysis),
                     f"The {analysis.k} anchors drawn centred in the {analysis.input_size}×{analysis.input_size} "
                     f"network input, over the {g:g}×{g:g} grid of {analysis.stride}-pixel cells; labels in grid "
                     "cells, as darknet stores them."),
        table_block(analysis.to_pandas("anchors"), caption=f"Anchors (k = {analysis.k}, mean IoU "
                                                      f"{analysis.mean_iou:.4f}, BPR {analysis.bpr:.4f})"),
        html_block(f"<p>darknet cfg: <code>{analysis.darknet_line()}</code></p>"),
    ]))
    out.append(Section(ANCHOR_TITLES[2], [
        figure_block(_fig_anchor_clusters(analysis),
                     "Every box coloured by its closest anchor; crosses mark the centroids."),
    ]))
    out.append(Section(ANCHOR_TITLES[3], [
        table_block(analysis.to_pandas(), caption="Prior sets against the same boxes"),
        text_block("mean_iou: shape-only IoU with the best prior; bpr: best possible recall, the share of boxes "
                   "whose best prior is within a factor 4 in width and height (YOLOv5 autoanchor); "
                   "positioned_match: share of boxes with an SSD default box of IoU > 0.5 at its real grid "
                   "position. SSD300: 38/19/10/5/3/1 grids, 8732 boxes; MobileNet-SSD: 19/10/5/3/2/1 grids, "
                   "1917 boxes; scales from s_min 0.2 to s_max 0.9."),
    ]))
    return out


# ------------------------------------------------------------------ report assembly
def _overview_frame(dataset: Dataset, stats, compare: list[tuple[str, Dataset]]) -> pd.DataFrame:
    rows = []
    if stats is not None:
        df = stats.to_pandas("sets")
        rows = df.to_dict("records")
    else:  # pragma: no cover - stats always available
        rows = [_simple_row(" + ".join(dataset.sets), dataset)]
    for name, ds in compare:
        rows.append(_simple_row(name, ds))
    return pd.DataFrame(rows)


def _simple_row(name: str, ds: Dataset) -> dict:
    per = _objects_per_image(ds)
    return {"set": name, "images": ds.num_images, "objects": int((~ds.difficult).sum()),
            "objects_all": ds.num_objects, "difficult": int(ds.difficult.sum()),
            "truncated": int(ds.truncated.sum()), "max_objects_per_image": int(per.max()) if len(per) else 0}


def _per_class_frame(dataset: Dataset, stats, compare: list[tuple[str, Dataset]]) -> pd.DataFrame:
    df = stats.to_pandas().reset_index().rename(columns={"index": "class"})
    df = df.rename(columns={df.columns[0]: "class"})
    for name, ds in compare:
        counts = np.bincount(ds.class_index[~ds.difficult], minlength=ds.num_classes)
        mapping = dict(zip(ds.classes, counts.tolist()))
        col = [mapping.get(c, 0) for c in df["class"][:-1]] + [int(counts.sum())]
        df[f"objects ({name})"] = col
    return df


def dataset_sections(dataset: Dataset, *, stats, compare: Sequence[tuple[str, Dataset]] | None = None,
                     name: str | None = None) -> list[Section]:
    """The statistics and distribution sections (everything but the anchors) of ``dataset`` and its
    :class:`~vocbench.stats.DatasetStats` ``stats`` (computed by the caller: ``compute_stats(dataset,
    by_set=True)``)."""
    compare = list(compare or [])
    name = name or " + ".join(dataset.sets) or "dataset"
    datasets = [(name, dataset)] + compare
    geoms = [box_geometry(ds) for _, ds in datasets]
    per = _objects_per_image(dataset)
    sizes = coco_size_counts(dataset)
    tot = sizes.loc["total"]
    n_obj = max(int((~dataset.difficult).sum()), 1)
    sections = [
        Section(SECTION_TITLES[0], [table_block(_overview_frame(dataset, stats, compare),
                                                caption="Images and objects per set")],
                intro="'objects' counts non-difficult objects, as the published VOC tables do; 'objects_all' "
                      "includes the difficult ones."),
        Section(SECTION_TITLES[1], [table_block(_per_class_frame(dataset, stats, compare),
                                                caption="Per class (images holding a non-difficult object)")]),
        Section(SECTION_TITLES[2], [figure_block(_fig_class_balance(datasets),
                                                 "Non-difficult objects per class" +
                                                 (" (share of each dataset's objects)" if compare else ""))]),
        Section(SECTION_TITLES[3], [figure_block(
            _fig_objects_per_image(datasets),
            f"Non-difficult objects per image: mean {per.mean():.2f}, median {np.median(per):g}, "
            f"max {int(per.max()) if len(per) else 0}.")]),
        Section(SECTION_TITLES[4], [figure_block(
            _fig_box_areas(datasets, geoms),
            "Box area after normalising width and height to [0, 1] by the image size. The bump at 1.0 is the "
            "boxes that fill (almost) the whole image.")]),
        Section(SECTION_TITLES[5], [figure_block(
            _fig_wh(datasets, geoms),
            "Normalised box width vs height (2-D histogram, log colour). The slopes are aspect ratios; images "
            "are squashed to the square network input, so these are the shapes the anchors must cover.")]),
        Section(SECTION_TITLES[6], [figure_block(
            _fig_image_aspect(datasets, geoms),
            "Image width/height; the common ratios 4:3, 3:2 and 3:4 are marked.")]),
        Section(SECTION_TITLES[7], [figure_block(
            _fig_centres(datasets, geoms), "Where box centres fall, relative to the image (32×32 bins).")]),
        Section(SECTION_TITLES[8], [
            figure_block(_fig_sizes_per_class(sizes),
                         f"COCO size classes by VOC pixel area (w = xmax − xmin + 1, the evaluator's ranges): "
                         f"small {100 * tot['small'] / n_obj:.1f}%, "
                         f"medium {100 * tot['medium'] / n_obj:.1f}%, large {100 * tot['large'] / n_obj:.1f}%."),
            table_block(sizes.reset_index(), caption="Objects per COCO size class"),
        ]),
    ]
    if compare:
        blocks = []
        for cname, ds in compare:
            d = distribution_distances(dataset, ds)
            df = pd.DataFrame([{"feature": f, "total variation": v.get("tv", float("nan")),
                                "wasserstein-1": v.get("w1", float("nan"))} for f, v in d.items()])
            blocks.append(table_block(df, caption=f"{name} vs {cname}"))
        blocks.append(text_block("Total variation: half the L1 distance between the normalised histograms (0 = "
                                 "identical, 1 = disjoint). Wasserstein-1: earth mover's distance in the feature's "
                                 "unit (objects, area fraction, ln(w/h), W/H, centre fraction)."))
        sections.append(Section(COMPARE_TITLE, blocks))
    return sections


def write_dataset_report(path: str | os.PathLike, dataset: Dataset, *, stats, anchor_analysis=None,
                         anchors: bool = True, compare: Sequence[tuple[str, Dataset]] | None = None,
                         title: str | None = None, meta: ReportMeta | None = None, audit=None) -> Path:
    """Write the dataset report (tables, distribution figures, optional comparison and anchor analysis). A writer
    only: the statistics, the anchor analysis and the audit are computed by the caller.

    Args:
        path: output HTML file.
        dataset: the dataset described (e.g. VOC07+12 trainval).
        stats: its :class:`~vocbench.stats.DatasetStats` (``compute_stats(dataset, by_set=True)``).
        anchor_analysis: its :class:`~vocbench.anchors.AnchorAnalysis`
            (:func:`~vocbench.anchors.analyze_dataset_anchors`), shown as the anchor sections.
        anchors: whether the report has an anchor part: the sections of ``anchor_analysis``, or, for a dataset
            without a box to cluster, a note saying so (False: no anchor part).
        compare: other datasets shown alongside, as ``(name, Dataset)`` pairs; histograms are overlaid and a
            table of distribution distances (:func:`distribution_distances`) is added.
        title, meta: page title and header (defaults describe the dataset).
        audit: a :class:`~vocbench.audit.DatasetAudit` to show (grid losses, SSD matching, resize policies,
            annotation health: :func:`vocbench.report.audit.audit_sections`); None leaves it out.

    Returns:
        The path written.
    """
    name = " + ".join(dataset.sets) or "dataset"
    sections = dataset_sections(dataset, stats=stats, compare=compare, name=name)
    if anchors and anchor_analysis is not None:
        sections += anchor_sections(anchor_analysis)
    elif anchors and not (~dataset.difficult).any():  # nothing to cluster: the (empty) statistics stay
        sections.append(Section("Anchors", [text_block("No boxes to cluster in this dataset (difficult boxes are "
                                                       "excluded), so the anchor analysis is left out.")]))
    elif anchors:
        raise ValueError("anchors=True needs the anchor_analysis (vocbench.anchors.analyze_dataset_anchors); "
                         "pass anchors=False for a report without anchors")
    if audit is not None:
        from vocbench.report.audit import audit_sections

        sections += audit_sections(audit)
    title = title or f"Dataset report: {name}"
    if meta is None:
        extra = {"compared with": ", ".join(n for n, _ in compare)} if compare else {}
        meta = ReportMeta(data=f"{dataset.root or 'in-memory'} — {name}: {dataset.num_images} images, "
                               f"{int((~dataset.difficult).sum())} non-difficult objects", extra=extra)
    return write_report(path, title, sections, meta)


def write_anchor_report(path: str | os.PathLike, analysis, *, dataset: Dataset | None = None,
                        title: str | None = None, meta: ReportMeta | None = None) -> Path:
    """Write only the anchor sections (``vocbench anchors --html``)."""
    name = " + ".join(dataset.sets) if dataset is not None else "boxes"
    if meta is None:
        meta = ReportMeta(data=f"{dataset.root if dataset is not None else ''} — {name}: {analysis.n_boxes} boxes")
    return write_report(path, title or f"Anchor analysis: {name}", anchor_sections(analysis), meta)
