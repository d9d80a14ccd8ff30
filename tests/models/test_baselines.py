"""Popularity and personal history against hand computations; the train / recommend CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xsell.cli.main import app
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import make_shop
from xsell.models import load_model, make_model


@pytest.fixture(scope="module")
def dated() -> ShopData:
    # u1 buys milk on days 0, 10, 20 and bread on day 0; u2 buys bread and jam on day 20.
    frame = pd.DataFrame(
        {
            "basket": ["1", "1", "2", "3", "4", "4"],
            "user": ["u1", "u1", "u1", "u1", "u2", "u2"],
            "item": ["milk", "bread", "milk", "milk", "bread", "jam"],
            "time": pd.to_datetime(
                ["2025-01-01", "2025-01-01", "2025-01-11", "2025-01-21", "2025-01-21", "2025-01-21"]
            ),
        }
    )
    catalog = pd.DataFrame(
        {"item_id": ["milk", "bread", "jam"], "category": ["Dairy", "Bakery", "Bakery"]}
    )
    return ShopData.from_frame(
        frame, basket="basket", user="user", item="item", time="time", catalog=catalog
    )


def test_popularity_counts_recent_and_per_category(dated: ShopData) -> None:
    plain = make_model("popularity").fit(dated)
    assert plain.recommend_for_basket([], k=3)["item_id"].tolist() == ["milk", "bread", "jam"]
    recent = make_model("popularity", half_life_days=10).fit(dated)
    counts = dict(zip(dated.items.ids, recent.counts_, strict=True))  # type: ignore[attr-defined]
    # milk: ages 20, 10, 0 -> 0.25 + 0.5 + 1; bread: 0.25 + 1; jam: 1
    assert counts == pytest.approx({"milk": 1.75, "bread": 1.25, "jam": 1.0})
    local = make_model("popularity", per_category=True).fit(dated)
    answer = local.recommend_for_basket(["bread"], k=2)
    assert answer["item_id"].tolist() == ["jam", "milk"]
    assert answer["reason"].iloc[0].startswith("popular in Bakery, a category of the cart")


def test_personal_repeat_scores_and_reasons(dated: ShopData) -> None:
    model = make_model("personal", half_life_days=10).fit(dated)
    answer = model.recommend(["u1"], k=3, exclude_seen=False)
    assert answer["item_id"].tolist() == ["milk", "bread", "jam"]
    assert answer["score"].iloc[0] == pytest.approx(1 + 1.75)
    assert answer["score"].iloc[1] == pytest.approx(1 + 0.25)
    assert answer["score"].iloc[2] < 1.0
    assert answer["reason"].tolist()[:2] == [
        "repeat: you bought it in 3 of your orders",
        "repeat: you bought it in 1 of your orders",
    ]
    assert answer["reason"].iloc[2].startswith("new for you: popular in the shop")
    guest = model.recommend(["stranger"], k=2, exclude_seen=False)
    assert guest["reason"].str.startswith("unknown customer stranger; popular in the shop").all()


def test_personal_learns_new_orders_live(dated: ShopData) -> None:
    model = make_model("personal", half_life_days=None).fit(dated)
    model.update([["jam", "honey"], ["honey"]], ["u2", "u3"])
    answer = model.recommend(["u2"], k=3, exclude_seen=False)
    assert answer["item_id"].tolist()[:1] == ["jam"]  # bought twice now
    assert answer["score"].iloc[0] == pytest.approx(3.0)
    assert model.recommend(["u3"], k=1, exclude_seen=False)["item_id"].tolist() == ["honey"]


def _xsell(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsell.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_train_and_recommend_commands(tmp_path: Path) -> None:
    shop = make_shop(n_users=200, n_items=60, seed=3)
    shop.write(tmp_path / "shop")
    store = tmp_path / "x.duckdb"
    runner = CliRunner()
    ingest = runner.invoke(
        app, ["ingest", str(tmp_path / "shop" / "orders.csv"), "--store", str(store), "--quiet"]
    )
    assert ingest.exit_code == 0, ingest.output
    bundle = tmp_path / "bundle"
    trained = runner.invoke(
        app,
        [
            "train",
            "cooccurrence",
            "--store",
            str(store),
            "--param",
            "measure=lift",
            "--param",
            "neighbours=50",
            "--out",
            str(bundle),
            "--quiet",
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.output)
    assert summary["params"]["measure"] == "lift" and summary["params"]["neighbours"] == 50
    model = load_model(bundle)
    anchor = shop.planted_pairs[0].anchor
    shown = runner.invoke(
        app, ["recommend", "--bundle", str(bundle), "--item", anchor, "--k", "3", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [r["item_id"] for r in rows] == model.complements(anchor, k=3)["item_id"].tolist()
    table = runner.invoke(app, ["recommend", "--bundle", str(bundle), "--basket", f"{anchor},nope"])
    assert table.exit_code == 0 and "unknown item nope" in table.output
    missing = _xsell("recommend", "--bundle", str(bundle), cwd=tmp_path)
    assert missing.returncode == 2
    assert "give one of --basket ID,ID, --customer ID or --item ID" in missing.stderr
    bad = _xsell(
        "train",
        "cooccurrence",
        "--store",
        str(store),
        "--param",
        "measure",
        "--out",
        "b",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "--param expects name=value, got 'measure'" in bad.stderr
    assert np.isfinite(summary["fit_seconds"])


def test_items_without_a_category_are_not_capped_together() -> None:
    # No catalog: no item has a category, so a cap of one per category removes nothing.
    frame = pd.DataFrame(
        {"basket": ["1", "1", "1", "1", "2", "2", "3"], "item": ["a", "b", "c", "d", "a", "b", "e"]}
    )
    data = ShopData.from_frame(frame, basket="basket", item="item")
    model = make_model("cooccurrence", measure="count").fit(data)
    capped = model.recommend_for_basket(["a"], k=3, rules={"max_per_category": 1})
    free = model.recommend_for_basket(["a"], k=3)
    assert capped["item_id"].tolist() == free["item_id"].tolist() == ["b", "c", "d"]


def test_fallback_fills_from_the_cart_category_then_the_shop(dated: ShopData) -> None:
    # Jam was only bought with bread: a cart of jam has evidence for bread and nothing else.
    model = make_model("cooccurrence", measure="count").fit(dated)
    answer = model.recommend_for_basket(["jam"], k=2)
    assert answer["item_id"].tolist() == ["bread", "milk"]
    assert answer["source"].tolist() == ["model", "fallback"]
    # Milk (3 orders) is not in the cart's category (Bakery): the shop's best seller fills in.
    assert answer["reason"].iloc[1] == "no co-purchase evidence; popular in the shop (3 orders)"
    lone = model.recommend_for_basket(["milk"], k=2)
    # Milk has no partner of its own category; bread (bought with it once) is evidence.
    assert lone["source"].tolist()[0] == "model"
