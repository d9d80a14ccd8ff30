"""``xsell export complements|customers`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_xsell
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import load_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, SyntheticShop]:
    shop = make_shop(n_users=200, n_items=60, seed=3)
    folder = tmp_path_factory.mktemp("shop")
    shop.write(folder / "shop")
    for args in (
        ("ingest", "shop/orders.csv", "--store", "x.duckdb", "--quiet"),
        ("train", "cooccurrence", "--store", "x.duckdb", "--out", "bundle", "--quiet"),
    ):
        done = run_xsell(*args, cwd=folder)
        assert done.returncode == 0, done.stderr
    return folder / "bundle", folder / "x.duckdb", shop


def test_complements_of_every_item_to_csv(
    trained: tuple[Path, Path, SyntheticShop], tmp_path: Path
) -> None:
    bundle, store, _ = trained
    args = ["--bundle", str(bundle), "--store", str(store), "--k", "4", "--json"]
    done = run_xsell("export", "complements", *args, "--out", "c.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    rows = pd.read_csv(tmp_path / "c.csv", dtype=str)
    assert summary["rows"] == len(rows) and summary["queries"] == rows["item_id"].nunique()
    model = load_model(bundle)
    first = rows["item_id"].iloc[0]
    assert rows[rows["item_id"] == first]["rank"].tolist() == ["1", "2", "3", "4"]
    assert set(model.require_fitted().ids.ids) >= set(rows["item_id"])


def test_complements_without_a_store_is_one_line_and_exit_2(
    trained: tuple[Path, Path, SyntheticShop], tmp_path: Path
) -> None:
    done = run_xsell(
        "export", "complements", "--bundle", str(trained[0]), "--out", "c.csv", cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "give --store STORE" in done.stderr
    assert not (tmp_path / "c.csv").exists()


def test_customers_in_explore_mode_to_parquet_with_rules(
    trained: tuple[Path, Path, SyntheticShop], tmp_path: Path
) -> None:
    bundle, store, _ = trained
    data = ShopData.from_store(store)
    best = str(data.items.ids[int(np.argmax(data.item_basket_count))])
    done = run_xsell(
        "export",
        "customers",
        "--bundle",
        str(bundle),
        "--k",
        "3",
        "--mode",
        "explore",
        "--rules",
        json.dumps({"deny": [best]}),
        "--out",
        "u.parquet",
        "--quiet",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = pd.read_parquet(tmp_path / "u.parquet")
    assert rows["customer_id"].nunique() == 200
    assert best not in set(rows["item_id"])
    bought = data.lines.groupby("user")["item"].apply(set)
    for customer, got in rows.groupby("customer_id"):
        assert got["rank"].tolist() == [1, 2, 3]
        ids = {data.items.index_of(str(i)) for i in got["item_id"]}
        assert not ids & bought[data.users.index_of(str(customer))]


def test_rules_that_are_not_json_are_named(
    trained: tuple[Path, Path, SyntheticShop], tmp_path: Path
) -> None:
    done = run_xsell(
        "export",
        "customers",
        "--bundle",
        str(trained[0]),
        "--rules",
        "{in_stock_only}",
        "--out",
        "u.csv",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--rules is not JSON" in done.stderr and done.stderr.count("\n") == 1
