"""``build_report``: one self-contained HTML page (or markdown + PNGs) of a store's analytics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from xsell.analytics.report.content import STEPS, ReportContent, collect
from xsell.data.groups import MIN_CUSTOMERS
from xsell.data.store import Store
from xsell.errors import ValidationError
from xsell.files import write_atomically
from xsell.progress import Reporter, SilentReporter

FORMATS: Final = ("html", "md")


@dataclass
class ReportResult:
    """What was written: the file, its charts (and their PNGs for markdown), what was missing."""

    path: Path
    format: str
    charts: int
    images: list[Path]
    content: ReportContent


def build_report(
    store: Store | str | Path,
    out: str | Path,
    fmt: str = "html",
    reporter: Reporter | None = None,
    min_customers: int = MIN_CUSTOMERS,
) -> ReportResult:
    """Compute every section from ``store`` and write the report to ``out`` atomically.

    Parameters
    ----------
    store:
        The xsell store to report on. An empty store, or one without prices,
        customer ids, categories or events, still gives a report: each section
        that could not be computed says why.
    out:
        The file to write (``.html`` or ``.md``).
    fmt:
        ``"html"`` (one self-contained page, Plotly inlined) or ``"md"``
        (markdown plus PNG charts in ``<stem>_files/``, drawn by kaleido).
    min_customers:
        The minimum group size: anything bought by fewer distinct customers is
        left out (stated in the report's summary).
    """
    if fmt not in FORMATS:
        raise ValidationError(f"unknown report format {fmt!r}; choose one of {list(FORMATS)}")
    reporter = reporter or SilentReporter()
    out = Path(out)
    content = collect(store, reporter, min_customers)
    images: list[Path] = []
    if fmt == "html":
        from xsell.analytics.report.html import render_html

        reporter.step("writing HTML", 0)
        text, charts = render_html(content)
    else:
        from xsell.analytics.report.markdown import render_markdown

        reporter.step("drawing charts", 0)
        text, images = render_markdown(content, out)
        charts = len(images)
    write_atomically(out, text)
    reporter.step("written", 1)
    return ReportResult(out, fmt, charts, images, content)


#: Progress steps of :func:`build_report`.
TOTAL_STEPS: Final = STEPS + 1
