"""``vocbench stats ROOT --set YEAR:SPLIT ... [--by-set] [--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse

from vocbench.commands._common import (
    HelpFormatter,
    add_dataset_args,
    check_output_paths,
    emit_json,
    load_dataset_from_args,
    stage_progress,
)

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "stats", help="dataset statistics (table, JSON, HTML report with plots and anchors)",
        description="Count images and objects of a union of VOC splits ('objects' = non-difficult, as in the "
                    "published VOC tables), per class and per set; optionally write the HTML dataset report.",
        formatter_class=HelpFormatter,
    )
    add_dataset_args(p)
    p.add_argument("--by-set", action="store_true", help="also report each --set alone")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write the self-contained HTML dataset report")
    p.add_argument("--no-anchors", action="store_true", help="leave the anchor analysis out of the HTML report")
    p.add_argument("--no-audit", action="store_true",
                   help="leave the dataset audit (13x13 grid losses, SSD matching, resize policies, annotation "
                        "health; see vocbench audit) out of the HTML report")
    p.add_argument("--compare", action="append", default=[], metavar="YEAR:SPLIT[,YEAR:SPLIT...]",
                   help="another split (or a comma-separated union) from ROOT shown alongside in the HTML report "
                        "(repeatable), e.g. --compare 2007:val,2012:val --compare 2007:test")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.stats import compute_stats

    check_output_paths(args)
    dataset = load_dataset_from_args(args)
    compare = []
    if args.compare and not args.html:
        import warnings

        from vocbench.errors import VocbenchWarning

        warnings.warn("--compare only adds columns to the --html report; without --html it is ignored",
                      VocbenchWarning, stacklevel=2)
    if args.html:  # load (and check) every --compare set before anything is printed or written
        from vocbench.io.gt import load_ground_truth  # VOC folder or YOLO data.yaml splits

        for spec in args.compare:
            specs = [s.strip() for s in spec.split(",") if s.strip()]
            other = load_ground_truth(args.root, specs, classes=dataset.classes, strict=args.strict,
                                      cache=not args.no_cache, yolo_convention=args.yolo_convention)
            compare.append((" + ".join(specs), other))
    stats = compute_stats(dataset, by_set=args.by_set or bool(args.html))
    if args.json != "-":
        print(stats)
    if args.html:
        from vocbench.report.dataset import write_dataset_report

        with stage_progress(args, ("audit", "anchors", "report"), "dataset report") as begin:
            begin("audit")
            audit = None if args.no_audit else _audit(args, dataset)
            analysis = None
            if not args.no_anchors and (~dataset.difficult).any():  # the report's anchor sections
                from vocbench.anchors import analyze_dataset_anchors

                begin("anchors")
                analysis = analyze_dataset_anchors(dataset)
            begin("report: figures")
            path = write_dataset_report(args.html, dataset, stats=stats, anchor_analysis=analysis,
                                        anchors=not args.no_anchors, compare=compare or None, audit=audit)
        if args.json != "-":
            print(f"wrote {path}")
    if args.json:  # after the HTML: a failed report leaves an earlier --json as it was
        emit_json(stats.to_dict(), args.json)
    return 0


def _audit(args: argparse.Namespace, dataset):
    """The dataset audit of the report: the essay's 13x13 grid (416 px, stride 32) with the yolo-voc anchors."""
    from vocbench.audit import audit_dataset, split_memberships

    splits = split_memberships(args.root, args.sets, classes=dataset.classes, cache=not args.no_cache,
                               yolo_convention=args.yolo_convention)
    return audit_dataset(dataset, input_size=416, strides=((32,),), splits=splits)
