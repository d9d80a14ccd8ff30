"""How a mixed list shares its slots between repeat items and items new to the customer.

Ranked by score alone, a returning customer's list fills up with what they
bought before (repeat purchases score high in every model), and the cross-sell,
items they never bought, gets no slot. A :class:`SlotSplit` fixes, per group of
customers, the share of slots that go to new items; :func:`compose` then builds
the list from the model's best repeat items and its best new items so that every
prefix of the list keeps that share (the first ``j`` items hold
``round(share * j)`` new ones, as far as either list lasts).

Customers are grouped by how often they repeat: their *repeat rate* is the share
of their purchases (item x basket) of items they bought in another basket too.
The shares are learned on held-out baskets of the training data by
:func:`xsell.models.slot_learning.learn_slot_split`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from xsell.errors import ValidationError


@dataclass(frozen=True)
class SlotSplit:
    """Share of slots for new items per customer group.

    Attributes
    ----------
    edges:
        Ascending repeat-rate thresholds between groups: a customer whose rate is
        ``>= edges[g - 1]`` and ``< edges[g]`` is in group ``g``.
    shares:
        Share of the slots (0..1) given to new items in each group (one more than
        ``edges``).
    k:
        List length the shares were learned for.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    k: int = 10

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.edges) + 1:
            raise ValidationError(
                f"a slot split needs one share more than edges, got {len(self.shares)} shares "
                f"and {len(self.edges)} edges"
            )
        if any(not 0.0 <= s <= 1.0 for s in self.shares):
            raise ValidationError(f"slot shares must be in [0, 1], got {list(self.shares)}")
        if list(self.edges) != sorted(self.edges):
            raise ValidationError(f"slot split edges must ascend, got {list(self.edges)}")

    def shares_for(self, history: sp.csr_matrix | None, users: np.ndarray) -> np.ndarray:
        """The new-item share of each customer in ``users`` (NaN: no known customer)."""
        rates = repeat_rates(history, users)
        groups = np.searchsorted(np.asarray(self.edges, dtype=np.float64), rates, side="right")
        shares = np.asarray(self.shares, dtype=np.float64)[np.minimum(groups, len(self.shares) - 1)]
        return np.where(np.isnan(rates), np.nan, shares)

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "shares": list(self.shares), "k": self.k}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SlotSplit:
        return cls(
            tuple(float(e) for e in values["edges"]),
            tuple(float(s) for s in values["shares"]),
            int(values.get("k", 10)),
        )


def repeat_rates(history: sp.csr_matrix | None, users: np.ndarray) -> np.ndarray:
    """Per customer: share of purchases of items bought in more than one basket.

    ``history`` holds in how many baskets each customer bought each item (the
    model's ``history_``). Unknown customers (``-1`` or beyond the history) get
    NaN; customers with no purchase 0.
    """
    users = np.asarray(users, dtype=np.int64)
    out = np.full(len(users), np.nan)
    if history is None:
        return out
    known = (users >= 0) & (users < history.shape[0])
    rows = sp.csr_matrix(history[users[known]])
    total = np.asarray(rows.sum(axis=1)).ravel()
    distinct = np.diff(rows.indptr).astype(np.float64)
    out[known] = np.divide(total - distinct, total, out=np.zeros_like(total), where=total > 0)
    return out


def new_taken(share: float, length: int, n_repeat: int, n_new: int) -> int:
    """How many new items :func:`compose` puts among the first ``length`` items."""
    wanted = int(np.floor(share * length + 0.5))
    return min(n_new, max(wanted, length - n_repeat))


def compose(
    repeat: Sequence[int], new: Sequence[int], share: float, length: int
) -> tuple[list[int], list[bool]]:
    """The first ``length`` items of the mixed list and, for each, whether it is new.

    Position ``j`` (from 1) takes a new item when fewer than
    ``round(share * j)`` new items are placed so far, else a repeat item; when
    one list runs out the other fills in.
    """
    out: list[int] = []
    is_new: list[bool] = []
    i = j = 0
    for position in range(1, length + 1):
        want_new = np.floor(share * position + 0.5) > j
        if (want_new and j < len(new)) or (i >= len(repeat) and j < len(new)):
            out.append(int(new[j]))
            is_new.append(True)
            j += 1
        elif i < len(repeat):
            out.append(int(repeat[i]))
            is_new.append(False)
            i += 1
        else:
            break
    return out, is_new
