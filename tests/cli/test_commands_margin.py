"""``xsell margin-sweep`` and ``xsell recommend --objective margin`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import run_xsell
from tests.shops import ingested
from xsell.cli.main import app
from xsell.data.synthetic import SyntheticShop, make_shop
from xsell.models import BusinessRules, load_model


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return make_shop(n_users=200, n_items=60, seed=5)


@pytest.fixture(scope="module")
def store(shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested(shop, tmp_path_factory.mktemp("margin"))


def test_margin_sweep_prints_and_writes_the_trade_off(store: Path, tmp_path: Path) -> None:
    args = ["margin-sweep", "--store", str(store), "--split", "2025-11-01"]
    args += ["--sensitivities", "0,1", "--max-queries", "300", "--out", str(tmp_path / "s")]
    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert [r["sensitivity"] for r in summary["rows"]] == [0.0, 1.0]
    assert summary["rows"][0]["margin_change"] == 0.0
    assert (tmp_path / "s" / "sweep.html").exists()


def test_recommend_ranks_by_expected_margin(
    store: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    runner = CliRunner()
    bundle = tmp_path / "bundle"
    trained = runner.invoke(
        app, ["train", "cooccurrence", "--store", str(store), "--out", str(bundle), "-q"]
    )
    assert trained.exit_code == 0, trained.output
    anchor = shop.planted_pairs[0].anchor
    args = ["recommend", "--bundle", str(bundle), "--basket", anchor, "--k", "5", "--json"]
    shown = runner.invoke(app, [*args, "--objective", "margin", "--margin-sensitivity", "1"])
    assert shown.exit_code == 0, shown.output
    expected = load_model(bundle).recommend_for_basket(
        [anchor], k=5, rules=BusinessRules(objective="margin", margin_sensitivity=1.0)
    )
    assert [r["item_id"] for r in json.loads(shown.output)] == expected["item_id"].tolist()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["margin-sweep", "--sensitivities", "0,x"], "--sensitivities: expected numbers in [0, 1]"),
        (["margin-sweep", "--sensitivities", "0,3"], "margin_sensitivity must be in [0, 1], got 3"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    store: Path, args: list[str], message: str, tmp_path: Path
) -> None:
    done = run_xsell(*args, "--store", str(store), "-q", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_bundles_are_priced_above_the_margin_floor(store: Path) -> None:
    args = ["bundles", "--store", str(store), "--k", "3", "--margin-floor", "0.25"]
    done = CliRunner().invoke(app, [*args, "--elasticity", "4", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["elasticity"] == "price elasticity 4.00 set by the user"
    priced = [b for b in summary["bundles"] if b["discount"] is not None]
    assert priced
    for bundle in priced:
        assert 0.0 <= bundle["discount"] <= 0.5
        assert bundle["margin_share_after"] >= 0.25 - 1e-9
        assert bundle["bundle_price"] == pytest.approx(bundle["price"] * (1 - bundle["discount"]))


def test_bundles_refuse_a_floor_outside_zero_to_one(store: Path, tmp_path: Path) -> None:
    done = run_xsell("bundles", "--store", str(store), "--margin-floor", "1.5", "-q", cwd=tmp_path)
    assert done.returncode == 2
    assert "--margin-floor: expected a share of the price in [0, 1), got 1.5" in done.stderr
