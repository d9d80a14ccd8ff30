"""How mixed lists' share of new items is learned per customer group, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shops import loyal_and_curious
from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models import make_model


def test_learned_split_gives_new_slots_only_to_customers_who_buy_new_things() -> None:
    data = loyal_and_curious()
    model = make_model("personal").fit(data)
    model.learn_slots(data, k=4, groups=2, new_weight=1.0)
    assert model.slots_ is not None
    loyal = model.customer_index("u000")
    curious = model.customer_index("u001")
    shares = model.slots_.shares_for(model.history_, np.array([loyal, curious]))
    # Loyal: all three staples stay; the fourth slot is new either way (ties go to more new).
    assert shares[0] == 0.25
    assert shares[1] >= 0.5
    assert model.slots_.k == 4


def test_learning_needs_returning_customers_and_a_positive_weight() -> None:
    data = ShopData.from_baskets([["a", "b"], ["b", "c"]])
    model = make_model("popularity").fit(data)
    with pytest.raises(ValidationError, match="needs at least 10 customers with two or more"):
        model.learn_slots(data)
    with pytest.raises(ValidationError, match="new_weight must be a number > 0, got 0"):
        model.learn_slots(data, new_weight=0)
