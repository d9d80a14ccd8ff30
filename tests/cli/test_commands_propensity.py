"""``xsell propensity`` as a campaign manager runs it: the list, the chart, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import run_xsell
from tests.shops import ingested
from xsell.cli.main import app
from xsell.data.synthetic import SyntheticShop, make_shop


@pytest.fixture(scope="module")
def shop() -> SyntheticShop:
    return make_shop(n_users=300, n_items=60, seed=4)


@pytest.fixture(scope="module")
def store(shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested(shop, tmp_path_factory.mktemp("campaign"))


def _category(shop: SyntheticShop) -> str:
    return str(shop.catalog["category"].value_counts().index[0])


def test_propensity_writes_the_ranked_customers_and_the_gains_chart(
    store: Path, shop: SyntheticShop, tmp_path: Path
) -> None:
    out, chart = tmp_path / "customers.csv", tmp_path / "gains.html"
    args = ["propensity", "--store", str(store), "--target", f"category={_category(shop)}"]
    args += ["--as-of", "2025-10-01", "--models", "logreg,gbdt", "--out", str(out)]
    done = CliRunner().invoke(app, [*args, "--chart", str(chart), "--json", "--top", "3"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert [m["model"] for m in summary["metrics"]] == ["logreg", "gbdt", "rfm"]
    assert summary["test_as_of"] == "2025-09-01"
    ranked = pd.read_csv(out, dtype={"user_id": str})
    assert len(ranked) == summary["customers"] and ranked["rank"].tolist()[:3] == [1, 2, 3]
    assert ranked["user_id"].isin(set(shop.lines["user_id"].astype(str))).all()
    assert [r["user_id"] for r in summary["top"]] == ranked["user_id"].head(3).tolist()
    html = chart.read_text()
    assert "plotly" in html and "share of the buyers reached" in html


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "colour=red"], "--target: expected one of category=..., item=..., family="),
        (["--target", "item=NOPE"], "--target item=NOPE: no item of the store is the item NOPE"),
        (["--target", "family=BAG", "--models", "svm"], "--models: unknown model svm"),
        (["--target", "family=BAG", "--as-of", "soon"], "--as-of: expected a date like"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    store: Path, extra: list[str], message: str, tmp_path: Path
) -> None:
    args = ["propensity", "--store", str(store), "--as-of", "2025-10-01", "--quiet"]
    done = run_xsell(*args, *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
