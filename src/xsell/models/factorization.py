"""Matrix factorization through the ``implicit`` library: ALS and BPR.

Both models learn one latent vector per item from a users x items (or baskets x
items) matrix. A cart is scored by *folding it in*: the least-squares factor of a
pseudo-user who bought exactly the cart (plus, for a known customer, their past
purchases) is solved against the fixed item factors, so cart completion works for
anonymous baskets and for customers the model never saw. For ALS this is the
same solve as ``implicit``'s ``recalculate_user``; for BPR it is the same solve
run on BPR's item factors (BPR itself has no fold-in).

Only NumPy arrays are kept after fitting, so a saved model loads without
``implicit`` installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.models.base import Recommender

#: What a model can be trained on: one row per customer or one row per basket.
TRAIN_ON: Final = ("users", "baskets")


def bm25_idf(matrix: sp.csr_matrix) -> tuple[np.ndarray, float]:
    """Per-column idf and mean row length of ``matrix``, as ``implicit``'s ``bm25_weight`` uses."""
    n_rows = float(matrix.shape[0])
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = np.log(n_rows) - np.log1p(df)
    lengths = np.asarray(matrix.sum(axis=1)).ravel()
    return idf, float(lengths.mean()) if len(lengths) else 1.0


def bm25_rows(
    rows: sp.csr_matrix, idf: np.ndarray, mean_length: float, k1: float, b: float
) -> sp.csr_matrix:
    """BM25-weight ``rows`` with a fitted idf and mean length.

    On the training matrix itself this equals ``implicit.nearest_neighbours.bm25_weight``;
    on new rows (a cart) it applies the training statistics, so a folded-in cart is
    weighted the way training rows were.
    """
    rows = sp.csr_matrix(rows, dtype=np.float64, copy=True)
    lengths = np.asarray(rows.sum(axis=1)).ravel()
    norm = (1.0 - b) + b * lengths / (mean_length or 1.0)
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    rows.data = rows.data * (k1 + 1.0) / (k1 * norm[row_of] + rows.data) * idf[rows.indices]
    return rows


def fold_in(
    item_factors: np.ndarray, confidence: sp.csr_matrix, regularization: float
) -> np.ndarray:
    """Least-squares factors of pseudo-users with the given confidences (Hu, Koren, Volinsky).

    Solves ``x = (YᵀY + λI + Yᵀ(C - I)Y)⁻¹ YᵀCp`` for every row, where ``C`` holds the
    row's confidences on its items (1 elsewhere) and ``p`` is 1 on its items; this
    is the solve ``implicit``'s ALS ``recalculate_user`` runs.

    Parameters
    ----------
    item_factors:
        ``n_items x f`` item factors ``Y``.
    confidence:
        ``n x n_items`` CSR of confidences (already scaled by ``alpha``).
    regularization:
        The ridge ``λ``.

    Returns
    -------
    np.ndarray
        ``n x f`` float64 factors; all zeros for an empty row.
    """
    factors = np.asarray(item_factors, dtype=np.float64)
    f = factors.shape[1]
    base = factors.T @ factors + regularization * np.eye(f)
    out = np.zeros((confidence.shape[0], f), dtype=np.float64)
    indptr, indices, data = confidence.indptr, confidence.indices, confidence.data
    # One small solve per row, never batched, so a row's answer never depends on its batch.
    for row in range(confidence.shape[0]):
        lo, hi = indptr[row], indptr[row + 1]
        if lo == hi:
            continue
        y = factors[indices[lo:hi]]
        c = data[lo:hi].astype(np.float64)
        a = base + (y.T * (c - 1.0)) @ y
        out[row] = np.linalg.solve(a, y.T @ c)
    return out


@dataclass
class _Factorization(Recommender):
    """Shared fitting data, cart fold-in, scoring and reasons of ALS and BPR.

    Parameters
    ----------
    factors:
        Length of the latent vectors.
    iterations:
        Training epochs.
    regularization:
        L2 penalty of training (ALS: ridge; BPR: SGD weight decay).
    alpha:
        Confidence scale: a bought item counts ``alpha * value`` in the fold-in
        (and, for ALS, in training), unbought ones 1.
    on:
        ``"baskets"`` trains on baskets x items (all baskets, anonymous ones too;
        best for cart completion and for shops where few orders carry a customer
        id); ``"users"`` on customers x items purchase counts.
    bm25:
        Weight the training matrix (and folded-in carts) with BM25, damping
        items everybody buys.
    bm25_k1, bm25_b:
        BM25 parameters (``implicit``'s defaults).
    half_life_days:
        Time decay of training rows: a purchase counts ``0.5 ** (age / half_life)``.
    history_weight:
        For a known customer, their past purchases join the cart in the fold-in
        with this weight per item (0 ignores history).
    random_state:
        Seed of the initial factors (results are reproducible).
    num_threads:
        Threads ``implicit`` trains with (0: all cores).
    """

    personalized: ClassVar[bool] = True

    factors: int = 64
    iterations: int = 15
    regularization: float = 0.05
    alpha: float = 10.0
    on: str = "baskets"
    bm25: bool = False
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    half_life_days: float | None = None
    history_weight: float = 0.5
    random_state: int = 0
    num_threads: int = 0

    item_factors_: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0), np.float32), init=False, repr=False
    )
    known_items_: np.ndarray = field(
        default_factory=lambda: np.zeros(0, bool), init=False, repr=False
    )
    unit_factors_: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0), np.float32), init=False, repr=False
    )
    idf_: np.ndarray | None = field(default=None, init=False, repr=False)
    mean_length_: float = field(default=1.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._check_params()

    def _check_params(self) -> None:
        checks: list[tuple[str, Any, bool, str]] = [
            ("factors", self.factors, isinstance(self.factors, int) and self.factors >= 1,
             "an integer >= 1"),
            ("iterations", self.iterations,
             isinstance(self.iterations, int) and self.iterations >= 1, "an integer >= 1"),
            ("regularization", self.regularization, self.regularization >= 0, "a number >= 0"),
            ("alpha", self.alpha, self.alpha > 0, "a number > 0"),
            ("on", self.on, self.on in TRAIN_ON, f"one of {list(TRAIN_ON)}"),
            ("half_life_days", self.half_life_days,
             self.half_life_days is None or self.half_life_days > 0, "None or a number > 0"),
            ("history_weight", self.history_weight, self.history_weight >= 0, "a number >= 0"),
            ("num_threads", self.num_threads,
             isinstance(self.num_threads, int) and self.num_threads >= 0, "an integer >= 0"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise ValidationError(f"{self.name}: {name} must be {expected}, got {value!r}")

    # ------------------------------------------------------------ training

    def _train(self, matrix: sp.csr_matrix) -> np.ndarray:
        """Item factors learned from ``matrix`` (rows x items, float32 CSR)."""
        raise NotImplementedError

    def training_matrix(self, data: ShopData) -> sp.csr_matrix:
        """The rows x items matrix the model learns from (before BM25 and ``alpha``)."""
        if self.on == "users":
            if not (data.basket_user >= 0).any():
                raise ValidationError(
                    f"{self.name}: on='users' needs orders with customer ids and the data has "
                    "none; use on='baskets'"
                )
            if self.half_life_days:
                return data.user_item_weighted(self.half_life_days)
            return data.user_item
        matrix = data.basket_item
        if self.half_life_days:
            matrix = sp.csr_matrix(
                sp.diags(_basket_weights(data, self.half_life_days)) @ matrix, dtype=np.float32
            )
        return matrix

    def _fit(self, data: ShopData) -> None:
        self._check_params()
        matrix = sp.csr_matrix(self.training_matrix(data), dtype=np.float32)
        matrix.eliminate_zeros()
        if self.bm25:
            self.idf_, self.mean_length_ = bm25_idf(matrix)
            matrix = sp.csr_matrix(
                bm25_rows(matrix, self.idf_, self.mean_length_, self.bm25_k1, self.bm25_b),
                dtype=np.float32,
            )
            # Items bought in every row get idf <= 0; they carry no signal.
            matrix.data = np.maximum(matrix.data, 0.0)
            matrix.eliminate_zeros()
        else:
            self.idf_ = None
        threadpoolctl = require("threadpoolctl", "models")
        with threadpoolctl.threadpool_limits(1, "blas"):  # type: ignore[attr-defined]
            factors = self._train(matrix)
        self.item_factors_ = np.ascontiguousarray(factors, dtype=np.float32)
        self.known_items_ = np.diff(matrix.tocsc().indptr) > 0
        norms = np.linalg.norm(self.item_factors_, axis=1, keepdims=True)
        self.unit_factors_ = self.item_factors_ / np.where(norms > 0, norms, 1.0)

    # ------------------------------------------------------------ scoring

    def fold_in_regularization(self) -> float:
        """The ridge of the cart fold-in."""
        return self.regularization

    def context_rows(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        """Each context as a pseudo-user row over the trained items (before ``alpha``)."""
        n_trained = self.item_factors_.shape[0]
        rows = sp.csr_matrix(baskets, dtype=np.float64)[:, :n_trained]
        rows.data[:] = 1.0
        if users is not None and self.history_weight > 0 and self.history_ is not None:
            users = np.asarray(users, dtype=np.int64)
            history = self.history_
            ok = (users >= 0) & (users < history.shape[0])
            picked = history[np.where(ok, users, 0)][:, :n_trained]
            picked = sp.csr_matrix(sp.diags(ok.astype(np.float64)) @ picked, dtype=np.float64)
            picked.eliminate_zeros()
            picked.data[:] = self.history_weight
            rows = sp.csr_matrix(rows + picked)
        rows.sort_indices()
        if self.idf_ is not None:
            rows = bm25_rows(rows, self.idf_, self.mean_length_, self.bm25_k1, self.bm25_b)
            rows.data = np.maximum(rows.data, 0.0)
            rows.eliminate_zeros()
        return rows

    def user_factors(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        """Folded-in latent vectors of the contexts (``n x factors``; zeros for empty ones)."""
        self.require_fitted()
        rows = self.context_rows(baskets, users)
        rows.data = rows.data * self.alpha
        return fold_in(self.item_factors_, rows, self.fold_in_regularization())

    def score(self, baskets: sp.csr_matrix, users: np.ndarray | None = None) -> np.ndarray:
        self.require_fitted()
        vectors = self.user_factors(baskets, users)
        n_trained = self.item_factors_.shape[0]
        out = np.full((baskets.shape[0], self.n_items), -np.inf, dtype=np.float64)
        scores = vectors @ self.item_factors_.T.astype(np.float64)
        scores[:, ~self.known_items_] = -np.inf
        # An empty context has no evidence at all.
        scores[~np.any(vectors != 0, axis=1)] = -np.inf
        out[:, :n_trained] = scores
        return out

    # ------------------------------------------------------------ explanations

    def similar_items(self, item: int, k: int = 10) -> list[tuple[int, float]]:
        """Items whose factors point the same way as ``item``'s (cosine), best first."""
        self.require_fitted()
        if not 0 <= item < len(self.unit_factors_) or not self.known_items_[item]:
            return []
        cosine = self.unit_factors_ @ self.unit_factors_[item]
        cosine[~self.known_items_] = -np.inf
        cosine[item] = -np.inf
        best = np.lexsort((np.arange(len(cosine)), -cosine))[:k]
        return [(int(i), float(cosine[i])) for i in best if np.isfinite(cosine[i])]

    def reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        n_trained = len(self.unit_factors_)
        anchors = [int(i) for i in context if 0 <= int(i) < n_trained and self.known_items_[i]]
        from_history = False
        if not anchors and user >= 0:
            anchors = [
                int(i) for i in self.history_items(user)
                if i < n_trained and self.known_items_[i]
            ]
            from_history = True
        out = []
        for item in items:
            if not anchors or not 0 <= item < n_trained:
                out.append("fits what customers with similar purchases buy")
                continue
            cosine = self.unit_factors_[anchors] @ self.unit_factors_[item]
            best = int(np.argmax(cosine))
            name = table.names[anchors[best]]
            lead = f"you bought '{name}'; customers" if from_history else "customers"
            buy = "buy it" if from_history else f"buy '{name}'"
            out.append(f"{lead} who {buy} also buy this (factor similarity {cosine[best]:.2f})")
        return out


def _basket_weights(data: ShopData, half_life_days: float) -> np.ndarray:
    """``0.5 ** (age / half_life)`` per basket, age from the newest basket; unknown times count 1."""
    times = data.basket_time
    known = ~np.isnat(times)
    weights = np.ones(len(times), dtype=np.float64)
    if known.any():
        newest = times[known].max()
        age = (newest - times[known]).astype("timedelta64[s]").astype(np.float64) / 86400.0
        weights[known] = 0.5 ** (age / half_life_days)
    return weights


@dataclass
class ALS(_Factorization):
    """Implicit-feedback ALS (``implicit.cpu.als.AlternatingLeastSquares``) with cart fold-in.

    See :class:`_Factorization` for the parameters. Training confidences are
    ``alpha * value`` (``implicit``'s convention); a cart is folded in with the
    same ridge as training, exactly ``implicit``'s ``recalculate_user``.

    Examples
    --------
    >>> import xsell
    >>> from xsell.data.synthetic import make_shop
    >>> data = make_shop(n_users=200, n_items=60, seed=1).to_shopdata()
    >>> model = xsell.make_model("als", factors=16, iterations=5).fit(data)
    >>> model.recommend_for_basket(["SKU00001"], k=3)["rank"].tolist()
    [1, 2, 3]
    """

    name = "als"

    def _train(self, matrix: sp.csr_matrix) -> np.ndarray:
        als = require("implicit.cpu.als", "models")
        model = als.AlternatingLeastSquares(  # type: ignore[attr-defined]
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=self.num_threads,
            random_state=self.random_state,
            dtype=np.float32,
        )
        model.fit(matrix, show_progress=False)
        return np.asarray(model.item_factors)


@dataclass
class BPR(_Factorization):
    """Bayesian personalized ranking (``implicit.cpu.bpr``) with least-squares cart fold-in.

    BPR learns item factors (plus an item bias, kept as the last factor column)
    by ranking bought over unbought items with SGD. Carts are folded in by the
    least-squares solve of :func:`fold_in` on those factors with ridge
    ``fold_in_ridge``, since BPR has no closed-form user update.

    Parameters
    ----------
    learning_rate:
        SGD step size.
    fold_in_ridge:
        Ridge of the cart fold-in.
    verify_negative_samples:
        Re-draw sampled negatives the row actually bought (slower, more exact).

    Training is single-threaded by default: ``implicit``'s multi-threaded SGD is
    not reproducible from a seed.
    """

    name = "bpr"

    iterations: int = 100
    regularization: float = 0.01
    num_threads: int = 1
    learning_rate: float = 0.05
    fold_in_ridge: float = 0.05
    verify_negative_samples: bool = True

    def _check_params(self) -> None:
        super()._check_params()
        if not self.learning_rate > 0:
            raise ValidationError(
                f"bpr: learning_rate must be a number > 0, got {self.learning_rate!r}"
            )
        if not self.fold_in_ridge > 0:
            raise ValidationError(
                f"bpr: fold_in_ridge must be a number > 0, got {self.fold_in_ridge!r}"
            )

    def fold_in_regularization(self) -> float:
        return self.fold_in_ridge

    def _train(self, matrix: sp.csr_matrix) -> np.ndarray:
        bpr = require("implicit.cpu.bpr", "models")
        model = bpr.BayesianPersonalizedRanking(  # type: ignore[attr-defined]
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            num_threads=self.num_threads,
            verify_negative_samples=self.verify_negative_samples,
            random_state=self.random_state,
            dtype=np.float32,
        )
        model.fit(matrix, show_progress=False)
        return np.asarray(model.item_factors)
