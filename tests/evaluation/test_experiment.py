"""Arm parsing, sticky assignment and attribution of orders to arms (hand-checked)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from xsell.errors import ValidationError
from xsell.evaluation.experiment import (
    Arm,
    ExperimentEvent,
    assign,
    attribute,
    check_arms,
    parse_arm,
)

ARMS = [Arm("a", "models/pop", 50), Arm("b", "models/cooc", 50)]


def test_parse_arm_reads_name_bundle_and_weight() -> None:
    assert parse_arm("a=models/cooc:70") == Arm("a", "models/cooc", 70.0)
    assert parse_arm("b=/abs/path") == Arm("b", "/abs/path", 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models/cooc:50", "expected NAME=BUNDLE:WEIGHT"),
        ("a=models/cooc:half", "weight 'half' is not a number"),
        ("a=models/cooc:0", "weight must be a positive number, got 0"),
    ],
)
def test_parse_arm_refuses_bad_text(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_arm(text)


def test_check_arms_needs_two_distinct_arms() -> None:
    with pytest.raises(ValidationError, match="at least 2 arms, got 1"):
        check_arms(ARMS[:1])
    with pytest.raises(ValidationError, match="arm names must be distinct"):
        check_arms([ARMS[0], ARMS[0]])


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    units = [f"customer-{i}" for i in range(20_000)]
    first = [assign("exp", u, ARMS) for u in units]
    assert first == [assign("exp", u, ARMS) for u in units]
    # another experiment reshuffles the units
    other = [assign("exp2", u, ARMS) for u in units]
    assert 0.45 < np.mean([x == y for x, y in zip(first, other, strict=True)]) < 0.55
    skewed = [Arm("a", "x", 80), Arm("b", "y", 20)]
    counts = [sum(assign("exp", u, skewed) == n for u in units) for n in ("a", "b")]
    # a fair 80/20 split passes the chi-square goodness of fit at any sane level
    assert stats.chisquare(counts, [16_000, 4_000]).pvalue > 0.001


def test_attribution_counts_suggested_items_within_the_window() -> None:
    hour = 3600.0
    events = [
        ExperimentEvent("recommendation", "u1", 0.0, ("X", "Y"), "a", "r1", (10.0, 4.0)),
        ExperimentEvent("impression", "u1", 1.0, ("X", "Y"), recommendation_id="r1"),
        ExperimentEvent("click", "u1", 2.0, ("X",)),
        ExperimentEvent("cart", "u1", 3.0, ("X", "Z")),  # Z was never suggested
        ExperimentEvent("order", "u1", 4.0, ("X", "Z", "Y")),  # X and Y attributed: 10 + 4
        ExperimentEvent("order", "u1", 30 * hour, ("X",)),  # outside the 24 h window
        ExperimentEvent("recommendation", "u2", 0.0, ("Y",), "b", "r2", (4.0,)),
        ExperimentEvent("impression", "u2", 1.0, ("Y",)),
        ExperimentEvent("order", "u2", 2.0, ("Y",), prices=(3.5,)),  # its own price wins
        ExperimentEvent("order", "u3", 2.0, ("Y",)),  # never recommended to: not in it
        # an order before the unit entered the experiment is not counted
        ExperimentEvent("order", "u4", 1.0, ("Q",)),
        ExperimentEvent("recommendation", "u4", 5.0, ("Q",), "b", "r4", (1.0,)),
    ]
    table = attribute(reversed(events))  # order of the input does not matter
    assert table.units == ["u1", "u2", "u4"]
    assert table.arms == ["a", "b", "b"]
    counts = {name: list(values) for name, values in table.counts.items()}
    assert counts == {
        "impressions": [1, 1, 0],
        "clicks": [1, 0, 0],
        "carts": [1, 0, 0],
        "orders": [2, 1, 0],
        "attached_orders": [1, 1, 0],
        "revenue": [14.0, 3.5, 0.0],
    }
