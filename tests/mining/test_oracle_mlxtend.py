"""Exactness against mlxtend (the oracle) on the real data sets named in the issue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import need_module, shared_file
from tests.mining.helpers import as_dict, basket_matrix, mlxtend_itemsets
from xsell.mining import association_rules, frequent_itemsets

# (file, preset, thresholds): mlxtend runs once at the lowest threshold; the higher
# ones are checked against its output filtered to support >= threshold.
CASES = [
    ("groceries/groceries.csv", "baskets", (0.01, 0.005, 0.002)),
    pytest.param("fimi/retail.dat", "fimi", (0.02, 0.01, 0.005), marks=pytest.mark.slow),
    pytest.param("fimi/T10I4D100K.dat", "fimi", (0.02, 0.01, 0.005), marks=pytest.mark.slow),
    ("fimi/mushroom.dat", "fimi", (0.5, 0.4, 0.3)),
    ("fimi/chess.dat", "fimi", (0.95, 0.9, 0.85)),
]


@pytest.mark.parametrize(("relative", "preset", "thresholds"), CASES)
def test_itemsets_and_supports_equal_mlxtend(
    relative: str, preset: str, thresholds: tuple[float, ...]
) -> None:
    need_module("mlxtend")
    matrix, ids = basket_matrix(shared_file(relative), preset)
    oracle = mlxtend_itemsets(matrix, ids, min(thresholds))
    reference = {
        frozenset(s): float(v) for s, v in zip(oracle["itemsets"], oracle["support"], strict=True)
    }
    for threshold in thresholds:
        expected = {k: v for k, v in reference.items() if v >= threshold}
        for layout in ("tidlist", "bitset"):
            mine = as_dict(frequent_itemsets(matrix, threshold, item_ids=ids, layout=layout))
            assert mine.keys() == expected.keys(), (relative, threshold, layout)
            assert all(mine[k] == expected[k] for k in expected)


@pytest.mark.parametrize(
    ("relative", "preset", "threshold"),
    [("groceries/groceries.csv", "baskets", 0.004), ("fimi/mushroom.dat", "fimi", 0.45)],
)
def test_rule_metrics_equal_mlxtend(relative: str, preset: str, threshold: float) -> None:
    mlx = need_module("mlxtend.frequent_patterns")
    matrix, ids = basket_matrix(shared_file(relative), preset)
    oracle_sets = mlxtend_itemsets(matrix, ids, threshold)
    oracle = mlx.association_rules(
        oracle_sets, num_itemsets=matrix.shape[0], metric="confidence", min_threshold=0.0
    )
    rules = association_rules(
        frequent_itemsets(matrix, threshold, item_ids=ids), max_consequent_len=None
    )
    assert len(rules) == len(oracle) > 100
    mine = rules.set_index(
        pd.Index(
            [
                (frozenset(a), frozenset(c))
                for a, c in zip(rules.antecedent, rules.consequent, strict=True)
            ]
        )
    )
    theirs = oracle.set_index(
        pd.Index(list(zip(oracle.antecedents, oracle.consequents, strict=True)))
    ).loc[mine.index]
    pairs = {
        "antecedent support": "antecedent_support",
        "consequent support": "consequent_support",
        "support": "support",
        "confidence": "confidence",
        "lift": "lift",
        "leverage": "leverage",
        "conviction": "conviction",
        "zhangs_metric": "zhangs_metric",
        "jaccard": "jaccard",
        "certainty": "certainty",
        "kulczynski": "kulczynski",
    }
    for theirs_name, mine_name in pairs.items():
        np.testing.assert_allclose(
            mine[mine_name].to_numpy(),
            theirs[theirs_name].to_numpy(dtype=float),
            rtol=1e-9,
            atol=1e-12,
            err_msg=mine_name,
        )
