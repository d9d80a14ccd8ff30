"""Cross-sell models behind one contract (:class:`~xsell.models.base.Recommender`).

This package's names are the public API other layers use: the contract, the
registry, bundles, business rules, queries and answers, and the ranking routine.
"""

from __future__ import annotations

from pathlib import Path

from xsell.models.answers import Answer, Query
from xsell.models.base import Recommender
from xsell.models.bundle import BUNDLE_FORMAT, read_bundle_meta
from xsell.models.business_rules import MODES, BusinessRules, check_mode
from xsell.models.items import ItemTable, as_dense, basket_rows
from xsell.models.ranking import MAX_K, Batch, Ranked, rank, top_items
from xsell.models.registry import REGISTRY, make_model, model_class, model_parameters
from xsell.models.slots import SlotSplit

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_K",
    "MODES",
    "REGISTRY",
    "Answer",
    "Batch",
    "BusinessRules",
    "ItemTable",
    "Query",
    "Ranked",
    "Recommender",
    "SlotSplit",
    "as_dense",
    "basket_rows",
    "check_mode",
    "load_model",
    "make_model",
    "model_class",
    "model_parameters",
    "rank",
    "read_bundle_meta",
    "top_items",
]


def load_model(path: str | Path) -> Recommender:
    """Load the model bundle at ``path`` (see :mod:`xsell.models.bundle`)."""
    return Recommender.load(path)
