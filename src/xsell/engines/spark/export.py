"""``xsell spark export``: the batch answers of :mod:`xsell.analytics.exports`, over partitions.

The bundle folder is shipped to every executor (``SparkContext.addFile``) and
loaded there once per worker process; each partition of item or customer ids is
answered by the very function the single-machine export runs
(:func:`~xsell.analytics.exports.complement_rows`,
:func:`~xsell.analytics.exports.customer_rows`) inside ``mapInPandas``, so every
row equals the one ``xsell export`` writes. A store given for minimum group sizes
is shipped the same way. Spark writes the rows as a folder of part files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from xsell.analytics.exports import (
    COLUMNS,
    ExportSummary,
    check_kind,
    complement_rows,
    customer_rows,
    format_of,
    queries_of,
)
from xsell.errors import ValidationError
from xsell.models.business_rules import BusinessRules, check_mode
from xsell.models.ranking import check_k

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Queries per partition (each a Python task on an executor).
PARTITION_QUERIES: Final = 2000
_LOADED: dict[str, Any] = {}


def spark_export(
    spark: SparkSession,
    bundle: str | Path,
    kind: str,
    out: str | Path,
    *,
    k: int = 20,
    rules: BusinessRules | None = None,
    mode: str = "mixed",
    exclude_bought: bool = True,
    store: str | Path | None = None,
    min_customers: int = 1,
    fmt: str | None = None,
    partitions: int | None = None,
) -> ExportSummary:
    """Export every item's complements or every customer's suggestions on Spark to ``out``.

    Parameters are those of :func:`xsell.analytics.exports.export_answers`;
    ``store`` and ``min_customers`` build its pair guard on each executor.
    ``out`` is a folder of part files in ``fmt`` (``csv`` with a header,
    ``parquet`` or ``jsonl``).
    """
    import time

    from xsell.models.base import Recommender

    started = time.perf_counter()
    check_kind(kind)
    check_k(k)
    check_mode(mode)
    fmt = fmt or (format_of(out) if Path(str(out)).suffix else "parquet")
    format_of(out, fmt)
    bundle = Path(bundle)
    model = Recommender.load(bundle)
    keys = queries_of(model, kind)
    if kind == "complements" and min_customers > 1 and store is None:
        raise ValidationError(
            "complements show what was bought together: give a store so that pairs bought by "
            f"fewer than {min_customers} distinct customers are left out, or min_customers=1"
        )
    context = spark.sparkContext
    context.addFile(str(bundle.resolve()), recursive=True)
    store_name = None
    if store is not None and kind == "complements" and min_customers > 1:
        context.addFile(str(Path(store).resolve()))
        store_name = Path(store).name
    rules = rules or BusinessRules()
    if kind == "customers" and exclude_bought:
        rules = replace(rules, exclude_bought=True)
    job = _Job(bundle.name, kind, k, rules.__dict__, mode, store_name, min_customers)
    n_parts = partitions or max(1, -(-len(keys) // PARTITION_QUERIES))
    ids = spark.createDataFrame(pd.DataFrame({"query": keys}), "query string").repartition(n_parts)
    schema = ", ".join(
        f"{c} {'int' if c == 'rank' else 'double' if c in ('price', 'score') else 'string'}"
        for c in COLUMNS[kind]
    )
    rows = ids.mapInPandas(job, schema=schema).persist()
    count = int(rows.count())
    writer = rows.write.mode("overwrite")
    if fmt == "csv":
        writer.option("header", "true").csv(str(out))
    elif fmt == "jsonl":
        writer.json(str(out))
    else:
        writer.parquet(str(out))
    rows.unpersist()
    return ExportSummary(kind, str(out), fmt, len(keys), count, time.perf_counter() - started)


class _Job:
    """What each executor runs on its partitions (a picklable description, no model inside)."""

    def __init__(
        self,
        bundle: str,
        kind: str,
        k: int,
        rules: dict[str, Any],
        mode: str,
        store: str | None,
        min_customers: int,
    ) -> None:
        self.bundle, self.kind, self.k, self.rules = bundle, kind, k, rules
        self.mode, self.store, self.min_customers = mode, store, min_customers

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model, guard = self._loaded()
        rules = BusinessRules(**self.rules)
        for batch in batches:
            keys = batch["query"].astype(str).tolist()
            if self.kind == "complements":
                yield complement_rows(model, keys, self.k, rules, guard)
            else:
                # exclude_bought is already part of the rules.
                yield customer_rows(model, keys, self.k, rules, self.mode, exclude_bought=False)

    def _loaded(self) -> tuple[Any, Any]:
        """The bundle (and the guard) of this worker process, read once."""
        from pyspark import SparkFiles

        from xsell.analytics.exports import PairGuard
        from xsell.models.base import Recommender

        key = f"{self.bundle}|{self.store}|{self.min_customers}"
        if key not in _LOADED:
            model = Recommender.load(os.path.join(SparkFiles.get(self.bundle)))
            guard = None
            if self.store is not None:
                from xsell.data.shopdata import ShopData

                guard = PairGuard(
                    ShopData.from_store(SparkFiles.get(self.store)), self.min_customers
                )
            _LOADED[key] = (model, guard)
        loaded: tuple[Any, Any] = _LOADED[key]
        return loaded
