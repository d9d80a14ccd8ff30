"""The gains chart of a propensity backtest: one curve per model plus the random diagonal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import need_module
from xsell.analytics.campaign import gains_figure, write_gains_chart
from xsell.evaluation.propensity import Backtest


def _result() -> Backtest:
    shares = np.linspace(0, 1, 5)
    gains = pd.DataFrame({"gbdt": [0, 0.5, 0.75, 0.9, 1.0], "rfm": shares}, index=shares)
    metrics = pd.DataFrame({"lift@10%": [3.25, 1.0]}, index=["gbdt", "rfm"])
    return Backtest(
        "family=BAG",
        pd.Timestamp("2011-09-02"),
        pd.Timestamp("2011-10-02"),
        30,
        metrics,
        gains,
        100,
        10,
    )


def test_one_curve_per_model_with_its_lift_and_the_diagonal() -> None:
    need_module("plotly")
    figure = gains_figure(_result())
    names = [trace.name for trace in figure.data]
    assert names == ["gbdt (lift@10% 3.25)", "rfm (lift@10% 1.00)", "random"]
    assert list(figure.data[0].y) == [0, 0.5, 0.75, 0.9, 1.0]
    assert "2011-10-02" in figure.layout.title.text


def test_the_chart_is_one_offline_html_file(tmp_path: Path) -> None:
    need_module("plotly")
    path = write_gains_chart(_result(), tmp_path / "gains.html")
    html = path.read_text()
    assert '<script src="http' not in html  # plotly.js inlined: renders without a network
    assert "share of the buyers reached" in html
