"""Where the shared data lives: the one place that finds it (tests, ``vocbench bench``, ``vocbench demo``).

The shared folder holds ``voc/VOCdevkit`` (the real PASCAL VOC annotations) and ``voc/detections/<name>``
(devkit comp4 detection files). It is, in order:

1. ``$VOCBENCH_SHARED`` when set (used as given, even when it does not exist: callers report what is missing);
2. ``../shared`` beside the current folder, when it holds ``voc/``;
3. ``../shared`` beside the source checkout of vocbench, when it holds ``voc/``;
4. otherwise ``../shared`` beside the current folder (which does not exist; callers report it).

Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SHARED_ENV", "shared_dir", "voc_devkit_dir", "detections_dir", "find_voc_devkit"]

#: The environment variable naming the shared folder.
SHARED_ENV = "VOCBENCH_SHARED"


def shared_dir() -> Path:
    """The shared data folder (see the module docstring for the search order)."""
    env = os.environ.get(SHARED_ENV)
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        cand = base.parent / "shared"
        if (cand / "voc").is_dir():
            return cand
    return Path.cwd().parent / "shared"


def voc_devkit_dir(shared: str | os.PathLike | None = None) -> Path:
    """``<shared>/voc/VOCdevkit`` (``shared`` defaults to :func:`shared_dir`); existence not checked."""
    return Path(shared if shared is not None else shared_dir()) / "voc" / "VOCdevkit"


def detections_dir(name: str, shared: str | os.PathLike | None = None) -> Path:
    """``<shared>/voc/detections/<name>`` (e.g. ``yolov2-voc07test``); existence not checked."""
    return Path(shared if shared is not None else shared_dir()) / "voc" / "detections" / name


def find_voc_devkit(shared: str | os.PathLike | None = None) -> Path | None:
    """The real VOCdevkit when it is there (``VOC2007/Annotations`` exists), else None."""
    root = voc_devkit_dir(shared)
    return root if (root / "VOC2007" / "Annotations").is_dir() else None
