"""Helpers shared by CLI handlers: dataset arguments, JSON output, progress bars."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from vocbench._argparse import WidthHelpFormatter
from vocbench.io.jsonio import emit_json, to_jsonable

__all__ = ["HelpFormatter", "states_default", "DETS_HELP", "add_dataset_args", "load_dataset_from_args",
           "emit_json", "to_jsonable", "progress_enabled", "stage_progress",
           "check_output_paths", "iou_threshold", "DETECTION_FORMATS", "add_detections_format_arg",
           "read_detections_from_args", "NumberOption", "int_option", "float_option", "seed_option", "score_option",
           "MAX_SEED"]

#: Detection formats every scoring command reads (``--format``).
DETECTION_FORMATS = ("devkit", "coco", "csv", "yolo", "absolute")

#: ``--dets`` help: every format :func:`vocbench.read_detections` accepts, one phrase each (``DETECTION_FORMATS``).
DETS_HELP = ("detections: a devkit folder of comp4_det_test_<class>.txt, a COCO results .json, a .csv "
             "(image,class,score,xmin,ymin,xmax,ymax), a YOLO folder of per-image .txt (cls cx cy w h conf) or an "
             "absolute folder of per-image .txt (class conf xmin ymin xmax ymax)")


_STATES_DEFAULT = re.compile(r"\(default\b|\bdefault:|[;,]\s*default\b|\bdefaults? to\b", re.IGNORECASE)


def states_default(help_text: str) -> bool:
    """Whether a help text says its own default (``(default: ...)``, ``(default 416 yolo)``, ``; default ...``,
    ``NAME defaults to ...``); "SSD default boxes" is not a default."""
    return bool(_STATES_DEFAULT.search(help_text))


class HelpFormatter(WidthHelpFormatter):
    """``--help`` that states a default once: appends ``(default: X)`` only where the help text does not already
    say its default, the option is not required, and there is a value to show (not None, False or an empty list).

    argparse's ``ArgumentDefaultsHelpFormatter`` prints ``(default: None)`` on required options and a second default
    after a help text that explains its own (``(default: the 20 VOC classes) (default: None)``).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings and action.nargs not in ("?", "*")) or action.required \
                or states_default(text) or "%(default)" in text:
            return text
        if default is None or default is False or default == [] or default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


#: Largest seed any command accepts (numpy's and torch's generators take any int64).
MAX_SEED = 2**63 - 1


class NumberOption:
    """argparse ``type=`` of a numeric option: an integer (``kind=int``) or a finite float in ``[low, high]``
    (``low_open`` / ``high_open`` exclude the end). Every numeric option of every command uses one, so that NaN,
    infinities, booleans, fractions for counts and absurd sizes (``--n-init 1000000000``) are usage errors (exit 2)
    before any work starts. ``bounds`` is ``(low, high)``; ``high`` is always finite."""

    def __init__(self, kind: type, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"bad bounds {low}, {high}")
        self.kind, self.bounds, self.low_open, self.high_open = kind, (low, high), low_open, high_open
        self.__name__ = "integer" if kind is int else "number"

    def describe(self) -> str:
        low, high = self.bounds
        if self.kind is int:
            return f"an integer in {int(low)}..{int(high)}"
        return f"a number in {'(' if self.low_open else '['}{low:g}, {high:g}{')' if self.high_open else ']'}"

    def __call__(self, value: str):
        text = str(value).strip()
        try:
            v = int(text) if self.kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {self.describe()}") from None
        low, high = self.bounds
        ok = math.isfinite(v) and (v > low if self.low_open else v >= low) and (v < high if self.high_open else
                                                                               v <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text[:40]}")
        return v


def int_option(low: int, high: int) -> NumberOption:
    """An integer option in ``low..high`` (:class:`NumberOption`)."""
    return NumberOption(int, low, high)


def float_option(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> NumberOption:
    """A finite float option in ``[low, high]`` (ends excluded with ``low_open`` / ``high_open``)."""
    return NumberOption(float, low, high, low_open=low_open, high_open=high_open)


#: A score threshold: any sign (detector scores may be logits), at most 1e6 in magnitude.
score_option = float_option(-1e6, 1e6)

#: ``--seed`` of every command.
seed_option = int_option(0, MAX_SEED)


def iou_threshold(value: str, low_open: bool = True) -> float:
    """argparse type of an IoU threshold: a number in ``(0, 1]`` (``[0, 1]`` with ``low_open=False``)."""
    try:
        t = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not (((0.0 < t) if low_open else (0.0 <= t)) and t <= 1.0):  # NaN fails every comparison
        raise argparse.ArgumentTypeError(f"IoU threshold must be in {'(0' if low_open else '[0'}, 1], got {value}")
    return t


def add_detections_format_arg(p: argparse.ArgumentParser, each: bool = False) -> None:
    """``--format`` with every format :func:`vocbench.read_detections` reads."""
    p.add_argument("--format", choices=DETECTION_FORMATS, default=None,
                   help=f"detections format (default: guessed from {'each PATH' if each else 'PATH'}; yolo = "
                        "per-image cls cx cy w h conf, absolute = per-image class conf xmin ymin xmax ymax)")
    p.add_argument("--image-ids", choices=("auto", "coco-id", "stem"), default="auto",
                   help="COCO results: image_id names the ground truth's COCO id (VOC/YOLO: the export's 1..N) or "
                        "the file stem (int(stem) as ultralytics writes it, or the stem string); auto: the one "
                        "reading every id fits, refused when two disagree")
    p.add_argument("--category-ids", choices=("auto", "coco-id", "index0", "index1", "name"), default="auto",
                   help="COCO results: category_id is the ground truth's COCO id, a 0- or 1-based class index "
                        "(ultralytics: index0), or the class name; auto: the one reading every id fits")


def read_detections_from_args(args: argparse.Namespace, dataset, path=None):
    """:func:`vocbench.read_detections` of ``path`` (default ``args.dets``) with the command's ``--format``,
    ``--strict``, ``--yolo-convention`` and ``--ignore-unknown-images``."""
    from vocbench.io.detections import read_detections

    return read_detections(args.dets if path is None else path, dataset, format=args.format,
                           ignore_unknown_images=getattr(args, "ignore_unknown_images", False),
                           strict=args.strict, yolo_convention=args.yolo_convention,
                           image_ids=getattr(args, "image_ids", "auto"),
                           category_ids=getattr(args, "category_ids", "auto"))


def add_dataset_args(p: argparse.ArgumentParser, root_positional: bool = True, required_sets: bool = True) -> None:
    """``ROOT`` (a VOCdevkit folder) plus repeated ``--set YEAR:SPLIT``, ``--classes``, ``--strict``, ``--no-cache``."""
    if root_positional:
        p.add_argument("root", metavar="ROOT", help="ground truth: a VOCdevkit folder (holds VOC2007/, ...), a COCO "
                       "instances .json or a YOLO data .yaml")
    p.add_argument("--set", dest="sets", action="append", metavar="YEAR:SPLIT", required=False,  # COCO GT: none
                   help="a split to load, e.g. 2007:trainval (YOLO data.yaml: val; COCO .json: not needed); "
                        "repeat to form a union")
    p.add_argument("--yolo-convention", default="ultralytics", choices=("ultralytics", "coco", "plain"),
                   help="how YOLO normalised boxes map to VOC pixels (labels and predictions; see vocbench.io.yolo)")
    p.add_argument("--classes", default=None,
                   help="comma-separated class names, a file with one per line, or 'auto' (the names found in the "
                        "annotations, sorted; COCO/YOLO: the file's own list) (default: the 20 VOC classes; "
                        "COCO/YOLO: the file's own)")
    p.add_argument("--strict", action="store_true", help="treat inverted or out-of-image boxes as errors")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the parsed-annotation cache")


#: ``--classes auto``: the class names found in the annotations (:func:`resolve_classes`).
AUTO_CLASSES = "auto"


def parse_classes(value: str | None):
    """``--classes`` → a tuple of names, None (the default list), or :data:`AUTO_CLASSES`."""
    if value is None:
        return None
    if value.strip().lower() == AUTO_CLASSES:
        return AUTO_CLASSES
    path = Path(value)
    try:  # a comma-separated list is never a file name (a long one would be "File name too long")
        is_file = "," not in value and path.is_file()
    except OSError:
        is_file = False
    if is_file:
        from vocbench.errors import VocbenchError

        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise VocbenchError(f"{path}: --classes file is not UTF-8 text (byte {exc.start})") from None
        names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    else:
        names = [c.strip() for c in value.split(",") if c.strip()]
    return tuple(names)


def resolve_classes(value: str | None, root: str, sets) -> tuple[str, ...] | None:
    """``--classes`` for :func:`~vocbench.io.gt.load_ground_truth`; ``auto`` reads the names from a VOCdevkit's
    annotations (sorted) and says so on stderr (COCO/YOLO files carry their own list: None)."""
    classes = parse_classes(value)
    if classes != AUTO_CLASSES:
        return classes
    from vocbench.errors import VocbenchError
    from vocbench.io.gt import ground_truth_kind

    if ground_truth_kind(root) != "voc":
        print(f"vocbench: --classes auto: the class list of {root}", file=sys.stderr)
        return None
    from vocbench.io.voc import voc_class_names

    if not sets:
        raise VocbenchError(f"{root}: a VOCdevkit ground truth needs --set YEAR:SPLIT (e.g. --set 2007:test)")
    names = voc_class_names(root, sets)
    if not names:
        raise VocbenchError(f"{root}: --classes auto found no <object><name> in the annotations of "
                            f"{', '.join(sets)}")
    print(f"vocbench: --classes auto: {len(names)} classes found in the annotations, sorted: {', '.join(names)}",
          file=sys.stderr)
    return names


def load_dataset_from_args(args: argparse.Namespace, root: str | None = None):
    from vocbench.io.gt import load_ground_truth  # VOCdevkit folder, COCO instances.json or YOLO data.yaml

    root = root if root is not None else args.root
    return load_ground_truth(root, args.sets,
                             classes=resolve_classes(args.classes, root, args.sets), strict=args.strict,
                             cache=not args.no_cache,
                             progress=progress_enabled(args),
                             yolo_convention=getattr(args, "yolo_convention", "ultralytics"))


def check_output_paths(args: argparse.Namespace, outputs: tuple[str, ...] = ("json", "html"),
                       inputs: tuple[str, ...] = ("root", "dets", "classes"),
                       labels: dict[str, str] | None = None) -> None:
    """Refuse (exit 1) an output that would overwrite an input or another output, before any work is done.

    An output (``--json``, ``--html``, ``--out``, ...; ``-`` = stdout is exempt) may not be the same file as an
    input, nor an existing file inside an input folder (a devkit result folder, the VOCdevkit ROOT), nor the same
    path as another output. ``labels`` names positional arguments in the message (``{"out": "OUT"}``).
    """
    from vocbench.errors import VocbenchError

    def flag(name: str) -> str:
        if labels and name in labels:
            return labels[name]
        return "ROOT" if name == "root" else "--" + name.replace("_", "-")

    seen: dict[str, str] = {}
    for out_name in outputs:
        out = getattr(args, out_name, None)
        if not out or str(out) == "-":
            continue
        real = os.path.realpath(out)
        if real in seen:
            raise VocbenchError(f"{out}: {flag(out_name)} and {flag(seen[real])} name the same file")
        seen[real] = out_name
        for in_name in inputs:
            src = getattr(args, in_name, None)
            if not src or not os.path.exists(src):
                continue
            src_real = os.path.realpath(src)
            inside = os.path.isdir(src_real) and os.path.exists(real) and \
                os.path.commonpath([src_real, real]) == src_real
            if real == src_real or inside:
                raise VocbenchError(f"{out}: {flag(out_name)} would overwrite the input {flag(in_name)} "
                                    f"({src}); choose another output path")


@contextlib.contextmanager
def stage_progress(args: argparse.Namespace, stages: Sequence[str], desc: str) -> Iterator[Callable[[str], None]]:
    """A tqdm bar over a command's named stages, on a terminal only (:func:`progress_enabled`): the block gets
    ``begin(name)``, called as each stage starts (the bar shows it and counts the ones done)."""
    if not progress_enabled(args):
        yield lambda _name: None
        return
    from tqdm import tqdm

    bar = tqdm(total=len(stages), desc=desc, unit="stage", leave=False)
    started = [0]

    def begin(name: str) -> None:
        if started[0]:
            bar.update(1)
        started[0] += 1
        bar.set_postfix_str(name)

    try:
        yield begin
    finally:
        bar.close()


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal, and never with ``--json``."""
    return sys.stderr.isatty() and not getattr(args, "json", None)
