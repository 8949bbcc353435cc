"""``vocbench diagnose --gt ROOT --set YEAR:SPLIT --dets PATH [--protocol devkit|voc_eval|coco] [--iou T]
[--background-iou T] [--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse
import sys

from vocbench.commands._common import (
    DETS_HELP,
    HelpFormatter,
    add_dataset_args,
    add_detections_format_arg,
    check_output_paths,
    emit_json,
    iou_threshold,
    load_dataset_from_args,
    read_detections_from_args,
    score_option,
)

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "diagnose", help="why a detector loses AP: TIDE errors (VOC or COCO rules), sensitivity, confusion matrix",
        description="TIDE's error decomposition (cls, loc, both, dupe, bkg, miss; special false_pos/false_neg): "
                    "the mAP gained by fixing each error type with TIDE's oracle, under the VOC devkit or "
                    "voc_eval.py rules (difficult ignored; base AP = vocbench eval's VOC12 mAP) or COCO rules "
                    "(identical to tidecv 1.0.1 on COCO files as written, or on the COCO export of VOC/YOLO "
                    "data). Also Hoiem et al.'s normalised-AP sensitivity to object characteristics and a "
                    "confusion matrix at each class's F1-optimal threshold. AP units 0..1.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--gt", dest="root", metavar="ROOT", required=True,
                   help="ground truth: a VOCdevkit folder (holds VOC2007/, ...), a COCO instances .json "
                        "(no --set needed) or a YOLO data .yaml (--set val)")
    add_dataset_args(p, root_positional=False)
    p.add_argument("--dets", required=True, metavar="PATH",
                   help=DETS_HELP)
    add_detections_format_arg(p)
    p.add_argument("--protocol", choices=("devkit", "voc_eval", "coco"), default="devkit",
                   help="matching and AP rules")
    p.add_argument("--iou", type=iou_threshold, default=0.5, metavar="T",
                   help="foreground IoU threshold t_f")
    p.add_argument("--background-iou", type=lambda v: iou_threshold(v, low_open=False), default=0.1, metavar="T",
                   help="background IoU threshold t_b (TIDE)")
    p.add_argument("--score-threshold", type=score_option, default=None, metavar="S",
                   help="confusion matrix: count detections scoring at least S (default: each class's F1-optimal "
                        "threshold)")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="drop detections on images outside the evaluated set (with a warning) instead of failing")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write the standalone HTML diagnosis page")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.diagnose import diagnose

    if args.background_iou > args.iou:
        print(f"vocbench diagnose: error: --background-iou {args.background_iou} exceeds --iou {args.iou}",
              file=sys.stderr)
        return 2
    check_output_paths(args)  # --json/--html may not overwrite --dets or a file under ROOT
    dataset = load_dataset_from_args(args)
    dets = read_detections_from_args(args, dataset)
    result = diagnose(dataset, dets, protocol=args.protocol, iou=args.iou, background_iou=args.background_iou,
                      score_threshold=args.score_threshold)
    if args.json != "-":
        print(result)
    if args.html:
        from vocbench.report.diagnose import write_diagnosis_report

        path = write_diagnosis_report(args.html, dataset, result, detections=dets)
        if args.json != "-":
            print(f"wrote {path}")
    if args.json:  # after the HTML: a failed report leaves an earlier --json as it was
        out = result.to_dict()
        out["sets"] = list(dataset.sets)
        out["detections"] = str(args.dets)
        emit_json(out, args.json)
    return 0
