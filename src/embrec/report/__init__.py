"""One self-contained HTML report of a run (``embrec report RUN --out report.html``)."""

from embrec.report.build import ReportParts, build_report, render_report

__all__ = ["build_report", "render_report", "ReportParts"]
