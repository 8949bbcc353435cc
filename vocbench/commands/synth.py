"""``vocbench synth OUT [--images N] [--size 416] [--seed S] [--year 2007] [--workers W] [--json PATH|-]``."""

from __future__ import annotations

import argparse
import json
import time

from vocbench.commands._common import HelpFormatter, emit_json, int_option, progress_enabled, seed_option

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "synth", help="write the built-in synthetic VOC-format dataset (JPEGs + XML + ImageSets)",
        description="Draw a procedural VOC-format dataset with VOC's 20 class names and VOC-like layout "
                    "statistics into OUT/VOCdevkit/VOC<year> (train 50%, val 25%, test 25%). The same seed "
                    "gives the same annotations byte for byte, whatever the number of workers.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("out", metavar="OUT", help="output folder (VOCdevkit/ is created inside)")
    p.add_argument("--images", type=int_option(1, 1_000_000), default=2000, help="number of images")
    p.add_argument("--size", type=int_option(32, 4096), default=416, help="long side of every image, pixels")
    p.add_argument("--seed", type=seed_option, default=0, help="dataset seed")
    p.add_argument("--year", default="2007", help="folder VOC<year>; sets are then <year>:train etc.")
    p.add_argument("--workers", type=int_option(1, 1024), default=None,
                   help="worker processes (default: one per core)")
    p.add_argument("--json", metavar="PATH", help="write a JSON summary to PATH ('-' = stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.synth import MARKER, generate

    start = time.perf_counter()
    devkit = generate(args.out, images=args.images, size=args.size, seed=args.seed, year=args.year,
                      workers=args.workers, progress=progress_enabled(args))
    seconds = time.perf_counter() - start
    folder = devkit / f"VOC{args.year}"
    meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    counts = meta["counts"]
    summary = {"devkit": str(devkit), "folder": str(folder), "seconds": round(seconds, 2), **meta}
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print(f"wrote {counts['images']} images, {counts['objects']} objects ({counts['difficult']} difficult) to "
              f"{folder} in {seconds:.1f} s")
        print(f"next: vocbench stats {devkit} --set {args.year}:trainval --html synth_dataset.html")
    return 0
