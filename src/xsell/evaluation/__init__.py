"""Offline evaluation: protocols, metrics, leaderboards and tuning on the shop's own data."""

from __future__ import annotations

from xsell.data.holdout import Queries, basket_completion, item_to_item, next_basket
from xsell.data.splits import make_split, random_basket_split, validation_split
from xsell.evaluation.leaderboard import Leaderboard, latest_leaderboard
from xsell.evaluation.protocols import PROTOCOLS, make_queries
from xsell.evaluation.runner import (
    DEFAULT_KS,
    ModelRun,
    evaluate,
    evaluate_model,
    recommend_queries,
    score_recommendations,
)

__all__ = [
    "DEFAULT_KS",
    "PROTOCOLS",
    "Leaderboard",
    "ModelRun",
    "Queries",
    "basket_completion",
    "evaluate",
    "evaluate_model",
    "item_to_item",
    "latest_leaderboard",
    "make_queries",
    "make_split",
    "next_basket",
    "random_basket_split",
    "recommend_queries",
    "score_recommendations",
    "validation_split",
]
