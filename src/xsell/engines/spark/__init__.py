"""xsell's jobs on Apache Spark: the same cleaning, counts, rules and batch answers on a cluster.

Public API (``pip install 'xsell[spark]'``; Spark needs Java 17)::

    spark_session(master="local[2]", conf=None)                        -> SparkSession
    ingest_lake(spark, paths, out, preset=..., mapping=...)            -> LakeReport
    read_lake(spark, lake)                                              -> Lake
    cooccurrence_model(lake, measure=..., neighbours=...)               -> Cooccurrence
    lake_itemsets(lake, min_support, max_len=None); lake_rules(lake, ...) -> DataFrame
    spark_export(spark, bundle, "complements" | "customers", out, k=20) -> ExportSummary
    lake_als(lake, factors=64, ...); als_recommendations(result, lake, k)

Each module imports PySpark only when its functions run.
"""

from xsell.engines.spark.als import als_recommendations, lake_als, write_als
from xsell.engines.spark.cooccurrence import cooccurrence_model, write_cooccurrence_bundle
from xsell.engines.spark.export import spark_export
from xsell.engines.spark.ingest import LakeReport, ingest_lake, read_report
from xsell.engines.spark.lake import Lake, read_lake
from xsell.engines.spark.rules import lake_itemsets, lake_rules
from xsell.engines.spark.session import DEFAULT_MASTER, spark_session

__all__ = [
    "DEFAULT_MASTER",
    "Lake",
    "LakeReport",
    "als_recommendations",
    "cooccurrence_model",
    "ingest_lake",
    "lake_als",
    "lake_itemsets",
    "lake_rules",
    "read_lake",
    "read_report",
    "spark_export",
    "spark_session",
    "write_als",
    "write_cooccurrence_bundle",
]
