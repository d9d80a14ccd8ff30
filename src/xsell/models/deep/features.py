"""Item features for the neural item tower: category, brand, price band and name tokens as codes.

Every feature is a small integer per item, ``0`` meaning unknown, so an item
never sold still has a vector made of what the catalog says about it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from xsell.data import columns as C
from xsell.data.shopdata import ShopData

#: Name tokens kept per item, and how many items a token must appear in.
MAX_TOKENS: Final = 8
MIN_TOKEN_ITEMS: Final = 2
PRICE_BANDS: Final = 8
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ItemFeatures:
    """Per item: ``categories``, ``brands``, ``bands`` codes and ``tokens`` (``n x MAX_TOKENS``)."""

    categories: np.ndarray
    brands: np.ndarray
    bands: np.ndarray
    tokens: np.ndarray

    @classmethod
    def of(cls, data: ShopData) -> ItemFeatures:
        catalog = data.catalog
        return cls(
            _codes(catalog[C.CATEGORY]),
            _codes(catalog[C.BRAND]),
            _bands(data.item_prices()),
            _tokens(catalog[C.NAME]),
        )


def _codes(values: pd.Series) -> np.ndarray:
    codes, _ = pd.factorize(values.astype(object).where(values.notna(), None), use_na_sentinel=True)
    return (np.asarray(codes, dtype=np.int64) + 1).astype(np.int64)


def _bands(prices: np.ndarray) -> np.ndarray:
    """Quantile band of the log price (1..PRICE_BANDS), 0 without a price."""
    prices = np.asarray(prices, dtype=np.float64)
    known = np.isfinite(prices) & (prices > 0)
    out = np.zeros(len(prices), dtype=np.int64)
    if known.any():
        logs = np.log(prices[known])
        edges = np.unique(np.quantile(logs, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]))
        out[known] = np.searchsorted(edges, logs, side="right") + 1
    return out


def _tokens(names: pd.Series) -> np.ndarray:
    """The first MAX_TOKENS words of each name found in MIN_TOKEN_ITEMS items or more, as codes."""
    words = [
        list(dict.fromkeys(_WORD.findall(str(n).lower()))) if n is not None and n == n else []
        for n in names.tolist()
    ]
    counts = Counter(w for ws in words for w in ws)
    vocabulary = {
        w: i + 1 for i, w in enumerate(sorted(w for w, c in counts.items() if c >= MIN_TOKEN_ITEMS))
    }
    out = np.zeros((len(words), MAX_TOKENS), dtype=np.int64)
    for row, ws in enumerate(words):
        kept = [vocabulary[w] for w in ws if w in vocabulary][:MAX_TOKENS]
        out[row, : len(kept)] = kept
    return out
