"""Mixed lists: the slot split, its composition in ranking and where it is kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shops import loyal_and_curious
from xsell.errors import InputFileError, ValidationError
from xsell.models import Batch, SlotSplit, load_model, make_model, rank
from xsell.models.slots import compose, new_taken, repeat_rates


def test_compose_keeps_the_share_in_every_prefix_by_hand() -> None:
    items, is_new = compose([1, 2, 3, 4], [10, 11, 12], 0.3, 6)
    # round(0.3 j) for j = 1..6: 0, 1, 1, 1, 2, 2 new items.
    assert items == [1, 10, 2, 3, 11, 4]
    assert is_new == [False, True, False, False, True, False]
    # A list that runs out is filled from the other one.
    assert compose([1], [10, 11, 12], 0.0, 3)[0] == [1, 10, 11]
    assert compose([1, 2, 3], [10], 1.0, 3)[0] == [10, 1, 2]
    assert compose([], [], 0.5, 3)[0] == []


@settings(max_examples=200, deadline=None)
@given(
    n_repeat=st.integers(0, 12),
    n_new=st.integers(0, 12),
    share=st.floats(0, 1),
    length=st.integers(0, 15),
)
def test_compose_prefixes_match_new_taken(
    n_repeat: int, n_new: int, share: float, length: int
) -> None:
    repeat = list(range(n_repeat))
    new = list(range(100, 100 + n_new))
    items, is_new = compose(repeat, new, share, length)
    assert len(items) == min(length, n_repeat + n_new)
    assert len(set(items)) == len(items)
    # Each list keeps its own order.
    assert [i for i in items if i < 100] == repeat[: len([i for i in items if i < 100])]
    assert [i for i in items if i >= 100] == new[: sum(is_new)]
    for j in range(1, len(items) + 1):
        assert sum(is_new[:j]) == new_taken(share, j, n_repeat, n_new)


def test_repeat_rates_by_hand() -> None:
    # u0: item 0 in 3 baskets, item 1 in 1 -> 2 of 4 purchases repeat; u1: nothing repeated.
    history = sp.csr_matrix(np.array([[3, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=np.float32))
    rates = repeat_rates(history, np.array([0, 1, 2, -1, 7]))
    np.testing.assert_allclose(rates[:3], [0.5, 0.0, 0.0])
    assert np.isnan(rates[3:]).all()


def test_slot_split_is_validated_and_assigns_groups() -> None:
    with pytest.raises(ValidationError, match="one share more than edges, got 1 shares and 1"):
        SlotSplit((0.2,), (0.5,))
    with pytest.raises(ValidationError, match=r"slot shares must be in \[0, 1\], got \[1.5\]"):
        SlotSplit((), (1.5,))
    with pytest.raises(ValidationError, match="edges must ascend"):
        SlotSplit((0.5, 0.2), (0.0, 0.1, 0.2))
    split = SlotSplit((0.1, 0.4), (0.8, 0.3, 0.0))
    history = sp.csr_matrix(np.array([[1, 1, 0], [2, 1, 0], [5, 1, 0]], dtype=np.float32))
    # rates 0, 1/3, 4/6 -> groups 0, 1, 2
    np.testing.assert_allclose(split.shares_for(history, np.array([0, 1, 2])), [0.8, 0.3, 0.0])
    assert np.isnan(split.shares_for(history, np.array([-1]))).all()
    assert SlotSplit.from_dict(json.loads(json.dumps(split.to_dict()))) == split


def test_rank_composes_mixed_lists_from_the_repeat_and_explore_lists() -> None:
    data = loyal_and_curious()
    model = make_model("popularity").fit(data)
    users = np.array([model.customer_index(u) for u in ("u000", "u001", "u002")])
    history = sp.csr_matrix(model.history_[users])
    bought = [history.indices[history.indptr[r] : history.indptr[r + 1]] for r in range(3)]
    batch = Batch(sp.csr_matrix(history, dtype=np.float32), users, bought=bought)
    plain = rank(model, batch, 5, mode="mixed", exclude_cart=False)
    repeat = rank(model, batch, 5, mode="repeat", exclude_cart=False)
    explore = rank(model, batch, 5, mode="explore", exclude_cart=False)
    model.slots_ = SlotSplit((0.1,), (0.4, 0.6))
    mixed = rank(model, batch, 5, mode="mixed", exclude_cart=False)
    shares = model.slots_.shares_for(model.history_, users)
    for r in range(3):
        want, _ = compose(repeat[r].items, explore[r].items, float(shares[r]), 5)
        assert mixed[r].items == want
        assert mixed[r].items != plain[r].items
    # Explore and repeat lists ignore the split.
    assert [a.items for a in rank(model, batch, 5, mode="explore", exclude_cart=False)] == [
        a.items for a in explore
    ]


def test_the_split_travels_in_the_bundle_and_a_damaged_one_names_the_file(tmp_path: Path) -> None:
    data = loyal_and_curious()
    model = make_model("personal").fit(data)
    model.slots_ = SlotSplit((0.1, 0.3), (0.0, 0.2, 0.7))
    path = model.save(tmp_path / "bundle")
    loaded = load_model(path)
    assert loaded.slots_ == model.slots_
    customers = ["u000", "u001", "u003"]
    pd.testing.assert_frame_equal(
        model.recommend(customers, k=6, exclude_seen=False),
        loaded.recommend(customers, k=6, exclude_seen=False),
    )
    meta = json.loads((path / "model.json").read_text())
    meta["slots"]["shares"] = [0.0, 2.0, 0.1]
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=r"model\.json: damaged or incomplete bundle file"):
        load_model(path)
