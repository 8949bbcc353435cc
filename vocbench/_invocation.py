"""The running command line, as the CLI received it (report headers show it): a leaf module, so recording it costs
a command nothing (``vocbench.report`` loads only when a report is written)."""

from __future__ import annotations

__all__ = ["set_invocation", "invocation"]

_argv: list[str] | None = None


def set_invocation(argv: list[str] | None) -> None:
    """Record the command line (the CLI calls this with ``["vocbench", *argv]``); None forgets it."""
    global _argv
    _argv = list(argv) if argv is not None else None


def invocation() -> list[str] | None:
    """The recorded command line, or None."""
    return None if _argv is None else list(_argv)
