"""Plug-ins: packages that add subcommands and demo steps to vocbench through entry points.

vocbench depends on no plug-in; a plug-in depends on vocbench. Two entry-point groups:

``vocbench.commands``
    ``name = "package.module:register"`` where ``register(subparsers)`` adds one or more subcommands (argparse
    parsers whose ``func`` default is the handler ``run(args) -> int``), exactly like vocbench's own command
    modules. The reference detectors register ``train``, ``predict``, ``export`` and ``profile`` this way.

``vocbench.demo``
    ``name = "package.module:step"`` where ``step(out_dir, data_root, sets, progress) -> DemoContribution``
    scores/profiles something on the demo's synthetic data. ``vocbench demo`` runs every step it finds, links the
    reports and diagnoses/compares the detections returned.

A plug-in whose own dependencies are missing raises :class:`PluginUnavailable` (a :class:`VocbenchError`, so the
CLI prints one line and exits 1). When no plug-in provides the model commands, vocbench registers stand-ins that
say how to install them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from vocbench.errors import VocbenchError

if TYPE_CHECKING:  # not at run time: the CLI imports this module on every start
    from vocbench.structures import Dataset, Detections

__all__ = ["COMMAND_GROUP", "DEMO_GROUP", "MODEL_COMMANDS", "MODELS_MISSING", "PluginUnavailable",
           "DemoContribution", "register_plugin_commands", "demo_steps"]

COMMAND_GROUP = "vocbench.commands"
DEMO_GROUP = "vocbench.demo"
#: Subcommands the reference-detector plug-in provides; stand-ins explain how to install it when it is absent.
MODEL_COMMANDS = ("train", "predict", "export", "profile")
#: The one line printed when the reference detectors (or torch) are not installed.
MODELS_MISSING = "the reference models are not installed: pip install -e '.[models]'"


class PluginUnavailable(VocbenchError):
    """A plug-in cannot run here (its own dependencies, e.g. torch, are not installed)."""


@dataclass(frozen=True)
class DemoContribution:
    """What a demo plug-in step produced.

    Attributes:
        reports: ``(title, path)`` of each HTML report written (linked from the demo index).
        detections: detector name → its :class:`Detections` on ``dataset``, as the devkit files hold them (the
            demo diagnoses and compares them).
        dataset: the ground truth the detections belong to (the split the step was given, possibly a subset).
        description: one line for the index ("the committed reference weights, scored and profiled").
    """

    reports: tuple[tuple[str, Path], ...] = ()
    detections: Mapping[str, Detections] = field(default_factory=dict)
    dataset: Dataset | None = None
    description: str = ""


DemoStep = Callable[[os.PathLike, os.PathLike, tuple[str, ...], bool], DemoContribution]


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def register_plugin_commands(sub: argparse._SubParsersAction) -> list[str]:
    """Add every plug-in's subcommands to ``sub``; stand-ins for missing model commands. Returns plug-in names.

    A plug-in that fails to import is treated as absent (its commands get the stand-in when they are model
    commands); use ``--debug`` on a stand-in to see the import error.
    """
    loaded, errors = [], []
    for ep in _entry_points(COMMAND_GROUP):
        try:
            register = ep.load()
        except ImportError as exc:
            errors.append(f"{ep.value}: {type(exc).__name__}: {exc}")
            continue
        register(sub)
        loaded.append(ep.name)
    for name in MODEL_COMMANDS:
        if name not in sub.choices:
            _add_stand_in(sub, name, errors)
    return loaded


def _add_stand_in(sub: argparse._SubParsersAction, name: str, errors: list[str]) -> None:
    p = sub.add_parser(name, help=f"(not installed) {MODELS_MISSING}", description=MODELS_MISSING, add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(args: argparse.Namespace) -> int:
        if getattr(args, "debug", False) and errors:
            raise PluginUnavailable(f"{MODELS_MISSING} ({'; '.join(errors)})")
        raise PluginUnavailable(MODELS_MISSING)

    p.set_defaults(func=run)


def demo_steps() -> list[tuple[str, DemoStep | None, str]]:
    """``(name, step, error)`` for every ``vocbench.demo`` entry point; ``step`` is None when it fails to import."""
    out: list[tuple[str, DemoStep | None, str]] = []
    for ep in _entry_points(DEMO_GROUP):
        try:
            out.append((ep.name, ep.load(), ""))
        except ImportError as exc:
            out.append((ep.name, None, f"{type(exc).__name__}: {exc}"))
    return out
