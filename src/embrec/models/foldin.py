"""Fold a new user into a trained model from a few (item, rating) pairs, without retraining.

The item vectors and biases stay fixed; only the new user's vector (and bias) is solved for,
under the same loss and L2 penalty the model was trained with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["fold_in_rating", "fold_in_ranking"]


def _lbfgs(params: list[torch.Tensor], closure_loss: Callable[[], torch.Tensor], steps: int) -> None:
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, line_search_fn="strong_wolfe", tolerance_grad=1e-7)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    opt.step(closure)


def fold_in_rating(
    item_vectors: torch.Tensor,
    item_bias: torch.Tensor,
    global_bias: float,
    scaled_ratings: torch.Tensor,
    *,
    weight_decay: float,
    bias_weight_decay: float,
    steps: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """User vector and bias minimising the rating objective over the given items.

    ``sum_i (sigmoid(b + b_u + b_i + p . q_i) - r_i)^2 + n (wd |p|^2 + bwd b_u^2)``, the
    per-row penalty of training summed over the user's rows (a small floor keeps it well posed).
    """
    dim = item_vectors.shape[1]
    p = torch.zeros(dim, dtype=torch.float32, requires_grad=True)
    b = torch.zeros((), dtype=torch.float32, requires_grad=True)
    wd = max(weight_decay, 1e-4)
    bwd = max(bias_weight_decay, 1e-4)

    def loss() -> torch.Tensor:
        pred = torch.sigmoid(global_bias + b + item_bias + item_vectors @ p)
        return ((pred - scaled_ratings) ** 2).mean() + wd * p.pow(2).sum() + bwd * b.pow(2)

    # start away from zero so the gradient reaches p through the dot product
    with torch.no_grad():
        p.copy_(0.01 * (item_vectors * (scaled_ratings - scaled_ratings.mean()).unsqueeze(1)).sum(0))
    _lbfgs([p, b], loss, steps)
    return p.detach(), b.detach()


def fold_in_ranking(
    all_item_vectors: torch.Tensor,
    all_item_bias: torch.Tensor,
    items: torch.Tensor,
    weights: torch.Tensor,
    *,
    prior_variance: float,
    steps: int = 100,
) -> torch.Tensor:
    """User vector maximising the weighted softmax likelihood of the user's items.

    ``-sum_i w_i log softmax(Q p + b)_i + |p|^2 / (2 prior_variance)``: the training loss of
    that user's rows under a Gaussian prior whose variance is the one of the trained user
    vectors (decoupled weight decay has no per-user penalty to reuse, so the prior is read off
    the vectors it produced).
    """
    dim = all_item_vectors.shape[1]
    p = torch.zeros(dim, dtype=torch.float32, requires_grad=True)
    precision = 1.0 / (2.0 * max(prior_variance, 1e-8))

    def loss() -> torch.Tensor:
        logp = torch.log_softmax(all_item_vectors @ p + all_item_bias, dim=0)
        return -(weights * logp[items]).sum() + precision * p.pow(2).sum()

    _lbfgs([p], loss, steps)
    return p.detach()
