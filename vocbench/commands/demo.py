"""``vocbench demo [OUT] [--images N] [--seed S] [--voc ROOT | --no-voc] [--quick] [--no-models]``: the main job.

A thin handler around :func:`vocbench.demo.run_demo` (see that module for the steps). The last line printed is
``Open OUT/index.html``; the exit code is 1 when a step failed (its note on the index says why).
"""

from __future__ import annotations

import argparse
import os

from vocbench.commands._common import HelpFormatter, int_option, seed_option
from vocbench.demo import DEFAULT_IMAGES, DEMO_SEED, QUICK_IMAGES

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="synthesise data, write every report and an index.html linking them (the main job)",
        description="Run the whole suite on a fresh machine: synthetic VOC data, its dataset report with anchors, "
                    "the reference detectors scored, profiled, diagnosed and compared, a short NMS and mAP "
                    "speed table, and — when the real VOC annotations are found — the VOC07+12 dataset report and the "
                    "real YOLOv2 scoring, diagnosis and YOLOv2-vs-YOLOv3 comparison. Ends by printing where "
                    "OUT/index.html is.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("out", metavar="OUT", nargs="?", default="demo_out", help="output folder")
    p.add_argument("--images", type=int_option(1, 1_000_000), default=None,
                   help=f"synthetic images (default {DEFAULT_IMAGES}, {QUICK_IMAGES} with --quick)")
    p.add_argument("--seed", type=seed_option, default=DEMO_SEED, help="seed of the synthetic set")
    p.add_argument("--voc", metavar="ROOT", default=None,
                   help="real VOCdevkit (default: $VOCBENCH_SHARED/voc/VOCdevkit or ../shared/voc/VOCdevkit)")
    p.add_argument("--no-voc", action="store_true", help="do not use the real VOC annotations even if found")
    p.add_argument("--quick", action="store_true",
                   help="a small synthetic set and a shorter anchor analysis (k = 1..9, no Euclidean baseline)")
    p.add_argument("--no-models", action="store_true", help="leave out the detector plug-ins (reference models)")
    p.add_argument("--no-speed", action="store_true", help="leave out the NMS and mAP speed table")
    p.add_argument("--json", metavar="PATH", help="write the demo's summary as JSON ('-' = stdout, quiet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.commands._common import progress_enabled
    from vocbench.demo import run_demo
    from vocbench.io.jsonio import emit_json

    quiet = args.json == "-"
    result = run_demo(args.out, images=args.images, seed=args.seed, voc=args.voc, use_voc=not args.no_voc,
                      quick=args.quick, models=not args.no_models, speed=not args.no_speed,
                      progress=progress_enabled(args), log=None if quiet else (lambda line: print(line, flush=True)),
                      debug=bool(args.debug or os.environ.get("VOCBENCH_DEBUG")))
    if args.json:
        emit_json(result.to_dict(), args.json)
    if not quiet:
        print(f"[demo] done in {result.seconds:.0f} s: {len(result.reports)} reports, {len(result.notes)} notes"
              + (f", {result.failed} FAILED" if result.failed else ""))
        print(f"Open {result.index}")
    return 0 if result.ok else 1
