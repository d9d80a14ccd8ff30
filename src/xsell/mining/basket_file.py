"""Basket-per-line files (FIMI ``.dat``, groceries.csv) read straight into CSR arrays.

A lean path for ``xsell rules --baskets FILE``: the bytes are split into lines
and tokens and the tokens numbered (first appearance first) by one compiled
pass, with NumPy and Numba only, so mining a file needs neither pandas, SciPy
nor Arrow. It reads what :func:`xsell.data.readers.read_baskets` reads: lines
and tokens trimmed of whitespace, blank lines and empty tokens skipped (one
basket per non-blank line), UTF-8 (with or without BOM) or else Latin-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from xsell.errors import InputFileError

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BasketArrays:
    """Baskets as a binary CSR (``indptr``, ``indices``: sorted, distinct) and the item ids."""

    indptr: np.ndarray
    indices: np.ndarray
    ids: np.ndarray  # object array of str, one per column

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, len(self.ids)


def read_basket_arrays(path: str | Path, delimiter: str) -> BasketArrays:
    """Read ``path`` (one basket per line, items split by ``delimiter``; ``" "``: any spaces)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, expected a file")
    if not path.is_file():
        # A FIFO or a device would be read forever.
        raise InputFileError(f"{path}: is not a regular file")
    data = path.read_bytes()
    if not data:
        raise InputFileError(f"{path}: the file is empty")
    if len(delimiter.encode()) != 1:
        raise InputFileError(f"{path}: the delimiter must be one character, got {delimiter!r}")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    buffer = np.frombuffer(data, np.uint8)
    whitespace = delimiter == " "
    indptr, indices, starts, ends = _parse(buffer, ord(delimiter), whitespace)
    if len(indices) == 0:
        raise InputFileError(f"{path}: no baskets found (every line is empty)")
    try:
        ids = [
            data[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
    except UnicodeDecodeError:
        ids = [
            data[s:e].decode("latin-1") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
    return BasketArrays(indptr, indices, np.array(ids, dtype=object))


@njit(cache=True, inline="always")
def _is_space(b):
    return b == 32 or (9 <= b <= 13)


@njit(cache=True)
def _token_hash(buffer, start, end):
    # FNV-1a over the token's bytes.
    h = np.uint64(0xCBF29CE484222325)
    for p in range(start, end):
        h = (h ^ np.uint64(buffer[p])) * np.uint64(0x100000001B3)
    return h


@njit(cache=True)
def _same(buffer, a_start, a_end, b_start, b_end):
    if a_end - a_start != b_end - b_start:
        return False
    for p in range(a_end - a_start):  # noqa: SIM110 - a loop Numba compiles
        if buffer[a_start + p] != buffer[b_start + p]:
            return False
    return True


@njit(cache=True)
def _parse(buffer, delimiter, whitespace):
    """CSR of baskets (token ids numbered by first appearance) and each id's byte span.

    The arrays grow between calls of :func:`_parse_lines`, never inside its loop:
    an array reassigned in a hot loop costs Numba reference counting on every use.
    """
    table = np.full(1 << 16, -1, np.int64)
    id_start = np.empty(1 << 12, np.int64)
    id_end = np.empty(1 << 12, np.int64)
    indices = np.empty(max(1 << 12, len(buffer) // 4), np.int32)
    indptr = np.zeros(1 << 12, np.int64)
    pos = 0
    n_ids = 0
    n_tokens = 0
    n_rows = 0
    while True:
        pos, n_ids, n_tokens, n_rows, room = _parse_lines(
            buffer, delimiter, whitespace, pos, table, id_start, id_end, n_ids, indices,
            n_tokens, indptr, n_rows,
        )  # fmt: skip
        if pos >= len(buffer):
            break
        # The next line needs up to `room` more tokens, ids and table slots.
        while n_tokens + room > len(indices):
            indices = _grow(indices)
        while n_ids + room > len(id_start):
            id_start = _grow(id_start)
            id_end = _grow(id_end)
        if n_rows + 2 > len(indptr):
            indptr = _grow(indptr)
        size = len(table)
        while 2 * (n_ids + room) > size:
            size *= 4
        if size != len(table):
            table = _rehash(buffer, id_start, id_end, n_ids, size)
    return indptr[: n_rows + 1].copy(), indices[:n_tokens].copy(), id_start[:n_ids], id_end[:n_ids]


@njit(cache=True)
def _parse_lines(
    buffer, delimiter, whitespace, pos, table, id_start, id_end, n_ids, indices, n_tokens,
    indptr, n_rows,
):  # fmt: skip
    """Parse lines from ``pos`` while every array has room for the next whole line.

    Returns the new ``(pos, n_ids, n_tokens, n_rows)`` and the room the next line
    needs (its length: it has no more tokens than bytes).
    """
    n = len(buffer)
    mask = len(table) - 1
    while pos < n:
        line_end = pos
        while line_end < n and buffer[line_end] != 10:
            line_end += 1
        room = line_end - pos + 1
        if (
            n_tokens + room > len(indices)
            or n_ids + room > len(id_start)
            or 2 * (n_ids + room) > len(table)
            or n_rows + 2 > len(indptr)
        ):
            return pos, n_ids, n_tokens, n_rows, room
        row_start = n_tokens
        p = pos
        while p < line_end:
            # One token: up to the delimiter (or a whitespace run), trimmed.
            if whitespace:
                while p < line_end and _is_space(buffer[p]):
                    p += 1
                start = p
                while p < line_end and not _is_space(buffer[p]):
                    p += 1
                end = p
            else:
                start = p
                while p < line_end and buffer[p] != delimiter:
                    p += 1
                end = p
                p += 1
                while start < end and _is_space(buffer[start]):
                    start += 1
                while end > start and _is_space(buffer[end - 1]):
                    end -= 1
            if end <= start:
                continue
            slot = np.int64(_token_hash(buffer, start, end) & np.uint64(mask))
            found = -1
            while table[slot] >= 0:
                t = table[slot]
                if _same(buffer, id_start[t], id_end[t], start, end):
                    found = t
                    break
                slot = (slot + 1) & mask
            if found < 0:
                found = n_ids
                id_start[n_ids] = start
                id_end[n_ids] = end
                n_ids += 1
                table[slot] = found
            indices[n_tokens] = found
            n_tokens += 1
        pos = line_end + 1
        if n_tokens > row_start:
            # Sorted, distinct items per basket (a repeated item counts once); short rows
            # by insertion in place, which beats a sort call on a slice.
            if n_tokens - row_start > 32:
                indices[row_start:n_tokens].sort()
            else:
                for q in range(row_start + 1, n_tokens):
                    value = indices[q]
                    r = q - 1
                    while r >= row_start and indices[r] > value:
                        indices[r + 1] = indices[r]
                        r -= 1
                    indices[r + 1] = value
            kept = row_start + 1
            for q in range(row_start + 1, n_tokens):
                if indices[q] != indices[kept - 1]:
                    indices[kept] = indices[q]
                    kept += 1
            n_tokens = kept
            n_rows += 1
            indptr[n_rows] = n_tokens
    return pos, n_ids, n_tokens, n_rows, 0


@njit(cache=True)
def _grow(array):
    bigger = np.zeros(2 * len(array), array.dtype)
    bigger[: len(array)] = array
    return bigger


@njit(cache=True)
def _rehash(buffer, id_start, id_end, n_ids, table_size):
    table = np.full(table_size, -1, np.int64)
    for t in range(n_ids):
        h = _token_hash(buffer, id_start[t], id_end[t])
        slot = np.int64(h & np.uint64(table_size - 1))
        while table[slot] >= 0:
            slot = (slot + 1) & (table_size - 1)
        table[slot] = t
    return table
