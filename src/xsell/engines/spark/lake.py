"""A lake read back: purchase lines with dense item indices, the item table, the customers.

Dense indices follow :class:`~xsell.data.shopdata.ShopData`: items and customers
in sorted id order, so a bundle made from a lake indexes items exactly like one
made by ``xsell train`` on a store holding the same lines.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xsell.data import columns as C
from xsell.data.idmap import IdMap
from xsell.engines.spark.ingest import read_report
from xsell.errors import InputFileError
from xsell.models.items import ItemTable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class Lake:
    """The purchase lines of a lake, indexed densely on the cluster.

    Attributes
    ----------
    baskets:
        Distinct ``(basket, item, user)`` of purchases: ``basket`` the basket id,
        ``item`` the dense item index, ``user`` the dense customer index (-1: guest).
    items:
        The item table (names, categories, prices, popularity) on the driver.
    users:
        Customer ids in dense order.
    n_baskets:
        Baskets holding at least one purchase.
    fingerprint:
        Identifies the lake's content (its files and their figures).
    """

    baskets: DataFrame
    items: ItemTable
    users: IdMap
    n_baskets: int
    fingerprint: str
    path: str


def read_lake(spark: SparkSession, path: str | Path) -> Lake:
    """Open a lake written by :func:`xsell.engines.spark.ingest_lake`."""
    from pyspark.sql import functions as F

    report = read_report(path)
    root = str(path)
    lines = spark.read.parquet(os.path.join(root, "lines"))
    purchases = lines.where(F.col(C.EVENT) == C.PURCHASE)
    catalog = spark.read.parquet(os.path.join(root, "items")).toPandas()
    if catalog.empty:
        raise InputFileError(f"{path}: the lake holds no items; ingest order lines first")
    catalog = catalog.sort_values(C.ITEM, kind="stable").reset_index(drop=True)
    ids = catalog[C.ITEM].astype(str).tolist()
    index = spark.createDataFrame(
        pd.DataFrame({C.ITEM: ids, "item": np.arange(len(ids), dtype=np.int32)})
    )
    user_ids = sorted(
        str(r[0])
        for r in purchases.where(F.col(C.USER).isNotNull()).select(C.USER).distinct().collect()
    )
    users = spark.createDataFrame(
        pd.DataFrame({C.USER: user_ids, "user": np.arange(len(user_ids), dtype=np.int32)}),
        f"{C.USER} string, user int",
    )
    baskets = (
        purchases.join(F.broadcast(index), C.ITEM)
        .join(F.broadcast(users), C.USER, "left")
        .select(
            F.col(C.BASKET).alias("basket"),
            F.col("item"),
            F.coalesce(F.col("user"), F.lit(-1)).alias("user"),
        )
        .distinct()
    )
    baskets = baskets.persist()
    counts = baskets.groupBy("item").agg(F.countDistinct("basket").alias("n")).toPandas()
    popularity = np.zeros(len(ids), dtype=np.float64)
    popularity[counts["item"].to_numpy()] = counts["n"].to_numpy(dtype=np.float64)
    n_baskets = int(baskets.select("basket").distinct().count())
    names = catalog["name"].astype(object)
    table = ItemTable(
        ids=IdMap(ids),
        names=np.where(names.isna(), catalog[C.ITEM], names).astype(object),
        categories=catalog["category"]
        .astype(object)
        .where(catalog["category"].notna(), None)
        .to_numpy(),
        prices=pd.to_numeric(catalog["price"], errors="coerce").to_numpy(dtype=np.float64),
        in_stock=np.ones(len(ids), dtype=bool),
        popularity=popularity,
    )
    digest = hashlib.sha256(json.dumps(report.get("files", []), sort_keys=True).encode())
    return Lake(
        baskets=baskets,
        items=table,
        users=IdMap(user_ids),
        n_baskets=n_baskets,
        fingerprint="lake-" + digest.hexdigest()[:16],
        path=root,
    )


def history(lake: Lake) -> sp.csr_matrix:
    """Customers x items: in how many baskets each customer bought each item (as ShopData)."""
    from pyspark.sql import functions as F

    frame = (
        lake.baskets.where(F.col("user") >= 0)
        .groupBy("user", "item")
        .agg(F.countDistinct("basket").alias("n"))
        .toPandas()
    )
    return sp.csr_matrix(
        (
            frame["n"].to_numpy(dtype=np.float32),
            (frame["user"].to_numpy(), frame["item"].to_numpy()),
        ),
        shape=(len(lake.users), len(lake.items)),
        dtype=np.float32,
    )


def basket_lists(lake: Lake) -> DataFrame:
    """One row per basket: ``basket`` and ``items``, its distinct item indices ascending."""
    from pyspark.sql import functions as F

    return lake.baskets.groupBy("basket").agg(F.array_sort(F.collect_set("item")).alias("items"))


def to_numpy(frame: DataFrame, columns: list[str]) -> dict[str, Any]:
    """Columns of a Spark DataFrame as NumPy arrays on the driver (through Arrow)."""
    table = frame.select(*columns).toArrow()
    return {c: table.column(c).to_numpy() for c in columns}
