"""Independent oracle of live learning: a real model refitted from scratch on old + new orders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from xsell.data import columns as C
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.models import make_model


def refit_bundle(
    shop: SyntheticShop,
    orders: Sequence[Sequence[str]],
    path: Path,
    model: str = "cooccurrence",
    **params: Any,
) -> Path:
    """Fit ``model`` anew on the shop's data plus ``orders`` (guest baskets); save it at ``path``.

    The data is built as :meth:`SyntheticShop.to_shopdata` builds the served
    model's, with the new orders as extra purchase lines.
    """
    new = pd.DataFrame(
        [
            (f"LIVE-ORDER-{n:06d}", item, C.PURCHASE)
            for n, order in enumerate(orders)
            for item in dict.fromkeys(order)
        ],
        columns=[C.BASKET, C.ITEM, C.EVENT],
    )
    frames = [shop.lines.assign(**{C.EVENT: C.PURCHASE}), shop.events, new]
    data = ShopData.from_frame(pd.concat(frames, ignore_index=True), catalog=shop.catalog)
    make_model(model, **params).fit(data).save(path)
    return path


def suggestions(answer: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """``(item id, reasons)`` of each suggestion of an API answer, in order."""
    return [(s["item_id"], s["reasons"]) for s in answer["items"]]


def scores(answer: dict[str, Any]) -> list[float]:
    return [s["score"] for s in answer["items"]]
