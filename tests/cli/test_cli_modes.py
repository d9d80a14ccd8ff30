"""``--mode`` and ``--slots`` of ``xsell evaluate``, ``xsell train`` and ``xsell recommend``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from xsell.data.synthetic import make_shop


def xsell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("modes")
    make_shop(n_users=250, n_items=100, seed=2).write(folder / "shop")
    done = xsell("ingest", "shop/orders.csv", "--catalog", "shop/catalog.csv", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_evaluate_in_explore_mode_runs_every_model_that_way(shop: Path) -> None:
    done = xsell(
        "evaluate", "--models", "popularity,neighbours", "--protocol", "next-basket",
        "--split", "last-basket", "--mode", "explore", "--k", "10", "--json", "--no-save",
        cwd=shop,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    board = json.loads(done.stdout)
    assert board["details"]["mode"] == "explore"
    assert {r["model"] for r in board["rows"]} == {"popularity", "neighbours"}
    for row in board["rows"]:
        assert row["recall_repeat@10"] == 0.0
        assert row["recall_new@10"] > 0.0


def test_a_bad_mode_is_one_line_and_exit_code_2(shop: Path) -> None:
    done = xsell("evaluate", "--models", "popularity", "--mode", "new", cwd=shop)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: mode must be one of ['mixed', 'explore', 'repeat'], got 'new'"
    ]
    done = xsell(
        "recommend", "--bundle", "nowhere", "--customer", "U00001", "--mode", "x", cwd=shop
    )
    assert done.returncode == 2
    assert "mode must be one of" in done.stderr and "Traceback" not in done.stderr


def test_train_with_slots_then_recommend_in_each_mode(shop: Path) -> None:
    done = xsell("train", "personal", "--slots", "--out", "bundle", "--json", cwd=shop)
    assert done.returncode == 0, done.stderr
    slots = json.loads(done.stdout)["slots"]
    assert len(slots["shares"]) == len(slots["edges"]) + 1
    orders = pd.read_csv(shop / "shop" / "orders.csv", dtype=str)
    customer = orders["user_id"].value_counts().index[0]
    bought = set(orders.loc[orders["user_id"] == customer, "item_id"])
    answers = {}
    for mode in ("explore", "repeat", "mixed"):
        done = xsell(
            "recommend", "--bundle", "bundle", "--customer", customer, "--k", "8",
            "--mode", mode, "--json", cwd=shop,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        answers[mode] = [r["item_id"] for r in json.loads(done.stdout)]
    assert len(answers["explore"]) == 8 and not set(answers["explore"]) & bought
    assert len(bought) >= 8 and set(answers["repeat"]) <= bought
    assert set(answers["mixed"]) <= set(answers["explore"]) | set(answers["repeat"]) | bought
