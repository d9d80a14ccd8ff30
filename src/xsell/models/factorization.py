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
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.models.base import Recommender

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

    personalized: ClassVar[bool] = True

    on: str = "baskets"
    factors: int = 64
    iterations: int = 15
    regularization: float = 0.01
    weighting: str = "none"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    user_weight: float = 1.0
    random_state: int = 0

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

    def _check_params(self) -> None:
        if self.on not in ON_CHOICES:
            raise ValidationError(
                f"{self.name}: on must be one of {list(ON_CHOICES)}, got {self.on!r}"
            )
        if self.weighting not in WEIGHTING_CHOICES:
            raise ValidationError(
                f"{self.name}: weighting must be one of {list(WEIGHTING_CHOICES)}, "
                f"got {self.weighting!r}"
            )
        for name in ("factors", "iterations"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValidationError(
                    f"{self.name}: {name} must be a positive integer, got {value!r}"
                )
        if self.regularization < 0:
            raise ValidationError(
                f"{self.name}: regularization must be >= 0, got {self.regularization!r}"
            )

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
        rows = max(matrix.shape[0], 1)
        self.idf_ = np.log(rows) - np.log1p(counts.astype(np.float64))
        lengths = np.asarray(matrix.sum(axis=1)).ravel()
        self.mean_length_ = float(lengths.mean()) if len(lengths) else 1.0
        return self._weigh(matrix)

    def _weigh(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Apply the training weighting to ``matrix`` (training rows or folded-in carts).

        BM25 uses the idf and mean row length of the *training* matrix, so a cart is
        weighted exactly as a training row holding the same items would have been
        (the formula of ``implicit.nearest_neighbours.bm25_weight``).
        """
        if self.weighting == "none":
            return matrix
        matrix = matrix.tocsr(copy=True).astype(np.float64)
        lengths = np.asarray(matrix.sum(axis=1)).ravel()
        norm = (1.0 - self.bm25_b) + self.bm25_b * lengths / self.mean_length_
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        matrix.data = (
            matrix.data
            * (self.bm25_k1 + 1.0)
            / (self.bm25_k1 * norm[rows] + matrix.data)
            * self.idf_[matrix.indices]
        )
        return matrix.astype(np.float32).tocsr()

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

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        rows = self._context_rows(baskets)
        vectors = self._fold_in(rows)
        evidence = np.diff(rows.indptr) > 0
        if users is not None and self.user_weight > 0:
            user_vectors, has_user = self._user_vectors(np.asarray(users, dtype=np.int64))
            vectors = vectors + self.user_weight * user_vectors
            evidence |= has_user
        vectors = self._finish_vectors(vectors)
        trained = len(self.trained_)
        out = np.full((baskets.shape[0], self.n_items), -np.inf)
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

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
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

    alpha: float = 10.0

    def _fit(self, data: ShopData) -> None:
        self._check_params()
        if self.alpha <= 0:
            raise ValidationError(f"als: alpha must be > 0, got {self.alpha!r}")
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

    iterations: int = 100
    learning_rate: float = 0.05

    def _fit(self, data: ShopData) -> None:
        self._check_params()
        if self.learning_rate <= 0:
            raise ValidationError(f"bpr: learning_rate must be > 0, got {self.learning_rate!r}")
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
