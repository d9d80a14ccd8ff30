"""Pseudonyms, personal-data columns and erasure, checked by searching every byte of the store."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from xsell.data import pseudonymize
from xsell.data.erasure import bundles_holding, forget
from xsell.data.ingest import ingest_customers, ingest_lines
from xsell.data.privacy import PrivacyOptions, read_key
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.errors import StoreError, ValidationError

KEY = b"a test key of more than 16 bytes"
HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,"
    "email,contact"
)
PEOPLE = {
    "CUST-ALICE-0001": ("alice@example.com", "+44 20 7946 0001"),
    "CUST-BOB-0002": ("bob@example.org", "+44 20 7946 0002"),
    "CUST-CAROL-0003": ("carol@example.net", "+44 20 7946 0003"),
}


def orders(path: Path) -> Path:
    rows = [HEADER]
    n = 0
    for person, (mail, phone) in PEOPLE.items():
        for day in range(1, 6):
            n += 1
            rows.append(
                f"{n},SKU{day % 3},item {day % 3},2,2011-01-0{day} 10:00:00,1.5,{person},UK,"
                f"{mail},{phone}"
            )
    # A cancellation and a bad price: rejected rows that carry the raw values.
    rows.append(
        "C9,SKU1,item 1,-2,2011-01-09 10:00:00,1.5,CUST-BOB-0002,UK,bob@example.org,"
        "+44 20 7946 0002"
    )
    rows.append(
        "99,SKU2,item 2,1,2011-01-09 11:00:00,0,CUST-BOB-0002,UK,bob@example.org,+44 20 7946 0002"
    )
    path.write_text("\n".join(rows) + "\n")
    return path


def customers_file(path: Path) -> Path:
    lines = ["customer_id,name,phone,tier"]
    lines += [f"{p},{p.split('-')[1].title()} Smith,{ph},gold" for p, (_, ph) in PEOPLE.items()]
    lines.append(",Nobody,+1 555 0100,none")  # no id: rejected, its raw values kept
    path.write_text("\n".join(lines) + "\n")
    return path


def every_value(store: Path) -> list[str]:
    """Every value of every column of every table, as text."""
    values: list[str] = []
    with duckdb.connect(str(store), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                values.extend(str(v) for v in row)
    return values


def store_bytes(store: Path) -> bytes:
    files = [p for p in store.parent.iterdir() if p.name.startswith((store.name, f".{store.name}"))]
    return b"".join(p.read_bytes() for p in files if p.is_file())


def test_pseudonymize_is_keyed_hmac_sha256_of_the_canonical_id() -> None:
    expected = hmac.new(KEY, b"17850", hashlib.sha256).hexdigest()
    assert pseudonymize("17850", KEY) == pseudonymize(17850.0, KEY) == expected
    assert pseudonymize(" 17850.0 ", KEY) == expected
    assert pseudonymize("17850", b"another key of 16+ bytes") != expected


def test_pseudonymized_store_holds_no_raw_id_no_personal_column_and_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSELL_PSEUDONYM_KEY", KEY.decode())
    store = tmp_path / "shop.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xsell.cli.main",
            "ingest",
            str(orders(tmp_path / "o.csv")),
            "--preset",
            "online-retail",
            "--customers",
            str(customers_file(tmp_path / "c.csv")),
            "--pseudonymize",
            "--store",
            str(store),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines_report, customers_report = json.loads(done.stdout)["ingests"]
    assert lines_report["pseudonymized"] and customers_report["pseudonymized"]
    assert set(lines_report["dropped_columns"]) == {"email", "contact"}
    assert lines_report["dropped_columns"]["contact"].startswith("phone (by its values")
    assert set(customers_report["dropped_columns"]) == {"name", "phone"}
    values = every_value(store)
    raw = store_bytes(store)
    for person, (mail, phone) in PEOPLE.items():
        assert not any(person in v for v in values), person
        assert person.encode() not in raw and mail.encode() not in raw and phone.encode() not in raw
    assert b"Nobody" not in raw and b"Smith" not in raw
    assert KEY not in raw and KEY.decode() not in done.stdout + done.stderr
    data = ShopData.from_store(store)
    assert set(data.users.ids) == {pseudonymize(p, KEY) for p in PEOPLE}
    with duckdb.connect(str(store), read_only=True) as con:
        raws = [json.loads(r[0]) for r in con.execute("SELECT raw FROM rejected").fetchall()]
    assert {r.get("CustomerID") for r in raws if "CustomerID" in r} == {
        pseudonymize("CUST-BOB-0002", KEY)
    }
    assert all("email" not in r and "contact" not in r for r in raws)


def test_a_pseudonymized_store_refuses_raw_ids_and_another_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(
        store, orders(tmp_path / "o.csv"), preset="online-retail", privacy=PrivacyOptions(key=KEY)
    )
    other = tmp_path / "more.csv"
    other.write_text(HEADER + "\n500,SKU1,item 1,1,2011-02-01 10:00:00,1.5,CUST-DAN-4,UK,,\n")
    with pytest.raises(
        StoreError, match="holds pseudonymized customer ids; ingest with --pseudonymize"
    ):
        ingest_lines(store, other, preset="online-retail")
    with pytest.raises(StoreError, match="the pseudonym key differs"):
        ingest_lines(
            store,
            other,
            preset="online-retail",
            privacy=PrivacyOptions(key=b"some other key, 16+ bytes"),
        )
    raw_store = Store(tmp_path / "raw.duckdb")
    ingest_lines(raw_store, other, preset="online-retail")
    with pytest.raises(StoreError, match="already holds customer ids that are not pseudonymized"):
        ingest_lines(
            raw_store,
            orders(tmp_path / "o2.csv"),
            preset="online-retail",
            privacy=PrivacyOptions(key=KEY),
        )


def test_keep_column_keeps_a_personal_looking_column(tmp_path: Path) -> None:
    report = ingest_lines(
        Store(tmp_path / "s.duckdb"),
        orders(tmp_path / "o.csv"),
        preset="online-retail",
        privacy=PrivacyOptions(keep_columns=("contact",)),
    )
    assert list(report.dropped_columns) == ["email"]
    assert b"+44 20 7946 0002" in (tmp_path / "s.duckdb").read_bytes()


def test_key_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XSELL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(
        ValidationError, match="pseudonyms need a secret key: set XSELL_PSEUDONYM_KEY"
    ):
        read_key()
    short = tmp_path / "k"
    short.write_text("short\n")
    with pytest.raises(ValidationError, match="has 5 bytes; use at least 16"):
        read_key(short)
    with pytest.raises(ValidationError, match="cannot read the pseudonym key file"):
        read_key(tmp_path / "none")


def table_rows(store: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(store), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}


def test_forget_removes_every_trace_and_names_the_bundles_trained_on_it(tmp_path: Path) -> None:
    from xsell.analytics.segments import compute_segments, save_segments
    from xsell.models.popularity import Popularity

    store = Store(tmp_path / "shop.duckdb")
    ingest_lines(store, orders(tmp_path / "o.csv"), preset="online-retail")
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,item_id,time,event\nCUST-BOB-0002,SKU1,2011-01-02 10:00:00,view\n"
        "CUST-ALICE-0001,SKU2,2011-01-02 10:00:00,cart\n"
    )
    ingest_lines(store, events, preset="events")
    ingest_customers(
        store, customers_file(tmp_path / "c.csv"), privacy=PrivacyOptions(keep_columns=("name",))
    )
    data = ShopData.from_store(store)
    save_segments(store, compute_segments(data, "rfm"), "rfm")
    before = Popularity().fit(data).save(tmp_path / "bundles" / "before")
    assert b"CUST-BOB-0002" in store.path.read_bytes()
    rows_before = table_rows(store.path)

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xsell.cli.main",
            "forget",
            "CUST-BOB-0002",
            "CUST-NOBODY-9",
            "--store",
            str(store.path),
            "--bundles",
            str(tmp_path / "bundles"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XSELL_PSEUDONYM_KEY": KEY.decode()},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    bob, nobody = out["forgotten"]
    # One of Bob's purchases was netted by his cancellation: 4 lines kept, 3 rejected.
    assert (bob["lines"], bob["events"], bob["rejected"]) == (4, 1, 3)
    assert bob["other_rows"] == {"customers": 1, "segments": 1}
    assert nobody["lines"] == nobody["rejected"] == 0
    assert [Path(b["path"]) for b in out["bundles"]] == [before]
    # Nothing with the id is left: not in any table, not in any byte of the store file.
    assert not any("CUST-BOB-0002" in v for v in every_value(store.path))
    assert b"CUST-BOB-0002" not in store_bytes(store.path)
    assert "CUST-BOB-0002" not in done.stdout
    rows_after = table_rows(store.path)
    audit = rows_after["forgotten"]
    assert sorted(a[0] for a in audit) == sorted(
        hmac.new(KEY, p, hashlib.sha256).hexdigest() for p in (b"CUST-BOB-0002", b"CUST-NOBODY-9")
    )
    # The others' rows are untouched.
    for table in ("lines", "customers", "segments"):
        kept = [r for r in rows_before[table] if "CUST-BOB-0002" not in map(str, r)]
        assert rows_after[table] == kept, table
    # A bundle trained after the erasure is not listed.
    Popularity().fit(ShopData.from_store(store)).save(tmp_path / "bundles" / "after")
    assert [b.path for b in bundles_holding(store, tmp_path / "bundles")] == [before]


def test_forget_needs_the_same_key_on_a_pseudonymized_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(
        store, orders(tmp_path / "o.csv"), preset="online-retail", privacy=PrivacyOptions(key=KEY)
    )
    with pytest.raises(StoreError, match="the pseudonym key differs"):
        forget(store, ["CUST-BOB-0002"], b"the wrong key, 16+ bytes")
    (result,) = forget(store, ["CUST-BOB-0002"], KEY)
    assert result.lines == 4 and result.rejected == 3
    # The pseudonym is left only in the audit entry.
    rows = table_rows(store.path)
    bob = pseudonymize("CUST-BOB-0002", KEY)
    holding = {t for t, r in rows.items() if any(bob in str(v) for row in r for v in row)}
    assert holding == {"forgotten"}


def test_recorded_versions_are_the_fingerprints_models_record(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    ingest_lines(store, orders(tmp_path / "o.csv"), preset="online-retail")
    first = ShopData.from_store(store).fingerprint()
    # A new customer sorting first shifts every user index: the data's fingerprint changes.
    (tmp_path / "c.csv").write_text("customer_id,tier\nCUST-AARON-0000,gold\n")
    ingest_customers(store, tmp_path / "c.csv")
    second = ShopData.from_store(store).fingerprint()
    with duckdb.connect(str(store.path), read_only=True) as con:
        recorded = con.execute("SELECT fingerprint FROM data_versions ORDER BY version").fetchall()
    assert first != second
    assert recorded == [(first,), (second,)]
