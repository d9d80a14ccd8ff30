"""Content-based cross-sell: similar items by product name, category, brand and price band.

Every item becomes a feature vector of four blocks: TF-IDF of its name (word or
character n-grams, scikit-learn's ``TfidfVectorizer``), one-hot category, one-hot
brand and one-hot price band. Each block is L2-normalised and weighted, the
whole vector is L2-normalised again, so the similarity of two items is

    cos(i, j) = sum_b w_b cos_b(i, j) / sqrt(W_i W_j),    W_i = sum of w_b over i's blocks

A basket scores each item by its mean similarity to the basket's items. Nothing
here needs sales, so items with no orders yet (and items named in live updates)
are suggested too.

Similar items are *substitutes* (another lunch bag for a lunch bag). With
``complement_categories=True`` the model instead prefers items of *other*
categories that baskets show are bought together with the basket's categories
(category-level lift), ranking items inside such a category by their content
similarity to the basket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data import columns as C
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.mining.metrics import lift
from xsell.models.base import Recommender
from xsell.models.params import flag, integer, number, one_of, param, sequence_of

#: Ways to cut product names into terms (``TfidfVectorizer``'s ``analyzer``).
ANALYZERS: Final = ("word", "char_wb")
_WORD = re.compile(r"[a-z0-9]+")


def _normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Each row scaled to unit L2 norm (all-zero rows stay zero)."""
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(inverse) @ matrix)


def one_hot(values: Sequence[Any] | np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Items x distinct values indicator matrix (missing values get no column) and the values."""
    series = pd.Series(np.asarray(values, dtype=object))
    present = series.notna().to_numpy() & (series.astype(str).str.strip() != "").to_numpy()
    codes, uniques = pd.factorize(series.where(present, None).astype(object), sort=True)
    rows = np.flatnonzero(codes >= 0)
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, codes[rows])), shape=(len(series), max(len(uniques), 0))
    )
    return matrix, np.asarray(uniques, dtype=object)


def price_bands(prices: np.ndarray, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Band of every price by quantiles of the known prices (``-1`` when unknown) and the edges."""
    prices = np.asarray(prices, dtype=np.float64)
    known = np.isfinite(prices) & (prices > 0)
    bands = np.full(len(prices), -1, dtype=np.int64)
    if not known.any() or n_bands < 1:
        return bands, np.empty(0)
    edges = np.unique(np.quantile(prices[known], np.linspace(0, 1, n_bands + 1)[1:-1]))
    bands[known] = np.searchsorted(edges, prices[known], side="right")
    return bands, edges


def category_lift(
    baskets: sp.csr_matrix, item_category: np.ndarray, n_categories: int
) -> np.ndarray:
    """Category x category lift of appearing in the same basket (``n_categories`` square).

    ``lift[c, d] = N * n(c and d) / (n(c) n(d))`` over baskets, where ``n(c)`` counts
    baskets holding an item of category ``c``; items without a category (code -1)
    are left out; the diagonal is zero.
    """
    has = item_category >= 0
    member = sp.csr_matrix(
        (np.ones(int(has.sum())), (np.flatnonzero(has), item_category[has])),
        shape=(len(item_category), n_categories),
    )
    per_basket = sp.csr_matrix(baskets, dtype=np.float64) @ member
    per_basket.data[:] = 1.0
    together = np.asarray((per_basket.T @ per_basket).todense(), dtype=np.float64)
    counts = np.diag(together).copy()
    n = float(baskets.shape[0])
    share = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        value = lift(share[:, None], share[None, :], together / n)
    value = np.where(np.outer(counts, counts) > 0, value, 0.0)
    np.fill_diagonal(value, 0.0)
    return value


@dataclass
class ContentBased(Recommender):
    """Suggest items whose name, category, brand and price resemble the basket's.

    Parameters
    ----------
    analyzer:
        ``"word"`` (default) or ``"char_wb"`` (character n-grams inside words:
        robust to plurals and typos, bigger vocabulary).
    ngram_range:
        Smallest and largest n-gram of the name TF-IDF.
    stop_words:
        ``"english"`` drops words such as "of", "set" stays; ``None`` keeps all
        (word analyzer only).
    text_weight, category_weight, brand_weight, price_weight:
        Weight of each feature block in the similarity (0 switches a block off).
    n_price_bands:
        Quantile bands of price; items in the same band share the price feature.
    history_weight:
        A known customer's past purchases join the basket with this weight per
        item. Off by default: on Online Retail basket completion it lowers
        recall@10 from 0.173 to 0.147 at 0.5. A known customer with an empty
        basket is always scored from their past purchases.
    complement_categories:
        Prefer items of other categories bought together with the basket's
        categories (category lift > 1); items of the basket's own categories and
        of unrelated ones are not suggested. Needs item categories.
    min_similarity:
        Scores at or below this count as no evidence (``-inf``), so the
        fallback of the base class takes over.
    """

    name = "content"
    learns_live = True
    needs_customers = True
    scores_unsold_items = True

    analyzer: str = param("word", one_of(*ANALYZERS))
    ngram_range: tuple[int, int] = param((1, 2), sequence_of(integer(low=1), length=2))
    stop_words: str | None = param("english", one_of("english", none=True))
    text_weight: float = param(1.0, number(low=0))
    category_weight: float = param(0.5, number(low=0))
    brand_weight: float = param(0.25, number(low=0))
    price_weight: float = param(0.25, number(low=0))
    n_price_bands: int = param(5, integer(low=1))
    history_weight: float = param(0.0, number(low=0))
    complement_categories: bool = param(False, flag())
    min_similarity: float = param(0.0, number())

    features_: sp.csr_matrix = field(
        default_factory=lambda: sp.csr_matrix((0, 0)), init=False, repr=False
    )
    vectorizer_: Any = field(default=None, init=False, repr=False)
    words_: np.ndarray = field(default_factory=lambda: np.empty(0, object), init=False, repr=False)
    category_codes_: np.ndarray = field(
        default_factory=lambda: np.empty(0, np.int64), init=False, repr=False
    )
    category_names_: np.ndarray = field(
        default_factory=lambda: np.empty(0, object), init=False, repr=False
    )
    brands_: np.ndarray = field(default_factory=lambda: np.empty(0, object), init=False, repr=False)
    price_band_: np.ndarray = field(
        default_factory=lambda: np.empty(0, np.int64), init=False, repr=False
    )
    category_lift_: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0)), init=False, repr=False
    )

    def _check_params(self) -> None:
        low, high = self.ngram_range
        if low > high:
            raise ValidationError(
                "content: ngram_range must be (low, high) with low <= high, "
                f"got {self.ngram_range!r}"
            )
        blocks = (self.text_weight, self.category_weight, self.brand_weight, self.price_weight)
        if sum(blocks) <= 0:
            raise ValidationError("content: at least one of the feature weights must be > 0")

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        vectorizer = state.pop("vectorizer_")
        if vectorizer is not None:
            terms = np.empty(len(vectorizer.vocabulary_), dtype=object)
            for term, index in vectorizer.vocabulary_.items():
                terms[index] = term
            state["vectorizer_"] = {"terms": terms, "idf": np.asarray(vectorizer.idf_)}
        else:
            state["vectorizer_"] = None
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        stored = state.pop("vectorizer_", None)
        super()._set_state(state)
        self.vectorizer_ = None
        if stored is not None:
            vocabulary = {str(term): i for i, term in enumerate(stored["terms"].tolist())}
            self.vectorizer_ = self._vectorizer(vocabulary)
            self.vectorizer_.idf_ = np.asarray(stored["idf"], dtype=np.float64)

    # ------------------------------------------------------------ fitting

    def _fit(self, data: ShopData) -> None:
        table = self.require_fitted()
        catalog = data.catalog
        names = catalog[C.NAME].astype(object).where(catalog[C.NAME].notna(), "").astype(str)
        self.words_ = _word_tuples(names.tolist())
        text = self._fit_text(names.tolist())
        categories, self.category_names_ = one_hot(table.categories)
        self.category_codes_ = _codes(categories)
        brand_values = (
            catalog[C.BRAND].astype(object).to_numpy()
            if C.BRAND in catalog.columns
            else np.full(len(catalog), None, dtype=object)
        )
        brands, _ = one_hot(brand_values)
        self.brands_ = np.asarray(brand_values, dtype=object)
        self.price_band_, _ = price_bands(table.prices, self.n_price_bands)
        bands = sp.csr_matrix(
            (
                np.ones(int((self.price_band_ >= 0).sum())),
                (np.flatnonzero(self.price_band_ >= 0), self.price_band_[self.price_band_ >= 0]),
            ),
            shape=(len(table), self.n_price_bands),
        )
        blocks = [
            (text, self.text_weight),
            (categories, self.category_weight),
            (brands, self.brand_weight),
            (bands, self.price_weight),
        ]
        self.features_ = _normalize_rows(
            sp.hstack([_normalize_rows(b) * np.sqrt(w) for b, w in blocks if w > 0], format="csr")
        )
        if self.complement_categories:
            if len(self.category_names_) < 2:
                raise ValidationError(
                    "content: complement_categories=True needs items of at least two categories; "
                    f"the catalog has {len(self.category_names_)}; load a catalog with a "
                    "category column or set complement_categories=False"
                )
            self.category_lift_ = category_lift(
                data.basket_item, self.category_codes_, len(self.category_names_)
            )
        else:
            self.category_lift_ = np.zeros((0, 0))

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        text_module = require("sklearn.feature_extraction.text", "models")
        return text_module.TfidfVectorizer(  # type: ignore[attr-defined]
            analyzer=self.analyzer,
            ngram_range=tuple(self.ngram_range),
            stop_words=self.stop_words if self.analyzer == "word" else None,
            lowercase=True,
            sublinear_tf=True,
            dtype=np.float64,
            vocabulary=vocabulary,
        )

    def _fit_text(self, names: list[str]) -> sp.csr_matrix:
        self.vectorizer_ = self._vectorizer()
        try:
            matrix: sp.csr_matrix = self.vectorizer_.fit_transform(names)
        except ValueError:
            # No names (or only stop words): the text block is simply empty.
            self.vectorizer_ = None
            return sp.csr_matrix((len(names), 0))
        return sp.csr_matrix(matrix)

    def _update(self, baskets: sp.csr_matrix, users: np.ndarray) -> None:
        """Give items added live a name-only feature vector, so they are suggested at once.

        Customers added live are scored from their (live) purchase history.
        """
        table = self.require_fitted()
        old = self.features_.shape[0]
        new = len(table) - old
        if new <= 0:
            return
        names = [str(n) if n is not None else "" for n in table.names[old:]]
        rows = sp.csr_matrix((new, self.features_.shape[1]))
        if self.vectorizer_ is not None and self.text_weight > 0:
            text = sp.csr_matrix(self.vectorizer_.transform(names), dtype=np.float64)
            pad = sp.csr_matrix((new, self.features_.shape[1] - text.shape[1]))
            rows = _normalize_rows(sp.hstack([text, pad], format="csr"))
        self.features_ = sp.vstack([self.features_, rows], format="csr")
        self.words_ = np.concatenate([self.words_, _word_tuples(names)])
        self.category_codes_ = np.concatenate([self.category_codes_, np.full(new, -1)])
        self.brands_ = np.concatenate([self.brands_, np.full(new, None, dtype=object)])
        self.price_band_ = np.concatenate([self.price_band_, np.full(new, -1)])

    # ------------------------------------------------------------ scoring

    def _profiles(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        """Each context as item weights.

        1 per basket item and ``history_weight`` per past purchase of a known
        customer; a known customer with an empty basket gets weight 1 per past purchase.
        """
        n_known = self.features_.shape[0]
        rows = sp.csr_matrix(baskets, dtype=np.float64)[:, :n_known]
        rows.sum_duplicates()
        rows.data[:] = 1.0
        if users is not None and self.history_ is not None:
            users = np.asarray(users, dtype=np.int64)
            history = self.history_
            ok = (users >= 0) & (users < history.shape[0])
            past = sp.csr_matrix(history[np.where(ok, users, 0)], dtype=np.float64)
            past.resize((len(users), n_known))
            empty = np.diff(rows.indptr) == 0
            weight = np.where(empty, 1.0, self.history_weight) * ok
            past.data[:] = 1.0
            past = sp.csr_matrix(sp.diags(weight) @ past)
            past.sum_duplicates()
            past.eliminate_zeros()
            # A past purchase that is also in the basket counts once, as a basket item.
            rows = sp.csr_matrix(rows.maximum(past))
        rows.eliminate_zeros()
        return rows

    def similarity(self, items_a: Sequence[int], items_b: Sequence[int]) -> np.ndarray:
        """Cosine similarity matrix of two lists of item indices (``len(a) x len(b)``)."""
        self.require_fitted()
        a = self.features_[np.asarray(items_a, dtype=np.int64)]
        b = self.features_[np.asarray(items_b, dtype=np.int64)]
        return np.asarray((a @ b.T).todense(), dtype=np.float64)

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        n_known = self.features_.shape[0]
        profiles = self._profiles(baskets, users)
        total = np.asarray(profiles.sum(axis=1)).ravel()
        inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        sims = self._similarity_to(profiles, inverse)
        if self.complement_categories:
            affinity = self._category_affinity(profiles) * inverse[:, None]
            codes = self.category_codes_
            item_affinity = np.where(codes >= 0, affinity[:, np.maximum(codes, 0)], 0.0)
            scores = np.where(item_affinity > 0, item_affinity * (1.0 + sims), -np.inf)
        else:
            # In place: score rows of large catalogs are big (passes over them dominate).
            sims[sims <= self.min_similarity] = -np.inf
            scores = sims
        if baskets.shape[1] > n_known:
            pad = np.full((scores.shape[0], baskets.shape[1] - n_known), -np.inf)
            scores = np.hstack([scores, pad])
        return scores

    def _similarity_to(self, profiles: sp.csr_matrix, row_scale: np.ndarray) -> np.ndarray:
        """``diag(row_scale) P F Fᵀ`` as a dense, C-ordered ``n x items`` array.

        The feature columns the profiles touch are few, so ``P F`` is made dense
        on those columns only and multiplied by the matching sparse columns of
        ``F``: a sparse x dense product, several times faster than sparse x sparse
        when the answer is dense. Entries of ``F`` outside those columns would
        only add exact zeros, so each row's result does not depend on its batch.
        """
        query = sp.csr_matrix(profiles @ self.features_)
        columns = np.unique(query.indices)
        if len(columns) == 0:
            return np.zeros((profiles.shape[0], self.features_.shape[0]))
        compact = query[:, columns].toarray() * row_scale[:, None]
        features = sp.csr_matrix(self.features_[:, columns])
        return np.ascontiguousarray(np.asarray(features @ compact.T, dtype=np.float64).T)

    def _category_affinity(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Context x category: summed log-lift (> 1 only) from the context items' categories."""
        n_categories = len(self.category_names_)
        codes = self.category_codes_
        has = codes >= 0
        member = sp.csr_matrix(
            (np.ones(int(has.sum())), (np.flatnonzero(has), codes[has])),
            shape=(len(codes), n_categories),
        )
        weights = np.log(np.maximum(self.category_lift_, 1.0))
        return np.asarray((profiles @ member) @ weights, dtype=np.float64)

    # ------------------------------------------------------------ explanations

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        table = self.require_fitted()
        n_known = self.features_.shape[0]
        anchors = [int(i) for i in context if 0 <= int(i) < n_known]
        bought = not anchors
        if bought and user >= 0:
            anchors = [int(i) for i in self.history_items(user) if i < n_known]
        out = []
        for item in items:
            if not anchors or item >= n_known:
                out.append("similar to what is in the basket")
                continue
            sims = self.similarity(anchors, [item])[:, 0]
            if self.complement_categories:
                out.append(self._complement_reason(anchors, sims, item, bought))
                continue
            best = anchors[int(np.argmax(sims))]
            details = self._shared(best, item)
            text = f"similar to '{table.names[best]}'" + (", which you bought" if bought else "")
            out.append(f"{text} ({', '.join(details)})" if details else text)
        return out

    def _complement_reason(
        self, anchors: list[int], sims: np.ndarray, item: int, bought: bool
    ) -> str:
        table = self.require_fitted()
        target = int(self.category_codes_[item])
        lifts = np.array(
            [
                self.category_lift_[self.category_codes_[a], target]
                if self.category_codes_[a] >= 0 and target >= 0
                else 0.0
                for a in anchors
            ]
        )
        best_at = int(np.argmax(np.log(np.maximum(lifts, 1.0)) * (1.0 + sims)))
        anchor = anchors[best_at]
        details = [d for d in self._shared(anchor, item) if not d.startswith("same category")]
        which = "you bought" if bought else "in the basket"
        text = (
            f"goes with '{table.names[anchor]}' ({which}): {self.category_names_[target]} is "
            f"bought with {self.category_names_[self.category_codes_[anchor]]} "
            f"(lift {lifts[best_at]:.1f})"
        )
        return f"{text}; {', '.join(details)}" if details else text

    def _shared(self, anchor: int, item: int) -> list[str]:
        """What two items have in common, in words."""
        details = []
        code = self.category_codes_[item]
        if code >= 0 and code == self.category_codes_[anchor] and self.category_weight > 0:
            details.append(f"same category {self.category_names_[code]}")
        brand = self.brands_[item]
        if (
            self.brand_weight > 0
            and brand is not None
            and not pd.isna(brand)
            and brand == self.brands_[anchor]
        ):
            details.append(f"same brand {brand}")
        if self.text_weight > 0:
            stop = self._stop_words()
            theirs = set(self.words_[anchor])
            shared = [
                w
                for w in dict.fromkeys(self.words_[item])
                if w in theirs and w not in stop and len(w) > 1
            ]
            if shared:
                details.append(f"shared words '{' '.join(shared[:4])}'")
        band = self.price_band_[item]
        if self.price_weight > 0 and band >= 0 and band == self.price_band_[anchor]:
            details.append("similar price")
        return details

    def _stop_words(self) -> frozenset[str]:
        if self.stop_words != "english":
            return frozenset()
        text_module = require("sklearn.feature_extraction.text", "models")
        return frozenset(text_module.ENGLISH_STOP_WORDS)  # type: ignore[attr-defined]


def _word_tuples(names: Sequence[str]) -> np.ndarray:
    """The lower-case words of each name, as a 1-d object array of tuples (for reasons)."""
    out = np.empty(len(names), dtype=object)
    for i, name in enumerate(names):
        out[i] = tuple(_WORD.findall(name.lower()))
    return out


def _codes(indicator: sp.csr_matrix) -> np.ndarray:
    """The column of the single 1 in each row of a one-hot matrix (``-1`` for empty rows)."""
    codes = np.full(indicator.shape[0], -1, dtype=np.int64)
    coo = indicator.tocoo()
    codes[coo.row] = coo.col
    return codes
