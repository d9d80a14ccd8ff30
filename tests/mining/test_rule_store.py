"""Rules saved as versions in the store, read back unchanged; CSV/Parquet export."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from xsell.data.shopdata import ShopData
from xsell.errors import StoreError, ValidationError
from xsell.mining import (
    association_rules,
    export_rules,
    frequent_itemsets,
    load_rules,
    rule_versions,
    save_rules,
)

BASKETS = [
    ["milk", "bread"],
    ["milk", "bread", "eggs"],
    ["milk"],
    ["bread", "eggs"],
    ["milk", "bread"],
]


@pytest.fixture
def rules() -> pd.DataFrame:
    return association_rules(frequent_itemsets(ShopData.from_baskets(BASKETS), 2))


def test_save_then_load_round_trips_and_versions_grow(
    store_path: Path, rules: pd.DataFrame
) -> None:
    assert save_rules(store_path, rules, params={"min_support": 2}) == 1
    assert save_rules(store_path, rules.head(2)) == 2
    latest = load_rules(store_path)
    assert latest.attrs["rules_version"] == 2 and len(latest) == 2
    first = load_rules(store_path, version=1)
    pd.testing.assert_frame_equal(
        first.reset_index(drop=True), rules.reset_index(drop=True), check_dtype=False
    )
    versions = rule_versions(store_path)
    assert versions["version"].tolist() == [1, 2]
    assert versions["n_rules"].tolist() == [len(rules), 2]
    assert json.loads(versions["params"][0]) == {"min_support": 2}
    assert versions["n_baskets"][0] == 5


def test_errors_name_the_store_and_versions(store_path: Path, rules: pd.DataFrame) -> None:
    save_rules(store_path, rules)
    with pytest.raises(ValidationError, match=r"no rules version 7 in .*; saved versions: \[1\]"):
        load_rules(store_path, version=7)
    other = store_path.with_name("other.duckdb")
    with pytest.raises(StoreError, match="no store here"):
        load_rules(other)
    with pytest.raises(ValidationError, match=r"not a rules table: columns \['antecedent'"):
        save_rules(store_path, pd.DataFrame({"x": [1]}))


def test_export_csv_and_parquet(tmp_path: Path, rules: pd.DataFrame) -> None:
    csv = export_rules(rules, tmp_path / "rules.csv")
    back = pd.read_csv(csv)
    assert [tuple(json.loads(v)) for v in back.antecedent] == list(rules.antecedent)
    assert back.lift.tolist() == pytest.approx(rules.lift.tolist())
    parquet = export_rules(rules, tmp_path / "rules.parquet")
    table = pq.read_table(parquet).to_pandas()
    assert [tuple(v) for v in table.consequent] == list(rules.consequent)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.csv", "rules.parquet"]
    with pytest.raises(
        ValidationError, match=r"unknown rules file type '.xlsx'; use .csv or .parquet"
    ):
        export_rules(rules, tmp_path / "rules.xlsx")
