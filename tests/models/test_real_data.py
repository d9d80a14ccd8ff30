"""Co-occurrence on the real Online Retail orders against a pandas self-join."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_file
from xsell.data.ingest import ingest_lines
from xsell.data.shopdata import ShopData
from xsell.data.store import Store
from xsell.models import make_model

pytestmark = pytest.mark.slow

HEART = "85123A"  # WHITE HANGING HEART T-LIGHT HOLDER, the best seller


def test_online_retail_complements_match_a_pandas_self_join(tmp_path: Path) -> None:
    path = shared_file("online_retail/online_retail.csv")
    store = Store(tmp_path / "retail.duckdb")
    ingest_lines(store, path, preset="online-retail")
    data = ShopData.from_store(store)
    model = make_model("cooccurrence", measure="confidence", neighbours=None).fit(data)
    answer = model.complements(HEART, k=10)

    pairs = data.lines[["basket", "item"]].drop_duplicates()
    heart = int(data.items.to_index([HEART])[0])
    with_heart = pairs.loc[pairs["item"] == heart, "basket"]
    together = pairs[pairs["basket"].isin(with_heart) & (pairs["item"] != heart)]
    share = (together.groupby("item").size() / len(with_heart)).rename("share").reset_index()
    # Documented order: higher score first, ties to the lower item index.
    expected = share.sort_values(["share", "item"], ascending=[False, True]).head(10)
    want = data.items.to_external(expected["item"].to_numpy()).tolist()

    assert answer["item_id"].tolist() == want
    assert answer["score"].to_numpy() == pytest.approx(expected["share"].to_numpy())
    first = f"{expected['share'].iloc[0]:.0%}"
    assert (
        answer["reason"]
        .iloc[0]
        .startswith(
            f"bought with 'WHITE HANGING HEART T-LIGHT HOLDER' in {first} of its orders (lift "
        )
    )
