"""What both deep models share: torch on demand, determinism, devices, epochs, weights as arrays.

Fits are deterministic on CPU: one seed drives every random draw (through a
``torch.Generator`` and a NumPy generator), deterministic algorithms are on,
and the thread count is fixed for the fit and restored after it. A bounded
``max_seconds`` ends training at the next batch past the bound and keeps the best
epoch so far; that one bound is the only thing that makes a fit depend on the
machine's speed.

Weights travel in bundles as plain arrays (:func:`weights_of`,
:func:`load_weights`): a state dict turned into NumPy arrays and back, so a
bundle never holds pickled code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError, require
from xsell.progress import progress_bar

DEVICES: Final = ("auto", "cpu", "cuda")


def torch_module() -> Any:
    """The ``torch`` module, or an error that names the extra to install."""
    return require("torch", "deep")


def pick_device(name: str) -> Any:
    """``"auto"``: CUDA when present, else the CPU; ``"cuda"`` insists on CUDA."""
    torch = torch_module()
    if name == "cuda" and not torch.cuda.is_available():
        raise ValidationError("device 'cuda' asked for, but PyTorch sees no CUDA device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@contextmanager
def seeded(seed: int, threads: int) -> Iterator[Any]:
    """Deterministic torch for a fit: ``threads`` threads, a generator seeded with ``seed``.

    The global torch random state, thread count and determinism flag are put
    back afterwards, so fitting a model changes nothing else in the process.
    """
    torch = torch_module()
    before_threads = torch.get_num_threads()
    before_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield torch.Generator().manual_seed(seed)
        finally:
            torch.set_num_threads(before_threads)
            torch.use_deterministic_algorithms(before_deterministic)


@dataclass
class Epoch:
    """What one epoch did: mean training loss and the validation metric."""

    epoch: int
    loss: float
    metric: float
    seconds: float


def train_epochs(
    module: Any,
    run_epoch: Callable[[int, float], float],
    validate: Callable[[], float],
    *,
    epochs: int,
    patience: int,
    max_seconds: float | None,
    title: str,
    metric_name: str,
    quiet: bool,
) -> list[Epoch]:
    """Train ``module`` epoch by epoch, keep the best epoch's weights by ``validate()``.

    ``run_epoch(epoch, deadline)`` trains one epoch (stopping at ``deadline``, a
    ``time.perf_counter`` value) and returns its mean loss. Training stops after
    ``patience`` epochs without a better validation metric, after ``epochs``, or
    past ``max_seconds``; the weights of the best epoch (the starting weights
    count as epoch 0) are loaded back.
    """
    torch = torch_module()
    started = time.perf_counter()
    deadline = started + max_seconds if max_seconds else math.inf
    best, best_state, waited = -math.inf, None, 0
    log: list[Epoch] = []
    module.eval()
    with torch.no_grad():
        start_metric = float(validate())
    # The starting weights compete too (a warm start may already be the best).
    log.append(Epoch(0, math.nan, start_metric, time.perf_counter() - started))
    best = start_metric
    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    with progress_bar(title, total=epochs, quiet=quiet) as bar:
        for epoch in range(epochs):
            begun = time.perf_counter()
            module.train()
            loss = run_epoch(epoch, deadline)
            module.eval()
            with torch.no_grad():
                metric = float(validate())
            log.append(Epoch(epoch + 1, loss, metric, time.perf_counter() - begun))
            if metric > best:
                best, waited = metric, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                waited += 1
            bar.step(
                f"{title}: epoch {epoch + 1}/{epochs}, loss {loss:.4f}, "
                f"validation {metric_name} {metric:.4f} (best {best:.4f})"
            )
            if waited >= patience or time.perf_counter() >= deadline:
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return log


def weights_of(module: Any) -> dict[str, np.ndarray]:
    """The module's state dict as NumPy arrays (what a bundle stores)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_weights(module: Any, arrays: dict[str, np.ndarray]) -> None:
    """Load arrays from :func:`weights_of` into ``module`` (a mismatch is a ``ValueError``)."""
    torch = torch_module()
    try:
        module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()})
    except RuntimeError as exc:
        raise ValueError(f"stored weights do not fit the network: {exc}") from exc
    module.eval()


def svd_item_vectors(data: ShopData, dim: int, seed: int) -> np.ndarray:
    """Items' collaborative-filtering vectors: a truncated SVD of customers x items.

    The matrix is binary (who bought what; baskets x items when no basket has a
    customer), columns weighted by inverse document frequency; the item vectors
    ``V * sqrt(S)`` are scaled to a mean norm of 1. Deep models start from them.
    """
    from sklearn.utils.extmath import randomized_svd

    matrix = data.user_item if data.user_item.nnz else data.basket_item
    matrix = sp.csr_matrix(matrix, dtype=np.float64)
    matrix.data[:] = 1.0
    buyers = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    idf = np.log1p(matrix.shape[0] / np.maximum(buyers, 1.0))
    weighted = sp.csr_matrix(matrix @ sp.diags(idf))
    rank = max(1, min(dim, min(weighted.shape) - 1))
    _, values, vt = randomized_svd(weighted, rank, random_state=seed, n_iter=5)
    vectors = np.zeros((matrix.shape[1], dim))
    vectors[:, :rank] = vt.T * np.sqrt(values)[None, :]
    norms = np.linalg.norm(vectors, axis=1)
    mean = float(norms[norms > 0].mean()) if (norms > 0).any() else 1.0
    return vectors / mean


def recall_at(
    scores: np.ndarray | sp.csr_matrix,
    truth: list[np.ndarray],
    blocked: list[np.ndarray],
    k: int,
) -> float:
    """Mean full-ranking recall@k: every item is ranked, ``blocked`` items left out per row.

    ``scores`` is dense or a CSR whose absent entries are ``-inf`` (no score).
    """
    values = []
    for r, wanted in enumerate(truth):
        if len(wanted) == 0:
            continue
        if isinstance(scores, sp.csr_matrix):
            row = np.full(scores.shape[1], -np.inf)
            lo, hi = scores.indptr[r], scores.indptr[r + 1]
            row[scores.indices[lo:hi]] = scores.data[lo:hi]
        else:
            row = np.array(scores[r], dtype=np.float64)
        row[blocked[r]] = -np.inf
        top = np.argpartition(-row, min(k, len(row) - 1))[:k]
        top = top[np.isfinite(row[top])]
        values.append(len(np.intersect1d(top, wanted)) / len(wanted))
    return float(np.mean(values)) if values else 0.0
