"""One real Spark session (local mode) for every Spark test, and deterministic slices of the data.

Under ``CI=true`` a missing Java or pyspark fails these tests instead of skipping them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import need_module, need_program, shared_file


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    need_module("pyspark")
    need_program("java")
    from xsell.engines.spark.session import spark_session

    session = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def slices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The first lines (rows) of each real data set: the same files every run."""
    folder = tmp_path_factory.mktemp("slices")
    out: dict[str, Path] = {}

    def head(name: str, relative: str, lines: int) -> None:
        source = shared_file(relative)
        target = folder / Path(relative).name
        with source.open("rb") as read, target.open("wb") as write:
            for number, line in enumerate(read):
                if number >= lines:
                    break
                write.write(line)
        out[name] = target

    def rows(name: str, relative: str, count: int) -> None:
        table = pq.read_table(shared_file(relative)).slice(0, count)
        target = folder / Path(relative).name
        pq.write_table(table, target)
        out[name] = target

    head("online-retail", "online_retail/online_retail.csv", 20_001)
    head("fimi", "fimi/retail.dat", 5_000)
    head("baskets", "groceries/groceries.csv", 3_000)
    rows("online-retail-ii", "online_retail_ii/online_retail_ii_2009-2010.parquet", 10_000)
    rows("instacart", "instacart/order_products__train.parquet", 10_000)
    rows("complete-journey", "complete_journey/transactions.parquet", 10_000)
    return out


@dataclass
class Ingested:
    """One slice ingested both ways: the Spark lake and, as the oracle, a DuckDB store."""

    report: Any
    lake: Path
    oracle: Any
    store: Path


@pytest.fixture(scope="session")
def ingested(
    spark: Any, slices: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Ingested]:
    """``ingested(preset)``: that preset's slice in a lake and in a store, made once a run."""
    from xsell.data.ingest import ingest_lines
    from xsell.data.store import Store
    from xsell.engines.spark.ingest import ingest_lake

    made: dict[str, Ingested] = {}

    def get(preset: str) -> Ingested:
        if preset not in made:
            folder = tmp_path_factory.mktemp(preset)
            lake, store = folder / "lake", folder / "shop.duckdb"
            report = ingest_lake(spark, [slices[preset]], lake, preset=preset)
            oracle = ingest_lines(Store(store), slices[preset], preset=preset)
            made[preset] = Ingested(report, lake, oracle, store)
        return made[preset]

    return get
