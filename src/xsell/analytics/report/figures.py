"""Plotly charts of the report, one small function per chart kind."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from xsell.errors import require

COLOR = "#2a6f97"
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 380,
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "font": {"size": 12},
}


def _go() -> Any:
    return require("plotly.graph_objects", "report")


def _figure(*traces: Any, **layout: Any) -> Any:
    go = _go()
    fig = go.Figure(data=list(traces))
    fig.update_layout(**{**LAYOUT, **layout})
    return fig


def _short(text: Any, width: int = 38) -> str:
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def revenue_line(frame: pd.DataFrame) -> Any:
    go = _go()
    return _figure(
        go.Scatter(
            x=frame["period"],
            y=frame["revenue"],
            mode="lines+markers",
            name="revenue",
            line={"color": COLOR},
        ),
        go.Bar(x=frame["period"], y=frame["orders"], name="orders", yaxis="y2", opacity=0.3),
        yaxis={"title": "revenue"},
        yaxis2={"title": "orders", "overlaying": "y", "side": "right", "showgrid": False},
        legend={"orientation": "h", "y": 1.1},
    )


def hbar(frame: pd.DataFrame, value: str, label: str) -> Any:
    """Horizontal bars, largest on top."""
    go = _go()
    frame = frame.iloc[::-1]
    return _figure(
        go.Bar(
            x=frame[value],
            y=[_short(v) for v in frame[label]],
            orientation="h",
            marker_color=COLOR,
            hovertext=frame[label].astype(str),
        ),
        height=max(300, 24 * len(frame) + 80),
        margin={"l": 260, "r": 20, "t": 30, "b": 40},
        xaxis={"title": value},
    )


def segment_bars(profiles: pd.DataFrame) -> Any:
    go = _go()
    traces = [
        go.Bar(x=profiles["segment"], y=profiles["customer_share"], name="share of customers"),
    ]
    if profiles["revenue_share"].notna().any():
        traces.append(
            go.Bar(x=profiles["segment"], y=profiles["revenue_share"], name="share of revenue")
        )
    return _figure(
        *traces, barmode="group", yaxis={"tickformat": ".0%"}, legend={"orientation": "h", "y": 1.1}
    )


def rf_grid(table: pd.DataFrame) -> Any:
    go = _go()
    counts = pd.crosstab(table["r"], table["f"]).reindex(
        index=range(1, 6), columns=range(1, 6), fill_value=0
    )
    return _figure(
        go.Heatmap(
            z=counts.to_numpy(),
            x=[f"F{f}" for f in counts.columns],
            y=[f"R{r}" for r in counts.index],
            colorscale="Blues",
            text=counts.to_numpy(),
            texttemplate="%{text}",
            colorbar={"title": "customers"},
        ),
        xaxis={"title": "frequency score"},
        yaxis={"title": "recency score"},
    )


def silhouette_line(scores: dict[int, float]) -> Any:
    go = _go()
    ks = sorted(scores)
    return _figure(
        go.Scatter(x=ks, y=[scores[k] for k in ks], mode="lines+markers", line={"color": COLOR}),
        xaxis={"title": "number of clusters", "dtick": 1},
        yaxis={"title": "silhouette"},
    )


def size_histogram(frame: pd.DataFrame, cap: int = 60) -> Any:
    go = _go()
    shown = frame[frame["size"] <= cap]
    rest = int(frame.loc[frame["size"] > cap, "baskets"].sum())
    labels = [str(s) for s in shown["size"]] + ([f">{cap}"] if rest else [])
    values = list(shown["baskets"]) + ([rest] if rest else [])
    return _figure(
        go.Bar(x=labels, y=values, marker_color=COLOR),
        xaxis={"title": "distinct items in the basket", "type": "category"},
        yaxis={"title": "baskets"},
    )


def heatmap(matrix: pd.DataFrame, label: str) -> Any:
    go = _go()
    return _figure(
        go.Heatmap(
            z=matrix.to_numpy(dtype=np.float64),
            x=[_short(c, 24) for c in matrix.columns],
            y=[_short(c, 24) for c in matrix.index],
            colorscale="Viridis",
            colorbar={"title": label},
            hoverongaps=False,
        ),
        height=max(380, 22 * len(matrix) + 120),
        margin={"l": 160, "r": 20, "t": 30, "b": 140},
    )


def repurchase_bars(frame: pd.DataFrame) -> Any:
    go = _go()
    frame = frame.iloc[::-1]
    return _figure(
        go.Bar(
            x=frame["median_days"],
            y=[_short(n) for n in frame["name"]],
            orientation="h",
            marker_color=COLOR,
            error_x={
                "type": "data",
                "symmetric": False,
                "array": frame["p75_days"] - frame["median_days"],
                "arrayminus": frame["median_days"] - frame["p25_days"],
            },
        ),
        height=max(300, 24 * len(frame) + 80),
        margin={"l": 260, "r": 20, "t": 30, "b": 40},
        xaxis={"title": "days (median, bars to the quartiles)"},
    )


def time_bars(frame: pd.DataFrame, key: str) -> Any:
    go = _go()
    return _figure(
        go.Bar(x=frame[key], y=frame["orders"], marker_color=COLOR),
        xaxis={"title": key, "type": "category"},
        yaxis={"title": "orders"},
        height=300,
    )


def funnel(table: pd.DataFrame) -> Any:
    go = _go()
    row = table.iloc[0]
    return _figure(
        go.Funnel(
            y=["viewed", "then carted", "then bought"],
            x=[row["view"], row["cart"], row["purchase"]],
            textinfo="value+percent initial",
            marker={"color": COLOR},
        ),
        height=300,
    )


def contrast_heatmap(table: pd.DataFrame) -> Any:
    go = _go()
    segments = [
        c
        for c in table.columns
        if c not in ("item_a", "name_a", "item_b", "name_b", "spread", "highest", "lowest")
    ]
    labels = [
        _short(f"{a} + {b}", 60) for a, b in zip(table["name_a"], table["name_b"], strict=True)
    ]
    z = table[segments].to_numpy(dtype=np.float64)
    return _figure(
        go.Heatmap(
            z=z,
            x=segments,
            y=labels,
            colorscale="Viridis",
            colorbar={"title": "lift"},
            hoverongaps=False,
        ),
        height=max(380, 26 * len(table) + 120),
        margin={"l": 420, "r": 20, "t": 30, "b": 80},
        yaxis={"autorange": "reversed"},
    )


def leaderboard_bars(board: Any) -> Any:
    """Each model's scores on the leaderboard's metrics that lie in 0..1, side by side.

    Unbounded metrics (novelty, revenue per list) would flatten the others; they
    stay in the leaderboard's table.
    """
    go = _go()
    columns = [
        c
        for c in board.metric_columns()
        if all(0.0 <= float(row.get(c) or 0.0) <= 1.0 for row in board.rows)
    ]
    return _figure(
        *[
            go.Bar(x=columns, y=[float(row.get(c) or 0.0) for c in columns], name=str(row["model"]))
            for row in board.rows
        ],
        barmode="group",
        xaxis={"title": "metric", "type": "category"},
        yaxis={"title": "score"},
        legend={"orientation": "h", "y": 1.12},
    )
