"""Plain basket files (one basket per line) straight into a baskets x items matrix.

For mining a file without a store: ``xsell rules --baskets retail.dat --preset fimi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xsell.data.presets import get_preset
from xsell.errors import ValidationError
from xsell.mining.basket_file import BasketArrays, read_basket_arrays

if TYPE_CHECKING:
    import scipy.sparse as sp


def read_baskets(
    path: str | Path, preset: str = "baskets", delimiter: str | None = None
) -> BasketArrays:
    """Read a one-basket-per-line file as CSR arrays and item ids (no SciPy, no pandas).

    ``preset`` is ``"baskets"`` (comma-separated, like groceries.csv) or ``"fimi"``
    (space-separated); ``delimiter`` overrides it. Empty tokens are ignored.
    """
    spec = get_preset(preset)
    if spec.layout != "baskets":
        raise ValidationError(
            f"preset {preset!r} is not a basket-per-line layout; use 'baskets' or 'fimi' "
            "(or ingest the file with `xsell ingest` and mine with --store)"
        )
    return read_basket_arrays(path, delimiter or spec.delimiter or ",")


def read_basket_file(
    path: str | Path, preset: str = "baskets", delimiter: str | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read a one-basket-per-line file; returns the binary baskets x items CSR and the item ids.

    ``preset`` is ``"baskets"`` (comma-separated, like groceries.csv) or ``"fimi"``
    (space-separated); ``delimiter`` overrides it. Empty tokens are ignored.
    """
    import scipy.sparse as sp

    baskets = read_baskets(path, preset, delimiter)
    matrix = sp.csr_matrix(
        (np.ones(len(baskets.indices), np.int8), baskets.indices, baskets.indptr),
        shape=baskets.shape,
    )
    return matrix, baskets.ids
