"""``xsell train`` and ``xsell recommend`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import run_xsell
from tests.shops import ingested
from xsell.cli.main import app
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import load_model


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return make_shop(n_users=200, n_items=60, seed=3)


@pytest.fixture(scope="module")
def store(shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested(shop, tmp_path_factory.mktemp("shop"))


def test_train_saves_a_bundle_that_recommend_answers_from(
    store: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    runner = CliRunner()
    bundle = tmp_path / "bundle"
    args = ["train", "cooccurrence", "--store", str(store), "--out", str(bundle), "--quiet"]
    trained = runner.invoke(
        app, [*args, "--param", "measure=lift", "--param", "neighbours=50", "--json"]
    )
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.output)
    assert summary["params"]["measure"] == "lift" and summary["params"]["neighbours"] == 50
    assert summary["model"] == "cooccurrence" and summary["items"] == 60
    assert np.isfinite(summary["fit_seconds"])
    model = load_model(bundle)
    anchor = shop.planted_pairs[0].anchor
    shown = runner.invoke(
        app, ["recommend", "--bundle", str(bundle), "--item", anchor, "--k", "3", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert [r["item_id"] for r in rows] == model.complements(anchor, k=3)["item_id"].tolist()
    assert set(rows[0]) == {
        "rank",
        "item_id",
        "name",
        "category",
        "price",
        "score",
        "reason",
        "source",
    }
    table = runner.invoke(app, ["recommend", "--bundle", str(bundle), "--basket", f"{anchor},nope"])
    assert table.exit_code == 0
    assert "unknown item ids, answered without them: nope" in " ".join(table.output.split())
    customer = str(shop.lines["user_id"].dropna().iloc[0])
    mine = runner.invoke(
        app, ["recommend", "--bundle", str(bundle), "--customer", customer, "--json"]
    )
    assert mine.exit_code == 0 and len(json.loads(mine.output)) == 10


@pytest.fixture(scope="module")
def bundle(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "cooc"
    args = ["train", "cooccurrence", "--store", str(store), "--out", str(out), "--quiet"]
    assert CliRunner().invoke(app, args).exit_code == 0
    return out


def _ask(bundle: Path, *args: str) -> list[dict[str, object]]:
    done = CliRunner().invoke(app, ["recommend", "--bundle", str(bundle), *args, "--json"])
    assert done.exit_code == 0, done.output
    rows: list[dict[str, object]] = json.loads(done.output)
    return rows


def test_recommend_applies_the_business_rules(bundle: Path, shop: SyntheticShop) -> None:
    anchor = shop.planted_pairs[0].anchor
    free = _ask(bundle, "--item", anchor, "--k", "20")
    prices = {row["item_id"]: row["price"] for row in free}
    low, high = sorted(p for p in prices.values() if isinstance(p, float))[len(prices) // 4 :][:2]
    banded = _ask(
        bundle, "--item", anchor, "--k", "20", "--min-price", str(low), "--max-price", str(high)
    )
    assert banded and all(low <= float(str(row["price"])) <= high for row in banded)
    # What the unbanded top 20 holds inside the band comes first, in the same order.
    kept = [row["item_id"] for row in free if low <= float(str(row["price"])) <= high]
    assert kept and [row["item_id"] for row in banded][: len(kept)] == kept
    denied = [str(row["item_id"]) for row in free[:3]]
    rest = _ask(bundle, "--item", anchor, "--k", "5", "--deny", ",".join(denied))
    assert not {row["item_id"] for row in rest} & set(denied)
    first = str(free[0]["category"])
    capped = _ask(bundle, "--item", anchor, "--k", "10", "--exclude-category", first)
    assert capped and all(row["category"] != first for row in capped)
    one_each = _ask(bundle, "--item", anchor, "--k", "10", "--max-per-category", "1")
    categories = [row["category"] for row in one_each]
    assert len(categories) == len(set(categories))


def test_recommend_leaves_out_what_the_customer_bought_unless_asked(
    bundle: Path, shop: SyntheticShop
) -> None:
    lines = shop.lines.dropna(subset=["user_id"])
    customer = str(lines["user_id"].value_counts().index[0])
    bought = set(lines.loc[lines["user_id"].astype(str) == customer, "item_id"].astype(str))
    fresh = _ask(bundle, "--customer", customer, "--k", "10")
    assert fresh and not {row["item_id"] for row in fresh} & bought
    again = _ask(bundle, "--customer", customer, "--k", "10", "--include-seen")
    assert {row["item_id"] for row in again} & bought


def test_recommend_explains_which_rule_removed_what(bundle: Path, shop: SyntheticShop) -> None:
    anchor = shop.planted_pairs[0].anchor
    free = _ask(bundle, "--item", anchor, "--k", "5")
    denied = str(free[0]["item_id"])
    rows = _ask(bundle, "--item", anchor, "--k", "5", "--deny", denied, "--explain")
    assert rows[0]["trace"] == {"in_basket": [anchor], "deny": [denied]}
    shown = CliRunner().invoke(
        app, ["recommend", "--bundle", str(bundle), "--item", anchor, "--deny", denied, "--explain"]
    )
    text = " ".join(shown.output.split())
    assert f"deny removed 1: {denied}" in text
    assert "price" in text and "source" in text and "model" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "--bundle", "b"], "give one of --basket ID,ID, --customer ID or --item ID"),
        (
            ["recommend", "--bundle", "b", "--basket", "x", "--item", "y"],
            "give --basket or --item, not both",
        ),
        (
            ["recommend", "--bundle", "b", "--item", "x", "--min-price", "nan"],
            "--min-price must be a finite number, got nan",
        ),
        (
            ["recommend", "--bundle", "nowhere", "--item", "x"],
            "nowhere: not an xsell model bundle (no model.json)",
        ),
        (
            ["train", "cooccurrence", "--store", "x.duckdb", "--param", "measure", "--out", "b"],
            "--param expects name=value, got 'measure'",
        ),
        (
            [
                "train",
                "cooccurrence",
                "--store",
                "x.duckdb",
                "--param",
                "measure=lyft",
                "--out",
                "b",
            ],
            "cooccurrence: measure must be one of",
        ),
        (
            ["train", "magic", "--store", "x.duckdb", "--out", "b"],
            "unknown model 'magic'; choose one of",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(store: Path, args: list[str], message: str) -> None:
    done = run_xsell(*args, cwd=store.parent)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and not (store.parent / "b").exists()


def test_recommend_explain_shows_the_rankers_contributions(
    store: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    runner = CliRunner()
    bundle = tmp_path / "reranker"
    params = ["--param", "n_estimators=20", "--param", "max_queries=600"]
    args = ["train", "reranker", "--store", str(store), "--out", str(bundle), "--quiet"]
    trained = runner.invoke(app, [*args, *params])
    assert trained.exit_code == 0, trained.output
    anchor = shop.planted_pairs[0].anchor
    base = ["recommend", "--bundle", str(bundle), "--basket", anchor, "--k", "3"]
    shown = runner.invoke(app, [*base, "--explain", "--json"])
    assert shown.exit_code == 0, shown.output
    rows = [r for r in json.loads(shown.output) if r["source"] == "model"]
    assert rows
    for row in rows:
        numbers = row["contributions"]
        total = numbers["base"] + sum(c["contribution"] for c in numbers["contributions"])
        assert total == pytest.approx(row["score"], abs=1e-6)
        assert "ranked up by: " in row["reason"]
    plain = runner.invoke(app, [*base, "--json"])
    assert all("ranked up by" not in r["reason"] for r in json.loads(plain.output))


def test_an_old_pickled_bundle_is_refused_with_a_word_to_retrain(store: Path) -> None:
    old = store.parent / "old"
    old.mkdir()
    (old / "model.json").write_text(json.dumps({"format": 1, "model": "itemknn"}))
    done = run_xsell("recommend", "--bundle", "old", "--item", "x", cwd=store.parent)
    assert done.returncode == 2
    assert "bundle format 1 stores the model as a pickle" in done.stderr
    assert "retrain it with `xsell train itemknn`" in done.stderr
    assert "Traceback" not in done.stderr


def test_train_with_slots_then_recommend_in_each_mode(store: Path) -> None:
    folder = store.parent
    done = run_xsell(
        "train", "personal", "--store", "x.duckdb", "--slots", "--out", "slotted", "--json",
        cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    slots = json.loads(done.stdout)["slots"]
    assert len(slots["shares"]) == len(slots["edges"]) + 1
    orders = pd.read_csv(folder / "shop" / "orders.csv", dtype=str)
    customer = orders["user_id"].value_counts().index[0]
    bought = set(orders.loc[orders["user_id"] == customer, "item_id"])
    answers = {}
    for mode in ("explore", "repeat", "mixed"):
        done = run_xsell(
            "recommend", "--bundle", "slotted", "--customer", customer, "--k", "8",
            "--mode", mode, "--json", cwd=folder,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        answers[mode] = [r["item_id"] for r in json.loads(done.stdout)]
    assert len(answers["explore"]) == 8 and not set(answers["explore"]) & bought
    assert len(bought) >= 8 and set(answers["repeat"]) <= bought
    assert set(answers["mixed"]) <= set(answers["explore"]) | set(answers["repeat"]) | bought


def test_a_bad_mode_is_one_line_and_exit_code_2(store: Path) -> None:
    done = run_xsell(
        "recommend", "--bundle", "nowhere", "--customer", "U00001", "--mode", "x",
        cwd=store.parent,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: mode must be one of ['mixed', 'explore', 'repeat'], got 'x'"
    ]
