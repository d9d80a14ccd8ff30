"""The runner: models see only training data, metrics equal a direct count, modes and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.evaluation.doubles import SpyCooccurrence
from tests.shops import customers
from xsell.data.shopdata import ShopData
from xsell.data.splits import Split, last_basket_split, make_split, time_split
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError
from xsell.evaluation import evaluate, evaluate_model, make_queries, recommend_queries
from xsell.evaluation.runner import bought_before, check_ks, score_recommendations
from xsell.models import make_model


@pytest.fixture(scope="module")
def split(shop_data: ShopData) -> Split:
    return make_split(shop_data, "2025-10-01")


@pytest.fixture(scope="module")
def next_split() -> Split:
    """Each customer's last basket held out, on a small synthetic shop."""
    return last_basket_split(make_shop(n_users=300, n_items=120, seed=4).to_shopdata())


def test_models_only_ever_see_training_baskets_and_visible_items(split: Split) -> None:
    spy = SpyCooccurrence()
    queries = make_queries("basket-completion", split, max_queries=500, seed=0)
    evaluate([spy, "popularity"], split, "basket-completion", max_queries=500)
    test_ids = set(split.test.baskets.ids.tolist())
    assert spy.seen_baskets and not test_ids & set(spy.seen_baskets)
    hidden = set(queries.truth.indices.tolist())
    visible = set(queries.contexts.indices.tolist())
    # The spy saw the visible items; a hidden item reaches it only if visible in another query.
    assert spy.seen_items <= visible
    assert hidden - visible, "the fixture should have hidden items never shown"
    assert not (hidden - visible) & spy.seen_items


def test_metrics_in_the_board_equal_a_direct_count(split: Split) -> None:
    board = evaluate(["popularity"], split, "basket-completion", ks=[10], max_queries=300)
    model = make_model("popularity").fit(split.train)
    queries = make_queries("basket-completion", split, max_queries=300, seed=0)
    recs = recommend_queries(model, queries, 10)
    assert recs.shape == (300, 10)
    found = sum(
        len(set(recs[r].tolist()) & set(queries.truth[r].indices.tolist()))
        for r in range(len(queries))
    )
    row = board.rows[0]
    assert row["recall@10"] == pytest.approx(found / len(queries))
    assert row["n_queries"] == 300 and row["params"] == {
        "half_life_days": None,
        "per_category": False,
    }
    # No query's list holds a context item (basket completion excludes the cart).
    for r in range(len(queries)):
        assert not set(recs[r].tolist()) & set(queries.contexts[r].indices.tolist())


def test_the_co_purchase_double_beats_popularity_on_planted_complements(split: Split) -> None:
    board = evaluate([SpyCooccurrence(), "popularity"], split, "item-to-item", max_queries=2000)
    assert [r["model"] for r in board.rows] == ["spy", "popularity"]
    assert board.rows[0]["recall@10"] > board.rows[1]["recall@10"]
    assert board.details["train_baskets"] == split.train.n_baskets
    assert "hide" not in board.details


def test_next_basket_reports_repeat_and_new_recall() -> None:
    data = customers()
    split = make_split(data, "last-basket")
    queries = make_queries("next-basket", split)
    # Hand-made answers. u1: last basket a,d,e, bought a,b,c before; [a, d] finds its
    # repeat item a (1/1) and new item d (1/2).
    order = {u: r for r, u in enumerate(data.users.to_external(queries.users))}
    recs = np.full((len(queries), 2), -1)
    recs[order["u1"]] = data.items.to_index(["a", "d"])
    recs[order["u2"]] = data.items.to_index(["f", "b"])  # last c,f; before b,c,d: new f found
    recs[order["u3"]] = data.items.to_index(["a", "b"])  # last g, never bought: miss
    m = score_recommendations(recs, queries, split.train, [2])
    assert m["recall@2"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # Repeat items: u1 {a}, u2 {c}; u3 has none.
    assert m["recall_repeat@2"] == pytest.approx((1 + 0) / 2)
    # New items: u1 {d, e}, u2 {f}, u3 {g}.
    assert m["recall_new@2"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert m["share_new_items"] == pytest.approx(4 / 6)


def test_explore_and_repeat_modes_use_the_customers_past() -> None:
    data = customers()
    split = make_split(data, "last-basket")
    queries = make_queries("next-basket", split)
    model = make_model("popularity").fit(split.train)
    assert queries.previous is not None
    explore = recommend_queries(model, queries, 7, mode="explore")
    repeat = recommend_queries(model, queries, 7, mode="repeat")
    for r in range(len(queries)):
        past = set(queries.previous[r].indices.tolist())
        new = {int(i) for i in explore[r] if i >= 0}
        old = {int(i) for i in repeat[r] if i >= 0}
        # Popularity scores every item: explore lists all the others, repeat all of the past.
        assert new == set(range(data.n_items)) - past and old == past


def test_evaluate_model_times_and_labels(split: Split) -> None:
    queries = make_queries("basket-completion", split, max_queries=100, seed=0)
    run = evaluate_model(make_model("popularity"), split, queries, ks=[5], label="best sellers")
    assert run.model == "best sellers" and run.n_queries == 100
    assert run.fit_seconds >= 0 and run.recommend_seconds > 0
    assert set(run.as_row()) >= {"model", "params", "fit_s", "recommend_s", "recall@5", "mrr@5"}


def test_bad_input_messages(split: Split) -> None:
    with pytest.raises(
        ValidationError, match=r"k values must be integers from 1 to 1000, got \[0\]"
    ):
        evaluate(["popularity"], split, "basket-completion", ks=[0])
    assert check_ks([20, 5, 5, 10]) == [5, 10, 20]
    with pytest.raises(ValidationError, match="give at least one model to evaluate"):
        evaluate([], split, "basket-completion")
    with pytest.raises(ValidationError, match="unknown model 'nope'; choose one of"):
        evaluate(["nope"], split, "basket-completion")
    small = time_split(customers(), "2024-02-06")  # only the single-item basket b8 tests
    with pytest.raises(ValidationError, match=r"found no test queries .* at least two items"):
        evaluate(["popularity"], small, "basket-completion")


def test_a_reranker_named_for_next_basket_learns_next_baskets(shop_data: ShopData) -> None:
    split = make_split(shop_data, "last-basket")
    small = {"n_estimators": 20, "candidates": 10}
    board = evaluate(
        ["reranker"], split, "next-basket", params={"reranker": small}, max_queries=200
    )
    assert board.rows[0]["params"]["task"] == "next-basket"
    # Told otherwise, it keeps what it was told.
    told = {**small, "task": "basket-completion"}
    board = evaluate(["reranker"], split, "next-basket", params={"reranker": told}, max_queries=200)
    assert board.rows[0]["params"]["task"] == "basket-completion"


def _rows(matrix: sp.csr_matrix) -> list[set[int]]:
    return [
        set(matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]]) for r in range(matrix.shape[0])
    ]


def test_explore_lists_never_hold_what_the_customer_bought_and_repeat_lists_only_that(
    next_split: Split,
) -> None:
    queries = make_queries("next-basket", next_split, seed=0)
    past = _rows(queries.previous)
    for name in ("popularity", "personal", "neighbours"):
        model = make_model(name).fit(next_split.train)
        explore = recommend_queries(model, queries, 10, mode="explore")
        repeat = recommend_queries(model, queries, 10, mode="repeat")
        for r, bought in enumerate(past):
            assert not set(explore[r][explore[r] >= 0].tolist()) & bought
            assert set(repeat[r][repeat[r] >= 0].tolist()) <= bought
        metrics = score_recommendations(explore, queries, next_split.train, [10])
        assert metrics["recall_repeat@10"] == 0.0
        repeats = score_recommendations(repeat, queries, next_split.train, [10])
        assert repeats["recall_new@10"] == 0.0


def test_repeat_and_new_recall_by_hand_on_basket_completion() -> None:
    data = customers()
    split = time_split(data, "2024-02-01")
    queries = make_queries("basket-completion", split, seed=0)
    previous = bought_before(queries, split.train)
    assert previous is not None
    recs = np.full((len(queries), 3), -1)
    truth = _rows(queries.truth)
    hit = np.arange(len(queries)) % 2 == 0
    for r in np.flatnonzero(hit):
        recs[r, 0] = next(iter(truth[r]))  # every other list finds its hidden item first
    metrics = score_recommendations(recs, queries, split.train, [3])
    users = queries.users
    bought = _rows(previous)
    # An anonymous or new customer bought nothing before: their hidden item is new.
    repeat_queries = [r for r in range(len(queries)) if truth[r] & bought[r]]
    new_queries = [r for r in range(len(queries)) if truth[r] - bought[r]]
    for r in range(len(queries)):
        history = split.train.user_item[users[r]].indices if users[r] >= 0 else []
        assert bought[r] == set(np.asarray(history).tolist())
    assert repeat_queries and new_queries
    assert metrics["recall_repeat@3"] == pytest.approx(np.mean(hit[repeat_queries]))
    assert metrics["recall_new@3"] == pytest.approx(np.mean(hit[new_queries]))


def test_evaluate_runs_every_model_in_the_mode_asked(next_split: Split) -> None:
    board = evaluate(["popularity", "personal"], next_split, "next-basket", ks=[10], mode="explore")
    assert board.details["mode"] == "explore"
    for row in board.rows:
        assert row["recall_repeat@10"] == 0.0
        assert row["recall@10"] > 0 and row["recall_new@10"] > 0
    mixed = evaluate(["personal"], next_split, "next-basket", ks=[10])
    # The customer's own items lead personal's mixed list; explore finds more new ones.
    assert mixed.rows[0]["recall_repeat@10"] > 0
    explored = next(r for r in board.rows if r["model"] == "personal")
    assert explored["recall_new@10"] > mixed.rows[0]["recall_new@10"]
    with pytest.raises(
        ValidationError, match=r"mode must be one of \['mixed', 'explore', 'repeat'\]"
    ):
        evaluate(["popularity"], next_split, "next-basket", mode="new")


def test_slots_are_learned_and_timed_with_the_fit(next_split: Split) -> None:
    plain = evaluate(["personal"], next_split, "next-basket", ks=[10])
    slotted = evaluate(["personal"], next_split, "next-basket", ks=[10], slots=True)
    assert slotted.details["slots"] is True
    # personal's own mixed list is nearly all repeats; learned slots let new items in.
    assert slotted.rows[0]["recall_new@10"] > plain.rows[0]["recall_new@10"]
