"""``xsell rules`` as a user runs it: a real process over a basket file and over a store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_file
from xsell.mining import load_rules


def xsell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_rules_from_a_basket_file_as_json(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    done = xsell(
        "rules",
        "--baskets",
        str(groceries),
        "--preset",
        "baskets",
        "--min-support",
        "0.01",
        "--min-lift",
        "1.5",
        "--top",
        "5",
        "--json",
        "--out",
        str(tmp_path / "r.csv"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["baskets"] == 9835 and payload["itemsets"] == 333 and payload["n_rules"] == 5
    lifts = [r["lift"] for r in payload["rules"]]
    assert lifts == sorted(lifts, reverse=True) and min(lifts) >= 1.5
    assert (tmp_path / "r.csv").exists() and payload["saved_version"] is None


def test_rules_from_the_store_table_with_names_and_saved(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    lines = ["basket_id,item_id"] + [
        f"{b},{i}" for b in range(60) for i in (["A", "B"] if b % 2 else ["A", "C"])
    ]
    orders.write_text("\n".join(lines) + "\n")
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("item_id,name\nA,Phone\nB,Case\nC,Charger\n")
    store = tmp_path / "shop.duckdb"
    assert (
        xsell(
            "ingest",
            str(orders),
            "--catalog",
            str(catalog),
            "--store",
            str(store),
            "-q",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    done = xsell("rules", "--store", str(store), "--min-support", "10", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "Phone" in done.stdout
        and "Case" in done.stdout
        and "saved as rules version 1" in done.stdout
    )
    saved = load_rules(store)
    assert set(saved.consequent_names) == {("Phone",), ("Case",), ("Charger",)}


def test_bad_min_support_is_one_red_line(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    done = xsell("rules", "--baskets", str(groceries), "--min-support", "1.5", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        "min_support must be a fraction in (0, 1] or a whole number of baskets >= 1, got 1.5"
        in done.stderr
    )
