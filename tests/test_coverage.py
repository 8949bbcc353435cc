"""Prior/anchor coverage by object size (reference_models.coverage): hand-computed cases, the strict IoU rule, the
size bins, YOLO anchors placed at cell centres, and SSD coverage equal to vocbench.anchors' exact positioned IoU;
AP by object size in the model report against hand-built cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.coverage import (  # noqa: E402
    SIZE_BINS,
    model_coverage,
    model_priors,
    prior_coverage,
    size_bin_labels,
)
from reference_models.ssd import SSDLite, feature_map_sizes  # noqa: E402
from reference_models.yolo import YoloV2Tiny  # noqa: E402
from vocbench.structures import Dataset, Detections  # noqa: E402


def test_bin_labels():
    assert size_bin_labels(SIZE_BINS) == ["<16", "16–32", "32–64", "64–128", "≥128"]
    assert size_bin_labels([0, 10, 20]) == ["<10", "10–20"]


def test_hand_computed_coverage_and_bins():
    """Input 100 px. Objects (normalised xyxy): a 10×10 box at (0.1, 0.1), a 20×20 box at (0.5, 0.5) and an
    80×40 box. Priors: a 12×12 box on the first object (IoU 100/144 = 0.694), a 30×30 box on the second's centre
    (IoU 400/900 = 0.444), and one equal to the third (IoU 1)."""
    boxes = np.array([[0.10, 0.10, 0.20, 0.20], [0.40, 0.40, 0.60, 0.60], [0.10, 0.50, 0.90, 0.90]])
    priors = np.array([[0.09, 0.09, 0.21, 0.21], [0.35, 0.35, 0.65, 0.65], [0.10, 0.50, 0.90, 0.90]])
    r = prior_coverage(boxes, priors, 100, edges=[0, 16, 32, 64, math.inf], name="hand")
    # sizes √(w·h): 10 → "<16", 20 → "16–32", √(80·40) = 56.6 → "32–64"
    assert r.objects == (1, 1, 1, 0)
    assert r.covered == (1, 0, 1, 0)
    assert r.fraction[:3] == (1.0, 0.0, 1.0) and math.isnan(r.fraction[3])
    assert r.overall == pytest.approx(2 / 3) and r.priors == 3
    # a 25×25 prior on the second object gives 400/625 = 0.64 > 0.5: covered
    priors[1] = [0.375, 0.375, 0.625, 0.625]
    assert prior_coverage(boxes, priors, 100, edges=[0, 16, 32, 64, math.inf]).covered == (1, 1, 1, 0)
    d = r.to_dict()
    assert d["edges"][-1] is None and d["covered"] == [1, 0, 1, 0] and "hand" in str(r)
    assert list(r.to_pandas()["objects"]) == [1, 1, 1, 0]


def test_threshold_is_strict_and_bin_edges_are_half_open():
    # IoU exactly 0.5: a 0.25-wide prior inside a 0.5-wide box of the same height
    boxes = np.array([[0.0, 0.0, 0.5, 0.25]])
    priors = np.array([[0.0, 0.0, 0.25, 0.25]])
    assert prior_coverage(boxes, priors, 64).covered == (0, 0, 0, 0, 0)
    assert prior_coverage(boxes, priors, 64, iou_threshold=0.49).overall == 1.0
    # √(w·h) = √(0.5·0.25)·64 = 22.6 px → bin 16–32; exactly 16 px goes to 16–32 (bins are [lo, hi))
    assert prior_coverage(boxes, priors, 64).objects == (0, 1, 0, 0, 0)
    sixteen = np.array([[0.0, 0.0, 0.25, 0.25]])  # 16 px at 64 px input
    assert prior_coverage(sixteen, priors, 64).objects == (0, 1, 0, 0, 0)
    with pytest.raises(ValueError):
        prior_coverage(boxes, priors, 64, edges=[0, 32, 16])


def test_yolo_priors_are_anchors_at_cell_centres():
    anchors = [[1.0, 2.0], [0.5, 0.5], [3.0, 1.5], [2.0, 2.0]]
    one = YoloV2Tiny(2, anchors, width=0.125, input_size=64)
    p = model_priors(one)
    assert p.shape == (2 * 2 * 4, 4)
    # cell (row 0, col 1) of the 2×2 grid, anchor 0 (1 × 2 cells of 32 px): centre (48, 16) px
    np.testing.assert_allclose(p[(0 * 2 + 1) * 4 + 0] * 64, [32, -16, 64, 48])
    two = YoloV2Tiny(2, anchors, width=0.125, input_size=64, strides=(32, 16))
    q = model_priors(two)
    assert q.shape == (2 * 2 * 2 + 4 * 4 * 2, 4)
    # the stride-16 head owns the two smallest anchors (0.5×0.5 and 1×2 stride-32 cells); its first prior is the
    # 0.5×0.5-cell (16 px) anchor at the centre (8, 8) of cell (0, 0)
    np.testing.assert_allclose(q[8] * 64, [0, 0, 16, 16])
    np.testing.assert_allclose(q[9] * 64, [-8, -24, 24, 40])


def test_ssd_coverage_equals_vocbench_positioned_iou():
    """An independent path: vocbench.anchors.positioned_best_iou (exact, without enumerating the priors) on the
    same default-box layout gives the same covered objects as reference_models.coverage's enumeration."""
    from vocbench.anchors import SSDConfig, positioned_best_iou

    model = SSDLite(3, width=0.125, input_size=128)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 0.8, (400, 2))
    wh = np.exp(rng.uniform(np.log(0.03), np.log(0.9), (400, 2)))
    boxes = np.c_[xy, np.minimum(xy + wh, 1.0)]
    cfg = SSDConfig("ssdlite", tuple(feature_map_sizes(128)), ((2, 3),) * 6, s_min=0.2, s_max=0.95, s_last=1.0,
                    reduce_first_layer=True)
    best = positioned_best_iou(boxes, cfg)
    r = prior_coverage(boxes, model_priors(model), 128)
    assert sum(r.covered) == int((best > 0.5).sum())
    assert 0 < sum(r.covered) < len(boxes)


def _tiny_dataset(boxes_px, size=(100, 100), difficult=None):
    n = len(boxes_px)
    return Dataset.from_arrays(image_ids=["a"], widths=[size[0]], heights=[size[1]], image_index=np.zeros(n, int),
                               class_index=np.zeros(n, int), boxes=np.asarray(boxes_px, float),
                               difficult=np.zeros(n, bool) if difficult is None else np.asarray(difficult),
                               classes=["thing"])


def test_finer_grids_cover_small_objects_on_a_dataset():
    """A 10×10 px object (VOC pixels 41..51 on a 100 px image, 64 px input: 6.4 px) is covered by the stride-8
    SSD map only; an 80×80 px one (51.2 px at the input) by both layouts."""
    ds = _tiny_dataset([[41, 41, 51, 51], [11, 11, 91, 91]])
    base = model_coverage(SSDLite(1, width=0.125, input_size=64), ds)
    fine = model_coverage(SSDLite(1, width=0.125, input_size=64, extra_stride8=True, stride8_scale=0.1), ds)
    assert base.objects == fine.objects == (1, 0, 1, 0, 0)
    assert base.covered == (0, 0, 1, 0, 0) and fine.covered == (1, 0, 1, 0, 0)
    assert "stride-8" in fine.name


def test_ap_by_size_hand_built():
    """Two objects of one class: a small one (10 px) found, a large one (80 px) missed, plus a large false
    positive. Small bin: AP 1 (the large FP is dropped, the large object ignored); large bin: AP 0."""
    from reference_models.report import ap_by_size

    ds = _tiny_dataset([[41, 41, 51, 51], [11, 11, 91, 91]])
    dets = Detections(image_index=np.array([0, 0]), class_index=np.array([0, 0]), scores=np.array([0.9, 0.8]),
                      boxes=np.array([[41.0, 41, 51, 51], [1.0, 1, 60, 60]]))
    rows = ap_by_size(ds, dets, 100, edges=[0, 16, 64, math.inf])
    assert [r["objects"] for r in rows] == [1, 0, 1]
    assert rows[0]["voc07"] == pytest.approx(1.0) and math.isnan(rows[1]["voc07"]) and rows[2]["voc07"] == 0.0
    # the whole-set evaluation would count the FP: AP by size differs from a plain recall split
    from vocbench import evaluate

    assert evaluate(ds, dets, metrics=("voc07",)).mAP["voc07"] < 1.0


def test_finer_grid_variant_of_each_layout():
    from reference_models.report import finer_grid_variant

    y = YoloV2Tiny(2, [[0.5, 0.5], [1.0, 2.0], [2.0, 2.0]], width=0.125, input_size=64)
    fy = finer_grid_variant(y)
    assert fy.strides == (32, 16) and torch.equal(fy.anchors, y.anchors)  # same (area-sorted) anchors
    assert finer_grid_variant(fy) is None
    s = SSDLite(2, width=0.125, input_size=64)
    fs = finer_grid_variant(s)
    assert fs.extra_stride8 and fs.num_priors > s.num_priors and finer_grid_variant(fs) is None


def test_ablation_sections_render_the_committed_results(tmp_path):
    """The model report's ablation sections, built now by reference_models.report from the committed ablation
    results (reports/*.json): every preset, layout and test mAP of the JSON is on the page."""
    import json
    from pathlib import Path

    from reference_models.report import _ablation_blocks, _grid_ablation_blocks
    from tests.browser import assert_renders
    from vocbench.report.html import ReportMeta, Section, write_report

    reports = Path(__file__).resolve().parents[1] / "reports"
    loss, grids = reports / "ablation_yolo_loss.json", reports / "ablation_grids.json"
    page = write_report(tmp_path / "ablation.html", "ablation",
                        [Section("Loss ablation", _ablation_blocks(loss)),
                         Section("Finer grids", _grid_ablation_blocks(grids))], ReportMeta(data="committed"))
    dom = assert_renders(page, ["Loss ablation", "Finer grids"], min_svgs=2)
    loss_rows, grid_rows = json.loads(loss.read_text())["rows"], json.loads(grids.read_text())["rows"]
    assert {r["preset"] for r in loss_rows} >= {"essay", "modern"}
    from reference_models.report import _PRESET_NAMES  # the page names presets for users ("essay" -> the paper's)
    for r in loss_rows:
        label = _PRESET_NAMES.get(r["preset"], r["preset"])
        assert f">{label}<" in dom and f"{r['test_voc07']:.4f}" in dom, r["preset"]
    for r in grid_rows:
        assert r["layout"] in dom and f"{r['test_voc07']:.3f}" in dom, r["layout"]
