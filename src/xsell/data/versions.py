"""Data versions: the fingerprint of the store's data after every write.

A model bundle records the fingerprint of the data it was fitted on
(:meth:`~xsell.data.shopdata.ShopData.fingerprint`). Keeping the fingerprint of
each state the store went through tells, when a customer is forgotten, which
bundles were trained on data that held them (see :mod:`xsell.data.erasure`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from xsell.data.sql import fetch_one


def record_version(con: duckdb.DuckDBPyConnection, changed: bool = False) -> str | None:
    """Append the current data's fingerprint to ``data_versions`` (inside a write transaction).

    Nothing is recorded when no ingest happened since the last version, unless
    ``changed`` says the data changed otherwise (an erasure). Returns the
    fingerprint recorded, or ``None``.
    """
    from xsell.data.shopdata import store_fingerprint

    latest = fetch_one(
        con.execute(
            "SELECT (SELECT max(ingest_id) FROM ingests), "
            "(SELECT last_ingest_id FROM data_versions ORDER BY version DESC LIMIT 1)"
        )
    )
    if not changed and latest is not None and latest[0] == latest[1]:
        return None

    fingerprint = store_fingerprint(con)
    if fingerprint is None:
        return None
    row = fetch_one(
        con.execute(
            "SELECT COALESCE(max(version), 0) + 1, (SELECT max(ingest_id) FROM ingests) "
            "FROM data_versions"
        )
    )
    assert row is not None
    con.execute(
        "INSERT INTO data_versions VALUES (?, ?, ?, ?)",
        [int(row[0]), fingerprint, row[1], datetime.now()],
    )
    return fingerprint


def versions_since(con: duckdb.DuckDBPyConnection, ingest_id: int) -> list[str]:
    """Fingerprints of every recorded state that included ingest ``ingest_id`` or a later one."""
    return [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT fingerprint FROM data_versions WHERE last_ingest_id >= ? "
            "ORDER BY fingerprint",
            [ingest_id],
        ).fetchall()
    ]
