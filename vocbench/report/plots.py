"""Matplotlib helpers: every figure goes into the HTML as inline SVG (no files beside the report)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["fig_to_svg", "new_figure", "plt"]

plt.rcParams.update({
    "svg.fonttype": "none",  # keep text as text: smaller and searchable
    "svg.hashsalt": "vocbench",  # deterministic ids → reproducible reports
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100,
})


def new_figure(width: float = 6.0, height: float = 3.6, **kwargs):
    """A figure and axes of the given size in inches (``plt.subplots`` arguments pass through)."""
    return plt.subplots(figsize=(width, height), **kwargs)


def fig_to_svg(fig) -> str:
    """Render ``fig`` as an inline ``<svg>`` element (XML prolog and DOCTYPE stripped) and close it."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    start = svg.find("<svg")
    svg = svg[start:]
    # natural size from width/height, shrunk by CSS (max-width: 100%) on narrow pages
    svg = svg.replace("<svg", '<svg class="fig"', 1)
    return svg
