"""The TIFU-style neighbours model against a brute-force TIFU-KNN written from the paper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.data.splits import last_basket_split
from xsell.data.synthetic import make_shop
from xsell.errors import ValidationError
from xsell.evaluation import make_queries
from xsell.evaluation.runner import recommend_queries, score_recommendations
from xsell.models import load_model, make_model
from xsell.models.neighbours import Neighbours

ITEMS = list("abcdefgh")


def _shop(seed: int = 0, n_users: int = 12) -> ShopData:
    """Random small baskets of a few customers on distinct days (one anonymous basket)."""
    rng = np.random.default_rng(seed)
    rows = []
    basket = 0
    for user in range(n_users):
        for day in sorted(rng.choice(60, size=int(rng.integers(1, 10)), replace=False)):
            basket += 1
            for item in rng.choice(ITEMS, size=int(rng.integers(1, 4)), replace=False):
                rows.append(
                    (
                        f"b{basket}",
                        f"u{user:02d}",
                        item,
                        pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(day), hours=user),
                    )
                )
    rows.append(("guest", None, "a", pd.Timestamp("2025-01-05")))
    frame = pd.DataFrame(rows, columns=["basket_id", "user_id", "item_id", "time"])
    return ShopData.from_frame(frame)


def _tifu_vectors(
    data: ShopData, m: int, rb: float, rg: float, half_life: float | None
) -> np.ndarray:
    """TIFU-KNN customer vectors by the paper's formulas, one customer at a time."""
    out = np.zeros((data.n_users, data.n_items))
    newest = data.basket_time.max()
    for user in range(data.n_users):
        mine = [b for b in range(data.n_baskets) if data.basket_user[b] == user]
        mine.sort(key=lambda b: data.basket_time[b])
        if not mine:
            continue
        # Groups of m counted back from the newest basket; the oldest may be short.
        newest_first = mine[::-1]
        groups = [newest_first[i : i + m][::-1] for i in range(0, len(newest_first), m)][::-1]
        vector = np.zeros(data.n_items)
        for gi, group in enumerate(groups):
            gvec = np.zeros(data.n_items)
            for j, b in enumerate(group):
                row = np.zeros(data.n_items)
                row[data.basket_items(b)] = 1.0
                weight = rb ** (len(group) - 1 - j)
                if half_life:
                    age = (newest - data.basket_time[b]) / np.timedelta64(1, "D")
                    weight *= 0.5 ** (age / half_life)
                gvec += weight * row
            vector += rg ** (len(groups) - 1 - gi) * gvec / len(group)
        out[user] = vector / len(groups)
    return out


def _tifu_scores(
    vectors: np.ndarray, query: np.ndarray, k: int, alpha: float, me: int
) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    sims = vectors @ query / np.maximum(norms * np.linalg.norm(query), 1e-300)
    sims[norms == 0] = 0.0
    if me >= 0:
        sims[me] = 0.0
    candidates = [u for u in np.lexsort((np.arange(len(sims)), -sims)) if sims[u] > 0][:k]
    mean = vectors[candidates].mean(axis=0) if candidates else np.zeros(vectors.shape[1])
    return alpha * query + (1 - alpha) * mean


@pytest.mark.parametrize(
    ("params"),
    [
        {"neighbours": 3, "group_size": 2, "within_decay": 0.9, "group_decay": 0.7, "alpha": 0.7},
        {"neighbours": 5, "group_size": 3, "within_decay": 0.5, "group_decay": 0.8, "alpha": 0.3},
        {
            "neighbours": 2,
            "group_size": 1,
            "within_decay": 1.0,
            "group_decay": 0.6,
            "alpha": 0.0,
            "half_life_days": 20.0,
        },
    ],
)
def test_scores_equal_brute_force_tifu_knn(params: dict) -> None:
    data = _shop()
    model = Neighbours(**params).fit(data)
    vectors = _tifu_vectors(
        data,
        params["group_size"],
        params["within_decay"],
        params["group_decay"],
        params.get("half_life_days"),
    )
    users = np.arange(data.n_users)
    history = sp.csr_matrix(data.user_item)
    history.data[:] = 1.0
    got = model.score(history, users).toarray()
    for u in users:
        want = _tifu_scores(vectors, vectors[u], params["neighbours"], params["alpha"], int(u))
        np.testing.assert_allclose(got[u], want, rtol=1e-9, atol=1e-12)


def test_a_guest_cart_is_one_basket_and_a_known_cart_the_newest_group() -> None:
    data = _shop(seed=3)
    model = Neighbours(neighbours=4, group_size=2, alpha=0.6).fit(data)
    vectors = _tifu_vectors(data, 2, 0.9, 0.7, None)
    cart = np.zeros(data.n_items)
    cart[data.items.to_index(["a", "c"])] = 1.0
    guest = model.score(sp.csr_matrix(cart[None, :]), np.array([-1])).toarray()[0]
    np.testing.assert_allclose(guest, _tifu_scores(vectors, cart / 2, 4, 0.6, -1), atol=1e-12)
    # A known customer with a cart of items they never bought: the cart is their newest group.
    user = 0
    history = data.user_item[user].toarray()[0] > 0
    fresh = np.flatnonzero(~history)[:2]
    assert len(fresh) >= 1
    row = np.zeros(data.n_items)
    row[fresh] = 1.0
    groups = -(-int((data.basket_user == user).sum()) // 2)
    query = (0.7 * groups * vectors[user] + row / len(fresh)) / (groups + 1)
    got = model.score(sp.csr_matrix(row[None, :]), np.array([user])).toarray()[0]
    np.testing.assert_allclose(got, _tifu_scores(vectors, query, 4, 0.6, user), atol=1e-12)


def test_explore_lists_hold_what_neighbours_bought_and_the_customer_never_did() -> None:
    # u0 and u1 share a, b; u1 also buys c. u0's explore list starts with c, never a or b.
    frame = pd.DataFrame(
        {
            "basket_id": ["1", "2", "3", "4", "5", "6"],
            "user_id": ["u0", "u1", "u1", "u2", "u2", "u0"],
            "item_id": ["a", "a", "c", "d", "e", "b"],
            "time": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05", "2025-01-06"]
            ),
        }
    )
    frame = pd.concat([frame, frame.assign(basket_id=frame.basket_id + "x", item_id="b")])
    data = ShopData.from_frame(frame)
    model = Neighbours(neighbours=1).fit(data)
    answer = model.recommend(["u0"], k=3, exclude_seen=False, mode="explore")
    assert answer["item_id"].iloc[0] == "c"
    assert not {"a", "b"} & set(answer["item_id"])
    assert answer["source"].iloc[0] == "model"
    assert "bought by 1 of the 1 customers like you" in answer["reason"].iloc[0]
    repeat = model.recommend(["u0"], k=3, exclude_seen=False, mode="repeat")
    assert set(repeat["item_id"]) == {"a", "b"}
    assert repeat["reason"].str.startswith("repeat: you buy it regularly").all()


def test_parameters_are_checked_and_anonymous_data_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"neighbours: alpha must be a number in \[0, 1\], got 2"
    ):
        make_model("neighbours", alpha=2)
    with pytest.raises(ValidationError, match="neighbours: group_size must be a whole number >= 1"):
        make_model("neighbours", group_size=0)
    with pytest.raises(
        ValidationError, match=r"neighbours: within_decay must be a number in \(0, 1\], got 0"
    ):
        make_model("neighbours", within_decay=0)
    with pytest.raises(ValidationError, match="every basket is anonymous"):
        make_model("neighbours").fit(ShopData.from_baskets([["a", "b"], ["b", "c"]]))


def test_bundle_round_trip_gives_the_same_scores(tmp_path: Path) -> None:
    data = _shop(seed=5)
    model = Neighbours(neighbours=3, half_life_days=30.0).fit(data)
    loaded = load_model(model.save(tmp_path / "bundle"))
    history = sp.csr_matrix(data.user_item)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(
        model.score(history, users).toarray(), loaded.score(history, users).toarray()
    )


def test_on_the_synthetic_shop_it_finds_new_items_better_than_best_sellers() -> None:
    # Customers' tastes are drawn per category: their neighbours share them, best sellers do not.
    data = make_shop(n_users=800, n_items=200, baskets_per_user=8.0, seed=11).to_shopdata()
    split = last_basket_split(data)
    queries = make_queries("next-basket", split, seed=0)
    found = {}
    for name in ("neighbours", "popularity"):
        model = make_model(name).fit(split.train)
        recs = recommend_queries(model, queries, 10, mode="explore")
        found[name] = score_recommendations(recs, queries, split.train, [10])["recall_new@10"]
    assert found["neighbours"] > 1.1 * found["popularity"], found
