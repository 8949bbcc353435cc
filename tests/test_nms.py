"""vocbench.nms against slow twins (tests/_reference/nms.py) and torchvision.ops.nms."""

from __future__ import annotations

import numpy as np
import pytest

from tests._reference.nms import batched_nms_ref, iou_ref, nms_ref, soft_nms_ref
from vocbench.boxes import box_iou
from vocbench.errors import InputError
from vocbench.nms import batched_nms, nms, soft_nms
from vocbench.nms._kernels import greedy_nms_quadratic_kernel

#: torchvision's pixel convention (width = x2 - x1): the keep sets below are compared with torchvision and the twins
TV = "continuous"
#: the twins' pixel offset -> the pixel convention it stands for
CONV = {0: "continuous", 1: "voc"}


def random_case(rng, n, kind):
    """Random boxes of several flavours: continuous, integer grid (many exact ties of IoU), degenerate."""
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0, 40, (n, 2))
    if kind == "grid":
        xy, wh = np.round(xy / 5) * 5, np.round(wh / 5) * 5
    if kind == "degenerate":
        wh[rng.random((n, 2)) < 0.2] = 0.0
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.random(n)
    if kind in ("grid", "ties"):
        scores = np.round(scores * 4) / 4
    return boxes, scores


KINDS = ["continuous", "grid", "ties", "degenerate"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("offset", [0, 1])
def test_nms_equals_slow_twin(kind, thr, offset):
    # a fixed seed per case (not hash(): randomised per process), so that a failure reproduces
    rng = np.random.default_rng(1000 * KINDS.index(kind) + 10 * round(10 * thr) + offset)
    for _ in range(15):
        boxes, scores = random_case(rng, int(rng.integers(1, 120)), kind)
        got = nms(boxes, scores, thr, pixel_convention=CONV[offset])
        assert got.dtype == np.int64
        assert got.tolist() == nms_ref(boxes, scores, thr, offset)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow
def test_nms_equals_quadratic_kernel_large(kind):
    rng = np.random.default_rng(7)
    boxes, scores = random_case(rng, 3000, kind)
    boxes *= 10
    order = np.argsort(-scores, kind="stable")
    quad = order[greedy_nms_quadratic_kernel(boxes, order, 0.45, 0.0)]
    assert np.array_equal(nms(boxes, scores, 0.45, pixel_convention=TV), quad)


def _torch():
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    return torch, torchvision


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("thr", [0.0, 0.45, 0.5, 0.9])
def test_nms_equals_torchvision(kind, thr):
    torch, tv = _torch()
    rng = np.random.default_rng(11)
    for n in (0, 1, 2, 17, 400, 2500):
        boxes, scores = random_case(rng, n, kind)
        want = tv.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()
        assert np.array_equal(nms(boxes, scores, thr, pixel_convention=TV), want)


@pytest.mark.slow
def test_nms_equals_torchvision_on_detector_clusters():
    torch, tv = _torch()
    from vocbench.bench.workloads import cluster_boxes, uniform_boxes

    gt = np.array([[10, 20, 200, 300], [150, 100, 350, 260], [300, 10, 480, 120.0]])
    for n, seed in [(845, 0), (8732, 1), (30000, 2)]:
        for boxes, scores in (cluster_boxes(n, gt, 500, 375, seed=seed), uniform_boxes(n, seed=seed)):
            want = tv.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.45).numpy()
            assert np.array_equal(nms(boxes, scores, 0.45, pixel_convention=TV), want)


def test_adversarial_cases():
    # identical boxes, tied scores: the first row wins, the rest go
    boxes = np.tile([[0.0, 0.0, 10.0, 10.0]], (5, 1))
    assert nms(boxes, np.ones(5), 0.5, pixel_convention=TV).tolist() == [0]
    assert nms(boxes, np.array([0.1, 0.9, 0.9, 0.2, 0.9]), 0.5, pixel_convention=TV).tolist() == [1]
    # IoU exactly at the threshold is kept (suppress only when IoU > threshold): IoU = 50 / 150 = 1/3 ...
    a, b = [0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0]
    assert iou_ref(a, b) == 50.0 / 150.0
    assert nms(np.array([a, b]), np.array([0.9, 0.8]), 50.0 / 150.0, pixel_convention=TV).tolist() == [0, 1]
    below = np.nextafter(50.0 / 150.0, 0)
    assert nms(np.array([a, b]), np.array([0.9, 0.8]), below, pixel_convention=TV).tolist() == [0]
    # IoU exactly 0.5 with pixel_convention="voc": [1,1,10,10] (100 px) vs [1,1,10,... ] overlapping half
    c, d = [1.0, 1.0, 10.0, 10.0], [1.0, 1.0, 10.0, 20.0]  # 100 and 200 px, inter 100 → IoU 0.5
    assert iou_ref(c, d, 1.0) == 0.5
    assert nms(np.array([c, d]), np.array([0.9, 0.8]), 0.5, pixel_convention="voc").tolist() == [0, 1]
    assert nms(np.array([c, d]), np.array([0.9, 0.8]), 0.49, pixel_convention="voc").tolist() == [0]
    assert nms(np.array([c, d]), np.array([0.9, 0.8]), 0.49, pixel_convention=TV).tolist() == [0, 1]  # IoU 81/171
    # zero-area boxes never suppress and are never suppressed, even when identical
    z = np.array([[5.0, 5.0, 5.0, 9.0], [5.0, 5.0, 5.0, 9.0], [0.0, 0.0, 10.0, 10.0]])
    assert nms(z, np.array([0.3, 0.2, 0.1]), 0.1, pixel_convention=TV).tolist() == [0, 1, 2]
    # ... but with pixel_convention="voc" a zero-width box is one pixel wide
    assert nms(z, np.array([0.3, 0.2, 0.1]), 0.1, pixel_convention="voc").tolist() == [0, 2]
    # threshold 0 suppresses any positive overlap; touching boxes do not overlap
    t = np.array([[0.0, 0, 10, 10], [10.0, 0, 20, 10], [9.0, 0, 19, 10]])
    assert nms(t, np.array([0.9, 0.8, 0.7]), 0.0, pixel_convention=TV).tolist() == [0, 1]


def test_continuous_vs_offset_iou_value():
    # the convention decides: 10x10 inside 10x20 VOC pixels is IoU 100/200 = 0.5 with '+1', 81/171 continuous;
    # NMS and vocbench.boxes compute the same numbers (one IoU kernel), the twin agrees
    c, d = [1.0, 1.0, 10.0, 10.0], [1.0, 1.0, 10.0, 20.0]
    assert box_iou([c], [d], pixel_convention=TV)[0, 0] == 81.0 / 171.0 == iou_ref(c, d)
    assert box_iou([c], [d])[0, 0] == 0.5 == iou_ref(c, d, 1.0)
    boxes, scores = np.array([c, d]), np.array([0.9, 0.8])
    for thr in (np.nextafter(81 / 171, 0), 81 / 171):
        assert nms(boxes, scores, thr, pixel_convention=TV).tolist() == ([0] if thr < 81 / 171 else [0, 1])
    for thr in (np.nextafter(0.5, 0), 0.5):
        assert nms(boxes, scores, thr, pixel_convention="voc").tolist() == ([0] if thr < 0.5 else [0, 1])


def test_options_score_threshold_topk_max_output():
    rng = np.random.default_rng(3)
    boxes, scores = random_case(rng, 500, "continuous")
    full = nms(boxes, scores, 0.5, pixel_convention=TV)
    assert np.array_equal(nms(boxes, scores, 0.5, max_output=7, pixel_convention=TV), full[:7])
    assert len(nms(boxes, scores, 0.5, max_output=0, pixel_convention=TV)) == 0
    sel = np.flatnonzero(scores > 0.6)
    want = sel[nms(boxes[sel], scores[sel], 0.5, pixel_convention=TV)]
    assert np.array_equal(nms(boxes, scores, 0.5, score_threshold=0.6, pixel_convention=TV), want)
    top = np.argsort(-scores, kind="stable")[:50]
    want = top[nms(boxes[top], scores[top], 0.5, pixel_convention=TV)]
    assert np.array_equal(nms(boxes, scores, 0.5, pre_nms_top_k=50, pixel_convention=TV), want)


def test_empty_and_shapes():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5, pixel_convention=TV).shape == (0,)
    assert nms([], [], 0.5, pixel_convention=TV).shape == (0,)
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5, pixel_convention=TV).shape == (0,)
    k, s = soft_nms(np.zeros((0, 4)), np.zeros(0), pixel_convention=TV)
    assert k.shape == (0,) and s.shape == (0,)
    one = np.array([[0, 0, 1, 1]], np.float32)
    assert nms(one, np.array([1], np.float32), 0.5, pixel_convention=TV).tolist() == [0]


@pytest.mark.parametrize("bad, match", [
    (dict(boxes=np.zeros((3, 3))), r"shape \(N, 4\)"),
    (dict(boxes=np.zeros((2, 2, 4))), r"shape \(N, 4\)"),
    (dict(scores=np.zeros(2)), r"length 2 .* 3 rows"),
    (dict(scores=np.zeros((3, 1))), r"shape \(N,\)"),
    (dict(boxes=np.array([[0, 0, 1, 1], [0, 0, np.nan, 1], [0, 0, 1, 1.0]])), r"boxes\[1\]"),
    (dict(boxes=np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, -np.inf, 1, 1.0]])), r"boxes\[2\]"),
    (dict(scores=np.array([0.1, 0.2, np.nan])), r"scores\[2\]"),
    (dict(scores=np.array([np.inf, 0.2, 0.3])), r"scores\[0\]"),
    (dict(thr=-0.1), "iou must be"),
    (dict(thr=float("nan")), "iou must be"),
    (dict(boxes=np.array([["a", "b", "c", "d"]] * 3)), "numeric"),
])
def test_bad_input_raises_value_error(bad, match):
    args = dict(boxes=np.tile([[0.0, 0, 1, 1]], (3, 1)), scores=np.ones(3), thr=0.5)
    args.update(bad)
    with pytest.raises(ValueError, match=match) as exc:
        nms(args["boxes"], args["scores"], args["thr"], pixel_convention=TV)
    assert isinstance(exc.value, InputError)
    with pytest.raises(InputError):
        nms(np.zeros((1, 4)), np.ones(1), 0.5, pixel_convention="pixels")
    with pytest.raises(InputError, match=r"labels\[1\]"):
        batched_nms(np.zeros((2, 4)), np.ones(2), np.array([0, 0.5]), 0.5, pixel_convention=TV)
    with pytest.raises(InputError, match="labels has length"):
        batched_nms(np.zeros((2, 4)), np.ones(2), np.array([0]), 0.5, pixel_convention=TV)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("offset", [0, 1])
def test_batched_nms_equals_twin(kind, offset):
    rng = np.random.default_rng(5 + offset)
    for _ in range(20):
        n = int(rng.integers(1, 150))
        boxes, scores = random_case(rng, n, kind)
        labels = rng.integers(0, 4, n)
        got = batched_nms(boxes, scores, labels, 0.5, pixel_convention=CONV[offset])
        assert got.tolist() == batched_nms_ref(boxes, scores, labels, 0.5, offset)
    got = batched_nms(boxes, scores, labels, 0.5, max_output=3, pixel_convention=CONV[offset])
    assert got.tolist() == batched_nms_ref(boxes, scores, labels, 0.5, offset)[:3]


def test_batched_nms_per_label_cap():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10], [40, 40, 50, 50.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([0, 0, 1, 0])
    assert batched_nms(boxes, scores, labels, 0.5, pixel_convention=TV).tolist() == [0, 1, 2, 3]
    assert batched_nms(boxes, scores, labels, 0.5, max_output_per_label=1, pixel_convention=TV).tolist() == [0, 2]


def test_batched_nms_equals_torchvision():
    torch, tv = _torch()
    rng = np.random.default_rng(9)
    for n in (10, 300, 6000):  # torchvision switches algorithm above 4000 boxes on CPU
        boxes, scores = random_case(rng, n, "continuous")
        labels = rng.integers(0, 20, n)
        want = tv.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels),
                                  0.5).numpy()
        got = batched_nms(boxes, scores, labels, 0.5, pixel_convention=TV)
        assert np.array_equal(got, want)


@pytest.mark.parametrize("method", ["linear", "gaussian"])
@pytest.mark.parametrize("kind", KINDS)
def test_soft_nms_equals_twin(method, kind):
    rng = np.random.default_rng(21)
    for _ in range(10):
        boxes, scores = random_case(rng, int(rng.integers(1, 80)), kind)
        keep, new = soft_nms(boxes, scores, 0.3, method=method, sigma=0.5, score_threshold=0.01, pixel_convention=TV)
        rk, rs = soft_nms_ref(boxes, scores, 0.3, method, 0.5, 0.01)
        assert keep.tolist() == rk
        np.testing.assert_allclose(new, rs, rtol=1e-12)
        assert np.all(np.diff(new) <= 0)


def test_soft_nms_paper_example():
    # two boxes with IoU 0.5: linear decays the second by (1 - 0.5), Gaussian by exp(-0.25 / 0.5)
    boxes = np.array([[0.0, 0, 10, 10], [0.0, 0, 10, 20]])
    scores = np.array([0.9, 0.8])
    keep, new = soft_nms(boxes, scores, 0.3, method="linear", pixel_convention=TV)
    assert keep.tolist() == [0, 1] and new[1] == pytest.approx(0.4)
    keep, new = soft_nms(boxes, scores, method="gaussian", sigma=0.5, pixel_convention=TV)
    assert new[1] == pytest.approx(0.8 * np.exp(-0.5))
    keep, new = soft_nms(boxes, scores, 0.6, method="linear", pixel_convention=TV)  # below N_t: untouched
    assert new[1] == 0.8
    with pytest.raises(InputError):
        soft_nms(boxes, scores, method="cubic", pixel_convention=TV)


def test_tied_scores_keep_row_order_at_scale():
    # the wrapper sorts with an unstable sort and the kernel puts tied scores back in row order: check against
    # the stable order + textbook loop on inputs made of long tie runs (all equal, few levels, +-0.0)
    rng = np.random.default_rng(17)
    boxes, _ = random_case(rng, 3000, "continuous")
    for scores in (np.ones(3000), rng.integers(0, 3, 3000).astype(float),
                   np.where(rng.random(3000) < 0.5, -0.0, 0.0), np.round(rng.random(3000), 2)):
        order = np.argsort(-scores, kind="stable")
        want = order[greedy_nms_quadratic_kernel(boxes, order, 0.3, 0.0)]
        assert np.array_equal(nms(boxes, scores, 0.3, pixel_convention=TV), want)
        # top-k cut inside a tie run takes the lowest rows of the run
        top = order[:700]
        assert np.array_equal(nms(boxes, scores, 0.3, pre_nms_top_k=700, pixel_convention=TV),
                              top[greedy_nms_quadratic_kernel(boxes, top, 0.3, 0.0)])


def test_input_layouts_give_the_same_result():
    rng = np.random.default_rng(23)
    boxes, scores = random_case(rng, 300, "grid")
    want = nms(boxes, scores, 0.5, pixel_convention=TV)
    assert want.tolist() == nms_ref(boxes, scores, 0.5)
    assert np.array_equal(nms(boxes.tolist(), scores.tolist(), 0.5, pixel_convention=TV), want)
    assert np.array_equal(nms(np.asfortranarray(boxes), scores, 0.5, pixel_convention=TV), want)
    wide = np.concatenate([boxes, boxes], axis=1)
    # non-contiguous views
    assert np.array_equal(nms(wide[:, :4], np.repeat(scores, 2)[::2], 0.5, pixel_convention=TV), want)
    ints = boxes.astype(np.int64)
    assert np.array_equal(nms(ints, scores, 0.5, pixel_convention=TV), nms_ref(ints, scores, 0.5))
    # the caller's arrays are not modified
    b0, s0 = boxes.copy(), scores.copy()
    nms(boxes, scores, 0.5, pre_nms_top_k=10, pixel_convention=TV)
    assert np.array_equal(boxes, b0) and np.array_equal(scores, s0)


def test_non_finite_found_even_when_filtered_out():
    boxes = np.tile([[0.0, 0, 1, 1]], (4, 1))
    with pytest.raises(InputError, match=r"scores\[3\] is not finite"):
        nms(boxes, np.array([0.9, 0.8, 0.7, np.nan]), 0.5, score_threshold=0.5, pixel_convention=TV)
    boxes[2, 0] = np.inf
    with pytest.raises(InputError, match=r"boxes\[2\] has a non-finite coordinate"):
        nms(boxes, np.array([0.9, 0.8, 0.1, 0.2]), 0.5, score_threshold=0.5, pre_nms_top_k=1, pixel_convention=TV)
    with pytest.raises(InputError, match="iou must be"):
        nms(boxes, np.ones(4), float("inf"), pixel_convention=TV)


# ------------------------------------------------------------------------------------------ the score order
def _score_cases():
    rng = np.random.default_rng(21)
    yield "uniform", rng.random(5000)
    yield "rounded (long tied runs)", np.round(rng.random(5000), 2)
    yield "all equal", np.full(3000, 0.25)
    yield "signed zeros and tiny", np.array([0.0, -0.0, 0.0, -1e-50, 1e-50, -0.0, 5e-324, -5e-324, 1e300, -1e300])
    # many distinct float64 scores inside one float32 value: a run of equal sort keys longer than the insertion
    # sort limit, re-sorted by the float64 score
    yield "float32 collisions", 0.5 + rng.permutation(200) * 1e-13
    yield "float32 collisions, short runs", np.repeat(0.5 + np.arange(30) * 1e-4, 3) + np.tile([0, 1e-12, 2e-12], 30)
    yield "normal", rng.normal(size=4000)
    yield "float32 input", rng.random(3000).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("name, scores", list(_score_cases()), ids=[c[0] for c in _score_cases()])
def test_descending_score_order_is_the_stable_argsort(name, scores):
    from vocbench.nms._kernels import descending_score_order

    want = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(descending_score_order(scores, False, 0.0), want)
    rows = np.flatnonzero(scores > 0.3)
    np.testing.assert_array_equal(descending_score_order(scores, True, 0.3), rows[np.argsort(-scores[rows],
                                                                                                 kind="stable")])
    assert descending_score_order(scores[:0], False, 0.0).shape == (0,)


@pytest.mark.parametrize("seed", [0, 1])
def test_nms_tied_scores_on_detector_clusters_equal_torchvision(seed):
    torch, tv = _torch()
    from vocbench.bench.workloads import cluster_boxes

    gt = np.array([[10, 20, 200, 300], [150, 100, 350, 260], [300, 10, 480, 120.0]])
    boxes, scores = cluster_boxes(4000, gt, 500, 375, seed=seed)
    scores = np.round(scores, 2)  # long runs of tied scores: the stable order decides
    want = tv.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.45).numpy()
    assert np.array_equal(nms(boxes, scores, 0.45, pixel_convention=TV), want)


# ------------------------------------------------------------------------------------------ the grid kernel
@pytest.mark.slow
@pytest.mark.parametrize("offset", [0, 1])
def test_nms_equals_quadratic_kernel_on_clusters_every_threshold(offset):
    # the hints, levels and windows of the grid kernel against the textbook loop, at every kind of threshold,
    # with and without the pre-filters (a subset of the rows enters: the grid is sized from the subset)
    from vocbench.bench.workloads import cluster_boxes

    gt = np.array([[10, 20, 200, 300], [150, 100, 350, 260], [300, 10, 480, 120.0], [40, 40, 60, 52.0]])
    boxes, scores = cluster_boxes(12000, gt, 500, 375, seed=3 + offset)
    boxes[::97, 2] = boxes[::97, 0]  # some empty boxes (never suppress, never suppressed)
    order = np.argsort(-scores, kind="stable")
    for thr in (0.0, 0.1, 0.3, 0.45, 0.5, 0.7, 0.9, 1.0):
        want = order[greedy_nms_quadratic_kernel(boxes, order, thr, float(offset))]
        assert np.array_equal(nms(boxes, scores, thr, pixel_convention=CONV[offset]), want), thr
    sub = order[scores[order] > 0.2][:5000]
    want = sub[greedy_nms_quadratic_kernel(boxes, sub, 0.45, float(offset))]
    assert np.array_equal(nms(boxes, scores, 0.45, pixel_convention=CONV[offset], score_threshold=0.2,
                              pre_nms_top_k=5000),
                          want)


@pytest.mark.slow
def test_nms_equals_quadratic_kernel_on_wide_size_ranges():
    # box sides from 1e-3 to 1e9 (many size levels, the 48-level cap) and far-apart centres
    rng = np.random.default_rng(31)
    n = 4000
    side = 10.0 ** rng.uniform(-3, 9, (n, 1)) * np.exp(rng.normal(0, 0.3, (n, 2)))
    centre = rng.choice([0.0, 1e3, 1e9], (n, 1)) + rng.normal(0, 1, (n, 2)) * side
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1)
    scores = rng.random(n)
    order = np.argsort(-scores, kind="stable")
    for thr in (0.0, 0.2, 0.5):
        want = order[greedy_nms_quadratic_kernel(boxes, order, thr, 0.0)]
        assert np.array_equal(nms(boxes, scores, thr, pixel_convention=TV), want), thr


def test_huge_coordinates_overflow_like_torchvision():
    # above ~1e154 a box's area (and the intersection) overflow to inf, the IoU is inf/NaN = NaN, and NaN > t is
    # False: even identical boxes are then kept. torchvision (float64) computes exactly that, so nms does too
    base = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0.5, 0, 1.5, 1], [-1, -1, 1, 1.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    for scale, want in ((1.0, [0, 3]), (1e100, [0, 3]), (1e150, [0, 3]), (1e155, [0, 1, 2, 3]),
                        (1e200, [0, 1, 2, 3]), (1e300, [0, 1, 2, 3])):
        boxes = base * scale
        assert nms_ref(boxes, scores, 0.3) == want, scale
        assert nms(boxes, scores, 0.3, pixel_convention=TV).tolist() == want, scale
    # mixed with ordinary boxes the grid still finds every ordinary suppression
    rng = np.random.default_rng(2)
    boxes, scores = random_case(rng, 300, "continuous")
    boxes = np.concatenate([boxes, base * 1e200, base * 1e-200])
    scores = np.concatenate([scores, scores[:8]])
    assert nms(boxes, scores, 0.3, pixel_convention=TV).tolist() == nms_ref(boxes, scores, 0.3)


def test_huge_coordinates_equal_torchvision():
    torch, tv = _torch()
    base = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0.5, 0, 1.5, 1], [-1, -1, 1, 1.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    for scale in (1e100, 1e150, 1e154, 1e155, 1e200, 1e300):
        boxes = base * scale
        want = tv.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.3).numpy()
        assert np.array_equal(nms(boxes, scores, 0.3, pixel_convention=TV), want), scale


def test_iou_exceeds_is_the_same_decision_as_iou_above_threshold():
    # the branch-free decision of the NMS hot loop against the IoU kernel: every overlap case, exact-threshold
    # IoUs, empty/inverted boxes, overflowing coordinates
    from vocbench.boxes._kernels import iou_pair_areas, iou_pair_areas_exceeds

    rng = np.random.default_rng(8)
    a = np.round(rng.uniform(-5, 15, (400, 4)))
    b = np.round(rng.uniform(-5, 15, (400, 4)))
    pairs = [(a[q], b[q]) for q in range(400)]
    pairs += [(a[q], a[q]) for q in range(20)]
    big = np.array([0, 0, 1, 1.0])
    pairs += [(big * s, big * s) for s in (1e154, 1e155, 1e300)] + [(big * 1e300, -big * 1e300)]
    pairs += [(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0])), (np.array([0, 0, 0, 5.0]),) * 2]
    n_true = 0
    for p, q in pairs:
        for offset in (0.0, 1.0):
            with np.errstate(over="ignore"):
                ap = (p[2] - p[0] + offset) * (p[3] - p[1] + offset)
                aq = (q[2] - q[0] + offset) * (q[3] - q[1] + offset)
            iou = iou_pair_areas(*p, ap, *q, aq, offset)
            for t in (0.0, 1 / 3, 0.5, iou if iou == iou else 0.0, np.nextafter(iou, 0) if iou > 0 else 0.0, 1.0):
                got = iou_pair_areas_exceeds(*p, ap, *q, aq, offset, t)
                assert got == (iou > t), (p, q, offset, t)
                n_true += bool(got)
    assert n_true > 100  # the cases include real suppressions, not only zero overlaps


def test_grid_stays_small_when_centres_lie_on_a_line():
    # tiny boxes spread along one axis: the finest grid is sized by the boxes per length, not by the smallest side
    # (which asked for ~1e7 cells here); the result is still the greedy one
    from vocbench.nms._kernels import _grid_bounds, _grid_levels

    x = np.linspace(0.0, 1e3, 50)
    boxes = np.stack([x, np.zeros(50), x + 1e-6, np.full(50, 1e-6)], axis=1)
    boxes = np.concatenate([boxes, boxes + [5e-7, 0, 5e-7, 0]])
    scores = np.linspace(1.0, 0.0, 100)
    order = np.argsort(-scores, kind="stable")
    bounds, n_active, _ = _grid_bounds(boxes, order, 0.0, False)
    total = _grid_levels(bounds, n_active)[5]
    assert 0 < total <= 4 * n_active + 64
    assert nms(boxes, scores, 0.3, pixel_convention=TV).tolist() == nms_ref(boxes, scores, 0.3)


def test_first_non_finite_row_behind_rows_whose_sum_overflows():
    # the finiteness check sums a row's coordinates first: finite rows whose sum overflows are re-checked exactly
    boxes = np.array([[1e308, 1e308, 1.5e308, 1.5e308], [-1.7e308, -1.7e308, -1e308, -1e308], [0, 0, 1, 1.0],
                      [0, 0, 1, 1.0]])
    assert nms(boxes, np.ones(4), 0.5, pixel_convention=TV).tolist() == nms_ref(boxes, np.ones(4), 0.5)
    for bad in (np.nan, np.inf, -np.inf):
        b = boxes.copy()
        b[3, 1] = bad
        b[2, 3] = bad
        with pytest.raises(InputError, match=r"boxes\[2\] has a non-finite coordinate"):
            nms(b, np.array([0.9, 0.8, np.nan, 0.1]), 0.5, pixel_convention=TV)
