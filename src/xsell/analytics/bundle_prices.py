"""Bundle prices: the discount that earns the most extra margin above a margin floor.

A bundle of list price ``P`` earns ``M`` per sale (the sum of its items' unit
margins). At a discount ``d`` it sells for ``(1 - d) P`` and earns ``M - d P``.
With a constant price elasticity ``e`` its sales grow to ``(1 - d) ** -e`` times
what they were, so the expected margin, relative to the bundle's sales at list
price, is

    f(d) = (1 - d) ** -e x (M - d P)

and the extra margin is ``f(d) - M``. Setting ``f'(d) = 0`` gives the textbook
markup rule: ``d* = (e m - 1) / (e - 1)`` where ``m = M / P`` is the margin share,
so a discount pays only when ``e m > 1`` (demand elastic enough for the margin
given up). The margin floor caps it: the discounted bundle must keep at least
``floor`` of its price as margin, ``(M - d P) / ((1 - d) P) >= floor``, that is
``d <= (m - floor) / (1 - floor)``.

The elasticity is estimated from price variation in the shop's own orders where
there is enough of it (:func:`estimate_elasticity`: within-item changes of the
weekly price against the weekly units sold), or set by the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError

#: The elasticity assumed where neither the data nor the user gives one (HTTP API).
DEFAULT_ELASTICITY: Final = 2.0
#: Never suggest more than this discount, whatever the elasticity.
MAX_DISCOUNT: Final = 0.5
#: What an item needs to count in the estimate: weeks with sales, spread of log price.
MIN_WEEKS: Final = 8
MIN_LOG_PRICE_STD: Final = 0.05


@dataclass(frozen=True)
class Elasticity:
    """A price elasticity (positive: sales fall as the price rises) and where it came from."""

    value: float
    source: str
    items: int = 0
    weeks: int = 0
    std_error: float = float("nan")

    def describe(self) -> str:
        if self.source == "estimated":
            return (
                f"price elasticity {self.value:.2f} (± {self.std_error:.2f}) estimated from the "
                f"weekly prices and units of {self.items:,} items over {self.weeks:,} item-weeks"
            )
        if self.source == "assumed":
            return f"price elasticity {self.value:.2f} assumed (not estimated from this shop)"
        return f"price elasticity {self.value:.2f} set by the user"


@dataclass(frozen=True)
class BundlePrice:
    """The suggested discount of one bundle and what it assumes."""

    list_price: float
    margin: float
    discount: float
    price: float
    margin_share: float
    extra_margin: float
    limited_by: str
    assumptions: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "list_price": self.list_price,
            "margin": self.margin,
            "discount": self.discount,
            "price": self.price,
            "margin_share_after": self.margin_share,
            "extra_margin_per_sale": self.extra_margin,
            "limited_by": self.limited_by,
            "assumptions": self.assumptions,
        }


def check_floor(margin_floor: float) -> None:
    if not 0.0 <= float(margin_floor) < 1.0:
        raise ValidationError(
            f"--margin-floor: expected a share of the price in [0, 1), got {margin_floor!r}"
        )


def expected_margin(discount: float | np.ndarray, price: float, margin: float, e: float) -> Any:
    """``f(d)``: expected margin at ``discount``, per sale the bundle made at list price."""
    d = np.asarray(discount, dtype=np.float64)
    return (1.0 - d) ** (-e) * (margin - d * price)


def suggest_discount(
    prices: np.ndarray, margins: np.ndarray, elasticity: Elasticity, margin_floor: float = 0.2
) -> BundlePrice | None:
    """The discount of one bundle (see the module docstring); ``None`` if a price or margin
    of its items is unknown."""
    check_floor(margin_floor)
    prices = np.asarray(prices, dtype=np.float64)
    margins = np.asarray(margins, dtype=np.float64)
    if not (np.isfinite(prices).all() and np.isfinite(margins).all()) or prices.sum() <= 0:
        return None
    p, m = float(prices.sum()), float(margins.sum())
    share = m / p
    e = float(elasticity.value)
    cap = max(0.0, min(MAX_DISCOUNT, (share - margin_floor) / (1.0 - margin_floor)))
    best = (e * share - 1.0) / (e - 1.0) if e > 1.0 else 0.0
    d = min(max(best, 0.0), cap)
    if best <= 0.0:
        limited = "demand" if share > margin_floor else "margin floor"
    elif best > cap:
        limited = "margin floor" if cap < MAX_DISCOUNT else "largest discount"
    else:
        limited = "optimum"
    after = (m - d * p) / ((1.0 - d) * p)
    extra = float(expected_margin(d, p, m, e)) - m
    assumptions = (
        f"{elasticity.describe()}; constant elasticity (sales x (1 - discount) ** -{e:.2f}); "
        f"margin floor {margin_floor:.0%} of the bundle price; no sales taken from the items "
        "bought alone"
    )
    return BundlePrice(p, m, d, (1.0 - d) * p, after, extra, limited, assumptions)


def estimate_elasticity(data: ShopData, min_items: int = 30) -> Elasticity | None:
    """The pooled within-item elasticity of weekly units sold to the weekly price paid.

    Each item's weeks with sales give (log median unit price, log units); both are
    centred on the item's own means, so only an item's price changes count, and
    the slope of units on price over every such item is minus the elasticity.
    Items need :data:`MIN_WEEKS` weeks and a log-price spread of at least
    :data:`MIN_LOG_PRICE_STD`; ``None`` when fewer than ``min_items`` have it.
    """
    lines = data.lines
    price = lines["price"].to_numpy(np.float64)
    quantity = lines["quantity"].to_numpy(np.float64)
    time = data.basket_time[lines["basket"].to_numpy()]
    keep = np.isfinite(price) & (price > 0) & np.isfinite(quantity) & (quantity > 0)
    keep &= ~np.isnat(time)
    if not keep.any():
        return None
    frame = pd.DataFrame(
        {
            "item": lines["item"].to_numpy()[keep],
            "week": time[keep].astype("datetime64[W]"),
            "price": price[keep],
            "units": quantity[keep],
        }
    )
    weekly = frame.groupby(["item", "week"]).agg(price=("price", "median"), units=("units", "sum"))
    weekly = pd.DataFrame(
        np.log(weekly.to_numpy()), index=weekly.index, columns=weekly.columns
    ).reset_index()
    spread = weekly.groupby("item").agg(weeks=("week", "size"), std=("price", "std"))
    used = spread.index[(spread["weeks"] >= MIN_WEEKS) & (spread["std"] >= MIN_LOG_PRICE_STD)]
    if len(used) < min_items:
        return None
    weekly = weekly[weekly["item"].isin(used)]
    centred = weekly[["price", "units"]] - weekly.groupby("item")[["price", "units"]].transform(
        "mean"
    )
    x, y = centred["price"].to_numpy(), centred["units"].to_numpy()
    slope = float(x @ y / (x @ x))
    residual = y - slope * x
    dof = max(len(x) - len(used) - 1, 1)
    error = float(np.sqrt(residual @ residual / dof / (x @ x)))
    return Elasticity(-slope, "estimated", len(used), len(x), error)


def elasticity_for(
    data: ShopData | None, given: float | None = None, min_items: int = 30
) -> Elasticity:
    """The user's elasticity when given, else the estimate; an error names what is missing."""
    if given is not None:
        if not np.isfinite(given) or given < 0:
            raise ValidationError(f"--elasticity: expected a number >= 0, got {given!r}")
        return Elasticity(float(given), "user")
    found = estimate_elasticity(data, min_items) if data is not None else None
    if found is None:
        raise ValidationError(
            f"too little price variation to estimate a price elasticity (fewer than {min_items} "
            f"items with {MIN_WEEKS} weeks of sales and changing prices); set one with "
            "--elasticity, e.g. 2.0"
        )
    return found


def price_bundles(
    bundles: pd.DataFrame, data: ShopData, elasticity: Elasticity, margin_floor: float = 0.2
) -> pd.DataFrame:
    """``bundles`` (from :func:`~xsell.analytics.bundles.bundle_candidates`) with their prices.

    Adds ``discount``, ``bundle_price``, ``margin_share_after``, ``extra_margin``
    (per sale the bundle made at list price), ``limited_by`` and ``assumptions``;
    NaN where an item's price or margin is unknown.
    """
    prices, margins = data.item_prices(), data.item_margins()
    rows = []
    for items in bundles["items"]:
        index = np.array([data.items.index_of(str(i)) for i in items])
        found = suggest_discount(prices[index], margins[index], elasticity, margin_floor)
        rows.append(
            {
                "discount": np.nan if found is None else found.discount,
                "bundle_price": np.nan if found is None else found.price,
                "margin_share_after": np.nan if found is None else found.margin_share,
                "extra_margin": np.nan if found is None else found.extra_margin,
                "limited_by": None if found is None else found.limited_by,
                "assumptions": None if found is None else found.assumptions,
            }
        )
    return pd.concat([bundles.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
