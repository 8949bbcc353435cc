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

__all__ = ["STYLE", "fig_to_svg", "new_figure", "plot_style"]

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


def fig_to_svg(fig: Figure) -> str:
    """Render ``fig`` as an inline ``<svg>`` element (XML prolog and DOCTYPE stripped), in the house style."""
    buf = io.StringIO()
    with plot_style():
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    start = svg.find("<svg")
    svg = svg[start:]
    # natural size from width/height, shrunk by CSS (max-width: 100%) on narrow pages
    svg = svg.replace("<svg", '<svg class="fig"', 1)
    return svg
