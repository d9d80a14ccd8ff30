"""Evaluation in the explore and repeat modes, and repeat / new recall on every protocol."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tests.evaluation.helpers import tiny_shop
from xsell.data.splits import last_basket_split, time_split
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError
from xsell.evaluation import evaluate, make_queries
from xsell.evaluation.runner import bought_before, recommend_queries, score_recommendations
from xsell.models import make_model


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    return last_basket_split(make_shop(n_users=300, n_items=120, seed=4).to_shopdata())


def _rows(matrix: sp.csr_matrix) -> list[set[int]]:
    return [
        set(matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]]) for r in range(matrix.shape[0])
    ]


def test_explore_lists_never_hold_what_the_customer_bought_and_repeat_lists_only_that(
    split,
) -> None:  # type: ignore[no-untyped-def]
    queries = make_queries("next-basket", split, seed=0)
    past = _rows(queries.previous)
    for name in ("popularity", "personal", "neighbours"):
        model = make_model(name).fit(split.train)
        explore = recommend_queries(model, queries, 10, mode="explore")
        repeat = recommend_queries(model, queries, 10, mode="repeat")
        for r, bought in enumerate(past):
            assert not set(explore[r][explore[r] >= 0].tolist()) & bought
            assert set(repeat[r][repeat[r] >= 0].tolist()) <= bought
        metrics = score_recommendations(explore, queries, split.train, [10])
        assert metrics["recall_repeat@10"] == 0.0
        assert score_recommendations(repeat, queries, split.train, [10])["recall_new@10"] == 0.0


def test_repeat_and_new_recall_by_hand_on_basket_completion() -> None:
    data = tiny_shop()
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


def test_evaluate_runs_every_model_in_the_mode_asked(split) -> None:  # type: ignore[no-untyped-def]
    board = evaluate(["popularity", "personal"], split, "next-basket", ks=[10], mode="explore")
    assert board.details["mode"] == "explore"
    for row in board.rows:
        assert row["recall_repeat@10"] == 0.0
        assert row["recall@10"] > 0 and row["recall_new@10"] > 0
    mixed = evaluate(["personal"], split, "next-basket", ks=[10])
    # The customer's own items lead personal's mixed list; explore finds more new ones.
    assert mixed.rows[0]["recall_repeat@10"] > 0
    explored = next(r for r in board.rows if r["model"] == "personal")
    assert explored["recall_new@10"] > mixed.rows[0]["recall_new@10"]
    with pytest.raises(
        ValidationError, match=r"mode must be one of \['mixed', 'explore', 'repeat'\]"
    ):
        evaluate(["popularity"], split, "next-basket", mode="new")


def test_slots_are_learned_and_timed_with_the_fit(split) -> None:  # type: ignore[no-untyped-def]
    plain = evaluate(["personal"], split, "next-basket", ks=[10])
    slotted = evaluate(["personal"], split, "next-basket", ks=[10], slots=True)
    assert slotted.details["slots"] is True
    # personal's own mixed list is nearly all repeats; learned slots let new items in.
    assert slotted.rows[0]["recall_new@10"] > plain.rows[0]["recall_new@10"]
