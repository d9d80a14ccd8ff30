"""Matrix factorization (ALS and BPR) through the ``implicit`` library.

Both models learn one latent vector per item from a basket x item (or customer x
item) matrix. A cart is scored by *folding it in* as a pseudo-user: for ALS the
exact least-squares solve of Hu, Koren & Volinsky (2008) for a new row against
the fixed item factors; for BPR, whose ranking loss has no closed-form fold-in,
the mean of the cart's item vectors. A known customer adds their own vector.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.models.base import Recommender
from xsell.models.params import integer, number, one_of, param
from xsell.models.weighting import Bm25, weighted

ON_CHOICES = ("baskets", "users")
WEIGHTING_CHOICES = ("none", "bm25")


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread: implicit slows down ~10x otherwise (its issue #649)."""
    threadpoolctl = require("threadpoolctl", "models")
    with threadpoolctl.threadpool_limits(1, "blas"):  # type: ignore[attr-defined]
        yield


@dataclass
class _Factorization(Recommender):
    """Shared state and scoring of the factor models (not registered itself)."""

    needs_customers = True

    on: str = param("baskets", one_of(*ON_CHOICES))
    factors: int = param(64, integer(low=1))
    iterations: int = param(15, integer(low=1))
    regularization: float = param(0.01, number(low=0))
    weighting: str = param("none", one_of(*WEIGHTING_CHOICES))
    bm25_k1: float = param(100.0, number(low=0))
    bm25_b: float = param(0.8, number(low=0, high=1))
    user_weight: float = param(1.0, number(low=0))
    random_state: int = param(0, integer(low=0))

    item_factors_: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0)), init=False, repr=False
    )
    user_factors_: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0)), init=False, repr=False
    )
    trained_: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), init=False, repr=False)
    idf_: np.ndarray = field(default_factory=lambda: np.zeros(0), init=False, repr=False)
    mean_length_: float = field(default=1.0, init=False, repr=False)

    # ----------------------------------------------------------- fitting

    def _training_matrix(self, data: ShopData) -> sp.csr_matrix:
        """Rows (baskets or customers) x items, BM25-weighted when asked for."""
        if self.on == "users":
            matrix = data.user_item.astype(np.float32).tocsr()
            if matrix.nnz == 0:
                raise ValidationError(
                    f"{self.name}: on='users' needs baskets of known customers, and every "
                    "basket is anonymous; use on='baskets'"
                )
        else:
            matrix = data.basket_item.astype(np.float32).tocsr()
        counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
        self.trained_ = counts > 0
        stats = Bm25.of(matrix, self.bm25_k1, self.bm25_b)
        self.idf_, self.mean_length_ = stats.idf, stats.mean_length
        if self.weighting == "none":
            return matrix
        return sp.csr_matrix(weighted(matrix, "bm25", self.bm25_k1, self.bm25_b), dtype=np.float32)

    def _weigh(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        """Carts folded in are weighted as training rows with the same items were."""
        if self.weighting == "none":
            return rows
        stats = Bm25(self.idf_, self.mean_length_, self.bm25_k1, self.bm25_b)
        return sp.csr_matrix(stats.weigh(rows), dtype=np.float32)

    def _fit_implicit(self, model: Any, matrix: sp.csr_matrix) -> None:
        with _one_blas_thread():
            model.fit(matrix, show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)

    # ----------------------------------------------------------- scoring

    def _context_rows(self, baskets: sp.csr_matrix) -> sp.csr_matrix:
        """The carts restricted to trained item columns (items added later are unknown)."""
        n_trained = len(self.trained_)
        rows = sp.csr_matrix(baskets)
        if rows.shape[1] > n_trained:
            rows = rows[:, :n_trained]
        elif rows.shape[1] < n_trained:
            rows = sp.csr_matrix(
                (rows.data, rows.indices, rows.indptr), shape=(rows.shape[0], n_trained)
            )
        rows = sp.csr_matrix(rows.multiply(self.trained_[None, :].astype(np.float32)))
        rows.eliminate_zeros()
        return rows

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        """Latent vector of each row seen as a new user (zero for empty rows)."""
        raise NotImplementedError

    def fold_in(self, baskets: sp.csr_matrix) -> np.ndarray:
        """The latent vector of each cart (items x basket CSR) seen as a new customer.

        Items the model was not trained on are ignored; an empty cart folds into zero.
        """
        self.require_fitted()
        return self._fold_in(self._context_rows(baskets))

    def _user_vectors(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent vectors of known customers and a mask of who has one."""
        out = np.zeros((len(users), self.item_factors_.shape[1]), dtype=np.float64)
        has = np.zeros(len(users), dtype=bool)
        known = users >= 0
        if self.on == "users":
            direct = known & (users < self.user_factors_.shape[0])
            out[direct] = self.user_factors_[users[direct]]
            has |= direct
            known &= ~direct
        if known.any() and self.history_ is not None:
            # Customers without a trained vector (on="baskets", or new since the fit)
            # are folded in from their purchase history.
            where = np.flatnonzero(known & (users < self.history_.shape[0]))
            if len(where):
                history = sp.csr_matrix(self.history_[users[where]], dtype=np.float32)
                history.data[:] = 1.0
                rows = self._context_rows(history)
                out[where] = self._fold_in(rows)
                has[where] = np.diff(rows.indptr) > 0
        return out, has

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        rows = self._context_rows(baskets)
        vectors = self._fold_in(rows)
        evidence = np.diff(rows.indptr) > 0
        if users is not None and self.user_weight > 0:
            user_vectors, has_user = self._user_vectors(np.asarray(users, dtype=np.int64))
            vectors = vectors + self.user_weight * user_vectors
            evidence |= has_user
        vectors = self._finish_vectors(vectors)
        trained = len(self.trained_)
        out = np.full((baskets.shape[0], baskets.shape[1]), -np.inf)
        scores = vectors @ self.item_factors_.T.astype(np.float64)
        scores[:, ~self.trained_] = -np.inf
        out[:, :trained] = scores
        out[~evidence] = -np.inf
        return out

    def _finish_vectors(self, vectors: np.ndarray) -> np.ndarray:
        return vectors

    # ----------------------------------------------------------- reasons

    def _item_embedding(self) -> np.ndarray:
        return self.item_factors_.astype(np.float64)

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        trained = len(self.trained_)
        # A known customer's own vector also drives the scores, so their past purchases
        # are candidate explanations next to the cart.
        candidates = [*context, *(self.history_items(user).tolist() if user >= 0 else [])]
        sources = list(
            dict.fromkeys(int(i) for i in candidates if 0 <= i < trained and self.trained_[i])
        )
        if not sources:
            return ["fits the customer's taste profile (latent factors)" for _ in items]
        embedding = self._item_embedding()
        norms = np.linalg.norm(embedding, axis=1)
        norms[norms == 0] = 1.0
        unit = embedding / norms[:, None]
        out = []
        for item in items:
            if not 0 <= item < trained:
                out.append("latent-factor match")
                continue
            similarity = unit[sources] @ unit[item]
            best = int(np.argmax(similarity))
            out.append(
                f"often bought by customers who buy {table.names[sources[best]]!r} "
                f"(factor similarity {similarity[best]:.2f})"
            )
        return out


@dataclass
class ALS(_Factorization):
    """Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008) via ``implicit``.

    Parameters
    ----------
    on:
        ``"baskets"`` learns from basket x item (what goes in the same cart),
        ``"users"`` from customer x item purchase counts (what the same people buy).
    factors, iterations, regularization:
        Size of the latent vectors, ALS sweeps, L2 penalty.
    alpha:
        Confidence of an observed purchase: ``c = alpha * weight``.
    weighting:
        ``"none"`` or ``"bm25"`` (down-weights very popular items and long rows);
        ``bm25_k1`` and ``bm25_b`` are its parameters.
    user_weight:
        Weight of a known customer's own vector added to the cart's.
    random_state:
        Seed of the initial factors; fits are single-threaded and deterministic.
    """

    name = "als"

    alpha: float = param(10.0, number(low=0, low_open=True))

    def _fit(self, data: ShopData) -> None:
        require("implicit", "models")
        from implicit.cpu.als import AlternatingLeastSquares

        matrix = self._training_matrix(data)
        with _one_blas_thread():
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=1,
            )
        self._fit_implicit(model, matrix)

    def _solver(self) -> Any:
        require("implicit", "models")
        from implicit.cpu.als import AlternatingLeastSquares

        with _one_blas_thread():
            solver = AlternatingLeastSquares(
                factors=self.item_factors_.shape[1],
                regularization=self.regularization,
                alpha=self.alpha,
                num_threads=1,
            )
        solver.item_factors = self.item_factors_
        solver.user_factors = self.user_factors_
        return solver

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        """The ALS least-squares solve of each row against the fixed item factors.

        ``x = (YᵀY + Yᵀ(C - I)Y + λI)⁻¹ YᵀCp`` with ``C = alpha * row``; implicit's
        ``recalculate_user`` runs exactly this solve in native code.
        """
        weighted = self._weigh(rows)
        if weighted.shape[0] == 0:
            return np.zeros((0, self.item_factors_.shape[1]))
        with _one_blas_thread():
            vectors = self._solver().recalculate_user(np.arange(weighted.shape[0]), weighted)
        return np.asarray(vectors, dtype=np.float64).reshape(weighted.shape[0], -1)


@dataclass
class BPR(_Factorization):
    """Bayesian personalized ranking (Rendle et al. 2009) via ``implicit``.

    Same options as :class:`ALS` (without ``alpha``) plus ``learning_rate``. A cart's
    vector is the mean of its items' vectors, since BPR has no closed-form fold-in.
    """

    name = "bpr"

    iterations: int = param(100, integer(low=1))
    learning_rate: float = param(0.05, number(low=0, low_open=True))

    def _fit(self, data: ShopData) -> None:
        require("implicit", "models")
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        matrix = self._training_matrix(data)
        model = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=1,
        )
        self._fit_implicit(model, matrix)

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        # The last column of implicit's BPR item factors is the item bias.
        embedding = self.item_factors_[:, :-1].astype(np.float64)
        sizes = np.diff(rows.indptr).astype(np.float64)
        binary = sp.csr_matrix((np.ones(rows.nnz), rows.indices, rows.indptr), shape=rows.shape)
        means = binary @ embedding / np.maximum(sizes, 1.0)[:, None]
        return np.hstack([means, np.zeros((rows.shape[0], 1))])

    def _user_vectors(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vectors, has = super()._user_vectors(users)
        vectors[:, -1] = 0.0
        return vectors, has

    def _finish_vectors(self, vectors: np.ndarray) -> np.ndarray:
        # The user side of the bias column is 1, so every score carries the item bias once.
        vectors = vectors.copy()
        vectors[:, -1] = 1.0
        return vectors

    def _item_embedding(self) -> np.ndarray:
        return self.item_factors_[:, :-1].astype(np.float64)
