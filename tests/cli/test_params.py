"""``--param name=value``: each value parsed the way its parameter wants it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_errors import xsell
from tests.conftest import shared_file
from xsell.cli.app import model_param, parse_param


@pytest.mark.parametrize(
    ("model", "name", "text", "value"),
    [
        ("itemknn", "weighting", "none", "none"),  # a string choice, not Python's None
        ("itemknn", "weighting", "bm25", "bm25"),
        ("rules", "min_support", "none", None),  # takes None
        ("rules", "min_support", "0.001", 0.001),
        ("rules", "min_support", "50", 50),
        ("rules", "top_k", "500", 500),
        ("rules", "max_p", "NONE", None),
        ("rules", "memory_budget", "2GB", "2GB"),
        ("rules", "rules_from", "123", "123"),  # a path that looks like a number
        ("cooccurrence", "measure", "lift", "lift"),
    ],
)
def test_values_follow_the_parameter(model: str, name: str, text: str, value: Any) -> None:
    parsed = model_param(model, name, text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("text", "annotation", "value"),
    [
        ("true", "bool", True),
        ("False", "bool", False),
        ("3", "float", 3.0),
        ("3", "int | None", 3),
        ("2.5", None, 2.5),
        ("[1, 2]", "list[int]", [1, 2]),
        ("none", "int", "none"),  # left for the model to refuse by name
        ("plain text", None, "plain text"),
    ],
)
def test_parse_param(text: str, annotation: str | None, value: Any) -> None:
    parsed = parse_param(text, annotation)
    assert parsed == value and type(parsed) is type(value)


def test_train_itemknn_with_weighting_none(tmp_path: Path) -> None:
    groceries = shared_file("groceries/groceries.csv")
    store = str(tmp_path / "shop.duckdb")
    done = xsell("--quiet", "ingest", str(groceries), "--preset", "baskets", "--store", store,
                 cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = xsell("--quiet", "train", "itemknn", "--param", "weighting=none", "--out",
                 str(tmp_path / "bundle"), "--store", store, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "weighting must be one of" not in done.stderr
