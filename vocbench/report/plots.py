"""Matplotlib helpers: every figure goes into the HTML as inline SVG (no files beside the report).

No global state is touched: figures are :class:`matplotlib.figure.Figure` objects rendered by the Agg/SVG
backends directly (no pyplot, no ``matplotlib.use``), and the house style (:data:`STYLE`) applies through
:func:`matplotlib.rc_context` only while a figure's axes are made and while it is rendered. Importing this module
leaves ``matplotlib.rcParams`` as it was.
"""

from __future__ import annotations

import io
from typing import Any, cast

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

__all__ = ["STYLE", "fig_to_svg", "literal_text", "new_figure", "plot_style"]

#: The reports' matplotlib style (applied in a context, never globally).
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # keep text as text: smaller and searchable
    "svg.hashsalt": "vocbench",  # deterministic ids → reproducible reports
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
}


def plot_style():
    """A context manager applying :data:`STYLE` (e.g. around code that adds text to a figure)."""
    return matplotlib.rc_context(cast(Any, STYLE))  # the stubs type rc keys as a Literal


def new_figure(width: float = 6.0, height: float = 3.6, **kwargs: Any) -> tuple[Figure, Any]:
    """A figure and its axes of the given size in inches, in the house style.

    ``kwargs`` go to :meth:`Figure.subplots` (``ncols``, ``squeeze``, ...); ``layout`` goes to the figure.
    Returns ``(figure, axes)`` like ``plt.subplots``; the figure is not registered with pyplot.
    """
    layout = kwargs.pop("layout", None)
    with plot_style():
        fig = Figure(figsize=(width, height), layout=layout)
        axes = fig.subplots(**kwargs)
    return fig, axes


def literal_text(text: str) -> str:
    """``text`` as matplotlib shows it literally: every ``$`` escaped, so a class or model name such as ``$x$`` or
    ``a$^$b`` is never parsed as mathtext (an error for invalid math, a silently different label otherwise)."""
    return text.replace("$", r"\$")


class _LiteralFormatter(Formatter):
    """Wraps a formatter whose labels are user text (fixed tick labels, category names): its labels, escaped."""

    def __init__(self, inner: Formatter) -> None:
        self.inner = inner

    def set_axis(self, axis: Any) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def __call__(self, x: float, pos: int | None = None) -> str:
        return literal_text(self.inner(x, pos))

    def format_ticks(self, values: Any) -> list[str]:
        return [literal_text(t) for t in self.inner.format_ticks(values)]

    def set_locs(self, locs: Any) -> None:
        self.inner.set_locs(locs)

    def get_offset(self) -> str:
        return literal_text(self.inner.get_offset())


def _user_text_literal(fig: Figure) -> None:
    """Escape ``$`` in every text of ``fig`` that can hold user data (titles, labels, legends, annotations, fixed and
    categorical tick labels). Numeric tick labels keep their formatter (log axes draw ``10^k`` with mathtext)."""
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.text import Text
    from matplotlib.ticker import FixedFormatter, FuncFormatter, StrMethodFormatter

    tick_labels: set[int] = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for fmt, setter in ((axis.get_major_formatter(), axis.set_major_formatter),
                                (axis.get_minor_formatter(), axis.set_minor_formatter)):
                if isinstance(fmt, (FixedFormatter, StrCategoryFormatter, FuncFormatter, StrMethodFormatter)):
                    setter(_LiteralFormatter(fmt))
            tick_labels.update(id(t) for t in axis.get_ticklabels(which="both"))
            tick_labels.add(id(axis.get_offset_text()))
    for t in fig.findobj(Text):
        if id(t) not in tick_labels and "$" in t.get_text():
            t.set_text(literal_text(t.get_text()))


def fig_to_svg(fig: Figure) -> str:
    """Render ``fig`` as an inline ``<svg>`` element (XML prolog and DOCTYPE stripped), in the house style.
    User text in the figure is shown literally, never as mathtext (:func:`literal_text`)."""
    _user_text_literal(fig)
    buf = io.StringIO()
    with plot_style():
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    start = svg.find("<svg")
    svg = svg[start:]
    # natural size from width/height, shrunk by CSS (max-width: 100%) on narrow pages
    svg = svg.replace("<svg", '<svg class="fig"', 1)
    return svg
