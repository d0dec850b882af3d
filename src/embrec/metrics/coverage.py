"""Catalogue-level figures: coverage, Gini index of exposure, personalization.

Each is one number for the whole set of lists (not one per user), computed from item exposure,
``c_i = |{u : i in L_u^k}|``. Coverage and Gini take the catalogue, the items that *could* be
recommended, explicitly; a recommended item outside it is an error. ``recs`` follows the
conventions of :mod:`embrec.metrics.ranking` (``(n_users, k)`` item indexes padded with ``-1``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embrec.errors import DataError
from embrec.metrics._common import _check_recs

__all__ = ["item_exposure", "catalog_coverage", "gini_index", "personalization"]


def item_exposure(recs: ArrayLike, n_items: int, *, k: int | None = None) -> NDArray[np.int64]:
    """How many lists recommend each item: ``c_i = |{u : i in L_u^k}|``, length ``n_items``."""
    arr = _check_recs(recs, n_items, k=k)
    return np.bincount(arr[arr >= 0], minlength=n_items).astype(np.int64)


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
