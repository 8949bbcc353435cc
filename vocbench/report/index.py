"""The demo's pages: ``index.html`` linking every report, and the synthetic-data sections of its dataset report.

:func:`write_index` renders a list of :class:`IndexEntry` (relative links with a description and the time the
step took) plus notes on skipped steps. :func:`synthetic_sections` describes a synthetic set: how each class
looks, sample images with their boxes, and how close its layout is to VOC07+12 (with VOC07 test against
VOC07+12 trainval as the yardstick of "same distribution").
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vocbench.report.html import ReportMeta, Section, html_block, table_block, text_block, write_report
from vocbench.structures import Dataset

__all__ = ["IndexEntry", "write_index", "synthetic_sections", "INDEX_TITLE"]

INDEX_TITLE = "vocbench demo"


@dataclass(frozen=True)
class IndexEntry:
    """One linked report.

    Attributes:
        title: link text.
        href: path of the report relative to the index page (forward slashes).
        description: one sentence on what the report shows.
        seconds: how long the step took (NaN when unknown).
    """

    title: str
    href: str
    description: str = ""
    seconds: float = float("nan")


def _link_list(entries: Sequence[IndexEntry]) -> str:
    items = []
    for e in entries:
        took = f" <span class=\"muted\">({e.seconds:.1f} s)</span>" if e.seconds == e.seconds else ""
        desc = f" — {html.escape(e.description)}" if e.description else ""
        items.append(f"<li><a href=\"{html.escape(e.href, quote=True)}\">{html.escape(e.title)}</a>{desc}{took}</li>")
    return "<ul class=\"index\">" + "".join(items) + "</ul>"


def _speed_section(speed: pd.DataFrame) -> Section:
    rows = speed.copy()
    rows["ratio"] = [f"{r:.1f}x" if r == r else "" for r in rows["ratio"]]
    rows["median_ms"] = [f"{m:.3g}" if m == m else "" for m in rows["median_ms"]]
    rows["agrees"] = ["" if a is None else ("yes" if a else "NO") for a in rows["agrees"]]
    took = speed.attrs.get("seconds")
    return Section("Speed", [
        text_block("NMS and mAP, vocbench against the usual tools: median time after warm-up (Numba compile "
                   "excluded), each peer timed in the same run on the same input; ratio = peer's time / vocbench's "
                   "time (> 1: vocbench is faster). nms (`vocbench bench nms --quick`): raw-detector-like clusters "
                   "around one image's objects and uniform boxes; agrees = same keep set. map: VOC07 mAP against "
                   "the plain devkit loop (run once; agrees = per-class AP within 1e-9) and the COCO protocol "
                   "against faster-coco-eval and hotcoco (agrees = the 12 numbers and the precision/recall arrays "
                   "within 1e-12), on the first 1000 images of the data named in the case."
                   + (f" The table took {took:.0f} s." if took else "")
                   + " The full scoring comparison (every peer, peak memory), annotation and detection reading, "
                     "start-up and anchors take minutes to benchmark: see the committed speed benchmarks linked "
                     "above, or run `vocbench bench all`."),
        table_block(rows, float_format="{:.4g}"),
    ])


def write_index(path: str | os.PathLike, entries: Sequence[IndexEntry], notes: Sequence[str] = (),
                summary: pd.DataFrame | None = None, commands: Sequence[str] = (),
                meta: ReportMeta | None = None, speed: pd.DataFrame | None = None) -> Path:
    """Write ``index.html``: the linked reports, the speed table, what was skipped, a summary and how to reproduce.

    Args:
        path: output file (the hrefs of ``entries`` are relative to its folder).
        entries: the reports to link, in reading order.
        notes: one line per skipped or failed step.
        summary: an optional table (e.g. the synthetic set's numbers).
        commands: shell commands that reproduce the page.
        meta: page header.
        speed: the demo's speed table (:func:`vocbench.demo.speed_table`), or None.

    Returns:
        The path written.
    """
    sections = [Section("Reports", [html_block(_link_list(entries)) if entries
                                    else text_block("No report was written.")])]
    if speed is not None and len(speed):
        sections.append(_speed_section(speed))
    if notes:
        sections.append(Section("Skipped steps",
                                [html_block("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")]))
    if summary is not None:
        sections.append(Section("Data", [table_block(summary)]))
    if commands:
        sections.append(Section("Reproduce", [html_block("<pre>" + html.escape("\n".join(commands)) + "</pre>")]))
    return write_report(path, INDEX_TITLE, sections, meta)


def _thumbnail_uri(jpg: Path, boxes: np.ndarray, names: Sequence[str], difficult: np.ndarray,
                   long_side: int = 260) -> str:
    from PIL import Image, ImageDraw

    with Image.open(jpg) as im:
        im = im.convert("RGB")
        draw = ImageDraw.Draw(im)
        for (x0, y0, x1, y1), name, diff in zip(boxes, names, difficult):
            colour = (255, 80, 80) if diff else (40, 255, 80)
            draw.rectangle([x0 - 1, y0 - 1, x1 - 1, y1 - 1], outline=colour, width=2)
            draw.text((x0 + 2, y0 + 1), name, fill=colour)
        scale = long_side / max(im.size)
        im = im.resize((max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _samples_html(dataset: Dataset, folder: Path, count: int) -> str:
    cells = []
    for i in range(min(count, dataset.num_images)):
        jpg = folder / "JPEGImages" / f"{dataset.image_ids[i]}.jpg"
        if not jpg.is_file():
            continue
        rows = np.flatnonzero(dataset.image_index == i)
        names = [dataset.classes[c] for c in dataset.class_index[rows]]
        uri = _thumbnail_uri(jpg, dataset.boxes[rows], names, dataset.difficult[rows])
        name = html.escape(str(dataset.image_ids[i]))
        cells.append(f"<figure style=\"display:inline-block;vertical-align:top;margin:4px\">"
                     f"<img src=\"{uri}\" alt=\"{name}\"><figcaption>{name}</figcaption></figure>")
    return "<div>" + "".join(cells) + "</div>"


def synthetic_sections(dataset: Dataset, folder: str | os.PathLike, voc: Dataset | None = None,
                       voc_test: Dataset | None = None, samples: int = 8) -> list[Section]:
    """Sections describing a synthetic set written by :func:`vocbench.synth.generate`.

    Args:
        dataset: the synthetic set as loaded by ``load_voc``.
        folder: its ``VOC<year>`` folder (for the sample JPEGs).
        voc: VOC07+12 trainval, when available, for the layout distances.
        voc_test: VOC07 test, when available: its distances to ``voc`` show what "the same distribution" looks
            like at this sample size.
        samples: number of sample images shown.

    Returns:
        "Synthetic classes", "Sample images" and (with ``voc``) "Layout against VOC07+12".
    """
    from vocbench.synth import style_table
    from vocbench.synth.profile import layout_distances

    folder = Path(folder)
    sections = [
        Section("Synthetic classes", [
            text_block("Each class is a shape family × texture × colour palette; any two classes differ in at "
                       "least two of the three, and every class shares a shape and a palette with others. "
                       "Within a class, scale, aspect, rotation, colours and texture frequency vary."),
            table_block(style_table()),
        ]),
        Section("Sample images", [
            text_block("Green: annotated objects; red: objects marked difficult (tiny, faint or mostly hidden)."),
            html_block(_samples_html(dataset, folder, samples)),
        ]),
    ]
    if voc is not None:
        rows = [{"pair": f"synthetic ({dataset.num_images} images) vs VOC07+12 trainval",
                 **layout_distances(dataset, voc)}]
        if voc_test is not None:
            rows.append({"pair": "VOC07 test vs VOC07+12 trainval (same-distribution yardstick)",
                         **layout_distances(voc_test, voc)})
        sections.append(Section("Layout against VOC07+12", [
            text_block("Non-difficult objects. objects_per_image_tv: total variation between the objects-per-image "
                       "histograms; size = sqrt(box area / image area), aspect = ln(w / h): KS statistic, "
                       "Wasserstein-1 and 20-bin total variation; aspect_std_ratio = std(synthetic) / std(VOC). "
                       "Class shares differ on purpose: the generator flattens VOC's class frequencies "
                       "(person 33 % in VOC) so that every class has examples to learn from."),
            table_block(pd.DataFrame(rows)),
        ]))
    return sections
