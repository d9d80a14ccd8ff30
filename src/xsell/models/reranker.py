"""A learned re-ranker: candidates from several models, ranked by LightGBM (LambdaRank).

Fit holds out part of the training baskets (never test data): the latest
``validation_share`` of them, or each customer's last basket for the next-basket
task. It fits every component on the rest and turns each held-out basket into a
query the way it will be asked: one item hidden, the rest (and the customer)
visible; or the customer's earlier purchases, the basket to be found. Each
component proposes its top ``candidates`` items; each (query, candidate) pair
gets features (every component's score relative to the query's best, its rank,
raw co-occurrence strengths, the item's popularity and price, how much of the
cart shares its category, the cart's size) and the label "is a held-out item".
A LambdaRank model learns to order the candidates; the components are then
refitted on all the training baskets and serve the features.

The components' own scores are kept scale-free (relative to the row's best, or
ranks) so that a ranker learned on components fitted on 80 % of the baskets
still reads the features of components fitted on all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.holdout import hide_one_item, history_queries, last_basket_mask, latest_baskets_mask
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.models.base import Recommender
from xsell.models.contributions import Explanation
from xsell.models.ensemble import Ensemble, component_spec
from xsell.models.items import as_dense, basket_rows
from xsell.models.params import anything, integer, number, one_of, param, sequence_of

#: What the training queries imitate.
TASKS: Final = ("basket-completion", "next-basket", "next-basket-new")
#: Components whose raw scores are ratios that do not grow with the data (kept as features).
_SCALE_FREE: Final = ("cooccurrence",)
#: Dense score cells one block of queries may hold per component (float32: ~32 MB).
_BLOCK_CELLS: Final = 8_000_000

# Every pair seen is a candidate (min_count 0): the ranker learns how much a rare pair counts.
DEFAULT_MODELS: Final[tuple[tuple[str, dict[str, Any]], ...]] = (
    ("cooccurrence", {"measure": "confidence", "neighbours": 200, "min_count": 0}),
    ("cooccurrence", {"measure": "jaccard", "neighbours": 200, "min_count": 0}),
    ("cooccurrence", {"measure": "lift", "neighbours": 200, "aggregate": "max", "min_count": 2}),
    ("itemknn", {"weighting": "bm25"}),
    ("popularity", {}),
    ("popularity", {"half_life_days": 30.0}),
    ("personal", {}),
)


@dataclass
class LearnedReranker(Ensemble):
    """Candidates from several models, ordered by a LightGBM LambdaRank model.

    Parameters
    ----------
    models:
        The components: registry names, ``(name, params)`` pairs or unfitted
        :class:`Recommender` instances (copied before fitting). Each proposes
        candidates and gives features.
    task:
        What the training queries look like: ``"basket-completion"`` (one item of
        each held-out basket hidden, the cart's items are never candidates),
        ``"next-basket"`` (each customer's last basket held out and asked with
        their earlier purchases, which stay candidates: repeat purchases count)
        or ``"next-basket-new"`` (the same queries, but only the items the
        customer never bought are to be found and only they are candidates: the
        explore task). Components may be any registered model, the deep ones
        (``neural``, ``sequence``) included: their scores become features too.
    candidates:
        How many top items each component proposes per query.
    validation_share:
        Share of the latest training baskets held out to learn the ranking.
    max_queries:
        Most held-out baskets turned into training queries.
    n_estimators, learning_rate, num_leaves, min_child_samples:
        LightGBM settings.
    early_stopping_rounds:
        Stop adding trees when NDCG@10 on a tenth of the training queries has not
        improved for this many rounds (``None``: always ``n_estimators`` trees).
    seed:
        Seeds the hidden items, the query sample and LightGBM.
    """

    name = "reranker"

    models: tuple[Any, ...] = param(DEFAULT_MODELS, sequence_of(anything("a component"), min_len=1))
    task: str = param("basket-completion", one_of(*TASKS))
    candidates: int = param(50, integer(low=1))
    validation_share: float = param(0.2, number(low=0, high=1, low_open=True, high_open=True))
    max_queries: int = param(10_000, integer(low=10))
    n_estimators: int = param(400, integer(low=1))
    learning_rate: float = param(0.05, number(low=0, low_open=True))
    num_leaves: int = param(31, integer(low=2))
    min_child_samples: int = param(50, integer(low=1))
    early_stopping_rounds: int | None = param(30, integer(low=1, none=True))
    seed: int = param(0, integer(low=0))

    ranker_: Any = field(default=None, init=False, repr=False)
    feature_names_: list[str] = field(default_factory=list, init=False, repr=False)
    #: What fitting saw: training queries, how often the hidden item was a candidate, trees.
    training_: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    #: The candidate rows of the last one-query answer, for its explanation (never saved).
    recent_: Any = field(default=None, init=False, repr=False, metadata={"stored": False})

    # ------------------------------------------------------------------ fit

    def _fit(self, data: ShopData) -> None:
        lgb: Any = require("lightgbm", "models")
        if self.task == "basket-completion":
            mask = latest_baskets_mask(data, self.validation_share)
            fit_part = data.subset_baskets(~mask)
            contexts, users, truth = self._completion_queries(data, mask)
        else:
            mask = last_basket_mask(data)
            fit_part = data.subset_baskets(~mask)
            contexts, users, truth = history_queries(
                data, fit_part, mask, self.max_queries, self.seed
            )
            if self.task == "next-basket-new":
                # Only what the customer never bought is to be found (the explore task).
                truth = sp.csr_matrix(truth - truth.multiply(contexts))
                truth.eliminate_zeros()
        n_queries = truth.shape[0]
        if n_queries < 10:
            raise ValidationError(
                f"reranker: only {n_queries} held-out queries to learn from ({self.task}; "
                f"validation_share={self.validation_share}); it needs at least 10"
            )
        components = [self._component(m).fit(fit_part) for m in self.models]
        query, item, features = self._pairs(components, contexts, users, data.n_items)
        label = _is_in(truth, query, item).astype(np.float32)
        answerable = np.bincount(query[label > 0], minlength=n_queries) > 0
        keep = answerable[query]
        query, label, features = query[keep], label[keep], features[keep]
        if not answerable.any():
            raise ValidationError(
                "reranker: no held-out item was among the candidates; raise `candidates`"
            )
        asked = np.flatnonzero(answerable)
        rng = np.random.default_rng(self.seed)
        early = np.zeros(n_queries, dtype=bool)
        early[rng.choice(asked, max(1, len(asked) // 10), replace=False)] = True
        train_rows, stop_rows = ~early[query], early[query]
        params = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [10],
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": 0.9,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 2,
            "verbose": -1,
        }
        train_set = lgb.Dataset(
            features[train_rows],
            label[train_rows],
            group=_group_sizes(query[train_rows]),
            feature_name=self.feature_names_,
            free_raw_data=True,
        )
        stop_set = lgb.Dataset(
            features[stop_rows],
            label[stop_rows],
            group=_group_sizes(query[stop_rows]),
            reference=train_set,
        )
        self.ranker_ = lgb.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=[stop_set],
            callbacks=(
                [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
                if self.early_stopping_rounds
                else []
            ),
        )
        self.training_ = {
            "queries": float(n_queries),
            "candidate_recall": float(answerable.mean()),
            "candidates_per_query": float(len(item) / max(n_queries, 1)),
            "trees": float(self.ranker_.best_iteration or self.n_estimators),
        }
        self.components_ = [self._component(m).fit(data) for m in self.models]

    def _check_params(self) -> None:
        for model in self.models:
            if component_spec(model)[0] in ("hybrid", "reranker"):
                raise ValidationError(
                    "reranker: a reranker's components cannot be hybrids or rerankers"
                )

    def _completion_queries(
        self, data: ShopData, mask: np.ndarray
    ) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix]:
        """Held-out baskets with one item hidden: (contexts, user indices, hidden items)."""
        contexts, users, hidden = hide_one_item(data, mask, self.max_queries, self.seed)
        truth = basket_rows([[int(h)] for h in hidden], data.n_items)
        return basket_rows(contexts, data.n_items), users, truth

    # ------------------------------------------------------------------ features

    def _pairs(
        self,
        components: list[Recommender],
        baskets: sp.csr_matrix,
        users: np.ndarray | None,
        n_items: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (query, item) pairs of every query and their feature rows."""
        baskets = sp.csr_matrix(baskets)
        step = max(1, _BLOCK_CELLS // max(n_items, 1))
        categories = _category_codes(components[0].require_fitted().categories[:n_items])
        parts = [
            self._block_pairs(
                components,
                baskets[start : start + step],
                None if users is None else np.asarray(users)[start : start + step],
                start,
                categories,
            )
            for start in range(0, baskets.shape[0], step)
        ]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        query = np.concatenate([p[0] for p in parts])
        item = np.concatenate([p[1] for p in parts])
        return query, item, np.concatenate([p[2] for p in parts])

    def _block_pairs(
        self,
        components: list[Recommender],
        baskets: sp.csr_matrix,
        users: np.ndarray | None,
        offset: int,
        categories: tuple[np.ndarray, sp.csr_matrix] | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n, n_items = baskets.shape
        table = components[0].require_fitted()
        context_rows = np.repeat(np.arange(n), np.diff(baskets.indptr))
        user_arg = users if users is not None and (np.asarray(users) >= 0).any() else None
        n_top = min(self.candidates, n_items)
        chosen = np.zeros((n, n_items), dtype=bool)
        blocks: list[tuple[str, np.ndarray, np.ndarray]] = []
        for component in components:
            scores = as_dense(component.score(baskets, user_arg)).astype(np.float32)
            # Basket completion never suggests the cart; the explore task never what the
            # customer bought (the context of its queries).
            if self.task in ("basket-completion", "next-basket-new"):
                scores[context_rows, baskets.indices] = -np.inf
            top = np.argpartition(-scores, n_top - 1, axis=1)[:, :n_top]
            top_scores = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            ranks = np.full((n, n_items), np.nan, dtype=np.float32)
            np.put_along_axis(ranks, top, np.arange(1, n_top + 1, dtype=np.float32)[None, :], 1)
            finite_top = np.isfinite(np.take_along_axis(scores, top, axis=1))
            rows_of_top = np.repeat(np.arange(n), n_top).reshape(n, n_top)
            chosen[rows_of_top[finite_top], top[finite_top]] = True
            ranks[~np.isfinite(scores)] = np.nan
            blocks.append((component.name, scores, ranks))
        query, item = np.nonzero(chosen)
        columns: list[np.ndarray] = []
        names: list[str] = []
        for j, (name, scores, ranks) in enumerate(blocks):
            value = scores[query, item].astype(np.float64)
            best = np.max(np.where(np.isfinite(scores), scores, -np.inf), axis=1)
            low = np.min(np.where(np.isfinite(scores), scores, np.inf), axis=1)
            span = np.where(best > low, best - low, 1.0)[query]
            finite = np.isfinite(value)
            columns.append(np.where(finite, (value - low[query]) / span, np.nan))
            columns.append(ranks[query, item].astype(np.float64))
            names += [f"{j}_{name}_relative", f"{j}_{name}_rank"]
            if name in _SCALE_FREE:
                columns.append(np.where(finite, value, np.nan))
                names.append(f"{j}_{name}_score")
        popularity = table.popularity[:n_items]
        share = popularity / max(float(popularity.sum()), 1.0)
        size = np.diff(baskets.indptr).astype(np.float64)
        columns += [
            np.log1p(popularity[item]),
            np.log(share[item] + 1e-12),
            np.asarray(table.prices[:n_items], dtype=np.float64)[item],
            size[query],
            _category_share(categories, baskets, query, item),
        ]
        names += ["log_orders", "log_share", "price", "cart_size", "cart_category_share"]
        self.feature_names_ = names
        features = np.column_stack(columns).astype(np.float32)
        return query.astype(np.int64) + offset, item.astype(np.int64), features

    # ------------------------------------------------------------------ score

    def candidate_features(
        self, baskets: sp.csr_matrix, users: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidates of each query and their feature rows: (query, item, features).

        ``features[:, j]`` is the feature named ``feature_names_[j]``; these rows are
        what the ranker scores.
        """
        self.require_fitted()
        return self._pairs(self.components_, baskets, users, baskets.shape[1])

    def _predict(
        self, baskets: sp.csr_matrix, users: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query, item, features = self.candidate_features(baskets, users)
        if baskets.shape[0] == 1:
            from xsell.models.reranker_words import remember

            remember(self, baskets, users, item, features)
        if len(query) == 0:
            return query, item, np.zeros(0)
        return query, item, np.asarray(self.ranker_.predict(features), dtype=np.float64)

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        query, item, predicted = self._predict(baskets, users)
        indptr = np.zeros(baskets.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(query, minlength=baskets.shape[0]), out=indptr[1:])
        # Built from its own arrays, so a predicted 0.0 stays an entry (absent means -inf).
        return sp.csr_matrix((predicted, item, indptr), shape=baskets.shape)

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        """The reason of the component ranking each item highest (evidence before best sellers)."""
        self.require_fitted()
        if not len(items):
            return []
        rows = basket_rows([list(context)], self.n_items)
        user_arg = np.array([user]) if user >= 0 else None
        wanted = np.asarray(items, dtype=np.int64)
        ranks = []
        for component in self.components_:
            scores = as_dense(component.score(rows, user_arg))[0]
            scores[list(context)] = -np.inf
            mine = scores[wanted]
            rank = (scores[None, :] > mine[:, None]).sum(axis=1).astype(np.float64)
            # A best seller's rank says nothing about this cart: it explains only as a last resort.
            penalty = self.n_items if component.name in ("popularity", "personal") else 0
            ranks.append(np.where(np.isfinite(mine), rank + penalty, np.inf))
        chosen = np.argmin(np.stack(ranks), axis=0)
        out = [""] * len(wanted)
        for c in np.unique(chosen):
            where = np.flatnonzero(chosen == c)
            component = self.components_[int(c)]
            why = component.reasons(list(context), user, [int(wanted[j]) for j in where])
            for j, text in zip(where, why, strict=True):
                out[int(j)] = text
        return out

    def explain(
        self, context: Sequence[int], user: int, items: Sequence[int]
    ) -> list[Explanation | None]:
        """SHAP values of the ranker's features, worded (:mod:`xsell.models.reranker_words`)."""
        from xsell.models.reranker_words import explain

        known = self.n_items_known_ or self.n_items
        return explain(self, [int(i) for i in context if i < known], user, items)


def _is_in(truth: sp.csr_matrix, query: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Whether ``item[j]`` is in row ``query[j]`` of ``truth``."""
    truth = sp.csr_matrix(truth)
    truth.sort_indices()
    keys = truth.indices.astype(np.int64) + np.repeat(
        np.arange(truth.shape[0], dtype=np.int64) * truth.shape[1], np.diff(truth.indptr)
    )
    wanted = query.astype(np.int64) * truth.shape[1] + item
    found = np.searchsorted(keys, wanted)
    return (found < len(keys)) & (keys[np.minimum(found, len(keys) - 1)] == wanted)


def _group_sizes(query: np.ndarray) -> np.ndarray:
    """Rows per query for LightGBM (rows are sorted by query)."""
    _, counts = np.unique(query, return_counts=True)
    return counts


def _category_codes(categories: np.ndarray) -> tuple[np.ndarray, sp.csr_matrix] | None:
    """Each item's category code (-1: none) and the items x categories one-hot matrix."""
    named = {c: i for i, c in enumerate(dict.fromkeys(c for c in categories if c is not None))}
    if not named:
        return None
    codes = np.array([named.get(c, -1) if c is not None else -1 for c in categories], np.int64)
    known = codes >= 0
    onehot = sp.csr_matrix(
        (np.ones(int(known.sum())), (np.flatnonzero(known), codes[known])),
        shape=(len(categories), len(named)),
    )
    return codes, onehot


def _category_share(
    categories: tuple[np.ndarray, sp.csr_matrix] | None,
    baskets: sp.csr_matrix,
    query: np.ndarray,
    item: np.ndarray,
) -> np.ndarray:
    """Share of the cart's items in the candidate's category (NaN when it has none)."""
    if categories is None:
        return np.full(len(query), np.nan)
    codes, onehot = categories
    per_cart = (sp.csr_matrix(baskets, dtype=np.float64) @ onehot).toarray()
    size = np.maximum(np.diff(baskets.indptr), 1).astype(np.float64)
    cand = codes[item]
    share = per_cart[query, np.maximum(cand, 0)] / size[query]
    return np.where(cand >= 0, share, np.nan)
