"""The ``xsell`` command as a user runs it: a real process, its output and its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ORDERS = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,UK\n"
    "536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17850,UK\n"
    "536366,71053,WHITE LANTERN,1,2010-12-02 08:26:00,3.39,13047,UK\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,UK\n"
)


def xsell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    return path


def test_ingest_json_report_then_stats_and_rejects(tmp_path: Path, orders: Path) -> None:
    done = xsell("ingest", str(orders), "--preset", "online-retail", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["ingests"][0]
    assert (report["rows_in"], report["rows_kept"], report["rows_rejected"]) == (4, 3, 1)
    assert report["reasons"] == {"cancellation": 1}
    assert (tmp_path / "xsell.duckdb").exists()

    stats = json.loads(xsell("stats", "--json", cwd=tmp_path).stdout)
    assert (stats["lines"], stats["baskets"], stats["customers"], stats["items"]) == (3, 2, 2, 2)
    assert stats["top_items"][0]["item_id"] == "71053"
    assert stats["top_items"][0]["name"] == "WHITE LANTERN"
    assert stats["basket_size"]["histogram"]["1"] == 1
    assert stats["basket_size"]["histogram"]["2"] == 1

    rejects = json.loads(xsell("rejects", "--json", cwd=tmp_path).stdout)
    assert rejects["counts"] == {"cancellation": 1}
    row = rejects["rows"][0]
    assert row["line"] == 5
    assert json.loads(row["raw"])["InvoiceNo"] == "C536379"


def test_human_output_names_what_was_dropped(tmp_path: Path, orders: Path) -> None:
    done = xsell("ingest", str(orders), "--preset", "online-retail", "--quiet", cwd=tmp_path)
    assert done.returncode == 0
    assert "cancellation" in done.stdout
    assert "4 lines, 3 baskets" in done.stdout.replace("\n", " ")
    again = xsell("ingest", str(orders), "--preset", "online-retail", "--quiet", cwd=tmp_path)
    assert "already ingested" in again.stdout.replace("\n", " ")


def test_map_option(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("order;sku;client\n1;a;u1\n1;b;u1\n2;a;u2\n")
    done = xsell(
        "ingest", str(path), "--map", "basket=order,item=sku,user=client", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    stats = json.loads(xsell("stats", "--json", cwd=tmp_path).stdout)
    assert (stats["baskets"], stats["customers"], stats["items"]) == (2, 2, 2)


def test_user_error_is_one_line_exit_2_without_traceback(tmp_path: Path) -> None:
    done = xsell("ingest", str(tmp_path / "missing.csv"), cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "missing.csv: no such file" in lines[0]
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = xsell("--debug", "ingest", str(tmp_path / "missing.csv"), cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" in done.stderr


def test_stats_without_a_store(tmp_path: Path) -> None:
    done = xsell("stats", "--store", str(tmp_path / "none.duckdb"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no store here; create one with `xsell ingest" in done.stderr.replace("\n", " ")


def test_unknown_preset_lists_the_known_ones(tmp_path: Path, orders: Path) -> None:
    done = xsell("ingest", str(orders), "--preset", "magento", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown preset 'magento'; choose one of" in done.stderr.replace("\n", " ")
    assert "online-retail" in done.stderr


def test_demo_runs_end_to_end_on_the_synthetic_shop(tmp_path: Path) -> None:
    done = xsell("demo", "--users", "300", "--json", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    kinds = [r["kind"] for r in summary["ingest"]]
    assert kinds == ["lines", "lines", "catalog", "customers"]
    assert summary["stats"]["customers"] == 300
    assert summary["stats"]["events"] > 0
    assert len(summary["rules"]) == 5
    assert all(rule["lift"] > 1 and rule["baskets"] >= 20 for rule in summary["rules"])
    board = summary["leaderboard"]
    assert {row["model"] for row in board["rows"]} == {
        "popularity",
        "personal",
        "cooccurrence",
        "itemknn",
        "als",
        "rules",
        "reranker",
    }
    recall = {row["model"]: row["recall@10"] for row in board["rows"]}
    assert max(recall.values()) > recall["popularity"]  # co-purchases beat best sellers
    answers = summary["suggestions"]["answers"]
    assert len(answers) == 3 and all(len(a["top"]) == 5 for a in answers)
    assert all(row["reason"] for a in answers for row in a["top"])
    # The best model finds the planted complements of the synthetic shop.
    assert sum(1 for a in answers if a["partner_rank"] is not None) >= 2
    report = Path(summary["report"])
    assert report.exists() and report.stat().st_size > 100_000
