"""``neural``: customer tower, item tower, their cosine and an MLP, trained with sampled BCE.

The design's hybrid of collaborative filtering and deep learning:

- the **customer tower** reads the customer's time-decayed purchases (an
  embedding bag weighted by ``0.5 ** (age / half_life_days)``), the cart being
  filled (another bag) and three RFM features (usual days between orders,
  orders so far, mean order value);
- the **item tower** adds an id embedding to embeddings of the item's category,
  brand, price band and name tokens, so items never sold get vectors from
  their features;
- an **MLP** over ``[u; i; u * i; cos(u, i)]`` gives the logit that the item
  is in the basket.

Training examples come from the customers' own histories: *next basket* (the
baskets before ``t`` -> the items of basket ``t``) and *cart* (half of a basket
visible -> the other half), with binary cross-entropy on the items to find and
``negatives`` sampled items per positive: half drawn in proportion to
``popularity ** 0.75`` (word2vec's correction: uniform negatives are so easy
that the model would learn little beyond "popular items are bought"), half from
the towers' own softmax (the near misses the MLP ranks at answer time). The
towers themselves learn with a softmax over every item (over a popularity
sample with the log-q correction for large catalogs), and the item id
embeddings start from a truncated SVD of who bought what (``start="svd"``). Each
customer's last training basket is the validation example; training stops when
recall@10 on it (of new items only with ``target="new"``) stops improving.

Scoring is two-stage: the cosine of the towers picks ``candidates`` new items
and ``candidates`` of the customer's own items per query, and the MLP scores
those (every other item has no score). Weights are stored in the bundle as
arrays (no pickle).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import scipy.sparse as sp

from xsell.data.shopdata import ShopData
from xsell.errors import ValidationError
from xsell.models.base import Recommender
from xsell.models.deep import examples as X
from xsell.models.deep.features import ItemFeatures
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

TARGETS: Final = ("all", "new")
#: How item id embeddings start: a truncated SVD of who bought what, or random.
STARTS: Final = ("svd", "random")
#: Catalogs up to this size train the towers with a full softmax, larger ones with a sample.
FULL_SOFTMAX_ITEMS: Final = 20_000
#: Items drawn (by popularity ** 0.75) for the sampled softmax of large catalogs.
SAMPLED_ITEMS: Final = 4096
#: Examples scored at once when validating or answering (bounds the memory of a batch).
_SCORE_ROWS: Final = 512


@dataclass
class Neural(Recommender):
    """Two towers and an MLP (the design's deep hybrid), in PyTorch on CPU or CUDA.

    Parameters
    ----------
    dim, hidden:
        Size of the tower vectors and of the MLP's hidden layer.
    epochs, patience:
        Most epochs; stop after ``patience`` epochs without a better validation recall@10.
    batch_size:
        Examples per training step.
    learning_rate, weight_decay:
        Adam's step size and L2 penalty.
    negatives:
        Sampled negative items per item to find (drawn by ``popularity ** 0.75``).
    max_history:
        Strongest past items a customer vector reads.
    half_life_days:
        Age at which a past order counts half in the customer tower.
    newest_share:
        Share of the customer tower's purchase weights given to their newest
        basket on top of the decay (what was bought last says most about what
        comes next).
    max_targets:
        Next-basket examples per customer (their latest baskets).
    cart_share:
        Share of cart examples (part of a basket -> the rest) among all examples.
    target:
        ``"all"`` items of the next basket, or ``"new"``: only items the customer
        never bought (the explore task; validation measures new-item recall).
    candidates:
        Items per query the towers' cosine passes to the MLP, for new and for own items each.
    id_dropout:
        Share of training rows whose item id embedding is hidden, so features learn to carry.
    start:
        ``"svd"``: item id embeddings start from a truncated SVD of customers x
        items (collaborative filtering), and both towers start as the identity
        around them (residual MLPs starting at zero); ``"random"``: from noise.
    max_validation:
        Most customers in the validation split.
    max_seconds:
        Stop training after this many seconds (the best epoch so far is kept);
        ``None``: no bound (then fits are deterministic).
    threads:
        CPU threads PyTorch may use during the fit and scoring (1 by default: on a
        machine shared with other work, two threads spinning on two busy cores
        were measured up to 7x slower than one).
    device:
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    seed:
        Seeds every random draw.
    quiet:
        No progress bar for the epochs.

    Catalog items that never sold are scored from their features (their id
    embedding is left out); items that first appear in live orders are not
    scored until the next fit.
    """

    name = "neural"
    needs_customers = True

    dim: int = param(64, integer(low=2))
    hidden: int = param(128, integer(low=1))
    epochs: int = param(30, integer(low=1))
    patience: int = param(3, integer(low=1))
    batch_size: int = param(256, integer(low=1))
    learning_rate: float = param(0.001, number(low=0, low_open=True))
    weight_decay: float = param(0.0, number(low=0))
    negatives: int = param(4, integer(low=1))
    max_history: int = param(200, integer(low=1))
    half_life_days: float | None = param(90.0, number(low=0, low_open=True, none=True))
    newest_share: float = param(0.5, number(low=0, high=1, high_open=True))
    max_targets: int = param(5, integer(low=1))
    cart_share: float = param(0.3, number(low=0, high=1, high_open=True))
    target: str = param("all", one_of(*TARGETS))
    candidates: int = param(200, integer(low=1))
    id_dropout: float = param(0.0, number(low=0, high=1, high_open=True))
    max_validation: int = param(1000, integer(low=1))
    max_seconds: float | None = param(None, number(low=0, low_open=True, none=True))
    threads: int = param(1, integer(low=1))
    device: str = param("auto", one_of(*DEVICES))
    start: str = param("svd", one_of(*STARTS))
    seed: int = param(0, integer(low=0))
    quiet: bool = param(False, flag())

    weights_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    features_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    profiles_: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    rfm_: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), init=False, repr=False)
    rfm_scale_: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)), init=False, repr=False)
    #: Each epoch's training loss and validation metric.
    epochs_: list[dict[str, float]] = field(default_factory=list, init=False, repr=False)
    _net: Any = field(default=None, init=False, repr=False, compare=False)
    _item_vectors: Any = field(default=None, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ fit

    def _fit(self, data: ShopData) -> None:
        torch = torch_module()
        device = pick_device(self.device)
        rng = np.random.default_rng(self.seed)
        timeline = X.Timeline.of(data)
        (train_users, train_positions), (val_users, val_positions) = X.split_positions(
            timeline, self.max_targets, self.max_validation, rng
        )
        held = timeline.baskets[timeline.starts[val_users] + val_positions]
        n_carts = round(len(train_users) * self.cart_share / (1 - self.cart_share))
        if len(train_users) == 0:
            n_carts = max(n_carts, min(20_000, data.n_baskets))
        carts, cart_users, cart_positions = X.cart_positions(data, timeline, held, n_carts, rng)
        options: dict[str, Any] = {
            "half_life_days": self.half_life_days,
            "max_history": self.max_history,
            "newest_share": self.newest_share,
        }
        parts = []
        if len(train_users):
            parts.append(X.build_examples(data, timeline, train_users, train_positions, **options))
        if len(carts):
            parts.append(
                X.build_examples(
                    data, timeline, cart_users, cart_positions, carts=carts, rng=rng, **options
                )
            )
        if not parts:
            raise ValidationError(
                "neural: no training examples (it needs customers with two or more baskets, "
                "or baskets with two or more items)"
            )
        train = X.concat(parts)
        validation = X.build_examples(data, timeline, val_users, val_positions, **options)
        if self.target == "new":
            train = X.Examples(
                train.history,
                train.seen,
                train.cart,
                train.rfm,
                X.new_only(train.targets, train.seen),
            )
        mean, std = train.rfm.mean(axis=0), train.rfm.std(axis=0) + 1e-6
        self.rfm_scale_ = np.vstack([mean, std])
        features = ItemFeatures.of(data)
        sold = data.item_basket_count > 0
        self.features_ = {
            "categories": features.categories,
            "brands": features.brands,
            "bands": features.bands,
            "tokens": features.tokens,
            "known": sold.astype(np.float32),
        }
        # The SVD sees no validation basket, or validation would flatter the first epochs.
        unseen = np.ones(data.n_baskets, dtype=bool)
        unseen[held] = False
        start = (
            svd_item_vectors(data.subset_baskets(unseen), self.dim, self.seed)
            if self.start == "svd"
            else None
        )
        with seeded(self.seed, self.threads) as generator:
            net = self._build(torch, start).to(device)
            self._net, self._item_vectors = net, None
            optimiser = torch.optim.Adam(
                net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
            )
            popularity = data.item_basket_count.astype(np.float64) ** 0.75
            sampler = torch.as_tensor(popularity / popularity.sum(), dtype=torch.float32)
            log = train_epochs(
                net,
                lambda epoch, deadline: self._epoch(
                    torch, net, optimiser, train, sampler, generator, device, epoch, deadline
                ),
                lambda: self._validate(torch, net, validation, device),
                epochs=self.epochs,
                patience=self.patience,
                max_seconds=self.max_seconds,
                title="neural",
                metric_name="recall_new@10" if self.target == "new" else "recall@10",
                quiet=self.quiet,
            )
        self.epochs_ = [vars(e) for e in log]
        self.weights_ = weights_of(net)
        self._item_vectors = None  # cached by the last validation, before the best epoch came back
        asked = np.flatnonzero(timeline.counts > 0)
        reference = float(np.nanmax(timeline.days)) if np.isfinite(timeline.days).any() else 0.0
        profiles = X.build_examples(
            data, timeline, asked, timeline.counts[asked], reference_day=reference, **options
        )
        owners = sp.csr_matrix(
            (np.ones(len(asked)), (asked, np.arange(len(asked)))), shape=(data.n_users, len(asked))
        )
        self.profiles_ = sp.csr_matrix(owners @ profiles.history)
        self.rfm_ = np.zeros((data.n_users, len(X.RFM_FEATURES)))
        self.rfm_[asked] = profiles.rfm

    def _build(self, torch: Any, start: np.ndarray | None = None) -> Any:
        from xsell.models.deep.networks import ItemTower, NeuralNet

        f = self.features_
        tower = ItemTower(
            self.dim, f["categories"], f["brands"], f["bands"], f["tokens"], f["known"], start
        )
        return NeuralNet(tower, len(f["categories"]), self.dim, self.hidden, len(X.RFM_FEATURES))

    def _epoch(
        self,
        torch: Any,
        net: Any,
        optimiser: Any,
        train: X.Examples,
        sampler: Any,
        generator: Any,
        device: Any,
        epoch: int,
        deadline: float,
    ) -> float:
        """One pass over the examples: softmax loss of the towers plus BCE of the MLP."""
        from xsell.models.deep.networks import bag

        functional = torch.nn.functional
        n_items = train.targets.shape[1]
        full = n_items <= FULL_SOFTMAX_ITEMS
        log_q = torch.log(sampler.clamp(min=1e-12)).to(device)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(train))
        losses = []
        for start in range(0, len(order), self.batch_size):
            rows = np.sort(order[start : start + self.batch_size])
            targets = train.targets[rows]
            if targets.nnz == 0:
                continue
            user = net.users(
                bag(train.history[rows], device),
                bag(train.cart[rows], device),
                self._features(torch, train.rfm[rows], device),
            )
            owner_np = np.repeat(np.arange(len(rows)), np.diff(targets.indptr))
            owner = torch.as_tensor(owner_np, device=device)
            positives = torch.as_tensor(targets.indices.astype(np.int64), device=device)
            # Hidden id embeddings teach the features to carry an item (one draw per item).
            keep_all = (
                (torch.rand(n_items, generator=generator) >= self.id_dropout).float().to(device)
            )
            wanted = net.items(positives, keep_all[positives])
            # The towers: a softmax over every item (or over a popularity sample with the
            # log-q correction of Yi et al. 2019), each item to find against the rest.
            unit_user = functional.normalize(user, dim=1)
            scale = net.scale.exp().clamp(max=100.0)
            if full:
                every = torch.arange(n_items, device=device)
                pool_vectors = functional.normalize(net.items(every, keep_all), dim=1)
                pool_logits = unit_user @ pool_vectors.T * scale
                if self.target == "new":
                    seen = sp.csr_matrix(train.seen[rows])
                    seen_rows = np.repeat(np.arange(len(rows)), np.diff(seen.indptr))
                    pool_logits = pool_logits.index_put(
                        (
                            torch.as_tensor(seen_rows, device=device),
                            torch.as_tensor(seen.indices.astype(np.int64), device=device),
                        ),
                        torch.tensor(-1e4, device=device),
                    )
                positive_logit = pool_logits[owner, positives]
                tower = (torch.logsumexp(pool_logits, dim=1)[owner] - positive_logit).mean()
            else:
                positive_logit = (unit_user[owner] * functional.normalize(wanted, dim=1)).sum(
                    1
                ) * scale
                pool = torch.multinomial(
                    sampler, SAMPLED_ITEMS, replacement=True, generator=generator
                ).to(device)
                pool_vectors = functional.normalize(net.items(pool, keep_all[pool]), dim=1)
                pool_logits = unit_user @ pool_vectors.T * scale
                pool_logits = pool_logits - (log_q[pool] + np.log(SAMPLED_ITEMS))[None, :]
                pooled = torch.logsumexp(pool_logits, dim=1)[owner]
                tower = (torch.logaddexp(pooled, positive_logit) - positive_logit).mean()
            # The MLP: binary cross-entropy against negatives drawn half by popularity ** 0.75
            # and half from the towers' own softmax (the near misses it will rank).
            n_hard = self.negatives // 2
            easy = torch.multinomial(
                sampler,
                len(positives) * (self.negatives - n_hard),
                replacement=True,
                generator=generator,
            ).to(device)
            parts = [easy.view(len(positives), -1)]
            if n_hard:
                near = pool_logits.detach().clone()
                if full:
                    # An item to find is never drawn as its own row's negative.
                    near[owner, positives] = -torch.inf
                proposal = torch.softmax(near, dim=1)[owner]
                drawn = torch.multinomial(proposal, n_hard, replacement=True, generator=generator)
                parts.append(drawn if full else pool[drawn])
            negatives = torch.cat(parts, dim=1).reshape(-1)
            who = torch.cat([owner, owner.repeat_interleave(self.negatives)])
            logits = net.pair_logits(
                user[who], torch.cat([wanted, net.items(negatives, keep_all[negatives])])
            )
            labels = torch.cat(
                [
                    torch.ones(len(positives), device=device),
                    torch.zeros(len(negatives), device=device),
                ]
            )
            weight = torch.cat(
                [
                    torch.ones(len(positives), device=device),
                    torch.full((len(negatives),), 1.0 / self.negatives, device=device),
                ]
            )
            head = functional.binary_cross_entropy_with_logits(
                logits, labels, weight=weight, reduction="sum"
            ) / len(positives)
            loss = tower + head
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if time.perf_counter() >= deadline:
                break
        return float(np.mean(losses)) if losses else 0.0

    def _features(self, torch: Any, rfm: np.ndarray, device: Any) -> Any:
        scaled = (rfm - self.rfm_scale_[0]) / self.rfm_scale_[1]
        return torch.as_tensor(scaled.astype(np.float32), device=device)

    def _validate(self, torch: Any, net: Any, validation: X.Examples, device: Any) -> float:
        self._item_vectors = None
        truth_rows = (
            X.new_only(validation.targets, validation.seen)
            if self.target == "new"
            else validation.targets
        )
        scores = self._rank_scores(
            torch,
            net,
            validation.history,
            validation.cart,
            validation.rfm,
            validation.seen,
            device,
            np.ones(len(validation), dtype=bool),
        )
        truth = [
            truth_rows.indices[truth_rows.indptr[r] : truth_rows.indptr[r + 1]]
            for r in range(len(validation))
        ]
        blocked = (
            [
                validation.seen.indices[validation.seen.indptr[r] : validation.seen.indptr[r + 1]]
                for r in range(len(validation))
            ]
            if self.target == "new"
            else [np.zeros(0, np.int64)] * len(validation)
        )
        return recall_at(scores, truth, blocked, 10)

    # ------------------------------------------------------------------ score

    def _rank_scores(
        self,
        torch: Any,
        net: Any,
        history: sp.csr_matrix,
        cart: sp.csr_matrix,
        rfm: np.ndarray,
        own: sp.csr_matrix,
        device: Any,
        evidence: np.ndarray,
    ) -> sp.csr_matrix:
        """MLP scores of each row's candidates: the best new and best own items by cosine.

        Rows without ``evidence`` (no known customer, empty cart) get no candidates:
        the answer falls back to best sellers and says so.
        """
        from xsell.models.deep.networks import bag

        n_items = history.shape[1]
        if self._item_vectors is None:
            all_items = torch.arange(n_items, device=device)
            self._item_vectors = torch.cat(
                [net.items(all_items[s : s + 8192]) for s in range(0, n_items, 8192)]
            )
        vectors = self._item_vectors
        unit = torch.nn.functional.normalize(vectors, dim=1)
        parts = []
        for start in range(0, history.shape[0], _SCORE_ROWS):
            stop = min(history.shape[0], start + _SCORE_ROWS)
            user = net.users(
                bag(history[start:stop], device),
                bag(cart[start:stop], device),
                self._features(torch, rfm[start:stop], device),
            )
            cosine = (torch.nn.functional.normalize(user, dim=1) @ unit.T).cpu().numpy()
            mine = sp.csr_matrix(own[start:stop])
            in_cart = sp.csr_matrix(cart[start:stop])
            rows, cols = [], []
            for r in range(stop - start):
                if not evidence[start + r]:
                    continue
                owned = mine.indices[mine.indptr[r] : mine.indptr[r + 1]]
                carted = in_cart.indices[in_cart.indptr[r] : in_cart.indptr[r + 1]]
                row = cosine[r].astype(np.float64)
                free = row.copy()
                free[owned] = -np.inf
                free[carted] = -np.inf
                k = min(self.candidates, n_items - 1)
                new = np.argpartition(-free, k)[:k] if k > 0 else np.zeros(0, np.int64)
                new = new[np.isfinite(free[new])]
                if len(owned) > self.candidates:
                    owned = owned[np.argpartition(-row[owned], self.candidates)[: self.candidates]]
                picked = np.union1d(new, owned)
                rows.append(np.full(len(picked), r))
                cols.append(picked)
            row_idx = np.concatenate(rows) if rows else np.zeros(0, np.int64)
            col_idx = np.concatenate(cols) if cols else np.zeros(0, np.int64)
            logits = net.pair_logits(
                user[torch.as_tensor(row_idx, device=device)],
                vectors[torch.as_tensor(col_idx, device=device)],
            )
            parts.append(
                sp.csr_matrix(
                    (logits.cpu().numpy().astype(np.float64), (row_idx, col_idx)),
                    shape=(stop - start, n_items),
                )
            )
        out = sp.csr_matrix(sp.vstack(parts)) if parts else sp.csr_matrix((0, n_items))
        return out

    def _network(self) -> Any:
        torch = torch_module()
        if self._net is None:
            with seeded(self.seed, self.threads):
                net = self._build(torch)
            load_weights(net, self.weights_)
            self._net = net.to(pick_device(self.device))
            self._item_vectors = None
        return self._net

    def _score(self, baskets: sp.csr_matrix, users: np.ndarray | None) -> sp.csr_matrix:
        torch = torch_module()
        assert self.profiles_ is not None
        net = self._network()
        device = next(net.parameters()).device
        baskets = sp.csr_matrix(baskets, dtype=np.float64)
        n_users = self.profiles_.shape[0]
        who = np.full(baskets.shape[0], -1) if users is None else np.asarray(users, np.int64)
        who = np.where(who < n_users, who, -1)
        known = (who >= 0).astype(np.float64)
        mine = np.maximum(who, 0)
        history = sp.csr_matrix(sp.diags(known) @ self.profiles_[mine])
        own = self._own(mine, known, baskets.shape[1])
        cart = sp.csr_matrix(baskets - baskets.multiply(own))
        cart.eliminate_zeros()
        cart.data[:] = 1.0
        sizes = np.maximum(np.diff(cart.indptr), 1)
        cart = sp.csr_matrix(sp.diags(1.0 / sizes) @ cart)
        rfm = np.where(known[:, None] > 0, self.rfm_[mine], self.rfm_scale_[0][None, :])
        with seeded(self.seed, self.threads), torch.no_grad():
            evidence = (known > 0) | (np.diff(baskets.indptr) > 0)
            out = self._rank_scores(torch, net, history, cart, rfm, own, device, evidence)
        return out

    def _own(self, users: np.ndarray, known: np.ndarray, n_items: int) -> sp.csr_matrix:
        """Everything each known customer bought (binary), from the purchase history."""
        assert self.history_ is not None
        rows = sp.csr_matrix(self.history_[users][:, :n_items], dtype=np.float64)
        rows = sp.csr_matrix(sp.diags(known) @ rows)
        rows.eliminate_zeros()
        rows.data[:] = 1.0
        return rows

    def _reasons(self, context: Sequence[int], user: int, items: Sequence[int]) -> list[str]:
        self.require_fitted()
        bought = set(self.history_items(user).tolist())
        known = user >= 0 and self.profiles_ is not None and user < self.profiles_.shape[0]
        source = "your past orders" if known else "the cart"
        out = []
        for item in items:
            lead = "repeat: you bought it before; " if item in bought else ""
            out.append(f"{lead}predicted from {source} and the item's features (neural model)")
        return out

    # ------------------------------------------------------------------ bundle

    def _state(self) -> dict[str, Any]:
        return {
            "weights_": self.weights_,
            "features_": self.features_,
            "profiles_": self.profiles_,
            "rfm_": self.rfm_,
            "rfm_scale_": self.rfm_scale_,
            "epochs_": [dict(e) for e in self.epochs_],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._net, self._item_vectors = None, None
        # Built now, so weights that do not fit the network fail the load, naming the bundle.
        self._network()
