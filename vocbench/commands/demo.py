"""``vocbench demo [OUT] [--images N] [--seed S] [--voc ROOT | --no-voc] [--quick]``: the README's main command.

Steps (each one's report is linked from ``OUT/index.html``; a step whose code is not installed is skipped with a
note, a step that fails is noted and makes the exit code 1, and the others still run):

1. synthesise a VOC-format dataset in ``OUT/data/VOCdevkit`` (``vocbench synth``);
2. its dataset report with anchors, side by side with VOC07+12 trainval when the real annotations are found;
3. with the real VOC annotations: the VOC07+12 dataset report and the scoring report of the real YOLOv2
   detections on VOC2007 test;
4. the reference detectors (``reference_models.demo_step``): the committed weights scored and profiled on the
   synthetic test split;
5. ``OUT/index.html``; the last line printed is ``Open OUT/index.html``.

Real VOC is looked up in ``--voc ROOT``, else ``$VOCBENCH_SHARED/voc/VOCdevkit``, else
``../shared/voc/VOCdevkit`` (relative to the current folder).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

__all__ = ["register", "run", "find_voc", "DEMO_SEED", "DEFAULT_IMAGES", "QUICK_IMAGES"]

#: Seed of the demo's synthetic set: not a seed the reference models are trained on, so its test split is unseen.
DEMO_SEED = 1000
#: Images synthesised by default (a couple of minutes for the whole demo on 2 CPU cores) and with ``--quick``.
DEFAULT_IMAGES, QUICK_IMAGES = 800, 120


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="synthesise data, write every report and an index.html linking them (the main job)",
        description="Run the whole suite on a fresh machine: synthetic VOC data, its dataset report with anchors, "
                    "the reference detectors scored and profiled, and — when the real VOC annotations are "
                    "found — the VOC07+12 dataset report and the real YOLOv2 scoring report. Ends by printing "
                    "where OUT/index.html is.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", nargs="?", default="demo_out", help="output folder")
    p.add_argument("--images", type=int, default=None,
                   help=f"synthetic images (default {DEFAULT_IMAGES}, {QUICK_IMAGES} with --quick)")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="seed of the synthetic set")
    p.add_argument("--voc", metavar="ROOT", default=None,
                   help="real VOCdevkit (default: $VOCBENCH_SHARED/voc/VOCdevkit or ../shared/voc/VOCdevkit)")
    p.add_argument("--no-voc", action="store_true", help="do not use the real VOC annotations even if found")
    p.add_argument("--quick", action="store_true",
                   help="a small synthetic set and a shorter anchor analysis (k = 1..9, no Euclidean baseline)")
    p.add_argument("--no-models", action="store_true", help="leave out the reference-detector step")
    p.set_defaults(func=run)


def find_voc(explicit: str | None = None) -> Path | None:
    """The real VOCdevkit to use: ``explicit``, ``$VOCBENCH_SHARED/voc/VOCdevkit`` or ``../shared/voc/VOCdevkit``.

    Raises:
        VocbenchError: ``explicit`` is given but holds no ``VOC2007`` folder.
    """
    from vocbench.errors import VocbenchError

    if explicit:
        root = Path(explicit)
        if not (root / "VOC2007").is_dir():
            raise VocbenchError(f"--voc {explicit}: expected a VOCdevkit folder holding VOC2007/ (and VOC2012/)")
        return root
    candidates = []
    if os.environ.get("VOCBENCH_SHARED"):
        candidates.append(Path(os.environ["VOCBENCH_SHARED"]) / "voc" / "VOCdevkit")
    candidates.append(Path("..") / "shared" / "voc" / "VOCdevkit")
    for root in candidates:
        if (root / "VOC2007" / "Annotations").is_dir():
            return root
    return None


class _Steps:
    """Runs the demo's steps, timing each and collecting links, notes and failures."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.entries: list = []
        self.notes: list[str] = []
        self.failed = 0

    def link(self, title: str, path: Path, description: str, seconds: float) -> None:
        from vocbench.report.index import IndexEntry

        href = Path(os.path.relpath(path, self.out)).as_posix()
        self.entries.append(IndexEntry(title, href, description, seconds))
        print(f"  wrote {path} ({seconds:.1f} s)")

    def run(self, label: str, fn) -> object:
        print(f"[demo] {label} ...", flush=True)
        start = time.perf_counter()
        try:
            result = fn()
        except _Skip as exc:
            self.notes.append(f"{label}: skipped — {exc}")
            print(f"  skipped: {exc}")
            return None
        except Exception as exc:  # noqa: BLE001 — a failing step must not hide the others' reports
            self.failed += 1
            self.notes.append(f"{label}: FAILED — {type(exc).__name__}: {exc}")
            print(f"  FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            if os.environ.get("VOCBENCH_DEBUG"):
                traceback.print_exc()
            return None
        return result, time.perf_counter() - start


class _Skip(Exception):
    """A step that cannot run here (its code or data is not available)."""


def _import_optional(module: str, names: tuple[str, ...], what: str):
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise _Skip(f"{what} is not available ({exc.name} not installed)") from None
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise _Skip(f"{what} is not available ({module} has no {', '.join(missing)})")
    return [getattr(mod, n) for n in names]


def run(args: argparse.Namespace) -> int:
    from vocbench.commands._common import progress_enabled
    from vocbench.errors import VocbenchError
    from vocbench.io.voc import load_voc

    out = Path(args.out)
    images = args.images if args.images is not None else (QUICK_IMAGES if args.quick else DEFAULT_IMAGES)
    if images < 10:
        raise VocbenchError(f"--images must be at least 10 for the demo, got {images}")
    voc_root = None if args.no_voc else find_voc(args.voc)
    progress = progress_enabled(args)
    out.mkdir(parents=True, exist_ok=True)
    anchor_options = {"curve": range(1, 10), "n_init": 3, "sse_baseline": False} if args.quick else {}
    steps = _Steps(out)
    total_start = time.perf_counter()
    print(f"[demo] writing to {out}" + (f"; real VOC annotations: {voc_root}" if voc_root else
                                        "; real VOC annotations not found (synthetic data only)"))

    # 1. synthetic data ------------------------------------------------------------------------------------
    from vocbench.synth import generate

    res = steps.run(f"synthesising {images} images (seed {args.seed})",
                    lambda: generate(out / "data", images=images, seed=args.seed, progress=progress))
    if res is None:
        raise VocbenchError(f"{out / 'data'}: could not write the synthetic dataset")
    devkit, synth_seconds = res
    synth = load_voc(devkit, ["2007:trainval", "2007:test"], cache=False)
    print(f"  {synth.num_images} images, {synth.num_objects} objects in {devkit} ({synth_seconds:.1f} s)")

    voc = voc_test = None
    if voc_root is not None:
        voc = load_voc(voc_root, ["2007:trainval", "2012:trainval"])
        voc_test = load_voc(voc_root, ["2007:test"])

    # 2. synthetic dataset report --------------------------------------------------------------------------
    def synth_report() -> Path:
        from vocbench.report.html import ReportMeta, write_report
        from vocbench.report.index import synthetic_sections

        dataset_sections, anchor_sections = _import_optional(
            "vocbench.report.dataset", ("dataset_sections", "anchor_sections"), "the dataset report")
        compare = [("VOC07+12 trainval", voc)] if voc is not None else None
        sections = synthetic_sections(synth, devkit / "VOC2007", voc=voc, voc_test=voc_test)
        sections += dataset_sections(synth, compare=compare, name="synthetic")
        try:
            (analyze,) = _import_optional("vocbench.anchors", ("analyze_dataset_anchors",), "the anchor analysis")
            sections += anchor_sections(analyze(synth, **anchor_options))
        except _Skip as exc:
            steps.notes.append(f"anchors in the synthetic dataset report: skipped — {exc}")
        meta = ReportMeta(data=f"{devkit} — synthetic VOC, seed {args.seed}: {synth.num_images} images, "
                               f"{int((~synth.difficult).sum())} non-difficult objects",
                          extra={"compared with": "VOC07+12 trainval"} if voc is not None else {})
        return write_report(out / "synthetic_dataset.html", "Dataset report: synthetic VOC", sections, meta)

    res = steps.run("synthetic dataset report with anchors", synth_report)
    if res:
        steps.link("Synthetic dataset report", res[0],
                   "the built-in synthetic VOC set: classes, samples, statistics"
                   + (" side by side with VOC07+12" if voc is not None else "") + ", anchors", res[1])
    if voc is None:
        steps.notes.append("real VOC reports: skipped — no VOC annotations found (use --voc ROOT or put them in "
                           "../shared/voc/VOCdevkit); the synthetic report is shown without the VOC07+12 columns")

    # 3. real VOC ------------------------------------------------------------------------------------------
    if voc is not None:
        def voc_report() -> Path:
            (write_dataset_report,) = _import_optional("vocbench.report.dataset", ("write_dataset_report",),
                                                       "the dataset report")
            return write_dataset_report(out / "voc0712_dataset.html", voc, anchors=True,
                                        compare=[("VOC2007 test", voc_test)], anchor_options=anchor_options)

        res = steps.run("VOC07+12 dataset report with anchors", voc_report)
        if res:
            steps.link("VOC07+12 dataset report", res[0],
                       "the real VOC2007+2012 trainval annotations against VOC2007 test, with anchors", res[1])

        def yolo_report() -> Path:
            dets_dir = voc_root.parent / "detections" / "yolov2-voc07test"
            if not dets_dir.is_dir():
                raise _Skip(f"no YOLOv2 detections at {dets_dir}")
            (read_detections,) = _import_optional("vocbench.io.detections", ("read_detections",),
                                                  "the detections reader")
            (evaluate,) = _import_optional("vocbench.eval", ("evaluate",), "the scoring engine")
            (write_eval_report,) = _import_optional("vocbench.report.eval", ("write_eval_report",),
                                                    "the scoring report")
            dets = read_detections(dets_dir, voc_test)
            result = evaluate(voc_test, dets, metrics=("voc07", "voc12", "coco"))
            return write_eval_report(out / "yolov2_voc07test_eval.html", dataset=voc_test, result=result,
                                     detections=dets)

        res = steps.run("YOLOv2 on VOC2007 test: scoring report", yolo_report)
        if res:
            steps.link("YOLOv2 on VOC2007 test", res[0],
                       "real YOLOv2 detections scored: VOC07 / VOC12 AP per class and the COCO protocol", res[1])

    # 4. reference models ----------------------------------------------------------------------------------
    def models() -> list:
        if args.no_models:
            raise _Skip("--no-models")
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError:
            raise _Skip("PyTorch is not installed (pip install 'vocbench[models]')") from None
        (demo_step,) = _import_optional("reference_models", ("demo_step",), "the reference models")
        written = demo_step(out, devkit, ("2007:test",), progress)
        if not written:
            raise _Skip("no committed reference weights in reference_models/weights")
        return written

    res = steps.run("reference detectors: score and profile on the synthetic test split", models)
    if res:
        for title, path in res[0]:
            steps.link(title, Path(path), "the committed reference weights on the synthetic test split, "
                       "scored (VOC07/VOC12/COCO) and profiled", res[1] / max(len(res[0]), 1))

    # 5. index ---------------------------------------------------------------------------------------------
    import pandas as pd

    from vocbench.report.html import ReportMeta
    from vocbench.report.index import write_index

    summary = pd.DataFrame([
        {"data": "synthetic (train+val+test)", "root": str(devkit), "images": synth.num_images,
         "objects": synth.num_objects, "difficult": int(synth.difficult.sum())},
        *([{"data": "VOC07+12 trainval", "root": str(voc_root), "images": voc.num_images,
            "objects": voc.num_objects, "difficult": int(voc.difficult.sum())}] if voc is not None else []),
    ])
    cmd = f"vocbench demo {out} --images {images} --seed {args.seed}"
    if voc_root is not None:
        cmd += f" --voc {voc_root}"
    elif args.no_voc:
        cmd += " --no-voc"
    total = time.perf_counter() - total_start
    index = write_index(out / "index.html", steps.entries, steps.notes, summary,
                        commands=[cmd, f"vocbench synth {out / 'data'} --images {images} --seed {args.seed}"],
                        meta=ReportMeta(data=f"{out} — demo finished in {total:.0f} s"))
    print(f"[demo] done in {total:.0f} s: {len(steps.entries)} reports, {len(steps.notes)} notes"
          + (f", {steps.failed} FAILED" if steps.failed else ""))
    print(f"Open {index}")
    return 1 if steps.failed else 0
