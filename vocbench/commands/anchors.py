"""``vocbench anchors ROOT --set YEAR:SPLIT ... [-k 5] [--curve 1-15] [--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse

from vocbench.commands._common import (
    HelpFormatter,
    add_dataset_args,
    check_output_paths,
    emit_json,
    int_option,
    load_dataset_from_args,
    seed_option,
    stage_progress,
)
from vocbench.limits import ANCHOR_LIMITS

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "anchors", help="IoU k-means anchors, mean-IoU curve and fixed prior sets (YOLO, SSD) on a dataset",
        description="Cluster the normalised (w/W, h/H) shapes of the ground-truth boxes with k-means and "
                    "d = 1 - IoU (YOLOv2's dimension clusters); report the anchors normalised and in grid "
                    "cells, the mean IoU for k over a range against Euclidean k-means, and how the yolo-voc "
                    "anchors and SSD default boxes fit the same boxes (mean IoU, best possible recall).",
        formatter_class=HelpFormatter,
    )
    add_dataset_args(p)
    p.add_argument("-k", "--k", dest="k", type=int_option(*ANCHOR_LIMITS["n_clusters"]), default=5,
                   help="number of anchors to report")
    p.add_argument("--curve", default="1-15", help="ks of the mean-IoU curve, e.g. 1-15 or 3,5,9; 'none' to skip")
    p.add_argument("--n-init", type=int_option(*ANCHOR_LIMITS["n_init"]), default=5, help="k-means restarts per k")
    p.add_argument("--max-iter", type=int_option(*ANCHOR_LIMITS["max_iter"]), default=300,
                   help="k-means iterations per restart")
    p.add_argument("--median", action="store_true", help="median instead of mean centroids")
    p.add_argument("--seed", type=seed_option, default=0, help="random seed (same seed → identical anchors)")
    p.add_argument("--input-size", type=int_option(*ANCHOR_LIMITS["input_size"]), default=416,
                   help="network input side in pixels")
    p.add_argument("--stride", type=int_option(*ANCHOR_LIMITS["stride"]), default=32,
                   help="output stride (grid = input size / stride)")
    p.add_argument("--include-difficult", action="store_true", help="also cluster boxes marked difficult")
    p.add_argument("--sse", action="store_true",
                   help="also fit scikit-learn's Euclidean k-means for every k of the curve (YOLOv2's baseline, "
                        "Table 1; about 10x the time of the rest on VOC07+12)")
    p.add_argument("--no-sse", action="store_true", help="no Euclidean baseline (the default; for older scripts)")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write an HTML report with the anchor figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.anchors import analyze_dataset_anchors, parse_k_range

    # -k, --n-init, ... are bounded by their option types; parse_k_range bounds --curve (vocbench.limits)
    curve = None if str(args.curve).lower() in ("none", "", "0") else parse_k_range(args.curve)
    check_output_paths(args)
    dataset = load_dataset_from_args(args)
    sse = args.sse and not args.no_sse
    with stage_progress(args, ("k-means",), "anchors") as begin:
        begin("IoU k-means" + (" and the Euclidean baseline" if sse else ""))
        result = analyze_dataset_anchors(
            dataset, include_difficult=args.include_difficult, k=args.k, curve=curve, n_init=args.n_init,
            max_iter=args.max_iter, centroid="median" if args.median else "mean", random_state=args.seed,
            input_size=args.input_size, stride=args.stride, sse_baseline=sse)
    if args.json:
        from vocbench.audit import assignment_table

        out = result.to_dict()
        out["sets"] = list(dataset.sets)
        out["include_difficult"] = bool(args.include_difficult)
        grids = sorted({max(int(args.input_size // args.stride), 1), 13, 19, 26, 38, 52})
        out["assignment"] = assignment_table(  # what the grid loses with these anchors (vocbench audit)
            dataset, {"yolo-voc": "yolo-voc", "kmeans": result.anchors_norm}, grids,
            include_difficult=args.include_difficult).to_dict("records")
        emit_json(out, args.json)
    if args.json != "-":
        print(result)
    if args.html:
        from vocbench.report.dataset import write_anchor_report

        path = write_anchor_report(args.html, result, dataset=dataset)
        if args.json != "-":
            print(f"wrote {path}")
    return 0
