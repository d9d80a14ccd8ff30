"""The deep models' training examples against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.deep.helpers import hand_shop
from xsell.models.deep import examples as X


def test_timeline_orders_each_customers_baskets() -> None:
    data = hand_shop()
    t = X.Timeline.of(data)
    u0 = data.users.index_of("u0")
    baskets = t.baskets[t.starts[u0] : t.starts[u0] + t.counts[u0]]
    assert data.baskets.to_external(baskets).tolist() == ["1", "2", "3"]
    assert t.days[baskets].tolist() == [0.0, 10.0, 20.0]
    assert t.value[baskets].tolist() == [2 * 1 + 3, 3 + 5, 4 * 0.5]


def test_history_decay_newest_share_seen_rfm_and_targets_by_hand() -> None:
    data = hand_shop()
    t = X.Timeline.of(data)
    u0 = data.users.index_of("u0")
    ex = X.build_examples(
        data, t, np.array([u0]), np.array([2]), half_life_days=10.0, max_history=10,
        newest_share=0.5,
    )  # fmt: skip
    a, b, c, d = (data.items.index_of(i) for i in "abcd")
    # Asked at day 20: basket 1 (age 20) weighs 0.25, basket 2 (age 10) 0.5, normalised to
    # 1/3 and 2/3, halved, and the newest basket (2) gets 0.5 on top.
    w1, w2 = 0.5 * (1 / 3), 0.5 * (2 / 3) + 0.5
    history = ex.history.toarray()[0]
    want = np.zeros(data.n_items)
    want[a] += w1
    want[b] += w1 + w2
    want[c] += w2
    np.testing.assert_allclose(history, want / want.sum())
    assert set(ex.seen[0].indices) == {a, b, c}
    assert set(ex.targets[0].indices) == {d}
    # gap: (10 - 0) / 1 day; orders 2; mean value (5 + 8) / 2.
    np.testing.assert_allclose(ex.rfm[0], np.log1p([10.0, 2.0, 6.5]))
    assert X.new_only(ex.targets, ex.seen)[0].indices.tolist() == [d]
    ex = X.build_examples(
        data, t, np.array([u0]), np.array([1]), half_life_days=None, max_history=1
    )
    assert ex.history[0].nnz == 1 and ex.history[0].sum() == pytest.approx(1.0)
    assert X.new_only(ex.targets, ex.seen)[0].indices.tolist() == [c]


def test_cart_examples_split_a_basket_and_guests_have_no_history() -> None:
    data = hand_shop()
    t = X.Timeline.of(data)
    rng = np.random.default_rng(0)
    guest = data.baskets.index_of("5")
    ex = X.build_examples(
        data, t, np.array([-1]), np.array([0]), half_life_days=30.0, max_history=5,
        carts=np.array([guest]), rng=rng,
    )  # fmt: skip
    cart, target = set(ex.cart[0].indices), set(ex.targets[0].indices)
    assert len(cart) == 1 and len(target) == 1
    assert cart | target == {data.items.index_of("a"), data.items.index_of("c")}
    assert ex.history[0].nnz == 0 and (ex.rfm[0] == 0).all()


def test_validation_takes_each_returning_customers_last_basket() -> None:
    data = hand_shop()
    t = X.Timeline.of(data)
    (users, positions), (held, held_at) = X.split_positions(t, 5, 10, np.random.default_rng(0))
    u0 = data.users.index_of("u0")
    assert held.tolist() == [u0] and held_at.tolist() == [2]
    # Training asks u0's basket 1 (basket 2 would be the validation one); u1 has one basket.
    assert users.tolist() == [u0] and positions.tolist() == [1]
