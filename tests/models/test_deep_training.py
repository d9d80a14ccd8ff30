"""The deep models' shared training loop, seeding, devices and weights as arrays."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from tests.conftest import need_module
from xsell.errors import MissingExtraError, ValidationError
from xsell.models import make_model
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
