"""Files read in parallel as raw rows plus their line numbers, like :mod:`xsell.data.readers`.

Nothing is parsed here: every CSV value stays text and Parquet keeps its stored
types, so the cleaning rules see what the single-machine reader gives them.
Line numbers are what readers give: the 1-based line of a text file (header and
blank lines counted), the 1-based row of a Parquet file. A text file is split
across tasks; each task numbers its lines from its split's first line, and one
small pass counting the lines of every split makes the numbers global.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from xsell.data.readers import FORMATS, LINE, delimiter_of
from xsell.errors import InputFileError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark's hidden column of file sources: path and byte offset of each task's split.
_FILE = "_metadata.file_path"
_BLOCK = "_metadata.file_block_start"
#: Lines read from the head of a text file to find its header and delimiter.
_HEAD_LINES = 200


@dataclass
class SparkRaw:
    """The raw rows of one file as a Spark DataFrame, with the Arrow schema cleaning reads."""

    path: str
    frame: DataFrame
    schema: pa.Schema
    blank_lines: int = 0
    checks: CsvChecks | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.schema.names if c != LINE]


def file_format(path: str, layout: str) -> str:
    """``csv``, ``parquet`` or ``baskets`` from the suffix (basket layouts read any text)."""
    if layout == "baskets":
        return "baskets"
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    fmt = FORMATS.get(suffix)
    if fmt not in ("csv", "parquet"):
        shown = suffix or "(no suffix)"
        raise InputFileError(
            f"{path}: the Spark ingest reads CSV and Parquet files (and basket-per-line text "
            f"with --preset baskets|fimi), not {shown!r}; ingest it with `xsell ingest` or "
            "convert it"
        )
    return fmt


def read_raw(
    spark: SparkSession,
    path: str,
    *,
    layout: str = "table",
    delimiter: str | None = None,
    quote: str = '"',
    header: bool = True,
) -> SparkRaw:
    """Read one file as raw rows numbered like :func:`xsell.data.readers.read_file` does."""
    fmt = file_format(path, layout)
    if fmt == "parquet":
        return _read_parquet(spark, path)
    lines = _numbered_lines(spark, path)
    if fmt == "baskets":
        return _read_baskets(lines, path, delimiter or ",")
    return _read_csv(spark, lines, path, delimiter, quote, header)


def _numbered_lines(spark: SparkSession, path: str) -> DataFrame:
    """``value`` (one line of text) and ``__line`` (its 1-based number in the file)."""
    from pyspark.sql import functions as F
    from pyspark.sql.utils import AnalysisException

    try:
        text = spark.read.text(path)
    except AnalysisException as exc:
        raise InputFileError(f"{path}: no such file (or Spark cannot read it)") from exc
    tagged = text.select(
        "value",
        F.col(_FILE).alias("file"),
        F.col(_BLOCK).alias("block"),
        F.spark_partition_id().alias("task"),
        F.monotonically_increasing_id().alias("id"),
    )
    # Within a task lines come in file order; a task may read several splits.
    blocks = tagged.groupBy("file", "block", "task").agg(
        F.count("*").alias("n"), F.min("id").alias("first_id")
    )
    rows = sorted(blocks.collect(), key=lambda r: (r["file"], r["block"]))
    if not rows:
        raise InputFileError(f"{path}: the file is empty")
    offsets = []
    before = 0
    for row in rows:
        offsets.append((row["file"], row["block"], row["task"], row["first_id"], before))
        before += int(row["n"])
    starts = spark.createDataFrame(
        offsets, "file string, block long, task int, first_id long, before long"
    )
    return tagged.join(F.broadcast(starts), ["file", "block", "task"]).select(
        "value",
        (F.col("before") + F.col("id") - F.col("first_id") + 1).alias(LINE),
    )


def _read_parquet(spark: SparkSession, path: str) -> SparkRaw:
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.utils import AnalysisException

    try:
        frame = spark.read.parquet(path)
    except AnalysisException as exc:
        raise InputFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = frame.columns
    if len(set(names)) != len(names):
        raise InputFileError(f"{path}: column names must be unique, got {names}")
    nanos = _nanosecond_columns(path)
    columns = [
        (
            F.timestamp_micros(F.floor(F.col(f"`{name}`") / 1000))
            .cast("timestamp_ntz" if nanos[name] is None else "timestamp")
            .alias(name)
            if name in nanos
            else F.col(f"`{name}`")
        )
        for name in names
    ]
    frame = frame.select(*columns, (F.col("_metadata.row_index") + 1).alias(LINE))
    return SparkRaw(path, frame, to_arrow_schema(frame.schema))


def _nanosecond_columns(path: str) -> dict[str, str | None]:
    """Timestamp columns stored in nanoseconds (name -> time zone), which Spark reads as longs.

    Spark has no nanosecond timestamps (``spark.sql.legacy.parquet.nanosAsLong``
    makes it read them as numbers); pandas writes them by default. The footer says
    which columns they are; a file PyArrow cannot open here has none converted.
    """
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError, pa.ArrowException):
        return {}
    return {
        field.name: field.type.tz
        for field in schema
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
    }


def _head(lines: DataFrame) -> list[str]:
    from pyspark.sql import functions as F

    rows = lines.where(F.col(LINE) <= _HEAD_LINES).orderBy(LINE).collect()
    return [str(r["value"]) for r in rows]


def _read_csv(
    spark: SparkSession,
    lines: DataFrame,
    path: str,
    delimiter: str | None,
    quote: str,
    header: bool,
) -> SparkRaw:
    from pyspark.sql import functions as F

    head = _head(lines)
    if not head or not head[0].strip():
        raise InputFileError(f"{path}: the first line is empty, expected a header")
    head[0] = head[0].lstrip("\ufeff")
    delimiter = delimiter or (
        "\t" if path.lower().endswith(".tsv") else delimiter_of("\n".join(head))
    )
    reader: Any = (
        csv.reader([head[0]], delimiter=delimiter, quotechar=quote)
        if quote
        else csv.reader([head[0]], delimiter=delimiter, quoting=csv.QUOTE_NONE)
    )
    first = next(reader)
    names = first if header else [f"f{i}" for i in range(len(first))]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputFileError(
                f"{path}: columns {seen[name]} and {position} of the header are both named "
                f"{name!r}; column names must be unique (rename one)"
            )
        seen[name] = position
    width = len(names)
    data = lines.where(F.col(LINE) > 1) if header else lines
    # One spare field catches a line with more values than the header.
    fields = [f"c{i}" for i in range(width + 1)]
    ddl = ", ".join(f"{f} STRING" for f in fields)
    options = {
        "sep": delimiter,
        "quote": quote or "\u0000",
        "escape": quote or "\\",
        "mode": "PERMISSIVE",
        "nullValue": "",
        "emptyValue": "",
    }
    parsed = data.select(
        F.col(LINE), F.col("value"), F.from_csv(F.col("value"), ddl, options).alias("row")
    )
    flags = [
        F.col("row")[fields[-1]].isNotNull().alias("__too_many"),
        (
            (F.size(F.split(F.col("value"), _java_quote(quote))) % 2 == 0)
            if quote
            else F.lit(False)
        ).alias("__open_quote"),
        (
            (~F.col("value").contains(quote) if quote else F.lit(True))
            & (F.size(F.split(F.col("value"), _java_quote(delimiter), -1)) != width)
            & (F.col("value") != "")
        ).alias("__wrong_width"),
    ]
    blank = F.lit(True)
    for i in range(width):
        blank = blank & F.col("row")[f"c{i}"].isNull()
    table = parsed.select(
        *[F.col("row")[f"c{i}"].alias(name) for i, name in enumerate(names)],
        F.col(LINE),
        *flags,
        blank.alias("__blank"),
        F.when(flags[0] | flags[2], F.col("value")).alias("__text"),
    )
    schema = pa.schema([*[(n, pa.string()) for n in names], (LINE, pa.int64())])
    return SparkRaw(
        path, table, schema, checks=CsvChecks(delimiter=delimiter, quote=quote, header=header)
    )


@dataclass(frozen=True)
class CsvChecks:
    """How a CSV file was split, to word the error about its first malformed line."""

    delimiter: str
    quote: str
    header: bool


def validate(raw: SparkRaw) -> SparkRaw:
    """Refuse the first malformed line of a CSV file; drop and count its blank lines.

    Call it on the materialised rows (it reads them twice).
    """
    from pyspark.sql import functions as F

    if raw.checks is None:
        return raw
    checks = raw.checks
    frame = raw.frame
    bad = (
        frame.where("__too_many OR __open_quote OR __wrong_width").orderBy(LINE).limit(1).collect()
    )
    if bad:
        row = bad[0]
        line = int(row[LINE])
        if row["__open_quote"]:
            raise InputFileError(
                f"{raw.path}: a value quoted with {checks.quote!r} holds a line break, probably "
                f"at line {line}; line breaks inside quoted values are not supported (line "
                "numbers would be wrong): remove them or close the quote there, or give the "
                "file's quote character with --quote"
            )
        values = next(
            csv.reader(
                [row["__text"] or ""], delimiter=checks.delimiter, quotechar=checks.quote or '"'
            )
        )
        shown = checks.delimiter.join(values)
        shown = shown[:60] + ("..." if len(shown) > 60 else "")
        what = "the header has" if checks.header else "the first line has"
        raise InputFileError(
            f"{raw.path}: line {line} has {len(values)} values but {what} {len(raw.columns)} "
            f"({shown!r}); quote values holding {checks.delimiter!r} or fix the line"
        )
    blank_lines = int(frame.where("__blank").count())
    helpers = ["__too_many", "__open_quote", "__wrong_width", "__blank", "__text"]
    kept = frame.where(~F.col("__blank")).drop(*helpers)
    return SparkRaw(raw.path, kept, raw.schema, blank_lines=blank_lines)


def _read_baskets(lines: DataFrame, path: str, delimiter: str) -> SparkRaw:
    """One basket per line: its line number is the basket id, its tokens the items."""
    from pyspark.sql import functions as F

    trimmed = F.regexp_replace(F.col("value"), r"^\s+|\s+$", "")
    pattern = r"\s+" if delimiter == " " else _java_quote(delimiter)
    tokens = lines.select(
        F.col(LINE), trimmed.alias("line"), F.split(trimmed, pattern, -1).alias("tokens")
    ).where(F.col("line") != "")
    items = tokens.select(F.col(LINE), F.explode("tokens").alias("token")).select(
        F.col(LINE).cast("string").alias("basket"),
        F.nullif(F.regexp_replace(F.col("token"), r"^\s+|\s+$", ""), F.lit("")).alias("item"),
        F.col(LINE),
    )
    schema = pa.schema([("basket", pa.string()), ("item", pa.string()), (LINE, pa.int64())])
    return SparkRaw(path, items, schema)


def _java_quote(text: str) -> str:
    """A regular expression matching ``text`` literally (Java's ``\\Q...\\E``)."""
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
