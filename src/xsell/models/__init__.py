"""Cross-sell models behind one interface (:class:`~xsell.models.base.Recommender`).

Models are registered by name; each one is imported only when asked for, so a
missing optional dependency (implicit, LightGBM, PyTorch) only affects the models
that need it and names the extra to install.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Final

from xsell.errors import ValidationError
from xsell.models.base import ItemTable, Recommender, Suggestion, load_model, read_bundle_meta

#: Model name -> "module:Class" (modules under xsell.models).
REGISTRY: Final[dict[str, str]] = {
    "popularity": "popularity:Popularity",
    "rules": "rules_model:RulesModel",
    "cooccurrence": "cooccurrence:Cooccurrence",
    "itemknn": "itemknn:ItemKNN",
    "userknn": "userknn:UserKNN",
    "personal": "personal:PersonalHistory",
    "als": "factorization:ALS",
    "bpr": "factorization:BPR",
    "content": "content:ContentBased",
    "hybrid": "hybrid:Hybrid",
    "reranker": "reranker:LearnedReranker",
}

__all__ = [
    "REGISTRY",
    "ItemTable",
    "Recommender",
    "Suggestion",
    "load_model",
    "make_model",
    "model_class",
    "model_parameters",
    "read_bundle_meta",
]


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``."""
    if name not in REGISTRY:
        raise ValidationError(f"unknown model {name!r}; choose one of {sorted(REGISTRY)}")
    module_name, _, class_name = REGISTRY[name].partition(":")
    module = importlib.import_module(f"xsell.models.{module_name}")
    cls: type[Recommender] = getattr(module, class_name)
    return cls


def model_parameters(name: str) -> list[str]:
    """The hyper-parameters of the model registered under ``name``."""
    return sorted(f.name for f in dataclasses.fields(model_class(name)) if f.init)


def make_model(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; unknown parameters are an error that lists the known ones."""
    cls = model_class(name)
    known = set(model_parameters(name))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are {sorted(known)}"
        )
    return cls(**params)
