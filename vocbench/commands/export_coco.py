"""``vocbench export-coco ROOT --set YEAR:SPLIT --out gt.json [--dets PATH --dets-out dets.json]``."""

from __future__ import annotations

import argparse

from vocbench.commands._common import (
    DETS_HELP,
    HelpFormatter,
    add_dataset_args,
    add_detections_format_arg,
    check_output_paths,
    emit_json,
    load_dataset_from_args,
    read_detections_from_args,
)

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "export-coco", help="write VOC ground truth (and detections) as COCO JSON for pycocotools",
        description="COCO export convention: bbox = [xmin-1, ymin-1, xmax-xmin+1, ymax-ymin+1], area = w*h, "
                    "iscrowd = difficult, category ids 1..C in class order, image ids 1..N in split order. "
                    "Detections are converted the same way. pycocotools on these files gives exactly the "
                    "numbers of 'vocbench eval --metric coco'.",
        formatter_class=HelpFormatter,
    )
    add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="PATH", help="ground-truth JSON to write")
    p.add_argument("--dets", metavar="PATH", help=DETS_HELP + " to convert")
    add_detections_format_arg(p)
    p.add_argument("--dets-out", metavar="PATH", help="COCO results JSON to write (needs --dets)")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="drop detections on images outside the set instead of failing")
    p.add_argument("--json", metavar="PATH",
                   help="write a JSON summary (files written, images, annotations, detections) to PATH "
                        "('-' = stdout, quiet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.errors import VocbenchError
    from vocbench.io.coco import detections_to_coco, export_coco, write_json
    from vocbench.io.writers import check_inputs_outside

    if bool(args.dets) != bool(args.dets_out):
        raise VocbenchError("--dets and --dets-out go together")
    check_output_paths(args, outputs=("out", "dets_out", "json"))
    for out in (args.out, args.dets_out):  # converted data, as convert's: never added to a folder it reads
        if out:
            check_inputs_outside(out, [("ROOT", args.root), ("--dets", args.dets)], kind="file")
    dataset = load_dataset_from_args(args)
    gt = export_coco(dataset)
    res = None
    if args.dets:  # every input read and converted before the first file is written
        res = detections_to_coco(dataset, read_detections_from_args(args, dataset))
    write_json(gt, args.out)
    summary: dict = {"gt": str(args.out), "images": len(gt["images"]), "annotations": len(gt["annotations"]),
                     "categories": len(gt["categories"]), "sets": list(dataset.sets)}
    lines = [f"wrote {args.out}: {len(gt['images'])} images, {len(gt['annotations'])} annotations"]
    if res is not None:
        write_json(res, args.dets_out)
        summary.update(dets=str(args.dets_out), detections=len(res))
        lines.append(f"wrote {args.dets_out}: {len(res)} detections")
    if args.json:
        emit_json(summary, args.json)
    if args.json != "-":
        print("\n".join(lines))
    return 0
