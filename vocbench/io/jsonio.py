"""JSON output shared by every command and by plug-ins: strict JSON, written atomically.

:func:`to_jsonable` turns numpy scalars/arrays into Python values and NaN/inf into ``null`` (strict JSON, which
``json.loads`` in any language accepts); :func:`emit_json` prints to stdout (``"-"``) or writes a file through
:func:`vocbench.io.atomic.atomic_write_text`, so a failed write never leaves a truncated file.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

import numpy as np

__all__ = ["to_jsonable", "dumps_json", "emit_json"]


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays → Python; NaN/inf → None (strict JSON); tuples → lists; dict keys → str."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def dumps_json(data: Any, indent: int | None = 2) -> str:
    """``data`` as strict JSON text (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(data), indent=indent, allow_nan=False)


def emit_json(data: Any, target: str | os.PathLike) -> None:
    """Write ``data`` as JSON to ``target`` (``"-"`` = stdout), a file being replaced atomically."""
    text = dumps_json(data) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        from vocbench.io.atomic import atomic_write_text  # tempfile: only when writing a file (not stdout)

        atomic_write_text(target, text)
