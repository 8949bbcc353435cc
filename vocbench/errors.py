"""Exceptions and warnings raised by vocbench.

User-facing problems (bad files, bad arguments) raise :class:`VocbenchError`; the CLI turns it into one line on
stderr and exit code 1. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["VocbenchError", "VocbenchWarning", "InputError"]


class VocbenchError(Exception):
    """A problem with the user's input: the message names the file (and line) and says what was expected."""


class InputError(VocbenchError, ValueError):
    """Bad input data (also a ``ValueError`` so library callers can catch it the usual way)."""


class VocbenchWarning(UserWarning):
    """A recoverable oddity in the input (border boxes, ignored images, classes without positives)."""
