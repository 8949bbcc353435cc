"""``vocbench bench {nms,eval,io,anchors,all} [--json PATH|-] [--html PATH] [--quick] [--shared DIR]``."""

from __future__ import annotations

import argparse
import sys

from vocbench.commands._common import HelpFormatter, emit_json

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="speed comparisons with peers (NMS, scoring, I/O, anchors) as ratio tables",
        description="Time vocbench against its peers on the same inputs after JIT warm-up, single-threaded unless "
                    "a row says otherwise; print peer/vocbench ratios (median of repeats, min/max) and whether "
                    "every peer returned the same answer.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("suite", choices=["nms", "eval", "io", "anchors", "diagnose", "startup", "compare", "audit",
                                     "e2e", "all"],
                   help="which comparison")
    p.add_argument("--json", metavar="PATH", help="write JSON to PATH ('-' = stdout; the table goes to stderr)")
    p.add_argument("--html", metavar="PATH", help="write the HTML benchmark report (tables and log-log plots)")
    p.add_argument("--quick", action="store_true", help="fewer repeats; slow peers run once (under 3 minutes)")
    p.add_argument("--shared", metavar="DIR", default=None,
                   help="folder holding voc/ (default: $VOCBENCH_SHARED or ../shared)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vocbench.bench.suites import run_suites

    names = ["nms", "eval", "io", "anchors", "diagnose", "startup", "compare", "audit", "e2e"]
    names = names if args.suite == "all" else [args.suite]
    out = sys.stderr if args.json == "-" else sys.stdout

    def progress(msg: str) -> None:
        if sys.stderr.isatty():
            print(f"  ... {msg}", file=sys.stderr, flush=True)

    result = run_suites(names, quick=args.quick, shared=args.shared, progress=progress)
    print(result, file=out)
    if args.json:
        emit_json(result.to_dict(), args.json)
    if args.html:
        from vocbench.report.bench import write_bench_report

        path = write_bench_report(args.html, result)
        print(f"wrote {path}", file=out)
    return 0
