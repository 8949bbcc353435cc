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
5. a short speed table, NMS and mAP (vocbench against the usual tools, as ratios measured in the same run; the
   index links the committed full benchmarks, which take minutes to rerun);
6. ``OUT/index.html``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vocbench.errors import VocbenchError
from vocbench.report.html import report_defaults

if TYPE_CHECKING:
    import pandas as pd

    from vocbench.structures import Dataset, Detections

__all__ = ["run_demo", "DemoResult", "DemoReport", "find_voc", "speed_table", "DEMO_SEED", "DEFAULT_IMAGES",
           "QUICK_IMAGES", "ABOUT_YOLOV2", "ABOUT_YOLOV3"]

#: What the shipped detections in ``shared/voc/detections`` are (``--about`` of their reports; shared/README.md and
#: measurements with vocbench eval / diagnose on VOC2007 test).
ABOUT_YOLOV2 = ("yolov2-voc07test: the output of a real YOLOv2 (darknet, 416x416 input, trained on VOC2007+2012 "
                "trainval) on the 4,952 VOC2007 test images, scores >= 0.005.")
ABOUT_YOLOV3 = ("yolov3-voc07test: a darknet YOLOv3 output on the same images (87,765 detections, scores >= 0.005, "
                "boxes clipped to the image); its weights, training set and input size were not recorded with the "
                "files. It scores below YOLOv2 because of these weights, not the scorer (vocbench equals the devkit "
                "and pycocotools on both files): more missed objects (TIDE miss dAP 0.053 vs 0.030), more class "
                "confusions (cls 0.037 vs 0.024) and looser boxes (COCO AP75 0.257 vs 0.432), while its three-scale "
                "heads find more small objects (COCO APs 0.092 vs 0.037). The YOLOv3 paper reports COCO, not VOC, "
                "results, so there is no published VOC number to check these weights against.")

#: Seed of the demo's synthetic set: not a seed the reference models are trained on, so its test split is unseen.
DEMO_SEED = 1000
#: Images synthesised by default (a few minutes for the whole demo on 2 CPU cores) and with ``quick``.
DEFAULT_IMAGES, QUICK_IMAGES = 800, 120


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

    def __init__(self, log: Callable[[str], None], debug: bool, command: str = "") -> None:
        self.log, self.debug, self.command = log, debug, command
        self.reports: list[DemoReport] = []
        self.notes: list[str] = []
        self.failed = 0

    def add(self, title: str, path: Path, description: str, seconds: float) -> None:
        self.reports.append(DemoReport(title, Path(path), description, seconds))
        self.log(f"  wrote {path} ({seconds:.1f} s)")

    def run(self, label: str, fn: Callable[[], Any], command: str | None = None) -> tuple[Any, float] | None:
        """Run one step; the reports it writes show ``command`` (the standalone command that rebuilds them; default
        the demo's own) and link back to the index."""
        from vocbench.plugins import PluginUnavailable
        from vocbench.report.html import report_defaults

        self.log(f"[demo] {label} ...")
        start = time.perf_counter()
        try:
            with report_defaults(command=command or self.command, home="index.html"):
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


def _cli(*words: Any) -> str:
    """A shell command line (paths quoted where needed)."""
    import shlex

    return " ".join(shlex.quote(str(w)) for w in words)


def _gt_args(dataset: Dataset) -> list[Any]:
    return ["--gt", dataset.root, *[a for s in dataset.sets for a in ("--set", s)]]


def _scoring(steps: _Steps, out: Path, dataset: Dataset, detections: dict[str, Detections], where: str,
             stem: str) -> None:
    """vocbench's scoring report (VOC07, VOC12, COCO) of every detector in ``detections``; each report's command
    is the ``vocbench eval`` that rebuilds it (detections read from their devkit folder, ``Detections.source``)."""
    for name, dets in detections.items():
        path = out / f"{stem}_{_slug(name)}_eval.html"

        def score(dets: Detections = dets, path: Path = path) -> Path:
            from vocbench.diagnose import diagnose_evaluation
            from vocbench.eval import evaluate
            from vocbench.report.eval import write_eval_report

            result = evaluate(dataset, dets, metrics=("voc07", "voc12", "coco"))
            return write_eval_report(path, dataset=dataset, result=result, detections=dets,
                                     diagnosis=diagnose_evaluation(dataset, dets, result))

        command = _cli("vocbench", "eval", *_gt_args(dataset), "--dets", dets.source, "--metric", "voc07",
                       "--metric", "voc12", "--metric", "coco", "--html", path)
        res = steps.run(f"{name} on {where}: scoring report", score, command)
        if res:
            steps.add(f"{name} on {where}: scoring", res[0],
                      "VOC07 / VOC12 AP per class, precision-recall curves and the COCO protocol", res[1])


def _diagnosis_and_comparison(steps: _Steps, out: Path, dataset: Dataset, detections: dict[str, Detections],
                              where: str, stem: str, about: str = "") -> None:
    """Diagnose every detector in ``detections`` and compare the first two (vocbench.diagnose / compare)."""
    for name, dets in detections.items():
        path = out / f"{stem}_{_slug(name)}_diagnosis.html"

        def one(dets: Detections = dets, path: Path = path) -> Path:
            from vocbench.diagnose import diagnose
            from vocbench.report.diagnose import write_diagnosis_report

            return write_diagnosis_report(path, dataset, diagnose(dataset, dets), dets)

        command = _cli("vocbench", "diagnose", *_gt_args(dataset), "--dets", dets.source, "--html", path)
        res = steps.run(f"{name} on {where}: diagnosis", one, command)
        if res:
            steps.add(f"{name} on {where}: diagnosis", res[0],
                      "where the AP goes: TIDE error types (VOC rules), sensitivity by object size, aspect, "
                      "truncation and occlusion, confusion between classes", res[1])
    if len(detections) >= 2:
        (a, da), (b, db) = list(detections.items())[:2]

        path = out / f"{stem}_{_slug(a)}_vs_{_slug(b)}.html"

        def pair() -> Path:
            from vocbench.compare import compare
            from vocbench.report.compare import write_compare_report

            return write_compare_report(path, dataset, compare(dataset, {a: da, b: db}))

        command = _cli("vocbench", "compare", *_gt_args(dataset), "--dets", f"{a}={da.source}", "--dets",
                       f"{b}={db.source}", "--html", path, *(["--about", about] if about else []))
        with report_defaults(about=about or None):
            res = steps.run(f"{a} vs {b} on {where}: comparison", pair, command)
        if res:
            steps.add(f"{a} vs {b} on {where}", res[0],
                      "paired image bootstrap of the mAP difference, per-class differences and how stable the "
                      "ranking is", res[1])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def speed_table(dataset: Dataset | None = None, *, nms_sizes: Sequence[int] = (2_000,),
                detections: Detections | None = None, label: str = "") -> pd.DataFrame:
    """The demo's speed table, two suites of :mod:`vocbench.bench` in seconds:

    * ``nms``: ``vocbench bench nms --quick`` (:func:`vocbench.bench.suites.bench_nms`) at ``nms_sizes`` boxes,
      clustered around one image's objects of ``dataset`` (or three fixed objects) and uniform;
    * ``map``: VOC07 and COCO mAP of ``detections`` on ``dataset`` (its first 1000 images) against the plain devkit
      loop, faster-coco-eval and hotcoco (:func:`vocbench.bench.suite_map.bench_map_small`; detections made from
      the ground truth when None); skipped without a dataset.

    The full scoring, I/O and anchor comparisons take minutes (``vocbench bench all``); the demo links the committed
    ``reports/benchmarks.html`` for them instead of timing them again.

    Returns:
        One row per implementation and case: ``task, case, impl, n, median_ms, ratio`` (the peer's median time
        over vocbench's on the same case: > 1 means vocbench is faster), ``agrees`` (same keep set; the same APs)
        and ``note`` (a peer that is not installed gets a row saying so).
    """
    import pandas as pd

    from vocbench.bench.suites import bench_nms

    rows = [r.to_dict() for r in bench_nms(quick=True, dataset=dataset, sizes=tuple(nms_sizes))]
    if dataset is not None:
        from vocbench.bench.suite_map import bench_map_small

        rows += [r.to_dict() for r in bench_map_small(dataset, detections, label)]
    return pd.DataFrame([{"task": r["suite"], "case": r["case"], "impl": r["impl"], "n": r["n"],
                          "median_ms": r["median_s"] * 1e3, "ratio": r["ratio"], "agrees": r["agrees"],
                          "note": r["note"]} for r in rows],
                        columns=["task", "case", "impl", "n", "median_ms", "ratio", "agrees", "note"])


@dataclass
class _Context:
    """What the demo's steps share: the output folder, the step runner, the data loaded so far."""

    out: Path
    steps: _Steps
    seed: int
    progress: bool
    anchor_options: dict[str, Any]
    devkit: Path = Path()
    synth: Dataset | None = None
    synth_test: Dataset | None = None
    voc_root: Path | None = None
    voc_trainval: Dataset | None = None
    voc_test: Dataset | None = None
    synth_dets: dict[str, Detections] = field(default_factory=dict)
    real_dets: dict[str, Detections] = field(default_factory=dict)


def _synthetic_data(ctx: _Context, images: int) -> None:
    """Step 1: write the synthetic set and load it (and the real VOC annotations when found)."""
    from vocbench.io.voc import load_voc
    from vocbench.synth import generate

    res = ctx.steps.run(f"synthesising {images} images (seed {ctx.seed})",
                        lambda: generate(ctx.out / "data", images=images, seed=ctx.seed, progress=ctx.progress))
    if res is None:
        raise VocbenchError(f"{ctx.out / 'data'}: could not write the synthetic dataset ({'; '.join(ctx.steps.notes)})")
    ctx.devkit, seconds = res
    ctx.synth = load_voc(ctx.devkit, ["2007:trainval", "2007:test"], cache=False)
    ctx.synth_test = ctx.synth.split("2007:test")
    ctx.steps.log(f"  {ctx.synth.num_images} images, {ctx.synth.num_objects} objects in {ctx.devkit} "
                  f"({seconds:.1f} s)")
    if ctx.voc_root is not None:
        ctx.voc_trainval = load_voc(ctx.voc_root, ["2007:trainval", "2012:trainval"])
        ctx.voc_test = load_voc(ctx.voc_root, ["2007:test"])


def _synthetic_report(ctx: _Context) -> None:
    """Step 2: the synthetic set's dataset report with anchors (beside VOC07+12 when available)."""
    synth, voc = ctx.synth, ctx.voc_trainval
    assert synth is not None

    def write() -> Path:
        from vocbench.anchors import analyze_dataset_anchors
        from vocbench.report.dataset import anchor_sections, dataset_sections
        from vocbench.report.html import ReportMeta, write_report
        from vocbench.report.index import synthetic_sections

        sections = synthetic_sections(synth, ctx.devkit / "VOC2007", voc=voc, voc_test=ctx.voc_test)
        from vocbench.stats import compute_stats

        sections += dataset_sections(synth, stats=compute_stats(synth, by_set=True),
                                     compare=[("VOC07+12 trainval", voc)] if voc is not None else None,
                                     name="synthetic")
        sections += anchor_sections(analyze_dataset_anchors(synth, **ctx.anchor_options))
        meta = ReportMeta(data=f"{ctx.devkit} — synthetic VOC, seed {ctx.seed}: {synth.num_images} images, "
                               f"{int((~synth.difficult).sum())} non-difficult objects",
                          extra={"compared with": "VOC07+12 trainval"} if voc is not None else {})
        return write_report(ctx.out / "synthetic_dataset.html", "Dataset report: synthetic VOC", sections, meta)

    res = ctx.steps.run("synthetic dataset report with anchors", write)
    if res:
        ctx.steps.add("Synthetic dataset report", res[0],
                      "the built-in synthetic VOC set: classes, samples, statistics"
                      + (" side by side with VOC07+12" if voc is not None else "") + ", anchors", res[1])


def _plugin_detectors(ctx: _Context) -> Dataset | None:
    """Step 3: the ``vocbench.demo`` plug-ins on the synthetic test split, then diagnosis and comparison.

    Returns the ground truth the plug-ins' detections belong to (None when none ran)."""
    from vocbench.plugins import DEMO_GROUP, demo_steps

    found = demo_steps()
    if not found:
        ctx.steps.notes.append(f"detectors on the synthetic data: skipped — no `{DEMO_GROUP}` plug-in is installed "
                               "(the reference models: pip install -e '.[models]')")
    scored: Dataset | None = ctx.synth_test
    for name, step, error in found:
        def plug(step: Any = step, error: str = error, name: str = name) -> Any:
            if step is None:
                raise _Skip(f"plug-in {name} failed to import: {error}")
            return step(ctx.out, ctx.devkit, ("2007:test",), ctx.progress)

        res = ctx.steps.run(f"plug-in {name}: detectors on the synthetic test split", plug)
        if res:
            contribution, seconds = res
            for title, path in contribution.reports:
                ctx.steps.add(title, Path(path), contribution.description,
                              seconds / max(len(contribution.reports), 1))
            if contribution.dataset is not None:
                scored = contribution.dataset
            if scored is not None:
                ctx.synth_dets.update(_kept_as_files(ctx.out / "dets", scored, contribution.detections))
    if ctx.synth_dets and scored is not None:
        _scoring(ctx.steps, ctx.out, scored, ctx.synth_dets, "the synthetic test split", "synthetic")
        _diagnosis_and_comparison(ctx.steps, ctx.out, scored, ctx.synth_dets, "the synthetic test split", "synthetic")
        return scored
    return None


def _kept_as_files(folder: Path, dataset: Dataset, detections: dict[str, Detections]) -> dict[str, Detections]:
    """Each detector's detections written as devkit files in ``folder/<name>`` and read back from there: the
    reports are titled with the detector's name and their commands rebuild them from these files."""
    from vocbench.io.detections import read_detections, write_devkit

    kept = {}
    for name, dets in detections.items():
        where = folder / _slug(name)
        write_devkit(dets, dataset, where)
        for cls in dataset.classes:  # a class without detections gets an empty file, as the devkit expects
            (where / f"comp4_det_test_{cls}.txt").touch()
        kept[name] = read_detections(where, dataset)
    return kept


def _real_voc(ctx: _Context) -> None:
    """Step 4: the VOC07+12 dataset report, real YOLOv2 scored and diagnosed, YOLOv2 vs YOLOv3."""
    if ctx.voc_root is None or ctx.voc_trainval is None or ctx.voc_test is None:
        ctx.steps.notes.append("real VOC reports: skipped — no VOC annotations found (use --voc ROOT or put them "
                               "in ../shared/voc/VOCdevkit); the synthetic report is shown without the VOC07+12 "
                               "columns")
        return
    from vocbench.io.detections import read_detections

    root, trainval, test = ctx.voc_root, ctx.voc_trainval, ctx.voc_test

    path = ctx.out / "voc0712_dataset.html"

    def voc_report() -> Path:
        from vocbench.anchors import analyze_dataset_anchors
        from vocbench.report.dataset import write_dataset_report
        from vocbench.stats import compute_stats

        return write_dataset_report(path, trainval, stats=compute_stats(trainval, by_set=True),
                                    anchor_analysis=analyze_dataset_anchors(trainval, **ctx.anchor_options),
                                    compare=[("2007:test", test)])

    quick = ["--curve", "1-9", "--n-init", "3"] if ctx.anchor_options else []
    command = _cli("vocbench", "stats", root, "--set", "2007:trainval", "--set", "2012:trainval", "--compare",
                   "2007:test", "--html", path) + (f"  # anchors as `vocbench anchors {_cli(*quick)}`" if quick else "")
    res = ctx.steps.run("VOC07+12 dataset report with anchors", voc_report, command)
    if res:
        ctx.steps.add("VOC07+12 dataset report", res[0],
                      "the real VOC2007+2012 trainval annotations against VOC2007 test, with anchors", res[1])
    for name, folder in (("YOLOv2", "yolov2-voc07test"), ("YOLOv3", "yolov3-voc07test")):
        dets_dir = root.parent / "detections" / folder
        if dets_dir.is_dir():
            ctx.real_dets[name] = read_detections(dets_dir, test)
        else:
            ctx.steps.notes.append(f"{name} on VOC2007 test: skipped — no detections at {dets_dir}")
    if "YOLOv2" not in ctx.real_dets:
        return
    v2 = ctx.real_dets["YOLOv2"]

    path = ctx.out / "yolov2_voc07test_eval.html"

    def yolo_report() -> Path:
        from vocbench.diagnose import diagnose_evaluation
        from vocbench.eval import evaluate
        from vocbench.report.eval import write_eval_report

        result = evaluate(test, v2, metrics=("voc07", "voc12", "coco"))
        return write_eval_report(path, dataset=test, result=result, detections=v2,
                                 diagnosis=diagnose_evaluation(test, v2, result))

    command = _cli("vocbench", "eval", *_gt_args(test), "--dets", v2.source, "--metric", "voc07", "--metric",
                   "voc12", "--metric", "coco", "--html", path, "--about", ABOUT_YOLOV2)
    with report_defaults(about=ABOUT_YOLOV2):
        res = ctx.steps.run("YOLOv2 on VOC2007 test: scoring report", yolo_report, command)
    if res:
        ctx.steps.add("YOLOv2 on VOC2007 test: scoring", res[0],
                      "real YOLOv2 detections scored: VOC07 / VOC12 AP per class and the COCO protocol", res[1])
    _diagnosis_and_comparison(ctx.steps, ctx.out, test, ctx.real_dets, "VOC2007 test", "voc07test",
                              about=f"{ABOUT_YOLOV2} {ABOUT_YOLOV3}")


def _speed(ctx: _Context) -> pd.DataFrame | None:
    """Step 5: the speed table (NMS and mAP, :func:`speed_table`): on VOC2007 test and the real YOLOv2 detections
    when the real annotations are there, else on the synthetic test split and the first model's detections."""
    dataset: Dataset | None
    if ctx.voc_test is not None:
        dataset, dets, label = ctx.voc_test, ctx.real_dets.get("YOLOv2"), "YOLOv2, VOC2007 test"
    else:
        first = next(iter(ctx.synth_dets.items()), None)
        dataset, dets = ctx.synth_test, first[1] if first else None
        label = f"{first[0]}, synthetic test" if first else "synthetic test"
    res = ctx.steps.run("speed table: NMS and mAP against the usual tools (vocbench bench nms --quick, "
                        "vocbench.bench.suite_map)", lambda: speed_table(dataset, detections=dets, label=label))
    if res is None:
        return None
    table, seconds = res
    table.attrs["seconds"] = seconds
    return table


def _index(ctx: _Context, images: int, command: str, total: float, speed: pd.DataFrame | None) -> Path:
    """Step 6: ``OUT/index.html``."""
    import pandas as pd

    from vocbench.report.html import ReportMeta
    from vocbench.report.index import IndexEntry, write_index

    rows = [("synthetic (trainval + test)", str(ctx.devkit), ctx.synth)]
    if ctx.voc_trainval is not None:
        rows.append(("VOC07+12 trainval", str(ctx.voc_root), ctx.voc_trainval))
    summary = pd.DataFrame([{"data": name, "root": root, "images": ds.num_images,
                             "objects (non-difficult)": int((~ds.difficult).sum()),
                             "difficult": int(ds.difficult.sum())} for name, root, ds in rows if ds is not None])
    entries = [IndexEntry(r.title, Path(os.path.relpath(r.path, ctx.out)).as_posix(), r.description, r.seconds)
               for r in ctx.steps.reports]
    benchmarks = _committed_benchmarks()
    if benchmarks is not None:
        entries.append(IndexEntry("Speed benchmarks (committed)", Path(os.path.relpath(benchmarks, ctx.out)).as_posix(),
                                  "the full `vocbench bench all` run committed with the code: NMS, VOC and COCO "
                                  "scoring, annotation reading and anchors against the usual tools"))
    return write_index(ctx.out / "index.html", entries, ctx.steps.notes, summary,
                       commands=[command, f"vocbench synth {ctx.out / 'data'} --images {images} --seed {ctx.seed}"],
                       meta=ReportMeta(data=f"{ctx.out} — demo finished in {total:.0f} s"), speed=speed)


def _committed_benchmarks() -> Path | None:
    """``reports/benchmarks.html`` of a source checkout (``make bench`` / ``vocbench bench all --html``), if any."""
    page = Path(__file__).resolve().parent.parent / "reports" / "benchmarks.html"
    return page if page.is_file() else None


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
        speed: add the NMS and mAP speed table.
        progress: progress bars (terminal only).
        log: called with one line per step (e.g. ``print``); None = silent.
        debug: print the traceback of a failing step.

    Returns:
        A :class:`DemoResult`; ``failed`` counts the steps that failed (their notes say why).

    Raises:
        VocbenchError: ``images`` < 10, ``voc`` is not a VOCdevkit, ``out`` is, holds or lies inside the VOCdevkit
            or the detections folder beside it, or the synthetic set cannot be written.
    """
    out = Path(out)
    n_images = images if images is not None else (QUICK_IMAGES if quick else DEFAULT_IMAGES)
    if n_images < 10:
        raise VocbenchError(f"images must be at least 10 for the demo, got {n_images}")
    voc_root = find_voc(voc) if use_voc else None
    command = (f"vocbench demo {out} --images {n_images} --seed {seed}"
               + (f" --voc {voc_root}" if voc_root is not None else " --no-voc" * (not use_voc))
               + " --quick" * quick + " --no-models" * (not models) + " --no-speed" * (not speed))
    ctx = _Context(out=out, steps=_Steps(log or (lambda _line: None), debug, command), seed=seed,
                   progress=progress, anchor_options={"curve": range(1, 10), "n_init": 3} if quick else {},
                   voc_root=voc_root)
    if voc_root is not None:  # what the demo reads (the VOCdevkit, the shipped detections beside it) stays as it is
        from vocbench.io.writers import check_inputs_outside

        check_inputs_outside(out, [("VOCdevkit", voc_root), ("detections", Path(voc_root).parent / "detections")])
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ctx.steps.log(f"[demo] writing to {out}" + (f"; real VOC annotations: {ctx.voc_root}" if ctx.voc_root else
                                                "; real VOC annotations not found (synthetic data only)"))
    _synthetic_data(ctx, n_images)
    _synthetic_report(ctx)
    if models:
        _plugin_detectors(ctx)
    else:
        ctx.steps.notes.append("reference detectors: skipped — models=False (--no-models)")
    _real_voc(ctx)
    speed_df = _speed(ctx) if speed else None
    total = time.perf_counter() - start
    index = _index(ctx, n_images, command, total, speed_df)
    return DemoResult(out=out, index=index, reports=tuple(ctx.steps.reports), notes=tuple(ctx.steps.notes),
                      failed=ctx.steps.failed, seconds=total, voc_root=ctx.voc_root, speed=speed_df)
