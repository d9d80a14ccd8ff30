"""The re-ranker's suggestions explained: contributions that add up to the ranker's raw
score, planted complements explained by co-purchase, the same numbers with or without the
rows of the last answer, and models without contributions answering ``None``."""

from __future__ import annotations

import pytest

from tests.shops import build, fitted
from xsell.data.shopdata import ShopData
from xsell.data.synthetic import SyntheticShop
from xsell.models import Query, basket_rows
from xsell.models.answers import to_frame
from xsell.models.reranker import LearnedReranker
from xsell.models.reranker_words import explain, feature_groups

SMALL = {"n_estimators": 40, "max_queries": 1500, "candidates": 10}
CO_PURCHASE = {"cooccurrence", "itemknn"}


@pytest.fixture(scope="module")
def reranker(shop_data: ShopData) -> LearnedReranker:
    model = build("reranker", **SMALL).fit(shop_data)
    assert isinstance(model, LearnedReranker)
    return model


def test_contributions_plus_base_equal_the_raw_ranker_score(
    reranker: LearnedReranker, shop_data: ShopData
) -> None:
    table = reranker.require_fitted()
    for b in range(0, 40, 4):
        cart = [str(i) for i in table.ids.ids[shop_data.basket_items(b)][:3]]
        [found] = reranker.answer([Query(tuple(cart))], 8, explain=True)
        assert found.contributions is not None
        # The oracle: LightGBM's plain prediction of the same candidate rows.
        context = table.ids.to_index(cart)
        rows = basket_rows([context.tolist()], len(table))
        _, items, features = reranker.candidate_features(rows)
        raw = dict(zip(items.tolist(), reranker.ranker_.predict(features), strict=True))
        for item, source, explained in zip(
            found.items, found.sources, found.contributions, strict=True
        ):
            if source == "fallback":
                assert explained is None
                continue
            assert explained is not None
            total = explained.base + sum(c.value for c in explained.contributions)
            assert total == pytest.approx(raw[item], abs=1e-9)


def test_planted_complements_are_explained_by_co_purchase(
    reranker: LearnedReranker, shop: SyntheticShop
) -> None:
    table = reranker.require_fitted()
    explained = 0
    for pair in shop.planted_pairs:
        [found] = reranker.answer([Query((pair.anchor,))], 10, explain=True)
        ids = [str(table.ids.ids[i]) for i in found.items]
        if pair.partner not in ids:
            continue
        contributions = found.contributions
        assert contributions is not None
        top = contributions[ids.index(pair.partner)]
        assert top is not None
        assert top.contributions[0].feature in CO_PURCHASE, (pair, top.contributions[:3])
        explained += 1
    assert explained >= len(shop.planted_pairs) // 2


def test_words_name_the_cart_item_and_show_the_numbers(
    reranker: LearnedReranker, shop: SyntheticShop
) -> None:
    pair = shop.planted_pairs[0]
    table = reranker.require_fitted()
    anchor_name = str(table.names[table.ids.index_of(pair.anchor)])
    frame = reranker.recommend_for_basket([pair.anchor], k=5, explain=True)
    partner = frame[frame["item_id"] == pair.partner].iloc[0]
    assert "ranked up by: " in partner["reason"]
    assert anchor_name in partner["reason"].split("ranked up by: ")[1]
    numbers = partner["contributions"]
    assert numbers["score"] == pytest.approx(partner["score"])
    assert {"feature", "contribution", "words"} <= set(numbers["contributions"][0])


def test_rebuilt_rows_explain_like_the_rows_just_ranked(
    reranker: LearnedReranker, shop_data: ShopData
) -> None:
    cart = shop_data.basket_items(7)[:2].tolist()
    rows = basket_rows([cart], shop_data.n_items)
    _, items, _ = reranker.candidate_features(rows)
    picks = items[:5].tolist()
    reranker.recommend_for_basket([str(shop_data.items.ids[cart[0]])], k=3)
    rebuilt = explain(reranker, cart, -1, picks)
    reranker.score(rows)
    remembered = explain(reranker, cart, -1, picks)
    for a, b in zip(rebuilt, remembered, strict=True):
        assert a is not None and b is not None
        assert a.to_dict() == b.to_dict()


def test_each_component_kind_is_one_group(reranker: LearnedReranker) -> None:
    groups = feature_groups(reranker)
    assert len(groups) == len(reranker.feature_names_)
    assert {"cooccurrence", "itemknn", "popularity", "sales", "price", "category"} <= set(groups)


def test_models_without_contributions_answer_none(shop: SyntheticShop) -> None:
    model = fitted("cooccurrence")
    [found] = model.answer([Query((shop.planted_pairs[0].anchor,))], 4, explain=True)
    assert found.contributions is None
    frame = to_frame([found], model.require_fitted(), explain=True)
    assert frame["contributions"].isna().all()
