"""The re-ranker's explore task and deep components (features from the neural model)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.deep_helpers import FAST, planted_shop
from xsell.data.splits import last_basket_split
from xsell.evaluation import evaluate, make_queries
from xsell.models import make_model

SMALL = {"n_estimators": 40, "max_queries": 2000}


def test_explore_task_learns_and_proposes_only_items_the_customer_never_bought() -> None:
    need_module("lightgbm")
    data = planted_shop().to_shopdata()
    split = last_basket_split(data)
    model = make_model("reranker", task="next-basket-new", **SMALL).fit(split.train)
    queries = make_queries("next-basket", split, seed=0)
    query, item, _ = model.candidate_features(queries.contexts[:200], queries.users[:200])
    history = sp.csr_matrix(queries.contexts[:200])
    owned = {(r, int(i)) for r in range(200) for i in history[r].indices}
    assert (
        len(query) > 0 and not {(int(q), int(i)) for q, i in zip(query, item, strict=True)} & owned
    )
    # Trained on new items only, it finds them better than when it learned repeats as well.
    explore = evaluate(["reranker"], split, "next-basket", ks=[10], mode="explore",
                       params={"reranker": SMALL})  # fmt: skip
    mixed_task = evaluate(["reranker"], split, "next-basket", ks=[10], mode="explore",
                          params={"reranker": {**SMALL, "task": "next-basket"}})  # fmt: skip
    assert explore.rows[0]["params"]["task"] == "next-basket-new"
    assert explore.rows[0]["recall_new@10"] > mixed_task.rows[0]["recall_new@10"]


def test_deep_scores_become_re_ranker_features() -> None:
    need_module("lightgbm")
    need_module("torch")
    data = planted_shop().to_shopdata()
    neural = ("neural", {**FAST["neural"], "epochs": 2})
    model = make_model(
        "reranker", models=(neural, "cooccurrence", "popularity"), task="next-basket", **SMALL
    ).fit(data)
    assert {"0_neural_relative", "0_neural_rank"} <= set(model.feature_names_)
    gains = dict(
        zip(model.ranker_.feature_name(), model.ranker_.feature_importance("gain"), strict=True)
    )
    assert gains["0_neural_relative"] + gains["0_neural_rank"] > 0
    customer = str(data.users.ids[0])
    assert len(model.recommend([customer], k=5)) == 5
    assert np.isfinite(model.recommend([customer], k=5)["score"]).all()
