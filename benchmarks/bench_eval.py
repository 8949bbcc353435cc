"""Scoring the real YOLOv2 detections on VOC2007 test: vocbench vs a plain devkit loop, pycocotools,
faster-coco-eval, torchmetrics, and (COCO protocol) hotcoco, ultrafast-pycocotools and vernier.

Run: ``pytest benchmarks/bench_eval.py --benchmark-only`` (CI does not run the benchmarks: timing is no test)."""

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
def test_iou05_peers(benchmark, peer, voc07_test, dets):
    gt = peers.coco_gt_dict(voc07_test)
    dt = peers.coco_det_list(voc07_test, dets)
    try:
        fn = {"faster-coco-eval": lambda: peers.prepare_faster_coco_eval(gt, dt, True),
              "pycocotools": lambda: peers.prepare_pycocotools(gt, dt, True),
              "torchmetrics": lambda: peers.prepare_torchmetrics(voc07_test, dets, True)}[peer]()
    except peers.PeerMissing as exc:
        pytest.skip(str(exc))
    benchmark.group = "eval IoU 0.5"
    res = benchmark.pedantic(fn, rounds=1, iterations=1)
    assert 0.5 < res["AP50"] < 0.9


COCO_PEERS = ["hotcoco", "ultrafast-pycocotools", "vernier", "faster-coco-eval", "pycocotools", "torchmetrics mAP"]


@pytest.mark.parametrize("peer", COCO_PEERS)
def test_coco_peers(benchmark, peer, shared, voc07_test, dets):
    """The COCO protocol on loaded data (``vocbench bench eval``'s adapters, one rayon thread for the Rust peers);
    the answers must equal vocbench's bit for bit (torchmetrics: its AP only)."""
    from vocbench.bench.suite_eval import CASE_COCO, IMPLS, _coco_exact, _Inputs

    peers.single_threaded_peers()
    x = _Inputs(shared)
    try:
        fn = IMPLS[(CASE_COCO, peer)](x)
    except peers.PeerMissing as exc:
        pytest.skip(str(exc))
    fast = peer in ("hotcoco", "ultrafast-pycocotools")
    fn()  # warm-up (lazy imports, first-call set-up)
    benchmark.group = "eval COCO"
    res = benchmark.pedantic(fn, rounds=5 if fast else 1, iterations=1)
    agrees, note = _coco_exact(vocbench.evaluate(x.dataset, x.dets, metrics=("coco",)).coco)(res)
    if peer not in ("faster-coco-eval", "torchmetrics mAP"):  # both differ in the last bits / per-image cap
        assert agrees, note


def test_vocbench_coco(benchmark, voc07_test, dets):
    def fn():
        return vocbench.evaluate(voc07_test, dets, metrics=("coco",))

    fn()
    benchmark.group = "eval COCO"
    res = benchmark(fn).to_dict()
    assert abs(res["coco"]["AP"] - 0.421841) < 1e-6
