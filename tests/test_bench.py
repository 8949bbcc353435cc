"""The benchmark harness, peers and report (no timing assertions: only structure and agreement)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vocbench.bench import peers
from vocbench.bench.harness import BenchResult, BenchRow, machine_info, time_call
from vocbench.bench.suites import bench_nms, goal_table
from vocbench.bench.workloads import cluster_boxes, uniform_boxes
from vocbench.nms import nms


def test_time_call_counts_and_budget():
    calls = []
    times, res, first = time_call(lambda: calls.append(1) or len(calls), repeats=4, warmup=2)
    assert len(times) == 4 and len(calls) == 6 and res == 6 and first >= 0
    calls.clear()
    import time

    times, _, _ = time_call(lambda: time.sleep(0.02), repeats=50, warmup=1, budget_s=0.01)
    assert len(times) == 1  # the warm-up call was over budget: it is the measurement


def test_workloads_deterministic_and_valid():
    gt = np.array([[10, 20, 200, 300], [150, 100, 350, 260.0]])
    b1, s1 = cluster_boxes(2000, gt, 500, 375, seed=3)
    b2, s2 = cluster_boxes(2000, gt, 500, 375, seed=3)
    assert np.array_equal(b1, b2) and np.array_equal(s1, s2)
    assert b1.shape == (2000, 4) and np.all(b1[:, 2] >= b1[:, 0]) and np.all(b1[:, 3] >= b1[:, 1])
    assert b1[:, [0, 2]].min() >= 0 and b1[:, [0, 2]].max() <= 500 and b1[:, [1, 3]].max() <= 375
    assert (s1 >= 0.3).sum() == 1200  # the object share, scored above the background
    b, s = uniform_boxes(100, seed=1)
    assert b.shape == (100, 4) and np.all(b[:, 2:] - b[:, :2] >= 10)


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_peer_equals_nms(seed):
    boxes, scores = uniform_boxes(1500, seed=seed)
    assert np.array_equal(peers.numpy_nms(boxes, scores, 0.45), nms(boxes, scores, 0.45,
                                                                                 pixel_convention="continuous"))


def test_devkit_peer_on_a_tiny_case():
    recs = {"a": [{"name": "cat", "bbox": [1, 1, 10, 10], "difficult": 0},
                  {"name": "cat", "bbox": [20, 20, 30, 30], "difficult": 1}],
            "b": [{"name": "cat", "bbox": [1, 1, 10, 10], "difficult": 0}]}
    lines = {"cat": [["a", "0.9", "1", "1", "10", "10"], ["a", "0.8", "20", "20", "30", "30"],
                     ["b", "0.7", "50", "50", "60", "60"], ["b", "0.6", "1", "1", "10", "10"]]}
    ap = peers.devkit_voc_eval(recs, lines, ["cat"])
    # ranked: TP, (difficult: ignored), FP, TP → precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    assert ap["voc12"]["cat"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert ap["voc07"]["cat"] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


def test_numpy_kmeans_peer_matches_vocbench():
    from vocbench import anchors

    rng = np.random.default_rng(0)
    wh = rng.uniform(0.05, 1, (500, 2))
    init = wh[:4].copy()
    c, miou = peers.numpy_iou_kmeans(wh, init)
    est = anchors.IoUKMeans(4, init=init).fit(wh)
    assert miou == pytest.approx(est.mean_iou_, abs=1e-9)


def test_bench_nms_rows_agree_and_report_renders(tmp_path):
    rows = bench_nms(quick=True, sizes=(300, 900))
    vb = [r for r in rows if r.impl == "vocbench"]
    assert len(vb) == 4 and all(r.median_s > 0 for r in vb)
    for r in rows:
        if r.impl == "vocbench":
            continue
        if r.median_s == r.median_s:
            assert r.agrees is True, (r.impl, r.case, r.note)
            assert r.ratio > 0
        else:  # a row that did not run says why, and a peer failing on these inputs is not one of the reasons
            assert r.note.startswith(("no CUDA device", "peer not installed", "skipped")), (r.impl, r.note)
    result = BenchResult(rows=tuple(rows), machine=machine_info(), quick=True, goals=tuple(goal_table(rows)))
    text = str(result)
    assert "torchvision CPU (1 thread)" in text and "agrees" in text
    json.dumps(result.to_dict())  # JSON-ready (NaN handled by emit_json's to_jsonable)
    from vocbench.commands._common import to_jsonable

    json.dumps(to_jsonable(result.to_dict()), allow_nan=False)
    from tests.browser import assert_renders
    from vocbench.report.bench import write_bench_report

    path = write_bench_report(tmp_path / "bench.html", result)
    assert_renders(path, ["Summary", "NMS", "Notes"], min_svgs=2)


def test_missing_peer_row():
    def prep():
        raise peers.PeerMissing("peer not installed (nothing)")

    from vocbench.bench.suites import _peer_row

    row = _peer_row("nms", "c", "ghost", 1, prep, lambda r: (True, ""), 1.0, 1, None)
    assert row.note == "peer not installed (nothing)" and row.ratio != row.ratio and row.agrees is None


def test_goal_table_says_by_how_much():
    rows = [BenchRow("nms", "clusters n=1917", "vocbench", 1917, 1e-3, 1e-3, 1e-3, 1),
            BenchRow("nms", "clusters n=1917", "torchvision CPU (1 thread)", 1917, 5e-3, 5e-3, 5e-3, 1, ratio=5.0,
                     agrees=True)]
    g = goal_table(rows)
    first = [x for x in g if "1917" in x["goal"]][0]
    assert first["measured"] == "5.00x" and first["status"] == "missed: 5.00x, target >= 10x"


def test_peak_rss_call_sees_an_allocation():
    from vocbench.bench.harness import peak_rss_call

    def allocate():
        a = np.ones(40_000_000)  # 305 MiB, freed before the call returns
        return float(a[-1])

    res, peak, added = peak_rss_call(allocate)
    assert res == 1.0
    assert added >= 250 and peak >= added  # Linux VmHWM, reset just before the call
    _, _, small = peak_rss_call(lambda: 1)
    assert small < 50


def test_memory_goal_says_by_how_much():
    rows = [BenchRow("eval", "COCO protocol, 5M detections (VOC07 test)", "vocbench", 5_000_000, 3.0, 3.0, 3.0, 1,
                     peak_rss_mb=900.0, rss_added_mb=300.0)]
    g = [x for x in goal_table(rows) if "5M" in x["goal"]][0]
    assert g["status"] == "met" and g["measured"] == "900 MiB"
    rows = [BenchRow("eval", "COCO protocol, 5M detections (VOC07 test)", "vocbench", 5_000_000, peak_rss_mb=1100.0)]
    g = [x for x in goal_table(rows) if "5M" in x["goal"]][0]
    assert g["status"] == "missed: 1100 MiB, target < 1024 MiB"


def test_many_detections_is_deterministic():
    from vocbench.bench.suite_eval import many_detections
    from vocbench.structures import Detections

    d = Detections(image_index=[0, 1, 1], class_index=[0, 2, 2], scores=[0.9, 0.5, 0.4],
                   boxes=[[1, 1, 10, 10], [5, 5, 50, 60], [2, 3, 4, 5.0]])
    a, b = many_detections(d, target=10), many_detections(d, target=10)
    assert len(a) == 12 and np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
    assert np.array_equal(a.class_index, np.tile(d.class_index, 4)) and not np.array_equal(a.boxes[3:6], d.boxes)


@pytest.mark.filterwarnings("ignore::vocbench.errors.VocbenchWarning")
@pytest.mark.parametrize("peer", ["hotcoco", "ultrafast-pycocotools", "vernier", "pycocotools"])
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_coco_peers_agree_exactly_on_random_cases(peer, seed):
    """The bench's COCO peers, run through the bench's own adapters, give vocbench's arrays bit for bit: both
    the adapters and vocbench are checked against four independent implementations (ties, crowd, maxDets)."""
    from tests.test_coco import random_coco_case
    from vocbench import evaluate
    from vocbench.bench.suite_eval import _coco_exact

    prepare = {"hotcoco": peers.prepare_hotcoco, "ultrafast-pycocotools": peers.prepare_ultrafast_pycocotools,
               "vernier": peers.prepare_vernier,
               "pycocotools": lambda gt, dt: peers.prepare_pycocotools(gt, dt, False)}[peer]
    ds, dets = random_coco_case(seed)
    peers.single_threaded_peers()
    run = prepare(peers.coco_gt_dict(ds), peers.coco_det_list(ds, dets))
    scores = evaluate(ds, dets, metrics=["coco"]).coco
    agrees, note = _coco_exact(scores)(run())
    assert agrees, note


@pytest.mark.filterwarnings("ignore::vocbench.errors.VocbenchWarning")
def test_coco_exact_compare_catches_a_difference():
    from tests.test_coco import random_coco_case
    from vocbench import evaluate
    from vocbench.bench.suite_eval import _coco_exact

    ds, dets = random_coco_case(1)
    s = evaluate(ds, dets, metrics=["coco"]).coco
    peer_stats = np.nan_to_num(np.array(list(s.stats.values())), nan=-1.0)  # a peer says -1 where vocbench NaN
    same = {"AP": s.stats["AP"], "stats": peer_stats, "precision": s.precision.copy(),
            "recall": s.recall.copy()}
    assert _coco_exact(s)(same)[0] is True
    p = same["precision"]  # (may be a non-contiguous view: index it, a reshape(-1) would be a copy)
    at = np.unravel_index(int(np.argmax(p.reshape(-1) > 0)), p.shape)
    assert p[at] > 0
    p[at] = np.nextafter(p[at], 0.0)  # one ulp: within the stated tolerance (summation order), but said so
    agrees, note = _coco_exact(s)(same)
    assert agrees is True and "not bit-identical" in note
    p[at] -= 1e-6  # a real difference
    agrees, note = _coco_exact(s)(same)
    assert agrees is False and "precision max |diff|" in note


def test_numpy_curve_peer_matches_vocbench_curve():
    from vocbench.anchors import iou_kmeans_curve

    rng = np.random.default_rng(5)
    wh = np.exp(rng.normal(-1.5, 0.6, (2000, 2)))
    ours = [f.mean_iou_ for f in iou_kmeans_curve(wh, range(1, 6), n_init=3)]
    theirs = peers.numpy_iou_kmeans_curve(wh, range(1, 6), n_init=3)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-12)
    assert all(b >= a for a, b in zip(ours, ours[1:]))  # the curve never goes down


# ------------------------------------------------------------------------------------------ end to end (e2e)
def test_e2e_process_peak_is_the_childs_own(tmp_path):
    """The launcher reports the tool's own peak: a big parent's RSS is not inherited across fork/exec."""
    import sys

    from vocbench.bench.suite_e2e import run_process

    hold = np.ones(30_000_000)  # 229 MiB in this (the benchmark) process
    hold[-1] = 2.0
    _, small, out = run_process([sys.executable, "-c", "print(7)"], dict(__import__("os").environ))
    assert out.strip() == "7" and small < 60 < hold[-1] * 100
    wall, big, _ = run_process([sys.executable, "-c", "import numpy as np; a = np.ones(40_000_000); print(a[-1])"],
                               dict(__import__("os").environ))
    assert big >= 300 and wall > 0


def test_e2e_failing_tool_raises_with_its_message():
    import sys

    from vocbench.bench.suite_e2e import run_process

    with pytest.raises(RuntimeError, match="exit 3: boom"):
        run_process([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"],
                    dict(__import__("os").environ))


def test_e2e_rows_agreement_and_ratios():
    from vocbench.bench.suite_e2e import STAT_NAMES, _rows

    ref = np.linspace(0.1, 0.9, 12)
    off = ref.copy()
    off[4] += 1e-3
    res = {"vocbench": ([2.0, 1.0, 3.0], [100.0, 120.0, 110.0], ref.copy()),
           "ultrafast-pycocotools": ([4.0, 4.0, 5.0], [150.0] * 3, ref.copy()),
           "hotcoco": ([3.0, 3.0, 3.0], [200.0] * 3, off),
           "pycocotools": ([], [], ref.copy()),
           "vernier": "failed: RuntimeError: exit 1"}
    rows = {r.impl: r for r in _rows("coco", "COCO-scale files", 10, "x", "skipped here", res, "JIT (Numba)")}
    assert "; kernels: JIT (Numba);" in rows["vocbench"].note
    assert "kernels:" not in rows["hotcoco"].note
    assert rows["vocbench"].median_s == 2.0 and rows["vocbench"].peak_rss_mb == 120.0
    assert rows["ultrafast-pycocotools"].ratio == 2.0 and rows["ultrafast-pycocotools"].agrees is True
    assert rows["hotcoco"].agrees is False and STAT_NAMES[4] in rows["hotcoco"].note
    assert rows["vernier"].note.startswith("failed") and rows["vernier"].agrees is None
    assert rows["faster-coco-eval"].note in ("skipped here", "not installed (faster_coco_eval)")
    g = {x["goal"]: x for x in goal_table(list(rows.values()))}
    mem = [x for k, x in g.items() if "COCO-scale" in k and "RSS" in k][0]
    assert mem["status"] == "met" and mem["measured"] == "120 MiB"
    speed = [x for k, x in g.items() if "COCO-scale" in k and "hotcoco" in k][0]
    assert speed["measured"] == "1.50x" and speed["status"] == "missed: 1.50x, target >= 2x (answers differ!)"


def test_coco_sets_are_deterministic(tmp_path):
    import json

    from vocbench.bench.coco_sets import write_coco_set

    a = write_coco_set("tiny", tmp_path / "a")
    b = write_coco_set("tiny", tmp_path / "b")
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))
    gt, dt = json.loads(a[0].read_text()), json.loads(a[1].read_text())
    cats = [c["id"] for c in gt["categories"]]
    assert len(cats) == 80 and max(cats) == 90 and len(gt["images"]) == 60 and len(dt) == 60 * 30
    ann = gt["annotations"]
    assert all(x["area"] < x["bbox"][2] * x["bbox"][3] for x in ann)  # segment-like areas, not box areas
    assert {d["category_id"] for d in dt} <= set(cats) and {d["image_id"] for d in dt} <= {i["id"] for i in
                                                                                          gt["images"]}


def test_goals_live_with_the_benchmarks():
    from vocbench.bench import suites
    from vocbench.bench.suites import load_goals

    goals = load_goals()
    assert any(g["suite"] == "e2e" for g in goals) and all("goal" in g for g in goals)
    assert not hasattr(suites, "_GOALS") and ">= 5x" not in open(suites.__file__).read()


def test_report_shows_every_suite_of_the_run(tmp_path):
    from vocbench.bench.harness import BenchResult
    from vocbench.report.bench import write_bench_report

    suites = ["eval", "diagnose", "startup", "compare", "audit", "e2e", "somenew"]
    rows = tuple(BenchRow(s, f"case of {s}", "vocbench", 1, 1.0, 1.0, 1.0, 1) for s in suites)
    result = BenchResult(rows=rows, machine={"cpu": "x"}, quick=True, durations={s: 1.0 for s in suites})
    write_bench_report(tmp_path / "b.html", result)
    text = (tmp_path / "b.html").read_text()
    for s in suites:
        assert f"case of {s}" in text
    for title in ("Diagnosis", "Start-up", "Compare", "End to end", "somenew"):
        assert title in text
    assert "total 7 s" in text


def test_e2e_children_run_single_threaded_and_name_their_kernels(tmp_path):
    import subprocess
    import sys

    from vocbench.bench.coco_sets import write_coco_set
    from vocbench.bench.suite_e2e import _env, kernel_path

    env = _env()
    for var in ("RAYON_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        assert env[var] == "1"
    gt, dt = write_coco_set("tiny", tmp_path)
    path = kernel_path(gt, dt, env)
    # an independent witness: the import log of the command itself
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "vocbench", "eval", "--gt", str(gt), "--dets",
                           str(dt), "--metric", "coco", "--json", "-"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-500:]
    imported_numba = any(line.split("|")[-1].strip() == "numba" for line in done.stderr.splitlines())
    if imported_numba:
        assert path.startswith(("JIT (Numba)", "mixed: ")), path
    else:
        assert path == "native (ahead-of-time compiled; Numba not imported)"


@pytest.mark.parametrize("fmt", ["devkit", "csv", "yolo"])
def test_text_rows_compare_the_scanner_with_the_checked_reader(fmt, tmp_path, monkeypatch):
    from vocbench.bench.suite_io import _text_rows

    monkeypatch.setenv("VOCBENCH_CACHE_DIR", str(tmp_path))
    vb, old = _text_rows(fmt, True, 1, name="tiny")
    assert vb.impl == "vocbench" and old.impl.startswith("vocbench ") and "scanner off" in old.impl
    assert old.agrees is True and vb.n == old.n == 60 * 30 and old.ratio == old.ratio
    assert (tmp_path / "bench-sets" / "tiny-v1").is_dir()


def test_map_small_rows_agree_with_the_loop_and_faster_coco_eval():
    from tests.conftest import DATA
    from vocbench import load_voc
    from vocbench.bench.suite_map import _same_voc07, bench_map_small

    ds = load_voc(DATA / "voc_small", ["2007:trainval"], cache=False)
    rows = bench_map_small(ds, label="voc_small", budget_s=1.0)
    by = {(r.case.split(",")[0], r.impl): r for r in rows}
    assert by[("VOC07 mAP", "plain devkit loop (voc_eval.py)")].agrees is True
    assert by[("COCO mAP", "faster-coco-eval")].agrees is True
    assert all(r.ratio == r.ratio and r.ratio > 0 for r in rows if r.impl != "vocbench" and r.median_s == r.median_s)
    assert _same_voc07({"a": 0.5, "b": None}, {"a": 0.5, "b": 0.0})[0] is True  # undefined class left out
    assert _same_voc07({"a": 0.5}, {"a": 0.5 + 1e-6})[0] is False
