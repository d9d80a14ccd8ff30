"""Models made of other models (the hybrid blend, the learned re-ranker): live learning for all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xsell.models.base import Recommender


@dataclass
class Ensemble(Recommender):
    """A model that answers through fitted components kept in ``components_``.

    Components are fitted on the same data as the ensemble, so their item and
    user maps grow in step with the ensemble's when new orders arrive.
    """

    components_: list[Recommender] = field(default_factory=list, init=False, repr=False)

    def update(
        self,
        baskets: Sequence[Sequence[str]],
        users: Sequence[str | None] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Learn from new orders: the ensemble's tables grow and every component learns too."""
        super().update(baskets, users, names)
        for component in self.components_:
            component.update(baskets, users, names)
        self.n_items_known_ = self.n_items
        self.n_users_known_ = len(self.users_) if self.users_ is not None else 0
