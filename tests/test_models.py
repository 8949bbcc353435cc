"""Reference detectors (torch, CPU, tiny): target encoding round trips, losses, overfitting one batch, DDP on
gloo, ONNX parity, augmentation geometry, devkit output, the CLI without torch."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.augment import AugmentConfig, augment  # noqa: E402
from reference_models.box_coder import (  # noqa: E402
    box_iou,
    cxcywh_to_xyxy,
    ssd_decode,
    ssd_encode,
    ssd_match,
    yolo_build_targets,
    yolo_decode,
)
from reference_models.data import pad_truth  # noqa: E402
from reference_models.losses import YOLO_LOSS_PRESETS, SSDLoss, YoloLoss  # noqa: E402
from reference_models.ssd import SSDLite, default_boxes, feature_map_sizes  # noqa: E402
from reference_models.yolo import YoloV2Tiny  # noqa: E402
from tests._reference.models import ssd_assign, yolo_assign  # noqa: E402

torch.set_num_threads(1)  # 2 shared cores: more threads only spin


def random_truth(rng, n_images=3, max_boxes=6, min_side=0.05):
    boxes, labels = [], []
    for _ in range(n_images):
        k = int(rng.integers(0, max_boxes + 1))
        xy = rng.uniform(0, 0.7, (k, 2))
        wh = rng.uniform(min_side, 0.3, (k, 2))
        boxes.append(np.concatenate((xy, np.minimum(xy + wh, 1.0)), 1).astype(np.float32))
        labels.append(rng.integers(0, 5, k))
    return boxes, labels


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


ANCHORS = torch.tensor([[0.6, 0.8], [1.5, 1.2], [3.0, 2.5]])


# ------------------------------------------------------------------------------------------ YOLO targets
@pytest.mark.parametrize("seed", range(5))
def test_yolo_targets_match_slow_twin(seed):
    rng = np.random.default_rng(seed)
    boxes, labels = random_truth(rng, max_boxes=10)
    pb, pl, pm = pad_truth(boxes, labels)
    grid = 7
    t = yolo_build_targets(pb, pl, pm, ANCHORS, grid)
    dropped = 0
    for i in range(len(boxes)):
        want = yolo_assign(boxes[i], labels[i], ANCHORS.tolist(), grid)
        dropped += len(boxes[i]) - len(want)
        got = set(torch.nonzero(t.obj[i]).flatten().tolist())
        assert got == set(want)
        for d, (lab, tx, ty, tw, th) in want.items():
            assert int(t.cls[i, d]) == lab
            np.testing.assert_allclose(t.txy[i, d].numpy(), [tx, ty], atol=1e-5)
            np.testing.assert_allclose(t.twh[i, d].numpy(), [tw, th], atol=1e-5)
    assert t.dropped == dropped


def test_yolo_collision_keeps_first_object():
    b = torch.tensor([[[0.1, 0.1, 0.3, 0.3], [0.11, 0.1, 0.3, 0.31]]])
    t = yolo_build_targets(b, torch.tensor([[2, 4]]), torch.ones(1, 2, dtype=torch.bool), ANCHORS, 5)
    assert int(t.obj.sum()) == 1 and t.dropped == 1
    assert int(t.cls[t.obj]) == 2


@pytest.mark.parametrize("seed", range(3))
def test_yolo_encode_decode_round_trip(seed):
    """Targets → raw logits (σ⁻¹ of the offsets, tw/th as is) → decode gives every truth box back."""
    rng = np.random.default_rng(seed)
    boxes, labels = random_truth(rng, max_boxes=4)
    pb, pl, pm = pad_truth(boxes, labels)
    grid, stride, b, c = 5, 32.0, len(ANCHORS), 5
    t = yolo_build_targets(pb, pl, pm, ANCHORS, grid)
    n, d = t.obj.shape
    p = torch.zeros(n, d, 5 + c)
    p[..., 0:2] = torch.from_numpy(logit(t.txy.numpy()))
    p[..., 2:4] = t.twh
    raw = p.view(n, grid, grid, b, 5 + c).permute(0, 3, 4, 1, 2).reshape(n, b * (5 + c), grid, grid)
    dec, _, _ = yolo_decode(raw, ANCHORS, stride)
    np.testing.assert_allclose((dec / (grid * stride))[t.obj].numpy(), t.box[t.obj].numpy(), atol=1e-4)


def test_yolo_decode_formula():
    raw = torch.zeros(1, 1 * 7, 2, 2)
    raw[0, 0, 1, 0] = 0.3   # tx at row 1, col 0
    raw[0, 2, 1, 0] = 0.5   # tw
    raw[0, 4, 1, 0] = 2.0   # to
    boxes, conf, cls = yolo_decode(raw, torch.tensor([[2.0, 1.0]]), 32.0)
    d = (1 * 2 + 0) * 1
    x = (0 + 1 / (1 + math.exp(-0.3))) * 32
    y = (1 + 0.5) * 32
    w, h = 2.0 * math.exp(0.5) * 32, 1.0 * 32
    np.testing.assert_allclose(boxes[0, d].numpy(), [x - w / 2, y - h / 2, x + w / 2, y + h / 2], rtol=1e-5)
    assert conf[0, d].item() == pytest.approx(1 / (1 + math.exp(-2.0)))
    np.testing.assert_allclose(cls[0, d].numpy(), np.full(2, 0.5))


# ------------------------------------------------------------------------------------------ SSD targets
def test_ssd_default_box_counts():
    assert feature_map_sizes(300) == [19, 10, 5, 3, 2, 1]
    assert len(default_boxes(300)) == 1917
    assert feature_map_sizes(320) == [20, 10, 5, 3, 2, 1]
    assert len(default_boxes(320)) == 2034
    b = default_boxes(300)  # the SSD formula by hand: s_k = 0.2 + 0.75 (k - 1) / 5, s_7 = 1
    np.testing.assert_allclose(b[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1])
    np.testing.assert_allclose(b[1], [0.5 / 19, 0.5 / 19, 0.2 * math.sqrt(2), 0.2 / math.sqrt(2)])
    first2 = 19 * 19 * 3  # the second map's first cell: (s, s), (s', s'), (2:1), (1:2), (3:1), (1:3)
    np.testing.assert_allclose(b[first2:first2 + 6], [[0.05, 0.05, 0.35, 0.35],
                                                      [0.05, 0.05, math.sqrt(0.35 * 0.5), math.sqrt(0.35 * 0.5)],
                                                      [0.05, 0.05, 0.35 * math.sqrt(2), 0.35 / math.sqrt(2)],
                                                      [0.05, 0.05, 0.35 / math.sqrt(2), 0.35 * math.sqrt(2)],
                                                      [0.05, 0.05, 0.35 * math.sqrt(3), 0.35 / math.sqrt(3)],
                                                      [0.05, 0.05, 0.35 / math.sqrt(3), 0.35 * math.sqrt(3)]])
    np.testing.assert_allclose(b[-1], [0.5, 0.5, 0.95 / math.sqrt(3), 0.95 * math.sqrt(3)])


@pytest.mark.parametrize("seed", range(3))
def test_ssd_encode_decode_round_trip(seed):
    rng = np.random.default_rng(seed)
    priors = torch.from_numpy(default_boxes(128)).float()
    xy = rng.uniform(0, 0.6, (2, len(priors), 2))
    boxes = torch.from_numpy(np.concatenate((xy, xy + rng.uniform(0.02, 0.4, xy.shape)), -1)).float()
    np.testing.assert_allclose(ssd_decode(ssd_encode(boxes, priors), priors).numpy(), boxes.numpy(), atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_ssd_match_matches_slow_twin(seed):
    rng = np.random.default_rng(seed)
    boxes, labels = random_truth(rng, max_boxes=5)
    pb, pl, pm = pad_truth(boxes, labels)
    priors = torch.from_numpy(default_boxes(96)).float()
    tl, tb = ssd_match(pb, pl, pm, priors)
    for i in range(len(boxes)):
        want = ssd_assign(boxes[i].tolist(), labels[i].tolist(), priors.tolist())
        np.testing.assert_array_equal(tl[i].numpy(), want)
        pos = tl[i] > 0
        # every positive's matched truth overlaps it (forced ones) or beats the threshold
        if pos.any():
            iou = box_iou(tb[i][pos].unsqueeze(1), cxcywh_to_xyxy(priors[pos]).unsqueeze(1)).squeeze(-1).squeeze(-1)
            assert (iou.diagonal() if iou.ndim == 2 else iou).min() > 0


def test_ssd_every_truth_gets_a_prior():
    priors = torch.from_numpy(default_boxes(64)).float()
    boxes = torch.tensor([[[0.40, 0.40, 0.43, 0.47], [0.0, 0.0, 1.0, 1.0]]])  # tiny and whole-image
    tl, _ = ssd_match(boxes, torch.tensor([[3, 1]]), torch.ones(1, 2, dtype=torch.bool), priors)
    assert set(tl[0][tl[0] > 0].tolist()) == {4, 2}


# ------------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("preset", sorted(YOLO_LOSS_PRESETS))
def test_yolo_loss_zero_on_perfect_prediction(preset):
    rng = np.random.default_rng(0)
    boxes, labels = random_truth(rng, max_boxes=3, min_side=0.1)
    pb, pl, pm = pad_truth(boxes, labels)
    grid, b, c = 4, len(ANCHORS), 5
    t = yolo_build_targets(pb, pl, pm, ANCHORS, grid)
    n, d = t.obj.shape
    p = torch.zeros(n, d, 5 + c)
    p[..., 0:2] = torch.from_numpy(logit(t.txy.numpy())).float()
    p[..., 2:4] = t.twh
    p[..., 4] = torch.where(t.obj, torch.tensor(30.0), torch.tensor(-30.0))
    p[..., 5:] = torch.nn.functional.one_hot(t.cls, c).float() * 40 - 20
    raw = p.view(n, grid, grid, b, 5 + c).permute(0, 3, 4, 1, 2).reshape(n, b * (5 + c), grid, grid)
    loss, parts = YoloLoss(ANCHORS, c, preset)(raw, pb, pl, pm)
    # float32 rounding of the decoded box: 1 − GIoU and the IoU target sit ~1e-7 from their ideal per object
    assert float(loss) < (1e-4 if YOLO_LOSS_PRESETS[preset].box_loss == "giou" else 1e-6), parts
    # and clearly positive when the classes are wrong
    p[..., 5:] = -p[..., 5:]
    raw2 = p.view(n, grid, grid, b, 5 + c).permute(0, 3, 4, 1, 2).reshape(n, b * (5 + c), grid, grid)
    assert float(YoloLoss(ANCHORS, c, preset)(raw2, pb, pl, pm)[0]) > 0.5


def test_ssd_loss_zero_on_perfect_prediction():
    rng = np.random.default_rng(1)
    boxes, labels = random_truth(rng, max_boxes=3, min_side=0.1)
    pb, pl, pm = pad_truth(boxes, labels)
    priors = torch.from_numpy(default_boxes(96)).float()
    tl, tb = ssd_match(pb, pl, pm, priors)
    loc = ssd_encode(tb, priors)
    logits = torch.nn.functional.one_hot(tl, 6).float() * 60 - 30
    loss, parts = SSDLoss(priors)((loc, logits), pb, pl, pm)
    assert float(loss) < 1e-6, parts
    assert float(SSDLoss(priors)((loc + 1.0, logits), pb, pl, pm)[0]) > 1.0


def test_losses_finite_without_objects():
    y = YoloV2Tiny(5, ANCHORS, width=0.125, input_size=64)
    s = SSDLite(5, width=0.125, input_size=64)
    x = torch.rand(2, 3, 64, 64)
    for g in (0, 2):
        pb, pl, pm = torch.zeros(2, g, 4), torch.zeros(2, g, dtype=torch.long), torch.zeros(2, g, dtype=torch.bool)
        ly, _ = YoloLoss(y.anchors, 5)(y(x), pb, pl, pm)
        ls, _ = SSDLoss(s.priors)(s(x), pb, pl, pm)
        assert torch.isfinite(ly) and torch.isfinite(ls)
        assert float(ls.detach()) == 0.0  # no positives → no mined negatives
        ly.backward()


def test_initial_predictions_are_background():
    y = YoloV2Tiny(20, ANCHORS, width=0.125, input_size=64).eval()
    s = SSDLite(20, width=0.125, input_size=64).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert float(y.decode(y(x))[1].max()) < 0.05
        assert float(s.decode(s(x))[1].max()) < 0.05


@pytest.mark.parametrize("which", ["yolo", "ssd"])
def test_overfit_one_batch(which):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    boxes = [np.array([[0.1, 0.15, 0.5, 0.6], [0.55, 0.5, 0.95, 0.9]], np.float32),
             np.array([[0.3, 0.2, 0.8, 0.7]], np.float32)]
    labels = [np.array([1, 3]), np.array([2])]
    pb, pl, pm = pad_truth(boxes, labels)
    x = torch.from_numpy(rng.uniform(0, 1, (2, 3, 64, 64)).astype(np.float32))
    if which == "yolo":
        model = YoloV2Tiny(4, ANCHORS, width=0.25, input_size=64)
        loss_fn = YoloLoss(model.anchors, 4)
    else:
        model = SSDLite(4, width=0.25, input_size=64)
        loss_fn = SSDLoss(model.priors)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        loss, _ = loss_fn(model(x), pb, pl, pm)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.15 * first, (first, float(loss.detach()))


# ------------------------------------------------------------------------------------------ DDP, ONNX
def test_ddp_two_process_gloo_steps(tmp_path):
    from reference_models.train import ddp_selftest

    res = ddp_selftest(world_size=2, steps=2, workdir=tmp_path)
    assert torch.equal(res[0]["params"], res[1]["params"])  # gradients were all-reduced
    assert res[0]["losses"] != res[1]["losses"]  # ranks saw different data
    torch.manual_seed(0)
    init = torch.cat([p.detach().reshape(-1) for p in YoloV2Tiny(3, [[0.5, 0.5], [1.5, 1.0]], width=0.125,
                                                                  input_size=64).parameters()])
    assert not torch.equal(init, res[0]["params"])  # and the parameters moved


@pytest.mark.parametrize("which", ["yolo", "ssd"])
def test_onnx_parity(tmp_path, which):
    pytest.importorskip("onnxruntime")
    from reference_models.export import export_onnx, onnx_session, parity_check
    from reference_models.predict import PostprocessConfig

    torch.manual_seed(0)
    model = (YoloV2Tiny(4, ANCHORS, width=0.125, input_size=96) if which == "yolo"
             else SSDLite(4, width=0.125, input_size=96))
    # non-trivial BatchNorm statistics, so that a folding/padding error would show
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 96, 96) * 3 - 1)
    model.eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 96, 96), dtype=np.uint8)
    res = parity_check(model, onnx_session(path), images, PostprocessConfig(score_threshold=0.001))
    assert res.max_abs_raw < 1e-4, res
    assert res.identical and res.detections > 0, res
    assert res.provider == "CPUExecutionProvider" and res.to_dict()["provider"] == "CPUExecutionProvider"


@pytest.mark.parametrize("cuda_usable", [False, True])
def test_onnx_cuda_fallback_warns_and_records_the_provider_that_ran(tmp_path, monkeypatch, cuda_usable):
    """--device cuda that cannot run on CUDA falls back to the CPU with a warning saying why, and the runner
    records CPUExecutionProvider. ``cuda_usable``: pretend the CUDA checks pass, so onnxruntime itself must
    fail to load the provider or register only the CPU one (this machine has no GPU)."""
    ort = pytest.importorskip("onnxruntime")
    from reference_models import export as export_mod
    from reference_models.export import OnnxRunner, export_onnx, onnx_provider, onnx_session

    torch.manual_seed(0)
    model = YoloV2Tiny(4, ANCHORS, width=0.125, input_size=64).eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    if torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a usable CUDA device: no fallback to test")  # never on the CPU CI machine
    if cuda_usable:
        monkeypatch.setattr(export_mod, "_providers", lambda device: (
            ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"], ""))
    with pytest.warns(RuntimeWarning, match="runs on CPUExecutionProvider, not CUDA: .+"):
        session = onnx_session(path, "cuda")
    assert onnx_provider(session) == "CPUExecutionProvider"
    assert OnnxRunner(session).provider == "CPUExecutionProvider"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asking for the CPU never warns
        assert onnx_provider(onnx_session(path, "cpu")) == "CPUExecutionProvider"


# ------------------------------------------------------------------------------------------ augmentation
def test_flip_moves_boxes_with_pixels():
    img = np.zeros((40, 60, 3), np.uint8)
    img[10:20, 5:15] = 255  # object at x 5..15, y 10..20
    boxes = np.array([[5 / 60, 10 / 40, 15 / 60, 20 / 40]])
    cfg = AugmentConfig(flip=1.0, crop=0.0, jitter=0.0, hue=0, saturation=1, value=1)
    out, b, lab = augment(img, boxes, np.array([3]), 60, np.random.default_rng(0), cfg)
    ys, xs = np.nonzero(out[..., 0] > 128)
    np.testing.assert_allclose(b[0] * [60, 60, 60, 60], [xs.min(), ys.min() * 60 / 60, xs.max() + 1,
                                                          (ys.max() + 1)], atol=1.01)
    assert lab.tolist() == [3]


def test_crop_and_jitter_keep_box_on_object():
    """After random crop + jitter every kept box still encloses the drawn object's visible pixels; a box is
    dropped only when the crop cut the object, and almost every seed keeps it."""
    img = np.zeros((64, 64, 3), np.uint8)
    img[20:40, 24:44] = 255
    boxes = np.array([[24 / 64, 20 / 64, 44 / 64, 40 / 64]])
    cfg = AugmentConfig(flip=0.5, crop=1.0, jitter=1.0, hue=0, saturation=1, value=1)
    kept = 0
    for seed in range(40):
        out, b, lab = augment(img, boxes, np.array([1]), 64, np.random.default_rng(seed), cfg)
        ys, xs = np.nonzero(out[..., 0] > 200)
        assert b.min(initial=0) >= 0 and b.max(initial=1) <= 1
        assert len(b) in (0, 1) and lab.tolist() == [1] * len(b)
        if len(b) == 0:  # dropped only when the crop cut the object: what is left of it touches the border
            assert len(xs) == 0 or min(xs.min(), ys.min()) == 0 or max(xs.max(), ys.max()) == 63, seed
            continue
        kept += 1
        assert len(xs) > 0, seed
        got = b[0] * 64
        assert got[0] <= xs.min() + 1.5 and got[2] >= xs.max() - 0.5, seed
        assert got[1] <= ys.min() + 1.5 and got[3] >= ys.max() - 0.5, seed
    assert kept >= 35, kept  # 39 of 40 with these seeds


# ------------------------------------------------------------------------------------------ devkit output, CLI
def test_predictions_written_as_devkit_files_round_trip(tmp_path):
    import vocbench
    from reference_models.predict import TorchRunner, predict_dataset, write_comp4

    ds = vocbench.Dataset.from_arrays(image_ids=["a", "b"], widths=[100, 80], heights=[50, 60],
                                      image_index=[0, 1], class_index=[0, 2], boxes=[[1, 1, 50, 40], [10, 10, 70, 50]],
                                      classes=("c0", "c1", "c2", "c3"))
    torch.manual_seed(0)
    model = YoloV2Tiny(4, ANCHORS, width=0.125, input_size=64).eval()
    with torch.no_grad():
        model.head.bias.view(3, 9)[:, 4] = 3.0  # make it confident, so there are detections
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    dets = predict_dataset(TorchRunner(model), ds, images, 64)
    assert len(dets) > 0
    assert (dets.boxes[:, 0] >= 1).all() and (dets.boxes[:, 2] <= ds.widths[dets.image_index]).all()
    write_comp4(dets, ds, tmp_path)
    back = vocbench.read_detections(tmp_path, ds)
    assert len(back) == len(dets)
    order_a = np.lexsort((dets.scores, dets.class_index, dets.image_index))
    order_b = np.lexsort((back.scores, back.class_index, back.image_index))
    np.testing.assert_allclose(back.boxes[order_b], dets.boxes[order_a], atol=0.006)


def test_cli_help_works_without_importing_torch():
    code = ("import sys; from vocbench.cli import build_parser; p = build_parser(); "
            "h = p.format_help(); assert all(c in h for c in ('train', 'predict', 'export', 'profile')), h; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'reference_models.cli' in sys.modules, 'no plug-in'; print('ok')")  # parsers via the plug-in
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_committed_report_and_weights():
    """The committed weights load and carry a model card; the committed report renders with every section."""
    from pathlib import Path

    import reference_models
    from tests.browser import assert_renders

    weights = reference_models.available_weights()
    assert set(weights) == {"yolov2_tiny", "ssdlite"}
    for name, folder in weights.items():
        model = reference_models.load_model(folder)
        assert model.name == name and (folder / "MODEL_CARD.md").is_file()
        assert (folder / "model.pt").stat().st_size < 8_000_000
    report = Path(__file__).resolve().parents[1] / "reports" / "reference_models.html"
    dom = assert_renders(report, ["Per-class AP", "Accuracy vs speed", "Training curves", "Example detections",
                                  "Anchors"], min_svgs=3)
    assert "yolov2_tiny" in dom and "ssdlite" in dom
    import re

    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(svg|style|script)\b.*?</\1>", " ", dom, flags=re.S))
    text = re.sub(r"`[^`]*`", " ", text)  # commands quoted for the reader may name the `essay` preset
    for stale in ("essay", "DIFFERS", "goal", "Goals of the issue"):  # wording for users, not for the project
        assert stale not in text, f"the committed model report still says {stale!r}: regenerate it"
    assert "scores within" in text  # the torch = onnx column states its tolerance
