"""vocbench.integrations.torchmetrics.MeanAveragePrecision against torchmetrics' own (pycocotools and
faster_coco_eval backends) on the same update calls: every key of compute() within 1e-6 (in practice equal).

Data: the real YOLOv2 VOC2007-test detections fed in batches of 16 (targets' iscrowd = difficult; a slice here,
all of it in the slow test) and generated batches covering box formats, areas, crowds, micro averaging, custom
thresholds and images without boxes. Merging across processes is checked with torch.distributed (gloo, 2 ranks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tm_detection = pytest.importorskip("torchmetrics.detection")
pytest.importorskip("pycocotools")

from vocbench.integrations.torchmetrics import MeanAveragePrecision  # noqa: E402

TM = tm_detection.MeanAveragePrecision


# ----------------------------------------------------------------------------------------------- data
def voc_batches(dataset, detections, batch_size: int = 16, limit: int | None = None, dtype=torch.float32):
    """(preds, target) batches in image order, VOC boxes as xyxy tensors, iscrowd = difficult."""
    n = dataset.num_images if limit is None else min(limit, dataset.num_images)
    g_start = np.searchsorted(dataset.image_index, np.arange(n + 1))
    order = np.argsort(detections.image_index, kind="stable")
    d_start = np.searchsorted(detections.image_index[order], np.arange(n + 1))
    batches = []
    for b0 in range(0, n, batch_size):
        preds, target = [], []
        for i in range(b0, min(b0 + batch_size, n)):
            r, g = order[d_start[i]:d_start[i + 1]], slice(g_start[i], g_start[i + 1])
            preds.append({"boxes": torch.tensor(detections.boxes[r], dtype=dtype),
                          "scores": torch.tensor(detections.scores[r], dtype=dtype),
                          "labels": torch.tensor(detections.class_index[r])})
            target.append({"boxes": torch.tensor(dataset.boxes[g], dtype=dtype),
                           "labels": torch.tensor(dataset.class_index[g]),
                           "iscrowd": torch.tensor(dataset.difficult[g].astype(np.int64))})
        batches.append((preds, target))
    return batches


def random_batches(seed: int, n_images: int = 40, batch_size: int = 8, box_format: str = "xyxy",
                   with_area: bool = False, dtype=torch.float32):
    rng = np.random.default_rng(seed)
    labels_pool = np.array([0, 3, 7, 42])  # sparse labels
    batches, preds, target = [], [], []
    for i in range(n_images):
        m = int(rng.integers(0, 7)) if i % 5 else 0
        xy = rng.uniform(0, 400, (m, 2))
        wh = np.exp(rng.uniform(np.log(4), np.log(250), (m, 2)))
        gt_xywh = np.round(np.hstack([xy, wh]), 1)
        gt_labels = rng.choice(labels_pool, m)
        det = [gt_xywh[j] + rng.normal(0, 0.1, 4) * np.r_[wh[j], wh[j]] for j in range(m) if rng.random() < 0.8]
        det += [np.r_[rng.uniform(0, 400, 2), rng.uniform(2, 150, 2)] for _ in range(int(rng.integers(0, 4)))]
        det_xywh = np.array(det).reshape(-1, 4)
        det_labels = np.array([gt_labels[j] if j < len(gt_labels) and rng.random() < 0.9 else rng.choice(labels_pool)
                               for j in range(len(det_xywh))], np.int64)
        t = {"boxes": _from_xywh(gt_xywh, box_format, dtype), "labels": torch.tensor(gt_labels, dtype=torch.int64),
             "iscrowd": torch.tensor((rng.random(m) < 0.15).astype(np.int64))}
        if with_area:
            t["area"] = torch.tensor(np.where(rng.random(m) < 0.3, 0.0, wh[:, 0] * wh[:, 1] * 0.7), dtype=dtype)
        preds.append({"boxes": _from_xywh(det_xywh, box_format, dtype), "labels": torch.tensor(det_labels),
                      "scores": torch.tensor(np.round(rng.uniform(0.05, 1, len(det_xywh)), 2), dtype=dtype)})
        target.append(t)
        if len(preds) == batch_size:
            batches.append((preds, target))
            preds, target = [], []
    if preds:
        batches.append((preds, target))
    return batches


def _from_xywh(xywh: np.ndarray, fmt: str, dtype) -> torch.Tensor:
    x, y, w, h = xywh.T
    if fmt == "xyxy":
        out = np.stack([x, y, x + w, y + h], 1)
    elif fmt == "cxcywh":
        out = np.stack([x + w / 2, y + h / 2, w, h], 1)
    else:
        out = xywh
    return torch.tensor(out.reshape(-1, 4), dtype=dtype)


def compute(cls, batches, **kwargs):
    metric = cls(**kwargs)
    for preds, target in batches:
        metric.update(preds, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return metric.compute()


def assert_close(ref: dict, ours: dict, atol: float = 1e-6) -> None:
    assert list(ours) == list(ref)
    for key, value in ref.items():
        if key == "ious":
            assert ours[key].keys() == value.keys()
            for k, v in value.items():
                assert torch.equal(torch.as_tensor(ours[key][k]), torch.as_tensor(v)), k
            continue
        assert ours[key].shape == value.shape and ours[key].dtype == value.dtype, key
        assert torch.allclose(ours[key].double(), value.double(), rtol=0, atol=atol), key


# ----------------------------------------------------------------------------------------------- generated data
OPTIONS = {
    "default": {},
    "class_metrics": {"class_metrics": True},
    "extended": {"extended_summary": True, "class_metrics": True},
    "micro": {"average": "micro", "class_metrics": True},
    "thresholds": {"iou_thresholds": [0.3, 0.5, 0.8], "rec_thresholds": [0.0, 0.25, 0.5, 0.75, 1.0],
                   "max_detection_thresholds": [1, 5, 20]},
}


@pytest.mark.parametrize("options", sorted(OPTIONS))
def test_options_equal_torchmetrics(options):
    batches = random_batches(1)
    ref = compute(TM, batches, **OPTIONS[options])
    ours = compute(MeanAveragePrecision, batches, **OPTIONS[options])
    assert_close(ref, ours)
    assert 0 < float(ref["map_50"]) < 1  # the case scores something


@pytest.mark.parametrize("box_format", ["xyxy", "xywh", "cxcywh"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_box_formats_areas_and_crowds_equal_torchmetrics(box_format, dtype):
    batches = random_batches(2, box_format=box_format, with_area=True, dtype=dtype)
    kwargs = {"box_format": box_format, "class_metrics": True}
    assert_close(compute(TM, batches, **kwargs), compute(MeanAveragePrecision, batches, **kwargs))


def test_faster_coco_eval_backend_agrees():
    pytest.importorskip("faster_coco_eval")
    batches = random_batches(3)
    ref = compute(TM, batches, backend="faster_coco_eval", class_metrics=True)
    assert_close(ref, compute(MeanAveragePrecision, batches, backend="faster_coco_eval", class_metrics=True))


def test_torchmetrics_own_class_on_vocbench_pycocotools():
    """torchmetrics imports pycocotools at compute(): after init_as_pycocotools() it runs on vocbench.coco."""
    import vocbench

    batches = random_batches(7)
    kwargs = {"class_metrics": True, "extended_summary": True}
    ref = compute(TM, batches, **kwargs)
    with vocbench.init_as_pycocotools():
        from pycocotools.cocoeval import COCOeval

        assert COCOeval.__module__ == "vocbench.coco"
        ours = compute(TM, batches, **kwargs)
    assert_close(ref, ours)


def test_no_update_and_empty_images_equal_torchmetrics():
    assert_close(compute(TM, []), compute(MeanAveragePrecision, []))
    empty = [([{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}],
              [{"boxes": torch.tensor([[1.0, 2, 30, 40]]), "labels": torch.tensor([2])}])]
    assert_close(compute(TM, empty, class_metrics=True), compute(MeanAveragePrecision, empty, class_metrics=True))


def test_bad_arguments_raise_like_torchmetrics():
    with pytest.raises(ValueError, match="box_format"):
        MeanAveragePrecision(box_format="xy")
    with pytest.raises(ValueError, match="length 3"):
        MeanAveragePrecision(max_detection_thresholds=[1, 10])
    with pytest.raises(NotImplementedError, match="bbox"):
        MeanAveragePrecision(iou_type="segm")
    metric = MeanAveragePrecision()
    with pytest.raises(ValueError, match="same length"):
        metric.update([], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}])
    with pytest.raises(ValueError, match="`scores` key"):
        metric.update([{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}],
                      [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}])


# ----------------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def yolov2(voc07_test, yolov2_dets):
    from vocbench import read_detections

    return read_detections(yolov2_dets, voc07_test)


def test_real_yolov2_slice_equals_torchmetrics(voc07_test, yolov2):
    batches = voc_batches(voc07_test, yolov2, limit=320)
    kwargs = {"class_metrics": True, "extended_summary": True}
    assert_close(compute(TM, batches, **kwargs), compute(MeanAveragePrecision, batches, **kwargs))


@pytest.mark.slow
def test_real_yolov2_whole_set_equals_torchmetrics(voc07_test, yolov2):
    batches = voc_batches(voc07_test, yolov2)
    ref = compute(TM, batches, class_metrics=True)
    assert_close(ref, compute(MeanAveragePrecision, batches, class_metrics=True))
    # VOC pixel boxes taken as continuous xyxy: AP50 0.7409 (the COCO export, with its +1 widths, gives 0.745)
    assert abs(float(ref["map_50"]) - 0.740914) < 1e-6


@pytest.mark.parametrize("metric, expected", [("voc07", 0.721437), ("voc12", 0.745179)])
def test_voc_metrics_give_the_devkit_numbers(voc07_test, yolov2, metric, expected):
    """The devkit's mAP of YOLOv2 on VOC2007 test (tests/test_eval_real.py), difficult from iscrowd."""
    batches = voc_batches(voc07_test, yolov2, batch_size=64, dtype=torch.float64)
    out = compute(MeanAveragePrecision, batches, metric=metric)
    assert float(out["map"]) == pytest.approx(expected, abs=5e-7)
    assert out["map_per_class"].shape == (20,) and out["classes"].tolist() == list(range(20))


def test_voc_difficult_key_wins_over_iscrowd(voc07_test, yolov2):
    batches = voc_batches(voc07_test, yolov2, batch_size=64, limit=640, dtype=torch.float64)
    moved = [(preds, [{**t, "difficult": t["iscrowd"], "iscrowd": torch.zeros_like(t["iscrowd"])} for t in target])
             for preds, target in batches]
    dropped = [(preds, [{k: v for k, v in t.items() if k != "iscrowd"} for t in target]) for preds, target in batches]
    ref = compute(MeanAveragePrecision, batches, metric="voc07")
    assert torch.equal(compute(MeanAveragePrecision, moved, metric="voc07")["map_per_class"], ref["map_per_class"])
    assert float(compute(MeanAveragePrecision, dropped, metric="voc07")["map"]) != float(ref["map"])


# ----------------------------------------------------------------------------------------------- DDP, no torchmetrics
def _ddp_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        batches = random_batches(4)
        half = len(batches) // 2
        metric = MeanAveragePrecision(class_metrics=True)
        for preds, target in (batches[:half] if rank == 0 else batches[half:]):
            metric.update(preds, target)
        out = metric.compute()  # torchmetrics syncs the states across ranks here
        torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_merge_equals_one_process(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # fork: the workers inherit the imported torch/vocbench (spawn re-imports them: ~30 s on a busy 2-core box)
    mp.start_processes(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True, start_method="fork")
    single = compute(MeanAveragePrecision, random_batches(4), class_metrics=True)
    assert_close(compute(TM, random_batches(4), class_metrics=True), single)
    for rank in range(2):
        merged = torch.load(tmp_path / f"rank{rank}.pt")
        assert list(merged) == list(single)
        for key in single:
            assert torch.equal(merged[key], single[key]), key


def test_plain_class_without_torchmetrics(tmp_path):
    torch.save(random_batches(1), tmp_path / "batches.pt")
    code = textwrap.dedent("""
        import sys, json
        sys.modules["torchmetrics"] = None  # not installed
        import torch
        from vocbench.integrations.torchmetrics import MeanAveragePrecision, _TORCHMETRICS
        m = MeanAveragePrecision(class_metrics=True)
        for p, t in torch.load(sys.argv[1]):
            m.update(p, t)
        out = m.compute()
        print(json.dumps([_TORCHMETRICS, type(m).__mro__[1].__name__,
                          {k: v.tolist() for k, v in out.items()}]))
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "batches.pt")], capture_output=True, text=True,
                         check=True)
    flag, parent, values = json.loads(out.stdout.strip().splitlines()[-1])
    assert flag is False and parent == "_PlainMetric"
    ref = compute(TM, random_batches(1), class_metrics=True)
    assert values.keys() == ref.keys()
    for key, value in ref.items():
        assert np.allclose(values[key], value.tolist(), rtol=0, atol=1e-6), key
