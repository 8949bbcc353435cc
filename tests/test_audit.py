"""The dataset audit: assignment, SSD matching, resize policies, health check and label-error ranks, against
plain-Python twins (tests/_reference/audit.py), hand-computed cases and injected errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests._reference.audit import (
    assignment_slow,
    detection_overlaps_slow,
    inject_errors,
    near_duplicates_slow,
    precision_at_k,
    simulate_detector,
    ssd_match_slow,
)
from vocbench.anchors import MOBILENET_SSD, SSD300, positioned_best_iou, ssd_default_boxes, yolo_voc_anchors
from vocbench.audit import (
    _kernels,
    analyze_assignment,
    analyze_resize,
    analyze_ssd_matching,
    audit_dataset,
    find_label_issues,
    grid_sweep,
    health_check,
    object_geometry,
    split_leakage,
)
from vocbench.errors import InputError
from vocbench.structures import Dataset, Detections


def _random_dataset(seed: int, n_images: int = 40, max_objects: int = 8, ties: bool = True) -> Dataset:
    """Random boxes; with ``ties`` some objects repeat another's centre (same cell) or whole box."""
    rng = np.random.default_rng(seed)
    W = rng.integers(80, 500, n_images)
    H = rng.integers(80, 500, n_images)
    img, boxes = [], []
    for i in range(n_images):
        for _ in range(rng.integers(0, max_objects + 1)):
            if ties and boxes and img[-1] == i and rng.random() < 0.3:
                b = boxes[-1].copy()
                if rng.random() < 0.5:  # same centre, other shape
                    c = (b[:2] + b[2:]) / 2
                    s = rng.uniform(2, 40, 2)
                    b = np.r_[c - s, c + s]
            else:
                x1, y1 = rng.uniform(1, W[i] - 2), rng.uniform(1, H[i] - 2)
                b = np.array([x1, y1, rng.uniform(x1 + 1, W[i]), rng.uniform(y1 + 1, H[i])])
            img.append(i)
            boxes.append(np.round(np.clip(b, 1, [W[i], H[i], W[i], H[i]])))
    n = len(img)
    return Dataset.from_arrays(image_ids=[f"{i:06d}" for i in range(n_images)], widths=W, heights=H,
                               image_index=np.array(img, np.int64), class_index=rng.integers(0, 20, n),
                               boxes=np.array(boxes).reshape(-1, 4), difficult=rng.random(n) < 0.1)


# ------------------------------------------------------------------------------------------------ assignment
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("grids", [(13,), (52, 26, 13), (7,)])
def test_assignment_matches_slow_twin(seed, grids):
    ds = _random_dataset(seed)
    priors = yolo_voc_anchors() if len(grids) != 3 else np.r_[yolo_voc_anchors(), [[0.05, 0.08], [0.9, 0.4],
                                                                                   [0.3, 0.3], [0.02, 0.02]]]
    strides = tuple(416 // g for g in grids)
    r = analyze_assignment(ds, priors=priors, input_size=416, strides=strides)
    slow = assignment_slow(ds, priors, [416 // s for s in strides])
    assert r.objects == len(slow) > 0
    po = r.per_object
    geom = object_geometry(ds)
    assert geom.rows.tolist() == [s["object"] for s in slow]
    for key in ("anchor", "level", "lost_cell", "lost_cell_anchor", "shared"):
        assert po[key].tolist() == [s[key] for s in slow], key
    assert r.lost_cell == sum(s["lost_cell"] for s in slow)
    assert r.lost_cell_anchor <= r.lost_cell <= r.shared_cell


def test_assignment_real_voc_against_twin_and_sweep(voc07_test):
    ds = voc07_test.subset_images(np.arange(voc07_test.num_images) < 400)
    r = analyze_assignment(ds)
    slow = assignment_slow(ds, yolo_voc_anchors(), [13])
    assert r.lost_cell == sum(s["lost_cell"] for s in slow) > 0
    assert r.lost_cell_anchor == sum(s["lost_cell_anchor"] for s in slow) > 0
    assert r.shared_cell == sum(s["shared"] for s in slow)
    sweep = grid_sweep(ds, (13, 26))
    assert sweep.lost_cell.tolist() == [r.lost_cell, analyze_assignment(ds, input_size=832).lost_cell]
    # per-class and per-size tables add up to the totals
    for table in ("class", "coco_size", "input_size"):
        df = r.to_pandas(table)
        assert df["objects"].sum() == r.objects and df["lost_cell"].sum() == r.lost_cell
    d = r.to_dict()
    assert d["grid"] == "13x13" and d["prior_set"] == "yolo-voc" and d["objects"] == r.objects


def test_assignment_tie_rule_first_in_annotation_order_wins():
    # three objects with the same centre: the first keeps the cell; the 2nd has another best anchor
    boxes = [[100, 100, 140, 150], [60, 60, 180, 190], [101, 101, 139, 149]]
    ds = Dataset.from_arrays(image_ids=["a"], widths=[416], heights=[416], image_index=[0, 0, 0],
                             class_index=[0, 1, 2], boxes=boxes)
    r = analyze_assignment(ds)
    po = r.per_object
    assert po["lost_cell"].tolist() == [False, True, True]
    assert po["anchor"][0] == po["anchor"][2] != po["anchor"][1]
    assert po["lost_cell_anchor"].tolist() == [False, False, True]
    assert r.to_pandas("class")["lost_cell"].tolist()[:3] == [0, 1, 1]


def test_assignment_bad_arguments():
    ds = _random_dataset(0)
    with pytest.raises(InputError):
        analyze_assignment(ds, strides=(0,))
    with pytest.raises(InputError):
        analyze_assignment(ds, priors="nope")
    with pytest.raises(InputError):
        analyze_assignment(ds, strides=(8, 16))  # 5 priors over 2 heads
    with pytest.raises(InputError):
        analyze_assignment(ds, priors=[[0.1, -1.0]])


# ---------------------------------------------------------------------------------------------- SSD matching
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("config", [SSD300, MOBILENET_SSD])
def test_ssd_matching_matches_slow_twin(seed, config):
    ds = _random_dataset(seed, n_images=25)
    r = analyze_ssd_matching(ds, config)
    geom = object_geometry(ds)
    priors = ssd_default_boxes(config.feature_sizes, s_min=config.s_min, s_max=config.s_max,
                               aspect_ratios=config.aspect_ratios, s_last=config.s_last,
                               reduce_first_layer=config.reduce_first_layer)
    best, pos = ssd_match_slow(geom.boxes, geom.image_index, ds.num_images, priors)
    assert r.n_priors == len(priors)
    np.testing.assert_array_equal(r.best_iou, best)
    np.testing.assert_array_equal(r.positives, pos)
    assert r.unmatched == int((best < 0.5).sum())


def test_ssd_matching_real_voc(voc07_test):
    ds = voc07_test.subset_images(np.arange(voc07_test.num_images) < 300)
    r = analyze_ssd_matching(ds)
    geom = object_geometry(ds)
    best, pos = ssd_match_slow(geom.boxes, geom.image_index, ds.num_images, SSD300.boxes())
    np.testing.assert_array_equal(r.positives, pos)
    np.testing.assert_array_equal(r.best_iou, best)
    # the anchors module's independent positioned best IoU agrees (different arithmetic: tolerance)
    np.testing.assert_allclose(r.best_iou, positioned_best_iou(geom.boxes, SSD300), atol=1e-12)
    assert 0 < r.unmatched < r.objects and r.positives.sum() > r.objects
    assert r.to_pandas("positives")["objects"].sum() == r.objects


# ----------------------------------------------------------------------------------------------- resize
def test_resize_policies_hand_computed():
    # one 800x400 image, input 400 (box width xmax - xmin, the anchors convention): squash x/2, y/1; letterbox
    # both /2 with 100 px padding; crop: scale 1, the window is x 200..600
    boxes = [[1, 1, 101, 401],     # left edge: cut away entirely by the centre crop (x 0..100 -> -200..-100)
             [151, 101, 351, 301],  # partly outside the crop window (x 150..350 -> -50..150)
             [401, 101, 421, 105]]  # 20x4 px -> letterbox 10x2 (under 8 px)
    ds = Dataset.from_arrays(image_ids=["a"], widths=[800], heights=[400], image_index=[0, 0, 0],
                             class_index=[0, 1, 2], boxes=boxes)
    r = analyze_resize(ds, input_size=400, k=2, n_init=1)
    sq, lb, cr = r.policies
    np.testing.assert_allclose(sq.wh, [[50, 400], [100, 200], [10, 4]])
    np.testing.assert_allclose(lb.wh, [[50, 200], [100, 100], [10, 2]])
    np.testing.assert_allclose(cr.wh, [[150, 200], [20, 4]])
    assert (cr.lost, cr.cut) == (1, 1) and (sq.lost, sq.cut, lb.lost) == (0, 0, 0)
    assert (sq.under_8px, lb.under_8px, cr.under_8px) == (1, 1, 1)
    assert lb.median_log_aspect_change == 0.0 and sq.median_log_aspect_change == pytest.approx(np.log(2))
    assert r.to_pandas()["policy"].tolist() == ["squash", "letterbox", "crop"]


def test_resize_real_voc_kmeans_mean_iou(voc07_test):
    r = analyze_resize(voc07_test, k=5)
    sq, lb, cr = r.policies
    assert len(sq.wh) == len(lb.wh) == r.objects and 0 < cr.lost < r.objects and cr.cut > cr.lost
    for p in r.policies:
        assert 0.5 < p.mean_iou < 0.8 and p.anchors.shape == (5, 2)
    assert lb.under_8px >= sq.under_8px  # letterboxing only shrinks


# ----------------------------------------------------------------------------------------------- health
def test_health_check_finds_planted_problems():
    boxes = [[10, 10, 50, 50],       # ok
             [11, 10, 50, 50],       # near-duplicate of row 0 (IoU 0.976)
             [60, 60, 55, 70],       # inverted: degenerate
             [90, 90, 130, 120],     # out of image (width 100 → xmax 130)
             [5, 5, 6, 40],          # 2 px wide: tiny, aspect 18:1 extreme
             [20, 20, 60, 60]]       # ok, other class
    ds = Dataset.from_arrays(image_ids=["a", "b", "c"], widths=[100, 100, 100], heights=[100, 100, 100],
                             image_index=[0, 0, 0, 0, 0, 1], class_index=[3, 3, 3, 4, 5, 6], boxes=boxes)
    h = health_check(ds, splits={"train": ["a", "b"], "val": ["b", "c"]})
    assert h.counts == {"degenerate": 1, "out_of_image": 1, "tiny": 1, "near_duplicate": 1, "extreme_aspect": 1,
                        "empty_image": 1, "duplicate_image_id": 0, "leakage": 1}
    f = h.to_pandas()
    assert f.loc[f.kind == "near_duplicate", "object"].tolist() == [1]
    assert f.loc[f.kind == "empty_image", "image_id"].tolist() == ["c"]
    assert f.loc[f.kind == "leakage", "detail"].tolist() == ["listed in train+val"]
    assert h.imbalance == float("inf")  # most classes have no object
    assert h.to_dict()["counts"]["tiny"] == 1


@pytest.mark.parametrize("seed", range(3))
def test_near_duplicates_match_slow_twin(seed):
    ds = _random_dataset(seed, n_images=30, max_objects=12)
    h = health_check(ds, duplicate_iou=0.5)
    got = sorted((int(d.split("object ")[1]), int(o)) for o, d in
                 zip(h.findings.loc[h.findings.kind == "near_duplicate", "object"],
                     h.findings.loc[h.findings.kind == "near_duplicate", "detail"]))
    assert got == near_duplicates_slow(ds, 0.5) and len(got) > 0


def test_split_leakage_and_voc_union(voc_root):
    assert split_leakage({"a": ["1", "2"], "b": ["2", "3"], "c": ["2"]}).to_dict("records") == [
        {"image_id": "2", "splits": "a+b+c"}]
    from vocbench.io.voc import read_split

    train = read_split(voc_root / "VOC2007", "train")
    trainval = read_split(voc_root / "VOC2007", "trainval")
    leak = split_leakage({"2007:train": train, "2007:trainval": trainval})
    assert len(leak) == len(train) == len(set(train) & set(trainval))


# ----------------------------------------------------------------------------------------------- label errors
@pytest.mark.parametrize("seed", range(4))
def test_detection_overlaps_match_slow_twin(seed):
    ds = _random_dataset(seed, n_images=20)
    dets = simulate_detector(ds, seed)
    order_g = np.argsort(ds.image_index, kind="stable")
    assert (order_g == np.arange(ds.num_objects)).all()
    order_d = np.argsort(dets.image_index, kind="stable")
    dets = dets[order_d]
    starts_g = np.searchsorted(ds.image_index, np.arange(ds.num_images + 1)).astype(np.int64)
    starts_d = np.searchsorted(dets.image_index, np.arange(ds.num_images + 1)).astype(np.int64)
    got = _kernels.detection_overlaps(ds.boxes, ds.class_index, ds.difficult, starts_g, dets.boxes,
                                      dets.class_index, dets.scores, starts_d, 0.5, 0.5, 0.1)
    want = detection_overlaps_slow(ds, dets, 0.5, 0.5, 0.1)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_label_issues_hand_case():
    # image 0: cat annotated, detector says dog (wrong_class); image 1: an unannotated dog (missing);
    # image 2: a person box shifted (badloc); image 3: a box nothing comes near (spurious); a difficult one
    classes = ("cat", "dog", "person")
    ds = Dataset.from_arrays(image_ids=["0", "1", "2", "3"], widths=[200] * 4, heights=[200] * 4,
                             image_index=[0, 2, 3, 3], class_index=[0, 2, 1, 1],
                             boxes=[[20, 20, 120, 120], [60, 20, 160, 120], [10, 10, 60, 60], [100, 100, 180, 180]],
                             difficult=[False, False, False, True], classes=classes)
    dets = Detections(image_index=[0, 0, 1, 2, 3], class_index=[1, 0, 1, 2, 1],
                      scores=[0.9, 0.2, 0.8, 0.7, 0.95],
                      boxes=[[21, 20, 120, 121], [20, 20, 120, 120], [30, 30, 90, 90], [10, 20, 110, 120],
                             [100, 100, 180, 180]])
    r = find_label_issues(ds, dets)
    t = r.to_pandas()
    assert t["kind"].tolist() == ["missing", "wrong_class", "badloc", "spurious"]
    # spurious: score = recall of its size bin (here 0: the only annotation of its size is the one missed)
    assert t["score"].tolist() == pytest.approx([0.8, 0.7, 0.7, 0.0])
    by = {row.kind: row for row in t.itertuples()}
    assert by["wrong_class"].score == pytest.approx(0.9 - 0.2) and by["wrong_class"].suggested_class == "dog"
    assert by["missing"].image_id == "1" and by["missing"].xmin == 30 and by["missing"].score == 0.8
    assert by["badloc"].object == 1 and by["badloc"].score == 0.7 and by["badloc"].sx1 == 10
    assert by["spurious"].object == 2 and by["spurious"].image_id == "3"
    entries = r.entries()
    assert set(entries[0]) >= {"image_id", "kind", "class", "box", "score"}
    assert [e["score"] for e in entries] == sorted((e["score"] for e in entries), reverse=True)


@pytest.fixture(scope="module")
def synth_clean(tmp_path_factory):
    from vocbench import load_voc
    from vocbench.synth import generate

    root = generate(tmp_path_factory.mktemp("audit-synth"), images=400, size=160, seed=3, workers=1)
    return load_voc(root, ["2007:trainval", "2007:test"], cache=False)


def test_label_issue_precision_on_injected_errors(synth_clean):
    """Precision among the top K of each kind (K = number injected), two simulated detectors that saw the clean
    annotations, pooled over four injections of K = 20 per kind (~1,100 objects)."""
    k, hits = 20, {"missing": 0, "wrong_class": 0, "badloc": 0, "spurious": 0}
    for seed in range(4):
        corrupted, truth = inject_errors(synth_clean, k, seed)
        a = simulate_detector(synth_clean, 100 + seed, hardness_seed=seed)
        b = simulate_detector(synth_clean, 200 + seed, hardness_seed=seed)
        for kind, n in precision_at_k(find_label_issues(corrupted, [a, b]), truth, k).items():
            hits[kind] += n
    precision = {kind: n / (4 * k) for kind, n in hits.items()}
    assert precision["missing"] >= 0.8, precision
    assert precision["wrong_class"] >= 0.8, precision
    assert precision["spurious"] >= 0.8, precision
    assert precision["badloc"] >= 0.7, precision


def test_label_issues_real_voc(voc07_test, yolov2_dets, yolov3_dets):
    from vocbench import read_detections

    a = read_detections(yolov2_dets, voc07_test)
    b = read_detections(yolov3_dets, voc07_test)
    r = find_label_issues(voc07_test, [a, b], names=["yolov2", "yolov3"])
    t = r.to_pandas()
    assert set(t["kind"]) == {"missing", "wrong_class", "badloc", "spurious"}
    assert (np.diff(t["score"].to_numpy()) <= 0).all()
    flagged = t.loc[t["object"] >= 0, "object"].to_numpy()
    assert not voc07_test.difficult[flagged].any()  # difficult = don't care


def test_label_issues_bad_input():
    ds = _random_dataset(0, n_images=3)
    with pytest.raises(InputError):
        find_label_issues(ds, [])
    with pytest.raises(InputError):
        find_label_issues(ds, Detections([5], [0], [0.9], [[1, 1, 5, 5]]))
    with pytest.raises(InputError):
        find_label_issues(ds, Detections.empty(), min_score=1.5)
    assert len(find_label_issues(ds, Detections.empty()).to_pandas("missing")) == 0


def test_audit_dataset_to_dict_and_tables(voc07_test):
    r = audit_dataset(voc07_test, strides=((32,), (8, 16, 32)),
                      priors={"yolo-voc": "yolo-voc", "nine": np.r_[yolo_voc_anchors(), yolo_voc_anchors()[:4] / 2]})
    d = r.to_dict()
    assert [(a["grid"], a["prior_set"]) for a in d["assignment"]] == [
        ("13x13", "yolo-voc"), ("13x13", "nine"), ("52x52+26x26+13x13", "nine")]
    assert d["grid_sweep"]["grids"][2]["grid"] == "13x13"
    assert d["grid_sweep"]["grids"][2]["lost_cell"] == d["assignment"][0]["lost_cell"]
    assert {p["policy"] for p in d["resize"]["policies"]} == {"squash", "letterbox", "crop"}


def test_bench_numpy_ssd_route_agrees_with_the_kernel():
    from vocbench.bench.suite_audit import numpy_ssd_match

    ds = _random_dataset(7, n_images=30)
    geom = object_geometry(ds)
    starts = np.searchsorted(geom.image_index, np.arange(ds.num_images + 1))
    best, pos = numpy_ssd_match(geom.boxes, starts, SSD300.boxes())
    r = analyze_ssd_matching(ds)
    np.testing.assert_array_equal(pos, r.positives)
    np.testing.assert_array_equal(best, r.best_iou)


def test_empty_dataset_rates_are_nan_not_zero():
    e = Dataset.from_arrays(image_ids=["a", "b"], widths=[100, 100], heights=[100, 100],
                            image_index=np.zeros(0, np.int64), class_index=np.zeros(0, np.int64),
                            boxes=np.zeros((0, 4)))
    r = audit_dataset(e)
    assert r.assignments[0].objects == 0 and r.sweep.to_pandas()["lost_cell_pct"].isna().all()
    assert np.isnan(r.health.imbalance) and np.isnan(r.health.entropy) and r.health.counts["empty_image"] == 2
    assert np.isnan(r.resize.policies[0].mean_iou) and r.ssd.unmatched == 0


def test_label_issue_gallery_draws_on_jpegs(synth_clean, tmp_path):
    from vocbench.report.audit import write_audit_report

    corrupted, _ = inject_errors(synth_clean, 5, 0)
    corrupted = type(corrupted)(**{**corrupted.__dict__, "root": synth_clean.root,
                                   "image_years": synth_clean.image_years})
    issues = find_label_issues(corrupted, simulate_detector(synth_clean, 1))
    out = write_audit_report(tmp_path / "a.html", corrupted, audit_dataset(corrupted), label_issues=issues, top=5)
    text = out.read_text()
    assert text.count('src="data:image/jpeg;base64,') >= 4  # up to 12 drawn per kind, JPEGs exist
    assert "not drawn" not in text


def test_audit_dataset_default_priors_and_tables(voc07_test):
    r = audit_dataset(voc07_test)
    df = r.to_pandas()
    assert df["prior_set"].tolist() == ["yolo-voc", "kmeans"] and (df["grid"] == "13x13").all()
    km = analyze_assignment(voc07_test, priors=r.resize.policies[0].anchors / 416)
    assert df.loc[1, "lost_cell_anchor"] == km.lost_cell_anchor
    assert len(r.to_pandas("resize")) == 3 and len(r.to_pandas("sweep")) == len(r.sweep.grids)
    with pytest.raises(ValueError):
        r.to_pandas("nope")
