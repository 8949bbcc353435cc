"""Finer grids for the reference detectors: the opt-in YOLO stride-16 head (YOLOv3-tiny style) and the opt-in SSD
stride-8 map — model outputs, target assignment, losses, decoding, predict, ONNX parity, the CLI flag — and the
committed single-head weights still giving the outputs they gave before these options existed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.box_coder import (  # noqa: E402
    yolo_build_targets,
    yolo_flatten,
    yolo_head_masks,
)
from reference_models.data import pad_truth  # noqa: E402
from reference_models.losses import YOLO_LOSS_PRESETS, SSDLoss, YoloLoss  # noqa: E402
from reference_models.predict import build_model, load_model  # noqa: E402
from reference_models.ssd import SSDLite, default_boxes, feature_map_sizes, stride8_map_size  # noqa: E402
from reference_models.yolo import YoloV2Tiny, head_anchor_indices  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
#: Raw and decoded outputs of the committed weights on one seeded 256-px image, written by the model code of
#: commit 3f08fd1 (before the stride options existed), one torch thread:
#: ``x = default_rng(17).integers(0, 256, (1, 3, 256, 256), uint8) / 255``.
GOLDEN = ROOT / "tests" / "data" / "reference_models_golden.npz"
ANCHORS6 = np.array([[0.5, 0.6], [1.0, 0.7], [0.9, 1.6], [2.0, 2.2], [3.5, 2.5], [4.0, 5.0]])


def golden_input() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(17).integers(0, 256, (1, 3, 256, 256), dtype=np.uint8)).float() / 255


# ------------------------------------------------------------------------------- committed weights unchanged
@pytest.mark.parametrize("name", ["yolov2_tiny", "ssdlite"])
def test_committed_weights_give_the_outputs_they_gave_before(name):
    folder = ROOT / "reference_models" / "weights" / name
    ckpt = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model = load_model(folder)  # strict state_dict load: no module renamed, none added
    assert set(model.config) == set(ckpt["config"])  # the default config gains no keys
    # (anchors come back from the float16 packaged buffer, the rest exactly)
    assert {k: v for k, v in model.config.items() if k != "anchors"} == \
        {k: v for k, v in ckpt["config"].items() if k != "anchors"}
    assert set(model.state_dict()) == set(ckpt["state_dict"])
    if name == "ssdlite":  # the default boxes rebuilt from the config equal the saved buffer
        fresh = build_model(ckpt["config"])
        assert torch.equal(fresh.priors.to(ckpt["state_dict"]["priors"].dtype), ckpt["state_dict"]["priors"])
    g = np.load(GOLDEN)
    with torch.no_grad():
        raw = model(golden_input())
        boxes, scores = model.decode(raw)
    raws = raw if isinstance(raw, tuple) else (raw,)
    assert len(raws) == sum(k.startswith(f"{name}_raw") for k in g.files)
    for i, r in enumerate(raws):
        np.testing.assert_allclose(r.numpy(), g[f"{name}_raw{i}"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(boxes.numpy(), g[f"{name}_boxes"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(scores.numpy(), g[f"{name}_scores"], rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------- YOLO stride-16 head
def test_anchor_split_by_area():
    assert head_anchor_indices(5, (32,)) == [[0, 1, 2, 3, 4]]
    assert head_anchor_indices(6, (32, 16)) == [[3, 4, 5], [0, 1, 2]]
    assert head_anchor_indices(5, (32, 16)) == [[2, 3, 4], [0, 1]]
    with pytest.raises(ValueError):
        head_anchor_indices(5, (16,))
    with pytest.raises(ValueError):
        head_anchor_indices(1, (32, 16))
    # the model sorts its anchors by area before splitting
    shuffled = ANCHORS6[[4, 0, 5, 2, 1, 3]]
    m = YoloV2Tiny(3, shuffled, width=0.125, input_size=64, strides=(32, 16))
    areas = m.anchors.prod(1)
    assert torch.all(areas[1:] >= areas[:-1])
    assert float(m.anchors[m.head_anchors[1]].prod(1).max()) < float(m.anchors[m.head_anchors[0]].prod(1).min())


def test_two_head_shapes_config_and_round_trip(tmp_path):
    torch.manual_seed(0)
    m = YoloV2Tiny(4, ANCHORS6, width=0.125, input_size=96, strides=(32, 16)).eval()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        r32, r16 = m(x)
        boxes, scores = m.decode((r32, r16))
    assert r32.shape == (2, 3 * 9, 3, 3) and r16.shape == (2, 3 * 9, 6, 6)
    assert boxes.shape == (2, 3 * 3 * 3 + 6 * 6 * 3, 4) and scores.shape == (2, boxes.shape[1], 4)
    assert m.config["strides"] == [32, 16]
    torch.save({"config": m.config, "state_dict": m.state_dict()}, tmp_path / "model.pt")
    back = load_model(tmp_path)
    assert back.strides == (32, 16) and back.head_anchors == m.head_anchors
    with torch.no_grad():
        b2, s2 = back.decode(back(x))
    assert torch.equal(b2, boxes) and torch.equal(s2, scores)
    # initial predictions are background on both heads
    assert float(scores.max()) < 0.05


def test_two_head_decode_formula():
    """One detector of the stride-16 head decodes to ((col + σ(tx))·16, (row + σ(ty))·16) with size
    anchor·2·exp(tw)·16 (anchors are stored in stride-32 cells), and it comes after all stride-32 detectors."""
    m = YoloV2Tiny(2, ANCHORS6, width=0.125, input_size=64, strides=(32, 16))
    c = 2
    r32 = torch.full((1, 3 * (5 + c), 2, 2), -9.0)
    r16 = torch.full((1, 3 * (5 + c), 4, 4), -9.0)
    a, row, col = 1, 2, 3  # anchor 1 of the stride-16 head = anchor index head_anchors[1][1] overall
    tx, ty, tw, th = 0.3, -0.4, 0.2, -0.1
    ch = a * (5 + c)
    r16[0, ch:ch + 5, row, col] = torch.tensor([tx, ty, tw, th, 2.0])
    r16[0, ch + 5:ch + 7, row, col] = torch.tensor([1.0, 0.0])
    boxes, scores = m.decode((r32, r16))
    d = 2 * 2 * 3 + (row * 4 + col) * 3 + a
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    anchor = ANCHORS6[m.head_anchors[1][a]]  # ANCHORS6 is already sorted by area
    cx, cy = (col + sig(tx)) * 16, (row + sig(ty)) * 16
    w, h = anchor[0] * 2 * math.exp(tw) * 16, anchor[1] * 2 * math.exp(th) * 16
    np.testing.assert_allclose(boxes[0, d].numpy(), [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], rtol=1e-5)
    p1 = math.exp(1.0) / (math.exp(1.0) + 1)
    np.testing.assert_allclose(scores[0, d].numpy(), [sig(2.0) * p1, sig(2.0) * (1 - p1)], rtol=1e-5)
    assert int(scores[0].amax(-1).argmax()) == d


def _wh_iou(a, b):
    inter = min(a[0], b[0]) * min(a[1], b[1])
    return inter / (a[0] * a[1] + b[0] * b[1] - inter)


@pytest.mark.parametrize("seed", range(4))
def test_head_masks_match_slow_twin(seed):
    """Each object goes to exactly one head: the one owning its best anchor by shape IoU over all anchors."""
    rng = np.random.default_rng(seed)
    boxes, labels = [], []
    for _ in range(3):
        k = int(rng.integers(0, 8))
        xy = rng.uniform(0, 0.6, (k, 2))
        wh = rng.uniform(0.02, 0.4, (k, 2))
        boxes.append(np.concatenate((xy, xy + wh), 1).astype(np.float32))
        labels.append(rng.integers(0, 3, k))
    pb, pl, pm = pad_truth(boxes, labels)
    heads = head_anchor_indices(6, (32, 16))
    grid = 4
    masks = yolo_head_masks(pb, pm, torch.from_numpy(ANCHORS6 / grid).float(), heads)
    for i in range(pb.shape[0]):
        for j in range(pb.shape[1]):
            if not pm[i, j]:
                assert not masks[0][i, j] and not masks[1][i, j]
                continue
            b = pb[i, j].numpy()
            wh = (b[2] - b[0], b[3] - b[1])
            best = max(range(6), key=lambda k: (_wh_iou(wh, ANCHORS6[k] / grid), -k))
            want = 0 if best in heads[0] else 1
            assert bool(masks[want][i, j]) and not bool(masks[1 - want][i, j])


def _perfect_raw(t, grid, b, c):
    n, d = t.obj.shape
    p = torch.zeros(n, d, 5 + c)
    q = t.txy.clamp(1e-6, 1 - 1e-6)
    p[..., 0:2] = torch.log(q / (1 - q))
    p[..., 2:4] = t.twh
    p[..., 4] = torch.where(t.obj, torch.tensor(30.0), torch.tensor(-30.0))
    p[..., 5:] = torch.nn.functional.one_hot(t.cls, c).float() * 40 - 20
    return p.view(n, grid, grid, b, 5 + c).permute(0, 3, 4, 1, 2).reshape(n, b * (5 + c), grid, grid)


@pytest.mark.parametrize("preset", sorted(YOLO_LOSS_PRESETS))
def test_two_head_loss_zero_on_perfect_prediction_and_sums_the_heads(preset):
    boxes = [np.array([[0.10, 0.10, 0.20, 0.22], [0.3, 0.2, 0.95, 0.9]], np.float32),
             np.array([[0.55, 0.6, 0.62, 0.7]], np.float32)]
    labels = [np.array([1, 2]), np.array([0])]
    pb, pl, pm = pad_truth(boxes, labels)
    c, s32 = 3, 4
    anchors = torch.from_numpy(ANCHORS6).float()
    heads = head_anchor_indices(6, (32, 16))
    masks = yolo_head_masks(pb, pm, anchors / s32, heads)
    assert int(masks[0].sum()) == 1 and int(masks[1].sum()) == 2  # the big box on stride 32, the small ones on 16
    raws = []
    for h, (idx, grid) in enumerate(zip(heads, (s32, 2 * s32))):
        t = yolo_build_targets(pb, pl, masks[h], anchors[idx] * (grid / s32), grid)
        raws.append(_perfect_raw(t, grid, len(idx), c))
    loss_fn = YoloLoss(anchors, c, preset, head_anchors=heads)
    loss, parts = loss_fn(tuple(raws), pb, pl, pm)
    assert float(loss) < (1e-4 if YOLO_LOSS_PRESETS[preset].box_loss == "giou" else 1e-6), parts
    # wrong classes on the stride-16 head only: the loss rises by what that head's own loss says
    bad16 = raws[1].clone().view(2, 3, 5 + c, 8, 8)
    bad16[:, :, 5:] = -bad16[:, :, 5:]
    bad16 = bad16.view_as(raws[1])
    total, _ = loss_fn((raws[0], bad16), pb, pl, pm)
    head_only = YoloLoss(anchors[heads[1]] * 2, c, preset)._head_terms(bad16, pb, pl, masks[1], pm,
                                                                        anchors[heads[1]] * 2)
    assert float(total) > 0.5
    assert math.isclose(float(total), float(sum(head_only)) / 2 + float(loss), rel_tol=1e-5, abs_tol=2e-4)
    with pytest.raises(ValueError, match="head outputs"):
        loss_fn(raws[0], pb, pl, pm)


def test_two_head_model_overfits_one_batch():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    boxes = [np.array([[0.1, 0.15, 0.2, 0.25], [0.55, 0.5, 0.95, 0.9]], np.float32),
             np.array([[0.3, 0.2, 0.8, 0.7]], np.float32)]
    labels = [np.array([1, 3]), np.array([2])]
    pb, pl, pm = pad_truth(boxes, labels)
    x = torch.from_numpy(rng.uniform(0, 1, (2, 3, 64, 64)).astype(np.float32))
    model = YoloV2Tiny(4, ANCHORS6, width=0.25, input_size=64, strides=(32, 16))
    loss_fn = YoloLoss(model.anchors, 4, "modern", head_anchors=model.head_anchors)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        loss, _ = loss_fn(model(x), pb, pl, pm)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.2 * first, (first, float(loss.detach()))


# ------------------------------------------------------------------------------- SSD stride-8 map
def test_stride8_default_boxes():
    from vocbench.anchors import ssd_default_boxes

    base = default_boxes(256)
    fine = default_boxes(256, stride8_scale=0.06)
    f8 = stride8_map_size(256)
    assert f8 == 32 and stride8_map_size(300) == 38 and feature_map_sizes(300)[0] == 19
    assert len(fine) == len(base) + f8 * f8 * 4
    np.testing.assert_array_equal(fine[len(fine) - len(base):], base)  # the six maps follow, unchanged
    first = fine[:4]  # cell (0, 0): centre (0.5/32, 0.5/32); sides 0.06, √(0.06·0.1), 0.06·√2 × 0.06/√2, ...
    np.testing.assert_allclose(first[:, :2], 0.5 / 32)
    r = math.sqrt(2)
    np.testing.assert_allclose(first[:, 2:], [[0.06, 0.06], [math.sqrt(0.006)] * 2, [0.06 * r, 0.06 / r],
                                              [0.06 / r, 0.06 * r]], rtol=1e-12)
    np.testing.assert_array_equal(fine[:f8 * f8 * 4], ssd_default_boxes([32], s_min=0.06, s_max=0.1,
                                                                       aspect_ratios=(2,)))
    assert np.sqrt(fine[:, 2] * fine[:, 3]).min() < np.sqrt(base[:, 2] * base[:, 3]).min()


def test_stride8_model_outputs_config_and_round_trip(tmp_path):
    torch.manual_seed(0)
    m = SSDLite(3, width=0.125, input_size=96, extra_stride8=True).eval()
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        loc, logits = m(x)
        boxes, scores = m.decode((loc, logits))
    assert loc.shape == (2, m.num_priors, 4) and logits.shape == (2, m.num_priors, 4)
    assert m.num_priors == len(default_boxes(96)) + stride8_map_size(96) ** 2 * 4
    assert float(scores.max()) < 0.05  # starts as background on the new map too
    assert m.config["extra_stride8"] is True and "extra_stride8" not in SSDLite(3, width=0.125, input_size=96).config
    torch.save({"config": m.config, "state_dict": m.state_dict()}, tmp_path / "model.pt")
    back = load_model(tmp_path)
    assert back.extra_stride8 and torch.equal(back.priors, m.priors)
    with torch.no_grad():
        assert torch.equal(back.decode(back(x))[1], scores)


def test_stride8_gives_small_objects_a_positive_and_the_loss_learns():
    """A 12-px object at 256 px has no default box with IoU > 0.5 in the six maps, and one on the stride-8 map."""
    from reference_models.box_coder import ssd_encode, ssd_match

    small = torch.tensor([[[0.400, 0.400, 0.447, 0.447]]])
    lab, m = torch.tensor([[2]]), torch.ones(1, 1, dtype=torch.bool)
    base = torch.from_numpy(default_boxes(256)).float()
    fine = torch.from_numpy(default_boxes(256, stride8_scale=0.06)).float()
    n8 = len(fine) - len(base)
    tl_base, _ = ssd_match(small, lab, m, base)
    tl_fine, tb = ssd_match(small, lab, m, fine)
    assert int((tl_base > 0).sum()) == 1  # only the forced best prior
    assert int((tl_fine[0, :n8] > 0).sum()) >= 2 and int((tl_fine[0, n8:] > 0).sum()) == 0
    loc = ssd_encode(tb, fine)
    logits = torch.nn.functional.one_hot(tl_fine, 4).float() * 60 - 30
    assert float(SSDLoss(fine)((loc, logits), small, lab, m)[0]) < 1e-6


# ------------------------------------------------------------------------------- ONNX, CLI
@pytest.mark.parametrize("which", ["yolo2", "ssd8"])
def test_onnx_parity_finer_grids(tmp_path, which):
    pytest.importorskip("onnxruntime")
    from reference_models.export import export_onnx, onnx_session, output_names, parity_check
    from reference_models.predict import PostprocessConfig

    torch.manual_seed(0)
    model = (YoloV2Tiny(4, ANCHORS6, width=0.125, input_size=96, strides=(32, 16)) if which == "yolo2"
             else SSDLite(4, width=0.125, input_size=96, extra_stride8=True))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 96, 96) * 3 - 1)
    model.eval()
    path = export_onnx(model, tmp_path / "m.onnx")
    session = onnx_session(path)
    names = [o.name for o in session.get_outputs()]
    assert names == output_names(model)
    if which == "yolo2":
        assert names == ["raw_s32", "raw_s16", "boxes", "scores"]
        outs = session.run(None, {"images": np.zeros((1, 3, 96, 96), np.float32)})
        assert outs[0].shape == (1, 27, 3, 3) and outs[1].shape == (1, 27, 6, 6)
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 96, 96), dtype=np.uint8)
    res = parity_check(model, session, images, PostprocessConfig(score_threshold=0.001))
    assert res.max_abs_raw < 1e-4, res
    assert res.identical and res.detections > 0, res


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    from vocbench.synth import generate

    out = tmp_path_factory.mktemp("tiny_synth_heads")
    generate(out, images=12, size=96, seed=5, workers=1)
    return out / "VOCdevkit"


def test_cli_trains_and_predicts_with_finer_grids(tiny_voc, tmp_path, capsys):
    from vocbench.cli import main

    common = ["--data", str(tiny_voc), "--set", "2007:train", "--val-set", "2007:val", "--val-images", "4",
              "--width", "0.125", "--input-size", "64", "--batch-size", "4", "--workers", "0", "--device", "cpu",
              "--warmup-iters", "1", "--epochs", "1", "--cache-dir", str(tmp_path / "cache")]
    assert main(["train", "yolo", *common, "--strides", "32,16", "--anchors", "6", "--loss", "modern",
                 "--out", str(tmp_path / "yolo")]) == 0
    assert main(["train", "ssd", *common, "--stride8", "--out", str(tmp_path / "ssd")]) == 0
    assert json.loads((tmp_path / "yolo" / "train_config.json").read_text())["strides"] == [32, 16]
    assert json.loads((tmp_path / "ssd" / "train_config.json").read_text())["extra_stride8"] is True
    y = load_model(tmp_path / "yolo")
    s = load_model(tmp_path / "ssd")
    assert y.strides == (32, 16) and len(y.head_anchors[0]) == 3 and s.extra_stride8
    capsys.readouterr()
    for run in ("yolo", "ssd"):
        assert main(["predict", str(tmp_path / run), "--data", str(tiny_voc), "--set", "2007:test",
                     "--out", str(tmp_path / f"dets_{run}"), "--json", "-"]) == 0
        assert json.loads(capsys.readouterr().out)["images"] > 0
    # wrong-model flags and unsupported strides are usage/input errors, not tracebacks
    assert main(["train", "ssd", *common, "--strides", "32,16", "--out", str(tmp_path / "x")]) == 1
    assert main(["train", "yolo", *common, "--strides", "16", "--out", str(tmp_path / "x")]) == 2
    capsys.readouterr()


def test_yolo_flatten_order_per_head():
    """The stride-16 head's detectors are flattened in the same (row, col, anchor) order as the stride-32 ones."""
    raw = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(1, 2 * 3, 4, 4)
    p = yolo_flatten(raw, 2)
    assert p.shape == (1, 4 * 4 * 2, 3)
    assert float(p[0, (1 * 4 + 2) * 2 + 1, 0]) == float(raw[0, 3, 1, 2])


def test_gpu_run_passes_the_grid_options_through(tmp_path):
    """gpu_run.sh hands VB_YOLO_STRIDES / VB_YOLO_ANCHORS / VB_SSD_STRIDE8 to `vocbench train` (a stub vocbench
    records its arguments and stops the script at the first predict; the real run is tests/test_gpu_run.py)."""
    import os
    import subprocess

    stub = tmp_path / "bin" / "vocbench"
    stub.parent.mkdir()
    stub.write_text('#!/usr/bin/env bash\necho "$*" >> "$STUB_LOG"\n[ "$1" = predict ] && exit 3\nexit 0\n')
    stub.chmod(0o755)
    log = tmp_path / "args.log"
    env = {**os.environ, "OUT": str(tmp_path / "out"), "VB_WORK": str(tmp_path / "work"), "STUB_LOG": str(log),
           "PATH": f"{stub.parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def trains(extra: dict) -> dict[str, str]:
        log.write_text("")
        proc = subprocess.run(["bash", str(ROOT / "reference_models" / "gpu_run.sh")], env={**env, **extra},
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 3, proc.stdout + proc.stderr  # stopped by the stub at the first predict
        lines = log.read_text().splitlines()
        return {m: next(ln for ln in lines if ln.startswith(f"train {m} ")) for m in ("yolo", "ssd")}

    default = trains({})
    assert "--strides 32 " in default["yolo"] and "--anchors 5 " in default["yolo"]
    assert "--stride8" not in default["ssd"] and "--strides" not in default["ssd"]
    finer = trains({"VB_YOLO_STRIDES": "32,16", "VB_YOLO_ANCHORS": "6", "VB_SSD_STRIDE8": "1"})
    assert "--strides 32,16 " in finer["yolo"] and "--anchors 6 " in finer["yolo"]
    assert "--stride8 " in finer["ssd"] and "--stride8" not in finer["yolo"]


def test_model_report_with_finer_grid_models(tiny_voc, tmp_path):
    """The model report runs on the finer-grid layouts (predict, ONNX parity, AP and coverage by size) and renders."""
    pytest.importorskip("onnxruntime")
    import reference_models
    from tests.browser import assert_renders

    torch.manual_seed(0)
    runs = {}
    classes = load_voc_classes(tiny_voc)
    for name, model in (("yolo2", YoloV2Tiny(len(classes), ANCHORS6, width=0.125, input_size=64, classes=classes,
                                             strides=(32, 16))),
                        ("ssd8", SSDLite(len(classes), width=0.125, input_size=64, classes=classes,
                                         extra_stride8=True))):
        (tmp_path / name).mkdir()
        torch.save({"config": model.config, "state_dict": model.state_dict(), "meta": {}}, tmp_path / name / "model.pt")
        runs[name] = tmp_path / name
    path, evals = reference_models.build_report(runs, tiny_voc, tmp_path / "report.html", onnx_dir=tmp_path / "onnx",
                                                profile=False)
    assert [e["name"] for e in evals] == ["yolo2", "ssd8"]
    for e in evals:
        assert len(e["coverage"]) == 1  # already the finer layout: no second row
        assert e["onnx_identical"], e.get("onnx_unmatched")
        assert sum(r["objects"] for r in e["ap_by_size"]) == sum(e["coverage"][0].objects)
    dom = assert_renders(path, ["AP by object size", "Prior coverage by object size"], min_svgs=3)
    assert "stride 16: 3 anchors" in dom and "stride-8 map" in dom


def load_voc_classes(root):
    from vocbench.io.voc import load_voc

    return list(load_voc(root, ["2007:test"]).classes)


@pytest.mark.slow
def test_gpu_run_script_with_finer_grids_tiny_on_cpu(tmp_path):
    """gpu_run.sh end to end (tiny, CPU) with VB_YOLO_STRIDES=32,16 and VB_SSD_STRIDE8=1: the packaged weights are
    the finer layouts, scored on both backends and profiled."""
    pytest.importorskip("onnxruntime")
    import os
    import shutil
    import subprocess
    import sys

    vocbench = shutil.which("vocbench") or str(Path(sys.executable).with_name("vocbench"))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "VB_WORK": str(tmp_path / "work"), "VB_IMAGES": "24",
           "VB_TEST_IMAGES": "6", "VB_YOLO_SIZE": "64", "VB_SSD_SIZE": "64", "VB_WIDTH": "0.125",
           "VB_EPOCHS": "1", "VB_BATCH": "4", "VB_TRAIN_MINUTES": "0", "VB_DEVICE": "cpu", "VB_WORKERS": "0",
           "VB_PROFILE_REPEATS": "1", "VB_SYNTH_SIZE": "96", "OMP_NUM_THREADS": "1", "VB_YOLO_STRIDES": "32,16",
           "VB_YOLO_ANCHORS": "6", "VB_SSD_STRIDE8": "1",
           "PATH": f"{Path(vocbench).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", str(ROOT / "reference_models" / "gpu_run.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "out"
    yolo = load_model(out / "weights" / "yolov2_tiny")
    ssd = load_model(out / "weights" / "ssdlite")
    assert yolo.strides == (32, 16) and [len(h) for h in yolo.head_anchors] == [3, 3] and ssd.extra_stride8
    for short in ("yolo", "ssd"):
        for backend in ("torch", "onnx"):
            r = json.loads((out / "logs" / f"eval_{short}_unseen_{backend}.json").read_text())
            assert r["num_images"] > 0 and "voc07" in r
            assert (out / "logs" / f"profile_{short}_{backend}.json").is_file()


def test_resume_with_another_grid_layout_is_one_line_error(tiny_voc, tmp_path, capsys):
    from vocbench.cli import main

    args = ["train", "yolo", "--data", str(tiny_voc), "--val-images", "2", "--width", "0.125", "--input-size", "64",
            "--batch-size", "4", "--workers", "0", "--device", "cpu", "--warmup-iters", "1", "--epochs", "1",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--epochs", "2", "--strides", "32,16"]) == 1
    err = capsys.readouterr().err
    assert "strides [32]" in err and "--no-resume" in err and "Traceback" not in err
