"""Anchor analysis: IoU k-means against its slow twin, prior layouts, BPR, and the VOC reference anchors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests._reference.anchors import (
    lloyd_slow,
    positioned_best_iou_slow,
    ratio_metric_slow,
    ssd_boxes_slow,
    wh_iou_slow,
)
from vocbench.anchors import (
    MOBILENET_SSD,
    SSD300,
    IoUKMeans,
    _kernels,
    analyze_anchors,
    best_possible_recall,
    darknet_anchors_line,
    iou_kmeans_curve,
    mean_iou,
    parse_k_range,
    positioned_best_iou,
    ratio_metric,
    ssd_default_boxes,
    wh_iou,
    yolo_voc_anchors,
)
from vocbench.errors import InputError


def _random_wh(seed, n):
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(-1.5, 0.7, size=(n, 2)))


# ---------------------------------------------------------------- IoU of aligned (w, h)
@pytest.mark.parametrize("seed", range(4))
def test_wh_iou_matches_slow_twin(seed):
    a, b = _random_wh(seed, 40), _random_wh(seed + 100, 7)
    b[0] = a[3]  # identical shape → IoU 1
    got = wh_iou(a, b)
    np.testing.assert_allclose(got, wh_iou_slow(a, b), rtol=1e-14, atol=0)
    assert got[3, 0] == 1.0


def test_wh_iou_known_values_and_symmetry():
    assert wh_iou([[2.0, 1.0]], [[1.0, 2.0]])[0, 0] == pytest.approx(1 / 3)
    assert wh_iou([[4.0, 4.0]], [[2.0, 2.0]])[0, 0] == pytest.approx(0.25)
    a, b = _random_wh(1, 10), _random_wh(2, 10)
    np.testing.assert_array_equal(wh_iou(a, b), wh_iou(b, a).T)


def test_wh_input_validation():
    with pytest.raises(InputError, match="shape"):
        wh_iou(np.zeros((3, 3)), np.ones((1, 2)))
    with pytest.raises(InputError, match=r"wh\[1\] must be finite and > 0"):
        mean_iou([[1.0, 1.0], [0.0, 1.0]], [[1.0, 1.0]])
    with pytest.raises(InputError, match="n_clusters"):
        IoUKMeans(5).fit(_random_wh(0, 3))


# ---------------------------------------------------------------- k-means vs the plain Lloyd twin
@pytest.mark.parametrize("seed,k", [(0, 1), (1, 3), (2, 5), (3, 8)])
@pytest.mark.parametrize("median", [False, True])
def test_lloyd_kernel_matches_slow_twin(seed, k, median):
    wh = _random_wh(seed, 400)
    init = wh[np.random.default_rng(seed).choice(len(wh), k, replace=False)].copy()
    c, labels, iou, mean, n_iter, converged = _kernels.lloyd_iou_kmeans(wh, init, 300, median)
    c2, labels2, iou2, mean2, converged2 = lloyd_slow(wh, init, 300, median)
    assert converged and converged2
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_allclose(c, c2, rtol=1e-12)
    np.testing.assert_allclose(iou, iou2, rtol=1e-12)
    assert mean == pytest.approx(mean2, rel=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_batched_scan_is_the_scalar_scan(k):
    """The vectorised batch scan (boxes innermost) picks what the one-box scan picks, ties included."""
    rng = np.random.default_rng(k)
    wh = _random_wh(20 + k, 700)
    centers = wh[rng.choice(len(wh), k, replace=False)].copy()
    wh[::5] = centers[rng.integers(0, k, len(wh[::5]))]  # boxes equal to a centre: IoU exactly 1
    if k > 1:
        centers[-1] = centers[0]  # a duplicate centre: exact ties go to the lower index
    idx = rng.permutation(len(wh))[:300]
    buf = [np.empty(_kernels._SCAN_BATCH) for _ in range(5)]
    bb = np.empty(_kernels._SCAN_BATCH, np.int64)
    for m in (300 - _kernels._SCAN_BATCH, _kernels._SCAN_BATCH):  # a partial and a full batch
        _kernels._scan_batch(wh, idx[:m], m, centers, *buf, bb)
        for t in range(m):
            b, d1, d2 = _kernels._scan(wh[idx[t], 0], wh[idx[t], 1], centers)
            assert (bb[t], 1.0 - buf[3][t], 1.0 - buf[4][t]) == (b, d1, d2)
    labels = np.empty(len(wh), np.int64)
    best = np.empty(len(wh))
    total = _kernels.assign_clusters(wh, centers, labels, best)
    full = wh_iou_slow(wh, centers)
    np.testing.assert_array_equal(labels, np.argmax(_kernels.wh_iou_matrix(wh, centers), axis=1))
    np.testing.assert_allclose(best, full.max(axis=1), rtol=1e-14)
    acc = 0.0
    for v in best.tolist():  # summed in box order (not sum(): Python >= 3.12 compensates float sums)
        acc += v
    assert total == acc


@pytest.mark.parametrize("seed,k", [(10, 4), (11, 7)])
def test_locality_sorted_run_matches_twin_on_original_order(seed, k):
    from vocbench.anchors.kmeans import _Prepared

    wh = _random_wh(seed, 600)
    wh[::7] = wh[3]  # duplicates: ties in the sums' order and in re-seeding
    init = wh[np.random.default_rng(seed).choice(len(wh), k, replace=False)].copy()
    init[1] = init[0]  # a duplicate centre → an empty cluster → re-seeding
    prep = _Prepared(wh)
    assert not np.array_equal(prep.order, np.arange(len(wh)))
    c, labels, iou, mean, _, converged = prep.run(init, 300, False)
    c2, labels2, iou2, mean2, converged2 = lloyd_slow(wh, init, 300, False)
    assert converged and converged2
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_array_equal(c, c2)
    np.testing.assert_array_equal(iou, iou2)


def test_empty_cluster_is_reseeded_like_the_twin():
    wh = _random_wh(5, 200)
    init = np.array([[0.2, 0.2], [0.2, 0.2], [50.0, 50.0]])  # duplicate + far-away centre → empty clusters
    c, labels, _, mean, _, converged = _kernels.lloyd_iou_kmeans(wh, init, 300, False)
    c2, labels2, _, mean2, _ = lloyd_slow(wh, init, 300, False)
    np.testing.assert_array_equal(labels, labels2)
    np.testing.assert_allclose(c, c2, rtol=1e-12)
    assert converged and len(np.unique(labels)) == 3


def test_max_iter_zero_is_the_initial_assignment():
    wh = _random_wh(6, 100)
    init = wh[:4].copy()
    c, labels, iou, mean, n_iter, converged = _kernels.lloyd_iou_kmeans(wh, init, 0, False)
    np.testing.assert_array_equal(c, init)
    assert n_iter == 0 and not converged
    assert mean == pytest.approx(wh_iou_slow(wh, init).max(axis=1).mean(), rel=1e-12)


def test_kmeans_finds_separable_clusters():
    rng = np.random.default_rng(0)
    truth = np.array([[0.05, 0.1], [0.3, 0.15], [0.2, 0.6], [0.8, 0.8]])
    wh = np.concatenate([t * np.exp(rng.normal(0, 0.03, size=(300, 2))) for t in truth])
    km = IoUKMeans(4, n_init=5, random_state=0).fit(wh)
    order = np.argsort(truth[:, 0] * truth[:, 1])
    np.testing.assert_allclose(km.cluster_centers_, truth[order], rtol=0.02)
    assert km.mean_iou_ > 0.9
    # every generated cluster maps onto one label
    for g in range(4):
        assert len(np.unique(km.labels_[g * 300:(g + 1) * 300])) == 1
    assert km.predict(truth[order]).tolist() == [0, 1, 2, 3]
    assert km.score(wh) == pytest.approx(km.mean_iou_)


def test_fixed_seed_gives_identical_anchors():
    wh = _random_wh(7, 2000)
    a = IoUKMeans(6, n_init=3, random_state=42).fit(wh)
    b = IoUKMeans(6, n_init=3, random_state=42).fit(wh)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    c1 = [e.cluster_centers_ for e in iou_kmeans_curve(wh, range(1, 6), n_init=2, random_state=3)]
    c2 = [e.cluster_centers_ for e in iou_kmeans_curve(wh, range(1, 6), n_init=2, random_state=3)]
    for x, y in zip(c1, c2):
        np.testing.assert_array_equal(x, y)


def test_fitted_attributes_are_consistent():
    wh = _random_wh(8, 500)
    km = IoUKMeans(5, n_init=2, random_state=1, init="k-means++").fit(wh)
    areas = km.cluster_centers_.prod(axis=1)
    assert np.all(np.diff(areas) >= 0), "centres sorted by area"
    full = wh_iou_slow(wh, km.cluster_centers_)
    np.testing.assert_array_equal(km.labels_, np.argmax(full, axis=1))
    assert km.mean_iou_ == pytest.approx(full.max(axis=1).mean(), rel=1e-12)
    assert km.inertia_ == pytest.approx(np.sum(1 - full.max(axis=1)), rel=1e-10)
    # a fixed point: each centre is the mean of its members
    for j in range(5):
        np.testing.assert_allclose(km.cluster_centers_[j], wh[km.labels_ == j].mean(axis=0), rtol=1e-12)


def test_curve_is_monotone_and_beats_euclidean():
    wh = _random_wh(9, 1500)
    res = analyze_anchors(wh, k=4, curve=range(1, 9), n_init=3, priors=(), sse_baseline=True)
    means = [p.mean_iou for p in res.curve]
    assert all(b >= a for a, b in zip(means, means[1:]))
    for p in res.curve[1:]:
        assert p.mean_iou > p.sse_mean_iou
    assert res.curve[0].mean_iou == pytest.approx(res.curve[0].sse_mean_iou, abs=0.02)  # k=1: both ≈ the mean
    assert res.mean_iou == res.curve[3].mean_iou
    np.testing.assert_array_equal(res.anchors_norm, res.curve[3].anchors_norm)
    np.testing.assert_allclose(res.anchors_grid, res.anchors_norm * 13)


# ---------------------------------------------------------------- priors
def test_ssd_prior_counts():
    assert len(SSD300.boxes()) == 8732
    assert len(MOBILENET_SSD.boxes()) == 1917


@pytest.mark.parametrize("cfg", [SSD300, MOBILENET_SSD], ids=lambda c: c.name)
def test_ssd_boxes_match_paper_formula(cfg):
    got = cfg.boxes()
    want = ssd_boxes_slow(cfg.feature_sizes, cfg.s_min, cfg.s_max, cfg.aspect_ratios, cfg.s_last,
                          cfg.reduce_first_layer)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_ssd300_first_cell_and_scales():
    b = ssd_default_boxes((38, 19, 10, 5, 3, 1), aspect_ratios=((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)))
    np.testing.assert_allclose(b[0], [0.5 / 38, 0.5 / 38, 0.2, 0.2])
    np.testing.assert_allclose(b[1, 2:], [np.sqrt(0.2 * 0.34)] * 2)
    np.testing.assert_allclose(b[2, 2:], [0.2 * np.sqrt(2), 0.2 / np.sqrt(2)])
    np.testing.assert_allclose(b[-3], [0.5, 0.5, np.sqrt(0.9 * 1.04), np.sqrt(0.9 * 1.04)])
    np.testing.assert_allclose(b[-1], [0.5, 0.5, 0.9 / np.sqrt(2), 0.9 * np.sqrt(2)])
    px = ssd_default_boxes((2,), image_size=300, aspect_ratios=(2,))
    assert len(px) == 16
    np.testing.assert_allclose(px[0], [75, 75, 0.2 * 300, 0.2 * 300])
    clipped = ssd_default_boxes((38, 19), aspect_ratios=(2, 3), clip=True)
    assert clipped[:, :2].min() >= 0 and (clipped[:, :2] + clipped[:, 2:] / 2).max() <= 1 + 1e-12


def test_positioned_best_iou_matches_brute_force():
    rng = np.random.default_rng(3)
    c = rng.uniform(0, 1, size=(150, 2))
    s = np.exp(rng.normal(-1.3, 0.8, size=(150, 2)))
    boxes = np.clip(np.concatenate([c - s / 2, c + s / 2], axis=1), 0, 1)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    # a box equal to a default box gets IoU 1
    p = SSD300.boxes()[1234]
    boxes = np.vstack([boxes, [p[0] - p[2] / 2, p[1] - p[3] / 2, p[0] + p[2] / 2, p[1] + p[3] / 2]])
    for cfg in (SSD300, MOBILENET_SSD):
        np.testing.assert_allclose(positioned_best_iou(boxes, cfg), positioned_best_iou_slow(boxes, cfg.boxes()),
                                   rtol=1e-12, atol=1e-15)
    assert positioned_best_iou(boxes[-1:], SSD300)[0] == pytest.approx(1.0)


def test_bpr_and_ratio_metric():
    wh = _random_wh(11, 300)
    priors = yolo_voc_anchors()
    np.testing.assert_allclose(ratio_metric(wh, priors), ratio_metric_slow(wh, priors), rtol=1e-14)
    # hand-made: prior (1,1); box 0.3 wide → ratio 0.3 > 0.25 (recalled); box 0.2 → not; box 5 → 0.2, not
    assert best_possible_recall([[0.3, 1.0], [0.2, 1.0], [1.0, 5.0], [1.0, 1.0]], [[1.0, 1.0]]) == 0.5
    assert best_possible_recall([[0.2, 1.0]], [[1.0, 1.0]], threshold=6) == 1.0
    np.testing.assert_allclose(yolo_voc_anchors(13)[0], [1.3221, 1.73145])


def test_helpers():
    assert parse_k_range("1-4,9") == [1, 2, 3, 4, 9]
    with pytest.raises(InputError):
        parse_k_range("a-b")
    assert darknet_anchors_line([[1.191, 1.99], [2.7, 4.6]]) == "anchors = 1.19,1.99,  2.70,4.60"


def test_cli_on_small_dataset(tmp_path, capsys):
    from pathlib import Path

    from vocbench.cli import main

    root = Path(__file__).parent / "data" / "voc_small"
    html = tmp_path / "anchors.html"
    rc = main(["anchors", str(root), "--set", "2007:trainval", "-k", "2", "--n-init", "2", "--json", "-",
               "--html", str(html)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert set(res) >= {"k", "anchors_norm", "anchors_grid", "mean_iou", "curve", "priors", "darknet"}
    assert res["k"] == 2 and len(res["anchors_grid"]) == 2
    np.testing.assert_allclose(res["anchors_grid"], np.array(res["anchors_norm"]) * 13)
    assert [c["k"] for c in res["curve"]] == list(range(1, res["n_boxes"] + 1))  # curve stops at N boxes
    assert set(res["priors"]) == {"kmeans", "yolo-voc", "ssd300", "mobilenet-ssd"}
    assert html.is_file() and html.read_text().count("<svg") == 3
    assert main(["anchors", str(root), "--set", "2007:trainval", "-k", "99"]) == 1
    assert "need at least k=99 boxes" in capsys.readouterr().err


# ---------------------------------------------------------------- real VOC07+12 (the essay's anchors)
@pytest.mark.slow
def test_voc0712_reproduces_essay_anchors(voc_root, tmp_path, capsys):
    from vocbench.cli import main

    out = tmp_path / "a.json"
    rc = main(["anchors", str(voc_root), "--set", "2007:trainval", "--set", "2012:trainval", "-k", "5",
               "--curve", "1-15", "--sse", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    essay = [(1.19, 1.99), (2.79, 4.60), (4.54, 8.93), (8.06, 5.29), (10.33, 10.65)]
    np.testing.assert_allclose(res["anchors_grid"], essay, atol=0.05)
    assert res["mean_iou"] == pytest.approx(0.616, abs=0.002)
    assert res["n_boxes"] == 40058
    curve = {c["k"]: c for c in res["curve"]}
    assert curve[9]["mean_iou"] >= 0.68
    ks = sorted(curve)
    assert ks == list(range(1, 16))
    assert all(curve[b]["mean_iou"] >= curve[a]["mean_iou"] for a, b in zip(ks, ks[1:]))
    assert all(curve[k]["mean_iou"] > curve[k]["sse_mean_iou"] for k in ks if k >= 2)
    assert curve[5]["mean_iou"] == res["mean_iou"]
    assert set(res["priors"]) >= {"yolo-voc", "ssd300", "mobilenet-ssd"}
    assert res["priors"]["ssd300"]["n_priors"] == 8732 and res["priors"]["mobilenet-ssd"]["n_priors"] == 1917
    assert 0.55 < res["priors"]["yolo-voc"]["mean_iou"] < res["mean_iou"] + 0.02
    assert 0 < res["priors"]["ssd300"]["positioned_match"] <= 1
    assert res["darknet"].startswith("anchors = 1.19,1.99,")
    printed = capsys.readouterr().out
    assert "anchors = 1.19,1.99" in printed


# ---------------------------------------------------------------- bounds of the counts (vocbench.limits)
@pytest.mark.parametrize("kwargs", [{"n_init": 10 ** 9}, {"max_iter": 10 ** 9}, {"n_clusters": 10 ** 9},
                                    {"n_init": 0}, {"max_iter": -1}, {"n_init": 2.5}, {"n_clusters": True},
                                    {"n_init": np.int64(1001)}, {"max_iter": float("inf")}])
def test_iou_kmeans_counts_are_bounded_like_the_cli(kwargs):
    from vocbench.limits import ANCHOR_LIMITS

    (name, value), = kwargs.items()
    est = IoUKMeans(**kwargs) if name != "n_clusters" else IoUKMeans(value)
    with pytest.raises(ValueError, match=name) as exc:  # InputError is a ValueError
        est.fit(_random_wh(0, 50))
    low, high = ANCHOR_LIMITS[name]
    assert f"{low}..{high}" in str(exc.value) and "\n" not in str(exc.value)


def test_the_bounds_are_the_cli_options_bounds():
    """One definition: the anchors command's options are built from vocbench.limits."""
    import argparse

    from vocbench.cli import build_parser
    from vocbench.limits import ANCHOR_LIMITS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    opts = {a.dest: a.type for a in sub.choices["anchors"]._actions}
    for dest, key in (("k", "n_clusters"), ("n_init", "n_init"), ("max_iter", "max_iter"),
                      ("input_size", "input_size"), ("stride", "stride")):
        assert opts[dest].bounds == ANCHOR_LIMITS[key], dest


def test_curve_functions_refuse_huge_or_endless_ks_without_building_them():
    import itertools

    wh = _random_wh(0, 40)
    for ks in (range(1, 10 ** 12), [3, 10 ** 9], itertools.count(1)):
        with pytest.raises(InputError, match="ks entry must be in 1..1000"):
            iou_kmeans_curve(wh, ks)
    with pytest.raises(InputError, match="more than 100,000 entries"):
        iou_kmeans_curve(wh, itertools.repeat(2))
    with pytest.raises(InputError, match="n_init"):
        iou_kmeans_curve(wh, [2, 3], n_init=10 ** 9)
    with pytest.raises(InputError, match="curve entry"):
        analyze_anchors(wh, k=3, curve=range(1, 10 ** 12))
    for kwargs, name in (({"k": 10 ** 6}, "k"), ({"n_init": 10 ** 9}, "n_init"), ({"max_iter": 10 ** 9}, "max_iter"),
                         ({"input_size": 10 ** 9}, "input_size"), ({"stride": 0}, "stride")):
        with pytest.raises(InputError, match=name):
            analyze_anchors(wh, curve=None, **kwargs)
    with pytest.raises(InputError, match="above the maximum 1000"):
        parse_k_range("1-1000000000000")
    assert parse_k_range("1-3,1000") == [1, 2, 3, 1000]


def test_ssd_layouts_are_bounded_before_anything_is_allocated():
    import itertools

    from vocbench.anchors import ssd_scales

    for sizes, needle in (((10 ** 6,), "feature_sizes entry must be in 1..4096"), ((38, 0), "1..4096"),
                          ((19.5,), "must be an integer"), ((), "at least one feature map"),
                          (itertools.repeat(3), "more than 64 feature maps"),
                          ((4096, 4096), "default boxes, above the maximum 10,000,000")):
        with pytest.raises(InputError, match=needle):
            ssd_default_boxes(sizes)
    with pytest.raises(InputError, match="num_layers"):
        ssd_scales(10 ** 9)
    assert ssd_default_boxes((500,), aspect_ratios=(2, 3)).shape == (1_500_000, 4)  # under the bound: built
