"""An online experiment's report as charts and an HTML page (Plotly, shipped inline)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from xsell.files import write_atomically


def uplift_figure(report: dict[str, Any]) -> Any:
    """Relative uplift of every arm over control per metric, with its 95 % interval."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for arm in sorted({u["arm"] for u in report["uplift"]}):
        rows = [u for u in report["uplift"] if u["arm"] == arm]
        values = [_pct(u["relative"]) for u in rows]
        figure.add_bar(
            name=f"{arm} vs {report['control']}",
            x=[u["metric"] for u in rows],
            y=values,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [_pct(u["relative_high"]) - v for u, v in zip(rows, values, strict=True)],
                "arrayminus": [
                    v - _pct(u["relative_low"]) for u, v in zip(rows, values, strict=True)
                ],
            },
        )
    figure.update_layout(
        title=f"Uplift against {report['control']} (95 % interval, {report['method']})",
        yaxis_title="relative uplift, %",
        height=380,
        margin={"t": 60, "l": 60, "r": 20, "b": 40},
    )
    return figure


def _pct(value: float) -> float:
    return 100 * value if math.isfinite(value) else 0.0


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if math.isfinite(value) else "n/a"
    return html.escape(str(value))


def experiment_html(report: dict[str, Any]) -> str:
    """A self-contained page: arms table, uplift table and chart, SRM check."""
    figure = uplift_figure(report).to_html(full_html=False, include_plotlyjs=True)
    columns = ["arm", "bundle", "weight", "sessions", "impressions", "clicks", "carts", "orders",
               "attached_orders", "revenue", *report["metrics"]]  # fmt: skip
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    arms = "".join(
        "<tr>" + "".join(f"<td>{_number(arm[c])}</td>" for c in columns) + "</tr>"
        for arm in report["arms"]
    )
    uplift = "".join(
        f"<tr><td>{html.escape(u['arm'])}</td><td>{html.escape(u['metric'])}</td>"
        f"<td>{_number(u['difference'])}</td>"
        f"<td>[{_number(u['difference_low'])}, {_number(u['difference_high'])}]</td>"
        f"<td>{_number(100 * u['relative'])} %</td><td>{_number(u['p_value'])}</td>"
        f"<td>{'yes' if u['significant'] else 'no'}</td></tr>"
        for u in report["uplift"]
    )
    srm = report["sample_ratio"]
    verdict = "MISMATCH: do not trust the uplift" if srm["mismatch"] else "no mismatch"
    title = html.escape(f"Experiment {report['experiment']}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head>
<body><h1>{title}</h1>
<p>Control: {html.escape(report["control"])}. Intervals: {html.escape(report["method"])},
95 %. Attribution window: {report.get("window_s", 0) / 3600:g} h.</p>
<h2>Arms</h2><table><tr>{head}</tr>{arms}</table>
<h2>Uplift against control</h2>
<table><tr><th>arm</th><th>metric</th><th>difference</th><th>95 % interval</th>
<th>relative</th><th>p</th><th>significant</th></tr>{uplift}</table>
{figure}
<h2>Sample ratio</h2><p>chi-square {_number(srm["chi2"])}, p = {_number(srm["p_value"])}:
{verdict}.</p></body></html>
"""


def write_experiment_html(report: dict[str, Any], path: str | Path) -> Path:
    """Write :func:`experiment_html` to ``path`` (atomically)."""
    return write_atomically(Path(path), experiment_html(report))
