"""Beyond-accuracy metrics: diversity, novelty, popularity, coverage, exposure, serendipity.

Same conventions as :mod:`embrec.metrics.ranking`: ``recs`` is ``(n_users, k)`` item indexes in
rank order padded with ``-1``; per-user functions return a float array of length ``n_users`` with
NaN where the value is undefined (for example an empty list); aggregate with
:func:`embrec.metrics.mean_over_users`. Popularity always comes from the *training* data, passed
in as per-item counts (see :func:`item_popularity`), never from the test set.

Work is vectorised and done in chunks of users so memory stays bounded for large ``k`` or wide
item vectors; there is no Python loop per user.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from embrec.errors import ConfigError, DataError
from embrec.metrics.ranking import (
    FloatArray,
    _canonical_csr,
    _check_recs,
    _hits,
    _row_of_entries,
    mean_over_users,
    relevant_items,
)

__all__ = [
    "DistanceMetric",
    "item_popularity",
    "item_mean_ratings",
    "item_exposure",
    "intra_list_diversity",
    "exercise_diversity",
    "novelty",
    "average_popularity",
    "average_recommendation_popularity",
    "mean_item_rating",
    "expected_popularity_complement",
    "catalog_coverage",
    "gini_index",
    "personalization",
    "serendipity",
]

DistanceMetric = Literal["cosine", "jaccard"]
"""How two item vectors are compared: ``"cosine"`` (embeddings) or ``"jaccard"`` (binary genre vectors)."""

_METRICS = ("cosine", "jaccard")
# Largest intermediate array, in elements, that one chunk may build (32 MiB of float64).
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- helpers
def _chunks(n: int, cost_per_row: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(cost_per_row, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


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
    # A zero vector has no direction: as in sklearn's cosine_similarity it gets similarity 0.
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _per_item(values: ArrayLike, *, name: str, allow_nan: bool = False) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array with one value per item index, got shape {arr.shape}.")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{name}[{int(np.nonzero(bad)[0][0])}] is {arr[bad][0]}; give a finite value for every item.")
    return arr


def _counts(item_user_counts: ArrayLike, n_training_users: Any) -> tuple[FloatArray, int]:
    counts = _per_item(item_user_counts, name="item_user_counts")
    if (
        isinstance(n_training_users, bool)
        or not isinstance(n_training_users, (int, np.integer))
        or n_training_users < 1
    ):
        raise ConfigError(
            f"n_training_users must be a positive integer, got {n_training_users!r}; "
            "pass the number of users in the training data (see item_popularity)."
        )
    n = int(n_training_users)
    bad = (counts < 0) | (counts > n)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise DataError(
            f"item_user_counts[{i}] = {counts[i]:g} is outside 0..n_training_users ({n}); "
            "count distinct training users per item (see item_popularity)."
        )
    return counts, n


def _gather(recs: NDArray[np.int64], values: FloatArray) -> FloatArray:
    return values[np.where(recs >= 0, recs, 0)]


def _list_mean(recs: NDArray[np.int64], values: FloatArray) -> FloatArray:
    """Mean of a per-item value over each list, skipping padding and NaN values."""
    v = _gather(recs, values)
    use = (recs >= 0) & ~np.isnan(v)
    n = use.sum(axis=1)
    total = np.where(use, v, 0.0).sum(axis=1)
    out = np.full(recs.shape[0], np.nan)
    out[n > 0] = total[n > 0] / n[n > 0]
    return out


def _catalog(catalog: ArrayLike) -> NDArray[np.int64]:
    arr = np.asarray(catalog)
    if arr.ndim != 1:
        raise DataError(f"catalog must be a 1-D array of item indexes or a boolean mask, got shape {arr.shape}.")
    if arr.dtype == np.bool_:
        arr = np.flatnonzero(arr)
    elif arr.dtype.kind not in "iu":
        raise DataError(f"catalog must hold integer item indexes or booleans, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size == 0:
        raise DataError(
            "catalog is empty; pass the item indexes that could be recommended (for example items seen in training)."
        )
    if arr.min() < 0:
        raise DataError(f"catalog holds the negative item index {int(arr.min())}; item indexes start at 0.")
    uniq = np.unique(arr)
    if uniq.size != arr.size:
        raise DataError(
            f"catalog lists {arr.size - uniq.size:,} item(s) more than once; pass each catalogue item once."
        )
    return uniq


def _exposure_in_catalog(recs: NDArray[np.int64], cat: NDArray[np.int64]) -> NDArray[np.int64]:
    """Times each catalogue item is recommended; an item outside the catalogue is an error."""
    listed = recs[recs >= 0]
    size = int(max(cat.max(), listed.max() if listed.size else 0)) + 1
    counts = np.bincount(listed, minlength=size)
    outside = np.ones(size, dtype=np.bool_)
    outside[cat] = False
    stray = np.flatnonzero(outside & (counts > 0))
    if stray.size:
        raise DataError(
            f"recs include item {int(stray[0])} ({stray.size:,} item(s) in all) that is not in the catalog; "
            "the catalog must hold every item that could be recommended."
        )
    return counts[cat]


# --------------------------------------------------------------------------- training statistics
def item_popularity(train: Any) -> tuple[NDArray[np.int64], int]:
    """Per-item count of distinct training users, and the number of training users.

    ``users(i) = |{u : (u, i) stored and non-zero in train}|``; the number of training users counts
    rows with at least one interaction (rows kept only to share a vocabulary do not count).

    Args:
        train: scipy sparse ``(n_users, n_items)`` training ratings or interactions.

    Returns:
        ``(item_user_counts, n_training_users)`` as taken by :func:`novelty` and
        :func:`expected_popularity_complement`; the counts are also the popularity of
        :func:`average_popularity` (number of ratings per item).
    """
    t = _canonical_csr(train, name="train")
    nonzero = t.data != 0
    counts = np.bincount(t.indices[nonzero], minlength=t.shape[1]).astype(np.int64)
    active = np.unique(_row_of_entries(t)[nonzero]).size
    return counts, int(active)


def item_mean_ratings(train: Any) -> FloatArray:
    """Mean training rating of each item (NaN for items without a rating).

    ``mean(i) = (1 / users(i)) sum_u train[u, i]`` over the stored non-zero ratings of item ``i``.

    Args:
        train: scipy sparse ``(n_users, n_items)`` training ratings, in stars.
    """
    t = _canonical_csr(train, name="train")
    nonzero = t.data != 0
    cols = t.indices[nonzero]
    n = np.bincount(cols, minlength=t.shape[1])
    total = np.bincount(cols, weights=t.data[nonzero].astype(np.float64), minlength=t.shape[1])
    out = np.full(t.shape[1], np.nan)
    out[n > 0] = total[n > 0] / n[n > 0]
    return out


def item_exposure(recs: ArrayLike, n_items: int, *, k: int | None = None) -> NDArray[np.int64]:
    """How many lists recommend each item: ``c_i = |{u : i in L_u^k}|``, length ``n_items``."""
    arr = _check_recs(recs, n_items, k=k)
    return np.bincount(arr[arr >= 0], minlength=n_items).astype(np.int64)


# --------------------------------------------------------------------------- diversity
def _list_distances(x: FloatArray, recs: NDArray[np.int64], metric: str, *, clip: bool = True) -> FloatArray:
    """Distances between the items of each list, shape ``(n_lists, k, k)`` (padding rows are junk)."""
    v = x[np.where(recs >= 0, recs, 0)]
    inner = v @ v.transpose(0, 2, 1)
    if metric == "cosine":
        dist = 1.0 - inner
        return np.clip(dist, 0.0, 2.0) if clip else dist
    size = v.sum(axis=2)
    union = size[:, :, None] + size[:, None, :] - inner
    # Two items with no genre at all count as identical (distance 0), as in scipy's jaccard.
    sim = np.divide(inner, union, out=np.ones_like(inner), where=union > 0)
    return 1.0 - sim


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
    out = np.full(n_users, np.nan)
    ok = m >= 2
    out[ok] = total[ok] / (m[ok] * (m[ok] - 1) / 2.0)
    return out


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
    eps10 = 10 * np.finfo(np.float64).eps
    for rows in _chunks(n_users, width * max(width, x.shape[1])):
        chunk = arr[rows]
        valid = chunk >= 0
        dist = _list_distances(x, chunk, "cosine", clip=False)
        sample = valid[:, :, None]  # MinMaxScaler fits each column over the rows (samples)
        col_min = np.where(sample, dist, np.inf).min(axis=1)
        col_max = np.where(sample, dist, -np.inf).max(axis=1)
        empty = ~valid.any(axis=1)
        col_min[empty] = 0.0
        col_max[empty] = 0.0
        span = col_max - col_min
        span[span < eps10] = 1.0
        scaled = (dist - col_min[:, None, :]) / span[:, None, :]
        cells = valid[:, :, None] & valid[:, None, :]
        total[rows] = np.where(cells, scaled, 0.0).sum(axis=(1, 2))
    m = (arr >= 0).sum(axis=1)
    out = np.full(n_users, np.nan)
    ok = m >= 2
    out[ok] = total[ok] / (m[ok].astype(np.float64) ** 2)
    return out


# --------------------------------------------------------------------------- novelty and popularity
def novelty(recs: ArrayLike, item_user_counts: ArrayLike, n_training_users: int, *, k: int | None = None) -> FloatArray:
    """Mean self-information of the listed items, in bits.

    ``novelty(u) = (1 / m) sum_{i in L_u} -log2(users(i) / |U_train|)``, with ``users(i)`` the
    number of training users of item ``i``. An item no training user saw is counted as seen by one
    (``log2 |U_train|``, the largest finite value) rather than giving infinity.

    References: Zhou et al., "Solving the apparent diversity-accuracy dilemma of recommender
    systems", PNAS 107(10), 2010; Vargas & Castells, "Rank and relevance in novelty and diversity
    metrics for recommender systems", RecSys 2011.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_user_counts: training users per item, length ``n_items`` (see :func:`item_popularity`).
        n_training_users: number of training users.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users`` in [0, log2 |U_train|]; NaN for empty lists.
    """
    counts, n = _counts(item_user_counts, n_training_users)
    arr = _check_recs(recs, counts.size, k=k)
    info = -np.log2(np.maximum(counts, 1.0) / n)
    return _list_mean(arr, info)


def average_popularity(recs: ArrayLike, item_popularity: ArrayLike, *, k: int | None = None) -> FloatArray:
    """Mean training popularity of the listed items: ``pop(u) = (1 / m) sum_{i in L_u} phi(i)``.

    With ``phi(i)`` the number of training ratings of ``i`` this is the exercise's intended
    "mean number of ratings of the recommended films", and the per-user term of ARP
    (:func:`average_recommendation_popularity`).

    Reference: Abdollahpouri, Burke & Mobasher, "Managing popularity bias in recommender systems
    with personalized re-ranking", FLAIRS 2019.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_popularity: ``phi(i)`` per item, length ``n_items``, from the training data.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users``; NaN for empty lists.
    """
    pop = _per_item(item_popularity, name="item_popularity")
    if (pop < 0).any():
        raise DataError(
            f"item_popularity holds negative values (first at item {int(np.argmax(pop < 0))}); popularity is a count."
        )
    return _list_mean(_check_recs(recs, pop.size, k=k), pop)


def average_recommendation_popularity(recs: ArrayLike, item_popularity: ArrayLike, *, k: int | None = None) -> float:
    """ARP: ``(1 / |U|) sum_u (1 / |L_u|) sum_{i in L_u} phi(i)``, over users with a non-empty list.

    Reference: Abdollahpouri, Burke & Mobasher, FLAIRS 2019 (see :func:`average_popularity`).
    """
    return mean_over_users(average_popularity(recs, item_popularity, k=k))


def mean_item_rating(recs: ArrayLike, item_mean_ratings: ArrayLike, *, k: int | None = None) -> FloatArray:
    """Mean of the listed items' average training rating (the exercise's second novelty figure).

    ``rating(u) = (1 / m') sum_{i in L_u} mean(i)`` over the ``m'`` listed items that have a
    training rating (NaN entries of ``item_mean_ratings`` are skipped). A high value says the list
    favours well-liked films; it is a popularity-quality signal, not novelty in the strict sense.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_mean_ratings: mean training rating per item (see :func:`item_mean_ratings`).
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users``, in stars; NaN when no listed item has a rating.
    """
    means = _per_item(item_mean_ratings, name="item_mean_ratings", allow_nan=True)
    return _list_mean(_check_recs(recs, means.size, k=k), means)


def expected_popularity_complement(
    recs: ArrayLike,
    item_user_counts: ArrayLike,
    n_training_users: int,
    *,
    truth: Any = None,
    threshold: float | None = None,
    discount: Literal["log", "none"] = "log",
    k: int | None = None,
) -> FloatArray:
    """Expected popularity complement (EPC) per user.

    ``EPC(u) = C sum_{j=1..m} disc(j) rel(u, L_u[j]) (1 - users(L_u[j]) / |U_train|)`` with
    ``C = 1 / sum_{j=1..m} disc(j)``, ``disc(j) = 1 / log2(j + 1)`` (or 1 with ``discount="none"``).
    With ``truth`` it is the relevance-aware EPC (binary ``rel``), otherwise ``rel = 1``.

    Reference: Vargas & Castells, "Rank and relevance in novelty and diversity metrics for
    recommender systems", RecSys 2011.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        item_user_counts: training users per item (see :func:`item_popularity`).
        n_training_users: number of training users.
        truth: optional sparse ``(n_users, n_items)`` test ratings or boolean relevance.
        threshold: lowest relevant rating when ``truth`` holds ratings.
        discount: ``"log"`` or ``"none"``.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users`` in [0, 1]; NaN for empty lists and, with ``truth``, for
        users with no relevant item.
    """
    if discount not in ("log", "none"):
        raise ConfigError(f"discount must be 'log' or 'none', got {discount!r}.")
    counts, n = _counts(item_user_counts, n_training_users)
    arr = _check_recs(recs, counts.size, k=k)
    valid = arr >= 0
    width = arr.shape[1]
    disc = 1.0 / np.log2(np.arange(2, width + 2)) if discount == "log" else np.ones(width)
    weight = np.where(valid, disc, 0.0)
    gain = weight * (1.0 - _gather(arr, counts) / n)
    out = np.full(arr.shape[0], np.nan)
    norm = weight.sum(axis=1)
    defined = norm > 0
    if truth is not None:
        rel = relevant_items(truth, threshold=threshold)
        if rel.shape != (arr.shape[0], counts.size):
            raise DataError(
                f"truth has shape {rel.shape} but recs and item_user_counts give ({arr.shape[0]}, {counts.size}); "
                "rows must match recs and columns the item indexes."
            )
        gain = gain * _hits(arr, rel)
        defined &= np.diff(rel.indptr) > 0
    elif threshold is not None:
        raise ConfigError(
            "threshold was given without truth; pass truth=... for relevance-aware EPC, or drop threshold."
        )
    out[defined] = gain.sum(axis=1)[defined] / norm[defined]
    return out


# --------------------------------------------------------------------------- catalogue-level
def catalog_coverage(recs: ArrayLike, catalog: ArrayLike, *, k: int | None = None) -> float:
    """Catalogue coverage: ``|∪_u L_u^k| / |I_cat|``, the share of the catalogue recommended to someone.

    The catalogue ``I_cat`` is the set of items that *could* be recommended, passed explicitly: use
    the items seen in training (a model cannot score items it never saw), not every id in the
    metadata file. A recommended item outside the catalogue is an error.

    Reference: Ge, Delgado-Battenfeld & Jannach, "Beyond accuracy: evaluating recommender systems
    by coverage and serendipity", RecSys 2010.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        catalog: item indexes of the catalogue, or a boolean mask over item indexes.
        k: cut-off; defaults to the width of ``recs``.
    """
    cat = _catalog(catalog)
    exposure = _exposure_in_catalog(_check_recs(recs, None, k=k), cat)
    return float((exposure > 0).sum() / cat.size)


def gini_index(recs: ArrayLike, catalog: ArrayLike, *, k: int | None = None) -> float:
    """Gini index of item exposure over the whole catalogue (never-recommended items included).

    With ``c_(1) <= ... <= c_(n)`` the exposures (number of lists containing the item) of the
    ``n`` catalogue items in ascending order and ``p_(j) = c_(j) / sum c``:
    ``G = (1 / (n - 1)) sum_{j=1..n} (2j - n - 1) p_(j)``. 0 means every item is recommended equally
    often, 1 that one item gets all exposure.

    Reference: Shani & Gunawardana, "Evaluating recommendation systems", Recommender Systems
    Handbook, 2011, §8.3.3.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        catalog: item indexes of the catalogue (at least two), or a boolean mask over item indexes.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        The index in [0, 1]; NaN when nothing is recommended.
    """
    cat = _catalog(catalog)
    if cat.size < 2:
        raise DataError(f"the catalog has {cat.size} item; the Gini index needs at least two items.")
    exposure = np.sort(_exposure_in_catalog(_check_recs(recs, None, k=k), cat)).astype(np.float64)
    total = exposure.sum()
    if total == 0:
        return float("nan")
    n = exposure.size
    rank_weight = 2.0 * np.arange(1, n + 1) - n - 1
    return float((rank_weight * exposure).sum() / ((n - 1) * total))


def personalization(recs: ArrayLike, *, k: int | None = None) -> float:
    """Personalization: one minus the mean overlap between two users' lists.

    ``P = 1 - (1 / C(U, 2)) sum_{u < v} |L_u ∩ L_v| / k`` over the ``U`` users with a non-empty
    list. The pair sum is computed from item exposure counts, without a ``U x U`` matrix:
    ``sum_{u < v} |L_u ∩ L_v| = sum_i C(c_i, 2)`` where ``c_i`` is the number of lists holding ``i``.
    The overlap is divided by the cut-off ``k``, so padded (short) lists overlap less.

    Reference: Zhou et al., "Solving the apparent diversity-accuracy dilemma of recommender
    systems", PNAS 107(10), 2010 (the mean inter-list Hamming distance ``h = 1 - q / L``).

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        A value in [0, 1]; NaN with fewer than two non-empty lists.
    """
    arr = _check_recs(recs, None, k=k)
    listed = arr[arr >= 0]
    users = int((arr >= 0).any(axis=1).sum())
    if users < 2:
        return float("nan")
    c = np.bincount(listed).astype(np.float64)
    shared = float((c * (c - 1.0) / 2.0).sum())
    pairs = users * (users - 1) / 2.0
    return 1.0 - shared / (pairs * arr.shape[1])


# --------------------------------------------------------------------------- serendipity
def _paired_distances(x: FloatArray, a: NDArray[np.int64], b: NDArray[np.int64], metric: str) -> FloatArray:
    va, vb = x[a], x[b]
    inner = np.einsum("ij,ij->i", va, vb)
    if metric == "cosine":
        return np.clip(1.0 - inner, 0.0, 2.0)
    union = va.sum(axis=1) + vb.sum(axis=1) - inner
    return 1.0 - np.divide(inner, union, out=np.ones_like(inner), where=union > 0)


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
    hits = _hits(arr, rel)
    # Only relevant hits can be serendipitous, so distances are needed for those alone.
    hit_user, hit_pos = np.nonzero(hits)
    hit_item = arr[hit_user, hit_pos]
    n_hist = np.diff(hist.indptr)[hit_user].astype(np.int64)
    nearest = np.full(hit_user.size, np.inf)
    ends = np.cumsum(n_hist)
    budget = max(1, _CHUNK_ELEMENTS // x.shape[1])
    first = 0
    while first < hit_user.size:
        done = ends[first - 1] if first else 0
        last = max(first + 1, int(np.searchsorted(ends, done + budget, side="right")))
        sel = np.arange(first, last)
        sizes = n_hist[sel]
        owner = np.repeat(np.arange(sel.size), sizes)
        if owner.size:
            offset = np.arange(owner.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            seen = hist.indices[np.repeat(hist.indptr[hit_user[sel]], sizes) + offset].astype(np.int64)
            dist = _paired_distances(x, hit_item[sel][owner], seen, metric_name)
            has = sizes > 0
            starts = (np.cumsum(sizes) - sizes)[has]
            nearest[sel[has]] = np.minimum.reduceat(dist, starts)
        first = last
    good = np.zeros(arr.shape, dtype=np.bool_)
    good[hit_user, hit_pos] = nearest >= min_distance
    out = good.sum(axis=1) / arr.shape[1]
    out[np.diff(rel.indptr) == 0] = np.nan
    return out
