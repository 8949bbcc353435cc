"""argparse's help formatter without ``shutil``: argparse imports ``shutil`` (and with it ``bz2``, ``lzma``,
``zlib``: ~4 ms of every command's start-up here) only to ask the terminal's width when a formatter is built,
which ``add_argument`` does for every option. :func:`terminal_columns` asks it as ``shutil.get_terminal_size``
does."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["terminal_columns", "WidthHelpFormatter"]


def terminal_columns(fallback: int = 80) -> int:
    """The terminal's width in columns as :func:`shutil.get_terminal_size` gives it: ``$COLUMNS`` when a positive
    integer, else the width of the terminal on ``sys.__stdout__``, else ``fallback``."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else fallback


class WidthHelpFormatter(argparse.HelpFormatter):
    """:class:`argparse.HelpFormatter` with the width from :func:`terminal_columns` (the same help text)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         width if width is not None else terminal_columns() - 2)
