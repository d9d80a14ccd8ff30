"""Campaign charts: the gains chart of a propensity backtest (Plotly, self-contained HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xsell.errors import require
from xsell.evaluation.propensity import Backtest
from xsell.files import write_atomically


def gains_figure(result: Backtest) -> Any:
    """Share of the buyers reached against the share of customers mailed, per model.

    The diagonal is mailing at random; the higher a curve, the fewer letters reach
    the same buyers.
    """
    go: Any = require("plotly.graph_objects", "report")
    figure = go.Figure()
    shares = result.gains.index.to_numpy()
    for name in map(str, result.gains.columns):
        lift = float(result.metrics["lift@10%"].to_dict()[name])
        figure.add_trace(
            go.Scatter(
                x=shares,
                y=result.gains[name].to_numpy(),
                mode="lines+markers",
                name=f"{name!s} (lift@10% {lift:.2f})",
            )
        )
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random", line={"dash": "dot"})
    )
    figure.update_layout(
        title=(
            f"Gains: {result.target}, bought within {result.horizon_days} days of "
            f"{result.test_as_of.date()} (models learned as of {result.train_as_of.date()})"
        ),
        xaxis={"title": "share of customers mailed (best scores first)", "tickformat": ".0%"},
        yaxis={"title": "share of the buyers reached", "tickformat": ".0%"},
        template="plotly_white",
    )
    return figure


def write_gains_chart(result: Backtest, path: Path) -> Path:
    """The gains chart as one HTML file that renders offline (Plotly inlined)."""
    html = gains_figure(result).to_html(include_plotlyjs=True, full_html=True)
    return write_atomically(path, html)
