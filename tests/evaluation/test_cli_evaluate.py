"""``xsell evaluate`` and ``xsell tune`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xsell.data.synthetic import make_shop
from xsell.evaluation import latest_leaderboard


def xsell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    make_shop(n_users=300, seed=1).write(folder / "shop")
    done = xsell("ingest", "shop/orders.csv", "--catalog", "shop/catalog.csv", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_evaluate_json_files_and_store(shop_store: Path) -> None:
    done = xsell(
        "evaluate",
        "--models",
        "popularity",
        "--protocol",
        "basket-completion",
        "--split",
        "2025-10-01",
        "--k",
        "5,10",
        "--json",
        "--out",
        "board",
        cwd=shop_store,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["protocol"] == "basket-completion" and payload["ks"] == [5, 10]
    assert payload["rows"][0]["model"] == "popularity"
    assert 0 <= payload["rows"][0]["recall@10"] <= 1
    assert (shop_store / "board/leaderboard.html").exists()
    assert payload["saved_to_store"]
    assert latest_leaderboard(shop_store / "xsell.duckdb").run_id == payload["run_id"]


def test_evaluate_table_next_basket(shop_store: Path) -> None:
    done = xsell("evaluate", "--protocol", "next-basket", "--no-save", cwd=shop_store)
    assert done.returncode == 0, done.stderr
    assert "next-basket" in done.stdout and "popularity" in done.stdout


def test_tune_json(shop_store: Path) -> None:
    done = xsell(
        "tune", "popularity", "--trials", "2", "--split", "2025-10-01", "--json", cwd=shop_store
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["trials"]) == 2 and "half_life_days" in result["best_params"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--models", "popularity,magic"], "unknown model 'magic'; choose from"),
        (["evaluate", "--protocol", "guess"], "--protocol must be one of"),
        (["evaluate", "--k", "5,ten"], "--k must be comma-separated integers"),
        (["evaluate", "--split", "someday"], "--split must be a date"),
        (["evaluate", "--param", "popularity.alpha=2"], "has no parameter 'alpha'"),
        (["evaluate", "--param", "als.factors=2"], "model 'als' is not among --models"),
        (["tune", "popularity", "--space", "alpha=1:2"], "has no parameter 'alpha'"),
    ],
)
def test_bad_input_is_one_red_line(shop_store: Path, args: list[str], message: str) -> None:
    done = xsell(*args, cwd=shop_store)
    assert done.returncode == 2
    assert message in done.stderr
