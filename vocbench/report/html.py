"""Self-contained HTML reports: one file, inline CSS, figures inline as SVG (jinja2 templates).

A report is a title, a :class:`ReportMeta` (data, command, version) and a list of :class:`Section` s, each a list
of blocks built with :func:`table_block`, :func:`figure_block`, :func:`grid_block`, :func:`text_block` or
:func:`html_block`. Feature modules (``report/stats.py``, ``report/eval.py``, ...) build sections; this module only
renders them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import re
import shlex
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vocbench import _invocation

if TYPE_CHECKING:  # start-up: pandas only types table_block's argument here
    import pandas as pd

__all__ = ["ReportMeta", "Section", "table_block", "figure_block", "grid_block", "text_block", "html_block",
           "render_report", "write_report", "current_command", "slug", "report_defaults"]

_TEMPLATES = Path(__file__).with_name("templates")


@functools.lru_cache(maxsize=1)
def _env():  # start-up: jinja2 is imported by the first report, not by every command (cli sets the invocation)
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=jinja2.select_autoescape(),
                              trim_blocks=True, lstrip_blocks=True)


def set_invocation(argv: list[str] | None) -> None:
    """Record the command line for report headers (the CLI records it with :mod:`vocbench._invocation`)."""
    _invocation.set_invocation(argv)


_defaults: dict[str, str] = {}


@contextlib.contextmanager
def report_defaults(command: str | None = None, home: str | None = None, about: str | None = None) -> Iterator[None]:
    """Reports written inside the block show ``command`` as their "Command" (the standalone command that rebuilds
    them, where the running command is a larger job such as ``vocbench demo``), link back to ``home`` (a path
    relative to the report, e.g. the demo's ``index.html``) and show ``about`` (what the data are, ``--about``) in
    their header. The previous values come back on exit."""
    saved = dict(_defaults)
    _defaults.update({k: v for k, v in (("command", command), ("home", home), ("about", about)) if v is not None})
    try:
        yield
    finally:
        _defaults.clear()
        _defaults.update(saved)


def _default_home() -> str:
    return _defaults.get("home", "")


def _default_about() -> str:
    return _defaults.get("about", "")


def current_command() -> str:
    """The command that rebuilds the report being written: the one set by :func:`report_defaults`, else the
    command line that is running, as a user would type it (``vocbench stats ...``)."""
    if "command" in _defaults:
        return _defaults["command"]
    recorded = _invocation.invocation()
    if recorded is not None:
        return " ".join(shlex.quote(a) for a in recorded)
    argv = list(sys.argv)
    prog = os.path.basename(argv[0]) if argv else "vocbench"
    if prog in ("__main__.py", "-m") or prog.endswith("vocbench/__main__.py"):
        prog = "python -m vocbench"
    elif prog.startswith("pytest") or prog.endswith("py.test"):
        prog = "pytest"
    return " ".join([prog] + [shlex.quote(a) for a in argv[1:]])


@dataclass(frozen=True)
class ReportMeta:
    """Header of a report: what data, which command (the one that rebuilds it), which version; ``home``: a link
    back to the page that lists the report (the demo's index), shown above the title when set."""

    data: str = ""
    command: str = field(default_factory=current_command)
    version: str = ""
    generated: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    extra: dict = field(default_factory=dict)
    home: str = field(default_factory=_default_home)
    about: str = field(default_factory=_default_about)

    def __post_init__(self) -> None:
        if not self.version:
            from vocbench import __version__
            object.__setattr__(self, "version", __version__)


def slug(text: str) -> str:
    """An HTML id from a title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


@dataclass
class Section:
    """One ``<section>`` with an ``<h2>`` title, an optional intro paragraph and blocks."""

    title: str
    blocks: list = field(default_factory=list)
    intro: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = slug(self.title)


def table_block(df: pd.DataFrame, caption: str = "", float_format: str = "{:.4f}", index: bool = False) -> dict:
    """A pandas table rendered as HTML (floats with ``float_format``, NaN as an em dash)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "—" if v != v else float_format.format(v)
        return str(v)

    html = df.to_html(index=index, border=0, escape=True, formatters={c: fmt for c in df.columns}, na_rep="—")
    return {"kind": "table", "html": html, "caption": caption}


def figure_block(svg: str, caption: str = "") -> dict:
    """An inline SVG figure (from :func:`vocbench.report.plots.fig_to_svg`)."""
    return {"kind": "figure", "html": svg, "caption": caption}


def grid_block(figures: Iterable[tuple[str, str]]) -> dict:
    """Small multiples: ``(svg, caption)`` pairs laid out in a responsive grid."""
    return {"kind": "grid", "items": [{"html": s, "caption": c} for s, c in figures]}


def text_block(text: str) -> dict:
    """A paragraph of plain text (escaped)."""
    return {"kind": "text", "html": text}


def html_block(html: str) -> dict:
    """Trusted HTML inserted as is (links, lists built by vocbench itself)."""
    return {"kind": "html", "html": html}


def render_report(title: str, sections: list[Section], meta: ReportMeta | None = None) -> str:
    """Render the whole page to a string."""
    meta = meta or ReportMeta()
    css = (_TEMPLATES / "style.css").read_text(encoding="utf-8")
    return _env().get_template("base.html").render(title=title, sections=sections, meta=meta, css=css)


def write_report(path: str | os.PathLike, title: str, sections: list[Section], meta: ReportMeta | None = None) -> Path:
    """Render and write the report to ``path`` (parent folders created) atomically: the page is rendered in memory
    and replaces ``path`` only once written in full (temp file in the same folder + fsync + rename). Returns the
    path."""
    from vocbench.io.atomic import atomic_write_text

    path = Path(path)
    atomic_write_text(path, render_report(title, sections, meta))
    return path
