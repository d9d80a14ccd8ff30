"""``sequence``: a SASRec-style causal Transformer over each customer's sequence of baskets.

A basket enters the sequence as the mean of its item embeddings, plus the
embedding of the gap (in log2 days) since the customer's previous basket and a
position embedding; a causal Transformer reads the sequence, and the output at
basket ``t``, dotted with every item embedding (plus an item bias), scores basket
``t + 1``. Training is cross-entropy over the items (a full softmax up to
:data:`~xsell.models.deep.neural.FULL_SOFTMAX_ITEMS` items, else a popularity
sample with the log-q correction), every item of the next basket a positive;
with ``target="new"`` only the items the customer buys for the first time are
positives (the explore task).

A cart is the sequence's newest, unfinished basket: it enters flagged as a cart,
and training also shows carts (half of a basket, flagged) whose output must find
the basket's other half, so the model completes carts and product pages too.

Each customer's last training basket is the validation example; training stops
when recall@10 on it (of new items with ``target="new"``) stops improving, and
keeps the best epoch. Weights are stored in the bundle as arrays (no pickle).
"""

from __future__ import annotations

import time
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.base import Recommender
from xsell.models.deep import examples as X
from xsell.models.deep.neural import FULL_SOFTMAX_ITEMS, SAMPLED_ITEMS, STARTS, TARGETS
from xsell.models.deep.training import (
    DEVICES,
    load_weights,
    pick_device,
    recall_at,
    seeded,
    svd_item_vectors,
    torch_module,
    train_epochs,
    weights_of,
)
from xsell.models.params import flag, integer, number, one_of, param

#: Gap buckets: floor(log2(1 + days)), the last one open-ended.
N_GAPS: Final = 12
#: Items of one basket read into its embedding (a seeded sample of larger baskets).
MAX_BASKET_ITEMS: Final = 40
_SCORE_ROWS: Final = 512


@dataclass
class Sequence(Recommender):
    """A causal Transformer over customers' baskets (SASRec for baskets), in PyTorch.

    Parameters
    ----------
    dim, heads, layers:
        Embedding size, attention heads and Transformer layers.
    max_baskets:
        Most recent baskets read per customer (the sequence length).
    dropout:
        Dropout inside the Transformer and on its input.
    epochs, patience:
        Most epochs; stop after ``patience`` epochs without a better validation recall@10.
    batch_size:
        Sequences per training step.
    learning_rate, weight_decay:
        Adam's step size and L2 penalty.
    cart_share:
        Share of training sequences that end in a cart (half a basket -> the other half).
    target:
        ``"all"`` items of the next basket, or ``"new"``: only items bought for
        the first time (the explore task; validation measures new-item recall).
    max_validation:
        Most customers in the validation split.
    max_seconds:
        Stop training after this many seconds (the best epoch so far is kept);
        ``None``: no bound (then fits are deterministic).
    start:
        ``"svd"``: item embeddings start from a truncated SVD of customers x
        items; ``"random"``: from noise.
    threads, device, seed, quiet:
        CPU threads, ``"auto"``/``"cpu"``/``"cuda"``, the seed of every draw, no progress bar.
    """

    name = "sequence"
    needs_customers = True

    dim: int = param(64, integer(low=2))
    heads: int = param(2, integer(low=1))
    layers: int = param(2, integer(low=1))
    max_baskets: int = param(20, integer(low=1))
    dropout: float = param(0.2, number(low=0, high=1, high_open=True))
    epochs: int = param(30, integer(low=1))
    patience: int = param(3, integer(low=1))
    batch_size: int = param(128, integer(low=1))
    learning_rate: float = param(0.001, number(low=0, low_open=True))
    weight_decay: float = param(0.0, number(low=0))
    cart_share: float = param(0.3, number(low=0, high=1, high_open=True))
    target: str = param("all", one_of(*TARGETS))
    max_validation: int = param(1000, integer(low=1))
    max_seconds: float | None = param(None, number(low=0, low_open=True, none=True))
    start: str = param("svd", one_of(*STARTS))
    threads: int = param(1, integer(low=1))
    device: str = param("auto", one_of(*DEVICES))
    seed: int = param(0, integer(low=0))
    quiet: bool = param(False, flag())

    weights_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    #: Per known customer, their last ``max_baskets`` baskets: cells (CSR rows), gaps, lengths.
    cells_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    gaps_: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64), init=False)
    lengths_: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), init=False)
    epochs_: list[dict[str, float]] = field(default_factory=list, init=False, repr=False)
    _net: Any = field(default=None, init=False, repr=False, compare=False)

    def _check_params(self) -> None:
        if self.dim % self.heads:
            raise ValidationError(
                f"sequence: dim must be a multiple of heads, got dim={self.dim}, heads={self.heads}"
            )

    # ------------------------------------------------------------------ fit

    def _fit(self, data: ShopData) -> None:
        torch = torch_module()
        device = pick_device(self.device)
        rng = np.random.default_rng(self.seed)
        timeline = X.Timeline.of(data)
        counts = timeline.counts
        returning = np.flatnonzero(counts >= 2)
        chosen = (
            np.sort(rng.choice(returning, self.max_validation, replace=False))
            if len(returning) > self.max_validation
            else returning
        )
        held = np.zeros(data.n_users, dtype=bool)
        held[chosen] = True
        usable = counts - held
        if not (usable >= 2).any() and not (np.diff(data.basket_item.indptr) >= 2).any():
            raise ValidationError(
                "sequence: no training sequences (it needs customers with two or more baskets, "
                "or baskets with two or more items)"
            )
        first_time = _first_time_items(data, timeline)
        windows = _windows(usable, self.max_baskets)
        n_carts = round(len(windows) * self.cart_share / (1 - self.cart_share))
        held_baskets = timeline.baskets[timeline.starts[chosen] + counts[chosen] - 1]
        carts = _cart_windows(data, timeline, held_baskets, usable, n_carts, self.max_baskets, rng)
        unseen = np.ones(data.n_baskets, dtype=bool)
        unseen[held_baskets] = False
        start = (
            svd_item_vectors(data.subset_baskets(unseen), self.dim, self.seed)
            if self.start == "svd"
            else None
        )
        popularity = data.item_basket_count.astype(np.float64) ** 0.75
        sampler = torch.as_tensor(popularity / popularity.sum(), dtype=torch.float32)
        batches = _Batches(data, timeline, first_time, self.max_baskets, self.target == "new")
        validation = batches.validation(chosen, counts[chosen] - 1)
        with seeded(self.seed, self.threads) as generator:
            net = self._build(torch, data.n_items, start).to(device)
            optimiser = torch.optim.Adam(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            log = train_epochs(
                net,
                lambda epoch, deadline: self._epoch(
                    torch, net, optimiser, batches, windows, carts, sampler, generator, device,
                    epoch, deadline,
                ),
                lambda: self._validate(torch, net, batches, validation, device),
                epochs=self.epochs,
                patience=self.patience,
                max_seconds=self.max_seconds,
                title="sequence",
                metric_name="recall_new@10" if self.target == "new" else "recall@10",
                quiet=self.quiet,
            )  # fmt: skip
        self.epochs_ = [vars(e) for e in log]
        self.weights_ = weights_of(net)
        self._net = net
        known = np.flatnonzero(counts > 0)
        cells, gaps, lengths = batches.history_cells(known, counts[known])
        self.cells_ = _per_customer(cells, known, data.n_users, self.max_baskets)
        self.gaps_ = np.zeros((data.n_users, self.max_baskets), dtype=np.int64)
        self.gaps_[known] = gaps
        self.lengths_ = np.zeros(data.n_users, dtype=np.int64)
        self.lengths_[known] = lengths

    def _build(self, torch: Any, n_items: int, start: np.ndarray | None = None) -> Any:
        from xsell.models.deep.networks import SequenceNet

        net = SequenceNet(
            n_items, self.dim, self.heads, self.layers, self.max_baskets, N_GAPS, self.dropout
        )
        if start is not None:
            with torch.no_grad():
                net.item.weight.copy_(torch.as_tensor(start, dtype=torch.float32))
                net.output.weight.copy_(torch.as_tensor(start, dtype=torch.float32))
        return net

    def _epoch(
        self,
        torch: Any,
        net: Any,
        optimiser: Any,
        batches: _Batches,
        windows: np.ndarray,
        carts: np.ndarray,
        sampler: Any,
        generator: Any,
        device: Any,
        epoch: int,
        deadline: float,
    ) -> float:
        rng = np.random.default_rng([self.seed, epoch])
        jobs = np.r_[np.arange(len(windows)), -1 - np.arange(len(carts))]
        jobs = jobs[rng.permutation(len(jobs))]
        losses = []
        full = batches.n_items <= FULL_SOFTMAX_ITEMS
        log_q = torch.log(sampler.clamp(min=1e-12)).to(device)
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            batch = batches.training(windows[chunk[chunk >= 0]], carts[-1 - chunk[chunk < 0]], rng)
            if batch is None:
                continue
            cells, gaps, lengths, flags, target_cell, target_item = batch
            hidden = net(_bag(torch, cells, device), *_tensors(torch, device, gaps, lengths, flags))
            # Carts weigh as much as whole sequences: one cart cell against up to
            # max_baskets next-basket cells per sequence would barely be learned.
            is_cart = torch.as_tensor(flags.ravel()[target_cell] > 0, device=device)
            rows = hidden.reshape(-1, hidden.shape[-1])
            asked, owner = np.unique(target_cell, return_inverse=True)
            states = rows[torch.as_tensor(asked, device=device)]
            items = torch.as_tensor(target_item, device=device)
            who = torch.as_tensor(owner.astype(np.int64), device=device)
            if full:
                logits = net.logits(states)
                terms = torch.logsumexp(logits, dim=1)[who] - logits[who, items]
            else:
                pool = torch.multinomial(
                    sampler, SAMPLED_ITEMS, replacement=True, generator=generator
                ).to(device)
                pool_logits = net.logits(states, pool) - (log_q[pool] + np.log(SAMPLED_ITEMS))
                positive = (states[who] * net.output.weight[items]).sum(1) + net.bias[items]
                # log(exp(positive) + sum over the pool), the pool's part once per state.
                terms = torch.logaddexp(torch.logsumexp(pool_logits, dim=1)[who], positive)
                terms = terms - positive
            loss = sum(terms[part].mean() for part in (is_cart, ~is_cart) if bool(part.any()))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if time.perf_counter() >= deadline:
                break
        return float(np.mean(losses)) if losses else 0.0

    def _validate(
        self, torch: Any, net: Any, batches: _Batches, validation: Any, device: Any
    ) -> float:
        cells, gaps, lengths, flags, truth, seen = validation
        scores = self._last_scores(torch, net, cells, gaps, lengths, flags, device)
        blocked = seen if self.target == "new" else [np.zeros(0, np.int64)] * len(truth)
        return recall_at(scores, truth, blocked, 10)

    # ------------------------------------------------------------------ score

    def _last_scores(
        self,
        torch: Any,
        net: Any,
        cells: sp.csr_matrix,
        gaps: np.ndarray,
        lengths: np.ndarray,
        flags: np.ndarray,
        device: Any,
    ) -> np.ndarray:
        """Scores of every item from the output at each sequence's newest basket."""
        length = self.max_baskets
        out = []
        for start in range(0, len(lengths), _SCORE_ROWS):
            stop = min(len(lengths), start + _SCORE_ROWS)
            block = cells[start * length : stop * length]
            hidden = net(
                _bag(torch, block, device),
                *_tensors(torch, device, gaps[start:stop], lengths[start:stop], flags[start:stop]),
            )
            out.append(net.logits(hidden[:, -1, :]).cpu().numpy())
        return np.vstack(out) if out else np.zeros((0, net.item.weight.shape[0]), np.float32)

    def _network(self) -> Any:
        torch = torch_module()
        if self._net is None:
            assert self.items_ is not None
            with seeded(self.seed, self.threads):
                net = self._build(torch, int(self.weights_["item.weight"].shape[0]))
            load_weights(net, self.weights_)
            self._net = net.to(pick_device(self.device))
        return self._net

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        torch = torch_module()
        assert self.cells_ is not None
        net = self._network()
        device = next(net.parameters()).device
        n_items = int(self.weights_["item.weight"].shape[0])
        baskets = sp.csr_matrix(baskets, dtype=np.float64)[:, :n_items]
        n_users = len(self.lengths_)
        who = np.full(baskets.shape[0], -1) if users is None else np.asarray(users, np.int64)
        who = np.where(who < n_users, who, -1)
        cells, gaps, lengths, flags = self._query_cells(baskets, who, n_items)
        with seeded(self.seed, self.threads), torch.no_grad():
            scores = self._last_scores(torch, net, cells, gaps, lengths, flags, device)
        # A query with neither a known history nor a cart has no evidence.
        scores[lengths == 0] = -np.inf
        return scores

    def _query_cells(
        self, baskets: sp.csr_matrix, who: np.ndarray, n_items: int
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        """Each query as a sequence: the customer's baskets, then the cart (flagged) if any.

        Cart items the customer bought before are part of their history already.
        """
        assert self.cells_ is not None and self.history_ is not None
        length = self.max_baskets
        n = baskets.shape[0]
        mine = np.maximum(who, 0)
        known = who >= 0
        bought = sp.csr_matrix(self.history_[mine][:, :n_items], dtype=np.float64)
        bought = sp.csr_matrix(sp.diags(known.astype(np.float64)) @ bought)
        bought.data[:] = 1.0
        cart = sp.csr_matrix(baskets - baskets.multiply(bought))
        cart.eliminate_zeros()
        has_cart = np.diff(cart.indptr) > 0
        lengths = np.where(known, self.lengths_[mine], 0)
        gaps = np.where(known[:, None], self.gaps_[mine], 0)
        rows = (mine[:, None] * length + np.arange(length)[None, :]).ravel()
        cells = sp.csr_matrix(self.cells_[rows])
        cells = sp.csr_matrix(sp.diags(np.repeat(known, length).astype(np.float64)) @ cells)
        flags = np.zeros((n, length), dtype=np.int64)
        shift = np.flatnonzero(has_cart)
        if len(shift):
            # Right-aligned sequences: drop the oldest basket and put the cart last.
            grid = cells.tolil()
            cart_rows = cart[shift]
            for j, r in enumerate(shift):
                base = r * length
                for slot in range(length - 1):
                    grid.rows[base + slot] = grid.rows[base + slot + 1]
                    grid.data[base + slot] = grid.data[base + slot + 1]
                items = cart_rows.indices[cart_rows.indptr[j] : cart_rows.indptr[j + 1]]
                grid.rows[base + length - 1] = list(items)
                grid.data[base + length - 1] = [1.0 / len(items)] * len(items)
            cells = sp.csr_matrix(grid)
            gaps[shift, :-1] = gaps[shift, 1:]
            gaps[shift, -1] = 0
            flags[shift, -1] = 1
            lengths[shift] = np.minimum(lengths[shift] + 1, length)
        return cells, gaps, lengths, flags

    def _reasons(self, context: Seq[int], user: int, items: Seq[int]) -> list[str]:
        self.require_fitted()
        bought = set(self.history_items(user).tolist())
        known = 0 <= user < len(self.lengths_) and self.lengths_[user] > 0
        source = "the order of your past baskets" if known else "the cart"
        return [
            ("repeat: you bought it before; " if item in bought else "")
            + f"predicted next from {source} (sequence model)"
            for item in items
        ]

    # ------------------------------------------------------------------ bundle

    def _state(self) -> dict[str, Any]:
        return {
            "weights_": self.weights_,
            "cells_": self.cells_,
            "gaps_": self.gaps_,
            "lengths_": self.lengths_,
            "epochs_": [dict(e) for e in self.epochs_],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._net = None
        # Built now, so weights that do not fit the network fail the load, naming the bundle.
        self._network()


# ---------------------------------------------------------------------- batches


def _windows(usable: np.ndarray, length: int) -> np.ndarray:
    """(customer, end) of every training window: inputs baskets ``end - length .. end - 1``.

    A customer's ``usable`` baskets are cut into windows from the newest back;
    each window's outputs predict the basket after each of its inputs.
    """
    rows = []
    for user in np.flatnonzero(usable >= 2):
        end = int(usable[user]) - 1  # the newest usable basket is only ever a target
        while end > 0:
            rows.append((user, end))
            end -= length
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def _cart_windows(
    data: ShopData,
    timeline: X.Timeline,
    held: np.ndarray,
    usable: np.ndarray,
    n: int,
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(basket, customer, position) of up to ``n`` baskets that become carts in training."""
    picked, owners, positions = X.cart_positions(data, timeline, held, n, rng)
    keep = (owners < 0) | (positions < usable[np.maximum(owners, 0)])
    return np.column_stack([picked[keep], owners[keep], positions[keep]]).astype(np.int64)


def _first_time_items(data: ShopData, timeline: X.Timeline) -> sp.csr_matrix:
    """Per basket: the items its customer buys there for the first time (binary CSR)."""
    matrix = sp.csr_matrix(data.basket_item)
    order = timeline.baskets
    owner = np.repeat(np.arange(len(timeline.counts)), timeline.counts)
    rank = np.empty(data.n_baskets, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rows = np.repeat(np.arange(data.n_baskets), np.diff(matrix.indptr))
    items = matrix.indices.astype(np.int64)
    user = data.basket_user.astype(np.int64)[rows]
    known = user >= 0
    new = ~known
    if known.any():
        where = np.flatnonzero(known)
        key = user[where] * data.n_items + items[where]
        sequence = np.lexsort((rank[rows[where]], key))
        first = np.r_[True, key[sequence][1:] != key[sequence][:-1]]
        new[where[sequence[first]]] = True
    del owner
    out = sp.csr_matrix((np.ones(int(new.sum())), (rows[new], items[new])), shape=matrix.shape)
    out.sort_indices()
    return out


class _Batches:
    """Builds the cells (bags of one basket each), gaps, flags and targets of sequences."""

    def __init__(
        self,
        data: ShopData,
        timeline: X.Timeline,
        first_time: sp.csr_matrix,
        length: int,
        new_only: bool,
    ) -> None:
        self.items = sp.csr_matrix(data.basket_item)
        self.first_time = first_time
        self.timeline = timeline
        self.length = length
        self.new_only = new_only
        self.n_items = data.n_items
        self.user_item = data.user_item

    def _basket_rows(self, baskets: np.ndarray) -> sp.csr_matrix:
        """Bags of the given baskets (``-1``: empty), weights 1 / size (a mean)."""
        safe = np.maximum(baskets, 0)
        rows = sp.csr_matrix(self.items[safe], dtype=np.float64)
        rows = sp.csr_matrix(sp.diags((baskets >= 0).astype(np.float64)) @ rows)
        rows.eliminate_zeros()
        sizes = np.diff(rows.indptr)
        if (sizes > MAX_BASKET_ITEMS).any():
            rows = _first_items(rows, MAX_BASKET_ITEMS)
            sizes = np.diff(rows.indptr)
        return sp.csr_matrix(sp.diags(1.0 / np.maximum(sizes, 1)) @ rows)

    def _gap(self, baskets: np.ndarray, previous: np.ndarray) -> np.ndarray:
        days = self.timeline.days
        gap = np.where(
            (baskets >= 0) & (previous >= 0),
            days[np.maximum(baskets, 0)] - days[np.maximum(previous, 0)],
            0.0,
        )
        gap = np.nan_to_num(np.maximum(gap, 0.0))
        return np.minimum(np.floor(np.log2(1.0 + gap)), N_GAPS - 1).astype(np.int64)

    def _grid(
        self, users: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Right-aligned basket ids ``n x length`` of baskets ``ends - length .. ends - 1``."""
        t = self.timeline
        slots = np.arange(self.length)[None, :] - self.length + ends[:, None]
        valid = slots >= 0
        index = t.starts[users][:, None] + np.maximum(slots, 0)
        grid = np.where(valid, t.baskets[np.minimum(index, len(t.baskets) - 1)], -1)
        previous_index = index - 1
        previous = np.where(
            valid & (slots >= 1), t.baskets[np.clip(previous_index, 0, len(t.baskets) - 1)], -1
        )
        return grid, previous, np.minimum(ends, self.length)

    def training(
        self, windows: np.ndarray, carts: np.ndarray, rng: np.random.Generator
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """One batch: next-basket windows, then cart sequences; targets by flat cell index."""
        length = self.length
        grids, previous, lengths, flags = [], [], [], []
        target_cell: list[np.ndarray] = []
        target_item: list[np.ndarray] = []
        if len(windows):
            users, ends = windows[:, 0], windows[:, 1]
            grid, prev, lens = self._grid(users, ends)
            # The output at each input basket predicts the customer's next basket.
            nxt, _, _ = self._grid(users, ends + 1)
            source = self.first_time if self.new_only else self.items
            rows = sp.csr_matrix(source[np.maximum(nxt.ravel(), 0)])
            rows = sp.csr_matrix(sp.diags((grid.ravel() >= 0).astype(np.float64)) @ rows)
            rows.eliminate_zeros()
            target_cell.append(np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr)))
            target_item.append(rows.indices.astype(np.int64))
            grids.append(grid)
            previous.append(prev)
            lengths.append(lens)
            flags.append(np.zeros_like(grid))
        cart_rows: list[np.ndarray] = []
        if len(carts):
            baskets, users, positions = carts[:, 0], carts[:, 1], carts[:, 2]
            known = users >= 0
            safe = np.maximum(users, 0)
            grid, prev, lens = self._grid(safe, np.where(known, positions + 1, 1))
            grid[~known] = -1
            grid[~known, -1] = baskets[~known]
            lens = np.where(known, lens, 1)
            prev[~known] = -1
            offset = sum(len(g) for g in grids) * length
            for j, b in enumerate(baskets):
                items = self.items.indices[self.items.indptr[b] : self.items.indptr[b + 1]]
                shuffled = rng.permutation(items)
                cut = max(1, len(items) // 2)
                cart_rows.append(shuffled[:cut])
                target_cell.append(np.full(len(items) - cut, offset + j * length + length - 1))
                target_item.append(shuffled[cut:].astype(np.int64))
            grids.append(grid)
            previous.append(prev)
            lengths.append(lens)
            flag = np.zeros_like(grid)
            flag[:, -1] = 1
            flags.append(flag)
        grid = np.vstack(grids)
        cells = self._basket_rows(grid.ravel())
        if cart_rows:
            first = (len(grid) - len(cart_rows)) * length
            lil = cells.tolil()
            for j, items in enumerate(cart_rows):
                row = first + j * length + length - 1
                lil.rows[row] = sorted(int(i) for i in items)
                lil.data[row] = [1.0 / len(items)] * len(items)
            cells = sp.csr_matrix(lil)
        cell_index = np.concatenate(target_cell) if target_cell else np.zeros(0, np.int64)
        items = np.concatenate(target_item) if target_item else np.zeros(0, np.int64)
        if len(items) == 0:
            return None
        gaps = self._gap(grid.ravel(), np.vstack(previous).ravel()).reshape(grid.shape)
        if cart_rows:
            gaps[len(grid) - len(cart_rows) :, -1] = 0
        return cells, gaps, np.concatenate(lengths), np.vstack(flags), cell_index, items

    def validation(
        self, users: np.ndarray, positions: np.ndarray
    ) -> tuple[
        sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]
    ]:
        """Sequences of the baskets before ``positions``; truth: that basket (or its new items)."""
        cells, gaps, lengths = self.history_cells(users, positions)
        target = self.timeline.baskets[self.timeline.starts[users] + positions]
        source = self.first_time if self.new_only else self.items
        truth = [source.indices[source.indptr[b] : source.indptr[b + 1]] for b in target]
        seen = []
        for u, p in zip(users, positions, strict=True):
            before = self.timeline.baskets[self.timeline.starts[u] : self.timeline.starts[u] + p]
            rows = self.items[before]
            seen.append(np.unique(rows.indices))
        flags = np.zeros((len(users), self.length), dtype=np.int64)
        return cells, gaps, lengths, flags, truth, seen

    def history_cells(
        self, users: np.ndarray, ends: np.ndarray
    ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """Cells, gaps and lengths of each customer's baskets ``ends - length .. ends - 1``."""
        grid, previous, lengths = self._grid(users, ends)
        cells = self._basket_rows(grid.ravel())
        gaps = self._gap(grid.ravel(), previous.ravel()).reshape(grid.shape)
        return cells, gaps, lengths


def _first_items(rows: sp.csr_matrix, limit: int) -> sp.csr_matrix:
    """Each row's first ``limit`` entries (item order), to bound the bag of a huge basket."""
    position = np.arange(rows.nnz) - np.repeat(rows.indptr[:-1], np.diff(rows.indptr))
    keep = position < limit
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    return sp.csr_matrix((rows.data[keep], (row_of[keep], rows.indices[keep])), shape=rows.shape)


def _per_customer(
    cells: sp.csr_matrix, users: np.ndarray, n_users: int, length: int
) -> sp.csr_matrix:
    """Cells of ``users`` placed at rows ``user * length + slot`` of an all-customers matrix."""
    target = (users[:, None] * length + np.arange(length)[None, :]).ravel()
    place = sp.csr_matrix(
        (np.ones(len(target)), (target, np.arange(len(target)))),
        shape=(n_users * length, len(target)),
    )
    return sp.csr_matrix(place @ cells)


def _bag(torch: Any, cells: sp.csr_matrix, device: Any) -> Any:
    from xsell.models.deep.networks import bag

    return bag(cells, device)


def _tensors(
    torch: Any, device: Any, gaps: np.ndarray, lengths: np.ndarray, flags: np.ndarray
) -> tuple[Any, Any, Any]:
    return (
        torch.as_tensor(gaps, dtype=torch.long, device=device),
        torch.as_tensor(lengths, dtype=torch.long, device=device),
        torch.as_tensor(flags, dtype=torch.long, device=device),
    )
