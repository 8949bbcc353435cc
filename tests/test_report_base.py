"""The HTML report base: self-contained page, header with data/command/version, renders in Chromium."""

from __future__ import annotations

import re

import pandas as pd

import vocbench
from tests.browser import assert_renders
from vocbench.report import ReportMeta, Section, figure_block, grid_block, table_block, text_block, write_report
from vocbench.report.plots import fig_to_svg, new_figure


def _figure(title: str) -> str:
    fig, ax = new_figure(3, 2)
    ax.plot([0, 1, 2], [0, 1, 4])
    ax.set_title(title)
    return fig_to_svg(fig)


def test_report_is_self_contained_and_renders(tmp_path):
    df = pd.DataFrame({"class": ["cat", "dog"], "AP": [0.5, float("nan")]})
    sections = [
        Section("Numbers", [table_block(df, caption="Per-class AP"), text_block("a < b & c")]),
        Section("Figures", [figure_block(_figure("one"), "a line"),
                            grid_block([(_figure("a"), "A"), (_figure("b"), "B")])]),
    ]
    meta = ReportMeta(data="unit-test data", command="vocbench test --flag")
    path = write_report(tmp_path / "r.html", "Report Title", sections, meta)
    html = path.read_text()
    assert "<link" not in html and "<script src" not in html and not re.search(r'src="(?!data:)', html)
    assert "vocbench test --flag" in html and vocbench.__version__ in html and "unit-test data" in html
    assert "a &lt; b &amp; c" in html  # text is escaped
    assert "—" in html  # NaN shown as a dash
    assert html.count("<svg") == 3
    dom = assert_renders(path, ["Report Title", "Numbers", "Figures", "Per-class AP"], min_svgs=3)
    assert 'href="#numbers"' in dom


def test_svg_is_deterministic():
    assert _figure("same") == _figure("same")


def test_plotting_has_no_global_side_effects():
    """Importing the report modules and drawing a figure leaves matplotlib's global state alone: rcParams as
    they were, no pyplot, no backend switch; the house style still reaches the SVG (text kept as text)."""
    import subprocess
    import sys

    code = """
import sys, matplotlib
rc = matplotlib.rcParams  # dict.__getitem__: reading "backend" through rcParams[...] would itself load pyplot
snap = lambda: {k: dict.__getitem__(rc, k) for k in dict.keys(rc)}
before = snap()
import vocbench.report.plots as plots, vocbench.report.dataset, vocbench.report.eval
after_import = snap()
fig, ax = plots.new_figure(3, 2)
ax.plot([0, 1], [0, 1]); ax.set_title("T")
svg = plots.fig_to_svg(fig)
after_draw = snap()
changed = sorted(k for k in before if before[k] != after_import[k] or before[k] != after_draw[k])
print(changed, "matplotlib.pyplot" in sys.modules, ax.spines["top"].get_visible(),
      ax.xaxis._major_tick_kw.get("gridOn"), "<text" in svg or "font-size" in svg)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "False", "False", "True", "True"], out
