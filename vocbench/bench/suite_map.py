"""A short mAP speed comparison on any dataset and detections in memory (the demo's speed table: seconds, not
minutes): VOC07 mAP against the plain devkit loop (py-faster-rcnn's ``voc_eval.py``), and the COCO protocol against
faster-coco-eval (and hotcoco when installed), each timed after a warm-up call on the same data in the same run.

The full comparison on the real YOLOv2 set, with every peer and peak memory, is ``vocbench bench eval``
(:mod:`vocbench.bench.suite_eval`).
"""

from __future__ import annotations

import numpy as np

from vocbench.bench import peers
from vocbench.bench.harness import BenchRow, time_call

__all__ = ["bench_map_small", "devkit_inputs", "jittered_detections"]

#: the plain devkit loop's name in the rows (as in ``vocbench bench eval``)
DEVKIT_LOOP = "plain devkit loop (voc_eval.py)"


def devkit_inputs(dataset, dets) -> tuple[dict, dict]:
    """``voc_eval.py``'s inputs built from memory: (image id -> objects ``{"name", "bbox", "difficult"}``, class ->
    lines ``[image_id, score, x1, y1, x2, y2]``) for :func:`vocbench.bench.peers.devkit_voc_eval`."""
    ids = dataset.image_ids.tolist()
    names = list(dataset.classes)
    recs: dict[str, list] = {i: [] for i in ids}
    for i, c, b, d in zip(dataset.image_index.tolist(), dataset.class_index.tolist(), dataset.boxes.tolist(),
                          dataset.difficult.tolist()):
        recs[ids[i]].append({"name": names[c], "bbox": b, "difficult": int(d)})
    lines: dict[str, list] = {c: [] for c in names}
    for i, c, s, b in zip(dets.image_index.tolist(), dets.class_index.tolist(), dets.scores.tolist(),
                          dets.boxes.tolist()):
        lines[names[c]].append([ids[i], s, *b])
    return recs, lines


def jittered_detections(dataset, per_object: int = 3, seed: int = 0):
    """Detections made from ``dataset``'s objects: ``per_object`` jittered copies of each box with scores that fall
    with the jitter, plus as many random boxes (float64 VOC pixels, for when no detector output is at hand)."""
    from vocbench.structures import Detections

    rng = np.random.default_rng(seed)
    m = dataset.num_objects
    src = np.repeat(np.arange(m), per_object)
    boxes = dataset.boxes[src]
    wh = np.maximum(boxes[:, 2:] - boxes[:, :2], 1.0)
    noise = rng.normal(0, 0.1, (len(src), 4)) * np.tile(wh, 2)
    score = np.exp(-np.abs(noise).mean(axis=1) / wh.mean(axis=1) * 5)
    img = np.concatenate([dataset.image_index[src], rng.integers(0, dataset.num_images, len(src))])
    w, h = dataset.widths[img[len(src):]], dataset.heights[img[len(src):]]
    x0, y0 = rng.random(len(src)) * w * 0.8 + 1, rng.random(len(src)) * h * 0.8 + 1
    bg = np.stack([x0, y0, x0 + rng.random(len(src)) * w * 0.2 + 2, y0 + rng.random(len(src)) * h * 0.2 + 2], 1)
    return Detections(image_index=img, class_index=np.concatenate([dataset.class_index[src],
                                                                   rng.integers(0, dataset.num_classes, len(src))]),
                      scores=np.round(np.concatenate([score, rng.random(len(src)) * 0.5]), 6),
                      boxes=np.round(np.concatenate([boxes + noise, bg]), 2))


def _same_voc07(ours: dict, loop: dict, tol: float = 1e-9) -> tuple[bool, str]:
    """Per-class AP within ``tol`` of the loop's, over the classes vocbench defines (a class without ground truth
    is undefined, NaN, in vocbench; voc_eval.py says 0 or NaN there)."""
    defined = [c for c, v in ours.items() if v is not None and v == v]
    if not defined:
        return False, "no class with ground truth"
    worst = max(abs(loop[c] - ours[c]) if loop[c] == loop[c] else float("inf") for c in defined)
    skipped = len(ours) - len(defined)
    return bool(worst <= tol), (f"per-class AP max |diff| {worst:.1e} (tol {tol:g}) over {len(defined)} classes"
                                + (f"; {skipped} without ground truth (undefined) left out" if skipped else ""))


def _voc_rows(dataset, dets, label: str) -> list[BenchRow]:
    import vocbench

    case = f"VOC07 mAP, {label}"
    # voc_eval.py's conventions (IoU > 0.5, its 11-point thresholds) are vocbench's protocol="voc_eval"
    def run():
        return vocbench.evaluate(dataset, dets, metrics=("voc07",), protocol="voc_eval", iou=0.5)

    run()  # warm-up: the JIT compile or cache load is excluded
    times, res, _ = time_call(run, 15, warmup=0)
    med = float(np.median(times))
    per_class = res.to_dict()["voc07"]["per_class"]
    rows = [BenchRow.from_times("map", case, "vocbench", len(dets), times,
                                note=f"mAP {res.mAP['voc07']:.6f}, protocol='voc_eval' (IoU > 0.5)")]
    recs, lines = devkit_inputs(dataset, dets)
    times, got, _ = time_call(lambda: peers.devkit_voc_eval(recs, lines, dataset.classes), 1, warmup=0)
    agrees, note = _same_voc07(per_class, got["voc07"])
    rows.append(BenchRow.from_times("map", case, DEVKIT_LOOP, len(dets), times,
                                    ratio=float(np.median(times)) / med, agrees=agrees, note=note))
    return rows


def _coco_rows(dataset, dets, label: str, budget_s: float) -> list[BenchRow]:
    import vocbench
    from vocbench.bench.suite_eval import _coco_exact

    case = f"COCO mAP, {label}"
    def run():
        return vocbench.evaluate(dataset, dets, metrics=("coco",))

    run()  # warm-up: the JIT compile or cache load is excluded
    times, res, _ = time_call(run, 15, warmup=0)
    med = float(np.median(times))
    scores = res.coco
    rows = [BenchRow.from_times("map", case, "vocbench", len(dets), times,
                                note=f"AP {scores.stats['AP']:.6f}, AP50 {scores.stats['AP50']:.6f}")]
    gt, dt = peers.coco_gt_dict(dataset), peers.coco_det_list(dataset, dets)
    compare = _coco_exact(scores)
    for impl, prepare in (("faster-coco-eval", lambda: peers.prepare_faster_coco_eval(gt, dt, False)),
                          ("hotcoco (1 thread)", lambda: peers.prepare_hotcoco(gt, dt))):
        try:
            fn = prepare()
        except peers.PeerMissing as exc:
            rows.append(BenchRow("map", case, impl, len(dets), note=str(exc)))
            continue
        times, got, _ = time_call(fn, 3, warmup=1, budget_s=budget_s)
        agrees, note = compare(got)
        rows.append(BenchRow.from_times("map", case, impl, len(dets), times, ratio=float(np.median(times)) / med,
                                        agrees=agrees, note=note))
    return rows


def bench_map_small(dataset, dets=None, label: str = "", max_images: int = 1000,
                    budget_s: float = 8.0) -> list[BenchRow]:
    """VOC07 and COCO mAP of ``dets`` on the first ``max_images`` images of ``dataset`` (both in memory), vocbench
    against the plain devkit loop (run once), faster-coco-eval and hotcoco (timed within ``budget_s`` each).

    Args:
        dataset: the ground truth (:class:`~vocbench.structures.Dataset`).
        dets: :class:`~vocbench.structures.Detections` on it; None: :func:`jittered_detections` of the dataset.
        label: what the data is, for the case names (``"YOLOv2, VOC2007 test"``).
        max_images: the slow peers take seconds per thousand images: a larger set is cut to its first images.

    Returns:
        Rows of suite ``"map"``; ratio = peer's median time / vocbench's (> 1: vocbench is faster); agreement:
        per-class VOC07 AP within 1e-9 of the loop, the COCO stats and precision/recall arrays exactly.
    """
    peers.single_threaded_peers()
    if dets is None:
        dets = jittered_detections(dataset)
        label = label or "dets made from the GT"
    if dataset.num_images > max_images:
        dataset = dataset.subset_images(np.arange(dataset.num_images) < max_images)
        dets = dets.filter(dets.image_index < max_images)
    label = f"{label}, {dataset.num_images} images" if label else f"{dataset.num_images} images"
    return _voc_rows(dataset, dets, label) + _coco_rows(dataset, dets, label, budget_s)
