"""The four comparisons behind ``vocbench bench``: nms, eval, io, anchors. Each returns :class:`BenchRow` s."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vocbench.bench import peers
from vocbench.bench.harness import BenchResult, BenchRow, machine_info, time_call
from vocbench.bench.workloads import NMS_SIZES, cluster_boxes, pick_image, uniform_boxes
from vocbench.paths import shared_dir

__all__ = ["SUITES", "run_suites", "bench_nms", "bench_eval", "bench_io", "bench_anchors", "default_shared",
           "goal_table", "NMS_IOU"]

#: IoU threshold of the NMS benchmark (YOLOv2 and SSD use 0.45).
NMS_IOU = 0.45
#: torchvision's pixel convention (width = x2 - x1), under which the NMS rows compare keep sets and times
TV = "continuous"


def default_shared() -> Path:
    """The shared data folder: :func:`vocbench.paths.shared_dir`."""
    return shared_dir()


def _peer_row(suite, case, impl, n, prepare: Callable[[], Callable[[], object]], compare, ref_median, repeats,
              budget_s) -> BenchRow:
    """Time a peer; ``compare(result) -> (agrees, note)``; a missing peer becomes a row with a note."""
    try:
        fn = prepare()
    except peers.PeerMissing as exc:
        return BenchRow(suite, case, impl, n, note=str(exc))
    try:
        times, result, _ = time_call(fn, repeats, warmup=1, budget_s=budget_s)
    except Exception as exc:  # a peer that fails on this input is reported, not fatal
        return BenchRow(suite, case, impl, n, note=f"peer failed: {type(exc).__name__}: {str(exc)[:120]}")
    agrees, note = compare(result)
    med = float(np.median(times))
    return BenchRow.from_times(suite, case, impl, n, times, ratio=med / ref_median, agrees=agrees, note=note)


# ------------------------------------------------------------------------------------------------------ NMS
def _same_keep(ref: np.ndarray):
    def compare(got):
        got = np.asarray(got, np.int64)
        if np.array_equal(got, ref):
            return True, "same keep set and order"
        a, b = set(ref.tolist()), set(got.tolist())
        if a == b:
            return True, "same keep set (order differs)"
        return False, f"keep sets differ: {len(a - b)} only in vocbench, {len(b - a)} only in peer"
    return compare


def _paired_peer_row(suite, case, impl, n, prepare: Callable[[], Callable[[], object]], compare, ref_fn, repeats,
                     budget_s) -> BenchRow:
    """Time a peer in alternation with vocbench and give the ratio of the two medians from the same time windows:
    on a shared, loaded machine a load spike then slows both sides instead of only one. Times are the calling
    thread's CPU time (both run single-threaded in it), so preemption by other processes, which a long peer call
    always absorbs and a short vocbench call mostly escapes, does not enter either side.

    Each round is one peer call, then one untimed vocbench call (its caches were just evicted by the peer), then
    vocbench calls for about as long as the peer call took (3 to 50). At least 3 rounds, at most
    ``4 * repeats``, within ``budget_s``.
    """
    try:
        fn = prepare()
    except peers.PeerMissing as exc:
        return BenchRow(suite, case, impl, n, note=str(exc))
    clock = time.thread_time
    try:
        t0 = clock()
        result = fn()  # warm-up
        t_peer = clock() - t0
        t0 = clock()
        ref_fn()
        t_ref = clock() - t0
        k = int(min(50, max(3, round(t_peer / max(t_ref, 1e-9)))))
        peer_t: list[float] = []
        ref_t: list[float] = []
        start = time.perf_counter()  # the budget is wall time
        for r in range(max(3, 4 * repeats)):
            t0 = clock()
            result = fn()
            peer_t.append(clock() - t0)
            ref_fn()
            for _ in range(k):
                t0 = clock()
                ref_fn()
                ref_t.append(clock() - t0)
            if r >= 2 and time.perf_counter() - start > budget_s:
                break
    except Exception as exc:  # a peer that fails on this input is reported, not fatal
        return BenchRow(suite, case, impl, n, note=f"peer failed: {type(exc).__name__}: {str(exc)[:120]}")
    agrees, note = compare(result)
    ref_med = float(np.median(ref_t))
    return BenchRow.from_times(suite, case, impl, n, peer_t, ratio=float(np.median(peer_t)) / ref_med, agrees=agrees,
                               note=f"{note}; times: thread CPU; ratio vs vocbench timed alternately "
                                    f"({ref_med * 1e3:.3g} ms median of {len(ref_t)})")


def bench_nms(quick: bool = False, dataset=None, sizes=NMS_SIZES, progress: Callable[[str], None] | None = None):
    """vocbench.nms vs torchvision (CPU, 1 thread; CUDA when present), numpy greedy NMS, OpenCV NMSBoxes."""
    from vocbench.nms import nms
    from vocbench.nms._kernels import greedy_nms_quadratic_kernel

    if dataset is not None:
        gt, width, height, image_id = pick_image(dataset, seed=0)
        cluster_src = f"VOC2007 test image {image_id}"
    else:  # no real data: three fixed objects in a VOC-sized image
        gt, width, height = np.array([[48, 240, 195, 371], [8, 12, 352, 498], [200, 50, 300, 200.0]]), 375.0, 500.0
        cluster_src = "three fixed objects"
    rows = []
    repeats = 5 if quick else 15
    budget = 1.5 if quick else 10.0
    nms(np.zeros((1, 4)), np.ones(1), 0.5)  # JIT warm-up (compile excluded from every timing)
    slow_skip: dict[str, float] = {}
    for kind in ("clusters", "uniform"):
        for n in sizes:
            if kind == "clusters":
                boxes, scores = cluster_boxes(n, gt, width, height, seed=n)
            else:
                boxes, scores = uniform_boxes(n, seed=n)
            case = f"{kind} n={n}"
            if progress:
                progress(f"nms {case}")
            times, ref, _ = time_call(lambda: nms(boxes, scores, NMS_IOU, pixel_convention=TV), repeats * 2, warmup=2,
                                      budget_s=max(budget, 1.0))
            ref = np.asarray(ref)
            med = float(np.median(times))
            rows.append(BenchRow.from_times("nms", case, "vocbench", n, times,
                                            note=f"{len(ref)} kept, IoU > {NMS_IOU}; {cluster_src}"
                                            if kind == "clusters" else f"{len(ref)} kept, IoU > {NMS_IOU}"))
            cmp = _same_keep(ref)
            order = np.argsort(-scores, kind="stable")
            cands = [
                ("torchvision CPU (1 thread)", lambda: peers.prepare_torchvision_nms(boxes, scores, NMS_IOU)),
                ("torchvision CUDA", lambda: peers.prepare_torchvision_nms(boxes, scores, NMS_IOU, "cuda")),
                ("numpy greedy (py_cpu_nms)", lambda: (lambda: peers.numpy_nms(boxes, scores, NMS_IOU))),
                ("OpenCV dnn.NMSBoxes (1 thread)", lambda: peers.prepare_opencv_nms(boxes, scores, NMS_IOU)),
                ("vocbench O(n*kept) loop (numba)",
                 lambda: (lambda: order[greedy_nms_quadratic_kernel(boxes, order, NMS_IOU, 0.0)])),
            ]
            for impl, prep in cands:
                key = f"{kind}/{impl}"
                if quick and impl.startswith("vocbench O(n") and n > 10_000:
                    rows.append(BenchRow("nms", case, impl, n, note="skipped in --quick (n > 10k)"))
                    continue
                if key in slow_skip:
                    rows.append(BenchRow("nms", case, impl, n, note=f"skipped: {slow_skip[key]:.1f} s per call at a "
                                                                     f"smaller n (--quick)"))
                    continue
                if impl.startswith("torchvision CPU"):  # the goal's peer: timed in alternation with vocbench
                    row = _paired_peer_row("nms", case, impl, n, prep, cmp,
                                           lambda: nms(boxes, scores, NMS_IOU, pixel_convention=TV), repeats, budget)
                else:
                    row = _peer_row("nms", case, impl, n, prep, cmp, med, repeats, budget)
                rows.append(row)
                if quick and row.median_s == row.median_s and row.median_s * 3 > 4.0 and "torchvision CPU" not in impl:
                    slow_skip[key] = row.median_s
    return rows


# ----------------------------------------------------------------------------------------------------- eval
def bench_eval(quick: bool = False, shared: Path | None = None, progress=None):
    """VOC07/VOC12 and COCO scoring vs the peers, with peak RSS (:mod:`vocbench.bench.suite_eval`)."""
    from vocbench.bench.suite_eval import bench_eval as run

    return run(quick, shared=shared, progress=progress)


# -------------------------------------------------------------------------------------------------- anchors
def bench_anchors(quick: bool = False, shared: Path | None = None, progress=None):
    """The mean-IoU-vs-k curve (k = 1..15, 5 restarts each, as ``vocbench anchors`` computes it) on the VOC07+12
    trainval boxes vs the same algorithm in plain numpy (same starts, same stopping rule)."""
    import numba

    import vocbench
    from vocbench.anchors import iou_kmeans_curve, normalized_wh

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    if not root.exists():
        return [BenchRow("anchors", "IoU k-means curve", "vocbench", note=f"real data not found under {shared}")]
    ds = vocbench.load_voc(root, ["2007:trainval", "2012:trainval"])
    wh = normalized_wh(ds)
    ks = range(1, 16)
    case = f"IoU k-means curve k=1..15 x 5 restarts, VOC07+12 trainval ({len(wh)} boxes)"
    if progress:
        progress("anchors")
    iou_kmeans_curve(wh[:300], [1, 2, 3], n_init=2)  # JIT warm-up
    # ~1 s a call beside the peer's tens of seconds: the median of 3 (5) even in --quick, on a box shared with others
    times, fits, _ = time_call(lambda: iou_kmeans_curve(wh, ks, n_init=5), 3 if quick else 5, warmup=0)
    ref = [f.mean_iou_ for f in fits]
    med = float(np.median(times))
    threads = numba.get_num_threads()
    rows = [BenchRow.from_times("anchors", case, "vocbench", len(wh), times,
                                note=f"random restarts on {threads} worker thread(s) (identical to serial), "
                                     "mean IoU " + " ".join(f"{v:.4f}" for v in ref))]

    def cmp(res):
        diff = max(abs(a - b) for a, b in zip(res, ref))
        return bool(diff <= 1e-12), f"mean IoU per k max |diff| {diff:.1e}; numpy peer single-threaded"

    if progress:
        progress("anchors: plain numpy curve (tens of seconds)")
    rows.append(_peer_row("anchors", case, "plain numpy k-means", len(wh),
                          lambda: (lambda: peers.numpy_iou_kmeans_curve(wh, ks, n_init=5)), cmp, med, 1, None))
    return rows


# ------------------------------------------------------------------------------------------------------ all
from vocbench.bench import suite_io  # noqa: E402  (alternating XML rows, start-up rows)
from vocbench.bench.suite_diagnose import bench_diagnose  # noqa: E402  (it imports default_shared lazily)
from vocbench.bench.suite_io import bench_io  # noqa: E402

SUITES: dict[str, Callable[..., list[BenchRow]]] = {"nms": bench_nms, "eval": bench_eval, "io": bench_io,
                                                   "anchors": bench_anchors, "diagnose": bench_diagnose,
                                                   "startup": suite_io.bench_startup}
from vocbench.bench.suite_compare import bench_compare  # noqa: E402  (image bootstrap vs hotcoco and the naive route)

SUITES["compare"] = bench_compare
from vocbench.bench.suite_audit import bench_audit  # noqa: E402  (dataset audit and label-error ranks, issue 25)

SUITES["audit"] = bench_audit

_GOALS = [
    ("nms", "clusters n=1917", "torchvision CPU (1 thread)", 10.0, "NMS >= 10x torchvision CPU at 1917 boxes"),
    ("io", "XML parse VOC07+12 trainval (cold)", "xml.etree loop (voc_eval parse_rec)", 2.5,
     "VOC XML reader >= 2.5x xml.etree loop"),
    ("startup", "whole process, warm caches", "vocbench eval (YOLOv2, VOC07 test)", 1.0,
     "vocbench eval process <= 0.4 s (ratio 0.4 s / measured)"),
    ("nms", "clusters n=100000", "torchvision CPU (1 thread)", 50.0, "NMS >= 50x torchvision CPU at 100k boxes"),
    ("eval", "VOC07+VOC12 mAP, YOLOv2 VOC07 test", "faster-coco-eval, IoU 0.5 only", 30.0,
     "VOC07+VOC12 >= 30x faster-coco-eval IoU-0.5 run"),
    ("eval", "VOC07+VOC12 mAP, YOLOv2 VOC07 test", "plain devkit loop (voc_eval.py)", 100.0,
     "VOC07+VOC12 >= 100x plain devkit loop"),
    ("eval", "COCO protocol, YOLOv2 VOC07 test", "faster-coco-eval", 10.0, "COCO protocol >= 10x faster-coco-eval"),
    ("eval", "COCO protocol, YOLOv2 VOC07 test", "hotcoco", 5.0, "COCO protocol >= 5x hotcoco (1 thread)"),
    ("eval", "COCO protocol, YOLOv2 VOC07 test", "ultrafast-pycocotools", 5.0,
     "COCO protocol >= 5x ultrafast-pycocotools (1 thread)"),
    ("anchors", "IoU k-means curve k=1..15 x 5 restarts", "plain numpy k-means", 25.0,
     "anchor curve >= 25x the plain-numpy twin"),
    ("diagnose", "TIDE errors (COCO rules), YOLOv2 VOC07 test", "tidecv 1.0.1", 50.0, "diagnose (COCO) >= 50x tidecv"),
    ("compare", "bootstrap COCO AP, YOLOv2 vs YOLOv3, R=1000", "hotcoco compare", 10.0,
     "COCO bootstrap (compare) >= 10x hotcoco compare, n_bootstrap=1000"),
]


#: (suite, case, impl, limit MiB, text): peak resident memory goals.
_MEMORY_GOALS = [
    ("eval", "COCO protocol, 5M detections (VOC07 test)", "vocbench", 1024.0,
     "scoring 5M detections: process peak RSS < 1 GB"),
]


def goal_table(rows) -> list[dict]:
    """The issue's goals with the measured ratio (or peak memory) and, where missed, by how much. A goal's case
    matches a row whose case starts with it."""
    out: list[dict[str, Any]] = []
    for suite, case, impl, limit, text in _MEMORY_GOALS:
        match = [r for r in rows if r.suite == suite and r.case.startswith(case) and r.impl == impl]
        if not match or match[0].peak_rss_mb != match[0].peak_rss_mb:
            if any(r.suite == suite for r in rows):
                out.append({"goal": text, "target": f"< {limit:.0f} MiB", "measured": "n/a", "status": "not measured"})
            continue
        peak = match[0].peak_rss_mb
        status = "met" if peak < limit else f"MISSED by {peak - limit:.0f} MiB"
        out.append({"goal": text, "target": f"< {limit:.0f} MiB", "measured": f"{peak:.0f} MiB", "status": status})
    for suite, case, impl, target, text in _GOALS:
        match = [r for r in rows if r.suite == suite and r.case.startswith(case) and r.impl == impl]
        if not match or match[0].ratio != match[0].ratio:
            if any(r.suite == suite for r in rows):
                out.append({"goal": text, "target": f">= {target:g}x", "measured": "n/a", "status": "not measured"})
            continue
        ratio = match[0].ratio
        status = "met" if ratio >= target else f"MISSED by {target / ratio:.1f}x"
        if match[0].agrees is False:
            status += " (answers differ!)"
        out.append({"goal": text, "target": f">= {target:g}x", "measured": f"{ratio:.1f}x", "status": status})
    return out


def run_suites(names, quick: bool = False, shared: Path | None = None, progress=None) -> BenchResult:
    """Run the named suites in order and collect a :class:`BenchResult` (machine info included)."""
    rows: list[BenchRow] = []
    dataset = None
    for name in names:
        if name == "nms":
            root = Path(shared or default_shared()) / "voc" / "VOCdevkit"
            if dataset is None and root.exists():
                import vocbench

                dataset = vocbench.load_voc(root, ["2007:test"])
            rows += bench_nms(quick, dataset=dataset, progress=progress)
        else:
            rows += SUITES[name](quick, shared=shared, progress=progress)
    return BenchResult(rows=tuple(rows), machine=machine_info(), quick=quick, goals=tuple(goal_table(rows)))
