"""The learned re-ranker: held-out splits by hand, candidates and features by brute force,
its errors, and on real orders a ranking better than any of its components alone."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import shared_file
from tests.models.conftest import build
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import MissingExtraError, ValidationError
from xsell.evaluation import evaluate_model, make_queries, make_split
from xsell.models import make_model
from xsell.models.base import basket_rows
from xsell.models.hybrid import latest_baskets_mask
from xsell.models.reranker import LearnedReranker, last_basket_mask

SMALL = {"n_estimators": 40, "max_queries": 1500, "candidates": 10}


def _orders(rows: list[tuple[str, str, str | None, str]]) -> ShopData:
    frame = pd.DataFrame(rows, columns=["basket_id", "item_id", "user_id", "time"])
    frame["time"] = pd.to_datetime(frame["time"])
    return ShopData.from_frame(frame)


def test_held_out_baskets_by_hand() -> None:
    data = _orders(
        [
            ("o1", "a", "u1", "2024-01-01"),
            ("o2", "b", "u1", "2024-01-02"),
            ("o3", "c", "u2", "2024-01-03"),
            ("o4", "a", "u1", "2024-01-04"),
            ("o5", "b", None, "2024-01-05"),
            ("o6", "c", "u2", "2024-01-05"),
        ]
    )
    order = list(data.baskets.ids)
    # The latest third: o5 and o6, both on 2024-01-05.
    latest = latest_baskets_mask(data, 1 / 3)
    assert sorted(np.asarray(order)[latest]) == ["o5", "o6"]
    # Half: o4..o6; a basket at the same instant as the cut goes with the held-out side.
    assert sorted(np.asarray(order)[latest_baskets_mask(data, 0.4)]) == ["o5", "o6"]
    # Each customer's last basket when they have two or more: u1 -> o4, u2 -> o6; guests never.
    assert sorted(np.asarray(order)[last_basket_mask(data)]) == ["o4", "o6"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"candidates": 0}, r"candidates must be a whole number >= 1, got 0"),
        ({"validation_share": 1.0}, r"validation_share must be between 0 and 1 .*got 1.0"),
        ({"task": "weekly"}, r"task must be one of \['basket-completion', 'next-basket'\]"),
        ({"models": ("hybrid",)}, r"components cannot be hybrids or rerankers"),
        ({"models": ()}, r"models must name at least one component"),
        ({"models": (("itemknn", "bm25"),)}, r"models must hold registry names, \(name, params\)"),
        ({"learning_rate": 0.0}, r"learning_rate must be positive, got 0.0"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], message: str) -> None:
    data = _orders([("o1", "a", "u1", "2024-01-01"), ("o1", "b", "u1", "2024-01-01")])
    with pytest.raises(ValidationError, match=message):
        make_model("reranker", **params).fit(data)


def test_too_few_held_out_queries_is_a_clear_error() -> None:
    data = _orders([("o1", "a", "u1", "2024-01-01"), ("o1", "b", "u1", "2024-01-01")])
    with pytest.raises(ValidationError, match=r"only 0 held-out queries to learn from"):
        make_model("reranker").fit(data)


def test_missing_lightgbm_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, shop_data: ShopData
) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'xsell\[models\]'"):
        make_model("reranker").fit(shop_data)


@pytest.fixture(scope="module")
def reranker(shop_data: ShopData) -> LearnedReranker:
    model = build("reranker", **SMALL).fit(shop_data)
    assert isinstance(model, LearnedReranker)
    return model


def test_candidates_and_features_equal_brute_force(
    reranker: LearnedReranker, shop_data: ShopData
) -> None:
    matrix = shop_data.basket_item
    contexts = [matrix.indices[matrix.indptr[b] : matrix.indptr[b + 1]].tolist() for b in range(30)]
    rows = basket_rows(contexts, shop_data.n_items)
    users = shop_data.basket_user[:30].astype(np.int64)
    query, item, features = reranker._pairs(reranker.components_, rows, users, shop_data.n_items)
    names = reranker.feature_names_
    n_top = reranker.candidates
    for q, context in enumerate(contexts):
        mine = item[query == q]
        assert len(set(mine.tolist())) == len(mine)
        assert not set(mine.tolist()) & set(context)
        must: set[int] = set()
        may: set[int] = set()
        for j, component in enumerate(reranker.components_):
            scores = component.score(rows[q], users[q : q + 1]).astype(np.float32)[0]
            scores[context] = -np.inf
            finite = np.flatnonzero(np.isfinite(scores))
            kth = np.sort(scores[finite])[::-1][min(n_top, len(finite)) - 1]
            # Items strictly above the n-th score must be proposed; ties at it may be.
            must |= set(finite[scores[finite] > kth].tolist())
            may |= set(finite[scores[finite] >= kth].tolist())
            low, high = scores[finite].min(), scores[finite].max()
            column = features[query == q, names.index(f"{j}_{component.name}_relative")]
            want = np.where(
                np.isfinite(scores[mine]), (scores[mine] - low) / max(high - low, 1e-30), np.nan
            )
            if high > low:
                np.testing.assert_allclose(column, want, rtol=1e-5, atol=1e-6)
            ranks = features[query == q, names.index(f"{j}_{component.name}_rank")]
            ranked = ~np.isnan(ranks)
            assert ranked.sum() <= n_top
            # A ranked candidate's score is the r-th best score of the row.
            best_first = np.sort(scores[finite])[::-1]
            np.testing.assert_array_equal(
                scores[mine[ranked]], best_first[ranks[ranked].astype(int) - 1]
            )
        assert must <= set(mine.tolist()) <= may
        size = features[query == q, names.index("cart_size")]
        assert (size == len(context)).all()


def test_category_share_by_hand(reranker: LearnedReranker, shop_data: ShopData) -> None:
    categories = shop_data.item_categories()
    context = [0, 1, 2]
    rows = basket_rows([context], shop_data.n_items)
    _, item, features = reranker._pairs(reranker.components_, rows, None, shop_data.n_items)
    share = features[:, reranker.feature_names_.index("cart_category_share")]
    for i, value in zip(item, share, strict=True):
        want = sum(categories[c] == categories[i] for c in context) / len(context)
        assert value == pytest.approx(want)


def test_reasons_name_the_co_purchase(reranker: LearnedReranker, shop: object) -> None:
    pair = shop.planted_pairs[0]  # type: ignore[attr-defined]
    answer = reranker.complements(pair.anchor, k=5)
    assert (answer["source"] == "model").all()
    assert answer["reason"].str.len().min() > 0
    with_pair = answer[answer["item_id"] == pair.partner]
    assert len(with_pair) == 1
    # The evidence of a co-purchase component, not "popular in the shop".
    reason = with_pair["reason"].iloc[0]
    assert reason.startswith(("bought with '", "bought by the same")), reason


def test_next_basket_task_keeps_repeat_purchases(shop_data: ShopData) -> None:
    model = build("reranker", task="next-basket", **SMALL).fit(shop_data)
    user = int(np.argmax(np.diff(shop_data.user_item.indptr)))
    history = shop_data.user_item.indices[
        shop_data.user_item.indptr[user] : shop_data.user_item.indptr[user + 1]
    ]
    scores = model.score(basket_rows([history.tolist()], shop_data.n_items), np.array([user]))[0]
    # Basket completion never proposes the cart's items; next basket does (repeats count).
    assert np.isfinite(scores[history]).any()
    answer = model.recommend([shop_data.users.ids[user]], k=10, exclude_seen=False)
    assert set(answer["item_id"]) & set(shop_data.items.to_external(history))


@pytest.mark.slow
def test_beats_each_of_its_components_on_online_retail(tmp_path: Path) -> None:
    store = Store(tmp_path / "retail.duckdb")
    ingest_lines(store, shared_file("online_retail/online_retail.csv"), preset="online-retail")
    data = ShopData.from_store(store)
    split = make_split(data, "2011-10-01")
    queries = make_queries("basket-completion", split, max_queries=2000, seed=0)
    model = make_model("reranker", max_queries=3000, n_estimators=150)
    ours = evaluate_model(model, split, queries, (10,)).metrics["recall@10"]
    assert isinstance(model, LearnedReranker)
    alone = {
        component.name + str(j): evaluate_model(model._component(j), split, queries, (10,)).metrics[
            "recall@10"
        ]
        for j, component in enumerate(model.components_)
    }
    assert ours > max(alone.values()) * 1.05, (ours, alone)
