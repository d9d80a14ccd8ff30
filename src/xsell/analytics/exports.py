"""Batch answers for everyone: every item's complements, every customer's suggestions, to a file.

A shop's platform imports "related products" and per-customer lists as files.
:func:`export_answers` asks a model for all of them in chunks, through the same
answers (:func:`xsell.models.answers.answer`: the one ranking routine, business
rules, reasons and the best-seller fill) as ``xsell recommend`` and the API, and
streams the rows to CSV, Parquet or JSON lines, so memory holds one chunk.

Complements reveal co-purchases ("bought with X"). With a :class:`PairGuard`
(minimum group sizes, :mod:`xsell.data.groups`) a suggestion whose pair was bought
together by fewer than ``min_customers`` distinct customers is left out: the list
takes the model's next candidate, then best sellers. Customer lists are each
built from that customer's own purchases and go to that customer only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import scipy.sparse as sp

from xsell.data.groups import check_min_customers
from xsell.errors import ValidationError
from xsell.files import atomic_file
from xsell.models import fallback
from xsell.models.answers import Answer, Query, answer
from xsell.models.business_rules import BusinessRules, check_mode
from xsell.models.ranking import check_k

if TYPE_CHECKING:
    from xsell.data.shopdata import ShopData
    from xsell.models.base import Recommender

KINDS: Final = ("complements", "customers")
FORMATS: Final = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COLUMNS: Final = {
    "complements": (
        "item_id",
        "item_name",
        "rank",
        "suggestion_id",
        "suggestion_name",
        "category",
        "price",
        "score",
        "reason",
        "source",
    ),
    "customers": (
        "customer_id",
        "rank",
        "item_id",
        "name",
        "category",
        "price",
        "score",
        "reason",
        "source",
    ),
}
_SCHEMA: Final = {
    "item_id": pa.string(),
    "item_name": pa.string(),
    "customer_id": pa.string(),
    "rank": pa.int32(),
    "suggestion_id": pa.string(),
    "suggestion_name": pa.string(),
    "name": pa.string(),
    "category": pa.string(),
    "price": pa.float64(),
    "score": pa.float64(),
    "reason": pa.string(),
    "source": pa.string(),
}
#: Queries answered per chunk (one progress step each).
CHUNK: Final = 2000
#: With a guard, this many candidates per list are ranked, so that pairs left out are replaced.
GUARD_DEPTH: Final = 3


def schema(kind: str) -> pa.Schema:
    """The Arrow schema of an export of ``kind``."""
    return pa.schema([(c, _SCHEMA[c]) for c in COLUMNS[check_kind(kind)]])


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValidationError(f"unknown export {kind!r}; choose one of {list(KINDS)}")
    return kind


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """``csv``, ``parquet`` or ``jsonl``: given, or from the file's suffix."""
    if fmt is not None:
        if fmt not in set(FORMATS.values()):
            raise ValidationError(
                f"unknown export format {fmt!r}; choose one of {sorted(set(FORMATS.values()))}"
            )
        return fmt
    suffix = Path(str(path)).suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(
            f"{path}: unknown export file type {suffix or '(no suffix)'!r}; use one of "
            f"{sorted(FORMATS)} or give --format"
        )
    return FORMATS[suffix]


@dataclass
class PairGuard:
    """Minimum group sizes for complements: which pairs enough distinct customers bought together.

    Parameters
    ----------
    data:
        The orders the model learned from (item indices must match the model's).
    min_customers:
        Fewest distinct known customers behind a pair (anonymous orders count for nobody).
    """

    data: ShopData
    min_customers: int

    def __post_init__(self) -> None:
        check_min_customers(self.min_customers)
        self._csc = sp.csc_matrix(self.data.basket_item)
        self._csr = sp.csr_matrix(self.data.basket_item)
        self._owners = self.data.basket_user

    def customers(self, anchor: int, partners: Sequence[int]) -> np.ndarray:
        """Distinct known customers with a basket holding ``anchor`` and each of ``partners``."""
        wanted = np.asarray(partners, dtype=np.int64)
        out = np.zeros(len(wanted), dtype=np.int64)
        if anchor >= self._csc.shape[1] or not len(wanted):
            return out
        baskets = self._csc.indices[self._csc.indptr[anchor] : self._csc.indptr[anchor + 1]]
        owners = self._owners[baskets]
        baskets, owners = baskets[owners >= 0], owners[owners >= 0]
        if not len(baskets):
            return out
        inside = wanted < self._csr.shape[1]
        sub = self._csr[baskets][:, wanted[inside]].tocoo()
        if sub.nnz == 0:
            return out
        pairs = np.unique(sub.col.astype(np.int64) * (int(owners.max()) + 1) + owners[sub.row])
        counts = np.bincount(pairs // (int(owners.max()) + 1), minlength=int(inside.sum()))
        out[np.flatnonzero(inside)] = counts
        return out

    def allows(self, anchor: int, partners: Sequence[int]) -> np.ndarray:
        """Whether each pair ``(anchor, partner)`` may be shown."""
        return self.customers(anchor, partners) >= self.min_customers


def complement_rows(
    model: Recommender,
    items: Sequence[str],
    k: int,
    rules: BusinessRules | None = None,
    guard: PairGuard | None = None,
) -> pd.DataFrame:
    """The ``k`` complements of each item (external ids), as export rows.

    Without a guard each list is ``model.complements(item, k, rules)``.
    """
    rules = rules or BusinessRules()
    queries = [Query((str(i),), label=str(i)) for i in items]
    deep = k if guard is None else min(GUARD_DEPTH * k, max(model.n_items - 1, 1))
    answers = answer(model, queries, deep, rules)
    if guard is not None:
        answers = [
            _guarded(model, q, a, k, rules, guard) for q, a in zip(queries, answers, strict=True)
        ]
    table = model.require_fitted()
    frames = []
    for query, found in zip(queries, answers, strict=True):
        records = pd.DataFrame(found.records(table))
        if records.empty:
            continue
        index = table.ids.index_of(query.items[0])
        frames.append(
            pd.DataFrame(
                {
                    "item_id": query.items[0],
                    "item_name": table.label(index) if index >= 0 else query.items[0],
                    "rank": np.arange(1, len(records) + 1, dtype=np.int32),
                    "suggestion_id": records["item_id"],
                    "suggestion_name": records["name"],
                    "category": records["category"],
                    "price": records["price"],
                    "score": records["score"],
                    "reason": records["reason"],
                    "source": records["source"],
                }
            )
        )
    return _frame(frames, "complements")


def customer_rows(
    model: Recommender,
    customers: Sequence[str],
    k: int,
    rules: BusinessRules | None = None,
    mode: str = "mixed",
    exclude_bought: bool = True,
) -> pd.DataFrame:
    """The ``k`` suggestions of each customer (their purchases are the context), as export rows.

    Each list is ``model.recommend([customer], k, exclude_seen=exclude_bought, rules, mode)``.
    """
    rules = rules or BusinessRules()
    if exclude_bought:
        rules = replace(rules, exclude_bought=True)
    check_mode(mode)
    queries = [Query((), str(c), history=True, label=str(c)) for c in customers]
    table = model.require_fitted()
    frames = []
    for query, found in zip(queries, answer(model, queries, k, rules, mode=mode), strict=True):
        records = pd.DataFrame(found.records(table))
        if records.empty:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": query.customer,
                    "rank": np.arange(1, len(records) + 1, dtype=np.int32),
                    **{c: records[c] for c in COLUMNS["customers"][2:]},
                }
            )
        )
    return _frame(frames, "customers")


def _frame(frames: list[pd.DataFrame], kind: str) -> pd.DataFrame:
    columns = list(COLUMNS[kind])
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    out = pd.concat(frames, ignore_index=True)
    return out[columns]


def _guarded(
    model: Recommender,
    query: Query,
    found: Answer,
    k: int,
    rules: BusinessRules,
    guard: PairGuard,
) -> Answer:
    """``found`` without the model picks whose pair too few customers bought; refilled."""
    table = model.require_fitted()
    anchor = table.ids.index_of(query.items[0])
    model_at = [i for i, s in enumerate(found.sources) if s == "model"]
    picks = [found.items[i] for i in model_at]
    ok = guard.allows(anchor, picks) if anchor >= 0 else np.zeros(len(picks), bool)
    kept = [at for at, good in zip(model_at, ok.tolist(), strict=True) if good][:k]
    items = [found.items[i] for i in kept]
    scores = [found.scores[i] for i in kept]
    reasons = [found.reasons[i] for i in kept]
    sources = ["model"] * len(kept)
    if len(items) < k:
        cart = [anchor] if anchor >= 0 else []
        allowed = rules.allowed(table, cart, [], mode="mixed", item_mask=rules.item_mask(table))
        wanted = len(table) if rules.max_per_category else k - len(items)
        fill, same = fallback.fill(table, cart, allowed, items, wanted)
        if rules.max_per_category:
            capped = rules.cap_per_category(table, [*items, *fill], k)[len(items) :]
            keep = set(capped)
            same = [s for i, s in zip(fill, same, strict=True) if i in keep]
            fill = [i for i in fill if i in keep]
        for item, shares in zip(fill, same, strict=True):
            items.append(item)
            scores.append(0.0)
            reasons.append(
                fallback.fill_reason(
                    table, item, shares, bool(cart), found.unknown_items, None, False
                )
            )
            sources.append("fallback")
    return Answer(found.query, items, scores, reasons, sources, found.unknown_items)


@dataclass
class ExportSummary:
    """What an export wrote."""

    kind: str
    path: str
    format: str
    queries: int
    rows: int
    seconds: float


def export_answers(
    model: Recommender,
    kind: str,
    out: str | Path,
    *,
    k: int = 20,
    rules: BusinessRules | None = None,
    mode: str = "mixed",
    exclude_bought: bool = True,
    guard: PairGuard | None = None,
    fmt: str | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the answers for every item (``complements``) or customer (``customers``) to ``out``.

    Parameters
    ----------
    model:
        A fitted model (e.g. :meth:`~xsell.models.base.Recommender.load` of a bundle).
    kind:
        ``"complements"`` (every item of the model's item table that sold) or
        ``"customers"`` (every customer the model knows).
    k:
        Suggestions per list.
    rules:
        Business rules applied to every list.
    mode, exclude_bought:
        For customers: ``"mixed"``, ``"explore"`` (never what they bought) or
        ``"repeat"``; whether what they bought is left out.
    guard:
        Minimum group sizes for complements (see :class:`PairGuard`).
    fmt:
        ``csv``, ``parquet`` or ``jsonl`` (default: from the suffix of ``out``).
    progress:
        Called with ``(queries done, queries in all)`` after each chunk.
    """
    import time

    started = time.perf_counter()
    check_kind(kind)
    check_k(k)
    fmt = format_of(out, fmt)
    keys = queries_of(model, kind)
    rows = 0
    path = Path(out)
    with atomic_file(path) as tmp, _writer(tmp, fmt, schema(kind)) as write:
        for start in range(0, len(keys), chunk):
            part = keys[start : start + chunk]
            frame = (
                complement_rows(model, part, k, rules, guard)
                if kind == "complements"
                else customer_rows(model, part, k, rules, mode, exclude_bought)
            )
            write(frame)
            rows += len(frame)
            if progress is not None:
                progress(min(start + chunk, len(keys)), len(keys))
    return ExportSummary(kind, str(path), fmt, len(keys), rows, time.perf_counter() - started)


def queries_of(model: Recommender, kind: str) -> list[str]:
    """Ids to export for: items that sold (complements) or known customers (customers)."""
    table = model.require_fitted()
    if check_kind(kind) == "complements":
        return [str(i) for i in table.ids.ids[np.asarray(table.popularity) > 0]]
    users = model.users_
    return [] if users is None else [str(u) for u in users.ids]


def to_arrow(frame: pd.DataFrame, kind: str) -> pa.Table:
    """Export rows as an Arrow table of the export's schema."""
    return pa.Table.from_pandas(frame, schema=schema(kind), preserve_index=False)


class _writer:
    """Streams chunks of rows to one file in ``fmt``."""

    def __init__(self, path: Path, fmt: str, arrow_schema: pa.Schema) -> None:
        self.path, self.fmt, self.schema = path, fmt, arrow_schema
        self.handle: Any = None

    def __enter__(self) -> Callable[[pd.DataFrame], None]:
        if self.fmt == "parquet":
            self.handle = pq.ParquetWriter(self.path, self.schema)
        elif self.fmt == "csv":
            self.handle = pacsv.CSVWriter(self.path, self.schema)
        else:
            self.handle = self.path.open("w", encoding="utf-8")
        return self.write

    def write(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.fmt in ("parquet", "csv"):
            self.handle.write_table(table)
            return
        for record in _json_records(table):
            self.handle.write(record + "\n")

    def __exit__(self, *exc: Any) -> None:
        self.handle.close()


def _json_records(table: pa.Table) -> Iterator[str]:
    for record in table.to_pylist():
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        yield json.dumps(clean, ensure_ascii=False)
