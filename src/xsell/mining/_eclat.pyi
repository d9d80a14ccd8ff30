# The compiled kernels of _eclat.c; xsell.mining.eclat documents each one.
from typing import Any

def project(
    indptr: Any, indices: Any, rank_of: Any, n_ranks: int, keep_row: Any, /
) -> tuple[bytearray, bytearray, bytearray, bytearray]: ...
def count_pairs(
    row_ptr: Any, row_items: Any, col_ptr: Any, col_tids: Any, n_ranks: int, min_count: int,
    cap: int, /,
) -> tuple[bytearray, bytearray, bytearray, bytearray, int]: ...  # fmt: skip
def pair_bits(nb_ptr: Any, nb_item: Any, n_ranks: int, /) -> bytearray: ...
def tid_bitsets(col_ptr: Any, col_tids: Any, n_ranks: int, n_rows: int, /) -> bytearray: ...
def mine(
    roots: Any, counts: Any, nb_ptr: Any, nb_item: Any, nb_count: Any, row_ptr: Any,
    row_items: Any, col_ptr: Any, col_tids: Any, bits: Any, words: int, dense: bool,
    prune: bool, pairs_ok: Any, pair_words: int, min_count: int, max_len: int, cap: int, /,
) -> tuple[bytearray, bytearray, bytearray, int]: ...  # fmt: skip
def level_rows(
    parent: Any, item: Any, count: Any, item_of_rank: Any, /
) -> tuple[bytearray, bytearray, bytearray]: ...
def level_counts(parent: Any, /) -> bytearray: ...
