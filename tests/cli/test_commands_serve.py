"""``xsell serve`` as a user starts it: what it refuses and what it warns of before serving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_xsell, wait_until
from tests.serving.server import Server
from tests.shops import NAMED, PSEUDONYM_KEY, pseudonymized_bundle
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.models import make_model


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_xsell("serve", *args, cwd=ROOT, env={**os.environ, **(env or {})})


def test_serve_refuses_pseudonyms_and_raw_ids_mixed_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XSELL_PSEUDONYM_KEY", PSEUDONYM_KEY)
    keyed = pseudonymized_bundle(tmp_path)
    other = {"XSELL_PSEUDONYM_KEY": "another key, also over 16 bytes"}
    cases = [
        ((), {}, "the bundle knows customers by keyed pseudonyms; serve it with --pseudonymize"),
        (("--pseudonymize",), other, "the pseudonym key differs from the one its store was"),
        (("--key-file", str(tmp_path / "k")), {}, "--key-file is for --pseudonymize"),
    ]
    for args, env, message in cases:
        done = serve("--bundle", str(keyed), *args, env=env)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    raw = make_model("popularity").fit(ShopData.from_baskets([["a", "b"]])).save(tmp_path / "raw")
    done = serve("--bundle", str(raw), "--pseudonymize")
    assert done.returncode == 2 and "trained on raw customer ids" in done.stderr


def test_serve_warns_of_a_bundle_trained_before_an_erasure(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(NAMED)
    store = tmp_path / "shop.duckdb"
    ingest_lines(Store(store), orders)
    bundle = make_model("popularity").fit(ShopData.from_store(store)).save(tmp_path / "b")
    forgot = subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", "forget", "BEN-2", "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XSELL_PSEUDONYM_KEY": PSEUDONYM_KEY},
    )
    assert forgot.returncode == 0, forgot.stderr
    log = tmp_path / "serve.log"
    with Server(bundle, "--store", str(store), log=log):
        wait_until(lambda: "since forgotten" in log.read_text(), "the warning")
    text = " ".join(log.read_text().split())
    assert "was trained on data that held 1 customer since forgotten" in text
    missing = serve("--bundle", str(bundle), "--store", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 2 and "none.duckdb: no such store" in missing.stderr
