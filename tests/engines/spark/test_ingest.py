"""The Spark ingest gives every line the reason the DuckDB ingest gives it, on every preset's data.

The oracle is ``xsell.data.ingest.ingest_lines`` into a store: the same files, the
same reports (every count per reason and every figure), the same kept lines and
the same rejected rows with their details.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from tests.engines.spark.conftest import Ingested
from xsell.data.ingest import ingest_lines
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError

PRESETS = (
    "online-retail",
    "online-retail-ii",
    "instacart",
    "complete-journey",
    "fimi",
    "baskets",
)
FIGURES = (
    "rows_in",
    "rows_kept",
    "rows_rejected",
    "reasons",
    "flags",
    "raw_profile",
    "kept_profile",
    "netting",
)


def lake_lines(lake: Path) -> pd.DataFrame:
    frame = pd.read_parquet(lake / "lines")
    frame["ingest_id"] = frame["ingest_id"].astype(int)
    return _sorted(frame.drop(columns=["source_key"]))


def store_lines(store: Path) -> pd.DataFrame:
    with duckdb.connect(str(store), read_only=True) as con:
        frame = con.execute("SELECT * EXCLUDE (source_key) FROM lines").df()
    return _sorted(frame)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["ingest_id", "source_line", "basket_id", "user_id", "item_id", "time"]
    frame = frame[[*columns, "quantity", "price", "event"]]
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize(None)
    frame["ingest_id"] = frame["ingest_id"].astype("int64")
    return frame.sort_values(["ingest_id", "source_line"]).reset_index(drop=True)


def rejected(lake: Path | None = None, store: Path | None = None) -> pd.DataFrame:
    if lake is not None:
        frame = pd.read_parquet(lake / "rejected")
        frame["reason"] = frame["reason"].astype(str)
    else:
        with duckdb.connect(str(store), read_only=True) as con:
            frame = con.execute("SELECT * FROM rejected").df()
    frame = frame[["ingest_id", "source_line", "reason", "detail", "raw"]].copy()
    frame["ingest_id"] = frame["ingest_id"].astype("int64")
    frame["raw"] = [json.loads(r) if r is not None else None for r in frame["raw"]]
    return frame.sort_values(["ingest_id", "source_line"]).reset_index(drop=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_figure_of_the_report_equals_the_duckdb_ingest(
    ingested: Callable[[str], Ingested], preset: str
) -> None:
    both = ingested(preset)
    mine, oracle, lake = both.report.files[0], both.oracle, both.lake
    for name in FIGURES:
        assert getattr(mine, name) == getattr(oracle, name), name
    assert mine.rows_in > 1000
    written = json.loads((lake / "report.json").read_text())
    assert written["files"][0]["reasons"] == oracle.reasons


@pytest.mark.parametrize("preset", PRESETS)
def test_kept_lines_and_rejected_rows_equal_the_store(
    ingested: Callable[[str], Ingested], preset: str
) -> None:
    lake, store = ingested(preset).lake, ingested(preset).store
    pd.testing.assert_frame_equal(lake_lines(lake), store_lines(store), check_dtype=False)
    mine, theirs = rejected(lake=lake), rejected(store=store)
    assert mine["reason"].tolist() == theirs["reason"].tolist()
    assert mine["source_line"].tolist() == theirs["source_line"].tolist()
    assert mine["detail"].tolist() == theirs["detail"].tolist()
    assert mine["raw"].tolist() == theirs["raw"].tolist()


def test_online_retail_slice_exercises_cancellations_and_netting(
    ingested: Callable[[str], Ingested],
) -> None:
    report = ingested("online-retail").report.files[0]
    # The slice holds every kind of line the shop's export is known for.
    for reason in ("cancellation", "return", "duplicate", "non_product", "bad_price"):
        assert report.reasons.get(reason, 0) > 0, reason
    assert report.netting["netted"] > 0


ODD_VALUES = """order,item,qty,price,when
1,a,1,2.5,2011-01-02 10:00:00
2,b,1_000,2.5,2011-01-02
3,c,1d,2.5,2011-01-02
4,d,inf,2.5,2011-01-02
5,e,NaN,2.5,2011-01-02
6,f,1e400,2.5,2011-01-02
7,g,-2,.5,2011-01-02
8,h,2,5.,2010
9,i,3,1,2011/01/02
10,j,3,1,2011-1-2 8:05
11,k,3,1,12/1/2010 8:26
12,l,3,1, 2011-01-02T10:00:00
13,m, 4 ,+1.5,13/45/2010 8:26
14,n,0,1,2011-01-02
15,o,2,0,2011-01-02
16,p,2,1,not a date
17,,2,1,2011-01-02
,q,2,1,2011-01-02
18,r,1.5.2,1,2011-01-02
19,s,0x10,1,2011-01-02
20,t,2,1,2011-01-02
20,t,2,1,2011-01-02
"""


def test_odd_numbers_and_dates_get_the_same_reason_in_both_engines(
    spark: Any, tmp_path: Path
) -> None:
    from xsell.engines.spark.ingest import ingest_lake

    source = tmp_path / "odd.csv"
    source.write_text(ODD_VALUES)
    mapping = {
        "basket_id": "order",
        "item_id": "item",
        "quantity": "qty",
        "price": "price",
        "time": "when",
    }
    report = ingest_lake(spark, [source], tmp_path / "lake", mapping=mapping)
    oracle = ingest_lines(Store(tmp_path / "shop.duckdb"), source, mapping=mapping)
    assert report.files[0].reasons == oracle.reasons
    assert len(oracle.reasons) >= 6
    mine = rejected(lake=tmp_path / "lake")
    theirs = rejected(store=tmp_path / "shop.duckdb")
    assert mine[["source_line", "reason", "detail"]].equals(
        theirs[["source_line", "reason", "detail"]]
    )
    pd.testing.assert_frame_equal(
        lake_lines(tmp_path / "lake"), store_lines(tmp_path / "shop.duckdb"), check_dtype=False
    )


def test_cancellations_net_purchases_of_earlier_files_as_sequential_ingests_do(
    spark: Any, slices: dict[str, Path], tmp_path: Path
) -> None:
    from xsell.engines.spark.ingest import ingest_lake

    lines = slices["online-retail"].read_text().splitlines(keepends=True)
    first, second = tmp_path / "part1.csv", tmp_path / "part2.csv"
    first.write_text("".join(lines[:8_001]))
    second.write_text(lines[0] + "".join(lines[8_001:14_001]))
    report = ingest_lake(spark, [first, second], tmp_path / "lake", preset="online-retail")
    store = Store(tmp_path / "shop.duckdb")
    oracles = [ingest_lines(store, path, preset="online-retail") for path in (first, second)]
    for mine, oracle in zip(report.files, oracles, strict=True):
        for name in FIGURES:
            assert getattr(mine, name) == getattr(oracle, name), name
    assert report.files[1].netting["netted_earlier_ingests"] > 0
    pd.testing.assert_frame_equal(
        lake_lines(tmp_path / "lake"), store_lines(tmp_path / "shop.duckdb"), check_dtype=False
    )
    mine_rejected = rejected(lake=tmp_path / "lake")
    theirs = rejected(store=tmp_path / "shop.duckdb")
    key = ["ingest_id", "source_line", "reason"]
    assert mine_rejected[key].equals(theirs[key])


def test_a_line_with_too_many_values_is_named(spark: Any, tmp_path: Path) -> None:
    from xsell.engines.spark.ingest import ingest_lake

    source = tmp_path / "bad.csv"
    source.write_text("order,item\n1,a\n2,b,extra\n3,c\n")
    with pytest.raises(InputFileError, match=r"bad.csv: line 3 has 3 values but the header has 2"):
        ingest_lake(
            spark, [source], tmp_path / "lake", mapping={"basket_id": "order", "item_id": "item"}
        )
    assert not (tmp_path / "lake").exists()


def test_a_column_of_the_wrong_type_is_refused(spark: Any, tmp_path: Path) -> None:
    from xsell.engines.spark.ingest import ingest_lake

    source = tmp_path / "words.csv"
    source.write_text("order,item,qty\n1,a,one\n2,b,two\n3,c,3\n")
    mapping = {"basket_id": "order", "item_id": "item", "quantity": "qty"}
    with pytest.raises(
        SchemaError, match=r"column 'qty' \(quantity\) should hold numbers .* row 2: 'one'"
    ):
        ingest_lake(spark, [source], tmp_path / "lake", mapping=mapping)


def test_an_excel_file_is_refused_with_the_formats_spark_reads(spark: Any, tmp_path: Path) -> None:
    from xsell.engines.spark.ingest import ingest_lake

    source = tmp_path / "orders.xlsx"
    source.write_bytes(b"PK")
    with pytest.raises(
        InputFileError, match=r"orders.xlsx: the Spark ingest reads CSV and Parquet"
    ):
        ingest_lake(spark, [source], tmp_path / "lake")
