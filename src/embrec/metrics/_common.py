"""What every metric module shares: the checks of lists, truth and per-item values, and chunking.

The checks enforce the conventions described in :mod:`embrec.metrics.ranking` and
``docs/metrics.md``. :func:`relevant_items` and :func:`mean_over_users` are public, exported by
:mod:`embrec.metrics.ranking`; everything else here is private to the package.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from embrec.errors import ConfigError, DataError

__all__ = ["relevant_items", "mean_over_users"]

FloatArray = NDArray[np.float64]

# Largest intermediate array, in elements, that one chunk may build (32 MiB of float64).
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- chunking
def _rows_per_chunk(cost_per_row: int) -> int:
    """How many rows (users, or history pairs) one chunk may take at ``cost_per_row`` elements each."""
    return max(1, _CHUNK_ELEMENTS // max(cost_per_row, 1))


def _chunks(n: int, cost_per_row: int) -> Iterator[slice]:
    step = _rows_per_chunk(cost_per_row)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


# --------------------------------------------------------------------------- recommendation lists
def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer (the list cut-off), got {k!r}; pass for example k=10.")
    return int(k)


def _check_recs(recs: ArrayLike, n_items: int | None, *, k: int | None = None) -> NDArray[np.int64]:
    """Validate recommendation lists and return them as ``int64`` of width exactly ``k``.

    ``n_items=None`` skips the upper bound check (for metrics that know no catalogue size).
    """
    arr = np.asarray(recs)
    if arr.ndim != 2:
        raise DataError(
            f"recs must be a 2-D array (n_users, k) of item indexes, got shape {arr.shape}; "
            "wrap a single list as recs[None, :]."
        )
    if arr.dtype.kind not in "iu":
        raise DataError(
            f"recs must hold integer item indexes (padding -1), got dtype {arr.dtype}; "
            "convert with recs.astype(np.int64) after replacing missing entries by -1."
        )
    arr = _cut(arr.astype(np.int64, copy=False), k)
    if arr.shape[1] == 0:
        raise DataError("recs has no columns (k = 0); give lists of at least one item, or pass k >= 1.")
    _check_indexes(arr, n_items)
    _check_padding(arr)
    _check_distinct(arr)
    return arr


def _cut(arr: NDArray[np.int64], k: int | None) -> NDArray[np.int64]:
    """The first ``k`` columns of ``arr``, padded with ``-1`` where it is narrower."""
    if k is None:
        return arr
    k = _check_k(k)
    if k <= arr.shape[1]:
        return arr[:, :k]
    pad = np.full((arr.shape[0], k - arr.shape[1]), -1, dtype=np.int64)
    return np.concatenate([arr, pad], axis=1)


def _check_indexes(arr: NDArray[np.int64], n_items: int | None) -> None:
    bad = arr < -1
    if n_items is not None:
        bad |= arr >= n_items
    if bad.any():
        u, j = (int(x[0]) for x in np.nonzero(bad))
        allowed = f"0..{n_items - 1}" if n_items is not None else "0 or more"
        raise DataError(
            f"recs[{u}, {j}] = {int(arr[u, j])} is not an item index ({int(bad.sum()):,} bad entries); "
            f"allowed are item indexes {allowed} and -1 for padding."
        )


def _check_padding(arr: NDArray[np.int64]) -> None:
    valid = arr >= 0
    gap = valid[:, 1:] & ~valid[:, :-1]
    if gap.any():
        u = int(np.nonzero(gap.any(axis=1))[0][0])
        raise DataError(
            f"recs row {u} has an item after -1 padding ({arr[u].tolist()}); "
            "padding must come after the last recommended item."
        )


def _check_distinct(arr: NDArray[np.int64]) -> None:
    srt = np.sort(arr, axis=1)
    dup = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    if dup.any():
        u = int(np.nonzero(dup.any(axis=1))[0][0])
        item = int(srt[u, 1:][dup[u]][0])
        raise DataError(
            f"recs row {u} lists item {item} more than once; each item may appear once per list "
            "(deduplicate the recommender's output)."
        )


# --------------------------------------------------------------------------- truth and relevance
def _canonical_csr(matrix: Any, *, name: str) -> sp.csr_matrix:
    """A sorted, duplicate-free CSR copy of a sparse matrix; duplicated entries are an error."""
    if not sp.issparse(matrix):
        raise DataError(
            f"{name} must be a scipy sparse matrix (n_users x n_items), got {type(matrix).__name__}; "
            "build one with scipy.sparse.csr_matrix((values, (user_idx, item_idx)), shape=...)."
        )
    out = sp.csr_matrix(matrix, copy=True)
    if out.dtype.kind == "f" and not np.all(np.isfinite(out.data)):
        raise DataError(
            f"{name} holds {int((~np.isfinite(out.data)).sum()):,} NaN or infinite values; drop them first."
        )
    if not out.has_sorted_indices:
        out.sort_indices()
    same = (out.indices[1:] == out.indices[:-1]) & (np.diff(_row_of_entries(out)) == 0)
    if same.any():
        at = int(np.nonzero(same)[0][0]) + 1
        row = int(_row_of_entries(out)[at])
        raise DataError(
            f"{name} stores ({row}, {int(out.indices[at])}) more than once ({int(same.sum()):,} duplicates); "
            "build it from de-duplicated (user, item) pairs."
        )
    return out


def _row_of_entries(m: sp.csr_matrix) -> NDArray[np.int64]:
    return np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))


def relevant_items(truth: Any, *, threshold: float | None = None) -> sp.csr_matrix:
    """The boolean relevance matrix ``rel[u, i]`` from test ratings or relevance.

    ``rel[u, i] = truth[u, i] >= threshold`` for stored entries; with ``threshold=None`` every
    stored non-zero entry is relevant (implicit feedback); a boolean ``truth`` is used as given.

    Args:
        truth: scipy sparse ``(n_users, n_items)`` of test ratings, ones, or booleans.
        threshold: lowest relevant rating, for example ``4.0`` on a 1-5 star scale.

    Returns:
        A canonical boolean CSR matrix of the same shape holding only the relevant entries.
    """
    t = _canonical_csr(truth, name="truth")
    if t.dtype == np.bool_:
        if threshold is not None:
            raise ConfigError(
                f"threshold={threshold!r} was given but truth is already boolean relevance; "
                "drop threshold, or pass the ratings matrix instead."
            )
        keep = t.data.copy()
    elif threshold is not None:
        if not np.isfinite(threshold):
            raise ConfigError(f"threshold must be a finite rating, got {threshold!r}; pass for example 4.0.")
        keep = t.data >= threshold
    else:
        keep = t.data != 0
    rows = _row_of_entries(t)[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=t.shape[0]))])
    return sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.bool_), t.indices[keep], indptr), shape=t.shape)


def _hits(recs: NDArray[np.int64], rel: sp.csr_matrix) -> NDArray[np.bool_]:
    """``hits[u, j] = rel[u, recs[u, j]]`` (padding is never a hit)."""
    # rel is canonical, so (row, column) keys are sorted and one searchsorted finds every hit.
    n_users, n_items = rel.shape
    keys = _row_of_entries(rel) * n_items + rel.indices.astype(np.int64)
    valid = recs >= 0
    query = (np.arange(n_users, dtype=np.int64)[:, None] * n_items + recs)[valid]
    pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    found = keys[pos] == query if len(keys) else np.zeros(len(query), dtype=np.bool_)
    out = np.zeros(recs.shape, dtype=np.bool_)
    out[valid] = found
    return out


# --------------------------------------------------------------------------- per-user and per-item values
def mean_over_users(values: ArrayLike) -> float:
    """Mean of per-user values ignoring NaN (users for whom the metric is undefined).

    Returns NaN, without a warning, when no user has a value.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"per-user values must be a 1-D array, got shape {arr.shape}.")
    defined = arr[~np.isnan(arr)]
    return float(defined.mean()) if defined.size else float("nan")


def _per_item(values: ArrayLike, *, name: str, allow_nan: bool = False) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array with one value per item index, got shape {arr.shape}.")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{name}[{int(np.nonzero(bad)[0][0])}] is {arr[bad][0]}; give a finite value for every item.")
    return arr


def _gather(recs: NDArray[np.int64], values: FloatArray) -> FloatArray:
    """The per-item ``values`` of each listed item (padding reads item 0: mask it)."""
    return values[np.where(recs >= 0, recs, 0)]


def _list_mean(recs: NDArray[np.int64], values: FloatArray) -> FloatArray:
    """Mean of a per-item value over each list, skipping padding and NaN values."""
    v = _gather(recs, values)
    use = (recs >= 0) & ~np.isnan(v)
    n = use.sum(axis=1)
    total = np.where(use, v, 0.0).sum(axis=1)
    return _ratio(total, n)


def _log_discounts(k: int) -> FloatArray:
    """``1 / log2(j + 1)`` for the ranks ``j = 1..k``."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _ratio(num: ArrayLike, den: ArrayLike) -> FloatArray:
    """``num / den`` where ``den > 0``, NaN elsewhere (an undefined per-user value)."""
    num_arr = np.asarray(num, dtype=np.float64)
    den_arr = np.asarray(den, dtype=np.float64)
    out = np.full(num_arr.shape, np.nan)
    ok = den_arr > 0
    out[ok] = num_arr[ok] / den_arr[ok]
    return out
