"""``spark_export`` over partitions writes the rows ``export_answers`` writes on one machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.engines.spark.conftest import Ingested
from xsell.analytics.exports import PairGuard, export_answers
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.business_rules import BusinessRules
from xsell.models.cooccurrence import Cooccurrence


@pytest.fixture(scope="module")
def trained(
    ingested: Callable[[str], Ingested], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, ShopData]:
    """A co-occurrence bundle trained on one machine on the Online Retail slice."""
    store = ingested("online-retail").store
    data = ShopData.from_store(store)
    bundle = tmp_path_factory.mktemp("export") / "bundle"
    Cooccurrence(neighbours=50).fit(data).save(bundle)
    return bundle, store, data


def read_rows(path: Path, key: str) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.sort_values([key, "rank"]).reset_index(drop=True)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("complements", {"rules": BusinessRules(max_per_category=2)}),
        ("customers", {"mode": "explore"}),
    ],
)
def test_the_rows_equal_the_single_machine_export(
    spark: Any,
    trained: tuple[Path, Path, ShopData],
    tmp_path: Path,
    kind: str,
    options: dict[str, Any],
) -> None:
    from xsell.engines.spark.export import spark_export
    from xsell.models import load_model

    bundle = trained[0]
    summary = spark_export(
        spark, bundle, kind, tmp_path / "spark", k=7, fmt="parquet", partitions=3, **options
    )
    oracle = export_answers(load_model(bundle), kind, tmp_path / "one.parquet", k=7, **options)
    key = "item_id" if kind == "complements" else "customer_id"
    mine, theirs = read_rows(tmp_path / "spark", key), read_rows(tmp_path / "one.parquet", key)
    assert summary.rows == oracle.rows == len(theirs) > 1000
    assert summary.queries == oracle.queries == theirs[key].nunique()
    pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)


def test_pairs_below_the_group_size_are_left_out_on_the_executors_too(
    spark: Any, trained: tuple[Path, Path, ShopData], tmp_path: Path
) -> None:
    from xsell.engines.spark.export import spark_export
    from xsell.models import load_model

    bundle, store, data = trained
    spark_export(
        spark,
        bundle,
        "complements",
        tmp_path / "spark",
        k=5,
        store=store,
        min_customers=3,
        partitions=2,
    )
    guard = PairGuard(data, 3)
    export_answers(load_model(bundle), "complements", tmp_path / "one.parquet", k=5, guard=guard)
    mine = read_rows(tmp_path / "spark", "item_id")
    pd.testing.assert_frame_equal(
        mine, read_rows(tmp_path / "one.parquet", "item_id"), check_dtype=False
    )
    assert (mine["source"] == "fallback").sum() > (len(mine) // 10)


def test_complements_without_a_store_are_refused_when_a_group_size_is_asked(
    spark: Any, trained: tuple[Path, Path, ShopData], tmp_path: Path
) -> None:
    from xsell.engines.spark.export import spark_export

    with pytest.raises(ValidationError, match=r"give a store so that pairs bought by fewer than 5"):
        spark_export(spark, trained[0], "complements", tmp_path / "out", min_customers=5)
