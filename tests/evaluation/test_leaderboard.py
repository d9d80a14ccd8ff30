"""The leaderboard: ranking, files, the store, and a chart that really draws bars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import colored_pixels, need_module, need_program
from tests.evaluation.doubles import SpyCooccurrence
from xsell.data.shopdata import ShopData
from xsell.data.splits import Split, make_split
from xsell.data.store import Store
from xsell.errors import StoreError, ValidationError
from xsell.evaluation import Leaderboard, evaluate, latest_leaderboard
from xsell.evaluation.leaderboard import check_rank_metric


@pytest.fixture(scope="module")
def split(shop_data: ShopData) -> Split:
    return make_split(shop_data, "2025-10-01")


def test_rows_are_ranked_by_recall_at_10_or_the_middle_k() -> None:
    rows = [{"model": "a", "recall@5": 0.1, "recall@10": 0.5}, {"model": "b", "recall@5": 0.3}]
    board = Leaderboard.from_runs(rows, protocol="p", split="s", ks=[5, 10])
    assert board.rank_by == "recall@10" and [r["model"] for r in board.rows] == ["a", "b"]
    board = Leaderboard.from_runs(rows, protocol="p", split="s", ks=[1, 5, 20])
    assert board.rank_by == "recall@5" and [r["model"] for r in board.rows] == ["b", "a"]
    board = Leaderboard.from_runs(rows, protocol="p", split="s", ks=[5], rank_by="recall@5")
    assert [r["model"] for r in board.rows] == ["b", "a"]


def test_files_and_the_store(tmp_path: Path, split: Split) -> None:
    board = evaluate(
        ["popularity", SpyCooccurrence()],
        split,
        "basket-completion",
        ks=[5, 10],
        max_queries=200,
        split_name="2025-10-01",
        dataset="synthetic",
    )
    written = board.write(tmp_path / "out", png=False)
    payload = json.loads((tmp_path / "out/leaderboard.json").read_text())
    assert payload["rows"][0]["model"] == board.rows[0]["model"]
    assert Leaderboard.from_dict(payload) == board
    markdown = (tmp_path / "out/leaderboard.md").read_text()
    assert "| # | model | recall@5 | recall@10 |" in markdown
    assert markdown.startswith(
        "**basket-completion (synthetic, split 2025-10-01, 200 queries)** — ranked by recall@10"
    )
    assert "plotly" in (tmp_path / "out/leaderboard.html").read_text()[:200_000].lower()
    assert written["png"] is None
    table = board.to_rich()
    assert [c.header for c in table.columns][:3] == ["model", "R@5", "R@10"]

    store = Store(tmp_path / "shop.duckdb")
    with pytest.raises(StoreError, match="no store here; create one with `xsell ingest"):
        latest_leaderboard(store)
    board.save_to_store(store)
    other = evaluate(["popularity"], split, "item-to-item", max_queries=50)
    other.created_at = "2999-01-01T00:00:00"  # strictly later than the first
    other.save_to_store(store)
    latest = latest_leaderboard(store)
    assert latest is not None and latest.run_id == other.run_id
    assert latest_leaderboard(store, protocol="basket-completion") == board
    assert latest_leaderboard(store, protocol="next-basket") is None


def test_rank_metric_names_are_checked() -> None:
    check_rank_metric("ndcg@10", [5, 10])
    with pytest.raises(
        ValidationError, match=r"rank metric must be one of \[.*\] at one of k=\[5, 10\] "
    ):
        check_rank_metric("coverage@10", [5, 10])
    with pytest.raises(ValidationError, match=r"\(like recall@5\), got 'recall@20'"):
        check_rank_metric("recall@20", [5, 10])


def test_the_png_is_a_real_chart(tmp_path: Path, split: Split) -> None:
    need_module("kaleido")
    need_program("chromium")  # kaleido draws with the system Chromium
    board = evaluate(["popularity", "cooccurrence"], split, "basket-completion", max_queries=100)
    written = board.write(tmp_path / "out")
    assert written["png"] == tmp_path / "out/leaderboard.png", board.png_error
    data = (tmp_path / "out/leaderboard.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 400 and height >= 300
    # Bars in color, not an empty canvas (a blank Plotly figure has none).
    assert colored_pixels(data) > 2_000
    blank = board.figure()
    blank.data = ()
    assert colored_pixels(blank.to_image(format="png")) == 0
