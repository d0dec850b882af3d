"""Losses as pure tensor functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["l2_rows", "multinomial_loss", "rating_mse"]


def rating_mse(logits: torch.Tensor, scaled_ratings: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``sigmoid(logits)`` against ratings min-max scaled to [0, 1]."""
    return F.mse_loss(torch.sigmoid(logits), scaled_ratings)


def l2_rows(*tensors: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the summed squares of each row (the per-example L2 penalty)."""
    total = tensors[0].pow(2).reshape(len(tensors[0]), -1).sum(-1)
    for t in tensors[1:]:
        total = total + t.pow(2).reshape(len(t), -1).sum(-1)
    return total.mean()


def multinomial_loss(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted softmax cross-entropy of each row's target items, summed, and the total weight.

    ``sum_u [ -sum_i w_ui s_ui + (sum_i w_ui) logsumexp_j s_uj ]``: the same as one
    cross-entropy term per (user, item) pair, computed with one row of logits per user.
    """
    weight = targets.sum()
    summed = -(targets * logits).sum() + (targets.sum(1) * torch.logsumexp(logits, dim=1)).sum()
    return summed, weight
