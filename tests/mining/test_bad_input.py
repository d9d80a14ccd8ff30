"""Bad input: one clear error each, naming the parameter, the value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from xsell.errors import ValidationError
from xsell.mining import association_rules, frequent_itemsets, get_metric, top_k_rules
from xsell.mining.budget import parse_budget

X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [1, 1, 1]]))


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5, -3, float("nan")])
def test_min_support_outside_range_and_not_a_count(value: float) -> None:
    with pytest.raises(
        ValidationError, match=r"min_support must be a fraction in \(0, 1\] or a whole number"
    ):
        frequent_itemsets(X, value)


def test_float_above_one_hints_at_a_count() -> None:
    with pytest.raises(ValidationError, match=r"got 2.0 \(write an int for a number of baskets\)"):
        frequent_itemsets(X, 2.0)


@pytest.mark.parametrize("value", ["0.1", True, None])
def test_min_support_of_wrong_type(value: object) -> None:
    with pytest.raises(ValidationError, match="min_support must be"):
        frequent_itemsets(X, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_max_len_below_one(value: float) -> None:
    with pytest.raises(
        ValidationError, match=rf"max_len must be a whole number >= 1 or None, got {value}"
    ):
        frequent_itemsets(X, 0.5, max_len=value)  # type: ignore[arg-type]


def test_unknown_metric_lists_the_registry() -> None:
    with pytest.raises(
        ValidationError, match=r"unknown metric 'lfit'; choose one of \['certainty', 'confidence'"
    ):
        get_metric("lfit")
    table = frequent_itemsets(X, 0.3)
    with pytest.raises(
        ValidationError, match=r"unknown metric 'lfit' for sort_by; choose one of .*'lift'"
    ):
        association_rules(table, sort_by="lfit")
    with pytest.raises(
        ValidationError, match=r"unknown metric 'lfit' in thresholds; choose one of .*'lift'"
    ):
        association_rules(table, thresholds={"lfit": 2.0})
    with pytest.raises(ValidationError, match=r"unknown metric 'lfit' for sort_by"):
        top_k_rules(X, 5, sort_by="lfit", min_count=1)


def test_empty_data() -> None:
    with pytest.raises(
        ValidationError,
        match=r"no baskets to mine: the basket x item matrix of shape \(0, 3\) is empty",
    ):
        frequent_itemsets(sp.csr_matrix((0, 3)), 0.1)
    with pytest.raises(ValidationError, match="no baskets to mine"):
        frequent_itemsets(sp.csr_matrix((4, 3)), 0.1)


def test_not_a_matrix() -> None:
    with pytest.raises(
        ValidationError,
        match="data must be a ShopData or a scipy sparse baskets x items matrix, got list",
    ):
        frequent_itemsets([[1, 2]], 0.1)  # type: ignore[arg-type]


def test_unknown_kind_and_layout() -> None:
    with pytest.raises(
        ValidationError, match=r"unknown kind 'open'; choose one of \['all', 'closed', 'maximal'\]"
    ):
        frequent_itemsets(X, 0.5, kind="open")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"unknown layout 'fast'"):
        frequent_itemsets(X, 0.5, layout="fast")  # type: ignore[arg-type]


def test_item_ids_of_wrong_length() -> None:
    with pytest.raises(
        ValidationError, match="item_ids has 2 ids but the matrix has 3 item columns"
    ):
        frequent_itemsets(X, 0.5, item_ids=["a", "b"])


def test_rule_filters_out_of_range() -> None:
    table = frequent_itemsets(X, 0.3)
    with pytest.raises(ValidationError, match=r"min_confidence must be in \[0, 1\], got 1.5"):
        association_rules(table, min_confidence=1.5)
    with pytest.raises(ValidationError, match=r"max_p_value must be in \[0, 1\], got -0.1"):
        association_rules(table, max_p_value=-0.1)
    with pytest.raises(ValidationError, match="max_consequent_len must be >= 1 or None, got 0"):
        association_rules(table, max_consequent_len=0)
    with pytest.raises(ValidationError, match="k must be a whole number >= 1, got 0"):
        top_k_rules(X, 0)


def test_rules_need_all_itemsets() -> None:
    with pytest.raises(ValidationError, match="only the closed ones; mine with kind='all'"):
        association_rules(frequent_itemsets(X, 0.3, kind="closed"))
    table = frequent_itemsets(X, 0.3)
    filtered = table[table["length"] > 1].copy()
    with pytest.raises(ValidationError, match="missing subsets of its itemsets"):
        association_rules(filtered)
    bare = table.copy()
    bare.attrs = {}
    with pytest.raises(
        ValidationError, match=r"carries no mining info \(attrs\['mining'\]\); pass n_baskets="
    ):
        association_rules(bare)
    assert len(association_rules(bare, n_baskets=3)) == len(association_rules(table))


@pytest.mark.parametrize(
    ("value", "message"),
    [("lots", "is not a size"), (-5, "must be positive"), ("0MB", "must be positive")],
)
def test_bad_memory_budget(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_budget(value)  # type: ignore[arg-type]


def test_budget_sizes() -> None:
    assert parse_budget("512MB").bytes == 512 << 20
    assert parse_budget("2 gb").bytes == 2 << 30
    assert parse_budget(1000).bytes == 1000
