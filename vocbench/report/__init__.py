"""HTML reports (jinja2 + inline SVG). Importing this package pulls matplotlib in; the core library does not."""

from vocbench.report.html import (
    ReportMeta,
    Section,
    figure_block,
    grid_block,
    html_block,
    render_report,
    table_block,
    text_block,
    write_report,
)

__all__ = ["ReportMeta", "Section", "figure_block", "grid_block", "html_block", "render_report", "table_block",
           "text_block", "write_report"]
