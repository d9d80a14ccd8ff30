"""Fit models on the training side of a split, ask the protocol's queries, score the answers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.holdout import Queries
from xsell.data.shopdata import ShopData
from xsell.data.splits import Split
from xsell.errors import ValidationError
from xsell.evaluation import metrics as M
from xsell.evaluation.leaderboard import Leaderboard
from xsell.evaluation.protocols import make_queries
from xsell.models import (
    MAX_K,
    Batch,
    BusinessRules,
    Recommender,
    check_mode,
    make_model,
    model_parameters,
    rank,
    top_items,
)
from xsell.progress import Reporter, SilentReporter, progress_bar

DEFAULT_KS = (5, 10, 20)


@dataclass
class ModelRun:
    """One model's result on one query batch."""

    model: str
    params: dict[str, Any]
    fit_seconds: float
    recommend_seconds: float
    n_queries: int
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def queries_per_second(self) -> float:
        return self.n_queries / self.recommend_seconds if self.recommend_seconds > 0 else 0.0

    def as_row(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "fit_s": round(self.fit_seconds, 3),
            "recommend_s": round(self.recommend_seconds, 3),
            "queries_per_s": round(self.queries_per_second, 1),
            "n_queries": self.n_queries,
            **self.metrics,
        }


def check_ks(ks: Sequence[int]) -> list[int]:
    """Sorted distinct cut-offs, each from 1 to MAX_K."""
    values = sorted({int(k) for k in ks})
    if not values or values[0] < 1 or values[-1] > MAX_K:
        raise ValidationError(f"k values must be integers from 1 to {MAX_K}, got {list(ks)}")
    return values


def recommend_queries(
    model: Recommender,
    queries: Queries,
    k: int,
    reporter: Reporter | None = None,
    mode: str = "mixed",
    rules: BusinessRules | None = None,
    previous: sp.csr_matrix | None = None,
) -> np.ndarray:
    """The model's top-``k`` per query (``n x k``, ``-1`` padded), ranked in bounded chunks.

    ``mode="explore"`` leaves out what each customer bought before, ``"repeat"``
    keeps only that; what they bought is ``previous`` (queries x items), by
    default the protocol's ``previous`` purchases. A model with a learned slot
    split (``slots_``) composes its mixed lists from both. ``rules`` (none by
    default) rank under business rules or an objective such as margin.
    """
    reporter = reporter or SilentReporter()
    contexts = queries.contexts
    previous = previous if previous is not None else queries.previous
    bought = None
    if previous is not None:
        previous = sp.csr_matrix(previous)
        bought = [
            previous.indices[previous.indptr[r] : previous.indptr[r + 1]]
            for r in range(len(queries))
        ]
    batch = Batch(
        contexts,
        queries.users if bool((queries.users >= 0).any()) else None,
        bought=bought,
    )

    def progress(rows: int) -> None:
        reporter.step(f"{model.name}: queries", rows)

    ranked = rank(
        model,
        batch,
        k,
        rules,
        mode=mode,
        exclude_cart=queries.exclude_context,
        progress=progress,
    )
    return top_items(ranked, k)


def bought_before(queries: Queries, train: ShopData) -> sp.csr_matrix | None:
    """What each query's customer bought in training (queries x items), ``None`` if no one known.

    The protocol's own ``previous`` when it has one (next basket), else the
    training history of each known customer (anonymous rows: nothing).
    """
    if queries.previous is not None:
        return queries.previous
    users = np.asarray(queries.users, dtype=np.int64)
    known = (users >= 0) & (users < train.n_users)
    if not known.any():
        return None
    history = sp.csr_matrix(train.user_item[np.maximum(users, 0)], dtype=np.float32)
    history = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ history)
    history.eliminate_zeros()
    history.data[:] = 1.0
    history.sort_indices()
    return history


def category_codes(data: ShopData) -> np.ndarray:
    """Integer category code per item, -1 where unknown."""
    categories = pd.Series(data.item_categories(), dtype=object)
    codes, _ = pd.factorize(categories, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def score_recommendations(
    recs: np.ndarray, queries: Queries, train: ShopData, ks: Sequence[int]
) -> dict[str, float]:
    """Every metric of :mod:`xsell.evaluation.metrics` at each ``k`` for one model's answers.

    ``margin@k`` (margin of the hits) comes when the catalog gives costs or margins.
    Queries with known customers also get ``recall_repeat@k`` (items bought
    before) and ``recall_new@k`` (items never bought by that customer: the
    cross-sell), each averaged over the queries that have such items, and
    ``share_new_items``; what was bought before is :func:`bought_before`.
    """
    ks = check_ks(ks)
    hits = M.hit_matrix(recs, queries.truth)
    n_rel = queries.n_relevant
    counts = train.item_basket_count
    categories = category_codes(train)
    prices = train.item_prices()
    margins = train.item_margins()
    has_margins = bool(np.isfinite(margins).any())
    out: dict[str, float] = {}
    for k in ks:
        out[f"precision@{k}"] = M.summarize(M.precision_at_k(hits, k))
        out[f"recall@{k}"] = M.summarize(M.recall_at_k(hits, n_rel, k))
        out[f"f1@{k}"] = M.summarize(M.f1_at_k(hits, n_rel, k))
        out[f"hit_rate@{k}"] = M.summarize(M.hit_rate_at_k(hits, k))
        out[f"ndcg@{k}"] = M.summarize(M.ndcg_at_k(hits, n_rel, k))
        out[f"map@{k}"] = M.summarize(M.average_precision_at_k(hits, n_rel, k))
        out[f"mrr@{k}"] = M.summarize(M.reciprocal_rank_at_k(hits, k))
        out[f"coverage@{k}"] = M.catalog_coverage(recs, train.n_items, k)
        out[f"novelty@{k}"] = M.summarize(M.novelty_at_k(recs, counts, train.n_baskets, k))
        out[f"diversity@{k}"] = M.summarize(M.category_diversity_at_k(recs, categories, k))
        out[f"popularity@{k}"] = M.summarize(
            M.popularity_bias_at_k(recs, counts, train.n_baskets, k)
        )
        out[f"revenue@{k}"] = M.summarize(M.hit_revenue_at_k(hits, recs, prices, k))
        if has_margins:
            out[f"margin@{k}"] = M.summarize(M.hit_margin_at_k(hits, recs, margins, k))
        out[f"attach_rate@{k}"] = M.attach_rate_at_k(hits, queries.groups, k)
    previous = bought_before(queries, train)
    if previous is not None:
        repeat = sp.csr_matrix(queries.truth.multiply(previous))
        repeat.eliminate_zeros()
        new = sp.csr_matrix(queries.truth - repeat)
        new.eliminate_zeros()
        for label, part in (("repeat", repeat), ("new", new)):
            part_hits = M.hit_matrix(recs, part)
            part_rel = np.diff(part.indptr)
            asked = part_rel > 0
            for k in ks:
                out[f"recall_{label}@{k}"] = M.summarize(
                    M.recall_at_k(part_hits[asked], part_rel[asked], k)
                )
        out["share_new_items"] = float(new.nnz / max(queries.truth.nnz, 1))
    return out


def _as_model(
    spec: str | Recommender, params: dict[str, Any] | None, protocol: str = "", mode: str = ""
) -> Recommender:
    if isinstance(spec, Recommender):
        return spec
    params = dict(params or {})
    # A model that learns the task it is asked (the re-ranker) learns this protocol's,
    # and in the explore mode the explore task.
    known = model_parameters(spec)
    if protocol == "next-basket" and "task" in known:
        params.setdefault("task", "next-basket-new" if mode == "explore" else protocol)
    # Models that can learn the explore task (the deep ones) learn it in the explore mode.
    if mode == "explore" and "target" in known:
        params.setdefault("target", "new")
    # The board's own progress bar is on screen; a model's epochs stay quiet under it.
    if "quiet" in known:
        params.setdefault("quiet", True)
    return make_model(spec, **params)


def evaluate_model(
    model: Recommender,
    split: Split,
    queries: Queries,
    ks: Sequence[int] = DEFAULT_KS,
    label: str | None = None,
    reporter: Reporter | None = None,
    mode: str = "mixed",
    slots: bool = False,
) -> ModelRun:
    """Fit ``model`` on ``split.train`` (timed), answer ``queries`` (timed), compute the metrics.

    ``mode`` ranks as :func:`recommend_queries` does; ``slots`` also learns the
    model's slot split for mixed lists on the training side (timed with the fit).
    """
    ks = check_ks(ks)
    check_mode(mode)
    started = time.perf_counter()
    model.fit(split.train)
    if slots:
        model.learn_slots(split.train, k=10 if 10 in ks else max(ks))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    previous = bought_before(queries, split.train)
    recs = recommend_queries(model, queries, max(ks), reporter, mode=mode, previous=previous)
    recommend_seconds = time.perf_counter() - started
    return ModelRun(
        model=label or model.name,
        params=model.params(),
        fit_seconds=fit_seconds,
        recommend_seconds=recommend_seconds,
        n_queries=len(queries),
        metrics=score_recommendations(recs, queries, split.train, ks),
    )


def evaluate(
    models: Sequence[str | Recommender],
    split: Split,
    protocol: str,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    split_name: str = "",
    dataset: str = "",
    params: dict[str, dict[str, Any]] | None = None,
    max_queries: int | None = 10_000,
    hide: str = "one",
    seed: int = 0,
    quiet: bool = True,
    mode: str = "mixed",
    slots: bool = False,
) -> Leaderboard:
    """Evaluate several models on one split and protocol and rank them.

    Parameters
    ----------
    models:
        Registry names (``"popularity"``, ``"cooccurrence"``, ...) or model instances.
    split:
        The train/test split; models only ever see ``split.train``.
    protocol:
        ``basket-completion``, ``next-basket`` or ``item-to-item``.
    ks:
        Cut-offs for every @k metric.
    params:
        Hyper-parameters per registry name, e.g. ``{"cooccurrence": {"measure": "lift"}}``.
    max_queries:
        Seeded sample size of test queries (``None`` for all).
    hide:
        Basket completion only: hide ``one`` item or ``half`` of each basket.
    mode:
        ``mixed`` (lists as the model ranks them), ``explore`` (never what the
        customer bought: the cross-sell) or ``repeat``; every model, popularity
        included, is asked the same way.
    slots:
        Learn each model's slot split for mixed lists (see
        :meth:`~xsell.models.base.Recommender.learn_slots`) before answering.
    """
    ks = check_ks(ks)
    check_mode(mode)
    if not models:
        raise ValidationError("give at least one model to evaluate")
    instances = [
        _as_model(m, (params or {}).get(m) if isinstance(m, str) else None, protocol, mode)
        for m in models
    ]
    queries = make_queries(protocol, split, max_queries=max_queries, seed=seed, hide=hide)
    runs: list[ModelRun] = []
    with progress_bar("evaluating", total=len(queries) * len(instances), quiet=quiet) as bar:
        for model in instances:
            bar.step(f"{model.name}: fitting", 0)
            runs.append(
                evaluate_model(model, split, queries, ks, reporter=bar, mode=mode, slots=slots)
            )
    return Leaderboard.from_runs(
        [run.as_row() for run in runs],
        protocol=protocol,
        split=split_name,
        ks=ks,
        dataset=dataset,
        n_queries=len(queries),
        details={
            "train_baskets": split.train.n_baskets,
            "test_baskets": split.test.n_baskets,
            "seed": seed,
            "mode": mode,
            "slots": slots,
            **({"hide": hide} if protocol == "basket-completion" else {}),
        },
    )
