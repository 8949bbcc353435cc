"""``vocbench bench compare``: the image bootstrap of ``vocbench.compare`` on the real YOLOv2 vs YOLOv3 VOC2007-test
detections, against hotcoco's ``compare`` (COCO rules, Rust) and the naive route (build each resampled set
explicitly and score it with ``vocbench.evaluate``).

Rows (ratio = peer median / vocbench median, measured in the same run after JIT warm-up):

* VOC07+VOC12, R replicates: ``vocbench.compare(metrics=("voc07", "voc12"))`` end to end (matching included) vs
  the naive route, timed on a few replicates and scaled to R (the note says how many; its replicate values are
  checked against vocbench's to 1e-12).
* COCO AP@[.5:.95], R replicates: ``vocbench.compare(metrics=("coco",))`` end to end vs
  ``hotcoco.compare(eval_a, eval_b, n_bootstrap=R)`` (hotcoco's ``evaluate()`` done beforehand, untimed; it
  bootstraps all 12 summary numbers) — same point delta of AP required — and vs the naive route.

The intervals differ by design: hotcoco de-duplicates each draw into a set (its ``metrics/bootstrap.rs``: "a
sample holds roughly 63.2% of the units"), a subsample whose spread is about sqrt(1/0.632 - 1) = 0.76 of the image
bootstrap's; vocbench scores the resampled set as drawn, duplicates included.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from vocbench.bench.harness import BenchRow, time_call

__all__ = ["bench_compare", "CASE_VOC", "CASE_COCO"]

CASE_VOC = "bootstrap VOC07+VOC12, YOLOv2 vs YOLOv3"
CASE_COCO = "bootstrap COCO AP, YOLOv2 vs YOLOv3"


def _naive(dataset, dets: dict, weights: np.ndarray, metrics: tuple[str, ...]) -> np.ndarray:
    """mAP per replicate and model by scoring each explicitly resampled set: float64[K, r, M]."""
    from vocbench import evaluate
    from vocbench.compare import resample_dataset

    out = np.empty((len(metrics), len(weights), len(dets)))
    for r, w in enumerate(weights):
        for j, d in enumerate(dets.values()):
            rds, rdets = resample_dataset(dataset, d, w)
            res = evaluate(rds, rdets, metrics=metrics)
            for k, m in enumerate(metrics):
                out[k, r, j] = res.mAP[m]
    return out


def _naive_row(case, n, dataset, dets, metrics, cmp, replicates, n_naive, ref_median) -> BenchRow:
    from vocbench.compare import bootstrap_weights

    weights = bootstrap_weights(dataset.num_images, replicates, cmp.seed)[:n_naive]
    t0 = time.perf_counter()
    got = _naive(dataset, dets, weights, metrics)
    per_rep = (time.perf_counter() - t0) / n_naive
    diff = float(np.max(np.abs(got - cmp.replicates[:, :n_naive])))
    total = per_rep * replicates
    return BenchRow(suite="compare", case=case, impl=f"naive: resample + evaluate ({n_naive} of {replicates} timed)",
                    n=n, median_s=total, min_s=total, max_s=total, repeats=1, ratio=total / ref_median,
                    agrees=bool(diff <= 1e-12),
                    note=f"{per_rep:.2f} s per replicate x {replicates}; replicate mAP max |diff| {diff:.1e}")


def _dedup_interval(dataset, a, b, replicates: int, seed: int) -> tuple[float, float]:
    """95% interval of the COCO AP difference b - a with hotcoco's sampling convention (each draw de-duplicated),
    from vocbench's kernels on the same once-matched inputs: it should match hotcoco's within Monte Carlo error."""
    from vocbench.compare import bootstrap_weights
    from vocbench.compare._kernels import coco_bootstrap_kernel
    from vocbench.compare.prepare import prepare_coco
    from vocbench.eval.coco import COCO_REC_THRESHOLDS

    w = (bootstrap_weights(dataset.num_images, replicates, seed) > 0).astype(np.int32)
    maps = []
    for d in (a, b):
        c = prepare_coco(dataset, d)
        ap, _ = coco_bootstrap_kernel(w, c.class_offsets, c.det_image, c.kind, c.tp_mask, c.counted_mask, c.det_block,
                                      c.fp_run_end, c.num_thresholds, c.pos_offsets, c.pos_image, c.pos_count,
                                      COCO_REC_THRESHOLDS)
        maps.append(np.nanmean(ap, axis=1))
    lo, hi = np.quantile(maps[1] - maps[0], [0.025, 0.975])
    return float(lo), float(hi)


def _prepare_hotcoco(dataset, a, b, folder: Path):
    """hotcoco's ground truth, results and ``evaluate()`` for both models (untimed); the timed call is compare."""
    try:
        import hotcoco
    except ImportError:
        return None
    from vocbench.io.coco import detections_to_coco, export_coco

    (folder / "gt.json").write_text(json.dumps(export_coco(dataset)))
    gt = hotcoco.COCO(str(folder / "gt.json"))
    evals = []
    for d in (a, b):
        ev = hotcoco.COCOeval(gt, gt.load_res(detections_to_coco(dataset, d)), "bbox")
        ev.evaluate()
        evals.append(ev)
    return hotcoco, evals


def bench_compare(quick: bool = False, shared: Path | None = None, progress=None):
    """The three routes on YOLOv2 vs YOLOv3 (see the module docstring). ``quick``: fewer repeats and naive
    replicates; the COCO rows always draw the goal's 1000 replicates (hotcoco's compare then takes ~30 s)."""
    import vocbench
    from vocbench.bench.suites import default_shared
    from vocbench.compare import compare

    shared = Path(shared or default_shared())
    root = shared / "voc" / "VOCdevkit"
    d2 = shared / "voc" / "detections" / "yolov2-voc07test"
    d3 = shared / "voc" / "detections" / "yolov3-voc07test"
    if not (root.exists() and d2.exists() and d3.exists()):
        return [BenchRow("compare", CASE_VOC, "vocbench", note=f"real data not found under {shared}")]
    if progress:
        progress("compare: loading data")
    dataset = vocbench.load_voc(root, ["2007:test"])
    dets = {"yolov2": vocbench.read_detections(d2, dataset), "yolov3": vocbench.read_detections(d3, dataset)}
    n = sum(len(d) for d in dets.values())
    rows = []
    r_voc, r_coco = 2000, 1000
    repeats = 1 if quick else 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the YOLOv3 file's 3 inverted boxes
        # ---------------------------------------------------------------- VOC07 + VOC12
        if progress:
            progress(f"compare: VOC07+VOC12, {r_voc} replicates")
        case = f"{CASE_VOC}, R={r_voc}"
        times, cmp_voc, first = time_call(lambda: compare(dataset, dets, metrics=("voc07", "voc12"),
                                                          bootstrap=r_voc, seed=0), repeats, warmup=1)
        med = float(np.median(times))
        rows.append(BenchRow.from_times("compare", case, "vocbench", n, times,
                                        note=f"2 models, matching included; first call {first:.2f} s"))
        if progress:
            progress("compare: naive route (VOC)")
        rows.append(_naive_row(case, n, dataset, dets, ("voc07", "voc12"), cmp_voc, r_voc, 3 if quick else 10, med))

        # ---------------------------------------------------------------- COCO
        if progress:
            progress(f"compare: COCO, {r_coco} replicates")
        case = f"{CASE_COCO}, R={r_coco}"
        times, cmp_coco, first = time_call(lambda: compare(dataset, dets, metrics=("coco",), bootstrap=r_coco,
                                                           seed=0), repeats, warmup=1)
        med_c = float(np.median(times))
        pair = cmp_coco.pairs[0]
        rows.append(BenchRow.from_times("compare", case, "vocbench", n, times,
                                        note=f"AP diff {pair.diff:+.6f} [{pair.ci[0]:+.4f}, {pair.ci[1]:+.4f}]; "
                                             f"matching included; first call {first:.2f} s"))
        with tempfile.TemporaryDirectory(prefix="vocbench-bench-compare-") as tmp:
            if progress:
                progress(f"compare: hotcoco compare, n_bootstrap={r_coco}")
            prepared = _prepare_hotcoco(dataset, dets["yolov2"], dets["yolov3"], Path(tmp))
            if prepared is None:
                rows.append(BenchRow("compare", case, "hotcoco compare", n, note="peer not installed (hotcoco)"))
            else:
                hc, (ea, eb) = prepared
                # --quick: 1000 replicates of hotcoco take ~30 s of a 3-minute budget. It runs at R/20 and R/10
                # instead and its time at R is extrapolated on the line through the two (cost = setup + per
                # replicate); a negative slope from noise extrapolates to the R/10 time itself (in hotcoco's favour)
                r_hc = r_coco // 10 if quick else r_coco
                t_h, res, _ = time_call(lambda: hc.compare(ea, eb, n_bootstrap=r_hc, seed=0), 1, warmup=0)
                if quick:
                    t_half, _, _ = time_call(lambda: hc.compare(ea, eb, n_bootstrap=r_hc // 2, seed=0), 1, warmup=0)
                    slope = max((float(t_h[0]) - float(t_half[0])) / (r_hc - r_hc // 2), 0.0)
                    t_h = np.asarray([max(float(t_h[0]) - r_hc * slope, 0.0) + r_coco * slope or float(t_h[0])])
                delta = float(res["deltas"]["AP"])
                ci = res.get("ci") or {}
                lo, hi = ci.get("AP", {}).get("lower", float("nan")), ci.get("AP", {}).get("upper", float("nan"))
                agree = abs(delta - pair.diff) <= 1e-9
                dlo, dhi = _dedup_interval(dataset, dets["yolov2"], dets["yolov3"], r_coco, 0)
                version = getattr(hc, "__version__", "?")
                rows.append(BenchRow.from_times(
                    "compare", case, "hotcoco compare", n, t_h, ratio=float(np.median(t_h)) / med_c,
                    agrees=bool(agree), note=(f"--quick: timed at n_bootstrap={r_hc // 2} and {r_hc}, "
                                              f"extrapolated to {r_coco}; " if r_hc != r_coco else "")
                    + f"hotcoco {version}: AP delta {delta:+.6f} (vocbench {pair.diff:+.6f}); "
                                             f"its CI [{lo:+.4f}, {hi:+.4f}] de-duplicates each draw (vocbench so: "
                                             f"[{dlo:+.4f}, {dhi:+.4f}]); bootstraps all 12 summary numbers"))
        if progress:
            progress("compare: naive route (COCO)")
        rows.append(_naive_row(case, n, dataset, dets, ("coco",), cmp_coco, r_coco, 2 if quick else 5, med_c))
    return rows
