"""Association rules applied to the whole basket: every rule whose antecedent is in the cart fires.

Rules are mined at fit time with :mod:`xsell.mining` (or taken from a saved rule
version). At scoring time a basket fires every rule ``A -> c`` with ``A`` inside
the basket, and the fired rules' confidence (or lift) is combined per consequent
``c`` by ``max``, ``noisy_or`` (``1 - prod(1 - confidence)``, the chance that at
least one rule is right if they were independent) or ``sum``.

Matching is two sparse products: ``baskets @ A.T`` counts how many items of each
distinct antecedent a basket holds (the antecedent fires when that count equals
its size), and the fired antecedents times an antecedent x item matrix of rule
values gives the combined scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.mining import load_rules, top_k_rules
from xsell.mining.budget import parse_budget
from xsell.mining.rules import mine_rules
from xsell.models.base import Recommender
from xsell.models.fallback import popular_reason
from xsell.models.params import Check, integer, number, one_of, param, text


def _is_budget(value: object) -> bool:
    try:
        parse_budget(value)  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


#: Rules kept when neither ``min_support`` nor ``top_k`` is given: those seen in the most baskets.
DEFAULT_RULES: Final = 10_000
#: How fired rules are combined per consequent.
COMBINE: Final = ("max", "noisy_or", "sum")
#: Which rule value is combined.
RULE_METRICS: Final = ("confidence", "lift")
# noisy-or multiplies (1 - confidence); a confidence of exactly 1 would make log(0).
_CONFIDENCE_CAP = 1.0 - 1e-9


@dataclass
class RulesModel(Recommender):
    """Mined association rules, all those matching the basket, scores combined per item.

    Parameters
    ----------
    min_support:
        Mine every itemset bought in at least this share (float in (0, 1]) or
        number (int) of baskets.
    top_k:
        Instead of a support floor, keep the ``top_k`` strongest rules by
        ``metric`` among those with at least ``min_count`` baskets. When neither
        this nor ``min_support`` is set, the model keeps the
        :data:`DEFAULT_RULES` rules seen in the most baskets (at least
        ``min_count``), found without listing every itemset.
    min_count:
        Fewest baskets a rule must be seen in (the default floor, and the floor of
        ``top_k``).
    min_confidence:
        Keep rules at or above this confidence.
    max_len:
        Longest itemset mined (antecedent plus consequent).
    max_p, max_q:
        Keep rules whose Fisher exact p-value (resp. Benjamini-Hochberg q-value)
        is at or below this.
    metric:
        ``"confidence"`` or ``"lift"``: the rule value that is combined.
    combine:
        ``"max"``, ``"noisy_or"`` (confidence only) or ``"sum"``.
    rules_from:
        Path of a store: use its latest saved rule version instead of mining
        (the mining parameters are then unused; ``min_confidence``, ``max_p``
        and ``max_q`` still filter).
    memory_budget:
        Bytes (or ``"2GB"``) the mining may use; default 1 GB (see
        :func:`xsell.mining.frequent_itemsets`).
    """

    name = "rules"

    min_support: float | int | None = param(None, number(low=0, low_open=True, none=True))
    top_k: int | None = param(None, integer(low=1, none=True))
    min_count: int = param(5, integer(low=1))
    min_confidence: float = param(0.05, number(low=0, high=1))
    max_len: int = param(3, integer(low=2))
    max_p: float | None = param(None, number(low=0, high=1, none=True))
    max_q: float | None = param(None, number(low=0, high=1, none=True))
    metric: str = param("confidence", one_of(*RULE_METRICS))
    combine: str = param("max", one_of(*COMBINE))
    rules_from: str | None = param(None, text(none=True))
    memory_budget: int | str | None = param(
        None, Check(_is_budget, "bytes, a size such as '2GB', or None")
    )

    rules_: pd.DataFrame = field(default_factory=pd.DataFrame, init=False, repr=False)
    antecedents_: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 0)), init=False, repr=False
    )
    antecedent_size_: np.ndarray = field(
        default_factory=lambda: np.zeros(0), init=False, repr=False
    )
    values_: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 0)), init=False, repr=False
    )
    rule_of_: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 0)), init=False, repr=False
    )

    # ------------------------------------------------------------------ fit

    def _fit(self, data: ShopData) -> None:
        given = self.__dict__.pop("_given_rules", None)
        rules = given if given is not None else self._mine(data)
        missing = {"antecedent", "consequent", "confidence", "lift", "count", "antecedent_count"}
        missing -= set(rules.columns)
        if missing:
            raise ValidationError(
                f"rules table lacks columns {sorted(missing)}; "
                "make it with xsell.mining.association_rules or load_rules"
            )
        self._index(data, self._filter(rules))

    def fit_rules(self, data: ShopData, rules: pd.DataFrame) -> RulesModel:
        """Fit from an existing rules table (e.g. from :func:`xsell.mining.load_rules`).

        Parameters
        ----------
        data:
            The shop the rules came from: it gives the item table, users and
            purchase histories. Rules naming items unknown to ``data`` are dropped.
        rules:
            A table with ``antecedent`` and ``consequent`` tuples of external item
            ids and ``confidence``, ``lift``, ``count``, ``antecedent_count``.
            Multi-item consequents count for each of their items.

        Returns
        -------
        RulesModel
            ``self``, fitted.
        """
        self.__dict__["_given_rules"] = rules
        try:
            return self.fit(data)
        finally:
            self.__dict__.pop("_given_rules", None)

    def _check_params(self) -> None:
        if self.combine == "noisy_or" and self.metric != "confidence":
            raise ValidationError(
                "rules: combine='noisy_or' multiplies probabilities and needs "
                f"metric='confidence', got metric={self.metric!r}"
            )
        if self.min_support is not None and self.top_k is not None:
            raise ValidationError("rules: set min_support or top_k, not both")

    def _mine(self, data: ShopData) -> pd.DataFrame:
        if self.rules_from is not None:
            if not Path(self.rules_from).exists():
                raise ValidationError(
                    f"rules_from: no store at {self.rules_from}; "
                    "mine and save rules there with `xsell rules --store PATH`"
                )
            return load_rules(self.rules_from)
        if self.min_support is None:
            # Without a support floor: the top_k strongest rules by the model's metric, or
            # by default the rules seen in the most baskets.
            return top_k_rules(
                data,
                int(self.top_k) if self.top_k is not None else DEFAULT_RULES,
                sort_by=self.metric if self.top_k is not None else "count",
                min_count=int(self.min_count),
                max_len=self.max_len,
                min_confidence=self.min_confidence,
                max_p_value=self.max_p,
                max_q_value=self.max_q,
                memory_budget=self.memory_budget,
            )
        return mine_rules(
            data,
            self.min_support,
            max_len=self.max_len,
            memory_budget=self.memory_budget,
            min_confidence=self.min_confidence,
            max_p_value=self.max_p,
            max_q_value=self.max_q,
            thresholds={"count": float(self.min_count)},
        )

    def _filter(self, rules: pd.DataFrame) -> pd.DataFrame:
        keep = rules["confidence"].to_numpy() >= self.min_confidence
        if self.max_p is not None and "p_value" in rules:
            keep &= rules["p_value"].to_numpy() <= self.max_p
        if self.max_q is not None and "q_value" in rules:
            keep &= rules["q_value"].to_numpy() <= self.max_q
        return rules[keep]

    def _index(self, data: ShopData, rules: pd.DataFrame) -> None:
        """Build the antecedent and value matrices over the dense item indices of ``data``."""
        n_items = data.n_items
        ante_idx, ante_rule, ante_len = _dense_sides(rules["antecedent"], data)
        cons_idx, cons_rule, _ = _dense_sides(rules["consequent"], data)
        n_rules = len(rules)
        invalid = np.bincount(ante_rule[ante_idx < 0], minlength=n_rules) > 0
        invalid |= ante_len == 0
        # Antecedents as rows of sorted item indices padded with n_items: np.unique finds the
        # distinct ones.
        width = max(int(ante_len.max()) if n_rules else 0, 1)
        padded = np.full((n_rules, width), n_items, dtype=np.int64)
        position = np.arange(len(ante_idx)) - np.repeat(np.cumsum(ante_len) - ante_len, ante_len)
        padded[ante_rule, position] = np.where(ante_idx >= 0, ante_idx, n_items)
        padded.sort(axis=1)
        distinct, inverse = np.unique(padded[~invalid], axis=0, return_inverse=True)
        ante_of_rule = np.full(n_rules, -1, dtype=np.int64)
        ante_of_rule[~invalid] = inverse.ravel()
        keep = (cons_idx >= 0) & ~invalid[cons_rule]
        keep &= ~(padded[cons_rule] == cons_idx[:, None]).any(axis=1)
        source = cons_rule[keep]
        kept = rules.iloc[source].reset_index(drop=True)
        value = kept[self.metric].to_numpy(dtype=np.float64)
        ante_of = ante_of_rule[source]
        cons = cons_idx[keep]
        cons_arr = np.asarray(cons, dtype=np.int64)
        # One entry per (antecedent, consequent): a multi-item consequent may repeat a rule;
        # keep the strongest.
        order = np.lexsort((-value, cons_arr, ante_of))
        first = np.ones(len(order), dtype=bool)
        if len(order):
            pair = ante_of[order] * n_items + cons_arr[order]
            first[1:] = pair[1:] != pair[:-1]
        chosen = order[first]
        self.rules_ = kept.iloc[chosen].reset_index(drop=True)
        ante_of, cons_arr, value = ante_of[chosen], cons_arr[chosen], value[chosen]
        n_ante = len(distinct)
        present = distinct < n_items
        sizes = present.sum(axis=1)
        rows = np.repeat(np.arange(n_ante), sizes)
        self.antecedents_ = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, distinct[present])),
            shape=(n_ante, n_items),
        )
        self.antecedent_size_ = sizes.astype(np.float32)
        self.values_ = sp.csr_matrix((value, (ante_of, cons_arr)), shape=(n_ante, n_items))
        self.rule_of_ = sp.csr_matrix(
            (np.arange(1, len(chosen) + 1, dtype=np.int64), (ante_of, cons_arr)),
            shape=(n_ante, n_items),
        )

    # ------------------------------------------------------------------ score

    def fired(self, baskets: sp.csr_matrix) -> sp.csr_matrix:
        """Which distinct antecedents each basket contains: binary ``n x n_antecedents`` CSR."""
        binary = sp.csr_matrix(baskets, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        hits = (binary @ self.antecedents_.T).tocsr()
        hits.data = (hits.data == self.antecedent_size_[hits.indices]).astype(np.float32)
        hits.eliminate_zeros()
        return hits

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        n = baskets.shape[0]
        out = np.full((n, self.values_.shape[1]), -np.inf)
        if self.values_.nnz == 0 or n == 0:
            return out
        fired = self.fired(baskets)
        if self.combine == "sum":
            combined = (fired @ self.values_).tocsr()
        elif self.combine == "noisy_or":
            weights = self.values_.copy()
            weights.data = -np.log1p(-np.minimum(weights.data, _CONFIDENCE_CAP))
            combined = (fired @ weights).tocsr()
            combined.data = -np.expm1(-combined.data)
        else:
            combined = _max_product(fired, self.values_)
        rows = np.repeat(np.arange(n), np.diff(combined.indptr))
        out[rows, combined.indices] = combined.data
        return out

    # ------------------------------------------------------------------ reasons

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        fired = self.fired(
            sp.csr_matrix(
                (np.ones(len(context), np.float32), (np.zeros(len(context), int), list(context))),
                shape=(1, self.antecedents_.shape[1]),
            )
        ).indices
        by_item = self.rule_of_[fired].tocsc() if len(fired) else None
        out = []
        for item in items:
            if by_item is None or item >= by_item.shape[1]:
                out.append(popular_reason(table, item))
                continue
            rule_ids = by_item.data[by_item.indptr[item] : by_item.indptr[item + 1]] - 1
            if len(rule_ids) == 0:
                out.append(popular_reason(table, item))
                continue
            strength = self.rules_[self.metric].to_numpy()[rule_ids]
            best = self.rules_.iloc[int(rule_ids[np.argmax(strength)])]
            out.append(_evidence(best, table.ids.to_index, table.names, len(rule_ids)))
        return out


def _dense_sides(side: pd.Series, data: ShopData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One rule side as flat dense item indices (-1 unknown), their rule numbers, and lengths."""
    lengths = np.fromiter((len(t) for t in side), dtype=np.int64, count=len(side))
    flat = [str(i) for t in side for i in t]
    index = data.items.to_index(flat) if flat else np.empty(0, dtype=np.int64)
    return np.asarray(index, dtype=np.int64), np.repeat(np.arange(len(side)), lengths), lengths


def _max_product(fired: sp.csr_matrix, values: sp.csr_matrix) -> sp.csr_matrix:
    """``out[r, c] = max over fired antecedents a of values[a, c]`` (a max-times sparse product)."""
    rows = np.repeat(np.arange(fired.shape[0]), np.diff(fired.indptr))
    ante = fired.indices
    starts = values.indptr[ante]
    lengths = values.indptr[ante + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return sp.csr_matrix((fired.shape[0], values.shape[1]))
    # Positions of every (fired antecedent, consequent) entry, without a Python loop.
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    pos = np.arange(total) + offsets
    out_rows = np.repeat(rows, lengths)
    cols = values.indices[pos]
    vals = values.data[pos]
    order = np.lexsort((-vals, cols, out_rows))
    out_rows, cols, vals = out_rows[order], cols[order], vals[order]
    first = np.ones(total, dtype=bool)
    first[1:] = (out_rows[1:] != out_rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix(
        (vals[first], (out_rows[first], cols[first])), shape=(fired.shape[0], values.shape[1])
    )


def _evidence(rule: pd.Series, to_index: Any, names: np.ndarray, n_fired: int) -> str:
    """ "customers who bought 'X' and 'Y' also bought this in 62% of 143 orders (lift 8.1)"."""
    labels = []
    for item_id, index in zip(
        rule["antecedent"], to_index([str(i) for i in rule["antecedent"]]), strict=True
    ):
        name = names[index] if index >= 0 and names[index] is not None else None
        labels.append(f"'{name if isinstance(name, str) and name else item_id}'")
    bought = (
        " and ".join(labels) if len(labels) <= 2 else ", ".join(labels[:-1]) + f" and {labels[-1]}"
    )
    text = (
        f"customers who bought {bought} also bought this in {rule['confidence']:.0%} "
        f"of {int(rule['antecedent_count']):,} orders (lift {rule['lift']:.1f})"
    )
    if n_fired > 1:
        more = n_fired - 1
        text += f"; {more} more rule{'s agree' if more > 1 else ' agrees'}"
    return text
