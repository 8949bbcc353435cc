"""``vocbench audit --gt ROOT --set YEAR:SPLIT ... [--dets [NAME=]PATH ...] [--input-size 416] [--stride 32 ...]
[--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vocbench.commands._common import (
    HelpFormatter,
    add_dataset_args,
    add_detections_format_arg,
    check_output_paths,
    emit_json,
    load_dataset_from_args,
    read_detections_from_args,
)

__all__ = ["register", "run", "named_paths", "parse_grids"]


def _unit(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return v


def _positive(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if v < 1 or v > 100_000:
        raise argparse.ArgumentTypeError(f"must be in 1..100000, got {value}")
    return v


def parse_grids(text: str) -> tuple[int, ...]:
    """``"7,13,19"`` → (7, 13, 19) — grid sides of the lost-vs-grid curve (1..1024)."""
    try:
        grids = tuple(sorted({int(t) for t in str(text).split(",") if t.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected grid sides like 7,13,19, got {text!r}") from None
    if not grids or min(grids) < 1 or max(grids) > 1024 or len(grids) > 32:
        raise argparse.ArgumentTypeError(f"at most 32 grid sides, each in 1..1024, got {text!r}")
    return grids


def _k(value: str) -> int:
    v = _positive(value)
    if v > 64:
        raise argparse.ArgumentTypeError(f"k must be in 1..64 (anchors per resize policy), got {value}")
    return v


def register(sub) -> None:
    p = sub.add_parser(
        "audit", help="dataset audit: what a grid and its anchors lose, resize policies, annotation health, "
                      "label-error candidates from detectors",
        description="Audit a dataset before training a one-stage detector: objects sharing a grid cell and lost "
                    "under YOLO's one object per cell / per (cell, anchor) (13x13 grid and yolo-voc anchors by "
                    "default; several --stride for a multi-scale head), SSD300 matching, squash / letterbox / "
                    "crop resizing, broken and duplicate boxes, imbalance and split leakage. With --dets "
                    "(detections of models NOT trained on these images) it also ranks likely annotation errors: "
                    "missing, wrong_class, badloc and spurious.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--gt", dest="root", metavar="ROOT", required=True,
                   help="ground truth: a VOCdevkit folder, a COCO instances .json or a YOLO data .yaml")
    add_dataset_args(p, root_positional=False)
    p.add_argument("--dets", action="append", default=[], metavar="[NAME=]PATH",
                   help="detections of a model that did not see these images (repeatable)")
    add_detections_format_arg(p, each=True)
    p.add_argument("--input-size", type=_positive, default=416, help="network input side in pixels")
    p.add_argument("--stride", dest="strides", type=_positive, action="append", metavar="S",
                   help="output stride; repeat for a multi-scale head, e.g. --stride 8 --stride 16 --stride 32 "
                        "(default: 32 alone)")
    p.add_argument("--grids", type=parse_grids, default=(7, 10, 13, 19, 26, 38, 52),
                   help="grid sides of the lost-objects-vs-grid curve")
    p.add_argument("--ssd", choices=("ssd300", "mobilenet-ssd"), default="ssd300", help="SSD default-box layout")
    p.add_argument("-k", "--k", dest="k", type=_k, default=5, help="k-means anchors per resize policy (1..64)")
    p.add_argument("--include-difficult", action="store_true", help="also assign and resize difficult objects")
    p.add_argument("--min-score", type=_unit, default=0.5, help="score of a confident detection")
    p.add_argument("--top", type=_positive, default=40, help="label-error candidates listed in the table and HTML")
    p.add_argument("--images", metavar="DIR", default=None,
                   help="image folder for drawing candidates (default: found from ROOT)")
    p.add_argument("--ignore-unknown-images", action="store_true",
                   help="drop detections on images outside the set (with a warning) instead of failing")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write the HTML audit report")
    p.set_defaults(func=run)


def named_paths(values: list[str]) -> list[tuple[str, str]]:
    """``[NAME=]PATH`` values → ``[(name, path)]``; names default to the file or folder name, made unique."""
    from vocbench.errors import VocbenchError

    out: list[tuple[str, str]] = []
    for v in values:
        if "=" in v and not Path(v).exists():
            name, path = (s.strip() for s in v.split("=", 1))
            if not name or not path:
                raise VocbenchError(f"--dets {v!r}: expected NAME=PATH")
        else:
            name, path = Path(v.rstrip("/")).name or v, v
        if any(name == n for n, _ in out):
            raise VocbenchError(f"--dets {v!r}: the name {name!r} is given twice; name them (NAME=PATH)")
        out.append((name, path))
    return out


def run(args: argparse.Namespace) -> int:
    from vocbench.audit import audit_dataset, find_label_issues, split_memberships

    named = named_paths(args.dets)
    check_output_paths(args, inputs=("root", "classes", "images"))
    for _, path in named:
        check_output_paths(argparse.Namespace(**{**vars(args), "dets": path}))
    dataset = load_dataset_from_args(args)
    splits = split_memberships(args.root, args.sets, classes=dataset.classes, cache=not args.no_cache,
                               yolo_convention=args.yolo_convention)
    audit = audit_dataset(dataset, input_size=args.input_size, strides=(tuple(args.strides or (32,)),),
                          sweep_grids=args.grids, ssd=args.ssd, k=args.k, splits=splits,
                          include_difficult=args.include_difficult)
    issues = None
    if named:
        dets = [read_detections_from_args(args, dataset, path) for _, path in named]
        issues = find_label_issues(dataset, dets, names=[n for n, _ in named], min_score=args.min_score)
    if args.json:
        out = audit.to_dict()
        if issues is not None:
            out.update(issues.to_dict())
            out["detections"] = {name: str(path) for name, path in named}
        emit_json(out, args.json)
    if args.json != "-":
        _print(audit, issues, args.top)
    if args.html:
        from vocbench.report.audit import write_audit_report

        written = write_audit_report(args.html, dataset, audit, label_issues=issues, top=args.top,
                                     images_dir=args.images)
        if args.json != "-":
            print(f"wrote {written}")
    return 0


def _print(audit, issues, top: int) -> None:
    print(audit)
    if issues is not None:
        print(issues)
        cols = ["image_id", "kind", "class", "xmin", "ymin", "xmax", "ymax", "score", "suggested_class"]
        print(issues.to_pandas().head(top)[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
