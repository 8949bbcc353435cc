"""The demo: every main job of vocbench on its built-in synthetic data (and on real VOC when found), linked from
one ``index.html``. :func:`run_demo` is the library function behind ``vocbench demo``.

Steps (each one's report is linked from ``OUT/index.html``; a step that cannot run here is noted as skipped, a
step that fails is noted and counted in :attr:`DemoResult.failed`, and the others still run):

1. synthesise a VOC-format dataset in ``OUT/data/VOCdevkit`` (:func:`vocbench.synth.generate`);
2. its dataset report with anchors, side by side with VOC07+12 trainval when the real annotations are found;
3. detectors on the synthetic test split from the ``vocbench.demo`` plug-ins (the reference detectors: their
   committed weights scored, checked against onnxruntime and profiled), then vocbench's diagnosis of each and
   the comparison of the first two;
4. with the real VOC annotations: the VOC07+12 dataset report, the real YOLOv2 detections on VOC2007 test scored
   and diagnosed, and YOLOv2 compared with YOLOv3;
5. a short speed table (NMS and mAP, vocbench against the usual tools, as ratios measured in the same run);
6. ``OUT/index.html``.
"""

from __future__ import annotations

import functools
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vocbench.errors import VocbenchError

if TYPE_CHECKING:
    import pandas as pd

    from vocbench.structures import Dataset, Detections

__all__ = ["run_demo", "DemoResult", "DemoReport", "find_voc", "speed_table", "DEMO_SEED", "DEFAULT_IMAGES",
           "QUICK_IMAGES"]

#: Seed of the demo's synthetic set: not a seed the reference models are trained on, so its test split is unseen.
DEMO_SEED = 1000
#: Images synthesised by default (a few minutes for the whole demo on 2 CPU cores) and with ``quick``.
DEFAULT_IMAGES, QUICK_IMAGES = 800, 120
#: IoU threshold of the NMS rows in the speed table (torchvision's usual 0.5).
_NMS_IOU = 0.5


def find_voc(explicit: str | os.PathLike | None = None) -> Path | None:
    """The real VOCdevkit to use: ``explicit``, ``$VOCBENCH_SHARED/voc/VOCdevkit`` or ``../shared/voc/VOCdevkit``.

    Raises:
        VocbenchError: ``explicit`` is given but holds no ``VOC2007`` folder.
    """
    if explicit:
        root = Path(explicit)
        if not (root / "VOC2007").is_dir():
            raise VocbenchError(f"--voc {explicit}: expected a VOCdevkit folder holding VOC2007/ (and VOC2012/)")
        return root
    from vocbench.paths import find_voc_devkit

    return find_voc_devkit()


@dataclass(frozen=True)
class DemoReport:
    """One report the demo wrote.

    Attributes:
        title: link text on the index.
        path: the HTML file.
        description: one sentence on what it shows.
        seconds: how long the step took.
    """

    title: str
    path: Path
    description: str = ""
    seconds: float = float("nan")


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What :func:`run_demo` did.

    Attributes:
        out: the output folder.
        index: ``OUT/index.html``.
        reports: every report written, in index order.
        notes: one line per skipped or failed step.
        failed: number of steps that failed (0 on success).
        seconds: wall time of the whole demo.
        voc_root: the real VOCdevkit used, or None.
        speed: the speed table (one row per implementation and case), or None when that step did not run.
    """

    out: Path
    index: Path
    reports: tuple[DemoReport, ...]
    notes: tuple[str, ...]
    failed: int
    seconds: float
    voc_root: Path | None = None
    speed: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "index": str(self.index), "failed": self.failed,
            "seconds": round(self.seconds, 2), "voc_root": str(self.voc_root) if self.voc_root else None,
            "reports": [{"title": r.title, "path": str(r.path), "description": r.description,
                         "seconds": round(r.seconds, 2)} for r in self.reports],
            "notes": list(self.notes),
            "speed": [] if self.speed is None else self.speed.to_dict(orient="records"),
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per report: title, path, seconds."""
        import pandas as pd

        return pd.DataFrame([{"title": r.title, "path": str(r.path), "seconds": r.seconds} for r in self.reports])

    def __str__(self) -> str:
        lines = [f"vocbench demo: {len(self.reports)} reports in {self.seconds:.0f} s"
                 + (f", {self.failed} step(s) FAILED" if self.failed else "")]
        lines += [f"  {r.title}: {r.path}" for r in self.reports]
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"Open {self.index}")
        return "\n".join(lines)


class _Skip(Exception):
    """A step that cannot run here (its data or an optional plug-in is not available)."""


class _Steps:
    """Runs the demo's steps, timing each and collecting reports, notes and failures."""

    def __init__(self, log: Callable[[str], None], debug: bool) -> None:
        self.log, self.debug = log, debug
        self.reports: list[DemoReport] = []
        self.notes: list[str] = []
        self.failed = 0

    def add(self, title: str, path: Path, description: str, seconds: float) -> None:
        self.reports.append(DemoReport(title, Path(path), description, seconds))
        self.log(f"  wrote {path} ({seconds:.1f} s)")

    def run(self, label: str, fn: Callable[[], Any]) -> tuple[Any, float] | None:
        from vocbench.plugins import PluginUnavailable

        self.log(f"[demo] {label} ...")
        start = time.perf_counter()
        try:
            result = fn()
        except (_Skip, PluginUnavailable) as exc:
            self.notes.append(f"{label}: skipped — {exc}")
            self.log(f"  skipped: {exc}")
            return None
        except Exception as exc:  # noqa: BLE001 — a failing step must not hide the others' reports
            self.failed += 1
            self.notes.append(f"{label}: FAILED — {type(exc).__name__}: {exc}")
            self.log(f"  FAILED: {type(exc).__name__}: {exc}")
            if self.debug:
                traceback.print_exc()
            return None
        return result, time.perf_counter() - start


def _diagnosis_and_comparison(steps: _Steps, out: Path, dataset: Dataset, detections: dict[str, Detections],
                              where: str, stem: str) -> None:
    """Diagnose every detector in ``detections`` and compare the first two (vocbench.diagnose / compare)."""
    for name, dets in detections.items():
        def one(name: str = name, dets: Detections = dets) -> Path:
            from vocbench.diagnose import diagnose
            from vocbench.report.diagnose import write_diagnosis_report

            result = diagnose(dataset, dets)
            return write_diagnosis_report(out / f"{stem}_{_slug(name)}_diagnosis.html", dataset, result, dets,
                                          title=f"Diagnosis: {name} on {where}")

        res = steps.run(f"{name} on {where}: diagnosis", one)
        if res:
            steps.add(f"{name} on {where}: diagnosis", res[0],
                      "where the AP goes: TIDE error types (VOC rules), sensitivity by object size, aspect, "
                      "truncation and occlusion, confusion between classes", res[1])
    if len(detections) >= 2:
        (a, da), (b, db) = list(detections.items())[:2]

        def pair() -> Path:
            from vocbench.compare import compare
            from vocbench.report.compare import write_compare_report

            result = compare(dataset, {a: da, b: db})
            return write_compare_report(out / f"{stem}_{_slug(a)}_vs_{_slug(b)}.html", dataset, result)

        res = steps.run(f"{a} vs {b} on {where}: comparison", pair)
        if res:
            steps.add(f"{a} vs {b} on {where}", res[0],
                      "paired image bootstrap of the mAP difference, per-class differences and how stable the "
                      "ranking is", res[1])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def speed_table(dataset: Dataset, detections: Detections | None = None, *, devkit: str | os.PathLike | None = None,
                sets: Sequence[str] = (), nms_sizes: Sequence[int] = (2_000, 10_000), repeats: int = 5,
                budget_s: float = 1.0, map_images: int | None = 500) -> pd.DataFrame:
    """A short NMS/mAP speed table: vocbench against the usual tools, timed after warm-up in the same run.

    NMS: boxes clustered around one image's objects of ``dataset`` (:func:`vocbench.bench.workloads.cluster_boxes`),
    vocbench vs the numpy greedy loop (py_cpu_nms) and torchvision CPU (1 thread) when installed. mAP (when
    ``detections`` are given): VOC07 + VOC12 AP by vocbench vs the voc_eval.py port (it reads the annotation XMLs of
    ``sets`` under ``devkit`` and the detections as devkit files), COCO AP by vocbench vs pycocotools when installed;
    on the first ``map_images`` images only (None = all), so that the slow peers take seconds, not minutes.

    Returns:
        One row per implementation and case: ``task, case, impl, n, median_ms, ratio`` (the peer's median time
        over vocbench's on the same case: > 1 means vocbench is faster), ``agrees`` (same keep set / same AP) and
        ``note``.
    """
    import tempfile

    import pandas as pd

    from vocbench.bench import peers
    from vocbench.bench.harness import time_call
    from vocbench.bench.workloads import cluster_boxes, pick_image
    from vocbench.eval import evaluate
    from vocbench.nms import nms

    rows: list[dict[str, Any]] = []

    def timed(task: str, case: str, impl: str, n: int, fn: Callable[[], Any], ref_ms: float | None,
              agree: Callable[[Any], tuple[bool, str]] | None) -> tuple[float, Any]:
        try:
            times, result, _ = time_call(fn, repeats, warmup=1, budget_s=budget_s)
        except peers.PeerMissing as exc:
            rows.append({"task": task, "case": case, "impl": impl, "n": n, "median_ms": float("nan"),
                         "ratio": float("nan"), "agrees": None, "note": str(exc)})
            return float("nan"), None
        ms = float(np.median(times)) * 1e3
        ok, note = agree(result) if agree else (None, "")
        rows.append({"task": task, "case": case, "impl": impl, "n": n, "median_ms": ms,
                     "ratio": ms / ref_ms if ref_ms else float("nan"), "agrees": ok, "note": note})
        return ms, result

    gt, width, height, image_id = pick_image(dataset, seed=0)
    nms(np.zeros((1, 4)), np.ones(1), _NMS_IOU)  # JIT warm-up outside every timing
    for n in nms_sizes:
        boxes, scores = cluster_boxes(n, gt, width, height, seed=n)
        case = f"NMS of {n} boxes (IoU {_NMS_IOU}), image {image_id}"
        ref_ms, keep = timed("nms", case, "vocbench", n, functools.partial(nms, boxes, scores, _NMS_IOU), None, None)
        ref_set = set(np.asarray(keep).tolist())

        def same(k: Any, ref_set: set = ref_set) -> tuple[bool, str]:
            k = set(np.asarray(k).tolist())
            return k == ref_set, f"{len(k)} kept" + ("" if k == ref_set else f", {len(k ^ ref_set)} differ")

        timed("nms", case, "numpy greedy (py_cpu_nms)", n,
              functools.partial(peers.numpy_nms, boxes, scores, _NMS_IOU), ref_ms, same)
        try:
            run_tv = peers.prepare_torchvision_nms(boxes, scores, _NMS_IOU)
        except peers.PeerMissing as exc:
            rows.append({"task": "nms", "case": case, "impl": "torchvision CPU (1 thread)", "n": n,
                         "median_ms": float("nan"), "ratio": float("nan"), "agrees": None, "note": str(exc)})
        else:
            timed("nms", case, "torchvision CPU (1 thread)", n, run_tv, ref_ms, same)

    if detections is not None and map_images is not None and dataset.num_images > map_images:
        # the first images keep their indices under subset_images, so the detections stay valid as they are
        dataset = dataset.subset_images(np.arange(dataset.num_images) < map_images)
        detections = detections.filter(images=range(map_images))
    if detections is not None:
        case = f"VOC07 + VOC12 mAP, {len(detections)} detections on {dataset.num_images} images"
        ref_ms, res = timed("map", case, "vocbench", len(detections),
                            lambda: evaluate(dataset, detections, metrics=("voc07", "voc12"), protocol="voc_eval"),
                            None, None)
        per_class = {m: res.to_dict()[m]["per_class"] for m in ("voc07", "voc12")}
        if devkit is not None and sets:
            from vocbench.io.detections import write_devkit

            recs = {k.split("/", 1)[1]: v for k, v in peers.parse_voc_xml_plain(Path(devkit), list(sets)).items()}
            recs = {image_id: recs[image_id] for image_id in dataset.image_ids.tolist()}  # the images scored
            with tempfile.TemporaryDirectory(prefix="vocbench-demo-") as tmp:
                write_devkit(detections, dataset, tmp)
                for cls in dataset.classes:  # voc_eval.py opens every class file
                    (Path(tmp) / f"comp4_det_test_{cls}.txt").touch()
                lines = peers.parse_det_lines_plain(tmp, dataset.classes)

            def same_ap(r: Any) -> tuple[bool, str]:
                diffs = [abs(r[m][c] - v) for m in per_class for c, v in per_class[m].items()
                         if c in r[m] and v == v and r[m][c] == r[m][c]]
                worst = max(diffs) if diffs else float("nan")
                return bool(worst <= 1e-9), f"per-class AP max |diff| {worst:.1e} (vocbench protocol='voc_eval')"

            timed("map", case, "voc_eval.py port (python loop)", len(detections),
                  lambda: peers.devkit_voc_eval(recs, lines, dataset.classes), ref_ms, same_ap)
        case = f"COCO AP@[.5:.95], {len(detections)} detections on {dataset.num_images} images"
        ref_ms, res = timed("map", case, "vocbench", len(detections),
                            lambda: evaluate(dataset, detections, metrics=("coco",)), None, None)
        ap = res.to_dict()["coco"]["AP"]
        try:
            run_coco = peers.prepare_pycocotools(peers.coco_gt_dict(dataset), peers.coco_det_list(dataset, detections),
                                                 False)
        except peers.PeerMissing as exc:
            rows.append({"task": "map", "case": case, "impl": "pycocotools", "n": len(detections),
                         "median_ms": float("nan"), "ratio": float("nan"), "agrees": None, "note": str(exc)})
        else:
            timed("map", case, "pycocotools", len(detections), run_coco, ref_ms,
                  lambda r: (bool(abs(r["AP"] - ap) <= 2e-3), f"AP {r['AP']:.4f} vs vocbench {ap:.4f}"))
    return pd.DataFrame(rows, columns=["task", "case", "impl", "n", "median_ms", "ratio", "agrees", "note"])


def run_demo(out: str | os.PathLike = "demo_out", *, images: int | None = None, seed: int = DEMO_SEED,
             voc: str | os.PathLike | None = None, use_voc: bool = True, quick: bool = False, models: bool = True,
             speed: bool = True, progress: bool = False, log: Callable[[str], None] | None = None,
             debug: bool = False) -> DemoResult:
    """Run the demo into ``out`` and write ``out/index.html`` linking every report.

    Args:
        out: output folder (created; the synthetic data goes to ``out/data``).
        images: synthetic images (default :data:`DEFAULT_IMAGES`, :data:`QUICK_IMAGES` with ``quick``; >= 10).
        seed: seed of the synthetic set.
        voc: the real VOCdevkit (default: found by :func:`find_voc`); ``use_voc=False`` leaves real VOC out.
        quick: a small synthetic set and a shorter anchor analysis (k = 1..9, no Euclidean baseline).
        models: run the ``vocbench.demo`` plug-ins (the reference detectors).
        speed: add the NMS/mAP speed table.
        progress: progress bars (terminal only).
        log: called with one line per step (e.g. ``print``); None = silent.
        debug: print the traceback of a failing step.

    Returns:
        A :class:`DemoResult`; ``failed`` counts the steps that failed (their notes say why).

    Raises:
        VocbenchError: ``images`` < 10, ``voc`` is not a VOCdevkit, or the synthetic set cannot be written.
    """
    import pandas as pd

    from vocbench.io.voc import load_voc
    from vocbench.synth import generate

    say = log or (lambda _line: None)
    out = Path(out)
    n_images = images if images is not None else (QUICK_IMAGES if quick else DEFAULT_IMAGES)
    if n_images < 10:
        raise VocbenchError(f"images must be at least 10 for the demo, got {n_images}")
    voc_root = find_voc(voc) if use_voc else None
    out.mkdir(parents=True, exist_ok=True)
    anchor_options: dict[str, Any] = {"curve": range(1, 10), "n_init": 3, "sse_baseline": False} if quick else {}
    steps = _Steps(say, debug)
    total_start = time.perf_counter()
    say(f"[demo] writing to {out}" + (f"; real VOC annotations: {voc_root}" if voc_root else
                                      "; real VOC annotations not found (synthetic data only)"))

    # 1. synthetic data
    res = steps.run(f"synthesising {n_images} images (seed {seed})",
                    lambda: generate(out / "data", images=n_images, seed=seed, progress=progress))
    if res is None:
        raise VocbenchError(f"{out / 'data'}: could not write the synthetic dataset ({'; '.join(steps.notes)})")
    devkit, synth_seconds = res
    synth = load_voc(devkit, ["2007:trainval", "2007:test"], cache=False)
    synth_test = synth.split("2007:test")
    say(f"  {synth.num_images} images, {synth.num_objects} objects in {devkit} ({synth_seconds:.1f} s)")
    voc_trainval = voc_test = None
    if voc_root is not None:
        voc_trainval = load_voc(voc_root, ["2007:trainval", "2012:trainval"])
        voc_test = load_voc(voc_root, ["2007:test"])

    # 2. synthetic dataset report
    def synth_report() -> Path:
        from vocbench.anchors import analyze_dataset_anchors
        from vocbench.report.dataset import anchor_sections, dataset_sections
        from vocbench.report.html import ReportMeta, write_report
        from vocbench.report.index import synthetic_sections

        compare = [("VOC07+12 trainval", voc_trainval)] if voc_trainval is not None else None
        sections = synthetic_sections(synth, devkit / "VOC2007", voc=voc_trainval, voc_test=voc_test)
        sections += dataset_sections(synth, compare=compare, name="synthetic")
        sections += anchor_sections(analyze_dataset_anchors(synth, **anchor_options))
        meta = ReportMeta(data=f"{devkit} — synthetic VOC, seed {seed}: {synth.num_images} images, "
                               f"{int((~synth.difficult).sum())} non-difficult objects",
                          extra={"compared with": "VOC07+12 trainval"} if voc_trainval is not None else {})
        return write_report(out / "synthetic_dataset.html", "Dataset report: synthetic VOC", sections, meta)

    res = steps.run("synthetic dataset report with anchors", synth_report)
    if res:
        steps.add("Synthetic dataset report", res[0],
                  "the built-in synthetic VOC set: classes, samples, statistics"
                  + (" side by side with VOC07+12" if voc_trainval is not None else "") + ", anchors", res[1])

    # 3. detectors on the synthetic test split (plug-ins), their diagnosis and comparison
    synth_dets: dict[str, Detections] = {}
    synth_scored = synth_test
    if not models:
        steps.notes.append("reference detectors: skipped — models=False (--no-models)")
    else:
        from vocbench.plugins import DEMO_GROUP, demo_steps

        found = demo_steps()
        if not found:
            steps.notes.append(f"detectors on the synthetic data: skipped — no `{DEMO_GROUP}` plug-in is installed "
                               "(the reference models: pip install -e '.[models]')")
        for name, step, error in found:
            def plug(step: Any = step, error: str = error, name: str = name) -> Any:
                if step is None:
                    raise _Skip(f"plug-in {name} failed to import: {error}")
                return step(out, devkit, ("2007:test",), progress)

            res = steps.run(f"plug-in {name}: detectors on the synthetic test split", plug)
            if res:
                contribution, seconds = res
                for title, path in contribution.reports:
                    steps.add(title, Path(path), contribution.description,
                              seconds / max(len(contribution.reports), 1))
                synth_dets.update(contribution.detections)
                if contribution.dataset is not None:
                    synth_scored = contribution.dataset
    if synth_dets:
        _diagnosis_and_comparison(steps, out, synth_scored, synth_dets, "the synthetic test split", "synthetic")

    # 4. real VOC
    if voc_root is None:
        steps.notes.append("real VOC reports: skipped — no VOC annotations found (use --voc ROOT or put them in "
                           "../shared/voc/VOCdevkit); the synthetic report is shown without the VOC07+12 columns")
    real_dets: dict[str, Detections] = {}
    if voc_root is not None and voc_trainval is not None and voc_test is not None:
        vt, vtest = voc_trainval, voc_test

        def voc_report() -> Path:
            from vocbench.report.dataset import write_dataset_report

            return write_dataset_report(out / "voc0712_dataset.html", vt, anchors=True,
                                        compare=[("VOC2007 test", vtest)], anchor_options=anchor_options)

        res = steps.run("VOC07+12 dataset report with anchors", voc_report)
        if res:
            steps.add("VOC07+12 dataset report", res[0],
                      "the real VOC2007+2012 trainval annotations against VOC2007 test, with anchors", res[1])

        from vocbench.io.detections import read_detections

        for name, folder in (("YOLOv2", "yolov2-voc07test"), ("YOLOv3", "yolov3-voc07test")):
            dets_dir = voc_root.parent / "detections" / folder
            if dets_dir.is_dir():
                real_dets[name] = read_detections(dets_dir, vtest)
            else:
                steps.notes.append(f"{name} on VOC2007 test: skipped — no detections at {dets_dir}")
        if "YOLOv2" in real_dets:
            v2 = real_dets["YOLOv2"]

            def yolo_report() -> Path:
                from vocbench.eval import evaluate
                from vocbench.report.eval import write_eval_report

                result = evaluate(vtest, v2, metrics=("voc07", "voc12", "coco"))
                return write_eval_report(out / "yolov2_voc07test_eval.html", dataset=vtest, result=result,
                                         detections=v2)

            res = steps.run("YOLOv2 on VOC2007 test: scoring report", yolo_report)
            if res:
                steps.add("YOLOv2 on VOC2007 test: scoring", res[0],
                          "real YOLOv2 detections scored: VOC07 / VOC12 AP per class and the COCO protocol", res[1])
            _diagnosis_and_comparison(steps, out, vtest, real_dets, "VOC2007 test", "voc07test")

    # 5. speed table
    speed_df = None
    if speed:
        if "YOLOv2" in real_dets and voc_test is not None and voc_root is not None:
            args: tuple[Any, ...] = (voc_test, real_dets["YOLOv2"], voc_root, ("2007:test",), "YOLOv2 on VOC2007 test")
        elif synth_dets:
            first = next(iter(synth_dets))
            args = (synth_scored, synth_dets[first], devkit, ("2007:test",), f"{first} on the synthetic test split")
        else:
            args = (synth_test, None, None, (), "")
        res = steps.run("speed table: NMS and mAP against the usual tools",
                        lambda: speed_table(args[0], args[1], devkit=args[2], sets=args[3]))
        if res:
            speed_df = res[0]
            speed_df.attrs["detections"] = args[4]
            speed_df.attrs["seconds"] = res[1]

    # 6. index
    from vocbench.report.html import ReportMeta
    from vocbench.report.index import IndexEntry, write_index

    summary = pd.DataFrame([
        {"data": "synthetic (trainval + test)", "root": str(devkit), "images": synth.num_images,
         "objects": synth.num_objects, "difficult": int(synth.difficult.sum())},
        *([{"data": "VOC07+12 trainval", "root": str(voc_root), "images": voc_trainval.num_images,
            "objects": voc_trainval.num_objects, "difficult": int(voc_trainval.difficult.sum())}]
          if voc_trainval is not None else []),
    ])
    cmd = f"vocbench demo {out} --images {n_images} --seed {seed}"
    if voc_root is not None:
        cmd += f" --voc {voc_root}"
    elif not use_voc:
        cmd += " --no-voc"
    cmd += " --quick" * quick + " --no-models" * (not models) + " --no-speed" * (not speed)
    total = time.perf_counter() - total_start
    entries = [IndexEntry(r.title, Path(os.path.relpath(r.path, out)).as_posix(), r.description, r.seconds)
               for r in steps.reports]
    index = write_index(out / "index.html", entries, steps.notes, summary,
                        commands=[cmd, f"vocbench synth {out / 'data'} --images {n_images} --seed {seed}"],
                        meta=ReportMeta(data=f"{out} — demo finished in {total:.0f} s"), speed=speed_df)
    return DemoResult(out=out, index=index, reports=tuple(steps.reports), notes=tuple(steps.notes),
                      failed=steps.failed, seconds=total, voc_root=voc_root, speed=speed_df)
