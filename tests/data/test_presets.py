"""Every shipped preset ingests its real public data set, with the published figures."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import shared_file
from xsell.data.ingest import ingest_catalog, ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store

pytestmark = pytest.mark.slow


def test_online_retail_reports_the_published_figures(store_path: Path) -> None:
    path = shared_file("online_retail/online_retail.csv")
    report = ingest_lines(Store(store_path), path, preset="online-retail")
    raw = report.raw_profile
    # Figures published with the UCI data set and in every tutorial about it.
    assert raw["lines"] == 541_909
    assert raw["baskets"] == 25_900
    assert raw["items"] == 4_070
    assert raw["customers"] == 4_372
    assert raw["cancellation_lines"] == 9_288
    assert report.reasons["cancellation"] == 9_288
    assert report.rows_kept + report.rows_rejected == report.rows_in == 541_909
    counts = Store(store_path).table_counts()
    assert counts["lines"] == report.rows_kept
    assert counts["rejected"] == report.rows_rejected
    # Anonymous baskets are kept and flagged, not dropped.
    assert report.flags["anonymous_lines"] > 100_000
    data = ShopData.from_store(store_path)
    assert len(data.lines) == report.rows_kept
    assert data.n_baskets == report.kept_profile["baskets"]
    assert data.basket_item.shape == (data.n_baskets, data.n_items)


def test_online_retail_ii_parquet(store_path: Path) -> None:
    path = shared_file("online_retail_ii/online_retail_ii_2009-2010.parquet")
    report = ingest_lines(Store(store_path), path, preset="online-retail-ii")
    assert report.rows_in == 525_461
    assert report.reasons["cancellation"] == report.raw_profile["cancellation_lines"] > 0
    # Parquet stores Customer ID as float; ids must come out as "13085", not "13085.0".
    data = ShopData.from_store(store_path)
    assert all("." not in str(u) for u in data.users.ids[:50])
    assert report.rows_kept + report.rows_rejected == report.rows_in


def test_groceries_basket_per_line(store_path: Path) -> None:
    path = shared_file("groceries/groceries.csv")
    ingest_lines(Store(store_path), path, preset="baskets")
    data = ShopData.from_store(store_path)
    # 9,835 transactions over 169 categories (Hahsler et al., arules Groceries).
    assert data.n_baskets == 9_835
    assert data.n_items == 169
    first_line = path.read_text().splitlines()[0].split(",")
    assert sorted(data.items.to_external(data.basket_items(0))) == sorted(first_line)


def test_fimi_retail(store_path: Path) -> None:
    path = shared_file("fimi/retail.dat")
    ingest_lines(Store(store_path), path, preset="fimi")
    data = ShopData.from_store(store_path)
    assert data.n_baskets == 88_162
    assert data.n_items == 16_470
    assert data.basket_item.nnz == 908_576


def test_instacart_lines_with_products_catalog(store_path: Path) -> None:
    lines = shared_file("instacart/order_products__train.parquet")
    products = shared_file("instacart/products.csv")
    ingest_lines(Store(store_path), lines, preset="instacart")
    report = ingest_catalog(Store(store_path), products, preset="instacart")
    assert report.rows_kept == 49_688
    data = ShopData.from_store(store_path)
    assert data.n_baskets == 131_209
    assert int((data.item_basket_count > 0).sum()) == 39_123
    names = dict(zip(data.items.ids, data.item_names(), strict=True))
    assert names["24852"] == "Banana"
    categories = dict(zip(data.items.ids, data.item_categories(), strict=True))
    assert categories["24852"] == "produce"  # department joined from departments.csv


def test_complete_journey_with_products(store_path: Path) -> None:
    transactions = shared_file("complete_journey/transactions.parquet")
    products = shared_file("complete_journey/products.parquet")
    report = ingest_lines(Store(store_path), transactions, preset="complete-journey")
    ingest_catalog(Store(store_path), products, preset="complete-journey")
    assert report.rows_kept + report.rows_rejected == report.rows_in
    data = ShopData.from_store(store_path)
    assert data.n_users == 2_469
    # sales_value is the line total: the unit price is total / quantity.
    sample = data.lines[data.lines["quantity"] > 1].head(100)
    assert (sample["price"] > 0).all()
    assert data.catalog["category"].notna().sum() > 60_000


def test_instacart_catalog_map_chooses_aisles_over_departments(store_path: Path) -> None:
    products = shared_file("instacart/products.csv")
    ingest_catalog(Store(store_path), products, preset="instacart", mapping={"category": "aisle"})
    with duckdb.connect(str(store_path), read_only=True) as con:
        row = con.execute("SELECT name, category FROM items WHERE item_id = '24852'").fetchone()
    assert row == ("Banana", "fresh fruits")  # the aisle, not the department "produce"


def _netting_oracle(csv: Path) -> tuple[int, int, set[int]]:
    """Cancellations netted on Online Retail, computed with pandas from the raw file.

    Purchases are the lines no other rule rejects; each cancellation (in time order,
    then file order) takes the latest earlier purchase of the same customer, item,
    quantity and price that no other cancellation took. Returns (netted, unmatched,
    file lines of the netted purchases).
    """
    import pandas as pd

    from xsell.data.presets import DEFAULT_NON_PRODUCT_CODES

    frame = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
    frame["line"] = range(2, len(frame) + 2)
    quantity = pd.to_numeric(frame["Quantity"])
    price = pd.to_numeric(frame["UnitPrice"])
    when = pd.to_datetime(frame["InvoiceDate"])
    cancel = frame["InvoiceNo"].str.startswith("C", na=False)
    columns = [c for c in frame.columns if c != "line"]
    kept = (
        frame["StockCode"].notna()
        & frame["InvoiceNo"].notna()
        & ~cancel
        & (quantity > 0)
        & ~frame["StockCode"].isin(DEFAULT_NON_PRODUCT_CODES)
        & (price > 0)
        & ~frame.duplicated(subset=columns, keep="first")
    )
    pool: dict[tuple[str, str, float, float], list[tuple[pd.Timestamp, int]]] = {}
    for row in frame[kept & frame["CustomerID"].notna()].itertuples():
        key = (row.CustomerID, row.StockCode, quantity[row.Index], price[row.Index])
        pool.setdefault(key, []).append((when[row.Index], row.line))
    cancels = frame[cancel & frame["CustomerID"].notna() & (quantity < 0)]
    order = cancels.assign(when=when[cancels.index]).sort_values(["when", "line"], kind="stable")
    netted: set[int] = set()
    for row in order.itertuples():
        key = (row.CustomerID, row.StockCode, -quantity[row.Index], price[row.Index])
        earlier = [(t, n) for t, n in pool.get(key, []) if t <= row.when and n not in netted]
        if earlier:
            netted.add(max(earlier)[1])
    return len(netted), int(cancel.sum()) - len(netted), netted


@pytest.mark.slow
def test_online_retail_cancellations_net_against_what_they_cancel(tmp_path: Path) -> None:
    from xsell.analytics.sales import top_products

    csv = shared_file("online_retail/online_retail.csv")
    store = Store(tmp_path / "or.duckdb")
    report = ingest_lines(store, csv, preset="online-retail")
    netted, unmatched, lines = _netting_oracle(csv)
    assert report.netting == {
        "netted": netted,
        "netted_earlier_ingests": 0,
        "unmatched": unmatched,
    }
    assert report.reasons["cancelled"] == netted
    with duckdb.connect(str(store.path), read_only=True) as con:
        stored = {
            r[0]
            for r in con.execute(
                "SELECT source_line FROM rejected WHERE reason = 'cancelled'"
            ).fetchall()
        }
        big = con.execute("SELECT detail FROM rejected WHERE source_line = 540423").fetchall()
    assert stored == lines
    assert big == [("cancelled by C581484 (line 540424)",)]
    top = top_products(ShopData.from_store(store), 10)
    assert "23843" not in set(top["item_id"])
