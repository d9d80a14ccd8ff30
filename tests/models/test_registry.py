"""Models by name: every registered model builds, unknown names and parameters are named."""

from __future__ import annotations

import importlib
import sys

import pytest

from xsell.errors import ValidationError
from xsell.models import REGISTRY, Recommender, make_model, model_class, model_parameters


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_name_builds_its_own_model(name: str) -> None:
    cls = model_class(name)
    assert issubclass(cls, Recommender) and cls.name == name
    module, _, class_name = REGISTRY[name].partition(":")
    assert cls is getattr(importlib.import_module(f"xsell.models.{module}"), class_name)
    model = make_model(name)
    assert type(model) is cls and model.items_ is None
    assert model_parameters(name) == sorted(model.params())


def test_unknown_names_and_parameters_list_what_is_known() -> None:
    with pytest.raises(ValidationError, match=r"unknown model 'nope'; choose one of \['als', "):
        make_model("nope")
    with pytest.raises(
        ValidationError,
        match=r"model 'cooccurrence' has no parameter 'foo', 'top_k'; its parameters are "
        r"\['aggregate', 'half_life_days', 'measure', 'min_count', 'neighbours'\]",
    ):
        make_model("cooccurrence", top_k=3, foo=1)


def test_parameters_are_passed_through() -> None:
    model = make_model("cooccurrence", measure="count", neighbours=None)
    assert model.params()["measure"] == "count" and model.params()["neighbours"] is None


def test_a_model_is_imported_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m.startswith("xsell.models.")]:
        monkeypatch.delitem(sys.modules, module)
    importlib.import_module("xsell.models.registry")
    assert "xsell.models.reranker" not in sys.modules
    model_class("reranker")
    assert "xsell.models.reranker" in sys.modules
