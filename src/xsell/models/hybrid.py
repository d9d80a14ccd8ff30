"""A blend of models whose weights are fitted on a validation split carved from the training data.

Fit takes the last ``validation_share`` of the training baskets by time as a
validation set (nothing else: never the test data), fits every component on the
earlier baskets, hides one item of each validation basket and searches the
blend weights that put the hidden item in the top ``k`` most often (hit rate, the
same as recall@k with one hidden item). The components are then refitted on all
the training data. Scores are normalised per row before blending (by rank or
min-max) because the components' scales have nothing in common.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from xsell.data.holdout import hide_one_item, latest_baskets_mask
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.base import Recommender
from xsell.models.ensemble import Ensemble, component_spec
from xsell.models.items import as_dense, basket_rows
from xsell.models.params import anything, integer, number, one_of, param, sequence_of

#: How each component's row of scores is put on a common [0, 1] scale.
NORMALISE: Final = ("rank", "minmax")
# Finite scores are normalised into [_FLOOR, 1] so that they stay above "no evidence" (0).
_FLOOR = 1e-3


@dataclass
class Hybrid(Ensemble):
    """A weighted blend of other models, weights fitted on a time-based validation split.

    Parameters
    ----------
    models:
        Registry names of the components (or unfitted :class:`Recommender`
        instances, copied before fitting).
    component_params:
        Optional ``{name: {parameter: value}}`` for components given by name.
    weights:
        Fixed blend weights (normalised to sum to 1); ``None`` fits them.
    validation_share:
        Share of the latest training baskets held out to fit the weights.
    k:
        Cut-off of the hit rate the weights maximise.
    seed:
        Seeds which item of each validation basket is hidden and which baskets
        are sampled when there are more than ``max_queries``.
    normalise:
        ``"minmax"`` (default; linear from the row minimum to its maximum) or
        ``"rank"`` (share of finite scores at or below). On the synthetic shop min-max
        gives the higher validation hit rate: ranks lift weak co-occurrences as high
        as strong ones.
    grid_steps:
        Weights are searched on a simplex grid of step ``1 / grid_steps`` (up to
        three components; more use coordinate search on the same steps).
    max_queries:
        Most validation baskets used in the search.
    """

    name = "hybrid"

    models: tuple[Any, ...] = param(
        ("cooccurrence", "popularity"), sequence_of(anything("a component"), min_len=1)
    )
    component_params: Mapping[str, Mapping[str, Any]] | None = param(
        None, anything("a dict of parameters per component name, or None")
    )
    weights: tuple[float, ...] | None = param(None, anything("one weight per model, or None"))
    validation_share: float = param(0.2, number(low=0, high=1, low_open=True, high_open=True))
    k: int = param(10, integer(low=1))
    seed: int = param(0, integer(low=0))
    normalise: str = param("minmax", one_of(*NORMALISE))
    grid_steps: int = param(10, integer(low=1))
    max_queries: int = param(5000, integer(low=1))

    weights_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    #: Hit rate at ``k`` of every weight vector tried: list of (weights, hit rate).
    search_: list[tuple[tuple[float, ...], float]] = field(
        default_factory=list, init=False, repr=False
    )
    #: External ids of the baskets held out for the weight search.
    validation_baskets_: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=object), init=False, repr=False
    )

    # ------------------------------------------------------------------ fit

    def _fit(self, data: ShopData) -> None:
        if self.weights is not None:
            weights = np.asarray(self.weights, dtype=np.float64)
            self.weights_ = weights / weights.sum()
            self.search_ = []
            self.validation_baskets_ = np.zeros(0, dtype=object)
        else:
            self.weights_ = self._search(data)
        self.components_ = [self._part(i).fit(data) for i in range(len(self.models))]

    def _check_params(self) -> None:
        if self.weights is not None:
            weights = np.asarray(self.weights, dtype=np.float64)
            if weights.shape != (len(self.models),):
                raise ValidationError(
                    f"hybrid: weights needs one weight per model ({len(self.models)}), "
                    f"got {list(self.weights)}"
                )
            if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
                raise ValidationError(
                    f"hybrid: weights must be finite, >= 0 and not all 0, got {list(self.weights)}"
                )
        for model in self.models:
            if component_spec(model)[0] == "hybrid":
                raise ValidationError("hybrid: a hybrid cannot blend another hybrid")

    def _part(self, i: int) -> Recommender:
        """A fresh, unfitted copy of component ``i``."""
        name = component_spec(self.models[i])[0]
        return self._component(self.models[i], (self.component_params or {}).get(name, {}))

    def validation_mask(self, data: ShopData) -> np.ndarray:
        """Which baskets of ``data`` form the validation split (see :func:`latest_baskets_mask`)."""
        return latest_baskets_mask(data, self.validation_share)

    def _search(self, data: ShopData) -> np.ndarray:
        m = len(self.models)
        equal = np.full(m, 1.0 / m)
        self.search_ = []
        mask = self.validation_mask(data)
        self.validation_baskets_ = np.asarray(data.baskets.ids[mask], dtype=object)
        if m == 1 or mask.all() or not mask.any():
            return equal
        contexts, users, hidden = self._queries(data, mask)
        if len(hidden) == 0:
            return equal
        fit_part = data.subset_baskets(~mask)
        rows = basket_rows(contexts, data.n_items)
        user_arg = users if (users >= 0).any() else None
        normalised = []
        for i in range(m):
            component = self._part(i).fit(fit_part)
            normalised.append(self._normalised(as_dense(component.score(rows, user_arg))))
        if m <= 3:
            candidates = simplex_grid(m, self.grid_steps)
            rates = [hit_rate(_blend(normalised, w), rows, hidden, self.k) for w in candidates]
            self.search_ = [
                (tuple(map(float, w)), r) for w, r in zip(candidates, rates, strict=True)
            ]
            return np.asarray(candidates[int(np.argmax(rates))], dtype=np.float64)
        return self._coordinate_search(normalised, rows, hidden, equal)

    def _coordinate_search(
        self,
        normalised: list[np.ndarray],
        rows: sp.csr_matrix,
        hidden: np.ndarray,
        start: np.ndarray,
    ) -> np.ndarray:
        """Raise or lower one weight at a time while the hit rate improves."""
        best = start.copy()
        best_rate = hit_rate(_blend(normalised, best), rows, hidden, self.k)
        self.search_.append((tuple(map(float, best)), best_rate))
        step = 1.0 / self.grid_steps
        improved = True
        while improved:
            improved = False
            for i, sign in itertools.product(range(len(best)), (1.0, -1.0)):
                trial = best.copy()
                trial[i] = max(trial[i] + sign * step, 0.0)
                if trial.sum() <= 0:
                    continue
                trial /= trial.sum()
                rate = hit_rate(_blend(normalised, trial), rows, hidden, self.k)
                self.search_.append((tuple(map(float, trial)), rate))
                if rate > best_rate + 1e-12:
                    best, best_rate, improved = trial, rate, True
        return best

    def _queries(
        self, data: ShopData, mask: np.ndarray
    ) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """Validation contexts with one item hidden: (contexts, user indices, hidden items)."""
        return hide_one_item(data, mask, self.max_queries, self.seed)

    def _normalised(self, scores: np.ndarray) -> np.ndarray:
        return normalise_rows(scores, self.normalise)

    # ------------------------------------------------------------------ score

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        return _blend(self._parts(baskets, users), self.weights_)

    def _parts(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> list[np.ndarray]:
        parts = []
        for weight, component in zip(self.weights_, self.components_, strict=True):
            if weight > 0:
                parts.append(self._normalised(as_dense(component.score(baskets, users))))
            else:
                parts.append(np.full(baskets.shape, -np.inf))
        return parts

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        self.require_fitted()
        rows = basket_rows([list(context)], self.n_items)
        parts = self._parts(rows, np.array([user]) if user >= 0 else None)
        contribution = np.stack(
            [
                w * np.where(np.isfinite(p[0]), p[0], 0.0)
                for w, p in zip(self.weights_, parts, strict=True)
            ]
        )
        chosen = np.argmax(contribution[:, list(items)], axis=0) if len(items) else np.zeros(0, int)
        out = [""] * len(items)
        for c in np.unique(chosen):
            where = np.flatnonzero(chosen == c)
            why = self.components_[int(c)].reasons(context, user, [items[int(j)] for j in where])
            for j, text in zip(where, why, strict=True):
                out[int(j)] = f"{self.components_[int(c)].name}: {text}"
        return out


def normalise_rows(scores: np.ndarray, how: str) -> np.ndarray:
    """Each row's finite scores mapped into ``[_FLOOR, 1]``, order kept; ``-inf`` stays ``-inf``.

    ``"rank"``: the share of the row's finite scores at or below (ties share the
    mean rank); ``"minmax"``: linear from the row's minimum to its maximum.
    """
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    out = np.full(scores.shape, -np.inf)
    if how == "rank":
        ranks = rankdata(np.where(finite, scores, -np.inf), axis=1, method="average")
        n_inf = (~finite).sum(axis=1, keepdims=True)
        n_fin = np.maximum(finite.sum(axis=1, keepdims=True), 1)
        unit = (ranks - n_inf) / n_fin
    else:
        low = np.min(np.where(finite, scores, np.inf), axis=1, keepdims=True)
        high = np.max(np.where(finite, scores, -np.inf), axis=1, keepdims=True)
        span = np.where(high > low, high - low, 1.0)
        unit = np.where(high > low, (scores - low) / span, 1.0)
    out[finite] = (_FLOOR + (1.0 - _FLOOR) * unit)[finite]
    return out


def _blend(parts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``sum_j w_j * part_j``; ``-inf`` (no evidence) counts 0, and stays ``-inf`` where every
    component with positive weight has no evidence."""
    total = np.zeros(parts[0].shape)
    any_evidence = np.zeros(parts[0].shape, dtype=bool)
    for weight, part in zip(weights, parts, strict=True):
        if weight <= 0:
            continue
        finite = np.isfinite(part)
        total += weight * np.where(finite, part, 0.0)
        any_evidence |= finite
    return np.where(any_evidence, total, -np.inf)


def hit_rate(blended: np.ndarray, rows: sp.csr_matrix, hidden: np.ndarray, k: int) -> float:
    """Share of queries whose hidden item is in the top ``k`` (context items excluded).

    Ranks are those of :func:`xsell.models.base.top_k`: ties break by lower item index.
    """
    scores = blended.copy()
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    scores[row_of, rows.indices] = -np.inf
    target = scores[np.arange(len(hidden)), hidden]
    columns = np.arange(scores.shape[1])[None, :]
    ahead = (scores > target[:, None]) | ((scores == target[:, None]) & (columns < hidden[:, None]))
    hits = np.isfinite(target) & (ahead.sum(axis=1) < k)
    return float(hits.mean())


def simplex_grid(m: int, steps: int) -> list[np.ndarray]:
    """Every weight vector of ``m`` non-negative multiples of ``1 / steps`` summing to 1."""
    grid = [
        np.asarray(combo, dtype=np.float64) / steps
        for combo in itertools.product(range(steps + 1), repeat=m)
        if sum(combo) == steps
    ]
    # Equal weights first so that a flat search keeps them (argmax takes the first best).
    grid.sort(key=lambda w: float(np.abs(w - 1.0 / m).sum()))
    return grid
