"""Content model on the real Online Retail data: names carry the shop's structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import need_module, shared_file
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.split import time_split
from xsell.data.store import Store
from xsell.evaluation.protocols import basket_completion
from xsell.evaluation.runner import evaluate_model
from xsell.models import make_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> ShopData:
    path = shared_file("online_retail/online_retail.csv")
    store = Store(Path(tmp_path_factory.mktemp("retail")) / "shop.duckdb")
    ingest_lines(store, path, preset="online-retail")
    return ShopData.from_store(store)


def test_lunch_bags_go_with_lunch_bags(retail: ShopData) -> None:
    need_module("sklearn")
    model = make_model("content").fit(retail)
    answer = model.recommend_for_basket(["20725"], k=5)  # LUNCH BAG RED RETROSPOT
    assert answer["name"].str.contains("BAG").all()
    assert answer["name"].str.contains("LUNCH BAG").sum() >= 3
    assert (
        answer["reason"]
        .str.startswith("similar to 'LUNCH BAG RED RETROSPOT' (shared words '")
        .all()
    )


def test_basket_completion_beats_popularity_twice(retail: ShopData) -> None:
    need_module("sklearn")
    split = time_split(retail, "2011-10-01")
    queries = basket_completion(split, max_queries=2000, seed=0)
    content = evaluate_model(make_model("content"), split, queries, ks=(10,))
    popular = evaluate_model(make_model("popularity"), split, queries, ks=(10,))
    assert content.metrics["recall@10"] > 2 * popular.metrics["recall@10"]
