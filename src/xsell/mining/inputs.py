"""Plain basket files (one basket per line) straight into a baskets x items matrix.

For mining a file without a store: ``xsell rules --baskets retail.dat --preset fimi``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import scipy.sparse as sp

from xsell.data.presets import get_preset
from xsell.data.readers import LINE, read_file
from xsell.errors import ValidationError


def read_basket_file(
    path: str | Path, preset: str = "baskets", delimiter: str | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read a one-basket-per-line file; returns the binary baskets x items CSR and the item ids.

    ``preset`` is ``"baskets"`` (comma-separated, like groceries.csv) or ``"fimi"``
    (space-separated); ``delimiter`` overrides it. Empty tokens are ignored.
    """
    spec = get_preset(preset)
    if spec.layout != "baskets":
        raise ValidationError(
            f"preset {preset!r} is not a basket-per-line layout; use 'baskets' or 'fimi' "
            "(or ingest the file with `xsell ingest` and mine with --store)"
        )
    raw = read_file(Path(path), layout="baskets", delimiter=delimiter or spec.delimiter)
    table = raw.table.filter(pc.is_valid(raw.table["item"]))
    encoded = pc.dictionary_encode(table["item"]).combine_chunks()
    cols = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    _, rows = np.unique(table[LINE].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix(
        (np.ones(len(cols), np.int8), (rows.astype(np.int64), cols)),
        shape=(int(rows.max()) + 1 if len(rows) else 0, len(encoded.dictionary)),
    )
    return matrix, np.asarray(encoded.dictionary.to_pylist(), dtype=object)
