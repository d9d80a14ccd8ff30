"""The PyTorch networks of the deep models (imported only when one is fitted or loaded)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def bag(rows: sp.csr_matrix, device: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CSR rows as ``nn.EmbeddingBag`` inputs: (indices, offsets, per-sample weights)."""
    rows = sp.csr_matrix(rows)
    return (
        torch.as_tensor(rows.indices.astype(np.int64), device=device),
        torch.as_tensor(rows.indptr[:-1].astype(np.int64), device=device),
        torch.as_tensor(rows.data.astype(np.float32), device=device),
    )


class ItemTower(nn.Module):
    """An item's vector: its id embedding plus category, brand, price band and name tokens.

    The feature lookups are buffers (saved with the weights). ``known`` marks
    items seen sold in training; the others get no id embedding, so they are
    scored from their features alone.
    """

    category_of: torch.Tensor
    brand_of: torch.Tensor
    band_of: torch.Tensor
    tokens_of: torch.Tensor
    known: torch.Tensor

    def __init__(
        self,
        dim: int,
        categories: np.ndarray,
        brands: np.ndarray,
        bands: np.ndarray,
        tokens: np.ndarray,
        known: np.ndarray,
        start: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        n_items = len(categories)
        self.ids = nn.Embedding(n_items, dim)
        if start is None:
            nn.init.normal_(self.ids.weight, std=0.05)
        else:
            with torch.no_grad():
                self.ids.weight.copy_(torch.as_tensor(start, dtype=torch.float32))
        self.categories = nn.Embedding(int(categories.max(initial=0)) + 1, dim, padding_idx=0)
        self.brands = nn.Embedding(int(brands.max(initial=0)) + 1, dim, padding_idx=0)
        self.bands = nn.Embedding(int(bands.max(initial=0)) + 1, dim, padding_idx=0)
        self.tokens = nn.Embedding(int(tokens.max(initial=0)) + 1, dim, padding_idx=0)
        for table in (self.categories, self.brands, self.bands, self.tokens):
            nn.init.normal_(table.weight, std=0.05)
            with torch.no_grad():
                table.weight[0].zero_()
        # A residual map that starts at zero: at first an item is its id and feature embeddings.
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("category_of", torch.as_tensor(categories, dtype=torch.long))
        self.register_buffer("brand_of", torch.as_tensor(brands, dtype=torch.long))
        self.register_buffer("band_of", torch.as_tensor(bands, dtype=torch.long))
        self.register_buffer("tokens_of", torch.as_tensor(tokens, dtype=torch.long))
        self.register_buffer("known", torch.as_tensor(known, dtype=torch.float32))

    def forward(self, items: torch.Tensor, id_keep: torch.Tensor | None = None) -> torch.Tensor:
        keep = self.known[items] if id_keep is None else self.known[items] * id_keep
        tokens = self.tokens_of[items]
        count = (tokens > 0).sum(dim=1, keepdim=True).clamp(min=1)
        x = (
            self.ids(items) * keep[:, None]
            + self.categories(self.category_of[items])
            + self.brands(self.brand_of[items])
            + self.bands(self.band_of[items])
            + self.tokens(tokens).sum(dim=1) / count
        )
        out: torch.Tensor = x + self.out(x)
        return out


class UserTower(nn.Module):
    """A customer's vector from their decayed purchases, the cart and their RFM features.

    The purchases and the cart are bags over the item tower's id embeddings, so
    what a customer bought and what is suggested live in one space from the start.
    """

    def __init__(self, ids: nn.Embedding, dim: int, n_features: int) -> None:
        super().__init__()
        self.ids = ids
        self.mlp = nn.Sequential(
            nn.Linear(2 * dim + n_features, dim), nn.ReLU(), nn.Linear(dim, dim)
        )
        # Residual on the purchases and the cart, the MLP's output starting at zero: at first a
        # customer is the mean of what they bought (where collaborative filtering would start).
        last = self.mlp[2]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(
        self,
        history: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        cart: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        features: torch.Tensor,
    ) -> torch.Tensor:
        weight = self.ids.weight
        h = nn.functional.embedding_bag(
            history[0], weight, history[1], mode="sum", per_sample_weights=history[2]
        )
        c = nn.functional.embedding_bag(
            cart[0], weight, cart[1], mode="sum", per_sample_weights=cart[2]
        )
        out: torch.Tensor = h + c + self.mlp(torch.cat([h, c, features], dim=1))
        return out


class NeuralNet(nn.Module):
    """Customer tower, item tower, and an MLP over ``[u; i; u * i; cos(u, i)]``."""

    def __init__(
        self, item_tower: ItemTower, n_items: int, dim: int, hidden: int, n_features: int
    ) -> None:
        super().__init__()
        self.items = item_tower
        self.users = UserTower(item_tower.ids, dim, n_features)
        self.head = nn.Sequential(nn.Linear(3 * dim + 1, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        # The MLP adds to the towers' scaled cosine and starts at zero: at first the pair's
        # logit is the towers' own, and the MLP learns what the cosine misses.
        out = self.head[2]
        assert isinstance(out, nn.Linear)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        #: log of the towers' softmax scale on the cosine (learned, from 1 / 0.07 as in CLIP).
        self.scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        #: log of the cosine's weight in the pair logit; it starts lower than the softmax's,
        #: or the first BCE steps would be so sure (and wrong) that they tear the towers apart.
        self.pair_scale = nn.Parameter(torch.tensor(float(np.log(5.0))))

    def pair_logits(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        """Logits of aligned (user vector, item vector) rows: scaled cosine + MLP."""
        cos = nn.functional.cosine_similarity(user, item, dim=1, eps=1e-8)[:, None]
        out: torch.Tensor = self.head(torch.cat([user, item, user * item, cos], dim=1))
        scale = self.pair_scale.exp().clamp(max=100.0)
        return (out + scale * cos).squeeze(1)


class SequenceNet(nn.Module):
    """A causal Transformer over baskets (SASRec-style), each basket the mean of its items.

    Position ``t`` reads baskets ``0..t`` (each: mean item embedding + the
    embedding of the gap since the previous basket + a position embedding) and
    its output, dotted with the output item embeddings (plus an item bias),
    scores basket ``t + 1``.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        heads: int,
        layers: int,
        max_len: int,
        n_gaps: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.item.weight, std=0.05)
        # Items read (input) and items predicted (output) have their own embeddings, so
        # that "b follows a" need not mean "a follows b".
        self.output = nn.Embedding(n_items, dim)
        with torch.no_grad():
            self.output.weight.copy_(self.item.weight)
        self.bias = nn.Parameter(torch.zeros(n_items))
        self.gap = nn.Embedding(n_gaps, dim)
        self.position = nn.Embedding(max_len, dim)
        #: Marks the newest cell as an unfinished basket (a cart) rather than a whole one.
        self.cart = nn.Embedding(2, dim)
        # Small, so that at first a basket is what its items are.
        for table in (self.gap, self.position, self.cart):
            nn.init.normal_(table.weight, std=0.01)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        # Each layer starts as the identity (its output projections at zero, as in ReZero /
        # Fixup): at first a sequence's state is its newest basket, and attention learns
        # what earlier baskets add.
        for block in self.encoder.layers:
            assert isinstance(block, nn.TransformerEncoderLayer)
            for linear in (block.self_attn.out_proj, block.linear2):
                nn.init.zeros_(linear.weight)
                nn.init.zeros_(linear.bias)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.max_len = max_len

    def forward(
        self,
        baskets: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        gaps: torch.Tensor,
        lengths: torch.Tensor,
        flags: torch.Tensor,
    ) -> torch.Tensor:
        """Hidden states ``batch x max_len x dim``; sequences are right-aligned (padding first).

        ``baskets`` is a bag over every (sequence, slot) cell in row-major order
        (empty bags for padding), ``gaps`` the gap bucket of each cell,
        ``lengths`` each sequence's number of baskets and ``flags`` 1 where a
        cell is a cart.
        """
        batch = gaps.shape[0]
        mean = nn.functional.embedding_bag(
            baskets[0], self.item.weight, baskets[1], mode="sum", per_sample_weights=baskets[2]
        ).view(batch, self.max_len, -1)
        slots = torch.arange(self.max_len, device=gaps.device)
        x = mean + self.gap(gaps) + self.position(slots)[None, :, :] + self.cart(flags)
        padding = slots[None, :] < (self.max_len - lengths)[:, None]
        causal = torch.triu(
            torch.ones(self.max_len, self.max_len, dtype=torch.bool, device=gaps.device), 1
        )
        # A fully masked row (padding) would give NaN: padding cells may read themselves.
        blocked = causal[None, :, :] | padding[:, None, :]
        blocked = blocked & ~torch.eye(self.max_len, dtype=torch.bool, device=gaps.device)[None]
        mask = blocked.repeat_interleave(self.encoder.layers[0].self_attn.num_heads, dim=0)
        out: torch.Tensor = self.norm(self.encoder(self.dropout(x), mask=mask))
        return out

    def logits(self, hidden: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of ``items`` (all when ``None``) for each hidden state row."""
        if items is None:
            return hidden @ self.output.weight.T + self.bias
        return hidden @ self.output.weight[items].T + self.bias[items]
