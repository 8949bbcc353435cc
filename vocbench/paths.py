"""Where the shared data lives: the one place that finds it (tests, ``vocbench bench``, ``vocbench demo``).

The shared folder holds ``voc/VOCdevkit`` (the real PASCAL VOC annotations) and ``voc/detections/<name>``
(devkit comp4 detection files). It is, in order:

1. ``$VOCBENCH_SHARED`` when set (used as given, even when it does not exist: callers report what is missing);
2. ``../shared`` beside the current folder, when it holds ``voc/``;
3. ``../shared`` beside the source checkout of vocbench, when it holds ``voc/``;
4. otherwise ``../shared`` beside the current folder (which does not exist; callers report it).

Nothing is downloaded.

It is also the one place that decides whether a name taken from user data (a class name, an image id, a split,
a model name) may become a file name: :func:`safe_name`. Every writer that builds a file name from data calls it
before writing anything, and the VOC loader calls it on every image id of a split file, so that no name can
write outside the output folder or read outside the dataset root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["SHARED_ENV", "shared_dir", "voc_devkit_dir", "detections_dir", "find_voc_devkit", "safe_name",
           "MAX_NAME_BYTES", "is_within", "check_image_ids", "check_class_names"]

#: Longest name (UTF-8 bytes) :func:`safe_name` accepts: file systems stop at 255 bytes per component, and the
#: writers add a suffix (``.xml``), a prefix (``comp4_det_test_``) and a temporary-file decoration.
MAX_NAME_BYTES = 200

# a path separator (either OS's), a parent reference, NUL and every control character (C0, DEL, C1) and the
# Unicode line/paragraph separators (a name is also one line of a split file), and lone surrogates (bytes that
# were not UTF-8)
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]|\.\.")

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


def safe_name(name: object, where: str, what: str = "name") -> str:
    """``name`` when it can be used as one file-name component, else :class:`~vocbench.errors.InputError`.

    Refused: a non-string, an empty name, ``.``, a name holding a path separator (``/`` or ``\\``), ``..``, a NUL
    or any control character (or U+2028/U+2029), and a name longer than :data:`MAX_NAME_BYTES` UTF-8 bytes. Such a
    name could make a writer leave its output folder (``x/../../ESCAPED``) or a reader leave the dataset root
    (an image id ``../../x``), so it is refused, never rewritten: a silently renamed file would no longer match
    its image id or class.

    Args:
        name: the name taken from the data.
        where: the file and entry that held it (``"data.yaml: names[3]"``, ``"trainval.txt: line 7"``); the
            message starts with it.
        what: what the name is (``"class name"``, ``"image id"``).

    Returns:
        ``name`` unchanged.
    """
    from vocbench.errors import InputError

    if not isinstance(name, str):
        raise InputError(f"{where}: {what} {name!r} is not a string")
    if _UNSAFE.search(name) is None and name not in ("", ".") and len(name) <= MAX_NAME_BYTES // 4:
        return name  # fast path: at most 4 bytes per character
    shown = repr(name if len(name) <= 80 else name[:77] + "...")
    if not name:
        reason = "is empty"
    elif name == ".":
        reason = "is '.'"
    elif "/" in name or "\\" in name:
        reason = "holds a path separator (/ or \\)"
    elif ".." in name:
        reason = "holds '..'"
    elif _UNSAFE.search(name) is not None:
        reason = "holds a NUL, a control character or bytes that are not UTF-8"
    elif len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        reason = f"is too long (over {MAX_NAME_BYTES} UTF-8 bytes)"
    else:
        return name
    raise InputError(f"{where}: {what} {shown} {reason}; it cannot name a file (rename it in the data)")


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it, after resolving symlinks and ``..`` (neither needs to
    exist)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    try:
        return os.path.commonpath([p, f]) == f
    except ValueError:  # different drives (Windows)
        return False


def check_image_ids(dataset, images=None) -> None:
    """Every image id of ``dataset`` (a :class:`~vocbench.structures.Dataset`) through :func:`safe_name`, before a
    writer turns them into file names; ``images`` (the source image file per image, or None) names the entry."""
    root = getattr(dataset, "root", None) or "dataset"
    for i, iid in enumerate(dataset.image_ids.tolist()):
        src = images[i] if images is not None else None
        safe_name(iid, str(src) if src is not None else f"{root}: image {i + 1}", "image id")


def check_class_names(dataset) -> None:
    """Every class name of ``dataset`` through :func:`safe_name` (devkit result files are named by them)."""
    root = getattr(dataset, "root", None) or "dataset"
    for k, c in enumerate(dataset.classes):
        safe_name(c, f"{root}: class {k}", "class name")
