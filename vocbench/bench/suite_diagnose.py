"""``vocbench bench diagnose``: TIDE's error decomposition (COCO rules) on the real YOLOv2 detections, vocbench
against tidecv 1.0.1 on the COCO export of the same data (box polygons as ``segmentation``, as tidecv needs)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np

from vocbench.bench.harness import BenchRow, time_call

__all__ = ["bench_diagnose", "CASE", "TIDE_NAMES"]

CASE = "TIDE errors (COCO rules), YOLOv2 VOC07 test"
TIDE_NAMES = {"cls": "Cls", "loc": "Loc", "both": "Both", "dupe": "Dupe", "bkg": "Bkg", "miss": "Miss"}


def _prepare_tidecv(dataset, detections, folder: Path):
    """Load tidecv's ground truth and results once (not timed); the timed call is evaluate + both error tables."""
    try:
        from tidecv import TIDE, datasets
    except ImportError:
        return None
    from vocbench.io.coco import detections_to_coco, export_coco

    gt = export_coco(dataset)
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    (folder / "gt.json").write_text(json.dumps(gt))
    (folder / "res.json").write_text(json.dumps(detections_to_coco(dataset, detections)))
    g = datasets.COCO(str(folder / "gt.json"))
    p = datasets.COCOResult(str(folder / "res.json"))

    def run():
        tide = TIDE()
        r = tide.evaluate(g, p, mode=TIDE.BOX)
        return r.ap, tide.get_main_errors()[p.name], tide.get_special_errors()[p.name]

    return run


def bench_diagnose(quick: bool = False, shared: Path | None = None, progress=None):
    """vocbench.diagnose(protocol="coco") vs tidecv (evaluate + main and special errors), same data, same run.

    The ratio row compares like with like (``sensitivity=False, confusion=False``: tidecv computes neither); the
    full call is timed as a second vocbench row.
    """
    import vocbench
    from vocbench.bench.suites import default_shared
    from vocbench.diagnose import diagnose

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    det_dir = shared / "voc" / "detections" / "yolov2-voc07test"
    if not (root.exists() and det_dir.exists()):
        return [BenchRow("diagnose", CASE, "vocbench", note=f"real data not found under {shared}")]
    if progress:
        progress("diagnose: loading data")
    dataset = vocbench.load_voc(root, ["2007:test"])
    dets = vocbench.read_detections(det_dir, dataset)
    n = len(dets)

    def run_vb(extras: bool):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return diagnose(dataset, dets, protocol="coco", sensitivity=extras, confusion=extras)

    # like for like: tidecv computes the decomposition only; the full call (sensitivity, confusion) is a second row
    times, d, first = time_call(lambda: run_vb(False), 3 if quick else 7, warmup=1)
    med = float(np.median(times))
    rows = [BenchRow.from_times("diagnose", CASE, "vocbench", n, times,
                                note=f"AP50 {d.mAP:.6f}; first call {first:.2f} s (JIT compile)")]
    full, _, _ = time_call(lambda: run_vb(True), 3 if quick else 5, warmup=1)
    rows.append(BenchRow.from_times("diagnose", CASE, "vocbench + sensitivity + confusion", n, full,
                                    ratio=float(np.median(full)) / med, note="the whole vocbench.diagnose call"))
    if progress:
        progress("diagnose: tidecv")
    with tempfile.TemporaryDirectory(prefix="vocbench-tide-") as tmp:
        run = _prepare_tidecv(dataset, dets, Path(tmp))
        if run is None:
            rows.append(BenchRow("diagnose", CASE, "tidecv 1.0.1", n, note="peer not installed (pip install tidecv)"))
            return rows
        t_times, (ap, main, spec), _ = time_call(run, 1, warmup=0)
    worst = max([abs(d.mAP - ap / 100)] + [abs(d.errors[k] - main[v] / 100) for k, v in TIDE_NAMES.items()]
                + [abs(d.special["false_pos"] - spec["FalsePos"] / 100),
                   abs(d.special["false_neg"] - spec["FalseNeg"] / 100)])
    t_med = float(np.median(t_times))
    rows.append(BenchRow.from_times("diagnose", CASE, "tidecv 1.0.1", n, t_times, ratio=t_med / med,
                                    agrees=bool(worst <= 1e-6),
                                    note=f"base AP and 8 dAPs: max |difference| {worst:.1e} (AP units); "
                                         f"{t_med / float(np.median(full)):.0f}x the whole diagnose call"))
    return rows
