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
           "goal_table", "load_goals", "NMS_IOU"]

#: IoU threshold of the NMS benchmark (YOLOv2 and SSD use 0.45).
NMS_IOU = 0.45
#: torchvision's pixel convention (width = x2 - x1), under which the NMS rows compare keep sets and times
TV = "continuous"


def default_shared() -> Path:
    """The shared data folder: :func:`vocbench.paths.shared_dir`."""
    return shared_dir()


def _peer_row(suite, case, impl, n, prepare: Callable[[], Callable[[], object]], compare, ref_median, repeats,
              budget_s, warmup: int = 1) -> BenchRow:
    """Time a peer; ``compare(result) -> (agrees, note)``; a missing peer becomes a row with a note."""
    try:
        fn = prepare()
    except peers.PeerMissing as exc:
        return BenchRow(suite, case, impl, n, note=str(exc))
    try:
        times, result, _ = time_call(fn, repeats, warmup=warmup, budget_s=budget_s)
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
                if quick and kind == "uniform" and n > 10_000 and impl.startswith("torchvision CPU"):
                    # ~9 s a call, 4+ calls in alternation; the goals are on the cluster rows
                    rows.append(BenchRow("nms", case, impl, n, note="skipped in --quick (uniform n > 10k)"))
                    continue
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
                          lambda: (lambda: peers.numpy_iou_kmeans_curve(wh, ks, n_init=5)), cmp, med, 1, None,
                          warmup=0 if quick else 1))  # plain numpy has nothing to warm up: one ~60 s call
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
from vocbench.bench.suite_e2e import bench_e2e  # noqa: E402  (files -> 12 numbers, one process per tool)

SUITES["e2e"] = bench_e2e


def load_goals(path: str | Path | None = None) -> tuple[dict, ...]:
    """The goals a run is checked against: ``benchmarks/goals.json`` of the source checkout (or ``path``); none
    when the file is absent (an installed package: the goals are the project's, kept with its benchmarks)."""
    import json

    path = Path(path) if path is not None else Path(__file__).resolve().parents[2] / "benchmarks" / "goals.json"
    if not path.is_file():
        return ()
    return tuple(json.loads(path.read_text(encoding="utf-8"))["goals"])


def _goal_status(goal: dict, row: BenchRow, rows) -> tuple[str, str, str] | None:
    """(target, measured, status) of one goal on its row; None when the row has no measurement."""
    if "max_rss_mib" in goal:
        limit, peak = float(goal["max_rss_mib"]), row.peak_rss_mb
        if peak != peak:
            return None
        status = "met" if peak < limit else f"missed: {peak:.0f} MiB, target < {limit:.0f} MiB"
        return f"< {limit:.0f} MiB", f"{peak:.0f} MiB", status
    if goal.get("rss_below_peers"):
        others = [r.peak_rss_mb for r in rows if r.suite == row.suite and r.case == row.case and r is not row
                  and r.peak_rss_mb == r.peak_rss_mb]
        if row.peak_rss_mb != row.peak_rss_mb or not others:
            return None
        low = min(others)
        status = "met" if row.peak_rss_mb <= low else f"missed: {row.peak_rss_mb:.0f} MiB, target <= {low:.0f} MiB"
        return f"<= {low:.0f} MiB (lowest peer)", f"{row.peak_rss_mb:.0f} MiB", status
    target, ratio = float(goal["min_ratio"]), row.ratio
    if ratio != ratio:
        return None
    measured = _fmt_ratio(ratio)
    status = "met" if ratio >= target else f"missed: {measured}, target >= {target:g}x"
    if row.agrees is False:
        status += " (answers differ!)"
    return f">= {target:g}x", measured, status


def _fmt_ratio(ratio: float) -> str:
    """A measured ratio with the digits that tell it from a nearby target (``1.46x``, not ``1.5x``)."""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def goal_table(rows, goals=None) -> list[dict]:
    """The goals (default :func:`load_goals`) with the measured ratio or peak memory and, where missed, by how
    much. A goal's case matches a row whose case starts with it."""
    out: list[dict[str, Any]] = []
    for goal in (load_goals() if goals is None else goals):
        match = [r for r in rows if r.suite == goal["suite"] and r.case.startswith(goal["case"])
                 and r.impl == goal["impl"]]
        got = _goal_status(goal, match[0], rows) if match else None
        if got is None:
            if any(r.suite == goal["suite"] for r in rows):
                out.append({"goal": goal["goal"], "target": "", "measured": "n/a", "status": "not measured"})
            continue
        target, measured, status = got
        out.append({"goal": goal["goal"], "target": target, "measured": measured, "status": status})
    return out


def run_suites(names, quick: bool = False, shared: Path | None = None, progress=None, goals=None) -> BenchResult:
    """Run the named suites in order and collect a :class:`BenchResult` (machine info included), checked against
    ``goals`` (default :func:`load_goals`)."""
    rows: list[BenchRow] = []
    dataset = None
    durations: dict[str, float] = {}
    for name in names:
        t0 = time.perf_counter()
        if name == "nms":
            root = Path(shared or default_shared()) / "voc" / "VOCdevkit"
            if dataset is None and root.exists():
                import vocbench

                dataset = vocbench.load_voc(root, ["2007:test"])
            rows += bench_nms(quick, dataset=dataset, progress=progress)
        else:
            rows += SUITES[name](quick, shared=shared, progress=progress)
        durations[name] = time.perf_counter() - t0
    return BenchResult(rows=tuple(rows), machine=machine_info(), quick=quick, goals=tuple(goal_table(rows, goals)),
                       durations=durations)
