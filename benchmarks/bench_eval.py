"""Scoring the real YOLOv2 detections on VOC2007 test: vocbench vs a plain devkit loop, pycocotools,
faster-coco-eval and torchmetrics (VOC metrics and the COCO protocol)."""

from __future__ import annotations

import pytest

import vocbench
from vocbench.bench import peers


@pytest.fixture(scope="module")
def dets(shared, voc07_test):
    return vocbench.read_detections(shared / "voc" / "detections" / "yolov2-voc07test", voc07_test)


def test_vocbench_voc(benchmark, voc07_test, dets):
    def fn():
        return vocbench.evaluate(voc07_test, dets, metrics=("voc07", "voc12"), protocol="devkit", iou=0.5)

    fn()
    benchmark.group = "eval VOC07+VOC12"
    res = benchmark(fn).to_dict()
    assert abs(res["voc07"]["mAP"] - 0.721437) < 1e-5


def test_devkit_loop(benchmark, shared, voc07_test):
    recs = {k.split("/", 1)[1]: v for k, v in
            peers.parse_voc_xml_plain(shared / "voc" / "VOCdevkit", ["2007:test"]).items()}
    lines = peers.parse_det_lines_plain(shared / "voc" / "detections" / "yolov2-voc07test", voc07_test.classes)
    benchmark.group = "eval VOC07+VOC12"
    res = benchmark.pedantic(lambda: peers.devkit_voc_eval(recs, lines, voc07_test.classes), rounds=1, iterations=1)
    m07 = sum(res["voc07"].values()) / 20
    assert abs(m07 - 0.721381) < 1e-5


@pytest.mark.parametrize("peer", ["faster-coco-eval", "pycocotools", "torchmetrics"])
@pytest.mark.parametrize("iou05", [True, False], ids=["iou0.5", "coco"])
def test_coco_peers(benchmark, peer, iou05, voc07_test, dets):
    gt = peers.coco_gt_dict(voc07_test)
    dt = peers.coco_det_list(voc07_test, dets)
    try:
        fn = {"faster-coco-eval": lambda: peers.prepare_faster_coco_eval(gt, dt, iou05),
              "pycocotools": lambda: peers.prepare_pycocotools(gt, dt, iou05),
              "torchmetrics": lambda: peers.prepare_torchmetrics(voc07_test, dets, iou05)}[peer]()
    except peers.PeerMissing as exc:
        pytest.skip(str(exc))
    benchmark.group = "eval IoU 0.5" if iou05 else "eval COCO"
    res = benchmark.pedantic(fn, rounds=1, iterations=1)
    assert 0.5 < res["AP50"] < 0.9


def test_vocbench_coco(benchmark, voc07_test, dets):
    def fn():
        return vocbench.evaluate(voc07_test, dets, metrics=("coco",))

    fn()
    benchmark.group = "eval COCO"
    res = benchmark(fn).to_dict()
    assert 0.0 < res["coco"]["AP"] < 1.0
