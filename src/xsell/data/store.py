"""The DuckDB store: one file holding lines, items, customers, rejected rows and the ingest log.

Every write happens inside one transaction, so a failed or killed ingest leaves
the store exactly as it was (DuckDB only writes a transaction to its log at commit).
"""

from __future__ import annotations

import fcntl
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

import duckdb

from xsell.data.sql import ident
from xsell.errors import StoreError

SCHEMA_VERSION: Final = "2"
MARKER_TABLE: Final = "xsell_meta"
#: A new store is built as ``.NAME.creating-PID`` next to ``NAME``, then renamed into place.
CREATING: Final = ".creating-"
#: Writers take turns on ``.NAME.lock`` (an advisory lock), so two first ingests both land.
LOCK: Final = ".lock"

SCHEMA: Final = (
    f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS ingests (
        ingest_id INTEGER PRIMARY KEY, path VARCHAR, content_hash VARCHAR, kind VARCHAR,
        preset VARCHAR, rows_in BIGINT, rows_kept BIGINT, rows_rejected BIGINT,
        started_at TIMESTAMP, finished_at TIMESTAMP, report JSON)""",
    """CREATE TABLE IF NOT EXISTS lines (
        ingest_id INTEGER, source_line BIGINT, basket_id VARCHAR, user_id VARCHAR,
        item_id VARCHAR, time TIMESTAMP, quantity DOUBLE, price DOUBLE, event VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS items (
        item_id VARCHAR PRIMARY KEY, name VARCHAR, category VARCHAR, brand VARCHAR,
        price DOUBLE, in_stock BOOLEAN, attributes JSON, from_catalog BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS customers (
        user_id VARCHAR PRIMARY KEY, attributes JSON)""",
    """CREATE TABLE IF NOT EXISTS rejected (
        ingest_id INTEGER, path VARCHAR, source_line BIGINT, reason VARCHAR,
        detail VARCHAR, raw JSON)""",
    # Where an incremental source stopped reading (a database column's highest value).
    """CREATE TABLE IF NOT EXISTS watermarks (
        source VARCHAR PRIMARY KEY, column_name VARCHAR, value VARCHAR, ingest_id INTEGER)""",
    # The data fingerprint (ShopData.fingerprint) after every write, to find the model
    # bundles trained on data that held a customer who was later forgotten.
    """CREATE TABLE IF NOT EXISTS data_versions (
        version INTEGER PRIMARY KEY, fingerprint VARCHAR, last_ingest_id INTEGER,
        created_at TIMESTAMP)""",
    # Erasures: only the keyed hash of the customer id, never the id.
    """CREATE TABLE IF NOT EXISTS forgotten (
        user_hash VARCHAR, forgotten_at TIMESTAMP, lines BIGINT, rejected BIGINT,
        other_rows BIGINT, fingerprints VARCHAR[])""",
)
#: Columns added after the first schema: an older store gains them on its next write.
MIGRATIONS: Final = (
    "ALTER TABLE lines ADD COLUMN IF NOT EXISTS source_key VARCHAR",
    "ALTER TABLE rejected ADD COLUMN IF NOT EXISTS source_key VARCHAR",
    "ALTER TABLE rejected ADD COLUMN IF NOT EXISTS user_id VARCHAR",
    "ALTER TABLE customers ADD COLUMN IF NOT EXISTS ingest_id INTEGER",
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS source VARCHAR",
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS size BIGINT",
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS last_line BIGINT",
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS cost DOUBLE",
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS margin DOUBLE",
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS stock DOUBLE",
)


class Store:
    """A handle on an xsell store file.

    Parameters
    ----------
    path:
        The DuckDB file. It is created on the first write.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def connect(self, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """Open the store; reading requires an existing xsell store."""
        if read_only and not self.exists():
            raise StoreError(
                f"{self.path}: no store here; create one with "
                f"`xsell ingest FILE --store {self.path}`"
            )
        self.remove_stale_files()
        con = _open(self.path, read_only)
        if read_only:
            self._check_marker(con)
        return con

    def _check_marker(self, con: duckdb.DuckDBPyConnection) -> None:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if MARKER_TABLE not in tables:
            con.close()
            raise StoreError(
                f"{self.path}: a DuckDB file but not an xsell store (no {MARKER_TABLE} table)"
            )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on error.

        A new store is built under a temporary name and renamed into place after
        the commit, so a crash during the first ingest leaves no store file at all
        (and the next transaction removes the half-built file such a crash left).
        """
        with self._lock():
            yield from self._transaction()

    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        existed = self.exists()
        if existed:
            con = self.connect(read_only=False)
            tables = {
                r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            if tables and MARKER_TABLE not in tables:
                con.close()
                raise StoreError(
                    f"{self.path}: a DuckDB file but not an xsell store (no {MARKER_TABLE} table); "
                    "choose another --store path"
                )
            target = self.path
        else:
            self.remove_stale_files()  # an existing store's connect() does this
            target = self._creating(os.getpid())
            remove_store_files(target)
            con = _open(target)
        try:
            con.execute("BEGIN TRANSACTION")
            for statement in (*SCHEMA, *MIGRATIONS):
                con.execute(statement)
            con.execute(
                f"INSERT OR IGNORE INTO {MARKER_TABLE} VALUES ('schema_version', ?)",
                [SCHEMA_VERSION],
            )
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            con.close()
            if not existed:
                remove_store_files(target)
            raise
        con.close()
        if not existed:
            os.replace(target, self.path)
            remove_store_files(target)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the store's write lock (waits while another process writes)."""
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StoreError(
                f"{self.path}: cannot create the store: {_first_file(parent)} is a file, "
                "not a folder; choose another --store path"
            ) from exc
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the store's folder: {exc}") from exc
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; give the store a file name (--store)")
        lock_path = self.path.with_name(f".{self.path.name}{LOCK}")
        handle: IO[bytes]
        try:
            handle = open(lock_path, "ab")  # noqa: SIM115 (held across the yield)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot write next to the store: {exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # closing releases the lock

    def _creating(self, pid: int) -> Path:
        """The temporary file under which process ``pid`` builds a new store."""
        return self.path.with_name(f".{self.path.name}{CREATING}{pid}")

    def remove_stale_files(self) -> list[Path]:
        """Remove the half-built new stores of processes that died (killed during a first ingest).

        A file whose process is still alive is left alone: it may be building the
        store right now. Returns the files removed.
        """
        prefix = f".{self.path.name}{CREATING}"
        removed: list[Path] = []
        try:
            candidates = list(self.path.parent.glob(f"{glob.escape(prefix)}*"))
        except OSError:
            return removed
        for candidate in candidates:
            pid_text = candidate.name.removeprefix(prefix).removesuffix(".wal")
            if not pid_text.isdigit() or _alive(int(pid_text)):
                continue
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
        return sorted(removed)

    def table_counts(self) -> dict[str, int]:
        """Row count of every table (used by tests and ``xsell stats``)."""
        with self.connect() as con:
            names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
            return {
                n: int(con.execute(f"SELECT count(*) FROM {ident(n)}").fetchone()[0])  # type: ignore[index]
                for n in sorted(names)
            }


def _open(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "not a valid DuckDB database" in str(exc):
            raise StoreError(f"{path}: not a DuckDB file, so not an xsell store") from exc
        raise StoreError(f"{path}: cannot open the store: {exc}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"{path}: not a DuckDB file, so not an xsell store ({exc})") from exc


def _first_file(folder: Path) -> Path:
    """The nearest ancestor of ``folder`` (or itself) that exists; a file when mkdir failed."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return folder


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if os.name == "nt":  # there os.kill would end the process: never call a file stale
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to another user
        return True
    except (OverflowError, ValueError):  # not a possible process id
        return False
    return True


def remove_store_files(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)
