"""vocbench.compare: exactness of the re-weighted bootstrap, seeds, identical models, statistics, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vocbench
from vocbench import Dataset, Detections, evaluate
from vocbench.compare import bootstrap_weights, compare
from vocbench.compare.stats import bootstrap_p_value, holm, kendall_tau, percentile_interval
from vocbench.errors import InputError, VocbenchWarning


# ------------------------------------------------------------------------------------------ explicit resample
def resampled_set(ds: Dataset, dets: Detections, w: np.ndarray) -> tuple[Dataset, Detections]:
    """The resampled set of a replicate, built explicitly: image i listed w[i] times (copies next to each other,
    images in original order), its objects copied; every detection line repeated once per copy of its image,
    right after itself (input order kept)."""
    w = np.asarray(w, np.int64)
    src = np.repeat(np.arange(ds.num_images), w)  # new image -> original image
    first_copy = np.concatenate([[0], np.cumsum(w)[:-1]])  # new index of the first copy of each image
    obj_rows = []
    obj_img = []
    for j, i in enumerate(src):
        rows = np.flatnonzero(ds.image_index == i)
        obj_rows.extend(rows.tolist())
        obj_img.extend([j] * len(rows))
    obj_rows = np.asarray(obj_rows, np.int64)
    copy_no = np.concatenate([np.arange(k) for k in w]) if len(src) else np.zeros(0, np.int64)
    new = Dataset.from_arrays(
        image_ids=[f"{ds.image_ids[i]}_{k}" for i, k in zip(src, copy_no)], widths=ds.widths[src],
        heights=ds.heights[src], image_index=np.asarray(obj_img, np.int64), class_index=ds.class_index[obj_rows],
        boxes=ds.boxes[obj_rows], difficult=ds.difficult[obj_rows], classes=ds.classes)
    det_rows, det_img = [], []
    for d in range(len(dets)):
        i = dets.image_index[d]
        for k in range(w[i]):
            det_rows.append(d)
            det_img.append(first_copy[i] + k)
    det_rows = np.asarray(det_rows, np.int64)
    new_dets = Detections(image_index=np.asarray(det_img, np.int64), class_index=dets.class_index[det_rows],
                          scores=dets.scores[det_rows], boxes=dets.boxes[det_rows], source="resampled")
    return new, new_dets


def _subset(ds: Dataset, dets: Detections, n_images: int) -> tuple[Dataset, Detections]:
    mask = np.zeros(ds.num_images, bool)
    mask[:n_images] = True
    sub = ds.subset_images(mask)
    keep = mask[dets.image_index]
    return sub, Detections(image_index=dets.image_index[keep], class_index=dets.class_index[keep],
                           scores=dets.scores[keep], boxes=dets.boxes[keep], source=dets.source)


def _tied(dets: Detections, decimals: int) -> Detections:
    """Scores rounded: many ties, across images and inside an image (COCO's same-image blocks)."""
    return Detections(image_index=dets.image_index, class_index=dets.class_index,
                      scores=np.round(dets.scores, decimals), boxes=dets.boxes, source="tied")


@pytest.fixture(scope="module")
def real_pair(voc07_test, yolov2_dets, yolov3_dets):
    a = vocbench.read_detections(yolov2_dets, voc07_test)
    b = vocbench.read_detections(yolov3_dets, voc07_test)
    return voc07_test, a, b


@pytest.fixture(scope="module")
def small(real_pair):
    ds, a, b = real_pair
    sub, sa = _subset(ds, a, 160)
    _, sb = _subset(ds, b, 160)
    return sub, sa, sb


@pytest.mark.parametrize("variant", ["as_read", "tied_scores"])
def test_replicates_equal_evaluate_on_explicitly_resampled_sets(small, variant):
    ds, a, b = small
    if variant == "tied_scores":
        a, b = _tied(a, 1), _tied(b, 2)
        assert len(np.unique(a.scores)) < 15  # ties everywhere, also within an image
    R, seed = 100, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        cmp = compare(ds, {"a": a, "b": b}, metrics=("voc07", "voc12", "coco"), bootstrap=R, seed=seed)
    weights = bootstrap_weights(ds.num_images, R, seed)
    assert weights.shape == (R, ds.num_images) and np.all(weights.sum(axis=1) == ds.num_images)
    checked = 0
    for r in (0, 1, 57):
        w = weights[r]
        assert w.max() >= 2 and (w == 0).any()  # a real resample: duplicated and missing images
        for j, dets in enumerate((a, b)):
            rds, rdets = resampled_set(ds, dets, w)
            assert rds.num_images == ds.num_images
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", VocbenchWarning)
                res = evaluate(rds, rdets, metrics=("voc07", "voc12", "coco"))
            for k, m in enumerate(cmp.metrics):
                want_pc = res.per_class(m).to_numpy()
                got_pc = cmp.replicates_per_class[k, r, j]
                np.testing.assert_array_equal(np.isnan(got_pc), np.isnan(want_pc))
                np.testing.assert_allclose(got_pc, want_pc, rtol=0, atol=1e-12, equal_nan=True, err_msg=f"{m} r={r}")
                assert abs(cmp.replicates[k, r, j] - res.mAP[m]) <= 1e-12
                checked += 1
    assert checked == 3 * 2 * 3


def test_point_estimates_are_evaluates(small):
    ds, a, b = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        cmp = compare(ds, [("a", a), ("b", b)], bootstrap=100)
        for j, d in enumerate((a, b)):
            res = evaluate(ds, d, metrics=("voc07", "voc12", "coco"))
            for k, m in enumerate(cmp.metrics):
                assert cmp.point[k, j] == pytest.approx(res.mAP[m], abs=1e-12)
                if m != "coco":
                    assert cmp.point[k, j] == res.mAP[m]  # VOC: the evaluator's own number


def test_same_seed_same_output_other_seed_differs(small):
    ds, a, b = small
    kw = dict(metrics=("voc07", "coco"), bootstrap=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        c1 = compare(ds, {"a": a, "b": b}, seed=7, **kw)
        c2 = compare(ds, {"a": a, "b": b}, seed=7, **kw)
        c3 = compare(ds, {"a": a, "b": b}, seed=8, **kw)
    assert c1.to_dict() == c2.to_dict()
    np.testing.assert_array_equal(c1.replicates_per_class, c2.replicates_per_class)
    assert c1.to_dict()["models"] != c3.to_dict()["models"]
    assert not np.array_equal(c1.replicates, c3.replicates)
    np.testing.assert_array_equal(c1.point, c3.point)  # the point estimates do not depend on the seed


def test_identical_models_difference_zero_p_one(small):
    ds, a, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        cmp = compare(ds, {"a": a, "same": a}, bootstrap=300)
    for p in cmp.pairs:
        assert p.diff == 0.0
        assert p.ci == (0.0, 0.0)
        assert p.p_value == 1.0
        assert not p.significant
        defined = ~np.isnan(p.per_class_diff)
        assert defined.any()
        assert np.all(p.per_class_diff[defined] == 0.0)
        assert np.all(p.per_class_p[defined] == 1.0)
        assert not p.per_class_significant.any()
    np.testing.assert_array_equal(cmp.replicates[:, :, 0], cmp.replicates[:, :, 1])
    for m in cmp.metrics:
        assert cmp.rank_stability.top_change[m] == 0.0


# ------------------------------------------------------------------------------------------ real data
def _twin_ap(o: np.ndarray, img: np.ndarray, w: np.ndarray, npos: int, thresholds) -> tuple[float, float]:
    """VOC07 and VOC12 AP of one class, plain numpy on the explicitly repeated outcomes (o: 1 TP, 0 FP, score
    order)."""
    rep = np.repeat(o, w[img])
    if npos == 0:
        return np.nan, np.nan
    if rep.size == 0:
        return 0.0, 0.0
    tp = np.cumsum(rep == 1)
    fp = np.cumsum(rep != 1)
    rec = tp / npos
    prec = tp / (tp + fp)
    ap07 = sum((prec[rec >= t].max() if np.any(rec >= t) else 0.0) for t in thresholds) / len(thresholds)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return ap07, float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _twin_bootstrap(ds, dets, weights):
    """Independent bootstrap of VOC07/VOC12 mAP from the per-detection outcomes of evaluate()."""
    res = evaluate(ds, dets, metrics=("voc07", "voc12"))
    outcome = res.voc[0].outcome
    thresholds = vocbench.eval.matching.PROTOCOLS["devkit"].voc07_thresholds
    per_class = []
    for c in range(ds.num_classes):
        m = (dets.class_index == c) & (outcome != 3)
        order = np.argsort(-dets.scores[m], kind="stable")
        o = outcome[m][order]
        img = dets.image_index[m][order]
        gt_img = ds.image_index[(ds.class_index == c) & ~ds.difficult]
        per_class.append((o, img, np.bincount(gt_img, minlength=ds.num_images)))
    out = np.empty((len(weights), 2))
    for r, w in enumerate(weights):
        aps = np.array([_twin_ap(o, img, w, int(np.dot(w, npi)), thresholds) for o, img, npi in per_class])
        out[r] = np.nanmean(aps, axis=0)
    return out


@pytest.fixture(scope="module")
def real_comparison(real_pair):
    ds, a, b = real_pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        return compare(ds, {"yolov2": a, "yolov3": b}, metrics=("voc07", "voc12"), bootstrap=1000, seed=0)


def test_real_yolov2_vs_yolov3_numbers(real_comparison):
    c = real_comparison
    d = c.to_dict()
    assert round(d["models"]["yolov2"]["voc07"]["mAP"], 6) == 0.721437
    assert round(d["models"]["yolov2"]["voc12"]["mAP"], 6) == 0.745179
    for name in ("yolov2", "yolov3"):
        for m in ("voc07", "voc12"):
            lo, hi = d["models"][name][m]["ci"]
            assert lo < d["models"][name][m]["mAP"] < hi
            assert 0.005 < hi - lo < 0.05  # 4,952 images: about a point either side
    pair = [p for p in d["pairs"] if p["metric"] == "voc07"][0]
    assert (pair["a"], pair["b"]) == ("yolov2", "yolov3")
    assert pair["diff"] == pytest.approx(d["models"]["yolov3"]["voc07"]["mAP"] - d["models"]["yolov2"]["voc07"]["mAP"])
    assert pair["ci"][0] < pair["diff"] < pair["ci"][1] < 0  # YOLOv3 (these files) is clearly below YOLOv2
    assert pair["p_value"] == pytest.approx(2 / 1001)  # no replicate reaches 0
    assert set(pair["per_class"]["cat"]) >= {"diff", "ci", "p_value", "p_holm", "significant"}
    assert d["bootstrap"] == 1000 and d["seed"] == 0
    assert set(d) >= {"models", "pairs", "rank_stability", "bootstrap", "seed"}
    assert d["rank_stability"]["leaderboards"]["voc07/devkit"] == ["yolov2", "yolov3"]


def test_real_cis_agree_with_independent_numpy_bootstrap(real_pair, real_comparison):
    ds, a, b = real_pair
    c = real_comparison
    rng = np.random.default_rng(12345)  # the twin's own resamples
    weights = np.stack([np.bincount(rng.integers(0, ds.num_images, ds.num_images), minlength=ds.num_images)
                        for _ in range(400)])
    for j, dets in enumerate((a, b)):
        twin = _twin_bootstrap(ds, dets, weights)
        for k in range(2):
            lo_t, hi_t = np.quantile(twin[:, k], [0.025, 0.975])
            lo, hi = c.score(c.names[j], c.metrics[k]).ci
            tol = 0.15 * (hi - lo)  # Monte Carlo error of 2.5%/97.5% quantiles from 400 and 1000 replicates
            assert abs(lo - lo_t) < tol and abs(hi - hi_t) < tol, (c.names[j], c.metrics[k], lo, lo_t, hi, hi_t)
            assert twin[:, k].std() == pytest.approx(c.replicates[k, :, j].std(), rel=0.2)


def test_twin_on_the_same_weights_is_exact(real_pair, real_comparison):
    ds, a, _ = real_pair
    weights = bootstrap_weights(ds.num_images, 1000, 0)[[0, 500, 999]]
    twin = _twin_bootstrap(ds, a, weights)
    got = real_comparison.replicates[:, [0, 500, 999], 0].T
    np.testing.assert_allclose(got, twin, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------ statistics
def test_percentile_interval_and_p_value():
    x = np.arange(1, 1001, dtype=float)[:, None]
    lo, hi = percentile_interval(x, 0.95)[:, 0]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(x[:, 0], [0.025, 0.975])), abs=1e-12)
    assert bootstrap_p_value(x)[0] == pytest.approx(2 / 1001)
    assert bootstrap_p_value(-x)[0] == pytest.approx(2 / 1001)
    assert bootstrap_p_value(np.zeros((50, 1)))[0] == 1.0
    d = np.concatenate([-np.ones(30), np.ones(70)])[:, None]
    assert bootstrap_p_value(d)[0] == pytest.approx(2 * 31 / 101)
    assert np.isnan(bootstrap_p_value(np.full((10, 1), np.nan))[0])


def test_holm_matches_statsmodels_rule():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02, np.nan], equal_nan=True)


def test_kendall_tau_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 8):
        for _ in range(20):
            x = rng.integers(0, 4, n).astype(float)
            y = rng.integers(0, 4, n).astype(float)
            want = stats.kendalltau(x, y).statistic
            got = kendall_tau(x, y)
            assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)


# ------------------------------------------------------------------------------------------ bad input
def test_bad_input(small):
    ds, a, b = small
    with pytest.raises(InputError, match="named 'a'"):
        compare(ds, [("a", a), ("a", b)], bootstrap=100)
    with pytest.raises(InputError, match="at least 2"):
        compare(ds, {"a": a}, bootstrap=100)
    with pytest.raises(InputError, match="at least 100"):
        compare(ds, {"a": a, "b": b}, bootstrap=50)
    with pytest.raises(InputError, match=r"would need .* GiB"):
        compare(ds, {"a": a, "b": b}, bootstrap=10 ** 9)
    with pytest.raises(ValueError, match="unknown metric"):
        compare(ds, {"a": a, "b": b}, metrics=("map",), bootstrap=100)
    other = Detections(image_index=a.image_index + ds.num_images, class_index=a.class_index, scores=a.scores,
                       boxes=a.boxes, source="other.csv")
    with pytest.raises(InputError, match="other.csv: detection 0 has image_index"):
        compare(ds, {"a": a, "other": other}, bootstrap=100)


def test_replicates_without_positives_are_counted_and_warned():
    # class 1 has a single positive in one of 4 images: about (3/4)^4 = 32% of replicates never draw it
    ds = Dataset.from_arrays(image_ids=["a", "b", "c", "d"], widths=[100] * 4, heights=[100] * 4,
                             image_index=[0, 1, 2, 3, 0], class_index=[0, 0, 0, 0, 1],
                             boxes=[[10, 10, 50, 50]] * 4 + [[60, 60, 90, 90]], classes=("x", "y"))
    dets = Detections(image_index=[0, 1, 2, 3, 0], class_index=[0, 0, 0, 0, 1], scores=[0.9, 0.8, 0.7, 0.6, 0.5],
                      boxes=[[10, 10, 50, 50]] * 4 + [[60, 60, 90, 90]])
    with pytest.warns(VocbenchWarning, match=r"voc07: \d+ of 400 replicates drew no positive of some class \(y x"):
        cmp = compare(ds, {"a": dets, "b": dets}, metrics=("voc07",), bootstrap=400, seed=1)
    n = int(np.isnan(cmp.replicates_per_class[0, :, 0, 1]).sum())
    assert 60 < n < 200
    assert f"voc07: {n} of 400" in " ".join(cmp.warnings)
    assert not np.isnan(cmp.replicates[0]).any()  # the mAP of such a replicate is the other class's AP


def test_library_resample_matches_the_test_builder(small):
    from vocbench.compare import resample_dataset

    ds, a, _ = small
    w = bootstrap_weights(ds.num_images, 100, 11)[4]
    lib_ds, lib_dets = resample_dataset(ds, a, w)
    ref_ds, ref_dets = resampled_set(ds, a, w)
    for f in ("image_index", "class_index", "boxes", "difficult"):
        np.testing.assert_array_equal(getattr(lib_ds, f), getattr(ref_ds, f))
    for f in ("image_index", "class_index", "boxes", "scores"):
        np.testing.assert_array_equal(getattr(lib_dets, f), getattr(ref_dets, f))
    assert lib_ds.num_images == ds.num_images and len(set(lib_ds.image_ids)) == ds.num_images


def test_bench_suite_registered_and_reports_missing_data(tmp_path):
    from vocbench.bench.suite_compare import bench_compare
    from vocbench.bench.suites import SUITES

    assert SUITES["compare"] is bench_compare
    rows = bench_compare(quick=True, shared=tmp_path)
    assert len(rows) == 1 and "real data not found" in rows[0].note


def _synthetic(seed: int, n_images: int = 14, n_classes: int = 3):
    """Random GT (some difficult) and detections near them plus background boxes, with tied scores."""
    rng = np.random.default_rng(seed)
    img, cls, boxes, diff = [], [], [], []
    for i in range(n_images):
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 300, 2)
            w, h = rng.uniform(10, 150, 2)
            img.append(i)
            cls.append(rng.integers(0, n_classes))
            boxes.append([x, y, x + w, y + h])
            diff.append(rng.random() < 0.15)
    ds = Dataset.from_arrays(image_ids=[f"im{i}" for i in range(n_images)], widths=[500] * n_images,
                             heights=[500] * n_images, image_index=img, class_index=cls, boxes=boxes,
                             difficult=diff, classes=tuple(f"c{k}" for k in range(n_classes)))
    d_img, d_cls, d_box = [], [], []
    for j in range(ds.num_objects):
        for _ in range(rng.integers(0, 3)):  # hits and duplicates
            d_img.append(ds.image_index[j])
            d_cls.append(ds.class_index[j] if rng.random() < 0.9 else rng.integers(0, n_classes))
            d_box.append(ds.boxes[j] + rng.normal(0, 8, 4))
    for _ in range(3 * n_images):  # background
        x, y = rng.uniform(0, 400, 2)
        d_img.append(rng.integers(0, n_images))
        d_cls.append(rng.integers(0, n_classes))
        d_box.append([x, y, x + rng.uniform(5, 90), y + rng.uniform(5, 90)])
    scores = np.round(rng.random(len(d_img)), 1)  # ties, also within an image
    return ds, Detections(image_index=d_img, class_index=d_cls, scores=scores, boxes=d_box)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_replicates_equal_explicit_resamples(seed):
    ds, dets = _synthetic(seed)
    ds2, dets2 = _synthetic(seed + 100)
    other = Detections(image_index=dets2.image_index % ds.num_images, class_index=dets2.class_index,
                       scores=dets2.scores, boxes=dets2.boxes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VocbenchWarning)
        cmp = compare(ds, {"a": dets, "b": other}, bootstrap=100, seed=seed)
        weights = bootstrap_weights(ds.num_images, 100, seed)
        for r in range(0, 100, 20):
            for j, d in enumerate((dets, other)):
                res = evaluate(*resampled_set(ds, d, weights[r]), metrics=("voc07", "voc12", "coco"))
                for k, m in enumerate(cmp.metrics):
                    np.testing.assert_allclose(cmp.replicates_per_class[k, r, j], res.per_class(m).to_numpy(),
                                               rtol=0, atol=1e-12, equal_nan=True, err_msg=f"{m} r={r}")
