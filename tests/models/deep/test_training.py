"""The deep models' shared training loop, seeding, devices and weights as arrays.

Also what only fitted networks show: seeded fits are identical, and bundles hold
arrays and JSON only and give the same answers.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from tests.models.deep.helpers import (
    build,
    busiest_customers,
    fitted_planted,
    planted_data,
    planted_shop,
    tiny_shop,
)
from xsell.errors import InputFileError, MissingExtraError, ValidationError
from xsell.models import load_model, make_model
from xsell.models.deep import training as T


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience() -> None:
    torch = need_module("torch")
    module = torch.nn.Linear(1, 1)
    scripted = iter([0.2, 0.1, 0.5, 0.4, 0.3, 0.45, 0.9])  # epoch 0 is the start

    def run_epoch(epoch: int, deadline: float) -> float:
        with torch.no_grad():
            module.weight.fill_(float(epoch + 1))  # the weights remember their epoch
        return 1.0 / (epoch + 1)

    log = T.train_epochs(
        module,
        run_epoch,
        lambda: next(scripted),
        epochs=10,
        patience=3,
        max_seconds=None,
        title="t",
        metric_name="m",
        quiet=True,
    )
    # Best 0.5 after epoch 2; epochs 3, 4, 5 do not beat it: stop there, keep epoch 2.
    assert [e.epoch for e in log] == [0, 1, 2, 3, 4, 5]
    assert [e.metric for e in log] == [0.2, 0.1, 0.5, 0.4, 0.3, 0.45]
    assert math.isnan(log[0].loss) and log[1].loss == 1.0
    assert module.weight.detach().item() == 2.0


def test_the_start_wins_when_no_epoch_beats_it_and_a_spent_budget_stops_at_once() -> None:
    torch = need_module("torch")
    module = torch.nn.Linear(1, 1)
    with torch.no_grad():
        module.weight.fill_(-7.0)
    calls = []

    def run_epoch(epoch: int, deadline: float) -> float:
        calls.append(deadline)
        with torch.no_grad():
            module.weight.fill_(float(epoch + 1))
        return 0.0

    metrics = iter([0.9, 0.1, 0.2, 0.3])
    log = T.train_epochs(
        module, run_epoch, lambda: next(metrics), epochs=3, patience=5,
        max_seconds=1e-9, title="t", metric_name="m", quiet=True,
    )  # fmt: skip
    # One epoch ran (its deadline already past), then training stopped; the start is kept.
    assert len(calls) == 1 and len(log) == 2
    assert module.weight.detach().item() == -7.0


def test_progress_shows_each_epoch_with_its_validation_metric(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = need_module("torch")
    seen: list[tuple[str, bool]] = []
    steps: list[str] = []

    class Recorder:
        def step(self, description: str, advance: float = 1.0) -> None:
            steps.append(description)

    from contextlib import contextmanager

    @contextmanager
    def fake_bar(title: str, total: float, quiet: bool = False):  # type: ignore[no-untyped-def]
        seen.append((title, quiet))
        yield Recorder()

    monkeypatch.setattr(T, "progress_bar", fake_bar)
    metrics = iter([0.1, 0.2, 0.3])
    T.train_epochs(
        torch.nn.Linear(1, 1), lambda e, d: 0.5, lambda: next(metrics), epochs=2, patience=2,
        max_seconds=None, title="neural", metric_name="recall@10", quiet=True,
    )  # fmt: skip
    assert seen == [("neural", True)]
    assert steps == [
        "neural: epoch 1/2, loss 0.5000, validation recall@10 0.2000 (best 0.2000)",
        "neural: epoch 2/2, loss 0.5000, validation recall@10 0.3000 (best 0.3000)",
    ]


def test_seeded_restores_threads_and_the_global_random_state() -> None:
    torch = need_module("torch")
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with T.seeded(5, 1) as generator:
        assert torch.get_num_threads() == 1
        first = torch.rand(2, generator=generator)
    with T.seeded(5, 1) as generator:
        assert torch.equal(torch.rand(2, generator=generator), first)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.rand(3), expected)


def test_weights_round_trip_as_arrays_and_a_mismatch_is_a_value_error() -> None:
    torch = need_module("torch")
    module = torch.nn.Linear(3, 2)
    arrays = T.weights_of(module)
    assert set(arrays) == {"weight", "bias"}
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    other = torch.nn.Linear(3, 2)
    T.load_weights(other, arrays)
    assert torch.equal(other.weight, module.weight)
    with pytest.raises(ValueError, match="stored weights do not fit the network"):
        T.load_weights(other, {"weight": np.zeros((5, 5), np.float32), "bias": arrays["bias"]})


def test_devices() -> None:
    torch = need_module("torch")
    if torch.cuda.is_available():
        assert T.pick_device("cuda").type == "cuda"
        assert T.pick_device("auto").type == "cuda"
    else:
        assert T.pick_device("auto").type == "cpu"
        with pytest.raises(ValidationError, match="device 'cuda' asked for, but PyTorch sees no"):
            T.pick_device("cuda")
    with pytest.raises(ValidationError, match=r"neural: device must be one of \['auto', 'cpu'"):
        make_model("neural", device="tpu")


def test_a_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'xsell\[deep\]'"):
        T.torch_module()


def test_recall_at_ranks_every_item_and_leaves_out_blocked_ones() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.7], [0.1, 0.2, 0.3, 0.4]])
    truth = [np.array([1, 2]), np.array([0])]
    # Row 0: top 2 = {0, 1} -> 1 of 2; with 0 blocked: {1, 3} -> 1 of 2. Row 1: {3, 2} -> 0.
    assert T.recall_at(scores, truth, [np.zeros(0, int)] * 2, 2) == pytest.approx(0.25)
    assert T.recall_at(scores, truth, [np.array([0, 1]), np.zeros(0, int)], 2) == pytest.approx(
        0.25
    )
    sparse = sp.csr_matrix(np.where(scores > 0.15, scores, 0))
    # Absent entries have no score: row 1 ranks only 1, 2, 3 and still misses 0.
    assert T.recall_at(sparse, truth, [np.zeros(0, int)] * 2, 2) == pytest.approx(0.25)


def test_svd_vectors_put_items_bought_by_the_same_customers_together() -> None:
    need_module("sklearn")
    from xsell.data.shopdata import ShopData

    rows = [(f"b{u}{i}", f"u{u}", item) for u in range(30) for i, item in
            enumerate(["a", "b"] if u % 2 else ["c", "d"])]  # fmt: skip
    data = ShopData.from_frame(
        __import__("pandas").DataFrame(rows, columns=["basket_id", "user_id", "item_id"])
    )
    vectors = T.svd_item_vectors(data, 4, seed=0)
    a, b, c, d = (vectors[data.items.index_of(x)] for x in "abcd")

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    assert cos(a, b) > 0.99 and cos(c, d) > 0.99 and abs(cos(a, c)) < 0.01
    assert np.linalg.norm(vectors, axis=1).mean() == pytest.approx(1.0)


NAMES = ["neural", "sequence"]


@pytest.mark.parametrize("name", NAMES)
def test_seeded_fits_are_identical_and_another_seed_differs(name: str) -> None:
    data = tiny_shop(seed=3)
    first = build(name, epochs=2).fit(data)
    second = build(name, epochs=2).fit(data)
    other = build(name, epochs=2, seed=1).fit(data)
    assert first.epochs_[0]["epoch"] == 0 and len(first.epochs_) >= 2  # the start, then epochs
    assert first.weights_.keys() == second.weights_.keys()
    for key, value in first.weights_.items():
        np.testing.assert_array_equal(value, second.weights_[key], err_msg=key)
    assert any(not np.array_equal(v, other.weights_[k]) for k, v in first.weights_.items())
    customers = busiest_customers(data, 5)
    pd.testing.assert_frame_equal(first.recommend(customers, k=8), second.recommend(customers, k=8))


@pytest.mark.parametrize("name", NAMES)
def test_bundle_holds_arrays_only_and_answers_the_same(name: str, tmp_path: Path) -> None:
    fitted, shop, shop_data = fitted_planted(name), planted_shop(), planted_data()
    path = fitted.save(tmp_path / "bundle")
    files = {p.name for p in path.rglob("*") if p.is_file()}
    assert files <= {"model.json", "items.parquet", "customers.parquet", "arrays.npz"}, files
    with zipfile.ZipFile(path / "arrays.npz") as archive:
        stored = archive.namelist()
    assert any(n.startswith("weights_.") for n in stored)
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[n].dtype != object for n in arrays.files)
    meta = json.loads((path / "model.json").read_text())
    assert meta["model"] == name and "weights_" in meta["state"]
    loaded = load_model(path)
    customers = busiest_customers(shop_data, 3)
    for asked in (
        lambda m: m.recommend(customers, k=10),
        lambda m: m.recommend_for_basket(
            [shop.planted_pairs[0].anchor, shop.planted_pairs[1].anchor], k=10, user=customers[0]
        ),
        lambda m: m.complements(shop.planted_pairs[2].anchor, k=10),
    ):
        pd.testing.assert_frame_equal(asked(fitted), asked(loaded))
    # A weight array of the wrong shape is named, never half-loaded.
    with np.load(path / "arrays.npz", allow_pickle=False) as arrays:
        kept = {n: arrays[n] for n in arrays.files}
    key = next(n for n in kept if n.startswith("weights_."))
    kept[key] = np.zeros((3, 3), dtype=np.float32)
    np.savez(path / "arrays.npz", allow_pickle=False, **kept)
    with pytest.raises(InputFileError, match=r"arrays\.npz: damaged or incomplete bundle file"):
        load_model(path)
    # With the manifest's size made to match, the shape check still names the bundle.
    meta["files"]["arrays.npz"]["bytes"] = (path / "arrays.npz").stat().st_size
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputFileError, match=r"model\.json: damaged or incomplete bundle file"):
        load_model(path).recommend(customers, k=3)
