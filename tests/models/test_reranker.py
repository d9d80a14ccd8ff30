"""The learned re-ranker: candidates and features by brute force, its errors, repeat purchases,
the explore task, deep components, and on real orders a ranking better than any of its
components alone."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.deep.helpers import FAST, planted_data
from tests.shops import build, dated
from xsell.data.shopdata import ShopData
from xsell.data.splits import last_basket_split, make_split
from xsell.data.synthetic import SyntheticShop
from xsell.errors import MissingExtraError, ValidationError
from xsell.evaluation import evaluate, evaluate_model, make_queries
from xsell.models import as_dense, basket_rows, make_model
from xsell.models.ensemble import component_spec
from xsell.models.reranker import LearnedReranker

SMALL = {"n_estimators": 40, "max_queries": 1500, "candidates": 10}
EXPLORE_SMALL = {"n_estimators": 40, "max_queries": 2000}


def test_too_few_held_out_queries_is_a_clear_error() -> None:
    data = dated([["a", "b"]], [0], ["u1"])
    with pytest.raises(
        ValidationError, match=r"reranker: only 0 held-out queries to learn from \(basket-"
    ):
        make_model("reranker").fit(data)


def test_components_cannot_be_ensembles() -> None:
    with pytest.raises(
        ValidationError, match="reranker: a reranker's components cannot be hybrids or rerankers"
    ):
        make_model("reranker", models=("itemknn", "hybrid"))


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
    contexts = [shop_data.basket_items(b).tolist() for b in range(30)]
    rows = basket_rows(contexts, shop_data.n_items)
    users = shop_data.basket_user[:30].astype(np.int64)
    query, item, features = reranker.candidate_features(rows, users)
    names = reranker.feature_names_
    assert features.shape == (len(query), len(names))
    n_top = reranker.candidates
    for q, context in enumerate(contexts):
        mine = item[query == q]
        assert len(set(mine.tolist())) == len(mine)
        assert not set(mine.tolist()) & set(context)
        must: set[int] = set()
        may: set[int] = set()
        for j, component in enumerate(reranker.components_):
            scores = as_dense(component.score(rows[q], users[q : q + 1])).astype(np.float32)[0]
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
        assert (features[query == q, names.index("cart_size")] == len(context)).all()
        popularity = shop_data.item_basket_count[mine]
        np.testing.assert_allclose(
            features[query == q, names.index("log_orders")], np.log1p(popularity), rtol=1e-6
        )


def test_category_share_by_hand(reranker: LearnedReranker, shop_data: ShopData) -> None:
    categories = shop_data.item_categories()
    context = [0, 1, 2]
    _, item, features = reranker.candidate_features(basket_rows([context], shop_data.n_items))
    share = features[:, reranker.feature_names_.index("cart_category_share")]
    assert len(item) > 0
    for i, value in zip(item, share, strict=True):
        want = sum(categories[c] == categories[i] for c in context) / len(context)
        assert value == pytest.approx(want)


def test_scores_are_the_rankers_predictions_of_the_candidates(
    reranker: LearnedReranker, shop_data: ShopData
) -> None:
    rows = basket_rows([shop_data.basket_items(b).tolist() for b in range(5)], shop_data.n_items)
    query, item, features = reranker.candidate_features(rows)
    scores = as_dense(reranker.score(rows))
    predicted = reranker.ranker_.predict(features)
    np.testing.assert_allclose(scores[query, item], predicted, rtol=1e-12)
    # Everything but the candidates has no evidence.
    assert np.isfinite(scores).sum() == len(query)


def test_reasons_name_the_co_purchase(reranker: LearnedReranker, shop: SyntheticShop) -> None:
    pair = shop.planted_pairs[0]
    answer = reranker.complements(pair.anchor, k=5)
    assert (answer["source"] == "model").all()
    with_pair = answer[answer["item_id"] == pair.partner]
    assert len(with_pair) == 1
    # The evidence of a co-purchase component, not "popular in the shop".
    reason = with_pair["reason"].iloc[0]
    assert reason.startswith(("bought with '", "bought by the same")), reason


def test_training_records_what_it_saw(reranker: LearnedReranker) -> None:
    training = reranker.training_
    assert 10 <= training["queries"] <= SMALL["max_queries"]
    assert 0 < training["candidate_recall"] <= 1
    assert 1 <= training["trees"] <= SMALL["n_estimators"]


def test_next_basket_task_keeps_repeat_purchases(shop_data: ShopData) -> None:
    model = build("reranker", task="next-basket", **SMALL).fit(shop_data)
    user = int(np.argmax(np.diff(shop_data.user_item.indptr)))
    history = shop_data.user_item[user].indices
    scores = as_dense(
        model.score(basket_rows([history.tolist()], shop_data.n_items), np.array([user]))
    )[0]
    # Basket completion never proposes the cart's items; next basket does (repeats count).
    assert np.isfinite(scores[history]).any()
    answer = model.recommend([shop_data.users.ids[user]], k=10, exclude_seen=False)
    assert set(answer["item_id"]) & set(shop_data.items.to_external(history))


@pytest.mark.slow
def test_beats_each_of_its_components_on_online_retail(retail_data: ShopData) -> None:
    split = make_split(retail_data, "2011-10-01")
    queries = make_queries("basket-completion", split, max_queries=2000, seed=0)
    model = make_model("reranker", max_queries=3000, n_estimators=150)
    assert isinstance(model, LearnedReranker)
    ours = evaluate_model(model, split, queries, (10,)).metrics["recall@10"]
    alone = {
        f"{j}-{name}": evaluate_model(make_model(name, **params), split, queries, (10,)).metrics[
            "recall@10"
        ]
        for j, (name, params) in enumerate(map(component_spec, model.models))
    }
    assert ours > max(alone.values()) * 1.05, (ours, alone)


def test_explore_task_learns_and_proposes_only_items_the_customer_never_bought() -> None:
    need_module("lightgbm")
    data = planted_data()
    split = last_basket_split(data)
    model = make_model("reranker", task="next-basket-new", **EXPLORE_SMALL).fit(split.train)
    queries = make_queries("next-basket", split, seed=0)
    query, item, _ = model.candidate_features(queries.contexts[:200], queries.users[:200])
    history = sp.csr_matrix(queries.contexts[:200])
    owned = {(r, int(i)) for r in range(200) for i in history[r].indices}
    assert (
        len(query) > 0 and not {(int(q), int(i)) for q, i in zip(query, item, strict=True)} & owned
    )
    # Trained on new items only, it finds them better than when it learned repeats as well.
    small = {"reranker": EXPLORE_SMALL}
    explore = evaluate(["reranker"], split, "next-basket", ks=[10], mode="explore", params=small)
    both = {"reranker": {**EXPLORE_SMALL, "task": "next-basket"}}
    mixed_task = evaluate(["reranker"], split, "next-basket", ks=[10], mode="explore", params=both)
    assert explore.rows[0]["params"]["task"] == "next-basket-new"
    assert explore.rows[0]["recall_new@10"] > mixed_task.rows[0]["recall_new@10"]


def test_deep_scores_become_re_ranker_features() -> None:
    need_module("lightgbm")
    need_module("torch")
    data = planted_data()
    neural = ("neural", {**FAST["neural"], "epochs": 2})
    model = make_model(
        "reranker",
        models=(neural, "cooccurrence", "popularity"),
        task="next-basket",
        **EXPLORE_SMALL,
    ).fit(data)
    assert {"0_neural_relative", "0_neural_rank"} <= set(model.feature_names_)
    gains = dict(
        zip(model.ranker_.feature_name(), model.ranker_.feature_importance("gain"), strict=True)
    )
    assert gains["0_neural_relative"] + gains["0_neural_rank"] > 0
    customer = str(data.users.ids[0])
    assert len(model.recommend([customer], k=5)) == 5
    assert np.isfinite(model.recommend([customer], k=5)["score"]).all()
