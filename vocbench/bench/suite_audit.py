"""``vocbench bench audit``: the dataset audit of VOC07+12 trainval and the label-error ranks of VOC07 test with
the real YOLOv2 and YOLOv3 detections (issue 25: "in seconds, not minutes"), and SSD matching against the
ssd.pytorch route (the full objects × 8732 IoU matrix per image, in numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vocbench.bench.harness import BenchRow, time_call

__all__ = ["bench_audit", "numpy_ssd_match"]

CASE_DATASET = "dataset audit, VOC07+12 trainval"
CASE_ISSUES = "label-error ranks, VOC07 test, YOLOv2 + YOLOv3"
CASE_SSD = "SSD300 matching, VOC07 test"


def numpy_ssd_match(boxes: np.ndarray, starts: np.ndarray, priors: np.ndarray, threshold: float = 0.5):
    """ssd.pytorch's ``match`` as it is written: per image the objects × priors IoU matrix (numpy), the best prior
    per object and best object per prior, forced best priors. Returns ``(best_iou, positives)``."""
    px1, px2 = priors[:, 0] - 0.5 * priors[:, 2], priors[:, 0] + 0.5 * priors[:, 2]
    py1, py2 = priors[:, 1] - 0.5 * priors[:, 3], priors[:, 1] + 0.5 * priors[:, 3]
    pa = priors[:, 2] * priors[:, 3]
    best = np.zeros(len(boxes))
    pos = np.zeros(len(boxes), np.int64)
    for a, z in zip(starts[:-1], starts[1:]):
        if z == a:
            continue
        b = boxes[a:z]
        iw = np.minimum(b[:, 2:3], px2) - np.maximum(b[:, 0:1], px1)
        ih = np.minimum(b[:, 3:4], py2) - np.maximum(b[:, 1:2], py1)
        inter = iw * ih
        area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[:, None]
        iou = np.where((iw > 0) & (ih > 0), inter / (area + pa - inter), 0.0)
        best_prior = iou.argmax(axis=1)
        best[a:z] = iou.max(axis=1)
        owner = iou.argmax(axis=0)
        owner_iou = iou.max(axis=0)
        owner_iou[best_prior] = 2.0
        for j, p in enumerate(best_prior):
            owner[p] = j
        pos[a:z] = np.bincount(owner[owner_iou >= threshold], minlength=z - a)
    return best, pos


def bench_audit(quick: bool = False, shared: Path | None = None, progress=None) -> list[BenchRow]:
    """Time :func:`vocbench.audit.audit_dataset` (VOC07+12 trainval, leakage lists included) and
    :func:`vocbench.audit.find_label_issues` (VOC07 test, two detectors) after warm-up; SSD matching vs numpy."""
    import vocbench
    from vocbench.anchors import SSD300
    from vocbench.audit import (
        analyze_ssd_matching,
        audit_dataset,
        find_label_issues,
        object_geometry,
        split_memberships,
    )
    from vocbench.bench.suites import default_shared

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    dets = [shared / "voc" / "detections" / f"{m}-voc07test" for m in ("yolov2", "yolov3")]
    if not (root.exists() and all(d.exists() for d in dets)):
        return [BenchRow("audit", CASE_DATASET, "vocbench", note=f"real data not found under {shared}")]
    if progress:
        progress("audit: loading VOC07+12 trainval")
    sets = ["2007:trainval", "2012:trainval"]
    trainval = vocbench.load_voc(root, sets)
    repeats = 3 if quick else 7

    def run_dataset():
        return audit_dataset(trainval, splits=split_memberships(root, sets))

    times, audit, first = time_call(run_dataset, repeats, warmup=1)
    rows = [BenchRow.from_times("audit", CASE_DATASET, "vocbench", audit.assignments[0].objects, times,
                                note=f"grid, sweep, SSD300, 3 resize k-means, health; first call {first:.2f} s")]
    test = vocbench.load_voc(root, ["2007:test"])
    d = [vocbench.read_detections(p, test) for p in dets]
    times, issues, first = time_call(lambda: find_label_issues(test, d), repeats, warmup=1)
    rows.append(BenchRow.from_times("audit", CASE_ISSUES, "vocbench", sum(len(x) for x in d), times,
                                    note=f"{len(issues.table)} candidates; first call {first:.2f} s"))
    geom = object_geometry(test)
    starts = np.searchsorted(geom.image_index, np.arange(test.num_images + 1))
    times, ssd, _ = time_call(lambda: analyze_ssd_matching(test, geometry=geom), repeats, warmup=1)
    med = float(np.median(times))
    rows.append(BenchRow.from_times("audit", CASE_SSD, "vocbench", geom.boxes.shape[0], times))
    if progress:
        progress("audit: numpy SSD matching")
    t_np, (best, pos), _ = time_call(lambda: numpy_ssd_match(geom.boxes, starts, SSD300.boxes()), 1, warmup=0)
    same = bool(np.array_equal(pos, ssd.positives) and np.array_equal(best, ssd.best_iou))
    rows.append(BenchRow.from_times("audit", CASE_SSD, "numpy full IoU matrix (ssd.pytorch match)",
                                    geom.boxes.shape[0], t_np, ratio=float(np.median(t_np)) / med, agrees=same,
                                    note="same best IoU and positives per object" if same else "answers differ"))
    return rows
