"""Readable table cells: percentages, money, counts and p-values formatted by column name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PERCENT = ("share", "rate", "confidence", "P(", "view_to", "cart_to")
MONEY = ("revenue", "value", "price", "monetary")
SCIENTIFIC = ("p_value", "q_value")


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (tuple, list)):
        return " + ".join(map(str, value))
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if column in SCIENTIFIC:
            return f"{value:.2g}"
        if column in ("value_rate", "line_rate") or any(k in column for k in PERCENT):
            return f"{value:.1%}"
        if any(k in column for k in MONEY):
            return f"{value:,.2f}"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.2f}"
    return str(value)


def format_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as display text; column names with underscores turned into spaces."""
    out = pd.DataFrame(
        {str(c): [_cell(str(c), v) for v in frame[c].tolist()] for c in frame.columns}
    )
    out.columns = [str(c).replace("_", " ") for c in frame.columns]
    return out
