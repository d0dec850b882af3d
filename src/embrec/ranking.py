"""Top-N for many users at once: batched scores, seen items masked, ``torch.topk``.

Scores come in chunks of users so memory stays bounded (``chunk_size x n_items`` floats at a
time); seen items are masked through the rows of a sparse matrix, never a dense one.

**Ties.** Items with equal scores come in a fixed, documented order: the lower item index
first, both in which tied items make the cut at rank ``n`` and in their order within the list.
``torch.topk`` alone leaves that order unspecified (it may differ between devices and versions),
and a popularity list ties often, so without a rule the same model could give a user other
films, and other metrics, on another machine. NaN scores count as ``-inf``: such items are never
recommended.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["ScoreFn", "top_n", "top_k_rows"]

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
    """The ``n`` best items for each user, equal scores in ascending item index.

    Args:
        score_fn: scores of all items for a batch of user indexes.
        users: user indexes (rows of ``seen``).
        n: list length.
        seen: users x items matrix whose non-zeros are excluded (``None``: exclude nothing).
        candidates: optional boolean mask over items; items outside it are never recommended.
        chunk_size: users scored at once.

    Returns:
        ``(items, scores)``, both ``(len(users), n)``, best first and ties by lower item index;
        where fewer than ``n`` items are left to recommend, rows are padded with item ``-1`` and
        score ``-inf``.
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
        vals, idx = top_k_rows(scores, k)
        vals_np = vals.cpu().numpy()
        idx_np = idx.cpu().numpy()
        idx_np[~np.isfinite(vals_np)] = -1
        out_items[start : start + len(batch), :k] = idx_np
        out_scores[start : start + len(batch), :k] = vals_np
    return out_items, out_scores


def top_k_rows(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest scores of each row and their column indexes, ties by lower column index.

    ``scores`` is a 2-D float tensor with at least ``k`` columns; rows holding NaN have it
    replaced by ``-inf`` in place. Returns ``(values, indexes)``, both ``(n_rows, k)``, in
    descending score and, among equal scores, ascending index: what a stable sort of each whole
    row by descending score gives, at the cost of one ``torch.topk`` and extra work only in the
    rows whose ties straddle rank ``k``.
    """
    if k == 0:
        return torch.topk(scores, 0, dim=1)
    # One more than asked shows, for free, whether the k-th score is shared past rank k.
    width = min(k + 1, scores.shape[1])
    vals, idx = torch.topk(scores, width, dim=1)
    bad = torch.nonzero(torch.isnan(vals).any(dim=1)).flatten()  # topk ranks NaN above everything
    if bad.numel():
        rows = scores[bad]
        rows.masked_fill_(torch.isnan(rows), -torch.inf)
        scores[bad] = rows
        vals[bad], idx[bad] = torch.topk(rows, width, dim=1)
    if width > k:
        straddle = torch.nonzero(vals[:, k] == vals[:, k - 1]).flatten()
        vals, idx = vals[:, :k], idx[:, :k]
        if straddle.numel():
            rows = scores[straddle]
            chosen = _lowest_tied(rows, vals[straddle, k - 1 :], k)
            idx[straddle] = chosen
            vals[straddle] = rows.gather(1, chosen)
    # Their order: ascending index first, then a stable sort by descending score.
    idx, by_index = torch.sort(idx, dim=1)
    vals = vals.gather(1, by_index)
    vals, by_score = torch.sort(vals, dim=1, descending=True, stable=True)
    return vals, idx.gather(1, by_score)


def _lowest_tied(scores: torch.Tensor, cut: torch.Tensor, k: int) -> torch.Tensor:
    """Column indexes (ascending) of each row's ``k`` best items: every item above ``cut`` (one
    score per row, the k-th best) and, of the items scoring exactly ``cut``, the lowest indexes."""
    n_rows, n_cols = scores.shape
    above_r, above_c = torch.nonzero(scores > cut, as_tuple=True)
    tied_r, tied_c = torch.nonzero(scores == cut, as_tuple=True)  # row-major: ascending column per row
    places = k - torch.bincount(above_r, minlength=n_rows)
    per_row = torch.bincount(tied_r, minlength=n_rows)
    first = torch.cumsum(per_row, dim=0) - per_row
    keep = torch.arange(tied_r.numel(), device=scores.device) - first[tied_r] < places[tied_r]
    rows = torch.cat([above_r, tied_r[keep]])
    cols = torch.cat([above_c, tied_c[keep]])
    key, _ = torch.sort(rows * n_cols + cols)
    return (key % n_cols).reshape(n_rows, k)
