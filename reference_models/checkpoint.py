"""Reading and writing ``.pt`` checkpoints without ever running code from a file.

Every checkpoint the reference models read (``model.pt``, the resume state ``last.pt``, committed weights) goes
through :func:`load_checkpoint`: ``torch.load(weights_only=True)``, which unpickles only tensors, numbers,
strings, booleans, None, lists, tuples and dicts. A pickle that names any other Python object (a ``GLOBAL``
opcode: a class, a function such as ``os.system``) is refused before anything is built from it. Every state
vocbench saves is made of those types only (:func:`plain_state`), so nothing it writes needs more to be read.

An empty, truncated, corrupt or crafted file is one :class:`~vocbench.errors.InputError` naming the file; torch's
own message (which suggests ``weights_only=False``, i.e. running the file's code) is never shown.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from vocbench.errors import InputError

__all__ = ["load_checkpoint", "plain_state"]


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint", hint: str = "") -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)``; every failure one InputError naming ``path``.

    Args:
        path: the ``.pt`` file.
        what: what the file is, for the message (``"resume state"``).
        hint: appended to the message (``"; start over with --no-resume"``).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    if path.is_dir():
        raise InputError(f"{path}: {what} is a folder, expected a .pt file{hint}")
    if size == 0:
        raise InputError(f"{path}: {what} is empty{hint}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of legacy files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = ("holds pickled Python objects other than tensors, numbers, strings, lists and dicts; refused, "
                  "because loading them could run code from the file" if _weights_only_refusal(str(exc)) else
                  "is not a readable PyTorch checkpoint (corrupt or truncated)")
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError, TypeError,
            AttributeError, UnicodeDecodeError, MemoryError):
        reason = "is not a readable PyTorch checkpoint (corrupt or truncated)"
    raise InputError(f"{path}: {what} {reason}{hint}") from None


def _weights_only_refusal(message: str) -> bool:
    """Whether torch's weights-only unpickler refused the content (a GLOBAL naming a class or function, an opcode
    plain data never uses) rather than failing to read it."""
    return "Weights only load failed" in message or "GLOBAL" in message


def plain_state(obj: object) -> object:
    """``obj`` with every numpy array → tensor, numpy scalar → Python number (recursively), so that
    :func:`load_checkpoint` reads it back; anything else that is not a tensor, number, string, bool, None, list,
    tuple or dict is a TypeError (a bug: the resume state would not load)."""
    if isinstance(obj, (dict, list, tuple)):
        items = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj))
        new = [plain_state(v) for _, v in items]
        if all(a is b for (_, a), b in zip(items, new)):
            return obj  # unchanged: an OrderedDict state_dict keeps its _metadata (module versions)
        if isinstance(obj, dict):
            return {k: v for (k, _), v in zip(items, new)}
        return new if isinstance(obj, list) else tuple(new)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a weights-only checkpoint")
