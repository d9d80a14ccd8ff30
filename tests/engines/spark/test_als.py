"""MLlib ALS on a lake: each customer's list is the top of their factors times the items'.

The oracle is a hand computation in NumPy from the factors the job wrote: every
score is a dot product, every list the ``k`` best items of that customer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.engines.spark.conftest import Ingested
from xsell.errors import ValidationError


def factors(path: Path, key: str) -> dict[int, np.ndarray]:
    frame = pd.read_parquet(path)
    pairs = zip(frame[key], frame["features"], strict=True)
    return {int(i): np.asarray(f, dtype=np.float64) for i, f in pairs}


def test_lists_are_the_best_dot_products_of_the_written_factors(
    spark: Any, ingested: Callable[[str], Ingested], tmp_path: Path
) -> None:
    from xsell.engines.spark.als import write_als
    from xsell.engines.spark.lake import read_lake

    lake = read_lake(spark, ingested("online-retail").lake)
    summary = write_als(lake, tmp_path / "als", 5, factors=8, iterations=4, seed=1)
    users = factors(tmp_path / "als" / "user_factors", "user")
    items = factors(tmp_path / "als" / "item_factors", "item")
    lists = pd.read_parquet(tmp_path / "als" / "recommendations")
    assert summary["customers"] == len(lake.users) == len(users) > 100
    item_index = {str(i): n for n, i in enumerate(lake.items.ids.ids)}
    matrix_ids = sorted(items)
    matrix = np.stack([items[i] for i in matrix_ids])
    for customer, rows in lists.groupby("customer_id"):
        rows = rows.sort_values("rank")
        scores = matrix @ users[lake.users.index_of(str(customer))]
        best = np.sort(scores)[::-1][:5]
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(rows["score"].to_numpy(), best, rtol=1e-4, atol=1e-5)
        chosen = [item_index[str(i)] for i in rows["item_id"]]
        np.testing.assert_allclose(
            [scores[matrix_ids.index(i)] for i in chosen], best, rtol=1e-4, atol=1e-5
        )


def test_a_rank_below_one_is_refused(spark: Any, ingested: Callable[[str], Ingested]) -> None:
    from xsell.engines.spark.als import lake_als
    from xsell.engines.spark.lake import read_lake

    lake = read_lake(spark, ingested("fimi").lake)
    with pytest.raises(ValidationError, match=r"factors must be a whole number >= 1, got 0"):
        lake_als(lake, factors=0)
