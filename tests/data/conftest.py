"""A real PostgreSQL server for the database-source tests: a throwaway cluster in a temp folder.

``initdb`` refuses to run as root, so under root the cluster belongs to the
``postgres`` system user (``runuser``). Under ``CI=true`` a missing server fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

PG_BIN_CANDIDATES = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
USER = "xsell"
PASSWORD = "s3cret-'pw"


@dataclass(frozen=True)
class Postgres:
    """A running server: ``url(db)`` without the password, ``psql(...)`` runs SQL."""

    host: str
    port: int
    bin: Path
    password: str = PASSWORD

    def url(self, database: str = "postgres", user: str = USER) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PGPASSWORD": self.password}

    def psql(self, database: str, sql: str, *extra: str) -> str:
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                *extra,
                "-c",
                sql,
            ],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def create_database(self, name: str) -> str:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}"')
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return name


def _missing(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs a PostgreSQL server: {why}")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    bins = [b for b in PG_BIN_CANDIDATES if (b / "initdb").exists()]
    if not bins:
        _missing("no PostgreSQL server binaries under /usr/lib/postgresql (apt install postgresql)")
    pg_bin = bins[-1]
    as_root = os.geteuid() == 0
    if as_root and shutil.which("runuser") is None:
        _missing("running as root without runuser to start PostgreSQL as another user")
    folder = Path(tempfile.mkdtemp(prefix="xsell-pg-"))
    prefix: list[str] = []
    if as_root:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _missing("no 'postgres' system user to own the test cluster")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_root:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    port = _free_port()
    run = {"capture_output": True, "text": True, "timeout": 120}
    init = subprocess.run(
        [
            *prefix,
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        **run,  # type: ignore[call-overload]
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr}")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = subprocess.run(
        [
            *prefix,
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        **run,  # type: ignore[call-overload]
    )
    if start.returncode != 0:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {start.stderr} {log}")
    try:
        yield Postgres("127.0.0.1", port, pg_bin)
    finally:
        subprocess.run(
            [*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            **run,  # type: ignore[call-overload]
        )
        shutil.rmtree(folder, ignore_errors=True)
