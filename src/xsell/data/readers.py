"""Readers: turn a shop's file into an Arrow table of raw values plus its line numbers.

Nothing is parsed or dropped here: cleaning decides what each value means, so a
rejected row can be shown to the user exactly as it was in the file.
"""

from __future__ import annotations

import codecs
import csv
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from xsell.errors import InputFileError, ValidationError

LINE: Final = "__line"
_BOM: Final = b"\xef\xbb\xbf"
#: Byte-order marks of the encodings recognised from them (longest first: UTF-32 LE
#: starts like UTF-16 LE).
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Arrow parses text in blocks of this many bytes; a longer line is read again in one block.
BLOCK_SIZE: Final = 1 << 22
#: The largest block Arrow is given: a line longer than this is refused.
MAX_BLOCK_SIZE: Final = 1 << 30

FORMATS: Final = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".dat": "baskets",
}


@dataclass(frozen=True)
class RawTable:
    """The raw rows of one file.

    ``table`` holds the file's own columns (strings for text formats, the stored
    types for Parquet) and ``__line``: the 1-based line (row) number in the file,
    counting a header line and blank lines, so users can find the row in their editor.
    """

    path: Path
    table: pa.Table
    encoding: str | None = None
    #: Lines with no value at all (blank lines of a CSV): skipped, counted in the report.
    blank_lines: int = 0
    #: Number of the file's last line read (where an appended part would start counting).
    last_line: int = 0

    @property
    def columns(self) -> list[str]:
        return [c for c in self.table.column_names if c != LINE]


def detect_format(path: Path, layout: str = "table") -> str:
    """Format from the file suffix (``basket`` layouts read any text file)."""
    if layout == "baskets":
        return "baskets"
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            f"{path}: unknown file format {path.suffix or '(no suffix)'!r}; "
            f"expected one of {sorted(FORMATS)} "
            "(or --preset baskets|fimi for basket-per-line files)"
        )
    return fmt


def check_readable(path: Path) -> None:
    """Raise a clear error for a missing, unreadable, empty or not regular file.

    A device (``/dev/zero``), FIFO or socket is refused before anything reads it:
    reading one would never end, or wait for a writer.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a folder, expected a file")
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(info.st_mode)
            else "a socket"
            if stat.S_ISSOCK(info.st_mode)
            else "a device"
        )
        raise InputFileError(
            f"{path}: is {kind}, not a regular file; save the data to a file and ingest that"
        )
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if info.st_size == 0:
        raise InputFileError(f"{path}: the file is empty")


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` announces, if any."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def detect_encoding(path: Path) -> str:
    """The encoding of a BOM, else ``utf-8`` when the whole file decodes as UTF-8, else
    ``latin-1``."""
    data = path.read_bytes()
    announced = bom_encoding(data[:4])
    if announced:
        return announced
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def check_text(path: Path, head: bytes, encoding: str | None) -> None:
    """Refuse a binary file (NUL bytes in its first block) read as text."""
    if encoding and encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
        return
    if bom_encoding(head) in ("utf-16", "utf-32"):
        return
    if b"\x00" in head:
        raise InputFileError(
            f"{path}: holds binary data (NUL bytes in its first {len(head):,} bytes), "
            "not text; give a CSV, Parquet, Excel or basket-per-line text file"
        )


class _NotUtf8(Exception):
    """A file read as UTF-8 (the encoding was guessed) holds bytes that are not UTF-8."""


def sniff_delimiter(path: Path, encoding: str) -> str:
    """Guess the delimiter from the first lines (comma, semicolon, tab or pipe)."""
    with path.open("r", encoding=encoding, newline="") as handle:
        sample = handle.read(64 * 1024)
    return delimiter_of(sample)


def delimiter_of(sample: str) -> str:
    """The delimiter (comma, semicolon, tab or pipe) of a file's first lines; comma if unsure."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv(
    path: Path,
    *,
    delimiter: str | None = None,
    quote: str = '"',
    header: bool = True,
    encoding: str | None = None,
    skip: tuple[int, int] | None = None,
) -> RawTable:
    """Read a delimited text file with every column as text.

    Without ``encoding`` the file is read as UTF-8 (BOM or not) and, when that
    fails, as Latin-1: Arrow checks UTF-8 while it reads, which is cheaper than
    decoding the whole file once more to guess.

    ``quote`` is the character around values holding the delimiter (``''``: none).
    A quoted value may not hold a line break: each row must be one line of the
    file, or the line numbers kept with rejected rows would be wrong.
    """
    if len(quote) > 1:
        raise ValidationError(f"quote must be one character (or '' for none), got {quote!r}")
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    check_text(path, head, encoding)
    if encoding is not None:
        _check_encoding(path, encoding)
        return _read_csv(path, delimiter, quote, header, encoding, skip=skip)
    announced = bom_encoding(head[:4])
    if announced is not None:
        return _read_csv(path, delimiter, quote, header, announced, skip=skip)
    try:
        return _read_csv(path, delimiter, quote, header, "utf-8", guessed=True, skip=skip)
    except _NotUtf8:
        return _read_csv(path, delimiter, quote, header, "latin-1", skip=skip)


def _encoding_error(path: Path, encoding: str, exc: UnicodeError) -> InputFileError:
    where = ""
    if isinstance(exc, UnicodeDecodeError):
        where = f" (byte {exc.object[exc.start]:#04x} at offset {exc.start:,})"
    return InputFileError(
        f"{path}: is not {encoding} text{where}; give the file's encoding with --encoding"
    )


def _check_encoding(path: Path, encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValidationError(f"unknown text encoding {encoding!r} for {path}") from None


def _read_csv(
    path: Path,
    delimiter: str | None,
    quote: str,
    header: bool,
    encoding: str,
    guessed: bool = False,
    skip: tuple[int, int] | None = None,
) -> RawTable:
    try:
        delimiter = delimiter or sniff_delimiter(path, encoding)
        first = _first_line(path, encoding)
    except UnicodeError as exc:
        if guessed:
            raise _NotUtf8 from exc
        raise _encoding_error(path, encoding, exc) from exc
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    try:
        names = next(_csv_reader([first], delimiter, quote)) if header else []
    except (StopIteration, csv.Error) as exc:
        raise InputFileError(f"{path}: cannot read the header line: {exc}") from exc
    _check_unique_names(path, names)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names} if header else None,
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    # Blank lines are read as empty rows, so every later row keeps its own line number.
    parse = pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char=quote or False,
        newlines_in_values=False,
        ignore_empty_lines=False,
    )
    block = BLOCK_SIZE
    while True:
        read_options = pacsv.ReadOptions(
            encoding=arrow_encoding, autogenerate_column_names=not header, block_size=block
        )
        try:
            table = pacsv.read_csv(
                _csv_input(path, first, header, encoding, skip),
                read_options=read_options,
                parse_options=parse,
                convert_options=convert,
            )
            break
        except pa.ArrowInvalid as exc:
            if guessed and "invalid UTF8" in str(exc):
                raise _NotUtf8 from exc
            if "straddling" in str(exc) or "straddles" in str(exc):
                size = path.stat().st_size
                if block >= MAX_BLOCK_SIZE or block > size:
                    raise InputFileError(
                        f"{path}: a line is longer than {min(block, size) / 2**20:,.0f} MB; "
                        "lines of up to 1 GB are read (split the file's long lines)"
                    ) from exc
                block = min(MAX_BLOCK_SIZE, max(block * 16, size + 1))
                continue
            line = _first_multiline_record(path, encoding, delimiter, quote)
            if line is not None:
                raise _quoted_break_error(path, line, quote) from exc
            raise _row_error(path, encoding, delimiter, quote, header, exc) from exc
        except UnicodeError as exc:
            raise _encoding_error(path, encoding, exc) from exc
    if not header:
        table = table.cast(pa.schema([(n, pa.string()) for n in table.column_names]))
    if table.num_rows == 0:
        if skip is not None:
            return RawTable(path, table.append_column(LINE, _line_numbers(0, 0)), encoding)
        raise InputFileError(f"{path}: the file has a header but no data rows")
    start = (2 if header else 1) if skip is None else skip[1] + 1
    _check_no_line_breaks(path, table, start, quote)
    table = table.append_column(LINE, _line_numbers(start, table.num_rows))
    last = start + table.num_rows - 1
    table, blank = _without_blank_rows(table)
    if table.num_rows == 0 and skip is None:
        raise InputFileError(f"{path}: the file has a header but only blank lines")
    return RawTable(path, table, encoding, blank_lines=blank, last_line=last)


def _csv_input(
    path: Path, first: str, header: bool, encoding: str, skip: tuple[int, int] | None
) -> Path | pa.BufferReader:
    """The whole file, or its header followed by what comes after ``skip`` bytes."""
    if skip is None:
        return path
    with path.open("rb") as handle:
        handle.seek(skip[0])
        tail = handle.read()
    # A UTF-16/32 file keeps its BOM in the header; the tail follows in the same byte order.
    head = (first + "\n").encode(encoding) if header else b""
    if not header and encoding in ("utf-16", "utf-32"):
        head = codecs.BOM_UTF16_LE if encoding == "utf-16" else codecs.BOM_UTF32_LE
    return pa.BufferReader(head + tail)


def _check_unique_names(path: Path, names: list[str]) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise InputFileError(
                f"{path}: columns {seen[name]} and {position} of the header are both named "
                f"{name!r}; column names must be unique (rename one)"
            )
        seen[name] = position


def _row_error(
    path: Path, encoding: str, delimiter: str, quote: str, header: bool, exc: Exception
) -> InputFileError:
    """The first line whose number of values differs from the header's, as one clear error."""
    try:
        with path.open("r", encoding=encoding, newline="") as handle:
            reader: Any = _csv_reader(handle, delimiter, quote)
            expected = None
            for row in reader:
                if not row:
                    continue
                if expected is None:
                    expected = len(row)
                    continue
                if len(row) != expected:
                    shown = delimiter.join(row)
                    shown = shown[:60] + ("..." if len(shown) > 60 else "")
                    what = "the header has" if header else "the first line has"
                    return InputFileError(
                        f"{path}: line {reader.line_num} has {len(row)} values but {what} "
                        f"{expected} ({shown!r}); quote values holding {delimiter!r} or fix "
                        "the line"
                    )
    except (csv.Error, UnicodeError):
        pass
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputFileError(f"{path}: not a valid {delimiter!r}-delimited file: {detail}")


def _without_blank_rows(table: pa.Table) -> tuple[pa.Table, int]:
    """The rows holding at least one value, and how many held none (blank lines)."""
    blank: pa.ChunkedArray | pa.Array | None = None
    for name in table.column_names:
        if name == LINE:
            continue
        empty = pc.is_null(table.column(name))
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is None:
        return table, 0
    count = int(pc.sum(blank).as_py() or 0)
    return (table.filter(pc.invert(blank)), count) if count else (table, 0)


def _csv_reader(lines: Iterable[str], delimiter: str, quote: str) -> Iterator[list[str]]:
    if quote:
        return csv.reader(lines, delimiter=delimiter, quotechar=quote)
    return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE)


def _check_no_line_breaks(path: Path, table: pa.Table, start: int, quote: str) -> None:
    """Raise when a quoted value holds a line break (rows and file lines would not match).

    Only a quoted value can hold one, so a search of the columns' raw bytes
    (a few milliseconds for Online Retail) rules it out before any row is looked at.
    """
    for name in table.column_names:
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        if not any(_holds_line_break(chunk) for chunk in column.chunks):
            continue
        # The raw bytes may hold data outside the chunks' slices: find the row for real.
        breaks = pc.or_(pc.match_substring(column, "\n"), pc.match_substring(column, "\r"))
        rows = pc.indices_nonzero(pc.fill_null(breaks, False))
        if len(rows):
            row = int(rows[0].as_py())
            value = column[row].as_py()
            raise _quoted_break_error(path, start + row, quote, name, value)


def _holds_line_break(chunk: pa.Array) -> bool:
    data = chunk.buffers()[2]
    if data is None:
        return False
    raw = memoryview(data).tobytes()
    return raw.find(b"\n") >= 0 or raw.find(b"\r") >= 0


def _first_multiline_record(path: Path, encoding: str, delimiter: str, quote: str) -> int | None:
    """The line where the first record spanning several lines starts, if any."""
    if not quote:
        return None
    try:
        with path.open("r", encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quotechar=quote)
            first = 1
            for _ in reader:
                if reader.line_num > first:
                    return first
                first = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError):
        return None
    return None


def _quoted_break_error(
    path: Path, line: int, quote: str, column: str | None = None, value: str | None = None
) -> InputFileError:
    where = f"in column {column!r} " if column is not None else ""
    shown = ""
    if value is not None:
        shown = f" ({value[:40]!r}{'...' if len(value) > 40 else ''})"
    return InputFileError(
        f"{path}: a value quoted with {quote!r} {where}holds a line break, probably at line "
        f"{line}{shown}; line breaks inside quoted values are not supported (line numbers "
        "would be wrong): remove them or close the quote there, or give the file's quote "
        "character with --quote"
    )


def _line_numbers(start: int, count: int) -> pa.Array:
    return pa.array(np.arange(start, start + count, dtype=np.int64))


def _first_line(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, newline="") as handle:
        line = handle.readline()
    if not line.strip():
        raise InputFileError(f"{path}: the first line is empty, expected a header")
    return line.rstrip("\r\n")


def read_parquet(path: Path) -> RawTable:
    """Read a Parquet file with its stored types (dictionary-encoded columns decoded)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # Arrow repeats the path: "Could not open Parquet input source '<path>': ..."
        detail = detail.split(f"'{path}': ", 1)[-1]
        raise InputFileError(f"{path}: not a readable Parquet file: {detail}") from exc
    _check_unique_names(path, table.column_names)
    if table.num_rows == 0:
        raise InputFileError(f"{path}: the Parquet file has no rows")
    for position, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(
                position, column.name, table.column(position).cast(column.type.value_type)
            )
    table = table.append_column(LINE, _line_numbers(1, table.num_rows))
    return RawTable(path, table)


def read_excel(path: Path, sheet: str | None = None) -> RawTable:
    """Read the first (or the named) sheet of an ``.xlsx`` workbook; row 1 is the header."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise InputFileError(f"{path}: not a readable Excel workbook: {exc}") from exc
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InputFileError(f"{path}: no sheet {sheet!r}; sheets are {book.sheetnames}")
        rows = book[sheet] if sheet else book.worksheets[0]
        iterator = rows.iter_rows(values_only=True)
        header = next(iterator, None)
        if header is None:
            raise InputFileError(f"{path}: the sheet is empty")
        names = [str(h) if h is not None else f"column{i + 1}" for i, h in enumerate(header)]
        values: list[list[str | None]] = [[] for _ in names]
        lines: list[int] = []
        for number, row in enumerate(iterator, start=2):
            if row is None or all(v is None for v in row):
                continue
            for i in range(len(names)):
                value = row[i] if i < len(row) else None
                values[i].append(None if value is None else _excel_text(value))
            lines.append(number)
    finally:
        book.close()
    if not lines:
        raise InputFileError(f"{path}: the sheet has a header but no data rows")
    arrays = [pa.array(v, pa.string()) for v in values] + [pa.array(lines, pa.int64())]
    return RawTable(path, pa.table(arrays, names=[*names, LINE]))


def _excel_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def read_baskets(
    path: Path,
    delimiter: str = ",",
    encoding: str | None = None,
    skip: tuple[int, int] | None = None,
) -> RawTable:
    """Read one basket per line; the basket id is the line number.

    Lines are read by Arrow as one text column and split in Arrow compute, so a
    FIMI file of 900,000 items reads in a fraction of a second. ``skip`` is
    ``(bytes, lines)`` already read (a file that grew by appended lines).
    """
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    check_text(path, head, encoding)
    encoding = encoding or detect_encoding(path)
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    source: Path | pa.BufferReader = path
    if skip is not None:
        with path.open("rb") as handle:
            handle.seek(skip[0])
            source = pa.BufferReader(handle.read())
    block = BLOCK_SIZE
    while True:
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    encoding=arrow_encoding, column_names=["line"], block_size=block
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter="\x1f", quote_char=False, ignore_empty_lines=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={"line": pa.string()}, strings_can_be_null=False
                ),
            )
            break
        except pa.ArrowInvalid as exc:
            text = str(exc)
            if ("straddling" in text or "straddles" in text) and block < MAX_BLOCK_SIZE:
                block = min(MAX_BLOCK_SIZE, max(block * 16, path.stat().st_size + 1))
                continue
            raise InputFileError(
                f"{path}: not a basket-per-line text file ({encoding}): "
                f"{text.splitlines()[0] if text else type(exc).__name__}"
            ) from exc
        except UnicodeError as exc:
            raise InputFileError(f"{path}: cannot read the file as {encoding}: {exc}") from exc
    offset = skip[1] if skip is not None else 0
    if table.num_rows == 0:
        if skip is not None:
            empty = pa.table(
                {
                    "basket": pa.array([], pa.string()),
                    "item": pa.array([], pa.string()),
                    LINE: pa.array([], pa.int64()),
                }
            )
            return RawTable(path, empty, encoding, last_line=offset)
        raise InputFileError(f"{path}: no baskets found (every line is empty)")
    last = offset + table.num_rows
    lines = pc.utf8_trim_whitespace(table.column("line").combine_chunks())
    if delimiter == " ":
        tokens = pc.utf8_split_whitespace(lines)
    else:
        tokens = pc.split_pattern(lines, pattern=delimiter)
    numbers = pc.add(pc.list_parent_indices(tokens), 1 + offset)
    items = pc.utf8_trim_whitespace(pc.list_flatten(tokens))
    # A blank line gives one empty token: not an item (a trailing delimiter's empty
    # token is kept and becomes a "missing item" rejection with its line number).
    empty_line = pc.equal(pc.take(lines, pc.subtract(numbers, 1 + offset)), "")
    keep = pc.invert(empty_line)
    items, numbers = pc.filter(items, keep), pc.filter(numbers, keep)
    if len(items) == 0 and skip is None:
        raise InputFileError(f"{path}: no baskets found (every line is empty)")
    items = pc.if_else(pc.equal(items, ""), pa.scalar(None, pa.string()), items)
    numbers = numbers.cast(pa.int64())
    raw = pa.table({"basket": pc.cast(numbers, pa.string()), "item": items, LINE: numbers})
    return RawTable(path, raw, encoding, last_line=last)


def read_file(
    path: Path,
    *,
    layout: str = "table",
    delimiter: str | None = None,
    header: bool = True,
    encoding: str | None = None,
    sheet: str | None = None,
    quote: str = '"',
    skip: tuple[int, int] | None = None,
) -> RawTable:
    """Read any supported file into a :class:`RawTable` (``quote``: CSV quote character).

    ``skip`` (``(bytes, lines)``, text formats only) reads just what was appended
    after that many bytes.
    """
    path = Path(path)
    check_readable(path)
    fmt = detect_format(path, layout)
    if fmt == "csv":
        if delimiter is None and path.suffix.lower() == ".tsv":
            delimiter = "\t"
        return read_csv(
            path, delimiter=delimiter, quote=quote, header=header, encoding=encoding, skip=skip
        )
    if fmt == "parquet":
        return read_parquet(path)
    if fmt == "excel":
        return read_excel(path, sheet)
    return read_baskets(path, delimiter or ",", encoding, skip=skip)


def appendable(path: Path, layout: str = "table") -> bool:
    """Whether new lines appended to this file can be read on their own (text formats)."""
    return detect_format(path, layout) in ("csv", "baskets")
