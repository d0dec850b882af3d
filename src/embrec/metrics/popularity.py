"""Novelty and popularity of recommended items, measured against the training data.

Popularity always comes from the *training* data, passed in as per-item counts (see
:func:`item_popularity`), never from the test set. Conventions as in
:mod:`embrec.metrics.ranking`: ``recs`` is ``(n_users, k)`` item indexes padded with ``-1``;
per-user functions return one float per user, NaN where undefined (an empty list).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embrec.errors import ConfigError, DataError
from embrec.metrics._common import (
    FloatArray,
    _canonical_csr,
    _check_recs,
    _gather,
    _hits,
    _list_mean,
    _log_discounts,
    _per_item,
    _ratio,
    _row_of_entries,
    mean_over_users,
    relevant_items,
)

__all__ = [
    "item_popularity",
    "item_mean_ratings",
    "novelty",
    "average_popularity",
    "average_recommendation_popularity",
    "mean_item_rating",
    "expected_popularity_complement",
]


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
    return _ratio(total, n)


# --------------------------------------------------------------------------- per list
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
    width = arr.shape[1]
    weight = np.where(arr >= 0, _log_discounts(width) if discount == "log" else np.ones(width), 0.0)
    gain = weight * (1.0 - _gather(arr, counts) / n)
    norm = weight.sum(axis=1)
    if truth is not None:
        hits, has_relevant = _relevant_hits(truth, threshold, arr, counts.size)
        gain = gain * hits
        norm = np.where(has_relevant, norm, 0.0)  # undefined for users with nothing relevant
    elif threshold is not None:
        raise ConfigError(
            "threshold was given without truth; pass truth=... for relevance-aware EPC, or drop threshold."
        )
    return _ratio(gain.sum(axis=1), norm)


def _relevant_hits(
    truth: Any, threshold: float | None, recs: NDArray[np.int64], n_items: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which listed items are relevant, and which users have any relevant item at all."""
    rel = relevant_items(truth, threshold=threshold)
    if rel.shape != (recs.shape[0], n_items):
        raise DataError(
            f"truth has shape {rel.shape} but recs and item_user_counts give ({recs.shape[0]}, {n_items}); "
            "rows must match recs and columns the item indexes."
        )
    return _hits(recs, rel), np.diff(rel.indptr) > 0
