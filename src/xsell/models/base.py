"""The contract every cross-sell model keeps: public template methods over private hooks.

A model is a dataclass: hyper-parameters are fields made by
:func:`xsell.models.params.param` (checked on creation and on ``fit``), learned
state lives in attributes ending in ``_``. Users call the public methods with
external ids; a model implements hooks on dense indices: ``_fit(data)`` learns
from a :class:`~xsell.data.shopdata.ShopData`; ``_score(baskets, users)`` scores
every item per context row (dense, or a CSR whose absent entries mean "no
evidence", ``-inf``); ``_reasons`` says why an item fits, in words (learned
rankers add their feature contributions in ``explain``); ``_update``
learns new orders (models that ``learns_live``); ``_check_params`` checks several
parameters together; ``_state`` / ``_set_state`` give the learned state to the
bundle and take it back (default: every ``*_`` field).

Live orders: :meth:`Recommender.update` grows the item table, the customer map
and the purchase histories for every model; a model that ``learns_live`` then
learns in ``_update``; any other keeps its fitted state, and :meth:`score` hides
the items and customers it never learned (they score ``-inf``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.errors import NotFittedError, ValidationError
from xsell.models import answers as A
from xsell.models.business_rules import BusinessRules
from xsell.models.contributions import Explanation
from xsell.models.fallback import popular_reason
from xsell.models.items import ItemTable
from xsell.models.live import absorb
from xsell.models.params import check_params, hyper_parameters
from xsell.models.slots import SlotSplit

Rules = BusinessRules | dict[str, Any] | None
Explained = list[Explanation | None] | None


@dataclass
class Recommender(ABC):
    """Base of every model; see the module docstring for the hooks."""

    name: ClassVar[str] = "base"
    #: ``_update`` learns from live orders (else new items and customers score ``-inf``).
    learns_live: ClassVar[bool] = False
    #: ``_score`` reads the customer index (others are given ``users=None``).
    needs_customers: ClassVar[bool] = False
    #: ``_score`` scores items the model never saw sold (from their features), new ones too.
    scores_unsold_items: ClassVar[bool] = False

    items_: ItemTable | None = field(default=None, init=False, repr=False)
    users_: IdMap | None = field(default=None, init=False, repr=False)
    history_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    fitted_on_: str | None = field(default=None, init=False, repr=False)
    #: The data's pseudonym key check (customer ids are keyed hashes), else ``None``.
    pseudonym_check_: str | None = field(default=None, init=False, repr=False)
    fit_seconds_: float = field(default=0.0, init=False, repr=False)
    #: How many items / customers the learned state covers (the rest came through ``update``).
    n_items_known_: int = field(default=0, init=False, repr=False)
    n_users_known_: int = field(default=0, init=False, repr=False)
    #: Mixed lists' share of new items per customer group (:meth:`learn_slots`), or ``None``.
    slots_: SlotSplit | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_params(self)
        self._check_params()

    # ----------------------------------------------------------- hooks

    @abstractmethod
    def _fit(self, data: ShopData) -> None:
        """Learn from ``data``; the item table, customers and histories are already set."""

    @abstractmethod
    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> Any:
        """Scores of every learned item for each row of ``baskets`` (see :meth:`score`)."""

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        """Why each of ``items`` fits ``context`` (and customer ``user``, ``-1`` if none)."""
        table = self.require_fitted()
        return [popular_reason(table, i) for i in items]

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:  # noqa: B027
        """Learn from new baskets (binary CSR over the grown item table) of ``users``."""

    def _check_params(self) -> None:  # noqa: B027
        """Checks that involve several hyper-parameters (one parameter: :func:`param`)."""

    def _state(self) -> dict[str, Any]:
        """Learned state to store in a bundle: every ``*_`` field of the subclass."""
        own = {f.name for f in fields(Recommender)}
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not f.init and f.name not in own and f.metadata.get("stored", True)
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_state` returned."""
        for key, value in state.items():
            setattr(self, key, value)

    # ----------------------------------------------------------- learning

    def params(self) -> dict[str, Any]:
        """Hyper-parameters and their values."""
        return {key: getattr(self, key) for key in hyper_parameters(type(self))}

    def fit(self, data: ShopData) -> Self:
        """Learn from the baskets (and customers, events, catalog) of ``data``."""
        check_params(self)
        self._check_params()
        if data.n_baskets == 0:
            raise ValidationError(f"{self.name}: cannot fit on data without baskets")
        started = time.perf_counter()
        self.items_ = ItemTable.from_data(data)
        self.users_ = data.users
        self.history_ = data.user_item
        self.fitted_on_ = data.fingerprint()
        self.pseudonym_check_ = data.pseudonym_check
        self.n_items_known_, self.n_users_known_ = data.n_items, data.n_users
        self._fit(data)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def learn_slots(self, data: ShopData, k: int = 10, **options: Any) -> Self:
        """Learn mixed lists' new-item slots per customer group (see ``learn_slot_split``)."""
        from xsell.models.slot_learning import learn_slot_split

        self.slots_ = learn_slot_split(self, data, k, **options)
        return self

    def update(
        self,
        baskets: Sequence[Sequence[str]],
        users: Sequence[str | None] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Learn from new orders without refitting (live serving).

        Unseen items join the item table (their order count as popularity, no
        category or price, in stock, named by ``names`` when given), unseen
        customers the customer map, and every purchase history grows, so
        ``exclude_bought`` and :meth:`recommend` know the new orders at once.
        ``users`` gives each order's customer (``None``: a guest; omitted: all guests).
        """
        table = self.require_fitted()
        assert self.users_ is not None
        new = absorb(table, self.users_, self.history_, baskets, users, names)
        self.items_, self.users_, self.history_ = new.table, new.users, new.history
        if self.learns_live:
            self._update(new.baskets, new.customers)
            self.n_items_known_, self.n_users_known_ = len(new.table), len(new.users)
        elif self.scores_unsold_items and new.new_items:
            self._update(new.baskets, new.customers)
            self.n_items_known_ = len(new.table)

    # ----------------------------------------------------------- by dense index

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> Any:
        """Scores of every item for each context row of ``baskets`` (``n x n_items`` CSR).

        ``users`` holds a customer index per row (``-1`` unknown). The answer is
        dense or a CSR whose absent entries mean ``-inf`` (see
        :func:`xsell.models.items.as_dense`); items and customers added by
        :meth:`update` that the model has not learned score ``-inf`` / count as unknown.
        """
        self.require_fitted()
        n_items = baskets.shape[1]
        known = self.n_items_known_ or n_items
        if n_items > known:
            baskets = sp.csr_matrix(baskets)[:, :known]
        if users is not None and self.needs_customers:
            users = np.where(np.asarray(users) >= self.n_users_known_, -1, users)
        out = self._score(baskets, users if self.needs_customers else None)
        if out.shape[1] < n_items:
            if sp.issparse(out):
                out = sp.csr_matrix(out, copy=True)
                out.resize((out.shape[0], n_items))
            else:
                pad = np.full((out.shape[0], n_items - out.shape[1]), -np.inf)
                out = np.hstack([np.asarray(out, dtype=np.float64), pad])
        return out

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        """Why each of ``items`` is suggested for ``context``; unlearned items say nothing."""
        known = self.n_items_known_ or self.n_items
        return self._reasons([int(i) for i in context if i < known], user, items)

    def explain(self, context: Sequence[int], user: int, items: Sequence[int]) -> Explained:
        """Feature contributions behind each of ``items`` (learned rankers; others: ``None``)."""
        return None

    def history_items(self, user: int) -> np.ndarray:
        """Item indices a customer bought in the training data (and live orders, when served)."""
        if user < 0 or self.history_ is None or user >= self.history_.shape[0]:
            return np.empty(0, dtype=np.int64)
        lo, hi = self.history_.indptr[user], self.history_.indptr[user + 1]
        return self.history_.indices[lo:hi].astype(np.int64)

    def customer_index(self, customer: str | None) -> int:
        """Dense index of a customer id, ``-1`` when unknown or ``None``."""
        if customer is None or self.users_ is None:
            return -1
        return self.users_.index_of(str(customer))

    def require_fitted(self) -> ItemTable:
        if self.items_ is None:
            raise NotFittedError(f"model {self.name!r} is not fitted; call fit(data) first")
        return self.items_

    n_items = property(lambda self: len(self.require_fitted()), doc="Items in the table.")

    # ----------------------------------------------------------- by external id

    def answer(
        self,
        queries: Sequence[A.Query],
        k: int = 10,
        rules: Rules = None,
        explain: bool = False,
        mode: str = "mixed",
    ) -> list[A.Answer]:
        """Ranked suggestions with reasons for each query (the records behind every table)."""
        self.require_fitted()
        return A.answer(self, queries, k, BusinessRules.of(rules), mode=mode, explain=explain)

    def recommend_for_basket(
        self,
        items: Sequence[str],
        k: int = 10,
        user: str | None = None,
        rules: Rules = None,
        explain: bool = False,
        mode: str = "mixed",
    ) -> pd.DataFrame:
        """Complete a cart: the ``k`` best items to add to ``items`` (external ids).

        Unknown item ids are ignored (the reasons say so); an unknown or absent
        ``user`` gets the non-personal answer. A tidy table: query, rank, item_id,
        name, category, price, score, reason, source ("model" or "fallback"); with
        ``explain`` also ``trace`` (business rule -> item ids it removed) and
        ``contributions`` (a learned ranker's feature contributions, else ``None``).
        """
        query = A.Query(tuple(map(str, items)), user, label=",".join(map(str, items)))
        return A.table(self, [query], k, rules, explain, mode)

    def recommend(
        self,
        users: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        rules: Rules = None,
        explain: bool = False,
        mode: str = "mixed",
    ) -> pd.DataFrame:
        """Personalized add-ons for each customer id in ``users``: their history is the context.

        ``exclude_seen=False`` lets repeat purchases through (real targets in
        groceries). Unknown customers get the shop's best sellers, with a reason.
        """
        base = BusinessRules.of(rules)
        base = replace(base, exclude_bought=True) if exclude_seen else base
        queries = [A.Query((), str(u), history=True, label=str(u)) for u in users]
        return A.table(self, queries, k, base, explain, mode)

    def complements(self, item: str, k: int = 10, rules: Rules = None) -> pd.DataFrame:
        """Frequently bought together: the ``k`` items that best go with ``item``."""
        return A.table(self, [A.Query((str(item),), label=str(item))], k, rules, False, "mixed")

    # ----------------------------------------------------------- bundles

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model as a bundle folder (see :mod:`xsell.models.bundle`), atomically."""
        from xsell.models.bundle import write_bundle

        return write_bundle(self, Path(path), metrics or {})

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Read a bundle written by :meth:`save`; nothing in it is executed."""
        from xsell.models.bundle import read_bundle

        model = read_bundle(Path(path))
        if not isinstance(model, cls):
            raise ValidationError(f"{path}: holds a {model.name!r} model, not a {cls.name!r} one")
        return model
