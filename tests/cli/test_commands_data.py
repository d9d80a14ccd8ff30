"""The ``xsell`` command as a user runs it: a real process, its output and its exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.conftest import run_xsell as xsell
from xsell.cli.main import app
from xsell.data.synthetic import make_shop

ORDERS = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,UK\n"
    "536365,71053,WHITE LANTERN,6,2010-12-01 08:26:00,3.39,17850,UK\n"
    "536366,71053,WHITE LANTERN,1,2010-12-02 08:26:00,3.39,13047,UK\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,UK\n"
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
    assert row["raw"]["InvoiceNo"] == "C536379"


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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"missing\.csv: no such file"),
        # A long message (over 80 characters) is not wrapped either.
        (
            ORDERS + '536400,22423,"CAKE\nSTAND",1,2010-12-03 09:00:00,12.75,14527,UK\n',
            r"missing\.csv: a value quoted with '\"' in column 'Description' holds a line "
            r"break, probably at line 6 \('CAKE\\nSTAND'\); .* with --quote",
        ),
    ],
)
def test_user_error_is_one_line_exit_2_without_traceback(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "missing.csv").write_text(content)
    done = xsell("ingest", str(tmp_path / "missing.csv"), "--preset", "online-retail", cwd=tmp_path)
    assert done.returncode == 2
    # The whole of stderr is the one line: no blank line left by a progress bar, no wrapping.
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, repr(done.stderr)
    assert re.fullmatch(rf"error: .*{message}.*\n", done.stderr)
    assert done.stdout == ""
    assert not (tmp_path / "xsell.duckdb").exists()


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
    assert len(answers) == 3 and all(1 <= len(a["top"]) <= 5 for a in answers)
    assert all(row["reason"] for a in answers for row in a["top"])
    # The best model finds the planted complements of the synthetic shop.
    assert sum(1 for a in answers if a["partner_rank"] is not None) >= 2
    for answer in answers:
        partner = [
            row["rank"] for row in answer["top"] if row["item_id"] == answer["planted_partner"]
        ]
        assert answer["partner_rank"] == (partner[0] if partner else None)
        # Every "goes with" is bought with the anchor more often than chance, counted in SQL.
        for row in answer["top"]:
            together, lift = _together_in_store(summary["store"], answer["item"], row["item_id"])
            assert row["together"] == together
            assert row["lift"] == pytest.approx(lift) and lift > 1
    report = Path(summary["report"])
    assert report.exists() and report.stat().st_size > 100_000


def _together_in_store(store: str, a: str, b: str) -> tuple[int, float]:
    """Baskets holding both items, and the pair's lift, straight from the store's lines."""
    with duckdb.connect(store, read_only=True) as con:
        row = con.execute(
            """
            WITH b AS (SELECT DISTINCT basket_id, item_id FROM lines WHERE event = 'purchase')
            SELECT
                (SELECT count(*) FROM b x JOIN b y USING (basket_id)
                 WHERE x.item_id = $a AND y.item_id = $b),
                (SELECT count(*) FROM b WHERE item_id = $a),
                (SELECT count(*) FROM b WHERE item_id = $b),
                (SELECT count(DISTINCT basket_id) FROM b)
            """,
            {"a": a, "b": b},
        ).fetchone()
    assert row is not None
    both, n_a, n_b, n = row
    return int(both), both * n / (n_a * n_b)


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_ingest_quote_option(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text(
        ORDERS.splitlines(keepends=True)[0]
        + "1,A1,'MUG, RED',1,2010-12-01 08:26:00,2.5,17850,UK\n"
        + "1,A2,'IT''S A BAG',1,2010-12-01 08:26:00,1.5,17850,UK\n"
    )
    store = str(tmp_path / "q.duckdb")
    done = invoke("ingest", str(path), "-p", "online-retail", "--quote", "'", "-s", store, "--json")
    report = json.loads(done.stdout)["ingests"][0]
    assert (report["rows_in"], report["rows_kept"]) == (2, 2)
    stats = json.loads(invoke("stats", "--store", store, "--json").stdout)
    assert sorted(row["name"] for row in stats["top_items"]) == ["IT'S A BAG", "MUG, RED"]


def test_ingest_non_product_option_replaces_the_preset_codes(tmp_path: Path) -> None:
    path = tmp_path / "fees.csv"
    path.write_text(
        ORDERS
        + "536390,GIFT,GIFT WRAP,1,2010-12-02 10:00:00,1.0,13047,UK\n"
        + "536390,POST,POSTAGE,1,2010-12-02 10:00:00,18.0,13047,UK\n"
    )
    store = str(tmp_path / "f.duckdb")
    args = ("ingest", str(path), "-p", "online-retail", "-s", store, "--json")
    done = invoke(*args, "--non-product", " GIFT, WRAP ,")
    report = json.loads(done.stdout)["ingests"][0]
    assert report["reasons"] == {"cancellation": 1, "non_product": 1}
    assert report["rows_kept"] == 4  # POST is a product for this shop
    rejects = json.loads(invoke("rejects", "--store", store, "--json").stdout)
    fee = [row for row in rejects["rows"] if row["reason"] == "non_product"]
    assert [(row["line"], row["detail"]) for row in fee] == [(6, "item GIFT")]
    assert fee[0]["raw"]["Description"] == "GIFT WRAP"
    assert fee[0]["path"] == str(path)


@pytest.fixture
def retail_csv(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A year of a small shop written as an Online Retail export, plus two lines to reject."""
    shop = make_shop(n_users=150, n_items=60, seed=2)
    names = dict(zip(shop.catalog["item_id"], shop.catalog["name"], strict=True))
    rows = [ORDERS.splitlines()[0]]
    for r in shop.lines.itertuples():
        rows.append(
            f"{r.basket_id[1:]},{r.item_id},{names[r.item_id].upper()},{r.quantity},"
            f"{r.time:%Y-%m-%d %H:%M:%S},{r.price},{r.user_id[1:]},United Kingdom"
        )
    rows.append("C9000001,SKU00001,CANCELLED,-1,2025-06-01 10:00:00,1.0,00001,United Kingdom")
    rows.append("9000002,POST,POSTAGE,1,2025-06-01 10:00:00,18.0,00001,United Kingdom")
    path = tmp_path / "retail.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, shop.lines


def test_demo_on_a_shop_export(tmp_path: Path, retail_csv: tuple[Path, pd.DataFrame]) -> None:
    path, lines = retail_csv
    n_lines, n_baskets = len(lines), lines["basket_id"].nunique()
    n_users, n_items = lines["user_id"].nunique(), lines["item_id"].nunique()
    common = ("demo", str(path), "--preset", "online-retail", "--no-report", "--quiet")
    models = ("--models", "popularity,cooccurrence")
    done = invoke(*common, *models, "--out", str(tmp_path / "human"))
    text = " ".join(done.stdout.split())
    assert f"│ retail.csv │ lines │ {n_lines + 2:,} │ {n_lines:,} │ 2 │" in text
    # Rich folds the long store path anywhere, so compare without any white space.
    assert (
        f"xsell.duckdb:{n_lines:,}lines,{n_baskets:,}baskets,{n_users:,}customers,"
        f"{n_items:,}items,0events"
    ) in "".join(text.split())
    assert "│ cooccurrence │" in text and "│ popularity │" in text
    assert "goes with SKU" in text and "demo finished" in text

    summary = json.loads(invoke(*common, *models, "--json", "--out", str(tmp_path / "j")).stdout)
    assert summary["ingest"] == [
        {
            "path": str(path),
            "kind": "lines",
            "read": n_lines + 2,
            "kept": n_lines,
            "rejected": 2,
            "reasons": {"cancellation": 1, "non_product": 1},
        }
    ]
    assert summary["stats"] == {
        "lines": n_lines,
        "baskets": n_baskets,
        "customers": n_users,
        "items": n_items,
        "events": 0,
    }
    assert {row["model"] for row in summary["leaderboard"]["rows"]} == {
        "popularity",
        "cooccurrence",
    }
    assert "report" not in summary
    # Without a synthetic shop the anchors are the best sellers, with no planted partner.
    answers = summary["suggestions"]["answers"]
    assert len(answers) == 3 and all(a["planted_partner"] is None for a in answers)
    sold_in = lines.groupby("item_id")["basket_id"].nunique()
    assert answers[0]["item"] in set(sold_in[sold_in == sold_in.max()].index)
