"""What a ranking maximises: relevance, or expected margin, with a boost for overstock.

Under ``objective="margin"`` with sensitivity ``s`` an item is ranked by

    relevance x margin ** s x (1 + overstock_boost x overstock)

so ``s = 0`` is the model's own order and ``s = 1`` orders by expected margin
(relevance read as a purchase probability, times what one unit earns). The
product is scale-free: multiplying every margin (or every score) by a constant
changes nothing, so no reference margin has to be chosen.

- *relevance* is the model's score for the query; when some allowed candidate
  scores below zero (a LambdaRank or factorization score), the query's scores
  are shifted so that its lowest candidate scores 0.
- *margin* is what one unit earns (catalog ``margin``, or ``price - cost``).
  An item whose margin is unknown counts the median known margin (neither
  pushed nor held back); margins at or below zero count 1 % of the median
  positive margin (kept last, but still ranked among themselves).
- *overstock* is 0 for items with no more cover than the median, rising to 1 at
  twice the median cover; cover is units on hand per order the item was in
  (the model's popularity). Items whose stock is unknown get no boost.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from xsell.errors import ValidationError
from xsell.models.items import ItemTable

OBJECTIVES: Final = ("relevance", "margin")
#: Margins at or below zero count this share of the median positive margin.
LOSS_FLOOR: Final = 0.01


def check_objective(objective: str, sensitivity: float, overstock_boost: float) -> None:
    """Refuse an unknown objective, a sensitivity outside [0, 1] or a negative boost."""
    if objective not in OBJECTIVES:
        raise ValidationError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    if not 0.0 <= float(sensitivity) <= 1.0:
        raise ValidationError(f"margin_sensitivity must be in [0, 1], got {sensitivity!r}")
    if not float(overstock_boost) >= 0.0:
        raise ValidationError(f"overstock_boost must be >= 0, got {overstock_boost!r}")


def margin_weights(table: ItemTable, sensitivity: float) -> np.ndarray:
    """``margin ** sensitivity`` of every item (see the module docstring for unknown margins)."""
    margins = np.asarray(table.margins, dtype=np.float64)
    known = np.isfinite(margins)
    if not known.any():
        raise ValidationError(
            "objective 'margin' needs item margins: the catalog has no cost or margin column "
            "(ingest a catalog mapping cost=COLUMN or margin=COLUMN)"
        )
    positive = margins[known & (margins > 0)]
    floor = LOSS_FLOOR * (float(np.median(positive)) if len(positive) else 1.0)
    filled = np.where(known, margins, float(np.median(margins[known])))
    return np.power(np.maximum(filled, floor), float(sensitivity))


def overstock(table: ItemTable) -> np.ndarray:
    """How overstocked each item is, 0..1 (0 up to the median cover, 1 from twice it)."""
    stock = np.asarray(table.stock, dtype=np.float64)
    cover = stock / np.maximum(np.asarray(table.popularity, dtype=np.float64), 1.0)
    stocked = np.isfinite(cover) & (cover > 0)
    out = np.zeros(len(table))
    if not stocked.any():
        return out
    ratio = cover[stocked] / float(np.median(cover[stocked]))
    out[stocked] = np.clip(np.log2(ratio), 0.0, 1.0)
    return out


def item_weights(
    table: ItemTable, objective: str, sensitivity: float, overstock_boost: float
) -> np.ndarray | None:
    """Each item's factor on its relevance, or ``None`` when the model's order stands."""
    check_objective(objective, sensitivity, overstock_boost)
    weights = None
    if objective == "margin" and sensitivity > 0:
        weights = margin_weights(table, sensitivity)
    if overstock_boost > 0:
        boost = 1.0 + float(overstock_boost) * overstock(table)
        weights = boost if weights is None else weights * boost
    return weights


def reweigh(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One query's candidate scores times their items' ``weights`` (relevance made >= 0 first)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values
    low = float(values.min())
    relevance = values - low if low < 0 else values
    return relevance * weights
