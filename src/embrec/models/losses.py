"""Losses as pure tensor functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["l2_rows", "rating_mse", "softmax_loss"]


def rating_mse(logits: torch.Tensor, scaled_ratings: torch.Tensor) -> torch.Tensor:
    """Mean squared error of ``sigmoid(logits)`` against ratings min-max scaled to [0, 1]."""
    return F.mse_loss(torch.sigmoid(logits), scaled_ratings)


def softmax_loss(user_vectors: torch.Tensor, item_vectors: torch.Tensor, item_bias: torch.Tensor,
                 targets: torch.Tensor, *, candidates: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each row's target among the given item vectors.

    Full softmax: ``item_vectors`` are all items and ``targets`` item indexes. Sampled softmax:
    ``item_vectors`` are the vectors of ``candidates`` (the batch's positives, then shared
    sampled negatives) and ``targets`` the positions of each row's own positive; a candidate
    equal to a row's positive elsewhere in the list is masked so it does not count against it.
    """
    logits = user_vectors @ item_vectors.T + item_bias
    if candidates is not None:
        positives = candidates[targets]
        clash = candidates.unsqueeze(0) == positives.unsqueeze(1)
        clash[torch.arange(len(targets), device=logits.device), targets] = False
        logits = logits.masked_fill(clash, -torch.inf)
    return F.cross_entropy(logits, targets)


def l2_rows(*tensors: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the summed squares of each row (the per-example L2 penalty)."""
    total = tensors[0].pow(2).reshape(len(tensors[0]), -1).sum(-1)
    for t in tensors[1:]:
        total = total + t.pow(2).reshape(len(t), -1).sum(-1)
    return total.mean()
