"""Batch exports: every list equals the model's own answer, in every format, guarded pairs out.

Oracles: the per-query API (``complements``, ``recommend``) for the rows; a count
by brute force over the order lines for the minimum group size.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.shops import fitted, standard_data
from xsell.analytics.exports import PairGuard, export_answers, queries_of
from xsell.errors import ValidationError
from xsell.models.business_rules import BusinessRules


def test_every_items_complements_are_the_models_complements(tmp_path: Path) -> None:
    model = fitted("cooccurrence")
    rules = BusinessRules(max_per_category=1)
    summary = export_answers(
        model, "complements", tmp_path / "c.parquet", k=4, rules=rules, chunk=37
    )
    rows = pd.read_parquet(tmp_path / "c.parquet")
    items = queries_of(model, "complements")
    assert summary.queries == len(items) == rows["item_id"].nunique() == 150
    assert summary.rows == len(rows)
    for item in items[::10]:
        expected = model.complements(item, k=4, rules=rules)
        got = rows[rows["item_id"] == item].sort_values("rank")
        assert got["suggestion_id"].tolist() == expected["item_id"].tolist()
        np.testing.assert_allclose(got["score"], expected["score"])
        assert got["reason"].tolist() == expected["reason"].tolist()
        # One per category, as asked.
        assert got["category"].is_unique


def test_customer_lists_in_explore_mode_never_hold_what_they_bought(tmp_path: Path) -> None:
    model = fitted("cooccurrence")
    data = standard_data()
    export_answers(model, "customers", tmp_path / "u.jsonl", k=5, mode="explore")
    rows = pd.DataFrame(
        [json.loads(line) for line in (tmp_path / "u.jsonl").read_text().splitlines()]
    )
    assert rows["customer_id"].nunique() == data.n_users
    bought = data.lines.groupby("user")["item"].apply(set)
    for customer, got in list(rows.groupby("customer_id"))[:60]:
        user = data.users.index_of(str(customer))
        ids = {data.items.index_of(i) for i in got["item_id"]}
        assert not ids & bought[user]
        expected = model.recommend([str(customer)], k=5, mode="explore")
        assert got.sort_values("rank")["item_id"].tolist() == expected["item_id"].tolist()


def test_csv_and_jsonl_hold_the_rows_of_the_parquet_file(tmp_path: Path) -> None:
    model = fitted("cooccurrence")
    for name in ("c.parquet", "c.csv", "c.jsonl"):
        export_answers(model, "complements", tmp_path / name, k=3)
    parquet = pd.read_parquet(tmp_path / "c.parquet")
    csv = pd.read_csv(tmp_path / "c.csv", dtype={"item_id": str, "suggestion_id": str})
    jsonl = pd.read_json(tmp_path / "c.jsonl", lines=True, dtype={"item_id": str})
    for other in (csv, jsonl):
        assert other["suggestion_id"].astype(str).tolist() == parquet["suggestion_id"].tolist()
        np.testing.assert_allclose(other["score"], parquet["score"])


def test_pairs_bought_by_too_few_customers_are_left_out_and_refilled(tmp_path: Path) -> None:
    model = fitted("cooccurrence")
    data = standard_data()
    lines = data.lines[data.lines["user"] >= 0][["basket", "user", "item"]].drop_duplicates()
    pairs = lines.merge(lines, on=["basket", "user"])
    customers = pairs.groupby(["item_x", "item_y"])["user"].nunique()
    floor = int(np.percentile(customers.to_numpy(), 90))
    export_answers(model, "complements", tmp_path / "g.parquet", k=5, guard=PairGuard(data, floor))
    rows = pd.read_parquet(tmp_path / "g.parquet")
    shown = rows[rows["source"] == "model"]
    assert len(shown) > 0 and (rows["source"] == "fallback").any()
    for anchor, partner in zip(shown["item_id"], shown["suggestion_id"], strict=True):
        key = (data.items.index_of(anchor), data.items.index_of(partner))
        assert customers.get(key, 0) >= floor
    assert rows.groupby("item_id").size().eq(5).all()
    for ranks in rows.groupby("item_id")["rank"]:
        assert all(b == a + 1 for a, b in pairwise(ranks[1].tolist()))


def test_an_unknown_format_names_the_ones_written(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"c\.xlsx: .*\.csv"):
        export_answers(fitted("cooccurrence"), "complements", tmp_path / "c.xlsx", k=3)
