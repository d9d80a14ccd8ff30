"""The one interface every cross-sell model implements, and its saved bundle.

A model scores every item for a *context*: the items in a cart (or on a product
page) and, when known, the customer. Evaluation calls :meth:`Recommender.score`
on many contexts at once; serving calls :meth:`Recommender.recommend` on one and
shows each suggestion's reason.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell import __version__
from xsell.data import columns as C
from xsell.data.idmap import IdMap
from xsell.data.shopdata import ShopData
from xsell.errors import InputFileError, NotFittedError, ValidationError

BUNDLE_FORMAT = 1


@dataclass(frozen=True)
class Suggestion:
    """One suggested item (dense index), its score and why it is suggested."""

    item: int
    score: float
    reason: str


@dataclass
class ItemTable:
    """What a fitted model knows about items: ids, names, categories, prices, stock, popularity.

    Stored in every bundle so a served model can map ids and apply business rules
    without the store.
    """

    ids: IdMap
    names: np.ndarray
    categories: np.ndarray
    prices: np.ndarray
    in_stock: np.ndarray
    popularity: np.ndarray

    @classmethod
    def from_data(cls, data: ShopData) -> ItemTable:
        return cls(
            ids=data.items,
            names=data.item_names(),
            categories=data.item_categories(),
            prices=data.item_prices(),
            in_stock=data.in_stock(),
            popularity=data.item_basket_count.astype(np.float64),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                C.ITEM: self.ids.ids,
                C.NAME: self.names,
                C.CATEGORY: self.categories,
                C.PRICE: self.prices,
                C.IN_STOCK: self.in_stock,
                "popularity": self.popularity,
            }
        )


def basket_rows(contexts: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """Contexts (lists of item indices) as a binary CSR matrix of ``len(contexts) x n_items``."""
    indptr = np.zeros(len(contexts) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(c) for c in contexts])
    indices = (
        np.concatenate([np.asarray(c, dtype=np.int32) for c in contexts])
        if len(contexts)
        else np.empty(0, np.int32)
    )
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(contexts), n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` best scores per row, best first; excluded and -inf items last.

    Ties break by lower item index, so results are deterministic. Rows with fewer
    than ``k`` finite scores are padded with ``-1``.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
        scores[rows, exclude.indices] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(
        np.arange(scores.shape[1]), (scores.shape[0], 1)
    )
    picked = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(scores, best, axis=1))
    return np.where(finite, best, -1)


@dataclass
class Recommender(ABC):
    """Base of every model.

    Subclasses set ``name`` (the registry key), keep their hyper-parameters as
    dataclass fields, and implement :meth:`_fit` and :meth:`score`; they may
    override :meth:`reasons` to explain suggestions in their own terms.
    """

    name: ClassVar[str] = "base"
    #: The model needs user ids (personalized); it falls back to the cart when the user is unknown.
    personalized: ClassVar[bool] = False

    items_: ItemTable | None = field(default=None, init=False, repr=False)
    fitted_on_: str | None = field(default=None, init=False, repr=False)
    fit_seconds_: float = field(default=0.0, init=False, repr=False)

    # ----------------------------------------------------------- to implement

    @abstractmethod
    def _fit(self, data: ShopData) -> None:
        """Learn from ``data``; ``self.items_`` is already set."""

    @abstractmethod
    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each context row.

        Parameters
        ----------
        baskets:
            ``n x n_items`` binary CSR, the items in each context (cart or page).
        users:
            ``n`` user indices, ``-1`` where unknown; ``None`` when no user is known.

        Returns
        -------
        np.ndarray
            ``n x n_items`` float scores, higher is better; ``-inf`` for items
            the model will never suggest.
        """

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        """Why each of ``items`` is suggested for ``context`` (and ``user``)."""
        table = self.require_fitted()
        return [
            f"popular: in {int(table.popularity[i]):,} past orders" for i in items
        ]

    # ----------------------------------------------------------- shared

    def params(self) -> dict[str, Any]:
        """Hyper-parameters (the dataclass fields that are not learned state)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def fit(self, data: ShopData) -> Self:
        """Learn from the baskets (and users, events, catalog) of ``data``."""
        if data.n_baskets == 0:
            raise ValidationError(f"{self.name}: cannot fit on data without baskets")
        started = time.perf_counter()
        self.items_ = ItemTable.from_data(data)
        self.fitted_on_ = data.fingerprint()
        self._fit(data)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def require_fitted(self) -> ItemTable:
        if self.items_ is None:
            raise NotFittedError(f"model {self.name!r} is not fitted; call fit(data) first")
        return self.items_

    @property
    def n_items(self) -> int:
        return len(self.require_fitted())

    def recommend_batch(
        self,
        contexts: Sequence[Sequence[int]],
        users: np.ndarray | None = None,
        k: int = 10,
        exclude: sp.csr_matrix | None = None,
        exclude_context: bool = True,
    ) -> np.ndarray:
        """Top-``k`` item indices per context, ``-1`` padded.

        Items in the context itself are excluded unless ``exclude_context`` is false.
        """
        rows = basket_rows(contexts, self.n_items)
        scores = self.score(rows, users)
        mask = rows if exclude_context else None
        if exclude is not None:
            mask = exclude if mask is None else ((mask + exclude) > 0).astype(np.float32).tocsr()
        return top_k(scores, k, mask)

    def recommend(
        self,
        items: Sequence[int] = (),
        user: int = -1,
        k: int = 10,
        exclude: Iterable[int] = (),
        allowed: np.ndarray | None = None,
    ) -> list[Suggestion]:
        """Suggestions for one context, with reasons.

        Parameters
        ----------
        items:
            Item indices in the cart or on the page (unknown items already dropped).
        user:
            User index or -1.
        exclude:
            Item indices never to suggest (e.g. already bought).
        allowed:
            Optional boolean mask over items; only those may be suggested
            (business rules such as in-stock or another category).
        """
        table = self.require_fitted()
        if k <= 0:
            raise ValidationError(f"k must be positive, got {k}")
        context = [int(i) for i in items if 0 <= int(i) < len(table)]
        rows = basket_rows([context], len(table))
        scores = self.score(rows, np.array([user]) if user >= 0 else None)[0].astype(np.float64)
        banned = np.zeros(len(table), dtype=bool)
        banned[context] = True
        banned[[int(i) for i in exclude if 0 <= int(i) < len(table)]] = True
        if allowed is not None:
            banned |= ~np.asarray(allowed, dtype=bool)
        scores[banned] = -np.inf
        best = top_k(scores[None, :], k)[0]
        best = best[best >= 0]
        why = self.reasons(context, user, best.tolist()) if len(best) else []
        return [Suggestion(int(i), float(scores[i]), r) for i, r in zip(best, why, strict=True)]

    # ----------------------------------------------------------- bundles

    def save(self, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write the model as a bundle directory: written aside, then renamed into place."""
        table = self.require_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            meta = {
                "format": BUNDLE_FORMAT,
                "xsell": __version__,
                "model": self.name,
                "params": _jsonable(self.params()),
                "fitted_on": self.fitted_on_,
                "fit_seconds": round(self.fit_seconds_, 3),
                "n_items": len(table),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "metrics": metrics or {},
            }
            table.to_frame().to_parquet(tmp / "items.parquet", index=False)
            with (tmp / "model.pkl").open("wb") as handle:
                pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
            (tmp / "model.json").write_text(json.dumps(meta, indent=2, default=str))
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path


def read_bundle_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a bundle (without loading the model)."""
    path = Path(path)
    meta_file = path / "model.json"
    if not meta_file.exists():
        raise InputFileError(
            f"{path}: not an xsell model bundle (no model.json); create one with `xsell train`"
        )
    meta: dict[str, Any] = json.loads(meta_file.read_text())
    if meta.get("format") != BUNDLE_FORMAT:
        raise InputFileError(
            f"{path}: bundle format {meta.get('format')!r}, this xsell reads {BUNDLE_FORMAT}"
        )
    return meta


def load_model(path: str | Path) -> Recommender:
    """Load a bundle written by :meth:`Recommender.save`."""
    path = Path(path)
    meta = read_bundle_meta(path)
    with (path / "model.pkl").open("rb") as handle:
        model = pickle.load(handle)
    if not isinstance(model, Recommender) or model.name != meta["model"]:
        raise InputFileError(f"{path}: model.pkl does not hold the {meta['model']!r} model")
    return model


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
