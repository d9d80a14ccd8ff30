"""``xsell spark als``: implicit ALS on Spark MLlib, for customer histories beyond one machine.

MLlib's ALS (implicit preferences, Hu, Koren & Volinsky 2008) learns customer and
item factors from the customers x items purchase counts (the confidence of a
purchase is ``1 + alpha * count``; the L2 penalty is scaled by each row's number
of items, MLlib's ALS-WR). It scales to any number of customers, but it serves
only the customers it learned: there is no fold-in of a new cart or a new
customer, so its output is a batch of per-customer lists (and the factors), not a
bundle for live serving. For carts and the API, train ``xsell train als`` (the
``implicit`` library, which folds carts in) on one machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xsell.engines.spark.lake import Lake
from xsell.errors import ValidationError
from xsell.models.ranking import check_k

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass
class AlsResult:
    """Factors learned by MLlib: ``user`` / ``item`` dense indices and ``features`` arrays."""

    user_factors: DataFrame
    item_factors: DataFrame
    model: Any


def lake_als(
    lake: Lake,
    *,
    factors: int = 64,
    iterations: int = 15,
    regularization: float = 0.01,
    alpha: float = 10.0,
    seed: int = 0,
) -> AlsResult:
    """Fit MLlib's implicit ALS on the lake's customers x items purchase counts."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    for name, value, low in (("factors", factors, 1), ("iterations", iterations, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"{name} must be a whole number >= {low}, got {value!r}")
    if regularization < 0 or alpha <= 0:
        raise ValidationError(
            f"regularization must be >= 0 and alpha > 0, got {regularization!r} and {alpha!r}"
        )
    ratings = (
        lake.baskets.where(F.col("user") >= 0)
        .groupBy("user", "item")
        .agg(F.countDistinct("basket").cast("float").alias("rating"))
    )
    als = ALS(
        rank=factors,
        maxIter=iterations,
        regParam=regularization,
        alpha=alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        seed=seed,
        coldStartStrategy="drop",
    )
    model = als.fit(ratings)
    return AlsResult(
        model.userFactors.withColumnRenamed("id", "user"),
        model.itemFactors.withColumnRenamed("id", "item"),
        model,
    )


def als_recommendations(result: AlsResult, lake: Lake, k: int) -> DataFrame:
    """The ``k`` best items per customer: ``customer_id, rank, item_id, name, score``."""
    import pandas as pd
    from pyspark.sql import functions as F

    check_k(k)
    spark = result.user_factors.sparkSession
    table = lake.items
    items = spark.createDataFrame(
        pd.DataFrame(
            {
                "item": np.arange(len(table), dtype=np.int32),
                "item_id": [str(i) for i in table.ids.ids],
                "name": [None if n is None else str(n) for n in table.names],
            }
        )
    )
    users = spark.createDataFrame(
        pd.DataFrame(
            {
                "user": np.arange(len(lake.users), dtype=np.int32),
                "customer_id": [str(u) for u in lake.users.ids],
            }
        )
    )
    top = result.model.recommendForAllUsers(k).select(
        "user", F.posexplode("recommendations").alias("position", "rec")
    )
    return (
        top.select(
            "user",
            (F.col("position") + 1).alias("rank"),
            F.col("rec.item").alias("item"),
            F.col("rec.rating").cast("double").alias("score"),
        )
        .join(F.broadcast(users), "user")
        .join(F.broadcast(items), "item")
        .select("customer_id", "rank", "item_id", "name", "score")
    )


def write_als(lake: Lake, out: str | Path, k: int, **params: Any) -> dict[str, Any]:
    """Fit, then write ``recommendations/``, ``user_factors/`` and ``item_factors/`` in ``out``."""
    result = lake_als(lake, **params)
    folder = str(out)
    recommendations = als_recommendations(result, lake, k)
    recommendations.write.mode("overwrite").parquet(os.path.join(folder, "recommendations"))
    result.user_factors.write.mode("overwrite").parquet(os.path.join(folder, "user_factors"))
    result.item_factors.write.mode("overwrite").parquet(os.path.join(folder, "item_factors"))
    return {"out": folder, "customers": len(lake.users), "items": len(lake.items), "k": k}
