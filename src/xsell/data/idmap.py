"""Stable maps between external ids (strings) and dense integer indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


class IdMap:
    """External id <-> dense index ``0..n-1``, in the order the ids were given.

    Unknown ids map to ``-1``: callers decide whether that is an error (a request
    for an unknown product) or simply nothing to say (a cold item in a basket).
    """

    def __init__(self, ids: Iterable[str]) -> None:
        self._index = pd.Index(pd.unique(np.asarray(list(ids), dtype=object)))

    @classmethod
    def from_index(cls, index: pd.Index) -> IdMap:
        self = cls.__new__(cls)
        self._index = index
        return self

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external: object) -> bool:
        return external in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._index.equals(other._index)

    def __hash__(self) -> int:
        return hash(tuple(self._index[:16]))

    @property
    def ids(self) -> np.ndarray:
        """External ids in index order (made once: converting an Arrow-backed index costs ~1 ms
        per 50,000 ids, too much for every served request)."""
        cached: np.ndarray | None = self.__dict__.get("_ids")
        if cached is None:
            cached = self._index.to_numpy(dtype=object)
            cached.flags.writeable = False
            self.__dict__["_ids"] = cached
        return cached

    def to_index(self, external: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Dense indices of ``external`` ids; ``-1`` where an id is unknown."""
        if isinstance(external, list | tuple) and len(external) <= 64:
            # A request's handful of ids: hash look-ups cost less than building an Index.
            return np.array([self.index_of(e) for e in external], dtype=np.int64)
        return np.asarray(self._index.get_indexer(pd.Index(np.asarray(external, dtype=object))))

    def index_of(self, external: str) -> int:
        """Dense index of one id, ``-1`` when unknown."""
        try:
            return int(self._index.get_loc(external))
        except KeyError:
            return -1

    def to_external(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """External ids of dense indices (which must be valid)."""
        return self.ids[np.asarray(indices, dtype=np.int64)]
