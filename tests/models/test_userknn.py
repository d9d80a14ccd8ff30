"""User-kNN against dense brute force: the customers most like the query vote."""

from __future__ import annotations

import numpy as np
import pytest

from xsell.data.synthetic import make_shop
from xsell.models import as_dense, basket_rows, make_model


@pytest.mark.parametrize("idf", [True, False])
def test_scores_equal_dense_brute_force(idf: bool) -> None:
    data = make_shop(n_users=120, n_items=40, n_pairs=4, n_triples=1, seed=11).to_shopdata()
    k = 15
    model = make_model("userknn", neighbours=k, idf=idf).fit(data)
    bought = (data.user_item.toarray() > 0).astype(np.float64)
    weight = np.log1p(data.n_users / np.maximum(bought.sum(axis=0), 1.0)) if idf else 1.0
    profiles = bought * weight
    norms = np.linalg.norm(profiles, axis=1)
    profiles /= np.where(norms > 0, norms, 1.0)[:, None]
    cart = np.zeros(data.n_items)
    cart[[0, 1]] = 1.0
    checked = 0
    # Customer -1 asks with the cart alone; a known customer adds their own history and is
    # never their own neighbour.
    for user in range(-1, data.n_users):
        query = (np.maximum(cart, bought[user]) if user >= 0 else cart) * weight
        sims = profiles @ (query / np.linalg.norm(query))
        if user >= 0:
            sims[user] = 0.0
        order = np.sort(sims)[::-1]
        if np.isclose(order[k - 1], order[k], rtol=1e-9):
            continue  # a tie at the border: either neighbour is right
        who = np.flatnonzero(sims >= order[k - 1])
        who = who[sims[who] > 0]
        votes = sims[who] @ bought[who]
        got = as_dense(model.score(basket_rows([[0, 1]], data.n_items), np.array([user])))[0]
        np.testing.assert_allclose(got, np.where(votes > 0, votes, -np.inf), rtol=1e-6)
        checked += 1
    assert checked > data.n_users // 2


def test_reasons_count_the_voting_neighbours() -> None:
    data = make_shop(n_users=120, n_items=40, n_pairs=4, n_triples=1, seed=11).to_shopdata()
    model = make_model("userknn", neighbours=5, idf=False).fit(data)
    bought = (data.user_item.toarray() > 0).astype(np.float64)
    cart = [0, 1]
    query = np.zeros(data.n_items)
    query[cart] = 1.0
    sims = bought @ query / np.linalg.norm(bought, axis=1).clip(1e-300)
    who = np.lexsort((np.arange(data.n_users), -sims))[:5]
    assert (sims[who] > 0).all()
    items = [2, 3, 4]
    reasons = model.reasons(cart, -1, items)
    assert reasons == [
        f"bought by {int(bought[who, i].sum())} of the 5 customers with similar carts"
        for i in items
    ]
    user = int(np.argmax(bought.sum(axis=1)))
    assert model.reasons(cart, user, items)[0].endswith(" of the 5 customers like you")
