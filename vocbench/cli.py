"""``vocbench <command>``: a thin dispatcher.

Each subcommand lives in ``vocbench/commands/<name>.py`` with ``register(subparsers)`` (adds its parser and sets
``func``) and a handler ``run(args) -> int``. This module only parses, dispatches and turns user errors into one
line on stderr: exit 0 on success, 1 on bad input (:class:`~vocbench.errors.VocbenchError`, file errors), 2 on bad
usage (argparse). ``--debug`` shows the traceback instead.

Start-up: when the command line names a built-in command, only that command's module is imported and its parser
built (:func:`build_parser` with ``argv``); ``vocbench --help``, an unknown command and the plug-in commands
(entry points, :mod:`vocbench.plugins`) get the full parser.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from vocbench import __version__
from vocbench._argparse import WidthHelpFormatter
from vocbench.errors import VocbenchError, VocbenchWarning

__all__ = ["main", "build_parser", "chosen_command", "COMMANDS", "COMMAND_MODULES"]

#: Subcommand modules, in ``--help`` order.
COMMANDS = ("stats", "eval", "diagnose", "compare", "anchors", "audit", "export_coco", "convert", "bench", "synth",
            "demo")
#: Built-in command name → its module (``export-coco`` lives in ``export_coco.py``).
COMMAND_MODULES = {name.replace("_", "-"): name for name in COMMANDS}
#: Top-level options that take no value and do not end the search for the command name.
_FLAG_OPTIONS = ("--debug",)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The built-in command ``argv`` runs, or None when the full parser is needed (no command, ``--help``,
    ``--version``, an unknown option or command, a plug-in command)."""
    for tok in argv:
        if tok in _FLAG_OPTIONS:
            continue
        if tok.startswith("-"):
            return None
        return tok if tok in COMMAND_MODULES else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``vocbench`` parser: every command (built-in and plug-in) or, when ``argv`` names a built-in command
    (:func:`chosen_command`), that command alone — the same parse of that ``argv``, without importing the other
    command modules and the entry points."""
    only = chosen_command(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="vocbench", formatter_class=WidthHelpFormatter,
        description="PASCAL VOC dataset reports, exact and fast VOC/COCO scoring, NMS/mAP benchmarks and "
                    "reference one-stage detectors.",
    )
    parser.add_argument("--version", action="version", version=f"vocbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    if only is not None:
        importlib.import_module(f"vocbench.commands.{COMMAND_MODULES[only]}").register(sub)
        return parser
    for name in COMMANDS:  # command modules import heavy stacks (torch, matplotlib) only inside handlers
        importlib.import_module(f"vocbench.commands.{name}").register(sub)
    from vocbench.plugins import register_plugin_commands  # importlib.metadata: only for the full parser

    register_plugin_commands(sub)  # train/predict/export/profile come from the reference-models plug-in
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:
    if issubclass(category, VocbenchWarning):
        return f"vocbench: warning: {message}\n"
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help → 0, bad usage → 2
        return int(exc.code or 0)
    from vocbench._invocation import set_invocation  # report headers show it; vocbench.report loads only for one

    set_invocation(["vocbench", *argv])
    saved = warnings.formatwarning
    huge_pages = _huge_page_advice(False)
    with warnings.catch_warnings():  # the one-line warning format only while a command runs, restored after
        warnings.formatwarning = _format_warning
        try:
            return _dispatch(args)
        finally:
            warnings.formatwarning = saved
            _huge_page_advice(huge_pages)
            if args.debug:
                _print_kernel_paths()


def _huge_page_advice(enabled: bool) -> bool:
    """Turn numpy's ``madvise(MADV_HUGEPAGE)`` on large arrays on or off; returns the previous setting.

    A command touches each large array about once (a 491 MB results file, its columns, the kernel's inputs): the
    page faults are the cost, and on a virtual machine a huge-page fault costs far more than the 512 small ones it
    replaces (5M detections: 2.1 s -> 1.2 s of system time here, no change at 500k). Off while a command runs,
    restored after (in-process callers keep their setting).
    """
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    return bool(setter(enabled)) if setter is not None else enabled


def _print_kernel_paths() -> None:
    """``--debug``: which kernels ran: compiled ahead of time, JIT or plain Python (:mod:`vocbench._native`)."""
    from vocbench._native import describe

    for module, path in describe().items():
        print(f"vocbench: debug: kernels {module}: {path}", file=sys.stderr)


def _oserror_line(exc: OSError) -> str:
    names = [str(n) for n in (getattr(exc, "filename", None), getattr(exc, "filename2", None)) if n is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{' -> '.join(names) + ': ' if names else ''}{reason}"


def _dispatch(args: argparse.Namespace) -> int:
    """Run the handler; user errors become one line on stderr (exit 1) unless ``--debug``."""
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("vocbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vocbench ... | head`: not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter's exit flush quiet
        except OSError:
            pass
        return 0
    except (VocbenchError, OSError, UnicodeError, RecursionError, MemoryError) as exc:
        if args.debug:
            raise
        if isinstance(exc, VocbenchError):
            line = str(exc)
        elif isinstance(exc, OSError):
            line = _oserror_line(exc)
        elif isinstance(exc, UnicodeError):
            line = f"text is not valid {getattr(exc, 'encoding', 'UTF-8')} ({getattr(exc, 'reason', exc)})"
        elif isinstance(exc, RecursionError):
            line = "input nested too deeply to process"
        else:
            line = "out of memory (the input is too large for this machine)"
        line = " ".join(line.split())  # exactly one line
        print(f"vocbench: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
