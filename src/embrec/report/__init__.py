"""One self-contained HTML report of a run (``embrec report RUN --out report.html``)."""

from embrec.report.build import ReportParts, build_report, render_report, run_data

__all__ = ["build_report", "run_data", "render_report", "ReportParts"]
