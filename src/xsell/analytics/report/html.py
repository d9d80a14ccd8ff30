"""The report as one self-contained HTML page: Plotly's JavaScript inlined once, no network.

Charts are drawn by one script at the end of the page, after the whole page is
laid out. Drawing each chart where it stands while the page is still parsed
sizes the first chart of a grid row to the full row (it is alone there at that
moment), and Plotly keeps that width until the window is resized.
"""

from __future__ import annotations

import html
from typing import Any

from xsell.analytics.report.content import ReportContent
from xsell.analytics.report.tables import format_table
from xsell.errors import require

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 0;
       color: #1d2733; background: #f6f7f9; }
header { background: #1d3557; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
nav { padding: 8px 32px; background: #e9eef5; font-size: 14px; }
nav a { margin-right: 14px; color: #1d3557; }
main { padding: 8px 32px 40px 32px; max-width: 1400px; }
section { background: white; border-radius: 6px; padding: 8px 20px 16px 20px; margin: 18px 0;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { color: #1d3557; border-bottom: 2px solid #e9eef5; padding-bottom: 6px; }
h3 { margin: 18px 0 6px 0; font-size: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px; }
.grid > * { min-width: 0; }
header .store { font-size: 14px; opacity: .85; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid #e3e7ee; padding: 4px 10px; text-align: left;
         vertical-align: top; }
th { background: #f0f3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caption { color: #5a6b7d; font-size: 13px; margin: 2px 0 8px 0; }
.missing { color: #8a4b00; background: #fff4e5; padding: 6px 10px; border-radius: 4px;
           font-size: 14px; margin: 6px 0; }
.summary td:first-child { color: #5a6b7d; }
.scroll { overflow-x: auto; }
"""

#: Draws chart ``i`` into ``#chart-i`` once the page is laid out, and redraws a chart
#: whenever its box changes width (window resized, print layout, a scroll bar appearing).
DRAW_CHARTS = """
(function () {
  var config = {displaylogo: false, responsive: true};
  function draw() {
    var specs = JSON.parse(document.getElementById('chart-specs').textContent);
    var widths = new Map();
    var observer = window.ResizeObserver ? new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        var width = Math.round(entry.contentRect.width);
        if (widths.has(entry.target) && widths.get(entry.target) !== width) {
          Plotly.Plots.resize(entry.target);
        }
        widths.set(entry.target, width);
      });
    }) : null;
    specs.forEach(function (spec, i) {
      var div = document.getElementById('chart-' + (i + 1));
      Plotly.newPlot(div, spec.data, spec.layout, config);
      if (observer) { observer.observe(div); }
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();
"""


def render_html(content: ReportContent) -> tuple[str, int]:
    """The page and the number of charts on it."""
    plotly_offline: Any = require("plotly.offline", "report")
    pio: Any = require("plotly.io", "report")
    charts = 0
    specs: list[str] = []
    body: list[str] = []
    nav = " ".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in content.sections)
    missing = content.missing()
    body.append('<section id="summary"><h2>Summary</h2><table class="summary">')
    for key, value in content.summary:
        body.append(f"<tr><td>{html.escape(key)}</td><td>{html.escape(value)}</td></tr>")
    body.append("</table>")
    for note in content.notes:
        body.append(f'<p class="caption">{html.escape(note)}</p>')
    if missing:
        body.append("<h3>Not computed</h3><ul>")
        for where, part in missing:
            body.append(
                f"<li><b>{html.escape(where)}: {html.escape(part.title)}</b> — "
                f"{html.escape(part.missing)}</li>"
            )
        body.append("</ul>")
    body.append("</section>")
    for section in content.sections:
        body.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>')
        if section.intro:
            body.append(f'<p class="caption">{html.escape(section.intro)}</p>')
        figures = [p for p in section.parts if p.figure is not None]
        others = [p for p in section.parts if p.figure is None]
        if figures:
            body.append('<div class="grid">')
            for part in figures:
                charts += 1
                specs.append(pio.to_json(part.figure, validate=False, pretty=False))
                height = int(part.figure.layout.height or 380)
                body.append(
                    f'<div class="chart"><h3>{html.escape(part.title)}</h3>'
                    f'<div id="chart-{charts}" class="plotly-graph-div" '
                    f'style="height:{height}px; width:100%;"></div>'
                )
                if part.caption:
                    body.append(f'<p class="caption">{html.escape(part.caption)}</p>')
                body.append("</div>")
            body.append("</div>")
        for part in others:
            body.append(f"<h3>{html.escape(part.title)}</h3>")
            if part.missing:
                body.append(f'<p class="missing">Not computed: {html.escape(part.missing)}</p>')
                continue
            if part.caption:
                body.append(f'<p class="caption">{html.escape(part.caption)}</p>')
            assert part.table is not None
            body.append(_table_html(part.table))
        body.append("</section>")
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(content.title)}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{plotly_offline.get_plotlyjs()}</script></head>"
        f"<body data-charts='{charts}'><header><h1>{html.escape(content.title)}</h1>"
        f'<div class="store" title="{html.escape(content.store)}">'
        f"{html.escape(content.heading)}</div></header><nav>{nav}</nav><main>"
        + "\n".join(body)
        + "</main>"
        # "<" only occurs inside JSON strings, where \u003c is the same text: no "</script>".
        + '<script type="application/json" id="chart-specs">['
        + ",".join(specs).replace("<", "\\u003c")
        + f"]</script><script>{DRAW_CHARTS}</script></body></html>"
    )
    return page, charts


def _table_html(frame: Any) -> str:
    if len(frame) == 0:
        return '<p class="caption">(empty)</p>'
    numeric = [frame[c].dtype.kind in "iuf" for c in frame.columns]
    text = format_table(frame)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in text.columns)
    rows = []
    for values in text.itertuples(index=False):
        cells = "".join(
            f'<td class="num">{html.escape(v)}</td>' if is_num else f"<td>{html.escape(v)}</td>"
            for v, is_num in zip(values, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'
