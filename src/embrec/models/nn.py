"""The exercise's network: user and item embeddings plus biases and a dot product (pure torch)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DotProductNet"]


class DotProductNet(nn.Module):
    """``logit(u, i) = b + b_u + b_i + p_u . q_i``.

    The module only holds parameters and computes logits; losses live in
    :mod:`embrec.models.losses` and the epoch loop in :mod:`embrec.models.training`.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, *, sparse: bool = False) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(n_users, dim, sparse=sparse)
        self.item_embedding = nn.Embedding(n_items, dim, sparse=sparse)
        self.user_bias = nn.Embedding(n_users, 1, sparse=sparse)
        self.item_bias = nn.Embedding(n_items, 1, sparse=sparse)
        # a dense scalar kept out of the sparse optimiser
        self.global_bias = nn.Parameter(torch.zeros(()), requires_grad=False)

    def reset_parameters(self, init_std: float, generator: torch.Generator, global_bias: float = 0.0) -> None:
        with torch.no_grad():
            for emb in (self.user_embedding, self.item_embedding):
                emb.weight.normal_(0.0, init_std, generator=generator)
            self.user_bias.weight.zero_()
            self.item_bias.weight.zero_()
            self.global_bias.fill_(global_bias)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of aligned (user, item) index pairs."""
        p = self.user_embedding(users)
        q = self.item_embedding(items)
        return (
            self.global_bias + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + (p * q).sum(-1)
        )
