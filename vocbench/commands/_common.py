"""Helpers shared by CLI handlers: dataset arguments, JSON output, progress bars."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vocbench.io.jsonio import emit_json, to_jsonable

__all__ = ["add_dataset_args", "load_dataset_from_args", "emit_json", "to_jsonable", "progress_enabled"]


def add_dataset_args(p: argparse.ArgumentParser, root_positional: bool = True, required_sets: bool = True) -> None:
    """``ROOT`` (a VOCdevkit folder) plus repeated ``--set YEAR:SPLIT``, ``--classes``, ``--strict``, ``--no-cache``."""
    if root_positional:
        p.add_argument("root", metavar="ROOT", help="VOCdevkit folder (holds VOC2007/, VOC2012/, ...)")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", required=required_sets,
                   help="a split to load, e.g. 2007:trainval; repeat to form a union")
    p.add_argument("--classes", default=None,
                   help="comma-separated class names, or a file with one per line (default: the 20 VOC classes)")
    p.add_argument("--strict", action="store_true", help="treat inverted or out-of-image boxes as errors")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the parsed-annotation cache")


def parse_classes(value: str | None):
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        names = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    else:
        names = [c.strip() for c in value.split(",") if c.strip()]
    return tuple(names)


def load_dataset_from_args(args: argparse.Namespace, root: str | None = None):
    from vocbench.io.voc import load_voc

    return load_voc(root if root is not None else args.root, args.sets, classes=parse_classes(args.classes),
                    strict=args.strict, cache=not args.no_cache, progress=progress_enabled(args))


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal, and never with ``--json``."""
    return sys.stderr.isatty() and not getattr(args, "json", None)
