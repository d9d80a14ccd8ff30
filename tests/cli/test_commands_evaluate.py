"""``xsell evaluate`` and ``xsell tune`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_xsell
from xsell.data.synthetic import make_shop
from xsell.evaluation import latest_leaderboard


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    make_shop(n_users=300, seed=1).write(folder / "shop")
    done = run_xsell("ingest", "shop/orders.csv", "--catalog", "shop/catalog.csv", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_evaluate_json_files_and_store(shop_store: Path) -> None:
    done = run_xsell(
        "evaluate",
        "--models",
        "popularity,cooccurrence",
        "--protocol",
        "basket-completion",
        "--split",
        "2025-10-01",
        "--k",
        "5,10",
        "--max-queries",
        "500",
        "--json",
        "--out",
        "board",
        cwd=shop_store,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["protocol"] == "basket-completion" and payload["ks"] == [5, 10]
    assert payload["n_queries"] == 500
    assert {r["model"] for r in payload["rows"]} == {"popularity", "cooccurrence"}
    recalls = [r["recall@10"] for r in payload["rows"]]
    assert recalls == sorted(recalls, reverse=True) and all(0 <= r <= 1 for r in recalls)
    assert (shop_store / "board/leaderboard.html").exists()
    assert payload["files"]["json"] == "board/leaderboard.json"
    assert payload["saved_to_store"]
    board = latest_leaderboard(shop_store / "xsell.duckdb")
    assert board is not None and board.run_id == payload["run_id"]


def test_evaluate_table_next_basket(shop_store: Path) -> None:
    done = run_xsell("evaluate", "--protocol", "next-basket", "--no-save", cwd=shop_store)
    assert done.returncode == 0, done.stderr
    assert "next-basket" in done.stdout and "popularity" in done.stdout
    assert "saved in" not in done.stdout


def test_tune_json(shop_store: Path) -> None:
    done = run_xsell(
        "tune", "popularity", "--trials", "2", "--split", "2025-10-01", "--json", cwd=shop_store
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["trials"]) == 2 and set(result["best_params"]) == {"half_life_days"}
    assert result["best_value"] == max(t["value"] for t in result["trials"])
    assert result["validation"]["split"] == "2025-10-01"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--models", "popularity,magic"], "unknown model 'magic'; choose from"),
        (["evaluate", "--protocol", "guess"], "--protocol must be one of"),
        (["evaluate", "--hide", "all"], "--hide must be one of ['one', 'half'], got 'all'"),
        (["evaluate", "--k", "5,ten"], "--k must be comma-separated integers"),
        (["evaluate", "--split", "someday"], "--split must be a date"),
        (["evaluate", "--param", "popularity.alpha=2"], "has no parameter 'alpha'"),
        (["evaluate", "--param", "als.factors=2"], "model 'als' is not among --models"),
        (["evaluate", "--param", "factors=2"], "expected model.name=value"),
        (["tune", "magic"], "unknown model 'magic'; choose one of"),
        (["tune", "popularity", "--space", "alpha=1:2"], "has no parameter 'alpha'"),
        (["tune", "popularity", "--metric", "coverage@10"], "rank metric must be one of"),
    ],
)
def test_bad_input_is_one_red_line(shop_store: Path, args: list[str], message: str) -> None:
    done = run_xsell(*args, cwd=shop_store)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_evaluate_in_explore_mode_runs_every_model_that_way(shop_store: Path) -> None:
    done = run_xsell(
        "evaluate", "--models", "popularity,neighbours", "--protocol", "next-basket",
        "--split", "last-basket", "--mode", "explore", "--k", "10", "--json", "--no-save",
        cwd=shop_store,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    board = json.loads(done.stdout)
    assert board["details"]["mode"] == "explore"
    assert {r["model"] for r in board["rows"]} == {"popularity", "neighbours"}
    for row in board["rows"]:
        assert row["recall_repeat@10"] == 0.0
        assert row["recall_new@10"] > 0.0


def test_a_bad_mode_is_one_line_and_exit_code_2(shop_store: Path) -> None:
    done = run_xsell("evaluate", "--models", "popularity", "--mode", "new", cwd=shop_store)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: mode must be one of ['mixed', 'explore', 'repeat'], got 'new'"
    ]
