"""Basket-per-line files (FIMI ``.dat``, groceries.csv) read straight into CSR arrays.

A lean path for ``xsell rules --baskets FILE``: the bytes are split into lines
and tokens and the tokens numbered (first appearance first) by one pass of
compiled C (``_baskets.c``), so mining a file needs neither pandas, SciPy, Arrow
nor Numba. It reads what :func:`xsell.data.readers.read_baskets` reads: lines
and tokens trimmed of whitespace, blank lines and empty tokens skipped (one
basket per non-blank line), UTF-8 (with or without BOM) or else Latin-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xsell.errors import InputFileError
from xsell.mining import _baskets

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
    indptr_b, indices_b, starts_b, ends_b = _baskets.parse(data, ord(delimiter), delimiter == " ")
    indptr, indices = np.frombuffer(indptr_b, np.int64), np.frombuffer(indices_b, np.int32)
    starts, ends = np.frombuffer(starts_b, np.int64), np.frombuffer(ends_b, np.int64)
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
