"""The runner scores real answers; the leaderboard round-trips through files and the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import colored_pixels, need_module, need_program
from tests.evaluation.helpers import SpyCooccurrence, tiny_shop
from xsell.data.split import time_split
from xsell.data.store import Store
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError
from xsell.evaluation import (
    Leaderboard,
    evaluate,
    latest_leaderboard,
    make_queries,
    make_split,
    recommend_queries,
)
from xsell.evaluation.runner import chunk_rows, score_recommendations
from xsell.models import make_model


@pytest.fixture(scope="module")
def shop():
    data = make_shop(n_users=400, seed=7).to_shopdata()
    return data, make_split(data, "2025-10-01")


def test_models_only_ever_see_training_baskets_and_visible_items(shop) -> None:
    _, split = shop
    spy = SpyCooccurrence()
    queries = make_queries("basket-completion", split, max_queries=500, seed=0)
    evaluate([spy, "popularity"], split, "basket-completion", max_queries=500)
    test_ids = set(split.test.baskets.ids.tolist())
    assert spy.seen_baskets and not test_ids & set(spy.seen_baskets)
    hidden = set(queries.truth.indices.tolist())
    visible = set(queries.contexts.indices.tolist())
    # The spy saw the visible items; a hidden item reaches it only if visible in another query.
    assert spy.seen_items <= visible
    assert hidden - visible, "fixture should have hidden items never shown"
    assert not (hidden - visible) & spy.seen_items


def test_metrics_in_the_board_equal_a_direct_count(shop) -> None:
    _, split = shop
    board = evaluate(["popularity"], split, "basket-completion", ks=[10], max_queries=300)
    model = make_model("popularity").fit(split.train)
    queries = make_queries("basket-completion", split, max_queries=300, seed=0)
    recs = recommend_queries(model, queries, 10)
    found = sum(
        len(set(recs[r].tolist()) & set(queries.truth[r].indices.tolist()))
        for r in range(len(queries))
    )
    assert board.rows[0]["recall@10"] == pytest.approx(found / len(queries))
    assert board.rows[0]["n_queries"] == 300


def test_co_purchase_double_beats_popularity_on_planted_complements(shop) -> None:
    _, split = shop
    board = evaluate([SpyCooccurrence(), "popularity"], split, "item-to-item", max_queries=2000)
    assert [r["model"] for r in board.rows] == ["spy", "popularity"]
    assert board.rows[0]["recall@10"] > board.rows[1]["recall@10"]


def test_next_basket_reports_repeat_and_new_recall() -> None:
    data = tiny_shop()
    split = make_split(data, "last-basket")
    queries = make_queries("next-basket", split)
    # Hand-made answers. u1: last basket a,d,e, bought a,b,c before; [a, d] finds
    # its repeat item a (1/1) and new item d (1/2).
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


def test_chunked_scoring_equals_one_batch(shop, monkeypatch) -> None:
    _, split = shop
    model = SpyCooccurrence().fit(split.train)
    queries = make_queries("basket-completion", split, max_queries=250, seed=1)
    whole = recommend_queries(model, queries, 10)
    monkeypatch.setattr("xsell.evaluation.runner.CHUNK_CELLS", 7 * split.train.n_items)
    assert chunk_rows(split.train.n_items, 7 * split.train.n_items) == 7
    assert (recommend_queries(model, queries, 10) == whole).all()


def test_leaderboard_files_and_store(tmp_path: Path, shop) -> None:
    _, split = shop
    board = evaluate(
        ["popularity", SpyCooccurrence()],
        split,
        "basket-completion",
        ks=[5, 10],
        max_queries=200,
        split_name="2025-10-01",
        dataset="synthetic",
    )
    written = board.write(tmp_path / "out", png=False)
    payload = json.loads((tmp_path / "out/leaderboard.json").read_text())
    assert payload["rows"][0]["model"] == board.rows[0]["model"]
    markdown = (tmp_path / "out/leaderboard.md").read_text()
    assert "| recall@5 | recall@10 |" in markdown.replace("| # | model ", "")
    assert "plotly" in (tmp_path / "out/leaderboard.html").read_text()[:200_000].lower()
    assert written["png"] is None

    store = Store(tmp_path / "shop.duckdb")
    assert not store.exists()
    board.save_to_store(store)
    other = evaluate(["popularity"], split, "item-to-item", max_queries=50)
    other.created_at = "2999-01-01T00:00:00"  # strictly later than the first
    other.save_to_store(store)
    assert latest_leaderboard(store).run_id == other.run_id
    again = latest_leaderboard(store, protocol="basket-completion")
    assert again == board
    assert latest_leaderboard(store, protocol="next-basket") is None


def test_bad_input_messages(shop) -> None:
    _, split = shop
    with pytest.raises(
        ValidationError, match=r"k values must be integers from 1 to 1000, got \[0\]"
    ):
        evaluate(["popularity"], split, "basket-completion", ks=[0])
    with pytest.raises(ValidationError, match="give at least one model"):
        evaluate([], split, "basket-completion")
    with pytest.raises(ValidationError, match="unknown model 'nope'; choose one of"):
        evaluate(["nope"], split, "basket-completion")
    small = time_split(tiny_shop(), "2024-02-06")  # only the single-item basket b8 tests
    with pytest.raises(ValidationError, match=r"found no test queries .* at least two items"):
        evaluate(["popularity"], small, "basket-completion")


def test_leaderboard_rank_by_middle_k_without_10() -> None:
    board = Leaderboard.from_runs(
        [{"model": "a", "recall@5": 0.1}, {"model": "b", "recall@5": 0.3}],
        protocol="p",
        split="s",
        ks=[1, 5, 20],
    )
    assert board.rank_by == "recall@5" and [r["model"] for r in board.rows] == ["b", "a"]


def test_a_reranker_named_for_next_basket_learns_next_baskets(shop) -> None:
    data, _ = shop
    split = make_split(data, "last-basket")
    board = evaluate(
        ["reranker"],
        split,
        "next-basket",
        params={"reranker": {"n_estimators": 20, "candidates": 10}},
        max_queries=200,
    )
    assert board.rows[0]["params"]["task"] == "next-basket"
    # Told otherwise, it keeps what it was told.
    board = evaluate(
        ["reranker"],
        split,
        "next-basket",
        params={"reranker": {"task": "basket-completion", "n_estimators": 20, "candidates": 10}},
        max_queries=200,
    )
    assert board.rows[0]["params"]["task"] == "basket-completion"


def test_leaderboard_png_is_a_real_chart(tmp_path: Path, shop) -> None:
    need_module("kaleido")
    need_program("chromium")  # kaleido draws with the system Chromium
    _, split = shop
    board = evaluate(["popularity", "cooccurrence"], split, "basket-completion", max_queries=100)
    written = board.write(tmp_path / "out")
    assert written["png"] == tmp_path / "out/leaderboard.png"
    data = (tmp_path / "out/leaderboard.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 400 and height >= 300
    # Bars in color, not an empty canvas (a blank Plotly figure has none).
    assert colored_pixels(data) > 2_000
    blank = board.figure()
    blank.data = ()
    assert colored_pixels(blank.to_image(format="png")) == 0
