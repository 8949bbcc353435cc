"""HTML reports for the reference detectors: the model report (per-class AP, AP by object size, prior coverage by
object size for the committed layouts and their finer-grid options, the loss ablation (sum-squared vs modern),
accuracy vs speed, training and validation curves, example detections, anchors) and the profile report of
``vocbench profile``.

Everything is computed by :func:`evaluate_models` (a plain dict per model) and rendered here with vocbench's
report base; nothing is computed while rendering.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from vocbench.report.html import (
    ReportMeta,
    Section,
    figure_block,
    html_block,
    table_block,
    text_block,
    write_report,
)
from vocbench.report.plots import fig_to_svg, new_figure

__all__ = ["evaluate_model", "detections_identical", "write_models_report", "write_profile_report", "draw_detections",
           "ap_by_size", "finer_grid_variant", "ABLATION_JSON", "GRID_ABLATION_JSON"]

#: The committed loss ablation (``python -m reference_models.ablation``), shown in the model report when present.
ABLATION_JSON = Path(__file__).resolve().parents[1] / "reports" / "ablation_yolo_loss.json"
#: The committed finer-grid comparison at an equal budget (single vs finer grids), shown when present.
GRID_ABLATION_JSON = Path(__file__).resolve().parents[1] / "reports" / "ablation_grids.json"


def _sizes_at_input(boxes: np.ndarray, widths: np.ndarray, heights: np.ndarray, input_size: int) -> np.ndarray:
    """``√(w·h)`` in px on the squashed square input, ``w = (xmax − xmin)/W·input_size`` (the loaders' 0-based
    convention, as :func:`vocbench.anchors.normalized_boxes`)."""
    w = (boxes[:, 2] - boxes[:, 0]) / widths * input_size
    h = (boxes[:, 3] - boxes[:, 1]) / heights * input_size
    return np.sqrt(np.clip(w, 0, None) * np.clip(h, 0, None))


def ap_by_size(dataset, dets, input_size: int, edges: Sequence[float] | None = None, metric: str = "voc07"
               ) -> list[dict]:
    """VOC AP per object-size bin (size = ``√(w·h)`` px at the network input), COCO-area-range style: for bin
    ``[lo, hi)`` the objects outside it are marked difficult (ignored: a detection matching one is neither TP nor
    FP) and detections whose own size is outside it are dropped; then :func:`vocbench.evaluate` scores the rest.
    (COCO ignores an out-of-range detection only when it matches nothing; dropping it first differs only for
    detections that straddle a bin edge.) Returns one row per bin: ``size``, ``objects`` (non-difficult), mAP."""
    from reference_models.coverage import SIZE_BINS, size_bin_labels
    from vocbench import evaluate

    e = [float(v) for v in (edges or SIZE_BINS)]
    gt = _sizes_at_input(dataset.boxes, dataset.widths[dataset.image_index], dataset.heights[dataset.image_index],
                         input_size)
    ds_ = _sizes_at_input(dets.boxes, dataset.widths[dets.image_index], dataset.heights[dets.image_index],
                          input_size)
    rows = []
    for label, lo, hi in zip(size_bin_labels(e), e[:-1], e[1:]):
        inside = (gt >= lo) & (gt < hi)
        n = int((inside & ~dataset.difficult).sum())
        value = float("nan")
        if n:
            ds_bin = dataclasses.replace(dataset, difficult=dataset.difficult | ~inside)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # classes without objects in the bin: NaN, left out of mAP
                value = float(evaluate(ds_bin, dets[(ds_ >= lo) & (ds_ < hi)], metrics=(metric,)).mAP[metric])
        rows.append({"size": label, "objects": n, metric: value})
    return rows


def finer_grid_variant(model):
    """An untrained copy of ``model``'s layout with the finer grid turned on (YOLO: strides 32 + 16 with the
    same anchors; SSD: the stride-8 map) — for prior coverage only; None when ``model`` already has it."""
    from reference_models.predict import build_model

    cfg = dict(model.config)
    if cfg["model"] == "yolov2_tiny":
        if cfg.get("strides", [32]) != [32]:
            return None
        cfg["strides"] = [32, 16]
    else:
        if cfg.get("extra_stride8"):
            return None
        cfg["extra_stride8"] = True
    return build_model(cfg)


def evaluate_model(model, dataset, images: np.ndarray, name: str, onnx_path: str | os.PathLike | None = None,
                   profile_paths: Sequence[Path] = (), profile_batches=(1, 8), profile_repeats: int = 10,
                   metrics=("voc07", "voc12", "coco")) -> dict:
    """Predict (torch, and onnxruntime when ``onnx_path`` is given), score with :func:`vocbench.evaluate`, check
    torch/onnx identity after NMS and profile. ``images``: ``uint8[I, S, S, 3]`` squash-resized test images."""
    from reference_models.export import OnnxRunner, onnx_session
    from reference_models.predict import TorchRunner, predict_dataset
    from reference_models.profile import profile_model
    from vocbench import evaluate

    out: dict = {"name": name, "model": model, "config": model.config, "meta": getattr(model, "meta", {}),
                 "dataset": dataset}
    dets = _as_written(predict_dataset(TorchRunner(model), dataset, images, model.input_size,
                                       source=f"{name} (torch)"), dataset)
    out["detections"] = dets
    out["result"] = evaluate(dataset, dets, metrics=tuple(metrics))
    out["ap_by_size"] = ap_by_size(dataset, dets, model.input_size)
    from reference_models.coverage import model_coverage

    finer = finer_grid_variant(model)
    out["coverage"] = [model_coverage(model, dataset)] + ([model_coverage(finer, dataset)] if finer else [])
    if onnx_path is not None:
        odets = _as_written(predict_dataset(OnnxRunner(onnx_session(onnx_path)), dataset, images, model.input_size,
                                            source=f"{name} (onnx)"), dataset)
        out["onnx_unmatched"] = unmatched_detections(dets, odets) + unmatched_detections(odets, dets)
        out["onnx_identical"] = len(dets) == len(odets) and out["onnx_unmatched"] == 0
        out["onnx_detections"] = len(odets)
    out["profiles"] = []
    if profile_paths:
        out["profiles"].append(profile_model(model, profile_paths, "torch", "cpu", profile_batches, profile_repeats,
                                             warmup=2, top_ops=8))
        if onnx_path is not None:
            out["profiles"].append(profile_model(model, profile_paths, "onnx", "cpu", profile_batches,
                                                 profile_repeats, warmup=2, onnx_path=onnx_path, top_ops=8))
    return out


def _as_written(dets, dataset):
    """The detections exactly as ``vocbench predict`` writes them and ``vocbench eval`` reads them back (scores to
    6 decimals, boxes to 0.01 px), so that the report's numbers are the ones the devkit files give."""
    import tempfile

    from reference_models.predict import write_comp4
    from vocbench.io.detections import read_detections

    with tempfile.TemporaryDirectory(prefix="vocbench-dets-") as tmp:
        write_comp4(dets, dataset, tmp)
        return read_detections(tmp, dataset)


#: torch vs onnxruntime detections agree when boxes are within this many pixels and scores within SCORE_ATOL
BOX_ATOL, SCORE_ATOL = 0.02, 2e-6


def detections_identical(a, b, box_atol: float = BOX_ATOL, score_atol: float = SCORE_ATOL) -> bool:
    """Same detections (image, class, box within ``box_atol`` px, score within ``score_atol``) in any order: equal
    counts and no detection of either side without a partner on the other."""
    return len(a) == len(b) and unmatched_detections(a, b, box_atol, score_atol) == 0 \
        and unmatched_detections(b, a, box_atol, score_atol) == 0


def unmatched_detections(a, b, box_atol: float = BOX_ATOL, score_atol: float = SCORE_ATOL) -> int:
    """Detections of ``a`` with no partner in ``b`` (same image and class, box and score within tolerance)."""
    ka = a.image_index * (int(max(a.class_index.max(initial=0), b.class_index.max(initial=0))) + 1) + a.class_index
    kb = b.image_index * (int(max(a.class_index.max(initial=0), b.class_index.max(initial=0))) + 1) + b.class_index
    missing = 0
    for k in np.unique(ka):  # per (image, class) group, not per box
        pa = np.c_[a.boxes[ka == k] / box_atol, a.scores[ka == k] / score_atol]
        pb = np.c_[b.boxes[kb == k] / box_atol, b.scores[kb == k] / score_atol]
        if len(pb) == 0:
            missing += len(pa)
            continue
        missing += int((np.abs(pa[:, None, :] - pb[None, :, :]).max(-1).min(1) > 1).sum())
    return missing


def draw_detections(img: np.ndarray, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, classes,
                    gt_boxes: np.ndarray | None = None, min_score: float = 0.2) -> np.ndarray:
    """Draw kept detections (score ≥ ``min_score``, VOC pixels) and the truth (thin white) on an RGB image."""
    img = img.copy()
    if gt_boxes is not None:
        for b in gt_boxes:
            cv2.rectangle(img, (int(b[0]) - 1, int(b[1]) - 1), (int(b[2]) - 1, int(b[3]) - 1), (255, 255, 255), 1)
    for b, s, c in zip(boxes, scores, labels):
        if s < min_score:
            continue
        hue = (int(c) * 37) % 180
        colour = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2RGB)[0, 0].tolist()
        p0, p1 = (int(b[0]) - 1, int(b[1]) - 1), (int(b[2]) - 1, int(b[3]) - 1)
        cv2.rectangle(img, p0, p1, colour, 2)
        text = f"{classes[int(c)]} {s:.2f}"
        cv2.putText(img, text, (p0[0] + 2, max(10, p0[1] + 11)), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 3)
        cv2.putText(img, text, (p0[0] + 2, max(10, p0[1] + 11)), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1)
    return img


#: gallery tile, pixels (width, height): four tiles fit one row of the report
_TILE = (264, 198)


def _img_tag(img: np.ndarray, caption: str, width: int = _TILE[0], height: int = _TILE[1]) -> str:
    """The image fitted into a ``width`` x ``height`` tile (letterboxed on grey), so that the gallery's rows line
    up without gaps whatever the images' aspect ratios."""
    scale = min(width / img.shape[1], height / img.shape[0])
    w, h = max(1, int(round(img.shape[1] * scale))), max(1, int(round(img.shape[0] * scale)))
    tile = np.full((height, width, 3), 235, np.uint8)
    y0, x0 = (height - h) // 2, (width - w) // 2
    tile[y0:y0 + h, x0:x0 + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(tile, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    data = base64.b64encode(buf.tobytes()).decode()
    return (f'<figure style="display:inline-block;vertical-align:top;margin:4px"><img alt="{caption}" '
            f'src="data:image/jpeg;base64,{data}" width="{width}" height="{height}">'
            f'<figcaption>{caption}</figcaption></figure>')


def _ap_table(evals: list[dict]) -> pd.DataFrame:
    cols = {}
    for e in evals:
        r = e["result"]
        for m in ("voc07", "voc12", "coco"):
            if m in r.metrics or (m == "coco" and r.coco is not None):
                cols[f"{e['name']} {m}"] = r.per_class(m)
    df = pd.DataFrame(cols)
    df.loc["mAP"] = df.mean(numeric_only=True)
    return df.reset_index().rename(columns={"index": "class"})


def _curves_figure(evals: list[dict]) -> str:
    fig, (ax1, ax2) = new_figure(9, 3.2, ncols=2)
    for e in evals:
        hist = e["meta"].get("history", [])
        if not hist:
            continue
        ep = [h["epoch"] for h in hist]
        ax1.plot(ep, [h.get("loss", np.nan) for h in hist], marker="o", label=e["name"])
        vals = [(h["epoch"], h["val_voc07"]) for h in hist if h.get("val_voc07") == h.get("val_voc07")
                and "val_voc07" in h]
        if vals:
            ax2.plot(*zip(*vals), marker="o", label=e["name"])
    ax1.set(xlabel="epoch", ylabel="training loss (per image)", title="training loss")
    splits = sorted({str(e["meta"].get("train_config", {}).get("val_set") or "a held-out split") for e in evals})
    ax2.set(xlabel="epoch", ylabel="VOC07 mAP", title=f"validation mAP (selection split: {', '.join(splits)})")
    for a in (ax1, ax2):
        if a.get_legend_handles_labels()[0]:
            a.legend()
    return fig_to_svg(fig)


def _size_blocks(evals: list[dict]) -> list[dict]:
    """AP by object size next to the prior coverage of the model's own layout."""
    rows: dict[str, dict] = {}
    for e in evals:
        cov = e["coverage"][0]
        for r, frac in zip(e["ap_by_size"], cov.fraction):
            row = rows.setdefault(r["size"], {"size (px at input)": r["size"]})
            row[f"{e['name']} objects"] = r["objects"]
            row[f"{e['name']} VOC07 AP"] = r["voc07"]
            row[f"{e['name']} prior coverage"] = frac
    df = pd.DataFrame(list(rows.values()))
    fig, ax = new_figure(6.4, 3.4)
    for i, e in enumerate(evals):
        labels = [r["size"] for r in e["ap_by_size"]]
        ax.plot(labels, [r["voc07"] for r in e["ap_by_size"]], marker="o", color=f"C{i}", label=f"{e['name']} AP")
        ax.plot(labels, list(e["coverage"][0].fraction), marker="s", ls="--", color=f"C{i}",
                label=f"{e['name']} prior coverage")
    ax.set(xlabel="object size √(w·h), px at the network input", ylabel="VOC07 AP / share", ylim=(0, 1.4),
           yticks=np.linspace(0, 1, 6), title="AP and prior coverage by object size")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    return [figure_block(fig_to_svg(fig)),
            table_block(df, "VOC07 mAP of the objects of each size (objects of other sizes ignored, detections of "
                            "other sizes dropped — COCO's area ranges applied to VOC AP); prior coverage: share of "
                            "the objects with a prior of IoU > 0.5", "{:.3f}")]


def _coverage_blocks(evals: list[dict]) -> list[dict]:
    rows, results = [], []
    for e in evals:
        for c in e["coverage"]:
            results.append(c)
            rows.append({"layout": c.name, "priors": c.priors,
                         **{f"{b} px": f for b, f in zip(c.bins, c.fraction)}, "all": c.overall})
    fig, ax = new_figure(6.4, 3.4)
    width = 0.8 / max(1, len(results))
    for i, c in enumerate(results):
        x = np.arange(len(c.bins)) + (i - (len(results) - 1) / 2) * width
        ax.bar(x, np.nan_to_num(np.asarray(c.fraction, float)), width, label=c.name, color=f"C{i}")
    if results:
        ax.set_xticks(np.arange(len(results[0].bins)), list(results[0].bins))
        ax.set(xlabel="object size √(w·h), px at the network input", ylabel="objects with a prior of IoU > 0.5",
               ylim=(0, 1.5), yticks=np.linspace(0, 1, 6), title="prior/anchor coverage by object size")
        ax.legend(fontsize=7, loc="upper left")
    n = [f"{b}: {k}" for b, k in zip(results[0].bins, results[0].objects)] if results else []
    return [text_block("Share of the test objects (non-difficult) that have at least one prior with IoU > 0.5 at "
                       "its real position: SSD's default boxes, YOLO's anchors at every cell centre of every head "
                       "(where a detector starts before it learns an offset). The finer-grid rows are the opt-in "
                       "layouts (`vocbench train yolo --strides 32,16`, `vocbench train ssd --stride8`), measured "
                       f"on the same objects ({', '.join(n)}) without training; the last column of the table "
                       "counts every object. IoUs by vocbench.boxes, computed by reference_models.coverage."),
            figure_block(fig_to_svg(fig)), table_block(pd.DataFrame(rows), "", "{:.3f}")]


#: how the report names the loss presets (the ``--loss`` values) for readers
_PRESET_NAMES = {"essay": "paper (sum-squared)", "darknet": "darknet", "modern": "modern"}


def _ablation_blocks(path: Path) -> list[dict]:
    """The loss ablation (presets ``essay`` vs ``modern``) from its JSON (``python -m reference_models.ablation``)."""
    data = json.loads(path.read_text())
    b = data.get("budget", {})
    rows = [{"loss preset": _PRESET_NAMES.get(r["preset"], r["preset"]), "test VOC07 mAP": r.get("test_voc07"),
             "test VOC12 mAP": r.get("test_voc12"),
             "test COCO AP": r.get("test_coco"), "iterations": r.get("iterations"), "epochs": r.get("epochs"),
             "train minutes": r.get("train_minutes")} for r in data.get("rows", [])]
    fig, ax = new_figure(5.6, 3.2)
    for i, r in enumerate(data.get("rows", [])):
        curve = r.get("val_curve") or []
        if curve:
            ax.plot(*zip(*curve), marker="o", color=f"C{i}",
                    label=f"{_PRESET_NAMES.get(r['preset'], r['preset'])} (validation)")
    sel = {r.get("config", {}).get("val_set") for r in data.get("rows", [])} - {None}
    ax.set(xlabel="epoch", ylabel="VOC07 mAP", title=f"validation mAP by loss preset ({', '.join(map(str, sel))})")
    ax.legend(fontsize=7)
    budget = ", ".join(f"{k} {v}" for k, v in b.items())
    return [text_block("The YOLO loss as the YOLOv2 paper describes it (sum-squared errors on softmax class "
                       "probabilities, sigmoid objectness and box offsets; `vocbench train --loss essay`) against "
                       "`modern` (softmax cross-entropy "
                       "for classes, BCE objectness with the IoU as target, a GIoU box term), same data, same "
                       f"budget ({budget}), selection on the validation split, test split scored once. From "
                       f"`{path.name}`."),
            table_block(pd.DataFrame(rows), "", "{:.4f}"), figure_block(fig_to_svg(fig))]


def _grid_ablation_blocks(path: Path) -> list[dict]:
    """Single vs finer grids trained at an equal budget: test mAP, AP and prior coverage by size per layout."""
    data = json.loads(path.read_text())
    rows, fig_rows = [], data.get("rows", [])
    for r in fig_rows:
        row = {"layout": r["layout"], "test VOC07 mAP": r["test_voc07"], "test VOC12 mAP": r["test_voc12"],
               "test COCO AP": r["test_coco"], "train minutes": r.get("train_minutes")}
        for a in r["ap_by_size"]:
            row[f"AP {a['size']}"] = a["voc07"]
        for b, f in zip(r["coverage"]["bins"], r["coverage"]["fraction"]):
            row[f"coverage {b}"] = f
        rows.append(row)
    fig, ax = new_figure(6.4, 3.4)
    for i, r in enumerate(fig_rows):
        ax.plot([a["size"] for a in r["ap_by_size"]], [a["voc07"] for a in r["ap_by_size"]], marker="o",
                color=f"C{i}", label=r["layout"])
    ax.set(xlabel="object size √(w·h), px at the network input", ylabel="VOC07 AP", ylim=(0, 1.05),
           yticks=np.linspace(0, 1, 6), title="AP by object size after an equal budget")
    ax.legend(fontsize=7, loc="upper left")
    b = ", ".join(f"{k} {v}" for k, v in data.get("budget", {}).items())
    return [text_block(f"Each layout trained from scratch with everything else equal ({b}; data: {data.get('data')}; "
                       "selection on 2007:val, the test split scored once). One seed per layout: differences of a "
                       "few points are within seed noise. " + (data.get("note", "") + " " if data.get("note") else "")
                       + "From `" + path.name + "`."),
            table_block(pd.DataFrame(rows), "", "{:.3f}"), figure_block(fig_to_svg(fig))]


def _speed_points(evals: list[dict], batch: int = 8) -> pd.DataFrame:
    rows = []
    for e in evals:
        m = e["result"].mAP.get("voc07", np.nan)
        for p in e["profiles"]:
            b = batch if batch in p.throughput else max(p.throughput)
            rows.append({"model": e["name"], "backend": p.backend, "device": p.device, "batch": b,
                         "images_per_s": p.throughput[b], "voc07_mAP": m,
                         "network_ms": next(t.median_ms for t in p.timings if t.batch == b and t.stage == "network"),
                         "GFLOPs/image": p.flops / 1e9, "parameters": p.parameters,
                         "threads": p.threads, "hardware": p.hardware})
        for g in e["meta"].get("gpu_profiles", []):
            rows.append({"model": e["name"], **g, "voc07_mAP": m})
    return pd.DataFrame(rows)


def _speed_figure(df: pd.DataFrame) -> str:
    fig, ax = new_figure(6, 3.6)
    markers = {"torch": "o", "onnx": "s"}
    for (name, backend, device), g in df.groupby(["model", "backend", "device"]):
        ax.scatter(g["images_per_s"], g["voc07_mAP"], marker=markers.get(backend, "x"), s=50,
                   label=f"{name} · {backend} · {device}")
    ax.set(xlabel="throughput (images/s, all stages, batch 8)", ylabel="VOC07 mAP", xscale="log",
           title="accuracy vs speed")
    ax.legend(fontsize=7)
    return fig_to_svg(fig)


def _anchor_blocks(evals: list[dict]) -> list[dict]:
    blocks = []
    for e in evals:
        cfg = e["config"]
        if cfg["model"] == "yolov2_tiny":
            a = np.asarray(cfg["anchors"])
            grid = cfg["input_size"] // 32
            df = pd.DataFrame({"anchor": np.arange(len(a)), "w (grid cells)": a[:, 0], "h (grid cells)": a[:, 1],
                               "w (fraction of image)": a[:, 0] / grid, "h (fraction of image)": a[:, 1] / grid})
            blocks.append(table_block(df, f"{e['name']}: {len(a)} anchors from vocbench.anchors.IoUKMeans on the "
                                          f"training boxes, {grid}×{grid} grid", "{:.3f}"))
            fig, ax = new_figure(3.4, 3.4)
            for i, (w, h) in enumerate(a / grid):
                ax.add_patch(__import__("matplotlib.patches", fromlist=["Rectangle"]).Rectangle(
                    (0.5 - w / 2, 0.5 - h / 2), w, h, fill=False, lw=1.5, color=f"C{i}"))
            ax.set(xlim=(0, 1), ylim=(1, 0), aspect="equal", title=f"{e['name']} anchors (image = unit square)")
            blocks.append(figure_block(fig_to_svg(fig)))
        else:
            from reference_models.ssd import BOXES_PER_LOCATION, feature_map_sizes
            sizes = feature_map_sizes(cfg["input_size"])
            pri = e["model"].priors.numpy()
            rows, start = [], 0
            for f, k in zip(sizes, BOXES_PER_LOCATION):
                n = f * f * k
                p = pri[start:start + n]
                start += n
                rows.append({"feature map": f"{f}×{f}", "boxes/location": k, "boxes": n,
                             "min side": float(np.sqrt(p[:, 2] * p[:, 3]).min()),
                             "max side": float(np.sqrt(p[:, 2] * p[:, 3]).max())})
            blocks.append(table_block(pd.DataFrame(rows), f"{e['name']}: {len(pri)} default boxes (SSD formula, "
                                                          "sides as √(w·h), fraction of the image)", "{:.3f}"))
    return blocks


def _example_block(evals: list[dict], dataset, n_images: int = 4) -> dict:
    from reference_models.data import image_path, read_image

    html = []
    idx = np.linspace(0, dataset.num_images - 1, n_images).astype(int) if dataset.num_images else []
    for e in evals:  # one row per model, the same images in the same columns
        d = e["detections"]
        row = []
        for i in idx:
            img = read_image(image_path(dataset, int(i)))
            # drawn at the tile's scale, so that the labels stay readable: VOC pixel p maps to (p - 1) * s + 1
            s = min(_TILE[0] / img.shape[1], _TILE[1] / img.shape[0])
            small = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                               interpolation=cv2.INTER_AREA)
            sel = d.image_index == i
            gt = (dataset.boxes[dataset.image_index == i] - 1) * s + 1
            drawn = draw_detections(small, (d.boxes[sel] - 1) * s + 1, d.scores[sel], d.class_index[sel],
                                    dataset.classes, gt)
            row.append(_img_tag(drawn, f"{e['name']} · {dataset.image_ids[i]}"))
        html.append('<div style="white-space:nowrap;overflow-x:auto">' + "".join(row) + "</div>")
    return html_block("".join(html))


def write_models_report(evals: list[dict], dataset, path: str | os.PathLike, data_desc: str = "",
                        title: str = "Reference one-stage detectors",
                        ablation: str | os.PathLike | None = ABLATION_JSON,
                        grid_ablation: str | os.PathLike | None = GRID_ABLATION_JSON) -> Path:
    """The model report: per-class AP (VOC07, VOC12, COCO), AP and prior coverage by object size, the loss
    ablation and the single-vs-finer-grid comparison (from ``ablation`` and ``grid_ablation``, when those files
    exist), accuracy vs speed, training and validation curves, example detections and anchors of every model."""
    summary = []
    for e in evals:
        m = e["result"].mAP
        meta = e["meta"]
        summary.append({"model": e["name"], "input": e["config"]["input_size"], "width": e["config"]["width"],
                        "epochs": meta.get("epochs_trained", ""), "VOC07 mAP": m.get("voc07", np.nan),
                        "VOC12 mAP": m.get("voc12", np.nan), "COCO AP": m.get("coco", np.nan),
                        "detections": len(e["detections"]),
                        "torch = onnx after NMS": ("identical" if e.get("onnx_identical") else
                                                   f"{e.get('onnx_unmatched')} of {len(e['detections'])} differ"
                                                   if "onnx_identical" in e else "—")})
    sections = [Section("Summary", [table_block(pd.DataFrame(summary), "scored by vocbench.evaluate from the "
                                                "detections that vocbench predict writes; torch = onnx: same "
                                                f"detections with boxes within {BOX_ATOL} px and scores within "
                                                f"{SCORE_ATOL:g}",
                                                "{:.4f}")],
                        intro="Both detectors are trained from scratch on vocbench's synthetic VOC data. Scores "
                              "are on the synthetic test split: VOC07 11-point and VOC12 all-point AP at IoU 0.5 "
                              "(difficult objects ignored) and COCO AP@[.5:.95].")]
    low = [e["name"] for e in evals if not e["result"].mAP.get("voc07", 0) >= 0.85]
    if low:
        sections[0].blocks.append(text_block(
            f"Below a VOC07 mAP of 0.85: {', '.join(low)}. The committed weights are reduced-width models "
            "trained for a few epochs on a shared CPU (no GPU was available); see each MODEL_CARD.md. Training on "
            "a GPU with `vocbench train` (reference_models/gpu_run.sh) gives full-width, longer runs."))
    sections.append(Section("Per-class AP", [table_block(_ap_table(evals), "", "{:.3f}")]))
    if evals and all("ap_by_size" in e and "coverage" in e for e in evals):
        sections.append(Section("AP by object size", _size_blocks(evals)))
        sections.append(Section("Prior coverage by object size", _coverage_blocks(evals)))
    if ablation is not None and Path(ablation).is_file():
        sections.append(Section("Loss ablation: paper (sum-squared) vs modern", _ablation_blocks(Path(ablation))))
    if grid_ablation is not None and Path(grid_ablation).is_file():
        sections.append(Section("Finer grids at an equal budget", _grid_ablation_blocks(Path(grid_ablation))))
    speed = _speed_points(evals)
    if len(speed):
        sections.append(Section("Accuracy vs speed", [figure_block(_speed_figure(speed)),
                                                     table_block(speed, "throughput counts every stage "
                                                                 "(preprocess, network, decode, NMS)", "{:.3f}")]))
    no_val = [e["name"] for e in evals if not any(h.get("val_voc07") == h.get("val_voc07") and "val_voc07" in h
                                                  for h in e["meta"].get("history", []))]
    curves = [figure_block(_curves_figure(evals))]
    if no_val:
        curves.append(text_block(f"No validation mAP was recorded during training for: {', '.join(no_val)}."))
    on_test = [e["name"] for e in evals
               if str(e["meta"].get("train_config", {}).get("val_set") or "").split(":")[-1].lower() == "test"]
    if on_test:
        curves.append(text_block(
            f"{', '.join(on_test)}: these weights predate held-out model selection — their best epoch was chosen on "
            "the test split of their own training data (see MODEL_CARD.md). `vocbench train` now selects on "
            "2007:val and refuses a test split; score such weights on a seed they have not seen."))
    sections.append(Section("Training curves", curves))
    sections.append(Section("Example detections", [text_block("Coloured: detections with score ≥ 0.2; white: "
                                                              "ground truth."), _example_block(evals, dataset)]))
    sections.append(Section("Anchors", _anchor_blocks(evals)))
    return write_report(path, title, sections, ReportMeta(data=data_desc))


def write_profile_report(result, path: str | os.PathLike) -> Path:
    """HTML for one :class:`~reference_models.profile.ProfileResult`."""
    df = result.to_pandas()
    fig, ax = new_figure(6, 3.2)
    stages = ["preprocess", "network", "decode", "nms"]
    bottom = np.zeros(len(df))
    per_img = {s: df[f"{s}_median_ms"].to_numpy() / df["batch"].to_numpy() for s in stages}
    for s in stages:
        ax.bar([str(b) for b in df["batch"]], per_img[s], bottom=bottom, label=s)
        bottom += per_img[s]
    ax.set(xlabel="batch size", ylabel="ms per image (median)", title="latency per stage")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # beside the bars
    blocks = [text_block(str(result).splitlines()[0]), table_block(df, "ms per batch; images/s over all stages",
                                                                   "{:.3f}"), figure_block(fig_to_svg(fig))]
    secs = [Section("Latency per stage", blocks)]
    if result.top_ops:
        secs.append(Section("torch.profiler top operators", [table_block(pd.DataFrame(list(result.top_ops)))]))
    if result.onnx_ops:
        secs.append(Section("onnxruntime profile", [table_block(pd.DataFrame(list(result.onnx_ops)))]))
    return write_report(path, f"Profile: {result.model} ({result.backend}, {result.device})", secs,
                        ReportMeta(data=result.hardware))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reference_models.report --data ROOT [--set 2007:test] --out PATH``: the model report of the
    committed weights (or ``--run NAME=FOLDER`` ...), as ``reports/reference_models.html`` is made."""
    import argparse
    import sys
    import tempfile

    import reference_models
    from vocbench.commands._common import int_option
    from vocbench.report.html import set_invocation

    p = argparse.ArgumentParser(prog="python -m reference_models.report", description=main.__doc__)
    p.add_argument("--data", required=True, help="VOCdevkit root with JPEGImages")
    p.add_argument("--set", dest="sets", action="append", help="default 2007:test")
    p.add_argument("--out", required=True, help="report HTML path")
    p.add_argument("--run", action="append", default=[], metavar="NAME=FOLDER",
                   help="models to report (default: the committed weights)")
    p.add_argument("--onnx-dir", default=None, help="where the ONNX exports go (default: a temporary folder)")
    p.add_argument("--data-name", default=None, help="how the report describes the data")
    p.add_argument("--profile-repeats", type=int_option(1, 100_000), default=5)
    p.add_argument("--threads", type=int_option(1, 1024), default=None,
                   help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    given = list(argv) if argv is not None else sys.argv[1:]
    set_invocation(["python", "-m", "reference_models.report", *given])
    runs = dict(r.split("=", 1) for r in args.run) if args.run else dict(reference_models.available_weights())

    with tempfile.TemporaryDirectory(prefix="vocbench-report-onnx-") as tmp:
        path, evals = reference_models.build_report(runs, args.data, args.out, sets=args.sets or ["2007:test"],
                                                    onnx_dir=args.onnx_dir or tmp,
                                                    profile_repeats=args.profile_repeats, data_name=args.data_name)
    for e in evals:
        print(f"{e['name']}: VOC07 mAP {e['result'].mAP.get('voc07', float('nan')):.4f}, torch = onnx after NMS: "
              f"{'yes' if e.get('onnx_identical') else str(e.get('onnx_unmatched')) + ' unmatched'}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
