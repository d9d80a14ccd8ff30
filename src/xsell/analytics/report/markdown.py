"""The report as markdown with PNG charts (rendered by kaleido with the system Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from xsell.analytics.report.content import ReportContent
from xsell.analytics.report.tables import format_table
from xsell.errors import require

#: Width of the PNG charts (px): fits a wiki page; heights are the charts' own.
WIDTH = 900
DEFAULT_HEIGHT = 420


def render_markdown(content: ReportContent, out: Path) -> tuple[str, list[Path]]:
    """The markdown text and the PNG files it links to (written into ``<stem>_files/``)."""
    pio: Any = require("plotly.io", "report")
    folder = out.with_name(out.stem + "_files")
    lines = [f"# {content.title}", "", content.heading, "", "## Summary", ""]
    lines += _table(pd.DataFrame(content.summary, columns=["", "value"]))
    lines += [f"- {note}" for note in content.notes]
    missing = content.missing()
    if missing:
        lines += ["", "### Not computed", ""]
        lines += [f"- **{section}: {part.title}**: {part.missing}" for section, part in missing]
    figures: list[Any] = []
    paths: list[Path] = []
    for section in content.sections:
        lines += ["", f"## {section.title}", ""]
        if section.intro:
            lines += [section.intro, ""]
        for part in section.parts:
            lines += [f"### {part.title}", ""]
            if part.missing:
                lines += [f"*Not computed: {part.missing}*", ""]
                continue
            if part.figure is not None:
                path = folder / f"chart-{len(figures) + 1:02d}.png"
                figures.append(part.figure)
                paths.append(path)
                lines += [f"![{part.title}]({folder.name}/{path.name})", ""]
            else:
                assert part.table is not None
                lines += _table(part.table)
            if part.caption:
                lines += [f"_{part.caption}_", ""]
    if figures:
        folder.mkdir(parents=True, exist_ok=True)
        # One browser session for every chart: starting Chromium costs ~2 s per image.
        # Each chart keeps its own height (long bar lists and heatmaps are taller).
        heights = [int(f.layout.height or DEFAULT_HEIGHT) for f in figures]
        pio.write_images(figures, paths, format="png", width=WIDTH, height=heights, scale=1)
    return "\n".join(lines) + "\n", paths


def _table(frame: pd.DataFrame) -> list[str]:
    if len(frame) == 0:
        return ["(empty)", ""]
    text = format_table(frame)

    def row(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return (
        [row(list(text.columns)), row(["---"] * len(text.columns))]
        + [row(list(values)) for values in text.itertuples(index=False)]
        + [""]
    )
