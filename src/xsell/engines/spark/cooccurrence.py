"""``xsell spark cooccurrence``: item and pair counts, measures and top-k pruning on Spark.

Each basket's distinct items are sorted once and its pairs generated where the
basket lies (one shuffle by basket, then one aggregation by pair), instead of
joining the lines with themselves (two shuffles of every line). The measure of
every pair is the function :func:`xsell.models.cooccurrence.pair_values` applies
on one machine, evaluated on the executors over Arrow batches; each item keeps its
``neighbours`` strongest partners (ties: the lower item index), as ``fit`` does.
The driver then holds what a bundle holds, and writes a normal co-occurrence
bundle: ``xsell serve`` and ``xsell recommend`` read it as any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.engines.spark.lake import Lake, basket_lists, history, to_numpy
from xsell.errors import ValidationError
from xsell.models.cooccurrence import MEASURES, Cooccurrence, pair_values
from xsell.progress import Reporter, SilentReporter

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def pair_counts(lake: Lake) -> DataFrame:
    """``a < b`` with ``together``: in how many baskets items ``a`` and ``b`` were both bought."""
    from pyspark.sql import functions as F

    lists = basket_lists(lake).where(F.size("items") > 1)
    pairs = lists.select(
        F.explode(
            F.expr(
                "flatten(transform(sequence(0, size(items) - 2), i -> "
                "transform(slice(items, i + 2, size(items) - i - 1), "
                "j -> named_struct('a', items[i], 'b', j))))"
            )
        ).alias("pair")
    )
    return pairs.groupBy(F.col("pair.a").alias("a"), F.col("pair.b").alias("b")).agg(
        F.count("*").cast("double").alias("together")
    )


def cooccurrence_model(
    lake: Lake,
    *,
    measure: str = "jaccard",
    min_count: float = 0.0,
    neighbours: int | None = 200,
    aggregate: str = "sum",
    reporter: Reporter | None = None,
) -> Cooccurrence:
    """A fitted :class:`~xsell.models.cooccurrence.Cooccurrence` computed on Spark.

    Parameters are the model's. Its answers equal those of the model fitted on
    one machine on the same lines: the counts, measures and pruning are the same.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    reporter = reporter or SilentReporter()
    if measure not in MEASURES:
        raise ValidationError(f"measure must be one of {list(MEASURES)}, got {measure!r}")
    Cooccurrence(measure=measure, min_count=min_count, neighbours=neighbours, aggregate=aggregate)
    reporter.step("counting pairs", 1)
    counts = pair_counts(lake).persist()
    both = counts.select("a", "b", "together").unionByName(
        counts.select(F.col("b").alias("a"), F.col("a").alias("b"), "together")
    )
    supports = lake.items.popularity
    n_baskets = float(lake.n_baskets)
    reporter.step("measuring pairs", 1)
    kept = both.where((F.col("together") >= float(min_count)) & (F.col("together") > 0))
    measured = kept.mapInPandas(
        _measure(measure, supports, n_baskets),
        schema="a int, b int, together double, value double",
    )
    if neighbours is not None:
        rank = Window.partitionBy("a").orderBy(F.col("value").desc(), F.col("b").asc())
        measured = measured.withColumn("r", F.row_number().over(rank)).where(
            F.col("r") <= int(neighbours)
        )
    reporter.step("collecting", 1)
    top = to_numpy(measured, ["a", "b", "together", "value"])
    full = to_numpy(both, ["a", "b", "together"])
    counts.unpersist()
    n = len(lake.items)
    similarity = _csr(top["a"], top["b"], top["value"].astype(np.float64), n)
    together = _csr(top["a"], top["b"], top["together"].astype(np.float32), n)
    diagonal = np.arange(n)
    counts_matrix = _csr(
        np.concatenate([full["a"], diagonal]),
        np.concatenate([full["b"], diagonal]),
        np.concatenate([full["together"], supports]).astype(np.float32),
        n,
    )
    counts_matrix.eliminate_zeros()
    reporter.step("customers", 1)
    return Cooccurrence.from_counts(
        counts_matrix,
        n_baskets,
        items=lake.items,
        users=lake.users,
        history=history(lake),
        fitted_on=lake.fingerprint,
        similarity=(similarity, together),
        measure=measure,
        min_count=min_count,
        neighbours=neighbours,
        aggregate=aggregate,
    )


def write_cooccurrence_bundle(lake: Lake, out: str | Path, **params: Any) -> Cooccurrence:
    """:func:`cooccurrence_model` saved as a bundle at ``out``."""
    model = cooccurrence_model(lake, **params)
    model.save(out, {"engine": "spark", "lake": lake.path})
    return model


def _measure(measure: str, supports: np.ndarray, n_baskets: float) -> Any:
    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            a = batch["a"].to_numpy()
            b = batch["b"].to_numpy()
            together = batch["together"].to_numpy(dtype=np.float64)
            value = pair_values(measure, supports[a], supports[b], together, n_baskets)
            yield pd.DataFrame({"a": a, "b": b, "together": together, "value": value})

    return apply


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> sp.csr_matrix:
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows.astype(np.int64), minlength=n), out=indptr[1:])
    matrix = sp.csr_matrix((values, cols.astype(np.int32), indptr), shape=(n, n))
    matrix.has_sorted_indices = True
    return matrix
