"""``vocbench export-coco ROOT --set YEAR:SPLIT --out gt.json [--dets PATH --dets-out dets.json]``."""

from __future__ import annotations

import argparse

from vocbench.commands._common import add_dataset_args, check_output_paths, load_dataset_from_args

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "export-coco", help="write VOC ground truth (and detections) as COCO JSON for pycocotools",
        description="COCO export convention: bbox = [xmin-1, ymin-1, xmax-xmin+1, ymax-ymin+1], area = w*h, "
                    "iscrowd = difficult, category ids 1..C in class order, image ids 1..N in split order. "
                    "Detections are converted the same way. pycocotools on these files gives exactly the "
                    "numbers of 'vocbench eval --metric coco'.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="PATH", help="ground-truth JSON to write")
    p.add_argument("--dets", metavar="PATH", help="detections to convert (devkit folder, .json or .csv)")
    p.add_argument("--format", choices=("devkit", "coco", "csv", "yolo", "absolute"), default=None,
                   help="detections format (default: guessed from PATH; yolo = per-image cls cx cy w h conf, "
                        "absolute = per-image class conf xmin ymin xmax ymax)")
    p.add_argument("--dets-out", metavar="PATH", help="COCO results JSON to write (needs --dets)")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="drop detections on images outside the set instead of failing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.errors import VocbenchError
    from vocbench.io.coco import detections_to_coco, export_coco, write_json

    if bool(args.dets) != bool(args.dets_out):
        raise VocbenchError("--dets and --dets-out go together")
    check_output_paths(args, outputs=("out", "dets_out"))
    dataset = load_dataset_from_args(args)
    gt = export_coco(dataset)
    write_json(gt, args.out)
    print(f"wrote {args.out}: {len(gt['images'])} images, {len(gt['annotations'])} annotations")
    if args.dets:
        from vocbench.io.detections import read_detections

        dets = read_detections(args.dets, dataset, format=args.format,
                               ignore_unknown_images=args.ignore_unknown_images, strict=args.strict,
                               yolo_convention=args.yolo_convention)
        res = detections_to_coco(dataset, dets)
        write_json(res, args.dets_out)
        print(f"wrote {args.dets_out}: {len(res)} detections")
    return 0
