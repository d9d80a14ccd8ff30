"""The one interface every cross-sell model implements, and its saved bundle.

A model scores every item for a *context*: the items in a cart (or on a product
page) and, when known, the customer. Evaluation calls :meth:`Recommender.score`
on many contexts at once; users call :meth:`Recommender.recommend_for_basket`,
:meth:`Recommender.recommend` and :meth:`Recommender.complements` with external
ids and get tidy tables with a reason for every suggestion.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import wraps
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell import __version__
from xsell.data import columns as C
from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.errors import InputFileError, NotFittedError, ValidationError
from xsell.models.business_rules import BusinessRules

BUNDLE_FORMAT = 1
#: Largest k a caller may ask for.
MAX_K = 1000


@dataclass(frozen=True)
class Suggestion:
    """One suggested item (dense index), its score and why it is suggested."""

    item: int
    score: float
    reason: str


@dataclass
class ItemTable:
    """What a fitted model knows about items: ids, names, categories, prices, stock, popularity.

    Stored in every bundle so a served model can map ids and apply business rules
    without the store.
    """

    ids: IdMap
    names: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    in_stock: np.ndarray
    popularity: np.ndarray

    @classmethod
    def from_data(cls, data: ShopData) -> ItemTable:
        return cls(
            ids=data.items,
            names=data.item_names(),
            categories=data.item_categories(),
            prices=data.item_prices(),
            in_stock=data.in_stock(),
            popularity=data.item_basket_count.astype(np.float64),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def grown(self, new_ids: Sequence[str], names: dict[str, str]) -> ItemTable:
        """This table with ``new_ids`` appended (no category, no price, in stock, popularity 0)."""
        n = len(new_ids)
        return ItemTable(
            ids=IdMap([*self.ids.ids, *new_ids]),
            names=np.concatenate(
                [self.names, np.array([names.get(i) for i in new_ids], dtype=object)]
            ),
            categories=np.concatenate([self.categories, np.full(n, None, dtype=object)]),
            prices=np.concatenate([self.prices, np.full(n, np.nan)]),
            in_stock=np.concatenate([self.in_stock, np.ones(n, dtype=bool)]),
            popularity=np.concatenate([self.popularity, np.zeros(n)]),
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                C.ITEM: self.ids.ids,
                C.NAME: self.names,
                C.CATEGORY: self.categories,
                C.PRICE: self.prices,
                C.IN_STOCK: self.in_stock,
                "popularity": self.popularity,
            }
        )


def basket_rows(contexts: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """Contexts (lists of item indices) as a binary CSR matrix of ``len(contexts) x n_items``."""
    indptr = np.zeros(len(contexts) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(c) for c in contexts])
    indices = (
        np.concatenate([np.asarray(c, dtype=np.int32) for c in contexts])
        if len(contexts)
        else np.empty(0, np.int32)
    )
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(contexts), n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` best scores per row, best first; excluded and -inf items last.

    Ties break by lower item index, so results are deterministic. Rows with fewer
    than ``k`` finite scores are padded with ``-1``.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
        scores[rows, exclude.indices] = -np.inf
    k = min(k, scores.shape[1])
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k]
        if k < scores.shape[1]
        else np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    )
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    # argpartition picks arbitrarily among items tied with the k-th score: redo those rows.
    kth = picked.min(axis=1, initial=np.inf)
    crowded = np.flatnonzero(np.isfinite(kth) & ((scores >= kth[:, None]).sum(axis=1) > k))
    for r in crowded:
        candidates = np.flatnonzero(scores[r] >= kth[r])
        best[r] = candidates[np.lexsort((candidates, -scores[r, candidates]))][:k]
    finite = np.isfinite(np.take_along_axis(scores, best, axis=1))
    return np.where(finite, best, -1)


def top_k_sparse(scores: sp.csr_matrix, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """:func:`top_k` of a CSR whose absent entries are ``-inf`` (same order, same padding)."""
    n, n_items = scores.shape
    out = np.full((n, min(k, n_items)), -1, dtype=np.int64)
    for r in range(n):
        lo, hi = scores.indptr[r], scores.indptr[r + 1]
        cols, values = scores.indices[lo:hi], scores.data[lo:hi]
        keep = np.isfinite(values)
        if exclude is not None and exclude.indptr[r + 1] > exclude.indptr[r]:
            banned = exclude.indices[exclude.indptr[r] : exclude.indptr[r + 1]]
            keep &= ~np.isin(cols, banned)
        cols, values = cols[keep], values[keep]
        best = cols[np.lexsort((cols, -values))][: out.shape[1]]
        out[r, : len(best)] = best
    return out


@dataclass
class Recommender(ABC):
    """Base of every model.

    Subclasses set ``name`` (the registry key), keep their hyper-parameters as
    dataclass fields, and implement :meth:`_fit` and :meth:`score`; they may
    override :meth:`reasons` to explain suggestions in their own terms.

    Live learning: :meth:`update` feeds new orders to a fitted model (the serving
    layer calls it for every order event). The base grows the item table, the
    user map and the purchase histories for ids it has not seen, then calls the
    :meth:`_update` hook. Models that learn incrementally override ``_update``
    and raise ``n_items_known_`` / ``n_users_known_`` to the new sizes; for all
    others, every subclass's ``score`` is wrapped so that it only sees the items
    and users it was fitted on and answers ``-inf`` for the items added since.
    """

    name: ClassVar[str] = "base"
    #: The model needs user ids (personalized); it falls back to the cart when the user is unknown.
    personalized: ClassVar[bool] = False

    items_: ItemTable | None = field(default=None, init=False, repr=False)
    users_: IdMap | None = field(default=None, init=False, repr=False)
    history_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    fitted_on_: str | None = field(default=None, init=False, repr=False)
    fit_seconds_: float = field(default=0.0, init=False, repr=False)
    #: How many items / users the learned state covers (the rest came in through ``update``).
    n_items_known_: int = field(default=0, init=False, repr=False)
    n_users_known_: int = field(default=0, init=False, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("score")
        if own is not None and not getattr(own, "_grows_with_items", False):
            setattr(cls, "score", _grow_safe(own))  # noqa: B010  (mypy: no method assignment)

    # ----------------------------------------------------------- to implement

    @abstractmethod
    def _fit(self, data: ShopData) -> None:
        """Learn from ``data``; ``self.items_`` is already set."""

    @abstractmethod
    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each context row.

        Parameters
        ----------
        baskets:
            ``n x n_items`` binary CSR, the items in each context (cart or page).
        users:
            ``n`` user indices, ``-1`` where unknown; ``None`` when no user is known.

        Returns
        -------
        np.ndarray
            ``n x n_items`` float scores, higher is better; ``-inf`` for items
            the model will never suggest.
        """

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        """Why each of ``items`` is suggested for ``context`` (and ``user``)."""
        table = self.require_fitted()
        return [f"popular: in {int(table.popularity[i]):,} past orders" for i in items]

    # ----------------------------------------------------------- shared

    def params(self) -> dict[str, Any]:
        """Hyper-parameters (the dataclass fields that are not learned state)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def fit(self, data: ShopData) -> Self:
        """Learn from the baskets (and users, events, catalog) of ``data``."""
        if data.n_baskets == 0:
            raise ValidationError(f"{self.name}: cannot fit on data without baskets")
        started = time.perf_counter()
        self.items_ = ItemTable.from_data(data)
        self.users_ = data.users
        self.history_ = data.user_item
        self.fitted_on_ = data.fingerprint()
        self.n_items_known_ = data.n_items
        self.n_users_known_ = data.n_users
        self._fit(data)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def update(
        self,
        baskets: Sequence[Sequence[str]],
        users: Sequence[str | None] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Learn from new orders without refitting (live serving).

        Parameters
        ----------
        baskets:
            The item ids of each new order.
        users:
            The customer id of each order (``None`` for a guest); omitted means all guests.
        names:
            Optional display names of items the model has not seen yet.

        Every model accepts updates: unseen items join the item table (with their
        order count as popularity, no category or price, in stock, and no name
        unless ``names`` gives one), unseen customers join the user map, and the
        purchase histories used by ``exclude_bought`` and ``recommend`` grow. What
        the model itself learns is up to its :meth:`_update` hook: co-occurrence
        changes its answers at once; models that cannot learn incrementally keep
        their fitted state and give new items no score until the next ``fit``.
        """
        table = self.require_fitted()
        users = [None] * len(baskets) if users is None else list(users)
        if len(users) != len(baskets):
            raise ValidationError(
                "update needs one user per basket: "
                f"got {len(baskets)} baskets and {len(users)} users"
            )
        clean = [list(dict.fromkeys(str(i) for i in basket)) for basket in baskets]
        new_items = [i for i in dict.fromkeys(i for b in clean for i in b) if i not in table.ids]
        if new_items:
            self.items_ = table = table.grown(new_items, names or {})
        assert self.users_ is not None
        new_users = [
            u for u in dict.fromkeys(str(u) for u in users if u is not None) if u not in self.users_
        ]
        if new_users:
            self.users_ = IdMap([*self.users_.ids, *new_users])
        item_rows = [table.ids.to_index(b) if b else np.empty(0, np.int64) for b in clean]
        user_idx = np.array(
            [self.users_.index_of(str(u)) if u is not None else -1 for u in users], dtype=np.int64
        )
        added = basket_rows([r.tolist() for r in item_rows], len(table))
        table.popularity += np.asarray(added.sum(axis=0)).ravel()
        self.history_ = _grow_history(self.history_, user_idx, added, len(self.users_))
        self._update(added, user_idx)

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:  # noqa: B027
        """Hook: learn from new baskets (binary CSR over the grown item table) and their users.

        The default learns nothing: the fitted state stays as it was and new items
        score ``-inf`` (see the class docstring).
        """

    def require_fitted(self) -> ItemTable:
        if self.items_ is None:
            raise NotFittedError(f"model {self.name!r} is not fitted; call fit(data) first")
        return self.items_

    @property
    def n_items(self) -> int:
        return len(self.require_fitted())

    def recommend_batch(
        self,
        contexts: Sequence[Sequence[int]],
        users: np.ndarray | None = None,
        k: int = 10,
        exclude: sp.csr_matrix | None = None,
        exclude_context: bool = True,
    ) -> np.ndarray:
        """Top-``k`` item indices per context, ``-1`` padded.

        Items in the context itself are excluded unless ``exclude_context`` is false.
        """
        rows = basket_rows(contexts, self.n_items)
        mask = rows if exclude_context else None
        if exclude is not None:
            mask = exclude if mask is None else ((mask + exclude) > 0).astype(np.float32).tocsr()
        evidence = self._sparse_evidence(rows, users)
        if evidence is not None:
            return top_k_sparse(evidence, k, mask)
        return top_k(self.score(rows, users), k, mask)

    def score_sparse(
        self, baskets: sp.csr_matrix, users: np.ndarray | None = None
    ) -> sp.csr_matrix | None:
        """Optional fast path of :meth:`score`: a CSR whose absent entries mean ``-inf``.

        Models whose evidence is sparse (co-occurrence, item-kNN) return it, so
        batches are ranked without a dense ``n x n_items`` matrix; ``None`` (the
        default) means "use :meth:`score`". Both must rank alike.
        """
        return None

    def _sparse_evidence(
        self, baskets: sp.csr_matrix, users: np.ndarray | None
    ) -> sp.csr_matrix | None:
        """:meth:`score_sparse` over the items and users the model learned, widened to all items."""
        n_items = baskets.shape[1]
        known = self.n_items_known_ or n_items
        if n_items > known:
            baskets = sp.csr_matrix(baskets)[:, :known]
        if users is not None and self.n_users_known_:
            users = np.where(np.asarray(users) >= self.n_users_known_, -1, users)
        out = self.score_sparse(baskets, users)
        if out is None:
            return None
        out = sp.csr_matrix(out)
        if out.shape[1] < n_items:
            out = out.copy()
            out.resize((out.shape[0], n_items))
        return out

    def _cart_evidence(
        self, items: Sequence[int], user: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`score_sparse` of one cart as (item indices, scores); ``None``: use ``score``.

        The serving hot path; models may answer it without building sparse matrices.
        """
        rows = basket_rows([items], self.n_items)
        evidence = self._sparse_evidence(rows, np.array([user]) if user >= 0 else None)
        if evidence is None:
            return None
        end = int(evidence.indptr[1])
        cols = evidence.indices[:end].astype(np.int64)
        return cols, np.asarray(evidence.data[:end], dtype=np.float64)

    def suggest(
        self,
        items: Sequence[int] = (),
        user: int = -1,
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
    ) -> list[Suggestion]:
        """Model suggestions for one context by dense indices, with reasons (no fallback).

        Parameters
        ----------
        items:
            Item indices in the cart or on the page (unknown items already dropped).
        user:
            User index or -1.
        exclude:
            Item indices never to suggest (e.g. already bought).
        allowed:
            Optional boolean mask over items; only those may be suggested.
        """
        table = self.require_fitted()
        _check_k(k)
        context = [int(i) for i in items if 0 <= int(i) < len(table)]
        rows = basket_rows([context], len(table))
        scores = self.score(rows, np.array([user]) if user >= 0 else None)[0].astype(np.float64)
        banned = np.zeros(len(table), dtype=bool)
        banned[context] = True
        banned[[int(i) for i in exclude if 0 <= int(i) < len(table)]] = True
        if allowed is not None:
            banned |= ~np.asarray(allowed, dtype=bool)
        scores[banned] = -np.inf
        best = top_k(scores[None, :], k)[0]
        best = best[best >= 0]
        why = self.reasons(context, user, best.tolist()) if len(best) else []
        return [Suggestion(int(i), float(scores[i]), r) for i, r in zip(best, why, strict=True)]

    # ----------------------------------------------------------- public API (external ids)

    def recommend_for_basket(
        self,
        items: Sequence[str],
        k: int = 10,
        user: str | None = None,
        rules: BusinessRules | dict[str, Any] | None = None,
        explain: bool = False,
    ) -> pd.DataFrame:
        """Complete a cart: the ``k`` best items to add to ``items`` (external ids).

        Unknown item ids are ignored (the reason says so when nothing else is
        known); an unknown or absent ``user`` gets the non-personal answer.
        Returns a tidy table: query, rank, item_id, name, category, price, score,
        reason, source ("model" or "fallback"), and with ``explain`` a ``trace``
        column mapping each business rule to the item ids it removed.
        """
        query = ",".join(map(str, items))
        return self._answer([query], [list(items)], [user], k, rules, explain, use_history=False)

    def recommend(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        rules: BusinessRules | dict[str, Any] | None = None,
        explain: bool = False,
    ) -> pd.DataFrame:
        """Personalized add-ons for each customer id in ``users`` (a batch).

        The customer's purchase history is the context. ``exclude_seen=False``
        lets repeat purchases through (real targets in groceries). Unknown
        customers get the shop's best sellers, with a reason saying so.
        """
        base = BusinessRules.from_dict(rules) if isinstance(rules, dict) else rules
        base = base or BusinessRules()
        effective = replace(base, exclude_bought=base.exclude_bought or exclude_seen)
        return self._answer(
            list(users), [[] for _ in users], list(users), k, effective, explain, use_history=True
        )

    def complements(
        self, item: str, k: int = 10, rules: BusinessRules | dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Frequently bought together: the ``k`` items that best go with ``item``."""
        return self._answer([item], [[item]], [None], k, rules, False, use_history=False)

    def _answer(
        self,
        queries: Sequence[str],
        contexts: Sequence[Sequence[str]],
        users: Sequence[str | None],
        k: int,
        rules: BusinessRules | dict[str, Any] | None,
        explain: bool,
        use_history: bool,
    ) -> pd.DataFrame:
        table = self.require_fitted()
        _check_k(k)
        rules = (
            BusinessRules.from_dict(rules) if isinstance(rules, dict) or rules is None else rules
        )
        user_idx = np.array(
            [
                self.users_.index_of(str(u)) if u is not None and self.users_ is not None else -1
                for u in users
            ],
            dtype=np.int64,
        )
        known_ctx: list[list[int]] = []
        unknown_ctx: list[list[str]] = []
        for context in contexts:
            idx = (
                table.ids.to_index([str(c) for c in context]) if len(context) else np.empty(0, int)
            )
            known_ctx.append([int(i) for i in idx if i >= 0])
            unknown_ctx.append([str(c) for c, i in zip(context, idx, strict=True) if i < 0])
        bought = [self.history_items(int(u)) for u in user_idx]
        score_ctx = [
            sorted(set(c) | set(b.tolist())) if use_history else c
            for c, b in zip(known_ctx, bought, strict=True)
        ]
        rows = basket_rows(score_ctx, len(table))
        scores = self.score(rows, user_idx if (user_idx >= 0).any() else None)
        frames = []
        for r, query in enumerate(queries):
            frames.append(
                self._one_answer(
                    query,
                    known_ctx[r],
                    unknown_ctx[r],
                    users[r],
                    int(user_idx[r]),
                    bought[r],
                    np.asarray(scores[r], dtype=np.float64),
                    k,
                    rules,
                    explain,
                )
            )
        return pd.concat(frames, ignore_index=True) if frames else _empty_answer(explain)

    def _one_answer(
        self,
        query: str,
        context: list[int],
        unknown: list[str],
        user: str | None,
        user_index: int,
        bought: np.ndarray,
        scores: np.ndarray,
        k: int,
        rules: BusinessRules,
        explain: bool,
    ) -> pd.DataFrame:
        table = self.require_fitted()
        trace: dict[str, list[int]] | None = {} if explain else None
        allowed = rules.allowed(table, context, bought.tolist(), trace)
        scores = np.where(allowed, scores, -np.inf)
        if rules.max_per_category:
            # The cap may skip any number of candidates: rank every one with evidence, or an
            # item of a less crowded category would lose its place to a best-seller fallback.
            finite = np.flatnonzero(np.isfinite(scores))
            ranked = finite[np.lexsort((finite, -scores[finite]))]
        else:
            ranked = top_k(scores[None, :], min(len(table), k))[0]
            ranked = ranked[ranked >= 0]
        picked = rules.cap_per_category(table, ranked.tolist(), k, trace)
        # Items added by ``update`` that the model has not learned say nothing about it.
        learned = [i for i in context if i < (self.n_items_known_ or len(table))]
        reasons = self.reasons(learned, user_index, picked) if picked else []
        note = (f"unknown item {', '.join(unknown[:3])}; " if unknown else "") + (
            f"unknown customer {user}; " if user is not None and user_index < 0 else ""
        )
        reasons = [note + r for r in reasons]
        sources = ["model"] * len(picked)
        values = [float(scores[i]) for i in picked]
        if len(picked) < k:
            # With a per-category cap, ask for every candidate and cap the whole list.
            wanted = len(table) if rules.max_per_category else k
            fill, fill_reasons = self._fallback(
                context, unknown, user, user_index, allowed, picked, wanted
            )
            if rules.max_per_category:
                capped = rules.cap_per_category(table, [*picked, *fill], k, trace)
                keep = set(capped[len(picked) :])
                fill_reasons = [r for i, r in zip(fill, fill_reasons, strict=True) if i in keep]
                fill = [i for i in fill if i in keep]
            picked += fill
            reasons += fill_reasons
            sources += ["fallback"] * len(fill)
            values += [0.0] * len(fill)
        frame = pd.DataFrame(
            {
                "query": query,
                "rank": np.arange(1, len(picked) + 1),
                C.ITEM: table.ids.to_external(picked) if picked else np.empty(0, object),
                C.NAME: table.names[picked] if picked else np.empty(0, object),
                C.CATEGORY: table.categories[picked] if picked else np.empty(0, object),
                C.PRICE: table.prices[picked] if picked else np.empty(0, float),
                "score": np.asarray(values, dtype=np.float64),
                "reason": reasons,
                "source": sources,
            }
        )
        if explain:
            readable = {
                rule: table.ids.to_external(items).tolist() for rule, items in (trace or {}).items()
            }
            frame["trace"] = pd.Series([readable] * len(frame), index=frame.index, dtype=object)
        return frame

    def _fallback(
        self,
        context: list[int],
        unknown: list[str],
        user: str | None,
        user_index: int,
        allowed: np.ndarray,
        picked: list[int],
        k: int,
    ) -> tuple[list[int], list[str]]:
        """Fill up with best sellers: first of the context's categories, then of the shop."""
        table = self.require_fitted()
        free = allowed.copy()
        free[picked] = False
        why_prefix = ""
        if unknown and not context:
            why_prefix = f"unknown item {', '.join(unknown[:3])}; "
        elif user is not None and user_index < 0 and not context:
            why_prefix = f"unknown customer {user}; "
        elif context:
            why_prefix = "no co-purchase evidence; "
        fill: list[int] = []
        reasons: list[str] = []
        categories = {table.categories[i] for i in context if table.categories[i] is not None}
        order = np.lexsort((np.arange(len(table)), -table.popularity))
        if categories:
            same = free & np.isin(table.categories, np.array(sorted(categories), dtype=object))
            for i in order[same[order]][: k - len(picked)]:
                fill.append(int(i))
                reasons.append(f"{why_prefix}popular in {table.categories[i]}")
                free[i] = False
        for i in order[free[order]][: k - len(picked) - len(fill)]:
            fill.append(int(i))
            reasons.append(f"{why_prefix}popular in the shop ({int(table.popularity[i]):,} orders)")
        return fill, reasons

    def history_items(self, user: int) -> np.ndarray:
        """Item indices a customer bought in the training data (and live events, when served)."""
        if user < 0 or self.history_ is None or user >= self.history_.shape[0]:
            return np.empty(0, dtype=np.int64)
        return self.history_.indices[self.history_.indptr[user] : self.history_.indptr[user + 1]]

    # ----------------------------------------------------------- bundles

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model as a bundle directory: written aside, then renamed into place."""
        table = self.require_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            meta = {
                "format": BUNDLE_FORMAT,
                "xsell": __version__,
                "model": self.name,
                "params": _jsonable(self.params()),
                "fitted_on": self.fitted_on_,
                "fit_seconds": round(self.fit_seconds_, 3),
                "n_items": len(table),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "metrics": metrics or {},
            }
            table.to_frame().to_parquet(tmp / "items.parquet", index=False)
            with (tmp / "model.pkl").open("wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
            (tmp / "model.json").write_text(json.dumps(meta, indent=2, default=str))
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def _grow_safe(score: Any) -> Any:
    """Wrap a subclass's ``score`` so items and users added by ``update`` cannot break it."""

    @wraps(score)
    def wrapped(
        self: Recommender, baskets: sp.csr_matrix, users: np.ndarray | None = None
    ) -> np.ndarray:
        n_items = baskets.shape[1]
        known = self.n_items_known_ or n_items
        if n_items > known:
            baskets = sp.csr_matrix(baskets)[:, :known]
        if users is not None and self.n_users_known_:
            users = np.where(np.asarray(users) >= self.n_users_known_, -1, users)
            if not (users >= 0).any():
                users = None
        out = np.asarray(score(self, baskets, users))
        if out.shape[1] < n_items:
            pad = np.full((out.shape[0], n_items - out.shape[1]), -np.inf, dtype=out.dtype)
            out = np.hstack([out, pad])
        return out

    wrapped._grows_with_items = True  # type: ignore[attr-defined]
    return wrapped


def _grow_history(
    history: sp.csr_matrix | None, users: np.ndarray, baskets: sp.csr_matrix, n_users: int
) -> sp.csr_matrix:
    """Users x items purchase counts with the new baskets of known users added."""
    n_items = baskets.shape[1]
    old = history if history is not None else sp.csr_matrix((0, 0), dtype=np.float32)
    old = sp.csr_matrix(old, dtype=np.float32, copy=True)
    old.resize((n_users, n_items))
    mine = users >= 0
    if not mine.any():
        return old
    owners = sp.csr_matrix(
        (np.ones(int(mine.sum()), dtype=np.float32), (users[mine], np.arange(int(mine.sum())))),
        shape=(n_users, int(mine.sum())),
    )
    return sp.csr_matrix(old + owners @ baskets[mine], dtype=np.float32)


def _check_k(k: int) -> None:
    if not isinstance(k, int | np.integer) or k < 1 or k > MAX_K:
        raise ValidationError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")


def _empty_answer(explain: bool) -> pd.DataFrame:
    columns = ["query", "rank", C.ITEM, C.NAME, C.CATEGORY, C.PRICE, "score", "reason", "source"]
    return pd.DataFrame(columns=[*columns, "trace"] if explain else columns)


def read_bundle_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a bundle (without loading the model)."""
    path = Path(path)
    meta_file = path / "model.json"
    if not meta_file.exists():
        raise InputFileError(
            f"{path}: not an xsell model bundle (no model.json); create one with `xsell train`"
        )
    meta: dict[str, Any] = json.loads(meta_file.read_text())
    if meta.get("format") != BUNDLE_FORMAT:
        raise InputFileError(
            f"{path}: bundle format {meta.get('format')!r}, this xsell reads {BUNDLE_FORMAT}"
        )
    return meta


def load_model(path: str | Path) -> Recommender:
    """Load a bundle written by :meth:`Recommender.save`."""
    path = Path(path)
    meta = read_bundle_meta(path)
    with (path / "model.pkl").open("rb") as handle:
        model = pickle.load(handle)
    if not isinstance(model, Recommender) or model.name != meta["model"]:
        raise InputFileError(f"{path}: model.pkl does not hold the {meta['model']!r} model")
    return model


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
