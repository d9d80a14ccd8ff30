"""Co-occurrence counted on Spark equals ``Cooccurrence.fit`` on one machine, bundle included.

The oracle is the single-machine model fitted on the store the same slice went
into (sparse matrix products in SciPy): the same pair counts, measures, pruning
and answers, and the bundle Spark writes loads and answers as ``xsell serve`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.engines.spark.conftest import Ingested
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import load_model
from xsell.models.cooccurrence import Cooccurrence


def assert_same_matrix(mine: Any, theirs: Any) -> None:
    assert mine.shape == theirs.shape
    difference = abs(mine.astype(np.float64) - theirs.astype(np.float64))
    assert difference.nnz == 0 or difference.max() < 1e-9
    assert mine.nnz == theirs.nnz


def all_complements(model: Any, k: int) -> pd.DataFrame:
    table = model.require_fitted()
    sold = [str(i) for i in table.ids.ids[np.asarray(table.popularity) > 0]]
    frames = [model.complements(item, k=k) for item in sold]
    return pd.concat(frames, ignore_index=True)[["query", "rank", "item_id", "score", "reason"]]


@pytest.mark.parametrize(
    ("preset", "measure", "neighbours"),
    [("online-retail", "jaccard", 20), ("instacart", "lift", 10), ("fimi", "confidence", None)],
)
def test_counts_measures_pruning_and_answers_equal_the_single_machine_model(
    spark: Any,
    ingested: Callable[[str], Ingested],
    tmp_path: Path,
    preset: str,
    measure: str,
    neighbours: int | None,
) -> None:
    from xsell.engines.spark.cooccurrence import write_cooccurrence_bundle
    from xsell.engines.spark.lake import read_lake

    both = ingested(preset)
    lake = read_lake(spark, both.lake)
    params = {"measure": measure, "neighbours": neighbours, "min_count": 2.0}
    mine = write_cooccurrence_bundle(lake, tmp_path / "bundle", **params)
    data = ShopData.from_store(both.store)
    oracle = Cooccurrence(**params).fit(data)  # type: ignore[arg-type]

    assert lake.n_baskets == data.n_baskets
    assert list(mine.require_fitted().ids.ids) == list(oracle.require_fitted().ids.ids)
    assert_same_matrix(mine.counts_, oracle.counts_)
    assert_same_matrix(mine.similarity_, oracle.similarity_)
    assert mine.similarity_ is not None and mine.similarity_.nnz > 100
    served = load_model(tmp_path / "bundle")
    expected = all_complements(oracle, k=5)
    pd.testing.assert_frame_equal(all_complements(served, k=5), expected, check_exact=False)
    users = [str(u) for u in data.users.ids[:50]]
    pd.testing.assert_frame_equal(
        served.recommend(users, k=5), oracle.recommend(users, k=5), check_exact=False
    )


def test_an_unknown_measure_is_refused(spark: Any, ingested: Callable[[str], Ingested]) -> None:
    from xsell.engines.spark.cooccurrence import cooccurrence_model
    from xsell.engines.spark.lake import read_lake

    lake = read_lake(spark, ingested("fimi").lake)
    with pytest.raises(ValidationError, match=r"measure must be one of .*got 'likes'"):
        cooccurrence_model(lake, measure="likes")
