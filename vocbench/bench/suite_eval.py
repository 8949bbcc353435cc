"""``vocbench bench eval``: VOC07/VOC12 and COCO scoring of the real YOLOv2 detections on VOC2007 test against the
peers, with peak memory, and the memory of scoring 5M detections.

Every COCO peer runs on *loaded* data (its ``COCO`` objects and ``loadRes`` built beforehand) and is timed on
``COCOeval(gt, dt, "bbox")`` + ``evaluate`` + ``accumulate`` + ``summarize``; vocbench on ``evaluate(dataset,
detections, metrics="coco")`` from its loaded ``Dataset`` / ``Detections``. Agreement for the full COCO rows is
exact: the 12 stats and pycocotools' ``precision[T, R, K, A, M]`` / ``recall[T, K, A, M]`` arrays bit for bit.
The Rust peers run with one rayon thread (``RAYON_NUM_THREADS=1``) like every other row. vocbench, hotcoco and
ultrafast-pycocotools (the ratios closest to the goals) are timed in alternation, one call each per round, so that
load from other work on the machine slows them alike; the slow peers are timed in a block after them.

Memory: each implementation's peak RSS is measured in a fresh process (``python -m vocbench.bench.suite_eval``)
that loads the same inputs, makes one warm-up call where that matters (JIT, lazy imports), resets the kernel's
peak counter and makes one call (:func:`~vocbench.bench.harness.peak_rss_call`): "peak" is that process's resident
high-water mark (interpreter, libraries and loaded data included, as hotcoco's benchmarks report RSS), "+" what
the call added to what was resident before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vocbench.bench import peers
from vocbench.bench.harness import BenchRow, alternate, peak_rss_call, time_call

__all__ = ["bench_eval", "CASE_VOC", "CASE_COCO", "CASE_5M", "IMPLS", "many_detections"]

CASE_VOC = "VOC07+VOC12 mAP, YOLOv2 VOC07 test"
CASE_COCO = "COCO protocol, YOLOv2 VOC07 test"
CASE_5M = "COCO protocol, 5M detections (VOC07 test)"
NUMPY_ENGINE = "vocbench numpy engine (no Numba import)"


def _voc_compare(vb: dict, metric_key: str, tol: float):
    def compare(res):
        got = res[metric_key]
        diffs = [abs(got[c] - vb[c]) for c in vb if c in got and got[c] == got[c]]
        worst = max(diffs) if diffs else float("nan")
        return bool(worst <= tol), f"per-class AP max |diff| {worst:.1e} (tol {tol:g})"
    return compare


#: Largest |difference| in the COCO stats, precision and recall arrays still called agreement (float rounding of
#: a sum in another order is ~1e-16; a real difference of one detection's outcome is >= 1e-4).
_COCO_TOL = 1e-12


def _coco_exact(scores):
    """Compare a peer's ``{"stats", "precision", "recall"}`` with vocbench's :class:`CocoScores`, bit for bit."""
    # the peers report pycocotools' -1 where vocbench says NaN (undefined)
    ref_stats = np.nan_to_num(np.array(list(scores.stats.values()), np.float64), nan=-1.0)

    def compare(res):
        if "precision" not in res:  # torchmetrics returns only its summary numbers
            diff = abs(res["AP"] - scores.stats["AP"])
            return bool(diff <= 1e-12), f"AP {res['AP']:.6f} vs vocbench {scores.stats['AP']:.6f} (only AP returned)"
        same_p = np.array_equal(res["precision"], scores.precision)
        same_r = np.array_equal(res["recall"], scores.recall)
        dstats = float(np.max(np.abs(res["stats"] - ref_stats)))
        if same_p and same_r and dstats == 0.0:
            return True, (f"identical 12 stats, precision {scores.precision.shape} and recall arrays "
                          f"(AP {ref_stats[0]:.6f})")
        dp = float(np.max(np.abs(res["precision"] - scores.precision))) if res["precision"].shape == \
            scores.precision.shape else float("nan")
        dr = float(np.max(np.abs(res["recall"] - scores.recall))) if res["recall"].shape == \
            scores.recall.shape else float("nan")
        worst = max(dstats, dp, dr)
        # a last-bit difference of a float sum (2.2e-16) is agreement: say the tolerance and what differed
        return bool(worst <= _COCO_TOL), (f"equal within {_COCO_TOL:g}, not bit-identical: " if worst <= _COCO_TOL
                                          else "") + \
            f"stats max |diff| {dstats:.1e}, precision max |diff| {dp:.1e}, recall max |diff| {dr:.1e}"
    return compare


class _Inputs:
    """The shared inputs, built once per process: dataset, detections, the COCO export and devkit-style dicts."""

    def __init__(self, shared: Path) -> None:
        import vocbench

        self.root = shared / "voc" / "VOCdevkit"
        self.det_dir = shared / "voc" / "detections" / "yolov2-voc07test"
        self.dataset = vocbench.load_voc(self.root, ["2007:test"])
        self.dets = vocbench.read_detections(self.det_dir, self.dataset)
        self._gt: dict | None = None
        self._dt: list | None = None

    @property
    def gt(self) -> dict:
        if self._gt is None:
            self._gt = peers.coco_gt_dict(self.dataset)
        return self._gt

    @property
    def dt(self) -> list:
        if self._dt is None:
            self._dt = peers.coco_det_list(self.dataset, self.dets)
        return self._dt

    def devkit(self):
        recs = peers.parse_voc_xml_plain(self.root, ["2007:test"])
        recs = {k.split("/", 1)[1]: v for k, v in recs.items()}
        lines = peers.parse_det_lines_plain(self.det_dir, self.dataset.classes)
        return lambda: peers.devkit_voc_eval(recs, lines, self.dataset.classes)


def _vocbench_voc(x: _Inputs, engine: str = "numba"):
    import vocbench

    # the Numba kernels, warm (as a process that scores repeatedly ends up with them); "numpy": what a one-shot
    # `vocbench eval` runs without importing Numba (vocbench.eval.engine)
    return lambda: vocbench.evaluate(x.dataset, x.dets, metrics=("voc07", "voc12"), protocol="devkit", iou=0.5,
                                     engine=engine)


def _vocbench_coco(x: _Inputs):
    import vocbench

    return lambda: vocbench.evaluate(x.dataset, x.dets, metrics=("coco",))


#: (case, implementation) -> builder of the timed zero-argument callable from the shared inputs. The memory child
#: process builds the same callable from the same inputs.
IMPLS = {
    (CASE_VOC, "vocbench"): _vocbench_voc,
    (CASE_VOC, NUMPY_ENGINE): lambda x: _vocbench_voc(x, "numpy"),
    (CASE_VOC, "plain devkit loop (voc_eval.py)"): _Inputs.devkit,
    (CASE_VOC, "faster-coco-eval, IoU 0.5 only"): lambda x: peers.prepare_faster_coco_eval(x.gt, x.dt, True),
    (CASE_VOC, "pycocotools, IoU 0.5 only"): lambda x: peers.prepare_pycocotools(x.gt, x.dt, True),
    (CASE_VOC, "torchmetrics mAP, IoU 0.5 only"): lambda x: peers.prepare_torchmetrics(x.dataset, x.dets, True),
    (CASE_COCO, "vocbench"): _vocbench_coco,
    (CASE_COCO, "hotcoco"): lambda x: peers.prepare_hotcoco(x.gt, x.dt),
    (CASE_COCO, "ultrafast-pycocotools"): lambda x: peers.prepare_ultrafast_pycocotools(x.gt, x.dt),
    (CASE_COCO, "vernier"): lambda x: peers.prepare_vernier(x.gt, x.dt),
    (CASE_COCO, "faster-coco-eval"): lambda x: peers.prepare_faster_coco_eval(x.gt, x.dt, False),
    (CASE_COCO, "pycocotools"): lambda x: peers.prepare_pycocotools(x.gt, x.dt, False),
    (CASE_COCO, "torchmetrics mAP"): lambda x: peers.prepare_torchmetrics(x.dataset, x.dets, False),
}
#: Implementations whose memory is measured after a warm-up call (the others: on their first call; they take
#: seconds and hold nothing to warm up).
_WARM_FOR_MEMORY = {"vocbench", "hotcoco", "ultrafast-pycocotools"}


def _memory_child(shared: Path, case: str, impl: str) -> dict:
    """Peak RSS of one call of ``IMPLS[(case, impl)]`` in this (fresh) process, its inputs loaded first."""
    peers.single_threaded_peers()
    x = _Inputs(shared)
    fn = IMPLS[(case, impl)](x)
    if impl in _WARM_FOR_MEMORY:
        fn()
    _, peak, added = peak_rss_call(fn)
    return {"peak_mib": peak, "added_mib": added}


def _memory_in_child(shared: Path, case: str, impl: str) -> tuple[float, float]:
    """``(peak MiB, added MiB)`` of one call in a fresh process (``python -m vocbench.bench.suite_eval``)."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "vocbench.bench.suite_eval", str(shared), case, impl],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory child for {impl!r} failed (exit {proc.returncode}): {tail}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["peak_mib"], out["added_mib"]


def _measure(x: _Inputs, shared: Path, case: str, impl: str, repeats: int, describe=None, ref_median=None,
             compare=None, memory: bool = True, warmup: int = 1) -> tuple[BenchRow, Any]:
    """Time ``IMPLS[(case, impl)]`` here (one warm-up call, then ``repeats``) and, with ``memory``, its peak RSS in
    a fresh process.

    A missing peer library or a peer failing on this input becomes a row that says so; vocbench's own rows raise.
    """
    n = len(x.dets)
    own = impl == "vocbench"
    try:
        fn = IMPLS[(case, impl)](x)
    except peers.PeerMissing as exc:
        return BenchRow("eval", case, impl, n, note=str(exc)), None
    try:
        times, res, _ = time_call(fn, repeats, warmup=warmup)
        peak, added = _memory_in_child(shared, case, impl) if memory else (float("nan"), float("nan"))
    except Exception as exc:
        if own:
            raise
        return BenchRow("eval", case, impl, n, note=f"peer failed: {type(exc).__name__}: {str(exc)[:120]}"), None
    med = float(np.median(times))
    kw = {}
    if ref_median is not None:
        kw["ratio"] = med / ref_median
    if compare is not None:
        kw["agrees"], note = compare(res)
    else:
        note = describe(res) if describe else ""
    row = BenchRow.from_times("eval", case, impl, n, times, note=note, peak_rss_mb=peak, rss_added_mb=added, **kw)
    return row, res


def _measure_alternating(x: _Inputs, shared: Path, case: str, impls: tuple[str, ...], rounds: int):
    """Time vocbench (``impls[0]``) and fast peers of the COCO case in alternation: one warm-up call each, then
    ``rounds`` rounds calling each once in turn, so that other work on a shared machine slows them alike (a block of
    repeats per implementation lets a burst of load land on one of them); peak RSS in a fresh process each.

    Returns ``(rows, scores)``: one row per implementation (peers with ratio and exact agreement against vocbench's
    :class:`~vocbench.eval.results.CocoScores`, which is returned). A missing or failing peer becomes a row that
    says so and leaves the rotation.
    """
    n = len(x.dets)
    fns: dict[str, Any] = {}
    notes: dict[str, str] = {}
    results: dict[str, Any] = {}
    for impl in impls:
        try:
            fns[impl] = IMPLS[(case, impl)](x)
            results[impl] = fns[impl]()  # warm-up (JIT, lazy imports, index building)
        except Exception as exc:
            if impl == impls[0]:
                raise
            fns.pop(impl, None)
            notes[impl] = str(exc) if isinstance(exc, peers.PeerMissing) else \
                f"peer failed: {type(exc).__name__}: {str(exc)[:120]}"
    times, last = alternate(fns, rounds, warmup=0)  # each was warmed up above
    results.update(last)
    scores = results[impls[0]].coco
    compare = _coco_exact(scores)
    ref = float(np.median(times[impls[0]]))
    rows = []
    for impl in impls:
        if impl not in fns:
            rows.append(BenchRow("eval", case, impl, n, note=notes[impl]))
            continue
        peak, added = _memory_in_child(shared, case, impl)
        kw: dict[str, Any] = {}
        if impl == impls[0]:
            note = f"AP {scores.stats['AP']:.6f}, AP50 {scores.stats['AP50']:.6f}; timed in alternation with the " \
                   f"rows below ({rounds} rounds)"
        else:
            kw["agrees"], note = compare(results[impl])
            kw["ratio"] = float(np.median(times[impl])) / ref
        rows.append(BenchRow.from_times("eval", case, impl, n, times[impl], note=note, peak_rss_mb=peak,
                                        rss_added_mb=added, **kw))
    return rows, scores


def many_detections(dets, target: int = 5_000_000, seed: int = 0):
    """``dets`` tiled to at least ``target`` rows, boxes jittered by N(0, 2) px (rounded to 0.1) and scores scaled by
    U(0.9, 1): a detector without a score threshold (~1,000 boxes per image on VOC07 test). Deterministic."""
    from vocbench.structures import Detections

    reps = int(np.ceil(target / max(len(dets), 1)))
    rng = np.random.default_rng(seed)
    boxes = np.tile(dets.boxes, (reps, 1))
    boxes += rng.normal(0.0, 2.0, boxes.shape).round(1)
    scores = np.tile(dets.scores, reps) * rng.uniform(0.9, 1.0, len(boxes))
    return Detections(image_index=np.tile(dets.image_index, reps), class_index=np.tile(dets.class_index, reps),
                      scores=scores, boxes=boxes, source=f"{dets.source or 'detections'} x{reps} (jittered)")


def bench_eval(quick: bool = False, shared: Path | None = None, progress=None) -> list[BenchRow]:
    """VOC07/VOC12 and COCO scoring of the real YOLOv2 detections on VOC2007 test vs the peers (time here, peak RSS
    of one call in a fresh process per implementation), and vocbench's peak RSS scoring 5M detections."""
    import vocbench
    from vocbench.bench.suites import default_shared

    peers.single_threaded_peers()
    shared = Path(shared or default_shared())
    if not ((shared / "voc" / "VOCdevkit").exists() and (shared / "voc" / "detections" / "yolov2-voc07test").exists()):
        return [BenchRow("eval", CASE_VOC, "vocbench", note=f"real data not found under {shared}")]
    if progress:
        progress("eval: loading data")
    x = _Inputs(shared)
    repeats = 3 if quick else 7
    slow_repeats = 1 if quick else 3
    rows: list[BenchRow] = []

    # ---- VOC07 + VOC12
    row, row_res = _measure(x, shared, CASE_VOC, "vocbench", repeats,
                            describe=lambda r: f"mAP07 {r.mAP['voc07']:.6f}, mAP12 {r.mAP['voc12']:.6f}")
    rows.append(row)
    med = row.median_s
    rows.append(_measure(x, shared, CASE_VOC, NUMPY_ENGINE, repeats, ref_median=med, compare=lambda r: (
        all(np.array_equal(r.voc[0].ap[m], row_res.voc[0].ap[m], equal_nan=True) for m in ("voc07", "voc12"))
        and np.array_equal(r.voc[0].outcome, row_res.voc[0].outcome), "APs and outcomes identical to the Numba "
        "engine; ratio = numpy / Numba time"))[0])
    # the port's conventions (IoU > 0.5, numpy 11-point thresholds) are vocbench's protocol="voc_eval": compare like
    # with like (the timed vocbench run above uses the devkit protocol; both cost the same)
    d_port = vocbench.evaluate(x.dataset, x.dets, metrics=("voc07", "voc12"), protocol="voc_eval", iou=0.5).to_dict()

    def cmp_devkit(r):
        a, na = _voc_compare(d_port["voc07"]["per_class"], "voc07", 1e-9)(r)
        b, nb = _voc_compare(d_port["voc12"]["per_class"], "voc12", 1e-9)(r)
        return a and b, f"VOC07 {na}; VOC12 {nb} (against vocbench protocol='voc_eval')"

    if progress:
        progress("eval: devkit loop")
    rows.append(_measure(x, shared, CASE_VOC, "plain devkit loop (voc_eval.py)", slow_repeats, ref_median=med,
                         compare=cmp_devkit, memory=not quick, warmup=0 if quick else 1)[0])

    # ---- COCO: vocbench and the two fastest peers in alternation (load on a shared box hits them alike)
    if progress:
        progress("eval: COCO, vocbench, hotcoco and ultrafast-pycocotools in alternation")
    fast_rows, scores = _measure_alternating(x, shared, CASE_COCO, ("vocbench", "hotcoco", "ultrafast-pycocotools"),
                                             7 if quick else 15)
    row_c = fast_rows[0]
    vb_ap50 = scores.stats["AP50"]

    def cmp_ap50(r):
        diff = abs(r["AP50"] - vb_ap50)
        note = f"AP50 {r['AP50']:.6f} vs vocbench COCO AP50 {vb_ap50:.6f} (101-point, not VOC AP)"
        return bool(diff <= 1e-12), note

    # --quick: the slow peers run once each, their peak RSS only without --quick (a fresh process each)
    slow_memory = not quick
    # (and pycocotools, 15-20 s a call, not a goal's peer: faster-coco-eval, its C++ port, stands in)
    slow_warmup = 0 if quick else 1  # pure Python / C++ peers: no JIT to warm up
    for impl in ("faster-coco-eval, IoU 0.5 only", "pycocotools, IoU 0.5 only", "torchmetrics mAP, IoU 0.5 only"):
        if quick and impl.startswith(("torchmetrics", "pycocotools")):
            rows.append(BenchRow("eval", CASE_VOC, impl, len(x.dets), note="skipped in --quick (tens of seconds)"))
            continue
        if progress:
            progress(f"eval: {impl}")
        rows.append(_measure(x, shared, CASE_VOC, impl, slow_repeats, ref_median=med, compare=cmp_ap50,
                             memory=slow_memory, warmup=slow_warmup)[0])
    rows.extend(fast_rows)
    cmp = _coco_exact(scores)
    for impl in ("vernier", "faster-coco-eval", "pycocotools", "torchmetrics mAP"):
        if quick and impl in ("torchmetrics mAP", "pycocotools"):
            rows.append(BenchRow("eval", CASE_COCO, impl, len(x.dets), note="skipped in --quick (tens of seconds)"))
            continue
        if progress:
            progress(f"eval coco: {impl}")
        rows.append(_measure(x, shared, CASE_COCO, impl, slow_repeats, ref_median=row_c.median_s, compare=cmp,
                             memory=slow_memory, warmup=slow_warmup)[0])

    # ---- memory at scale
    if progress:
        progress("eval: 5M detections")
    rows.append(_row_5m(shared))
    return rows


def _row_5m(shared: Path) -> BenchRow:
    """Score 5M detections in a fresh process (``python -m vocbench.bench.suite_eval SHARED``) so that its peak RSS
    is vocbench's alone: interpreter, libraries, the loaded VOC07 test set and the 5M detections included."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "vocbench.bench.suite_eval", str(shared)], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"5M-detection child process failed (exit {proc.returncode}): {tail}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return BenchRow.from_times("eval", CASE_5M, "vocbench", out["n"], [out["seconds"]], peak_rss_mb=out["peak_mib"],
                               rss_added_mb=out["added_mib"],
                               note=f"AP {out['AP']:.6f}; YOLOv2 x{out['reps']} with boxes jittered; one call in a "
                                    f"fresh process (peak = its whole RSS high-water mark, data loaded before: "
                                    f"{out['before_mib']:.0f} MiB)")


def _child_5m(shared: str) -> dict:
    import time
    import warnings

    import vocbench

    root = Path(shared) / "voc" / "VOCdevkit"
    dataset = vocbench.load_voc(root, ["2007:test"])
    dets = vocbench.read_detections(Path(shared) / "voc" / "detections" / "yolov2-voc07test", dataset)
    small = vocbench.evaluate(dataset, dets, metrics=("coco",))  # compile / load the kernels first
    big = many_detections(dets)
    del small
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res: Any
        res, peak, added = peak_rss_call(lambda: vocbench.evaluate(dataset, big, metrics=("coco",)))
        seconds = time.perf_counter() - t0
    return {"n": len(big), "reps": int(np.ceil(5e6 / len(dets))), "seconds": seconds, "peak_mib": peak,
            "added_mib": added, "before_mib": peak - added, "AP": res.coco.stats["AP"]}


if __name__ == "__main__":  # the memory children: SHARED (5M detections) or SHARED CASE IMPL
    import json
    import sys

    if len(sys.argv) == 2:
        print(json.dumps(_child_5m(sys.argv[1])))
    else:
        print(json.dumps(_memory_child(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
