"""``xsell train`` and ``xsell recommend`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import run_xsell
from xsell.cli.main import app
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import load_model


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return make_shop(n_users=200, n_items=60, seed=3)


@pytest.fixture(scope="module")
def store(shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    shop.write(folder / "shop")
    done = run_xsell("ingest", "shop/orders.csv", "--store", "x.duckdb", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "x.duckdb"


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
    assert table.exit_code == 0 and "unknown item nope" in table.output
    customer = str(shop.lines["user_id"].dropna().iloc[0])
    mine = runner.invoke(
        app, ["recommend", "--bundle", str(bundle), "--customer", customer, "--json"]
    )
    assert mine.exit_code == 0 and len(json.loads(mine.output)) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recommend", "--bundle", "b"], "give one of --basket ID,ID, --customer ID or --item ID"),
        (
            ["recommend", "--bundle", "b", "--basket", "x", "--item", "y"],
            "give --basket or --item, not both",
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


def test_an_old_pickled_bundle_is_refused_with_a_word_to_retrain(store: Path) -> None:
    old = store.parent / "old"
    old.mkdir()
    (old / "model.json").write_text(json.dumps({"format": 1, "model": "itemknn"}))
    done = run_xsell("recommend", "--bundle", "old", "--item", "x", cwd=store.parent)
    assert done.returncode == 2
    assert "bundle format 1 stores the model as a pickle" in done.stderr
    assert "retrain it with `xsell train itemknn`" in done.stderr
    assert "Traceback" not in done.stderr
