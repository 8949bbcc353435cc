"""``vocbench compare --gt ROOT --set YEAR:SPLIT --dets NAME=PATH --dets NAME=PATH [...] [--metric voc07|voc12|coco ...]
[--bootstrap R] [--seed S] [--json PATH|-] [--html PATH]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vocbench.commands._common import (
    DETS_HELP,
    HelpFormatter,
    add_dataset_args,
    add_detections_format_arg,
    check_output_paths,
    emit_json,
    int_option,
    iou_threshold,
    load_dataset_from_args,
    progress_enabled,
    read_detections_from_args,
    seed_option,
)

__all__ = ["register", "run", "parse_named_dets"]


def _confidence(value: str) -> float:
    try:
        c = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 < c < 1.0:
        raise argparse.ArgumentTypeError(f"confidence must be in (0, 1), got {value}")
    return c


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="compare detectors: bootstrap CIs, paired tests, per-class deltas, ranking stability",
        description="Compare two or more detectors on one test set. Images are resampled with replacement "
                    "(image bootstrap; each model is matched once and every replicate re-weights the matched "
                    "detections, exactly as scoring the resampled set would). Reports percentile intervals of "
                    "mAP, paired differences (b - a) with their interval and two-sided bootstrap p-value, "
                    "per-class differences with Holm-corrected significance, the smallest difference the set "
                    "resolves, and leaderboards under every metric and both VOC protocols with Kendall's tau.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--gt", dest="root", metavar="ROOT", required=True,
                   help="ground truth: a VOCdevkit folder (holds VOC2007/, ...), a COCO instances .json or a YOLO "
                        "data .yaml")
    add_dataset_args(p, root_positional=False)
    p.add_argument("--dets", dest="dets", action="append", required=True, metavar="NAME=PATH",
                   help="a model's " + DETS_HELP + "; repeat for each model; NAME defaults to the file or "
                        "folder name")
    add_detections_format_arg(p, each=True)
    p.add_argument("--metric", dest="metrics", action="append", choices=("voc07", "voc12", "coco"),
                   help="metric to compare, repeatable (default: voc07, voc12 and coco)")
    p.add_argument("--protocol", choices=("devkit", "voc_eval"), default="devkit",
                   help="VOC matching/AP conventions (the other one is scored too, for the ranking stability)")
    p.add_argument("--iou", type=iou_threshold, default=0.5, metavar="T", help="VOC IoU threshold")
    p.add_argument("--bootstrap", type=int_option(1, 2**40),  # upper bound: check_bootstrap (memory)
                   default=2000, metavar="R",
                   help="bootstrap replicates (>= 100)")
    p.add_argument("--seed", type=seed_option, default=0, metavar="S", help="seed of the resampling")
    p.add_argument("--confidence", type=_confidence, default=0.95, metavar="C", help="interval level")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table is then not printed)")
    p.add_argument("--html", metavar="PATH", help="write the HTML comparison report")
    p.add_argument("--about", metavar="TEXT",
                   help="what the detections are (which weights, trained on what, input size): shown in the HTML "
                        "report's header")
    p.set_defaults(func=run)


def parse_named_dets(values: list[str]) -> list[tuple[str, str]]:
    """``NAME=PATH`` values → ``[(name, path)]``; a value without ``=`` (or an existing path) is named after the
    file or folder. Raises :class:`~vocbench.errors.VocbenchError` on an empty name, a duplicate name or fewer
    than two sets."""
    from vocbench.errors import VocbenchError

    out: list[tuple[str, str]] = []
    for v in values:
        if "=" in v and not Path(v).exists():
            name, path = v.split("=", 1)
            name = name.strip()
            if not name or not path:
                raise VocbenchError(f"--dets {v!r}: expected NAME=PATH")
        else:
            path = v
            name = Path(v.rstrip("/")).name or v
        if any(name == n for n, _ in out):
            raise VocbenchError(f"--dets {v!r}: the name {name!r} is given twice; name every model differently "
                                "(NAME=PATH)")
        out.append((name, path))
    if len(out) < 2:
        raise VocbenchError(f"compare needs at least 2 --dets (NAME=PATH), got {len(out)}")
    return out


def run(args: argparse.Namespace) -> int:
    from vocbench.compare.comparison import check_bootstrap, compare
    named = parse_named_dets(args.dets)
    check_output_paths(args, inputs=("root", "classes"))
    for _, path in named:  # an output may not overwrite any detections input either
        check_output_paths(argparse.Namespace(**{**vars(args), "dets": path}))
    metrics = tuple(dict.fromkeys(args.metrics or ("voc07", "voc12", "coco")))
    dataset = load_dataset_from_args(args)
    check_bootstrap(args.bootstrap, dataset.num_images, len(named), len(metrics), dataset.num_classes)
    dets = [(name, read_detections_from_args(args, dataset, path)) for name, path in named]
    bar = None
    progress = None
    if progress_enabled(args):
        from tqdm import tqdm

        bar = tqdm(total=args.bootstrap, desc="bootstrap", unit="rep", leave=False)

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)
    try:
        result = compare(dataset, dets, metrics=metrics, protocol=args.protocol, iou=args.iou,
                         bootstrap=args.bootstrap, seed=args.seed, confidence=args.confidence, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json != "-":
        print(result)
    if args.html:
        from vocbench.report.compare import write_compare_report
        from vocbench.report.html import report_defaults

        with report_defaults(about=args.about):
            written = write_compare_report(args.html, dataset, result)
        if args.json != "-":
            print(f"wrote {written}")
    if args.json:  # after the HTML: a failed report leaves an earlier --json as it was
        out = result.to_dict()
        out["sets"] = list(dataset.sets)
        out["detections"] = {name: str(path) for name, path in named}
        emit_json(out, args.json)
    return 0
