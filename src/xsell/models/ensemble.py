"""Models made of other models (the hybrid blend, the learned re-ranker)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from xsell.errors import ValidationError
from xsell.models.base import Recommender
from xsell.models.registry import make_model


def component_spec(model: Any) -> tuple[str, dict[str, Any]]:
    """A component as ``(registry name, parameters)``.

    Components are given as a registry name, a ``(name, params)`` pair or an
    unfitted :class:`Recommender` (copied before fitting).
    """
    if isinstance(model, Recommender):
        return model.name, model.params()
    if isinstance(model, str):
        return model, {}
    if (
        isinstance(model, tuple | list)
        and len(model) == 2
        and isinstance(model[0], str)
        and isinstance(model[1], dict)
    ):
        return model[0], dict(model[1])
    raise ValidationError(
        "models must hold registry names, (name, params) pairs or Recommender instances, "
        f"got {model!r}"
    )


@dataclass
class Ensemble(Recommender):
    """A model that answers through fitted components kept in ``components_``.

    Components are fitted on the same data as the ensemble and learn every live
    order the ensemble learns, so their item and customer maps grow in step.
    """

    learns_live = True
    needs_customers = True

    components_: list[Recommender] = field(default_factory=list, init=False, repr=False)

    def _component(self, spec: Any, params: Mapping[str, Any] | None = None) -> Recommender:
        """A fresh, unfitted copy of one component (``params`` override the spec's)."""
        name, own = component_spec(spec)
        merged = copy.deepcopy({**own, **(params or {})})
        if isinstance(spec, Recommender):
            return type(spec)(**merged)
        return make_model(name, **merged)

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        table = self.require_fitted()
        assert self.users_ is not None
        ids = table.ids.ids
        orders = [
            ids[baskets.indices[baskets.indptr[r] : baskets.indptr[r + 1]]].tolist()
            for r in range(baskets.shape[0])
        ]
        customers = [str(self.users_.ids[u]) if u >= 0 else None for u in users]
        touched = np.unique(baskets.indices)
        names = {str(ids[i]): str(table.names[i]) for i in touched if table.names[i] is not None}
        # Components learn as copies: a served ensemble being read keeps its own until swapped.
        learned = [copy.copy(component) for component in self.components_]
        for component in learned:
            component.update(orders, customers, names)
        self.components_ = learned
