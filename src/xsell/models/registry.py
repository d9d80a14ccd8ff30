"""Models by name: each one is imported only when asked for.

A missing optional dependency (implicit, LightGBM, PyTorch) then affects only the
models that need it, and its error names the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from xsell.errors import ValidationError
from xsell.models.params import hyper_parameters

if TYPE_CHECKING:
    from xsell.models.base import Recommender

#: Model name -> "module:Class" (modules under xsell.models).
REGISTRY: Final[dict[str, str]] = {
    "popularity": "popularity:Popularity",
    "rules": "rules_model:RulesModel",
    "cooccurrence": "cooccurrence:Cooccurrence",
    "itemknn": "itemknn:ItemKNN",
    "userknn": "userknn:UserKNN",
    "neighbours": "neighbours:Neighbours",
    "personal": "personal:PersonalHistory",
    "als": "factorization:ALS",
    "bpr": "factorization:BPR",
    "content": "content:ContentBased",
    "hybrid": "hybrid:Hybrid",
    "reranker": "reranker:LearnedReranker",
    "neural": "deep.neural:Neural",
    "sequence": "deep.sequence:Sequence",
}


def model_class(name: str) -> type[Recommender]:
    """The class registered under ``name``."""
    if name not in REGISTRY:
        raise ValidationError(f"unknown model {name!r}; choose one of {sorted(REGISTRY)}")
    module_name, _, class_name = REGISTRY[name].partition(":")
    module = importlib.import_module(f"xsell.models.{module_name}")
    cls: type[Recommender] = getattr(module, class_name)
    return cls


def model_parameters(name: str) -> list[str]:
    """The hyper-parameters of the model registered under ``name``, sorted."""
    return sorted(hyper_parameters(model_class(name)))


def make_model(name: str, **params: Any) -> Recommender:
    """A new, unfitted model; unknown parameters are an error that lists the known ones."""
    cls = model_class(name)
    known = set(hyper_parameters(cls))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValidationError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are {sorted(known)}"
        )
    return cls(**params)
