"""Ingest from a real PostgreSQL server: the cleaning of files, incremental reads, safe errors."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import run_xsell, shared_file
from tests.data.conftest import Postgres
from xsell.data.ingest import ingest_lines
from xsell.data.postgres import ingest_database
from xsell.data.store import Store
from xsell.errors import InputFileError, SchemaError

ORDERS_DDL = (
    'CREATE TABLE orders (id bigserial PRIMARY KEY, "InvoiceNo" text, "StockCode" text, '
    '"Description" text, "Quantity" integer, "InvoiceDate" timestamp, "UnitPrice" numeric(12,3), '
    '"CustomerID" integer, "Country" text)'
)
COLUMNS = (
    '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice",'
    '"CustomerID","Country"'
)


def dump(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(store), read_only=True) as con:
        names = sorted(
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        )
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


def xsell(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_xsell(*args, cwd=cwd, timeout=600, env=env)


@pytest.fixture
def small_shop(postgres: Postgres, tmp_path: Path) -> str:
    """A database with a few orders, a catalog and customers (with personal data)."""
    name = postgres.create_database(f"shop_{os.getpid()}_{abs(hash(tmp_path)) % 10**6}")
    postgres.psql(name, ORDERS_DDL)
    postgres.psql(
        name,
        f"INSERT INTO orders ({COLUMNS}) VALUES "
        "('1001','A1','Mug',2,'2011-01-03 10:00',2.5,17850,'UK'),"
        "('1001','B1','Tea',1,'2011-01-03 10:00',1.25,17850,'UK'),"
        "('1002','A1','Mug',1,'2011-01-04 11:00',2.5,13047,'UK'),"
        "('1003','POST','Postage',1,'2011-01-04 11:00',18,13047,'UK'),"
        "('C1004','A1','Mug',-1,'2011-01-05 12:00',2.5,13047,'UK'),"
        "('1005','C1','Pen',3,'2011-01-06 09:00',0,NULL,'UK')",
    )
    postgres.psql(
        name,
        "CREATE TABLE products (sku text PRIMARY KEY, title text, category text, price numeric);"
        "INSERT INTO products VALUES ('A1','Mug','kitchen',2.5),('B1','Tea','food',1.25),"
        "('C1','Pen','office',NULL)",
    )
    postgres.psql(
        name,
        "CREATE TABLE clients (customer_id integer PRIMARY KEY, email text, segment text);"
        "INSERT INTO clients VALUES (17850,'ann@example.com','retail'),"
        "(13047,'bob@example.org','trade')",
    )
    return name


def test_table_catalog_and_customers_land_with_keys(
    postgres: Postgres, small_shop: str, tmp_path: Path
) -> None:
    store = tmp_path / "s.duckdb"
    done = xsell(
        "ingest",
        postgres.url(small_shop),
        "--table",
        "orders",
        "--preset",
        "online-retail",
        "--catalog-table",
        "products",
        "--customers-table",
        "clients",
        "--store",
        str(store),
        "--json",
        cwd=tmp_path,
        env=postgres.env(),
    )
    assert done.returncode == 0, done.stderr
    import json

    reports = json.loads(done.stdout)["ingests"]
    lines, catalog, customers = reports
    assert (lines["rows_in"], lines["rows_kept"]) == (6, 2), lines["reasons"]
    # C1004 cancels the mug of order 1002 (same customer, item, quantity and price, earlier).
    assert lines["reasons"] == {"cancellation": 1, "non_product": 1, "bad_price": 1, "cancelled": 1}
    assert lines["netting"] == {"netted": 1, "netted_earlier_ingests": 0, "unmatched": 0}
    assert catalog["rows_kept"] == 3 and customers["rows_kept"] == 2
    assert customers["dropped_columns"] == {"email": "email (by its name)"}
    with duckdb.connect(str(store), read_only=True) as con:
        rejected = con.execute(
            "SELECT path, source_key, reason FROM rejected ORDER BY source_line"
        ).fetchall()
        names = dict(con.execute("SELECT item_id, category FROM items").fetchall())
        attrs = con.execute("SELECT CAST(attributes AS VARCHAR) FROM customers").fetchall()
    label = f"{postgres.url(small_shop)} table orders"
    assert rejected == [
        (label, "id=3", "cancelled"),
        (label, "id=4", "non_product"),
        (label, "id=5", "cancellation"),
        (label, "id=6", "bad_price"),
    ]
    assert names == {"A1": "kitchen", "B1": "food", "C1": "office"}
    assert all("example" not in a[0] for a in attrs)
    assert PASSWORDLESS(store, postgres.password)


def PASSWORDLESS(store: Path, password: str) -> bool:
    """The password appears in no byte of the store file."""
    return password.encode() not in store.read_bytes()


def test_same_table_twice_changes_nothing_and_a_changed_table_is_a_snapshot(
    postgres: Postgres, small_shop: str, tmp_path: Path
) -> None:
    store = Store(tmp_path / "s.duckdb")
    os.environ["PGPASSWORD"] = postgres.password
    try:
        first = ingest_database(
            store, postgres.url(small_shop), table="orders", preset="online-retail"
        )
        before = dump(store.path)
        again = ingest_database(
            store, postgres.url(small_shop), table="orders", preset="online-retail"
        )
        assert again.skipped and "already ingested" in again.warnings[0]
        assert dump(store.path) == before
        postgres.psql(small_shop, "DELETE FROM orders WHERE id = 2")
        third = ingest_database(
            store, postgres.url(small_shop), table="orders", preset="online-retail"
        )
    finally:
        del os.environ["PGPASSWORD"]
    assert (first.rows_kept, third.rows_in, third.rows_kept) == (2, 5, 1)
    with duckdb.connect(str(store.path), read_only=True) as con:
        kept = con.execute("SELECT item_id, user_id FROM lines ORDER BY source_line").fetchall()
        rejected = con.execute("SELECT count(*) FROM rejected").fetchall()[0][0]
    assert kept == [("A1", "17850")]  # the earlier read's rows were replaced, not added to
    assert rejected == 4


def test_since_column_reads_only_new_rows_and_updates_replace(
    postgres: Postgres, small_shop: str, tmp_path: Path
) -> None:
    store = Store(tmp_path / "s.duckdb")
    url = postgres.url(small_shop)
    env = postgres.env()
    args = ("--table", "orders", "--preset", "online-retail", "--since-column", "id")
    first = xsell("ingest", url, *args, "--store", str(store.path), "--json", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    nothing = xsell(
        "ingest", url, *args, "--store", str(store.path), "--json", cwd=tmp_path, env=env
    )
    import json

    assert json.loads(nothing.stdout)["ingests"][0]["skipped"]
    postgres.psql(
        small_shop,
        f"INSERT INTO orders ({COLUMNS}) VALUES "
        "('1006','B1','Tea',2,'2011-01-07 10:00',1.25,17850,'UK'),"
        "('1006','C1','Pen',1,'2011-01-07 10:00',0.8,17850,'UK')",
    )
    second = xsell(
        "ingest", url, *args, "--store", str(store.path), "--json", cwd=tmp_path, env=env
    )
    report = json.loads(second.stdout)["ingests"][0]
    assert (report["rows_in"], report["rows_kept"]) == (2, 2)
    assert report["incremental"] == {"since_column": "id", "after": "6", "watermark": "8"}
    with duckdb.connect(str(store.path), read_only=True) as con:
        watermark = con.execute("SELECT column_name, value FROM watermarks").fetchall()
        total = con.execute("SELECT count(*) FROM lines").fetchall()[0][0]
    assert watermark == [("id", "8")]
    assert total == 2 + 2


def test_online_retail_from_postgres_matches_the_csv_and_loads_1000_new_rows(
    postgres: Postgres, tmp_path: Path
) -> None:
    csv = shared_file("online_retail/online_retail.csv")
    name = postgres.create_database("online_retail")
    postgres.psql(name, ORDERS_DDL)
    postgres.psql(name, f"\\copy orders ({COLUMNS}) FROM '{csv}' CSV HEADER")
    from_csv = ingest_lines(Store(tmp_path / "csv.duckdb"), csv, preset="online-retail")
    os.environ["PGPASSWORD"] = postgres.password
    try:
        store = Store(tmp_path / "pg.duckdb")
        url = postgres.url(name)
        from_db = ingest_database(
            store, url, table="orders", preset="online-retail", since_column="id"
        )
        assert (
            (from_db.rows_in, from_db.rows_kept, from_db.rows_rejected)
            == (from_csv.rows_in, from_csv.rows_kept, from_csv.rows_rejected)
            == (541_909, from_csv.rows_kept, 541_909 - from_csv.rows_kept)
        )
        assert from_db.reasons == from_csv.reasons
        assert from_db.netting == from_csv.netting
        # 1,000 new rows: copies of existing lines under new invoices a year later.
        postgres.psql(
            name,
            f'INSERT INTO orders ({COLUMNS}) SELECT \'N\' || "InvoiceNo", "StockCode", '
            '"Description", "Quantity", "InvoiceDate" + interval \'1 year\', "UnitPrice", '
            '"CustomerID", "Country" FROM orders ORDER BY id LIMIT 1000',
        )
        new_ids = {
            f"id={i}"
            for i in postgres.psql(name, "SELECT id FROM orders WHERE id > 541909").split()
        }
        assert len(new_ids) == 1000
        more = ingest_database(
            store, url, table="orders", preset="online-retail", since_column="id"
        )
    finally:
        del os.environ["PGPASSWORD"]
    assert more.rows_in == 1000
    with duckdb.connect(str(store.path), read_only=True) as con:
        read = con.execute(
            "SELECT source_key FROM lines WHERE ingest_id = ? UNION ALL "
            "SELECT source_key FROM rejected WHERE ingest_id = ?",
            [more.ingest_id, more.ingest_id],
        ).fetchall()
    assert {r[0] for r in read} == new_ids and len(read) == 1000


def one_line_error(done: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1, done.stderr
    assert re.fullmatch(f"error: {pattern}\n", done.stderr), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "password", "pattern"),
    [
        (
            ("--table", "orders"),
            "wrong",
            r"postgresql://xsell@127\.0\.0\.1:\d+/DB: authentication "
            r"failed; give the password with PGPASSWORD, ~/\.pgpass or --password-file",
        ),
        (
            ("--table", "nope"),
            None,
            r"postgresql://xsell@127\.0\.0\.1:\d+/DB: no table 'nope' in "
            r"the database 'DB' \(tables: \['clients', 'orders', 'products'\]\)",
        ),
        (
            ("--table", "orders", "--map", "price=Cost"),
            None,
            r"postgresql://xsell@127\.0\.0\.1:\d+/DB "
            r"table orders: column 'Cost' \(for price\) is not in the table; columns are .*",
        ),
        (
            ("--table", "orders", "--since-column", "updated_at"),
            None,
            r"postgresql://.*/DB table "
            r"orders: the --since-column 'updated_at' is not a column; columns are \['id', .*\]",
        ),
        (
            ("--query", "SELECT nope FROM orders"),
            None,
            r"postgresql://xsell@127\.0\.0\.1:\d+/DB: "
            r"the query failed: column \"nope\" does not exist",
        ),
        (
            (
                "--query",
                'SELECT "InvoiceNo", "StockCode", "Description", point(1, 2) AS "Quantity", '
                '"InvoiceDate", "UnitPrice", "CustomerID" FROM orders',
            ),
            None,
            r"postgresql://.*/DB query [0-9a-f]{12}: column 'Quantity' \(quantity\) has type "
            r"point \(binary\), which cannot hold numbers; map another column or convert it",
        ),
    ],
)
def test_database_errors_are_one_line_exit_2_and_write_nothing(
    postgres: Postgres,
    small_shop: str,
    tmp_path: Path,
    args: tuple[str, ...],
    password: str | None,
    pattern: str,
) -> None:
    env = {**postgres.env(), "PGPASSWORD": password or postgres.password}
    store = tmp_path / "s.duckdb"
    done = xsell(
        "ingest",
        postgres.url(small_shop),
        *args,
        "--preset",
        "online-retail",
        "--store",
        str(store),
        cwd=tmp_path,
        env=env,
    )
    one_line_error(done, pattern.replace("DB", small_shop))
    assert postgres.password not in done.stderr
    assert not store.exists()


def test_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = xsell(
        "ingest",
        f"postgresql://xsell:hunter2@127.0.0.1:{port}/shop",
        "--table",
        "orders",
        "--store",
        str(tmp_path / "s.duckdb"),
        cwd=tmp_path,
    )
    one_line_error(
        done,
        rf"postgresql://xsell@127\.0\.0\.1:{port}/shop: cannot connect: connection refused "
        r"\(is the server running and accepting TCP connections on that host and port\?\)",
    )
    assert "hunter2" not in done.stderr + done.stdout
    assert not (tmp_path / "s.duckdb").exists()


def test_credentials_from_pgpass_and_password_file(
    postgres: Postgres, small_shop: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pgpass = home / ".pgpass"
    escaped = postgres.password.replace("\\", "\\\\").replace(":", "\\:")
    pgpass.write_text(f"{postgres.host}:{postgres.port}:*:xsell:{escaped}\n")
    pgpass.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    done = xsell(
        "ingest",
        postgres.url(small_shop),
        "--table",
        "orders",
        "-p",
        "online-retail",
        "--store",
        str(tmp_path / "a.duckdb"),
        "--quiet",
        cwd=tmp_path,
        env={**env, "HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    secret = tmp_path / "pw.txt"
    secret.write_text(postgres.password + "\n")
    done = xsell(
        "ingest",
        postgres.url(small_shop),
        "--table",
        "orders",
        "-p",
        "online-retail",
        "--password-file",
        str(secret),
        "--store",
        str(tmp_path / "b.duckdb"),
        "--quiet",
        cwd=tmp_path,
        env={**env, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert postgres.password not in done.stdout + done.stderr
    for store in ("a.duckdb", "b.duckdb"):
        assert PASSWORDLESS(tmp_path / store, postgres.password)
    with pytest.raises(InputFileError, match="authentication failed"):
        ingest_database(
            Store(tmp_path / "c.duckdb"),
            postgres.url(small_shop),
            table="orders",
            password_file=tmp_path / "home" / ".pgpass",
        )
    with pytest.raises(SchemaError, match="no column is mapped to 'item_id'"):
        os.environ["PGPASSWORD"] = postgres.password
        try:
            ingest_database(Store(tmp_path / "d.duckdb"), postgres.url(small_shop), table="clients")
        finally:
            del os.environ["PGPASSWORD"]


def test_since_a_timestamp_column_an_updated_row_replaces_its_earlier_version(
    postgres: Postgres, small_shop: str, tmp_path: Path
) -> None:
    postgres.psql(
        small_shop,
        "ALTER TABLE orders ADD COLUMN updated_at timestamptz NOT NULL "
        "DEFAULT '2011-01-10 00:00:00+00'",
    )
    store = Store(tmp_path / "s.duckdb")
    os.environ["PGPASSWORD"] = postgres.password
    try:
        args: dict[str, Any] = {
            "table": "orders",
            "preset": "online-retail",
            "since_column": "updated_at",
        }
        first = ingest_database(store, postgres.url(small_shop), **args)
        postgres.psql(
            small_shop,
            "UPDATE orders SET \"Quantity\" = 5, updated_at = '2011-02-01 08:00:00+00' "
            "WHERE id = 1",
        )
        second = ingest_database(store, postgres.url(small_shop), **args)
        third = ingest_database(store, postgres.url(small_shop), **args)
    finally:
        del os.environ["PGPASSWORD"]
    assert (first.rows_in, first.rows_kept) == (6, 2)
    assert (second.rows_in, second.rows_kept) == (1, 1)
    assert second.flags["replaced_rows"] == 1
    assert third.skipped
    with duckdb.connect(str(store.path), read_only=True) as con:
        lines = con.execute("SELECT source_key, quantity FROM lines ORDER BY source_key").fetchall()
        (watermark,) = con.execute("SELECT value FROM watermarks").fetchall()[0]
    assert lines == [("id=1", 5.0), ("id=2", 1.0)]
    assert watermark.startswith("2011-02-01 08:00:00")
