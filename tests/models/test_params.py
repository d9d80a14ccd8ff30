"""Hyper-parameters: declared once, checked alike for every model, worded alike."""

from __future__ import annotations

import doctest
from dataclasses import dataclass
from typing import Any

import pytest

from xsell.errors import ValidationError
from xsell.models import REGISTRY, make_model, model_class, model_parameters
from xsell.models import params as P


@dataclass
class Toy:
    name = "toy"
    count: int = P.param(3, P.integer(low=1, high=9))
    share: float = P.param(0.5, P.number(low=0, high=1, low_open=True))
    cap: int | None = P.param(None, P.integer(low=1, none=True))
    on: bool = P.param(False, P.flag())
    kind: str = P.param("a", P.one_of("a", "b"))
    label: str | None = P.param(None, P.text(none=True))
    pair: tuple[int, ...] = P.param((1, 2), P.sequence_of(P.integer(low=0), length=2))
    unchecked: str | None = P.param(None, P.anything("whatever the model checks itself"))
    plain: int = 7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"count": 0}, r"toy: count must be a whole number in \[1, 9\], got 0"),
        ({"count": 2.0}, r"toy: count must be a whole number in \[1, 9\], got 2.0"),
        ({"count": True}, r"toy: count must be a whole number in \[1, 9\], got True"),
        ({"share": 0}, r"toy: share must be a number in \(0, 1\], got 0"),
        ({"share": float("nan")}, r"toy: share must be a number in \(0, 1\], got nan"),
        ({"share": "0.5"}, r"toy: share must be a number in \(0, 1\], got '0.5'"),
        ({"cap": 0}, "toy: cap must be a whole number >= 1 or None, got 0"),
        ({"on": 1}, "toy: on must be True or False, got 1"),
        ({"kind": "c"}, r"toy: kind must be one of \['a', 'b'\], got 'c'"),
        ({"label": ""}, "toy: label must be a non-empty string or None, got ''"),
        (
            {"pair": (1,)},
            r"toy: pair must be a list of 2 values each a whole number >= 0, got \(1,\)",
        ),
        ({"pair": (1, -1)}, r"toy: pair must be a list of 2 values each .*, got \(1, -1\)"),
    ],
)
def test_each_check_names_the_model_the_parameter_and_the_value(
    value: dict[str, Any], message: str
) -> None:
    toy = Toy(**value)
    with pytest.raises(ValidationError, match=f"^{message}$"):
        P.check_params(toy)


def test_good_values_pass_and_lists_become_tuples() -> None:
    toy = Toy(count=9, share=1, cap=None, on=True, kind="b", label="x", pair=[3, 4])  # type: ignore[arg-type]
    P.check_params(toy)
    assert toy.pair == (3, 4)
    assert P.hyper_parameters(Toy) == [
        "count",
        "share",
        "cap",
        "on",
        "kind",
        "label",
        "pair",
        "unchecked",
    ]


def test_a_mutable_default_is_refused() -> None:
    with pytest.raises(TypeError, match="use a tuple"):
        P.param([1, 2], P.sequence_of(P.integer()))


def test_the_module_example_runs() -> None:
    failures, tried = doctest.testmod(P, raise_on_error=False, verbose=False)
    assert tried >= 3 and failures == 0


# One table of bad values across the models: one wording for everyone.
BAD = [
    (
        "cooccurrence",
        {"measure": "lyft"},
        r"cooccurrence: measure must be one of \[.*'lift'.*\], got 'lyft'",
    ),
    (
        "cooccurrence",
        {"aggregate": "avg"},
        r"cooccurrence: aggregate must be one of \['sum', 'max'\], got 'avg'",
    ),
    (
        "cooccurrence",
        {"neighbours": 0},
        "cooccurrence: neighbours must be a whole number >= 1 or None, got 0",
    ),
    (
        "cooccurrence",
        {"half_life_days": -1},
        "cooccurrence: half_life_days must be a number > 0 or None, got -1",
    ),
    (
        "cooccurrence",
        {"min_count": -1},
        "cooccurrence: min_count must be a number >= 0 or None, got -1",
    ),
    (
        "popularity",
        {"per_category": "yes"},
        "popularity: per_category must be True or False, got 'yes'",
    ),
    (
        "personal",
        {"half_life_days": 0},
        "personal: half_life_days must be a number > 0 or None, got 0",
    ),
    (
        "itemknn",
        {"weighting": "bm26"},
        r"itemknn: weighting must be one of \['none', 'bm25', 'tfidf'\], got 'bm26'",
    ),
    (
        "itemknn",
        {"source": "views"},
        r"itemknn: source must be one of \['baskets', 'customers'\], got 'views'",
    ),
    ("itemknn", {"b": 1.5}, r"itemknn: b must be a number in \[0, 1\], got 1.5"),
    ("userknn", {"neighbours": 0}, "userknn: neighbours must be a whole number >= 1, got 0"),
    ("als", {"on": "orders"}, r"als: on must be one of \['baskets', 'users'\], got 'orders'"),
    ("als", {"factors": 0}, "als: factors must be a whole number >= 1, got 0"),
    ("als", {"alpha": -1}, "als: alpha must be a number > 0, got -1"),
    (
        "bpr",
        {"weighting": "tfidf"},
        r"bpr: weighting must be one of \['none', 'bm25'\], got 'tfidf'",
    ),
    ("bpr", {"learning_rate": 0.0}, "bpr: learning_rate must be a number > 0, got 0.0"),
    (
        "rules",
        {"combine": "mean"},
        r"rules: combine must be one of \['max', 'noisy_or', 'sum'\], got 'mean'",
    ),
    (
        "rules",
        {"metric": "leverage"},
        r"rules: metric must be one of \['confidence', 'lift'\], got 'leverage'",
    ),
    ("rules", {"max_len": 1}, "rules: max_len must be a whole number >= 2, got 1"),
    (
        "rules",
        {"min_confidence": 1.5},
        r"rules: min_confidence must be a number in \[0, 1\], got 1.5",
    ),
    (
        "content",
        {"analyzer": "char"},
        r"content: analyzer must be one of \['word', 'char_wb'\], got 'char'",
    ),
    (
        "content",
        {"ngram_range": (2, 1)},
        r"content: ngram_range must be \(low, high\) with low <= high, got \(2, 1\)",
    ),
    ("content", {"price_weight": -1}, "content: price_weight must be a number >= 0, got -1"),
    ("content", {"n_price_bands": 0}, "content: n_price_bands must be a whole number >= 1, got 0"),
    (
        "content",
        {"text_weight": 0, "category_weight": 0, "brand_weight": 0, "price_weight": 0},
        "content: at least one of the feature weights must be > 0",
    ),
    (
        "hybrid",
        {"models": ()},
        r"hybrid: models must be a list of values each a component, got \(\)",
    ),
    (
        "hybrid",
        {"validation_share": 1.0},
        r"hybrid: validation_share must be a number in \(0, 1\), got 1.0",
    ),
    (
        "hybrid",
        {"normalise": "z"},
        r"hybrid: normalise must be one of \['rank', 'minmax'\], got 'z'",
    ),
    ("hybrid", {"k": 0}, "hybrid: k must be a whole number >= 1, got 0"),
    ("reranker", {"candidates": 0}, "reranker: candidates must be a whole number >= 1, got 0"),
    (
        "reranker",
        {"task": "weekly"},
        r"reranker: task must be one of \['basket-completion', 'next-basket', "
        r"'next-basket-new'\], got 'weekly'",
    ),
    ("reranker", {"max_queries": 5}, "reranker: max_queries must be a whole number >= 10, got 5"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD)
def test_bad_values_are_refused_on_creation_and_on_fit(
    name: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_model(name, **params)
    # A value set after creation is checked again by fit.
    model = make_model(name)
    for key, value in params.items():
        setattr(model, key, value)
    with pytest.raises(ValidationError, match=message):
        model.fit(None)  # type: ignore[arg-type]


def test_every_model_declares_its_parameters_with_checks() -> None:
    for name in REGISTRY:
        declared = model_parameters(name)
        assert declared == sorted(make_model(name).params())
        assert declared, name
        # Every parameter holds its default and passes its own check.
        P.check_params(model_class(name)())
