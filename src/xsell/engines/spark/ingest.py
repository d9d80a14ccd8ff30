"""``xsell spark ingest``: files cleaned on Spark by the same rules, into a lake of Parquet.

A *lake* is a folder:

``lines/ingest_id=N/``
    kept order lines of the N-th file, in the columns of the store's ``lines`` table.
``rejected/reason=R/``
    rejected rows (ingest, path, line, detail, the raw values as JSON).
``items/``
    one row per item seen: the most frequent name and category, the median price.
``report.json``
    one ingest report per file, exactly the figures ``xsell ingest`` gives, and totals.

Each file is cleaned by :func:`xsell.data.cleaning.lines_sql` spelled in Spark SQL,
so every line gets the reason the DuckDB ingest gives it. Cancellations are then
netted against the purchases they cancel with the same matching
(:func:`xsell.data.netting.greedy_matches`), run per customer and item in parallel:
files in the order given, as if each were ingested after the one before.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from xsell.data import columns as C
from xsell.data.cleaning import (
    CleaningOptions,
    kept_lines_sql,
    lines_sql,
    raw_json_sql,
)
from xsell.data.dialect import SPARK
from xsell.data.ingest import WRONG_TYPE_SHARE, auto_map, options_of
from xsell.data.ingest_steps import (
    IngestReport,
    check_columns,
    check_types,
    fill_profile,
    profile_sql,
    seen_items_sql,
)
from xsell.data.netting import greedy_matches
from xsell.data.presets import Preset, get_preset
from xsell.data.readers import LINE
from xsell.engines.spark.reading import SparkRaw, read_raw, validate
from xsell.errors import InputFileError, SchemaError
from xsell.files import atomic_folder
from xsell.progress import Reporter, SilentReporter

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

REPORT_FILE: Final = "report.json"
LAKE_FORMAT: Final = 1
_MATCH_SCHEMA: Final = "ingest_id int, source_line long, cancel_ingest int, cancel_line long"


@dataclass
class LakeReport:
    """What a Spark ingest wrote: one :class:`IngestReport` per file and the lake's totals."""

    lake: str
    preset: str
    files: list[IngestReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_in(self) -> int:
        return sum(r.rows_in for r in self.files)

    @property
    def rows_kept(self) -> int:
        return sum(r.rows_kept for r in self.files) - self.netted_across

    @property
    def netted_across(self) -> int:
        """Purchases of one file netted by a later file's cancellations (kept in its report)."""
        return sum(r.netting.get("netted_earlier_ingests", 0) for r in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": LAKE_FORMAT,
            "lake": self.lake,
            "preset": self.preset,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "seconds": round(self.seconds, 3),
            "files": [r.to_dict() for r in self.files],
        }


def ingest_lake(
    spark: SparkSession,
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    preset: str | Preset = "generic",
    mapping: dict[str, str] | None = None,
    options: CleaningOptions | None = None,
    delimiter: str | None = None,
    quote: str = '"',
    header: bool = True,
    reporter: Reporter | None = None,
) -> LakeReport:
    """Clean ``paths`` on Spark and write the lake at ``out`` (replaced whole, atomically).

    Parameters are those of :func:`xsell.data.ingest.ingest_lines`; each file is
    one ingest (its own duplicates, its own report), numbered from 1 in the order given.
    """
    started = datetime.now()
    reporter = reporter or SilentReporter()
    spec = get_preset(preset) if isinstance(preset, str) else preset
    if mapping:
        spec = spec.with_mapping(mapping)
    options = options or options_of(spec)
    if not paths:
        raise InputFileError("give at least one file to ingest")
    report = LakeReport(lake=str(out), preset=spec.name)
    with _lake_folder(out) as folder:
        work = os.path.join(folder, "_work")
        try:
            _ingest_into(
                spark,
                folder,
                work,
                paths,
                spec,
                options,
                delimiter,
                quote,
                header,
                report,
                reporter,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report.seconds = (datetime.now() - started).total_seconds()
        (Path(folder) / REPORT_FILE).write_text(
            json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8"
        )
    return report


def _ingest_into(
    spark: SparkSession,
    folder: str,
    work: str,
    paths: Sequence[str | Path],
    spec: Preset,
    options: CleaningOptions,
    delimiter: str | None,
    quote: str,
    header: bool,
    report: LakeReport,
    reporter: Reporter,
) -> None:
    """Every step of :func:`ingest_lake`; intermediate tables go to ``work`` as Parquet,
    so each is computed once (a Spark plan re-runs its whole lineage for every action)."""
    cleaned: list[DataFrame] = []
    raws: list[tuple[SparkRaw, dict[str, str]]] = []
    for number, path in enumerate(paths, start=1):
        reporter.step(f"reading {Path(str(path)).name}", 1)
        raw = read_raw(
            spark,
            str(path),
            layout=spec.layout,
            delimiter=delimiter or spec.delimiter,
            quote=quote,
            header=header,
        )
        column_map = (
            {C.BASKET: "basket", C.ITEM: "item"}
            if spec.layout == "baskets"
            else auto_map(raw.columns, dict(spec.mapping))
        )
        required = (C.ITEM,) if C.EVENT in column_map else (C.ITEM, C.BASKET)
        check_columns(str(path), raw.columns, column_map, required)
        check_types(str(path), raw.schema, column_map)
        raw = validate(_materialized(spark, raw, os.path.join(work, f"raw_{number}")))
        view = f"xsell_raw_{number}"
        raw.frame.createOrReplaceTempView(view)
        frame = spark.sql(lines_sql(raw.schema, column_map, options, SPARK, raw=view))
        cleaned.append(frame.selectExpr(f"{number} AS ingest_id", "*"))
        raws.append((raw, column_map))
        file_report = IngestReport(path=str(path), kind="lines", preset=spec.name)
        file_report.ingest_id = number
        if raw.blank_lines:
            file_report.flags["blank_lines"] = raw.blank_lines
            file_report.warnings.append(
                f"{raw.blank_lines:,} blank lines (no values at all) were skipped"
            )
        report.files.append(file_report)
    reporter.step("cleaning", 1)
    everything = _saved(spark, _union(cleaned), os.path.join(work, "cleaned"))
    for (raw, column_map), file_report in zip(raws, report.files, strict=True):
        _check_parsed(everything, raw, column_map, file_report)
    if options.cancel_prefix and any(C.BASKET in m for _, m in raws):
        reporter.step("netting cancellations", 1)
        everything = _net(spark, everything, options, report, work)
    everything.createOrReplaceTempView("xsell_cleaned")
    reporter.step("profiling", 1)
    for (raw, column_map), file_report in zip(raws, report.files, strict=True):
        _profile(spark, file_report, options, column_map)
        if file_report.rows_kept == 0 and file_report.rows_in:
            top = ", ".join(f"{r}: {n:,}" for r, n in file_report.reasons.items())
            raise InputFileError(
                f"{raw.path}: every one of its {file_report.rows_in:,} rows was rejected "
                f"({top}); nothing was written; check --preset and --map"
            )
    reporter.step("writing the lake", 1)
    _write(spark, folder, raws, options, report)


def _saved(spark: SparkSession, frame: DataFrame, path: str) -> DataFrame:
    """``frame`` written to Parquet at ``path`` and read back (its lineage cut)."""
    frame.write.parquet(path)
    return spark.read.parquet(path)


def _materialized(spark: SparkSession, raw: SparkRaw, path: str) -> SparkRaw:
    return SparkRaw(
        raw.path, _saved(spark, raw.frame, path), raw.schema, raw.blank_lines, raw.checks
    )


def read_report(lake: str | Path) -> dict[str, Any]:
    """The ``report.json`` of a lake written by :func:`ingest_lake`."""
    file = Path(lake) / REPORT_FILE
    if not file.is_file():
        raise InputFileError(
            f"{lake}: not an xsell lake (no {REPORT_FILE}); write one with `xsell spark ingest`"
        )
    try:
        payload: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{file}: cannot read the lake's report: {exc}") from exc
    return payload


# ---------------------------------------------------------------------- steps


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def _check_parsed(
    everything: DataFrame, raw: SparkRaw, mapping: dict[str, str], report: IngestReport
) -> None:
    """A column mostly unparseable is of the wrong type: one clear error (as the DuckDB ingest)."""
    from pyspark.sql import functions as F

    reasons = {
        C.QUANTITY: ("unparseable_quantity", "numbers"),
        C.PRICE: ("unparseable_price", "numbers"),
        C.TIME: ("unparseable_time", "dates/times"),
    }
    wanted = [(role, *reasons[role]) for role in reasons if role in mapping]
    if not wanted:
        return
    mine = everything.where(F.col("ingest_id") == F.lit(report.ingest_id))
    aggregates = [F.count("*").alias("total")]
    for role, reason, _ in wanted:
        bad = F.col("reason") == reason
        aggregates.append(F.sum(bad.cast("long")).alias(f"{role}_n"))
        aggregates.append(F.min(F.when(bad, F.col("source_line"))).alias(f"{role}_line"))
    row = mine.agg(*aggregates).collect()[0]
    total = int(row["total"])
    for role, _, expected in wanted:
        count = int(row[f"{role}_n"] or 0)
        if count and count > WRONG_TYPE_SHARE * total:
            line = int(row[f"{role}_line"])
            column = mapping[role]
            value = (
                raw.frame.where(F.col(LINE) == line)
                .select(F.col(f"`{column}`").cast("string"))
                .collect()
            )
            raise SchemaError(
                f"{raw.path}: column {column!r} ({role}) should hold {expected} but "
                f"{count:,} of {total:,} rows do not, e.g. row {line}: "
                f"{value[0][0] if value else None!r}; check --map or --time-format"
            )


def _net(
    spark: SparkSession,
    everything: DataFrame,
    options: CleaningOptions,
    report: LakeReport,
    work: str,
) -> DataFrame:
    """Mark the purchases that cancellations net (reason ``cancelled``), as the DuckDB ingest does.

    Candidates are found with one join; the matching itself runs per customer and
    item (only their purchases compete), files in order.
    """
    from pyspark.sql import functions as F

    everything.createOrReplaceTempView("xsell_cleaned")
    unit = (
        "abs(price_value) / NULLIF(abs(quantity_value), 0)"
        if options.price_is_line_total
        else "price_value"
    )
    kept_unit = (
        "price_value / NULLIF(COALESCE(quantity_value, 1.0), 0)"
        if options.price_is_line_total
        else "price_value"
    )
    cancels = spark.sql(
        f"""
        SELECT ingest_id, source_line, user_id, item, -quantity_value AS quantity,
               {unit} AS price, time_value AS time, basket
        FROM xsell_cleaned
        WHERE reason = 'cancellation' AND user_id IS NOT NULL AND quantity_value < 0
        """
    )
    cancels.createOrReplaceTempView("xsell_cancels")
    candidates = spark.sql(
        f"""
        WITH purchases AS (
            SELECT ingest_id, source_line, user_id, item,
                   COALESCE(quantity_value, 1.0) AS quantity, {kept_unit} AS price,
                   time_value AS time
            FROM xsell_cleaned WHERE reason IS NULL AND event = 'purchase'
        )
        SELECT c.user_id, c.item, c.ingest_id AS cancel_ingest, c.source_line AS cancel_line,
               c.time AS cancel_time, p.ingest_id, p.source_line, p.time
        FROM xsell_cancels c JOIN purchases p
          ON p.user_id = c.user_id AND p.item = c.item AND p.quantity = c.quantity
         AND p.price <=> c.price AND p.ingest_id <= c.ingest_id
        WHERE (p.time IS NULL OR c.time IS NULL OR p.time <= c.time)
          AND (p.ingest_id < c.ingest_id OR c.time IS NOT NULL OR p.source_line < c.source_line)
        """
    )
    # Cancellations without candidates still take part in no match; only candidates ship.
    matches = candidates.groupBy("user_id").applyInPandas(_match_group, schema=_MATCH_SCHEMA)
    matches = _saved(spark, matches, os.path.join(work, "matches"))
    totals = {
        int(r["ingest_id"]): int(r["n"])
        for r in everything.where("reason = 'cancellation'")
        .groupBy("ingest_id")
        .agg(F.count("*").alias("n"))
        .collect()
    }
    netted = {
        (int(r["cancel_ingest"]), bool(r["across"])): int(r["n"])
        for r in matches.groupBy(
            "cancel_ingest", (F.col("ingest_id") < F.col("cancel_ingest")).alias("across")
        )
        .agg(F.count("*").alias("n"))
        .collect()
    }
    for file_report in report.files:
        number = int(file_report.ingest_id or 0)
        same, across = netted.get((number, False), 0), netted.get((number, True), 0)
        file_report.netting = {
            "netted": same + across,
            "netted_earlier_ingests": across,
            "unmatched": totals.get(number, 0) - same - across,
        }
    baskets = cancels.select(
        F.col("ingest_id").alias("cancel_ingest"),
        F.col("source_line").alias("cancel_line"),
        F.col("basket").alias("cancel_basket"),
    )
    marked = matches.join(baskets, ["cancel_ingest", "cancel_line"])
    joined = everything.join(F.broadcast(marked), ["ingest_id", "source_line"], "left")
    here = F.col("cancel_ingest") == F.col("ingest_id")
    detail = F.when(
        here,
        F.concat(
            F.lit("cancelled by "),
            F.col("cancel_basket"),
            F.lit(" (line "),
            F.col("cancel_line").cast("string"),
            F.lit(")"),
        ),
    ).otherwise(
        F.concat(
            F.lit("cancelled by "),
            F.col("cancel_basket"),
            F.lit(" (ingest "),
            F.col("cancel_ingest").cast("string"),
            F.lit(", line "),
            F.col("cancel_line").cast("string"),
            F.lit(")"),
        )
    )
    netted_row = F.col("cancel_line").isNotNull()
    result = joined.select(
        *[c for c in everything.columns if c not in ("reason", "detail")],
        F.when(netted_row & here, F.lit("cancelled")).otherwise(F.col("reason")).alias("reason"),
        F.when(netted_row & here, detail).otherwise(F.col("detail")).alias("detail"),
        # A purchase netted by a later file stays in its own file's figures (that ingest
        # kept it), then leaves the lines: the DuckDB ingest moves it to rejected.
        F.when(netted_row & ~here, detail).alias("netted_later"),
    )
    return _saved(spark, result, os.path.join(work, "netted"))


def _match_group(frame: pd.DataFrame) -> pd.DataFrame:
    """The matches of one customer: each file's cancellations after the earlier ones'."""
    taken: set[tuple[int, int]] = set()
    out: list[tuple[int, int, int, int]] = []
    for cancel_ingest in sorted(frame["cancel_ingest"].unique().tolist()):
        mine = frame[frame["cancel_ingest"] == cancel_ingest]
        cancels = (
            mine[["cancel_line", "cancel_time"]]
            .drop_duplicates("cancel_line")
            .rename(columns={"cancel_line": "source_line", "cancel_time": "time"})
        )
        candidates = pd.DataFrame(
            {
                "cancel_line": mine["cancel_line"].to_numpy(),
                "earlier": (mine["ingest_id"] < cancel_ingest).astype(int).to_numpy(),
                "ingest_id": mine["ingest_id"].to_numpy(),
                "source_line": mine["source_line"].to_numpy(),
                "time": mine["time"].to_numpy(),
            }
        )
        for line, _, ingest_id, source_line in greedy_matches(cancels, candidates, taken):
            out.append((ingest_id, source_line, int(cancel_ingest), line))
    return pd.DataFrame(out, columns=["ingest_id", "source_line", "cancel_ingest", "cancel_line"])


def _profile(
    spark: SparkSession,
    report: IngestReport,
    options: CleaningOptions,
    mapping: dict[str, str],
) -> None:
    view = _file_view(spark, "xsell_cleaned", int(report.ingest_id or 0))
    row = spark.sql(profile_sql(options, C.BASKET in mapping, SPARK, cleaned=view)).collect()[0]
    counts = {
        str(r[0]): int(r[1])
        for r in spark.sql(
            f"SELECT reason, count(*) FROM {view} WHERE reason IS NOT NULL GROUP BY reason"
        ).collect()
    }
    fill_profile(report, list(row), counts, mapping)


def _file_view(spark: SparkSession, table: str, number: int) -> str:
    """A view of the rows of file ``number`` of ``table``; returns its name."""
    view = f"{table}_{number}"
    spark.table(table).where(f"ingest_id = {number}").createOrReplaceTempView(view)
    return view


def _write(
    spark: SparkSession,
    folder: str,
    raws: list[tuple[SparkRaw, dict[str, str]]],
    options: CleaningOptions,
    report: LakeReport,
) -> None:
    cleaned = spark.table("xsell_cleaned")
    if "netted_later" in cleaned.columns:
        # A purchase a later file's cancellation netted was kept by its own file's ingest
        # (its figures count it), then moved to the rejected rows.
        written = cleaned.selectExpr(
            *[c for c in cleaned.columns if c not in ("reason", "detail", "netted_later")],
            "CASE WHEN netted_later IS NOT NULL THEN 'cancelled' ELSE reason END AS reason",
            "COALESCE(netted_later, detail) AS detail",
        )
    else:
        written = cleaned
    written.createOrReplaceTempView("xsell_written")
    has_quantity = any(C.QUANTITY in m for _, m in raws)
    kept = spark.sql(
        kept_lines_sql(
            options, has_quantity, ingest_id="ingest_id", cleaned="xsell_written", dialect=SPARK
        )
    )
    kept.write.partitionBy("ingest_id").parquet(os.path.join(folder, "lines"))
    rejected: list[DataFrame] = []
    items: list[DataFrame] = []
    for raw, _ in raws:
        number = len(rejected) + 1
        raw_json = raw_json_sql(raw.schema, dialect=SPARK)
        rejected.append(
            spark.sql(
                f"SELECT c.ingest_id, {SPARK.literal(raw.path)} AS path, c.source_line, "
                f"c.reason, c.detail, {raw_json} AS raw, c.source_key, c.user_id "
                f"FROM xsell_written c JOIN xsell_raw_{number} r "
                f"ON r.{SPARK.ident(LINE)} = c.source_line "
                f"WHERE c.ingest_id = {number} AND c.reason IS NOT NULL"
            )
        )
        # Items as each ingest saw them; an item keeps the row of the first file selling it.
        view = _file_view(spark, "xsell_cleaned", number)
        items.append(spark.sql(seen_items_sql(view)).selectExpr(f"{number} AS first_file", "*"))
    rows = _union(rejected)
    if rows.isEmpty():
        # Partitioned, no rows would write no file at all: one empty file keeps the schema.
        rows.coalesce(1).write.parquet(os.path.join(folder, "rejected"))
    else:
        rows.write.partitionBy("reason").parquet(os.path.join(folder, "rejected"))
    _union(items).createOrReplaceTempView("xsell_items")
    spark.sql(
        f"SELECT item AS {C.ITEM}, name, category, price FROM (SELECT *, row_number() OVER "
        "(PARTITION BY item ORDER BY first_file) AS r FROM xsell_items) WHERE r = 1"
    ).write.parquet(os.path.join(folder, "items"))


def _lake_folder(out: str | Path) -> Any:
    """A folder to write the lake into: built aside and renamed into place on this machine."""
    text = str(out)
    if "://" in text and not text.startswith("file://"):
        raise InputFileError(
            f"{text}: the lake is written on this machine's file system (or a shared mount); "
            "give a local path"
        )
    return _as_str(atomic_folder(Path(text.removeprefix("file://"))))


class _as_str:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __enter__(self) -> str:
        return str(self.inner.__enter__())

    def __exit__(self, *exc: Any) -> Any:
        return self.inner.__exit__(*exc)


__all__ = ["REPORT_FILE", "LakeReport", "ingest_lake", "read_report"]
