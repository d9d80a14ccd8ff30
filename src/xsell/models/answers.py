"""Requests by external ids in, ranked answers with reasons out (tables or plain records).

:func:`answer` maps ids to indices, ranks through :func:`xsell.models.ranking.rank`
with the fallback fill on, and words every suggestion: the model's own reason for
its picks, :mod:`xsell.models.fallback` for the fill, and a note first when an
item or customer is unknown. With ``explain`` a learned model's picks also get
their feature contributions (:mod:`xsell.models.contributions`), appended to the
reason as "ranked up by: ...; down by: ..." and kept as numbers in ``contributions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xsell.data import columns as C
from xsell.models import fallback
from xsell.models.business_rules import BusinessRules
from xsell.models.contributions import Explanation
from xsell.models.items import ItemTable, basket_rows
from xsell.models.ranking import Batch, rank

if TYPE_CHECKING:
    from xsell.models.base import Recommender

#: Columns of every answer table, in order (``trace`` follows with ``explain``).
COLUMNS = ["query", "rank", C.ITEM, C.NAME, C.CATEGORY, C.PRICE, "score", "reason", "source"]


@dataclass(frozen=True)
class Query:
    """One request: the cart (or page item) and the customer, by external id.

    ``history`` makes the customer's past purchases part of what the model looks
    at (personal add-ons); ``label`` fills the ``query`` column.
    """

    items: tuple[str, ...] = ()
    customer: str | None = None
    history: bool = False
    label: str = ""


@dataclass
class Answer:
    """The ranked suggestions of one query (item indices of the model's item table)."""

    query: str
    items: list[int]
    scores: list[float]
    reasons: list[str]
    sources: list[str]
    unknown_items: list[str]
    #: Rule name -> external ids it removed (``explain`` only).
    trace: dict[str, list[str]] | None = None
    #: Per suggestion, a learned model's feature contributions (``explain`` only; ``None``
    #: for the fill and for models that have none).
    contributions: list[Explanation | None] | None = None

    def records(self, table: ItemTable) -> list[dict[str, Any]]:
        """One plain dict per suggestion (ids, name, category, price, score, reason, source)."""
        return [
            {
                C.ITEM: str(table.ids.ids[i]),
                C.NAME: _text(table.names[i]),
                C.CATEGORY: _text(table.categories[i]),
                C.PRICE: _number(table.prices[i]),
                "score": float(score),
                "reason": reason,
                "source": source,
            }
            for i, score, reason, source in zip(
                self.items, self.scores, self.reasons, self.sources, strict=True
            )
        ]


def answer(
    model: Recommender,
    queries: Sequence[Query],
    k: int,
    rules: BusinessRules,
    *,
    mode: str = "mixed",
    explain: bool = False,
) -> list[Answer]:
    """Rank and word the suggestions of each query (lists are filled with best sellers)."""
    table = model.require_fitted()
    carts: list[np.ndarray] = []
    unknown: list[list[str]] = []
    for query in queries:
        idx = (
            table.ids.to_index([str(i) for i in query.items])
            if query.items
            else np.empty(0, np.int64)
        )
        carts.append(np.asarray(idx[idx >= 0], dtype=np.int64))
        unknown.append([str(i) for i, j in zip(query.items, idx, strict=True) if j < 0])
    users = np.array([model.customer_index(q.customer) for q in queries], dtype=np.int64)
    bought = [model.history_items(int(u)) for u in users]
    contexts = [
        np.union1d(cart, mine) if query.history else cart
        for query, cart, mine in zip(queries, carts, bought, strict=True)
    ]
    batch = Batch(
        basket_rows([c.tolist() for c in contexts], len(table)),
        users if (users >= 0).any() else None,
        carts=carts,
        bought=bought,
    )
    ranked = rank(model, batch, k, rules, mode=mode, fill=True, explain=explain)
    out = []
    for r, (query, found) in enumerate(zip(queries, ranked, strict=True)):
        customer_known = bool(users[r] >= 0)
        note = fallback.note(unknown[r], query.customer, customer_known)
        picks = found.items[: found.n_model]
        why = model.reasons(contexts[r].tolist(), int(users[r]), picks) if picks else []
        explained = (
            model.explain(contexts[r].tolist(), int(users[r]), picks) if explain and picks else None
        )
        if explained is not None:
            why = [
                w if e is None else f"{w}; {e.sentence()}"
                for w, e in zip(why, explained, strict=True)
            ]
        reasons = [note + text for text in why]
        for item, same in zip(found.items[found.n_model :], found.same_category, strict=True):
            reasons.append(
                fallback.fill_reason(
                    table,
                    item,
                    same,
                    len(carts[r]) > 0,
                    unknown[r],
                    query.customer,
                    customer_known,
                )
            )
        trace = None
        if found.trace is not None:
            trace = {
                rule: [str(i) for i in table.ids.to_external(items)]
                for rule, items in found.trace.items()
            }
        out.append(
            Answer(
                query=query.label,
                items=found.items,
                scores=found.scores,
                reasons=reasons,
                sources=["model"] * found.n_model
                + ["fallback"] * (len(found.items) - found.n_model),
                unknown_items=unknown[r],
                trace=trace,
                contributions=None
                if explained is None
                else [*explained, *([None] * (len(found.items) - len(picks)))],
            )
        )
    return out


def table(
    model: Recommender, queries: Sequence[Query], k: int, rules: Any, explain: bool, mode: str
) -> pd.DataFrame:
    """:func:`answer` as one tidy table (:func:`to_frame`); ``rules`` as ``BusinessRules.of``."""
    found = answer(model, queries, k, BusinessRules.of(rules), mode=mode, explain=explain)
    return to_frame(found, model.require_fitted(), explain)


def to_frame(answers: Sequence[Answer], table: ItemTable, explain: bool) -> pd.DataFrame:
    """The answers as one tidy table (:data:`COLUMNS`, plus ``trace`` with ``explain``)."""
    frames = []
    for found in answers:
        picked = found.items
        frame = pd.DataFrame(
            {
                "query": found.query,
                "rank": np.arange(1, len(picked) + 1),
                C.ITEM: table.ids.to_external(picked) if picked else np.empty(0, object),
                C.NAME: table.names[picked] if picked else np.empty(0, object),
                C.CATEGORY: table.categories[picked] if picked else np.empty(0, object),
                C.PRICE: table.prices[picked] if picked else np.empty(0, float),
                "score": np.asarray(found.scores, dtype=np.float64),
                "reason": found.reasons,
                "source": found.sources,
            }
        )
        if explain:
            frame["trace"] = pd.Series([found.trace] * len(frame), index=frame.index, dtype=object)
            frame["contributions"] = pd.Series(
                [None if e is None else e.to_dict() for e in found.contributions]
                if found.contributions is not None
                else [None] * len(frame),
                index=frame.index,
                dtype=object,
            )
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "trace", "contributions"] if explain else COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None
