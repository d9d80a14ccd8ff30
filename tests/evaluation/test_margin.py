"""The margin sweep: sensitivity 0 is the plain evaluation, margin@k by hand from the answers,
what it writes, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.shops import build, standard_data
from xsell.data.splits import make_split
from xsell.errors import ValidationError
from xsell.evaluation import evaluate_model, make_queries
from xsell.evaluation.margin import margin_sweep
from xsell.evaluation.runner import recommend_queries
from xsell.models import BusinessRules


@pytest.fixture(scope="module")
def sweep() -> object:
    split = make_split(standard_data(), "2025-11-01")
    return margin_sweep(
        build("cooccurrence"),
        split,
        sensitivities=(0.5, 1.0),
        k=10,
        split_name="2025-11-01",
        max_queries=800,
    )


def test_sensitivity_zero_is_the_plain_evaluation(sweep: object) -> None:
    split = make_split(standard_data(), "2025-11-01")
    queries = make_queries("basket-completion", split, max_queries=800, seed=0)
    run = evaluate_model(build("cooccurrence"), split, queries, [10])
    plain = sweep.at(0.0)  # type: ignore[attr-defined]
    assert plain["recall@10"] == pytest.approx(run.metrics["recall@10"])
    assert plain["margin@10"] == pytest.approx(run.metrics["margin@10"])
    assert sweep.table["sensitivity"].tolist() == [0.0, 0.5, 1.0]  # type: ignore[attr-defined]
    assert plain["margin_change"] == 0.0


def test_margin_at_k_is_the_margin_of_the_hits_by_hand(sweep: object) -> None:
    data = standard_data()
    split = make_split(data, "2025-11-01")
    queries = make_queries("basket-completion", split, max_queries=800, seed=0)
    model = build("cooccurrence").fit(split.train)
    rules = BusinessRules(objective="margin", margin_sensitivity=1.0)
    recs = recommend_queries(model, queries, 10, rules=rules)
    margins = split.train.item_margins()
    truth = queries.truth.tocsr()
    by_hand = [
        sum(margins[i] for i in row if i >= 0 and truth[q, i] > 0) for q, row in enumerate(recs)
    ]
    assert sweep.at(1.0)["margin@10"] == pytest.approx(np.mean(by_hand))  # type: ignore[attr-defined]


def test_the_sweep_writes_its_table_and_chart(sweep: object, tmp_path: Path) -> None:
    paths = sweep.write(tmp_path / "sweep")  # type: ignore[attr-defined]
    saved = json.loads(paths["json"].read_text())
    assert [r["sensitivity"] for r in saved["rows"]] == [0.0, 0.5, 1.0]
    assert "| 0.50 |" in paths["markdown"].read_text()
    assert "margin@10" in paths["html"].read_text()
    with pytest.raises(ValidationError, match=r"sensitivity 0.3 was not swept; swept \[0.0, 0.5"):
        sweep.at(0.3)  # type: ignore[attr-defined]


def test_a_sweep_without_margins_is_a_clear_error() -> None:
    data = standard_data()
    split = make_split(data, "2025-11-01")
    catalog = split.train.catalog
    saved = catalog[["cost", "margin"]].copy()
    try:
        catalog["cost"] = np.nan
        catalog["margin"] = np.nan
        with pytest.raises(ValidationError, match="a margin sweep needs item margins"):
            margin_sweep(build("cooccurrence"), split, max_queries=50)
    finally:
        catalog[["cost", "margin"]] = saved
    with pytest.raises(ValidationError, match=r"margin_sensitivity must be in \[0, 1\], got 2"):
        margin_sweep(build("cooccurrence"), split, sensitivities=(2.0,))
