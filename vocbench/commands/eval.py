"""``vocbench eval --gt ROOT --set YEAR:SPLIT --dets PATH [--metric voc07|voc12|coco ...] [--protocol devkit|voc_eval]
[--iou 0.5 ...] [--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse

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
)

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="score detections: VOC07/VOC12 mAP (devkit or voc_eval rules) and the COCO protocol",
        description="Score detections against VOC ground truth. VOC: greedy matching by descending score "
                    "(stable), best-IoU GT with '+1' pixel areas, difficult objects ignored; 'devkit' protocol "
                    "(IoU >= t, MATLAB 11-point thresholds) or 'voc_eval' (the py-faster-rcnn port: IoU > t). "
                    "COCO: identical to pycocotools on the COCO export (vocbench export-coco). With several --iou, "
                    "the JSON keeps the first threshold at the top level and adds \"iou\": {\"0.7\": {...}}.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--gt", dest="root", metavar="ROOT", required=True,
                   help="ground truth: a VOCdevkit folder (holds VOC2007/, ...), a COCO instances .json "
                        "(no --set needed) or a YOLO data .yaml (--set val)")
    add_dataset_args(p, root_positional=False)
    p.add_argument("--dets", required=True, metavar="PATH",
                   help=DETS_HELP)
    add_detections_format_arg(p)
    p.add_argument("--metric", dest="metrics", action="append", choices=("voc07", "voc12", "coco"),
                   help="metric to report, repeatable (default: voc07 and voc12)")
    p.add_argument("--protocol", choices=("devkit", "voc_eval"), default="devkit",
                   help="VOC matching/AP conventions")
    p.add_argument("--iou", dest="ious", action="append", type=iou_threshold, metavar="T",
                   help="VOC IoU threshold, repeatable (default: 0.5)")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="drop detections on images outside the evaluated set (with a warning) instead of failing")
    p.add_argument("--coco-area", choices=("file", "box"), default="file",
                   help="COCO metric: small/medium/large by the annotation's area field (pycocotools, default) or "
                        "by the box's w*h")
    p.add_argument("--coco-ignore", choices=("iscrowd", "file"), default="iscrowd",
                   help="COCO metric: ignored GT = iscrowd (pycocotools overwrites 'ignore', default) or also the "
                        "file's 'ignore: 1'")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write the HTML evaluation report")
    p.add_argument("--about", metavar="TEXT",
                   help="what the detections are (which weights, trained on what, input size): shown in the HTML "
                        "report's header")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.eval import evaluate

    check_output_paths(args)
    dataset = load_dataset_from_args(args)
    dets = read_detections_from_args(args, dataset)
    metrics = tuple(args.metrics or ("voc07", "voc12"))
    result = evaluate(dataset, dets, metrics=metrics, protocol=args.protocol, iou=tuple(args.ious or (0.5,)),
                      coco_area=args.coco_area, coco_ignore=args.coco_ignore)
    if args.json != "-":
        print(result)
    if args.html:
        from vocbench.diagnose import diagnose_evaluation
        from vocbench.report.eval import write_eval_report
        from vocbench.report.html import report_defaults

        diagnosis = diagnose_evaluation(dataset, dets, result)  # the report's TIDE sections
        with report_defaults(about=args.about):
            path = write_eval_report(args.html, dataset, result, detections=dets, diagnosis=diagnosis)
        if args.json != "-":
            print(f"wrote {path}")
    if args.json:  # after the HTML: a failed report leaves an earlier --json as it was
        out = result.to_dict()
        out["sets"] = list(dataset.sets)
        out["detections"] = str(args.dets)
        emit_json(out, args.json)
    return 0
