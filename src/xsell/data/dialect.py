"""The SQL dialects the cleaning rules are written for: DuckDB (one machine) and Spark SQL.

Each cleaning rule is defined once, in :mod:`xsell.data.cleaning`, as SQL built
from the small primitives below; a :class:`Dialect` says how each primitive is
spelled in one engine. Where an engine's own cast accepts more than the other's
(Spark's ``CAST('1d' AS DOUBLE)`` is 1.0, ``CAST('2010' AS TIMESTAMP)`` a date;
DuckDB refuses both), the Spark spelling guards the cast with a pattern of what
DuckDB accepts, so both engines give every value the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: strptime directives and the Java DateTimeFormatter letters Spark parses them with.
#: One letter ("M") reads one or two digits, like strptime; directives written next to
#: another one without a separator need the fixed width ("MM"), see :func:`java_pattern`.
_JAVA: Final = {
    "Y": ("y", "yyyy"),
    "y": ("yy", "yy"),
    "m": ("M", "MM"),
    "d": ("d", "dd"),
    "H": ("H", "HH"),
    "I": ("h", "hh"),
    "M": ("m", "mm"),
    "S": ("s", "ss"),
    "f": ("SSSSSS", "SSSSSS"),
    "p": ("a", "a"),
    "b": ("MMM", "MMM"),
    "B": ("MMMM", "MMMM"),
    "a": ("EEE", "EEE"),
    "A": ("EEEE", "EEEE"),
    "j": ("D", "DDD"),
}
#: What DuckDB reads as a number (digits may be grouped by single underscores).
_NUMBER: Final = (
    r"^[+-]?([0-9]+(_[0-9]+)*([.]([0-9]+(_[0-9]+)*)?)?|[.][0-9]+(_[0-9]+)*)([eE][+-]?[0-9]+)?$"
)
_NUMBER_WORDS: Final = ("inf", "infinity", "nan")
#: What DuckDB reads as an ISO date or timestamp (a bare year or month it refuses).
_ISO_TIME: Final = (
    r"^[0-9]{4}(-[0-9]{1,2}-|/[0-9]{1,2}/)[0-9]{1,2}"
    r"([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$"
)


@dataclass(frozen=True)
class Dialect:
    """How one engine spells the primitives of the cleaning SQL."""

    name: str

    @property
    def spark(self) -> bool:
        return self.name == "spark"

    # -------------------------------------------------------------- names and values

    def ident(self, name: str) -> str:
        """A quoted identifier (a column or table name holding any character)."""
        if self.spark:
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: str) -> str:
        """A quoted string literal."""
        if self.spark:
            # Spark reads backslash escapes inside literals, and '' as two adjacent literals.
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"

    @property
    def text(self) -> str:
        """The text type."""
        return "STRING" if self.spark else "VARCHAR"

    def null(self, sql_type: str) -> str:
        """A typed NULL."""
        return f"CAST(NULL AS {self.text if sql_type == 'VARCHAR' else sql_type})"

    # -------------------------------------------------------------- numbers

    def is_finite(self, value: str) -> str:
        """True when a DOUBLE is neither NaN nor infinite."""
        if self.spark:
            return f"(NOT isnan({value}) AND abs({value}) < CAST('Infinity' AS DOUBLE))"
        return f"isfinite({value})"

    def is_whole(self, value: str) -> str:
        """True when a finite number has no fractional part."""
        if self.spark:
            return f"({value} % 1 = 0)"
        return f"{value} = trunc({value})"

    @property
    def wide_integer(self) -> str:
        """An integer type wide enough for any whole DECIMAL id."""
        return "DECIMAL(38, 0)" if self.spark else "HUGEINT"

    def try_number(self, text: str) -> str:
        """The text as DOUBLE, NULL when it is not a number (what DuckDB reads as one)."""
        if self.spark:
            words = ", ".join(
                self.literal(sign + w) for w in _NUMBER_WORDS for sign in ("", "+", "-")
            )
            return (
                f"CASE WHEN {text} RLIKE {self.literal(_NUMBER)} "
                f"THEN try_cast(replace({text}, '_', '') AS DOUBLE) "
                f"WHEN lower({text}) IN ({words}) THEN try_cast({text} AS DOUBLE) END"
            )
        return f"TRY_CAST({text} AS DOUBLE)"

    # -------------------------------------------------------------- text

    def contains(self, text: str, part: str) -> str:
        return f"contains({text}, {self.literal(part)})"

    def starts_with(self, text: str, prefix: str) -> str:
        if self.spark:
            return f"startswith({text}, {self.literal(prefix)})"
        return f"starts_with({text}, {self.literal(prefix)})"

    def whole_number_text(self, text: str) -> str:
        """``"13085.0"`` -> ``"13085"`` (integral text written with a decimal point)."""
        group = "$1" if self.spark else "\\1"
        return f"regexp_replace({text}, {self.literal('^(-?[0-9]+)[.]0+$')}, {self.literal(group)})"

    # -------------------------------------------------------------- time

    def try_time(self, text: str, formats: Sequence[str], format_given: bool) -> str:
        """The text as TIMESTAMP: ISO 8601 and the strptime ``formats``, NULL when none fits.

        With ``format_given`` the formats are tried first, else ISO 8601 is.
        """
        if self.spark:
            iso = (
                f"CASE WHEN {text} RLIKE {self.literal(_ISO_TIME)} "
                # DuckDB reads 2011/01/02 as 2011-01-02; Spark's cast only knows dashes.
                f"THEN try_cast(translate({text}, '/', '-') AS TIMESTAMP) END"
            )
            parsed = [f"try_to_timestamp({text}, {self.literal(java_pattern(f))})" for f in formats]
            ordered = [*parsed, iso] if format_given else [iso, *parsed]
            return f"COALESCE({', '.join(ordered)})"
        listed = "[" + ", ".join(self.literal(f) for f in formats) + "]"
        iso = f"TRY_CAST({text} AS TIMESTAMP)"
        parsed_one = f"TRY_STRPTIME({text}, {listed})"
        return (
            f"COALESCE({parsed_one}, {iso})" if format_given else f"COALESCE({iso}, {parsed_one})"
        )

    # -------------------------------------------------------------- relations

    def semi_join(self, keys: str, relation: str) -> str:
        """Keep the rows whose ``keys`` occur in ``relation`` (a parenthesised SELECT)."""
        if self.spark:
            return f"LEFT SEMI JOIN {relation} USING ({keys})"
        return f"SEMI JOIN {relation} USING ({keys})"

    def json_value(self, value: str, timestamp: bool = False) -> str:
        """``value`` as a JSON object field: a timestamp written as DuckDB writes one.

        DuckDB writes ``2011-01-02 10:00:00`` (a fraction only when there is one,
        without trailing zeros); Spark's own form would be ``2011-01-02T10:00:00.000``.
        """
        if not (self.spark and timestamp):
            return value
        return (
            f"regexp_replace(date_format({value}, 'yyyy-MM-dd HH:mm:ss.SSSSSS'), '\\\\.?0+$', '')"
        )

    def row_json(self, fields: Sequence[tuple[str, str]]) -> str:
        """A JSON object of ``(key, SQL value)`` pairs, nulls written as ``null``."""
        if not fields:
            return self.null("JSON") if not self.spark else self.null("VARCHAR")
        if self.spark:
            inner = ", ".join(f"{self.literal(k)}, {v}" for k, v in fields)
            return f"to_json(named_struct({inner}), map('ignoreNullFields', 'false'))"
        return "to_json({" + ", ".join(f"{self.literal(k)}: {v}" for k, v in fields) + "})"


DUCKDB: Final = Dialect("duckdb")
SPARK: Final = Dialect("spark")


def java_pattern(strptime_format: str) -> str:
    """A ``strptime`` format as the Java DateTimeFormatter pattern Spark parses with.

    ``%m/%d/%Y %H:%M`` -> ``M/d/y H:m`` (one letter reads one or two digits, as
    strptime does); directives without a separator between them keep a fixed
    width (``%Y%m%d`` -> ``yyyyMMdd``). Literal text is quoted.
    """
    parts = re.findall(r"%.|[^%]+", strptime_format)
    out = []
    for position, part in enumerate(parts):
        if part.startswith("%") and part != "%%":
            code = part[1]
            if code not in _JAVA:
                from xsell.errors import ValidationError

                raise ValidationError(
                    f"time format {strptime_format!r}: %{code} has no Spark equivalent; "
                    f"use {', '.join('%' + c for c in _JAVA)}"
                )
            glued = any(
                0 <= other < len(parts) and parts[other].startswith("%")
                for other in (position - 1, position + 1)
            )
            out.append(_JAVA[code][1 if glued else 0])
        else:
            text = "%" if part == "%%" else part
            letters = re.sub(
                r"[A-Za-z']+", lambda m: "'" + m.group(0).replace("'", "''") + "'", text
            )
            out.append(letters)
    return "".join(out)


def _quoted(match: re.Match[str]) -> str:
    """Letters outside directives are literal text in a Java pattern: quote them."""
    return "'" + match.group(0).replace("'", "''") + "'"
