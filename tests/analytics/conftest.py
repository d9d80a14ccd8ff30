"""A tiny hand-made shop whose every figure can be counted by hand.

=====  ========  ===================  ===================================  =======
order  customer  time                 lines (item x quantity @ price)      revenue
=====  ========  ===================  ===================================  =======
o1     u1        2024-01-01 Mon 09:15  a 2 @ 1.5, b 1 @ 2.0                  5.0
o2     u1        2024-01-08 Mon 14:30  a 1 @ 1.5, c 3 @ 4.0                  13.5
o3     u2        2024-02-03 Sat 09:45  c 1 @ 4.0, d 2 @ 5.0                  14.0
o4     (none)    2024-02-06 Tue 18:05  a 1 @ 1.5, b 2 @ 2.5, c 1 @ 4.0       10.5
o5     u3        2024-03-15 Fri 09:00  d 1 @ 5.0                             5.0
=====  ========  ===================  ===================================  =======

Items: a Apple and b Bread (category Kitchen), c Candle (Lighting), d Dish (Table).
"""

from __future__ import annotations

import pandas as pd
import pytest

from xsell.data.shopdata import ShopData

TINY_LINES = [
    ("o1", "u1", "a", "2024-01-01 09:15", 2, 1.5),
    ("o1", "u1", "b", "2024-01-01 09:15", 1, 2.0),
    ("o2", "u1", "a", "2024-01-08 14:30", 1, 1.5),
    ("o2", "u1", "c", "2024-01-08 14:30", 3, 4.0),
    ("o3", "u2", "c", "2024-02-03 09:45", 1, 4.0),
    ("o3", "u2", "d", "2024-02-03 09:45", 2, 5.0),
    ("o4", None, "a", "2024-02-06 18:05", 1, 1.5),
    ("o4", None, "b", "2024-02-06 18:05", 2, 2.5),
    ("o4", None, "c", "2024-02-06 18:05", 1, 4.0),
    ("o5", "u3", "d", "2024-03-15 09:00", 1, 5.0),
]
TINY_CATALOG = pd.DataFrame(
    {
        "item_id": ["a", "b", "c", "d"],
        "name": ["Apple", "Bread", "Candle", "Dish"],
        "category": ["Kitchen", "Kitchen", "Lighting", "Table"],
    }
)


@pytest.fixture
def tiny() -> ShopData:
    """The shop of the table above."""
    frame = pd.DataFrame(
        TINY_LINES, columns=["basket_id", "user_id", "item_id", "time", "quantity", "price"]
    )
    return ShopData.from_frame(frame, catalog=TINY_CATALOG)
