"""The drop-ins against the code they replace, on the real YOLOv2 VOC2007-test detections (4,952 images, 101,139
boxes): pycocotools' ``COCOeval.evaluate() + accumulate()`` vs :mod:`vocbench.coco` on the COCO export, and
torchmetrics' ``MeanAveragePrecision`` (pycocotools backend) vs :mod:`vocbench.integrations.torchmetrics` fed in
batches of 16 (targets' iscrowd = difficult). The README table comes from these (ratios of the two groups).

Run: ``pytest benchmarks/bench_dropins.py --benchmark-only`` (the originals take ~10-40 s per round).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

import vocbench


@pytest.fixture(scope="module")
def coco_pair(shared, voc07_test):
    from vocbench.io.coco import detections_to_coco, export_coco

    dets = vocbench.read_detections(shared / "voc" / "detections" / "yolov2-voc07test", voc07_test)
    return export_coco(voc07_test), detections_to_coco(voc07_test, dets), dets


def _loaded(impl: str, gt: dict, res: list):
    if impl == "pycocotools":
        pytest.importorskip("pycocotools")
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        from vocbench.coco import COCO, COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(r) for r in res])
    return coco_gt, coco_dt, COCOeval


@pytest.mark.parametrize("impl", ["vocbench", "pycocotools"])
def test_cocoeval_evaluate_accumulate(benchmark, impl, coco_pair):
    coco_gt, coco_dt, cocoeval = _loaded(impl, *coco_pair[:2])

    def fn():
        with contextlib.redirect_stdout(io.StringIO()):
            ev = cocoeval(coco_gt, coco_dt, "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return ev.stats

    if impl == "vocbench":
        fn()  # JIT warm-up, excluded
    benchmark.group = "COCOeval evaluate+accumulate, YOLOv2 VOC07 test"
    stats = benchmark.pedantic(fn, rounds=1 if impl == "pycocotools" else 7, iterations=1)
    assert abs(stats[1] - 0.745) < 5e-4


def _batches(dataset, detections, batch_size: int = 16):
    import torch

    g_start = np.searchsorted(dataset.image_index, np.arange(dataset.num_images + 1))
    order = np.argsort(detections.image_index, kind="stable")
    d_start = np.searchsorted(detections.image_index[order], np.arange(dataset.num_images + 1))
    out = []
    for b0 in range(0, dataset.num_images, batch_size):
        images = range(b0, min(b0 + batch_size, dataset.num_images))
        preds = [{"boxes": torch.tensor(detections.boxes[order[d_start[i]:d_start[i + 1]]], dtype=torch.float32),
                  "scores": torch.tensor(detections.scores[order[d_start[i]:d_start[i + 1]]], dtype=torch.float32),
                  "labels": torch.tensor(detections.class_index[order[d_start[i]:d_start[i + 1]]])} for i in images]
        target = [{"boxes": torch.tensor(dataset.boxes[g_start[i]:g_start[i + 1]], dtype=torch.float32),
                   "labels": torch.tensor(dataset.class_index[g_start[i]:g_start[i + 1]]),
                   "iscrowd": torch.tensor(dataset.difficult[g_start[i]:g_start[i + 1]].astype(np.int64))}
                  for i in images]
        out.append((preds, target))
    return out


@pytest.mark.parametrize("impl", ["vocbench", "torchmetrics"])
def test_torchmetrics_map(benchmark, impl, voc07_test, coco_pair):
    pytest.importorskip("torch")
    if impl == "torchmetrics":
        metric_cls = pytest.importorskip("torchmetrics.detection").MeanAveragePrecision
    else:
        from vocbench.integrations.torchmetrics import MeanAveragePrecision as metric_cls
    batches = _batches(voc07_test, coco_pair[2])

    def fn():
        metric = metric_cls(class_metrics=True)
        for preds, target in batches:
            metric.update(preds, target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return metric.compute()

    if impl == "vocbench":
        fn()  # JIT warm-up, excluded
    benchmark.group = "MeanAveragePrecision update+compute, YOLOv2 VOC07 test, batches of 16"
    out = benchmark.pedantic(fn, rounds=1 if impl == "torchmetrics" else 5, iterations=1)
    assert abs(float(out["map_50"]) - 0.740914) < 1e-6  # VOC pixel boxes as continuous xyxy (no +1 widths)
