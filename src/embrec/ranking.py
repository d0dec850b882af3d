"""Top-N for many users at once: batched scores, seen items masked, ``torch.topk``.

Scores come in chunks of users so memory stays bounded (``chunk_size x n_items`` floats at a
time); seen items are masked through the rows of a sparse matrix, never a dense one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["ScoreFn", "top_n"]

#: Maps a batch of user indexes to a ``(len(batch), n_items)`` tensor of scores (higher is better).
ScoreFn = Callable[[np.ndarray], torch.Tensor]


def top_n(
    score_fn: ScoreFn,
    users: np.ndarray,
    n: int,
    *,
    seen: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
    chunk_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best items for each user.

    Args:
        score_fn: scores of all items for a batch of user indexes.
        users: user indexes (rows of ``seen``).
        n: list length.
        seen: users x items matrix whose non-zeros are excluded (``None``: exclude nothing).
        candidates: optional boolean mask over items; items outside it are never recommended.
        chunk_size: users scored at once.

    Returns:
        ``(items, scores)``, both ``(len(users), n)``; where fewer than ``n`` items are left to
        recommend, rows are padded with item ``-1`` and score ``-inf``.
    """
    users = np.asarray(users, dtype=np.int64)
    out_items = np.full((len(users), n), -1, dtype=np.int64)
    out_scores = np.full((len(users), n), -np.inf, dtype=np.float32)
    for start in range(0, len(users), chunk_size):
        batch = users[start : start + chunk_size]
        scores = score_fn(batch).float()
        if candidates is not None:
            scores[:, torch.from_numpy(~np.asarray(candidates, dtype=bool)).to(scores.device)] = -torch.inf
        if seen is not None:
            sub = seen[batch]
            rows = np.repeat(np.arange(len(batch)), np.diff(sub.indptr))
            if len(rows):
                scores[
                    torch.from_numpy(rows).to(scores.device),
                    torch.from_numpy(sub.indices.astype(np.int64)).to(scores.device),
                ] = -torch.inf
        k = min(n, scores.shape[1])
        vals, idx = torch.topk(scores, k, dim=1)
        vals_np = vals.cpu().numpy()
        idx_np = idx.cpu().numpy()
        idx_np[~np.isfinite(vals_np)] = -1
        out_items[start : start + len(batch), :k] = idx_np
        out_scores[start : start + len(batch), :k] = vals_np
    return out_items, out_scores
