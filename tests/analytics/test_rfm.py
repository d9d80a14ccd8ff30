"""RFM scores and segments against a hand computation; KMeans against scikit-learn run directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import need_module
from xsell.analytics import Unavailable, rfm_segments
from xsell.analytics.rfm import quintile_scores
from xsell.data.shopdata import ShopData

# Five customers, last order day and number of orders chosen so each lands in a
# different quintile: A is recent and frequent, E long gone with one order.
#   customer  orders on days            recency (ref day 100)  frequency  monetary
#   A         60, 80, 90, 95, 100       0                      5          5 x 10 = 50
#   B         70, 80, 90, 92            8                      4          4 x 10 = 40
#   C         50, 70, 75                25                     3          30
#   D         20, 40                    60                     2          20
#   E         10                        90                     1          10
PLAN = {
    "A": [60, 80, 90, 95, 100],
    "B": [70, 80, 90, 92],
    "C": [50, 70, 75],
    "D": [20, 40],
    "E": [10],
}


def _shop(prices: bool = True, users: bool = True) -> ShopData:
    rows = []
    start = pd.Timestamp("2024-01-01")
    for user, days in PLAN.items():
        for day in days:
            rows.append(
                {
                    "basket_id": f"{user}{day}",
                    "user_id": user if users else None,
                    "item_id": "x",
                    "time": start + pd.Timedelta(days=day),
                    "quantity": 2.0,
                    "price": 5.0 if prices else None,
                }
            )
    return ShopData.from_frame(pd.DataFrame(rows))


def test_scores_and_segments_match_the_hand_computation() -> None:
    table = rfm_segments(_shop()).set_index("user_id").loc[list("ABCDE")]
    assert table["recency_days"].tolist() == [0, 8, 25, 60, 90]
    assert table["frequency"].tolist() == [5, 4, 3, 2, 1]
    assert table["monetary"].tolist() == [50.0, 40.0, 30.0, 20.0, 10.0]
    # One customer per quintile: scores 5..1 on every axis.
    assert table["r"].tolist() == [5, 4, 3, 2, 1]
    assert table["f"].tolist() == [5, 4, 3, 2, 1]
    assert table["m"].tolist() == [5, 4, 3, 2, 1]
    assert table["rfm"].tolist() == ["555", "444", "333", "222", "111"]
    # From the R x F grid: 55 champions, 44 loyal, 33 need attention, 22 and 11 hibernating.
    assert table["segment"].tolist() == [
        "champions",
        "loyal",
        "need attention",
        "hibernating",
        "hibernating",
    ]


def test_reference_time_shifts_recency() -> None:
    table = rfm_segments(_shop(), now="2024-04-20").set_index("user_id")
    # Day 100 is 2024-04-10, ten days before the reference.
    assert table.loc["A", "recency_days"] == 10


def test_quintile_ties_share_a_score() -> None:
    # 10 values: six ties at the bottom all score 1; the rest by their share below.
    scores = quintile_scores(np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]))
    assert scores.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert quintile_scores(np.arange(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_without_prices_segments_use_recency_and_frequency_only() -> None:
    table = rfm_segments(_shop(prices=False)).set_index("user_id")
    assert table["monetary"].isna().all()
    assert (table["m"] == 0).all()
    assert table.loc["A", "segment"] == "champions"


def test_without_customer_ids_says_so() -> None:
    with pytest.raises(Unavailable, match="RFM segments needs customer ids"):
        rfm_segments(_shop(users=False))


def test_kmeans_picks_the_best_silhouette_and_is_deterministic() -> None:
    need_module("sklearn")
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from xsell.analytics import kmeans_segments
    from xsell.analytics.clusters import customer_features
    from xsell.data.synthetic import make_shop

    data = make_shop(n_users=300, n_items=60, seed=3).to_shopdata()
    first = kmeans_segments(data, k_range=range(2, 6), seed=7)
    again = kmeans_segments(data, k_range=range(2, 6), seed=7)
    assert first["segment"].tolist() == again["segment"].tolist()
    scores = first.attrs["silhouette"]
    assert first.attrs["k"] == max(scores, key=lambda k: scores[k])
    # Oracle: scikit-learn run by hand on the same features gives the same partition.
    features = customer_features(data)
    matrix = np.log1p(features.clip(lower=0).to_numpy())
    matrix = (matrix - matrix.mean(axis=0)) / matrix.std(axis=0)
    k = first.attrs["k"]
    labels = KMeans(n_clusters=k, n_init=4, random_state=7).fit_predict(matrix)
    assert scores[k] == pytest.approx(
        silhouette_score(matrix, labels, sample_size=min(len(matrix), 3000), random_state=7)
    )
    assert pd.crosstab(labels, first["cluster"].to_numpy()).gt(0).sum().eq(1).all()
    assert first["cluster"].nunique() == k
