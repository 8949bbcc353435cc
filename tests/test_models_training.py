"""Training-side pieces of the reference detectors: model selection never sees test images, the ``modern`` loss
preset (GIoU equal to vocbench's continuous IoU, cross-entropy/BCE terms that learn), the autocast policy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.losses import YOLO_LOSS_PRESETS, YoloLoss, YoloLossConfig, generalized_box_iou  # noqa: E402
from reference_models.train import autocast_dtype, check_selection_split  # noqa: E402
from vocbench.boxes import box_iou  # noqa: E402
from vocbench.errors import VocbenchError  # noqa: E402
from vocbench.io.voc import load_voc  # noqa: E402


@pytest.fixture(scope="module")
def tiny_voc(tmp_path_factory):
    from vocbench.synth import generate

    out = tmp_path_factory.mktemp("tiny_synth_train")
    generate(out, images=12, size=64, seed=3, workers=1)
    return out / "VOCdevkit"


def test_selection_refuses_the_test_split(tiny_voc):
    train = load_voc(tiny_voc, ["2007:train"], cache=False)
    test = load_voc(tiny_voc, ["2007:test"], cache=False)
    with pytest.raises(VocbenchError, match="leaks"):
        check_selection_split(train, test, "2007:test")


def test_selection_refuses_overlap_and_accepts_held_out(tiny_voc):
    trainval = load_voc(tiny_voc, ["2007:trainval"], cache=False)
    train = load_voc(tiny_voc, ["2007:train"], cache=False)
    val = load_voc(tiny_voc, ["2007:val"], cache=False)
    with pytest.raises(VocbenchError, match="also training images"):
        check_selection_split(trainval, val, "2007:val")
    check_selection_split(train, val, "2007:val")  # held out: accepted
    assert not set(train.image_ids) & set(val.image_ids)


def test_train_uses_the_validation_split_not_test(tiny_voc, tmp_path):
    """A real (tiny) run: the validation rows are scored on 2007:val and the run records that split."""
    import json

    from reference_models.train import TrainConfig, train

    cfg = TrainConfig(model="yolo", data=str(tiny_voc), out=str(tmp_path / "run"), epochs=1, batch_size=2,
                      width=0.125, input_size=64, workers=0, device="cpu", warmup_iters=1, val_images=0,
                      cache_dir=str(tmp_path / "cache"), loss="modern")
    assert cfg.sets == ["2007:train"] and cfg.val_set == "2007:val"
    out = train(cfg, log=lambda _m: None)
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["val_set"] == "2007:val" and saved["loss"] == "modern"
    ckpt = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert ckpt["meta"]["train_config"]["val_set"] == "2007:val"
    assert np.isfinite(ckpt["meta"]["history"][-1]["val_voc07"])


def test_giou_iou_part_equals_vocbench_continuous_iou():
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 1, (50, 2))
    a = np.concatenate([xy, xy + rng.uniform(0.01, 0.5, (50, 2))], 1)
    xy = rng.uniform(0, 1, (50, 2))
    b = np.concatenate([xy, xy + rng.uniform(0.01, 0.5, (50, 2))], 1)
    iou, giou = generalized_box_iou(torch.from_numpy(a), torch.from_numpy(b))
    ref = np.diag(box_iou(a, b, pixel_convention="continuous"))
    np.testing.assert_allclose(iou.numpy(), ref, rtol=0, atol=1e-12)
    assert (giou.numpy() <= iou.numpy() + 1e-15).all() and (giou.numpy() >= -1).all()


def test_giou_hand_computed():
    a = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    b = torch.tensor([2.0, 0.0, 3.0, 1.0], dtype=torch.float64)  # disjoint: IoU 0, hull 3, union 2
    iou, giou = generalized_box_iou(a, b)
    assert float(iou) == 0.0 and float(giou) == pytest.approx(-1.0 / 3.0, abs=1e-15)


def test_modern_preset_is_named_and_validated():
    cfg = YOLO_LOSS_PRESETS["modern"]
    assert (cfg.class_loss, cfg.object_loss, cfg.box_loss) == ("ce", "bce", "giou")
    assert YOLO_LOSS_PRESETS["essay"].class_loss == "sse"
    with pytest.raises(ValueError, match="class_loss"):
        YoloLossConfig(class_loss="focal")


@pytest.mark.parametrize("preset", ["essay", "modern"])
def test_both_presets_overfit_one_batch(preset):
    from reference_models.yolo import YoloV2Tiny

    torch.manual_seed(0)
    model = YoloV2Tiny(3, [[0.6, 0.8], [1.5, 1.2]], width=0.125, input_size=64)
    loss_fn = YoloLoss(model.anchors, 3, preset)
    x = torch.rand(2, 3, 64, 64)
    boxes = torch.tensor([[[0.1, 0.1, 0.5, 0.6]], [[0.4, 0.3, 0.9, 0.8]]])
    labels = torch.tensor([[0], [2]])
    mask = torch.ones(2, 1, dtype=torch.bool)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        loss, _ = loss_fn(model(x), boxes, labels, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.3 * first


def test_autocast_policy():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, amp=False) is None
    from reference_models.train import cpu_has_amx

    assert autocast_dtype(cpu, amp=True) == (torch.bfloat16 if cpu_has_amx() else None)


def test_native_cache_holds_decoded_images_and_training_crops_from_them(tiny_voc, tmp_path):
    from reference_models.data import DetectionData, ImageCache, image_path, normalised_truth, read_image

    ds = load_voc(tiny_voc, ["2007:train"], cache=False)
    native = ImageCache(ds, None, tmp_path / "cache")
    for i in range(ds.num_images):
        img = native.images[i]
        assert img.shape == (ds.heights[i], ds.widths[i], 3)
        np.testing.assert_array_equal(img, read_image(image_path(ds, i)))
    again = ImageCache(ds, None, tmp_path / "cache")  # reused, not rewritten
    assert again.path == native.path
    boxes, labels = normalised_truth(ds)
    data = DetectionData(native, boxes, labels, 48, train=True, seed=0)
    x, b, _ = data[0]
    assert tuple(x.shape) == (3, 48, 48) and ((b >= 0) & (b <= 1)).all()
    resized = ImageCache(ds, 48, tmp_path / "cache")
    assert resized.path != native.path and resized.images.shape == (ds.num_images, 48, 48, 3)


def test_ablation_trains_each_preset_on_equal_budget(tiny_voc, tmp_path):
    import json

    from reference_models.ablation import run_ablation

    table = run_ablation(str(tiny_voc), tmp_path / "abl", presets=("essay", "modern"), epochs=1, width=0.125,
                         input_size=64, batch_size=2, log=lambda _m: None)
    rows = {r["preset"]: r for r in table["rows"]}
    assert set(rows) == {"essay", "modern"}
    assert rows["essay"]["iterations"] == rows["modern"]["iterations"] > 0  # equal budget
    for r in rows.values():
        assert r["config"]["val_set"] == "2007:val" and r["config"]["sets"] == ["2007:train"]
        assert 0.0 <= r["test_voc07"] <= 1.0
    assert json.loads((tmp_path / "abl" / "ablation.json").read_text())["rows"][0]["preset"] == "essay"
