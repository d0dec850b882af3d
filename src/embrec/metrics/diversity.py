"""Distance-based metrics: intra-list diversity and serendipity.

Items are compared by the cosine distance of their embeddings, ``1 - cos(e_a, e_b)`` in [0, 2],
or by the Jaccard distance of binary genre vectors, ``1 - |G_a ∩ G_b| / |G_a ∪ G_b|`` in [0, 1].
A zero embedding has cosine similarity 0 to every item (as in sklearn's ``cosine_similarity``);
two items without any genre count as identical (distance 0, as in scipy's ``jaccard``).

* :func:`intra_list_diversity`, the standard measure: the mean distance over the pairs of listed
  items; :func:`exercise_diversity` reproduces the university exercise's scaled variant.
* :func:`serendipity`: the share of the list that is relevant and far from everything the user
  rated in training.

Conventions as in :mod:`embrec.metrics.ranking` (``recs`` padded with ``-1``, one float per user,
NaN where undefined). Work is done in chunks of users (or of history pairs) so memory stays
bounded for large ``k``, wide item vectors or long histories.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from embrec.errors import ConfigError, DataError
from embrec.metrics._common import (
    FloatArray,
    _canonical_csr,
    _check_recs,
    _chunks,
    _hits,
    _ratio,
    _rows_per_chunk,
    relevant_items,
)

__all__ = ["DistanceMetric", "intra_list_diversity", "exercise_diversity", "serendipity"]

DistanceMetric = Literal["cosine", "jaccard"]
"""How two item vectors are compared: ``"cosine"`` (embeddings) or ``"jaccard"`` (binary genre vectors)."""

_METRICS = ("cosine", "jaccard")


def _check_metric(metric: Any) -> str:
    if metric not in _METRICS:
        raise ConfigError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}.")
    return str(metric)


def _item_matrix(item_vectors: Any, metric: str) -> FloatArray:
    """Item vectors as dense float64 rows, unit length for cosine, checked 0/1 for Jaccard."""
    raw = item_vectors.toarray() if sp.issparse(item_vectors) else item_vectors
    x = np.asarray(raw, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(
            f"item_vectors must be a 2-D array (n_items, n_features), got shape {x.shape}; "
            "pass the item embedding matrix or the binary item x genre matrix."
        )
    if not np.all(np.isfinite(x)):
        raise DataError(
            f"item_vectors holds {int((~np.isfinite(x)).sum()):,} NaN or infinite values; fix the embeddings first."
        )
    if metric == "jaccard":
        if not np.all((x == 0) | (x == 1)):
            raise DataError(
                "metric='jaccard' needs binary item vectors (0/1, such as an item x genre matrix); "
                "use metric='cosine' for real-valued embeddings."
            )
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _distance(inner: FloatArray, size_a: FloatArray, size_b: FloatArray, metric: str) -> FloatArray:
    """Distance from the inner products of unit (cosine) or 0/1 (Jaccard) vectors and their sizes."""
    if metric == "cosine":
        return 1.0 - inner
    union = size_a + size_b - inner
    return 1.0 - np.divide(inner, union, out=np.ones_like(inner), where=union > 0)


def _list_distances(x: FloatArray, recs: NDArray[np.int64], metric: str, *, clip: bool = True) -> FloatArray:
    """Distances between the items of each list, shape ``(n_lists, k, k)`` (padding rows are junk).

    ``clip`` keeps cosine distances in [0, 2] against rounding.
    """
    v = x[np.where(recs >= 0, recs, 0)]
    size = v.sum(axis=2)
    dist = _distance(v @ v.transpose(0, 2, 1), size[:, :, None], size[:, None, :], metric)
    return np.clip(dist, 0.0, 2.0) if clip and metric == "cosine" else dist


def _paired_distances(x: FloatArray, a: NDArray[np.int64], b: NDArray[np.int64], metric: str) -> FloatArray:
    """Distance between items ``a[j]`` and ``b[j]`` for each ``j``."""
    va, vb = x[a], x[b]
    dist = _distance(np.einsum("ij,ij->i", va, vb), va.sum(axis=1), vb.sum(axis=1), metric)
    return np.clip(dist, 0.0, 2.0) if metric == "cosine" else dist


# --------------------------------------------------------------------------- diversity
def intra_list_diversity(
    recs: ArrayLike, item_vectors: Any, *, metric: DistanceMetric = "cosine", k: int | None = None
) -> FloatArray:
    """Intra-list diversity per user: the mean distance over the pairs of items in the list.

    ``ILD(u) = (2 / (m (m - 1))) sum_{j < l} d(L_u[j], L_u[l])`` over the ``m(m-1)/2`` pairs of the
    ``m`` listed items, with ``d(a, b) = 1 - cos(e_a, e_b)`` (in [0, 2]) for embeddings or the
    Jaccard distance ``1 - |G_a ∩ G_b| / |G_a ∪ G_b|`` (in [0, 1]) for binary genre vectors.

    This is the standard measure; see ``docs/metrics.md`` for why it is preferred over the
    exercise's scaled variant (:func:`exercise_diversity`).

    References: Smyth & McClave, "Similarity vs. Diversity", ICCBR 2001; Ziegler, McNee, Konstan
    & Lausen, "Improving recommendation lists through topic diversification", WWW 2005.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_vectors: ``(n_items, n_features)`` array or sparse matrix: embeddings, or 0/1 genres.
        metric: ``"cosine"`` or ``"jaccard"``. A zero embedding has cosine similarity 0 to all.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users``; NaN for lists with fewer than two items.
    """
    metric_name = _check_metric(metric)
    x = _item_matrix(item_vectors, metric_name)
    arr = _check_recs(recs, x.shape[0], k=k)
    n_users, width = arr.shape
    upper = np.triu(np.ones((width, width), dtype=np.bool_), 1)
    total = np.zeros(n_users)
    for rows in _chunks(n_users, width * max(width, x.shape[1])):
        chunk = arr[rows]
        valid = chunk >= 0
        pairs = valid[:, :, None] & valid[:, None, :] & upper
        total[rows] = np.where(pairs, _list_distances(x, chunk, metric_name), 0.0).sum(axis=(1, 2))
    m = (arr >= 0).sum(axis=1)
    return _ratio(total, m * (m - 1) / 2.0)  # NaN below two items, where there is no pair


def exercise_diversity(recs: ArrayLike, item_vectors: Any, *, k: int | None = None) -> FloatArray:
    """The university exercise's diversity, reproduced for comparison (not recommended).

    For each list of ``m`` items: ``D = 1 - S`` with ``S`` the ``m x m`` cosine similarity matrix
    of their embeddings; each *column* of ``D`` min-max scaled to [0, 1] as sklearn's
    ``MinMaxScaler().fit_transform(D)`` does (a constant column becomes 0); the value is the mean
    of all ``m^2`` entries, diagonal included. The exercise reported 0.63 on MovieLens small.

    Because every column holds its own 0 (the diagonal) and its own 1, the value is confined to
    about [1/m, (m-1)/m], ignores the scale of the distances, and is not comparable across lists,
    ``k`` or models; prefer :func:`intra_list_diversity` (see ``docs/metrics.md``).

    Reference: the exercise notebook (assessed assignment 2, task 1); sklearn
    ``MinMaxScaler`` (scikit-learn, Pedregosa et al., JMLR 12, 2011).

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_vectors: ``(n_items, embedding_dim)`` item embeddings.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users``; NaN for lists with fewer than two items.
    """
    x = _item_matrix(item_vectors, "cosine")
    arr = _check_recs(recs, x.shape[0], k=k)
    n_users, width = arr.shape
    total = np.zeros(n_users)
    for rows in _chunks(n_users, width * max(width, x.shape[1])):
        chunk = arr[rows]
        total[rows] = _column_scaled_total(_list_distances(x, chunk, "cosine", clip=False), chunk >= 0)
    m = (arr >= 0).sum(axis=1)
    out = np.full(n_users, np.nan)
    ok = m >= 2
    out[ok] = total[ok] / (m[ok].astype(np.float64) ** 2)
    return out


def _column_scaled_total(dist: FloatArray, valid: NDArray[np.bool_]) -> FloatArray:
    """Per list, the sum of the distance matrix after ``MinMaxScaler`` scaled each of its columns."""
    sample = valid[:, :, None]  # MinMaxScaler fits each column over the rows (samples)
    col_min = np.where(sample, dist, np.inf).min(axis=1)
    col_max = np.where(sample, dist, -np.inf).max(axis=1)
    empty = ~valid.any(axis=1)
    col_min[empty] = 0.0
    col_max[empty] = 0.0
    span = col_max - col_min
    span[span < 10 * np.finfo(np.float64).eps] = 1.0  # a constant column scales to 0, as in sklearn
    scaled = (dist - col_min[:, None, :]) / span[:, None, :]
    cells = valid[:, :, None] & valid[:, None, :]
    return np.where(cells, scaled, 0.0).sum(axis=(1, 2))


# --------------------------------------------------------------------------- serendipity
def serendipity(
    recs: ArrayLike,
    truth: Any,
    history: Any,
    item_vectors: Any,
    *,
    min_distance: float,
    threshold: float | None = None,
    metric: DistanceMetric = "cosine",
    k: int | None = None,
) -> FloatArray:
    """Serendipity@k per user: the share of the top k that is both relevant and unexpected.

    ``SER@k(u) = |{i in L_u^k : i in R_u and min_{h in H_u} d(i, h) >= min_distance}| / k``, where
    ``R_u`` are the relevant test items, ``H_u`` the user's training items and ``d`` the cosine or
    Jaccard distance of item vectors. An item is unexpected when it is unlike *everything* the user
    rated before; a user with no history finds every item unexpected.

    References: Ge, Delgado-Battenfeld & Jannach, "Beyond accuracy: evaluating recommender systems
    by coverage and serendipity", RecSys 2010 (serendipity = unexpected and useful, over the list
    length); Kaminskas & Bridge, "Diversity, serendipity, novelty, and coverage", ACM TiiS 7(1),
    2016 (unexpectedness as distance from the user profile).

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        truth: sparse ``(n_users, n_items)`` test ratings or boolean relevance.
        history: sparse ``(n_users, n_items)`` training interactions (stored non-zero = seen).
        item_vectors: ``(n_items, n_features)`` embeddings, or 0/1 genres with ``metric="jaccard"``.
        min_distance: smallest distance to the history that counts as unexpected, for example
            0.5 for cosine distance of embeddings.
        threshold: lowest relevant rating (``None``: every stored entry of ``truth`` is relevant).
        metric: ``"cosine"`` or ``"jaccard"``.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users`` in [0, 1]; NaN for users with no relevant item.
    """
    metric_name = _check_metric(metric)
    if not np.isfinite(min_distance):
        raise ConfigError(f"min_distance must be a finite distance, got {min_distance!r}; pass for example 0.5.")
    x = _item_matrix(item_vectors, metric_name)
    rel = relevant_items(truth, threshold=threshold)
    hist = _canonical_csr(history, name="history")
    hist.eliminate_zeros()
    arr = _check_recs(recs, x.shape[0], k=k)
    for label, shape in (("truth", rel.shape), ("history", hist.shape)):
        if shape != (arr.shape[0], x.shape[0]):
            raise DataError(
                f"{label} has shape {shape} but recs and item_vectors give ({arr.shape[0]}, {x.shape[0]}); "
                "rows must match recs and columns the rows of item_vectors."
            )
    hit_user, hit_pos = np.nonzero(_hits(arr, rel))
    # Only relevant hits can be serendipitous, so distances are needed for those alone.
    nearest = _nearest_seen(x, hist, hit_user, arr[hit_user, hit_pos], metric_name)
    good = np.zeros(arr.shape, dtype=np.bool_)
    good[hit_user, hit_pos] = nearest >= min_distance
    out = good.sum(axis=1) / arr.shape[1]
    out[np.diff(rel.indptr) == 0] = np.nan
    return out


def _nearest_seen(
    x: FloatArray, hist: sp.csr_matrix, users: NDArray[np.int64], items: NDArray[np.int64], metric: str
) -> FloatArray:
    """Distance from each ``items[j]`` to the nearest training item of ``users[j]`` (``inf`` without any).

    Chunks hold about the same number of (item, training item) pairs, however long the histories.
    """
    ends = np.cumsum(np.diff(hist.indptr)[users])
    budget = _rows_per_chunk(x.shape[1])
    nearest = np.full(users.size, np.inf)
    first = 0
    while first < users.size:
        done = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, done + budget, side="right")))
        nearest[first:last] = _nearest_in_history(x, hist, users[first:last], items[first:last], metric)
        first = last
    return nearest


def _nearest_in_history(
    x: FloatArray, hist: sp.csr_matrix, users: NDArray[np.int64], items: NDArray[np.int64], metric: str
) -> FloatArray:
    sizes = np.diff(hist.indptr)[users]
    nearest = np.full(users.size, np.inf)
    owner = np.repeat(np.arange(users.size), sizes)
    if owner.size == 0:
        return nearest
    starts = np.cumsum(sizes) - sizes
    offset = np.arange(owner.size) - np.repeat(starts, sizes)
    seen = hist.indices[np.repeat(hist.indptr[users], sizes) + offset].astype(np.int64)
    dist = _paired_distances(x, items[owner], seen, metric)
    has = sizes > 0
    nearest[has] = np.minimum.reduceat(dist, starts[has])
    return nearest
