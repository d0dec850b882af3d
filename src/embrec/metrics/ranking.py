"""Top-k ranking metrics: precision, recall, NDCG, average precision, reciprocal rank, hit.

Every function here is a pure function of recommendation lists and truth, vectorised over users
(no Python loop per user), and shares these conventions with the other metric modules:

* ``recs`` is a 2-D integer array of shape ``(n_users, k)`` holding item indexes in rank order,
  padded at the end with ``-1`` where a list is shorter than ``k``. An item may appear at most
  once per list.
* ``truth`` is a scipy sparse matrix ``(n_users, n_items)`` whose rows are aligned with ``recs``:
  test ratings (relevant where ``rating >= threshold``), ones for implicit feedback, or directly a
  boolean relevance matrix. With ``threshold=None`` every stored non-zero entry is relevant.
* ``k`` (keyword) cuts the lists to their first ``k`` columns; a ``k`` wider than ``recs`` pads
  with ``-1``, so a short list is scored as a list of ``k`` with empty slots.
* Per-user functions return a float array of length ``n_users``. A user with no relevant item gets
  NaN in every ranking metric, so all of them are averaged over the same users;
  :func:`mean_over_users` averages ignoring NaN.

Only full ranking is offered (every catalogue item competes for the top k). Sampled metrics,
which rank the relevant item among a few hundred sampled negatives, are not: they are inconsistent
with the full-ranking metric they approximate and can even reverse the order of two models
(Krichene & Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embrec.errors import DataError
from embrec.metrics._common import FloatArray, _check_recs, _hits, _log_discounts, mean_over_users, relevant_items

__all__ = [
    "relevant_items",
    "hit_matrix",
    "precision",
    "recall",
    "ndcg",
    "average_precision",
    "reciprocal_rank",
    "hit",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "hit_rate",
    "ranking_report",
    "mean_over_users",
]


def _relevance_and_hits(
    recs: ArrayLike, truth: Any, threshold: float | None, k: int | None
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    rel = relevant_items(truth, threshold=threshold)
    arr = _check_recs(recs, rel.shape[1], k=k)
    if arr.shape[0] != rel.shape[0]:
        raise DataError(
            f"recs has {arr.shape[0]:,} rows but truth has {rel.shape[0]:,}; "
            "row u of both must belong to the same user."
        )
    return _hits(arr, rel), np.diff(rel.indptr).astype(np.int64)


def hit_matrix(
    recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None
) -> NDArray[np.bool_]:
    """Whether each recommended item is relevant: ``hits[u, j] = rel(u, L_u[j])``.

    Args: as :func:`precision`.

    Returns:
        A boolean array of the shape of the (cut) ``recs``; padding is never a hit.
    """
    return _relevance_and_hits(recs, truth, threshold, k)[0]


def _per_user(values: FloatArray, n_relevant: NDArray[np.int64]) -> FloatArray:
    out = np.full(len(n_relevant), np.nan)
    has = n_relevant > 0
    out[has] = values[has]
    return out


def _safe_divide(num: FloatArray, den: ArrayLike) -> FloatArray:
    den_arr = np.asarray(den, dtype=np.float64)
    return np.divide(num, den_arr, out=np.zeros_like(num, dtype=np.float64), where=den_arr > 0)


# --------------------------------------------------------------------------- metrics from hits
def _precision(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    return _per_user(hits.sum(axis=1) / hits.shape[1], n_rel)


def _recall(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    return _per_user(_safe_divide(hits.sum(axis=1).astype(np.float64), n_rel), n_rel)


def _ndcg(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    k = hits.shape[1]
    disc = _log_discounts(k)
    dcg = hits.astype(np.float64) @ disc
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k)]
    return _per_user(_safe_divide(dcg, ideal), n_rel)


def _average_precision(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    k = hits.shape[1]
    prec_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1, dtype=np.float64)
    total = (prec_at * hits).sum(axis=1)
    return _per_user(_safe_divide(total, np.minimum(n_rel, k)), n_rel)


def _reciprocal_rank(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    first = np.argmax(hits, axis=1)
    rr = np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _per_user(rr, n_rel)


def _hit(hits: NDArray[np.bool_], n_rel: NDArray[np.int64]) -> FloatArray:
    return _per_user(np.asarray(hits.any(axis=1), dtype=np.float64), n_rel)


def precision(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> FloatArray:
    """Precision@k per user: ``P@k(u) = |L_u^k ∩ R_u| / k``.

    ``L_u^k`` is the user's top-k list and ``R_u`` their relevant test items. The denominator is
    always ``k``: empty (padded) slots count as misses, as in ``trec_eval``'s ``P_k``.

    Reference: Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, §8.3-8.4.

    Args:
        recs: ``(n_users, k)`` item indexes in rank order, ``-1`` padding.
        truth: sparse ``(n_users, n_items)`` test ratings or boolean relevance.
        threshold: lowest relevant rating (``None``: every stored entry is relevant).
        k: cut-off; defaults to the width of ``recs``.

    Returns:
        Float array of length ``n_users``; NaN for users with no relevant item.
    """
    return _precision(*_relevance_and_hits(recs, truth, threshold, k))


def recall(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> FloatArray:
    """Recall@k per user: ``R@k(u) = |L_u^k ∩ R_u| / |R_u|``.

    When ``|R_u| > k`` the best possible value is ``k / |R_u| < 1``; NDCG and AP are normalised so
    that a perfect list scores 1.

    Reference: Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, §8.3.

    Args and Returns: as :func:`precision` (NaN where ``R_u`` is empty).
    """
    return _recall(*_relevance_and_hits(recs, truth, threshold, k))


def ndcg(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> FloatArray:
    """Normalised discounted cumulative gain@k per user, with binary gain and a ``log2(j + 1)`` discount.

    ``DCG@k(u) = sum_{j=1..k} rel(u, L_u[j]) / log2(j + 1)`` and
    ``IDCG@k(u) = sum_{j=1..min(|R_u|, k)} 1 / log2(j + 1)``, ``NDCG@k = DCG@k / IDCG@k``.

    * Gain: binary, ``rel(u, i) in {0, 1}`` (a test rating ``>= threshold``, or any stored entry
      with ``threshold=None``), so a 5-star and a 4-star hit gain the same; linear gain ``rel``
      and exponential gain ``2**rel - 1`` coincide for it. Graded gains are not offered.
    * Discount: ``1 / log2(j + 1)`` at every rank ``j`` from 1 (ranks 1, 2, 3 count 1, 0.631,
      0.5), as in Burges et al.; not Järvelin & Kekäläinen's original ``1 / log_b j`` from rank
      ``b`` on, which ``trec_eval``'s ``ndcg_cut`` uses with ``b = 2`` (ranks 1 and 2 both count 1).
    * Ideal list: ``min(|R_u|, k)`` relevant items, not ``k``: normalising by ``k`` ideal hits (a
      classic bug) would keep users with fewer than ``k`` relevant items below 1 even for a
      perfect ranking.

    References: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    ACM TOIS 20(4), 2002 (NDCG); Burges et al., "Learning to rank using gradient descent",
    ICML 2005 (the ``log2(j + 1)`` discount from rank 1).

    Args and Returns: as :func:`precision` (values in [0, 1], NaN where ``R_u`` is empty).
    """
    return _ndcg(*_relevance_and_hits(recs, truth, threshold, k))


def average_precision(
    recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None
) -> FloatArray:
    """Average precision@k per user: ``AP@k(u) = sum_{j=1..k} P@j(u) rel(u, L_u[j]) / min(|R_u|, k)``.

    Normalising by ``min(|R_u|, k)`` (not ``|R_u|``) makes a list whose k slots are all relevant
    score 1. Its mean over users is MAP (:func:`mean_average_precision`).

    Reference: Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, §8.4.

    Args and Returns: as :func:`precision` (values in [0, 1], NaN where ``R_u`` is empty).
    """
    return _average_precision(*_relevance_and_hits(recs, truth, threshold, k))


def reciprocal_rank(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> FloatArray:
    """Reciprocal rank@k per user: ``RR@k(u) = 1 / rank of the first relevant item``, 0 if none in the top k.

    Its mean over users is MRR (:func:`mean_reciprocal_rank`).

    Reference: Voorhees, "The TREC-8 Question Answering Track Report", TREC 1999.

    Args and Returns: as :func:`precision` (values in [0, 1], NaN where ``R_u`` is empty).
    """
    return _reciprocal_rank(*_relevance_and_hits(recs, truth, threshold, k))


def hit(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> FloatArray:
    """Hit@k per user: ``1`` if ``L_u^k ∩ R_u`` is non-empty, else ``0``.

    Its mean over users is the hit rate (:func:`hit_rate`).

    Reference: Deshpande & Karypis, "Item-based top-N recommendation algorithms", ACM TOIS 22(1), 2004.

    Args and Returns: as :func:`precision` (0.0 or 1.0, NaN where ``R_u`` is empty).
    """
    return _hit(*_relevance_and_hits(recs, truth, threshold, k))


# --------------------------------------------------------------------------- aggregates
def mean_average_precision(
    recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None
) -> float:
    """MAP@k: the mean of :func:`average_precision` over users with at least one relevant item."""
    return mean_over_users(average_precision(recs, truth, threshold=threshold, k=k))


def mean_reciprocal_rank(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> float:
    """MRR@k: the mean of :func:`reciprocal_rank` over users with at least one relevant item."""
    return mean_over_users(reciprocal_rank(recs, truth, threshold=threshold, k=k))


def hit_rate(recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None) -> float:
    """Hit rate@k: the share of users (with at least one relevant item) who get a hit in the top k."""
    return mean_over_users(hit(recs, truth, threshold=threshold, k=k))


def ranking_report(
    recs: ArrayLike, truth: Any, *, threshold: float | None = None, k: int | None = None
) -> dict[str, float]:
    """All ranking metrics at once, averaged over users with at least one relevant item.

    The relevance lookup is done once, so this is cheaper than calling each metric.

    Returns:
        ``{"precision", "recall", "ndcg", "map", "mrr", "hit_rate"}`` as floats, and
        ``"users"``: how many users were averaged over (those with a relevant item), as a float.
    """
    hits, n_rel = _relevance_and_hits(recs, truth, threshold, k)
    return {
        "precision": mean_over_users(_precision(hits, n_rel)),
        "recall": mean_over_users(_recall(hits, n_rel)),
        "ndcg": mean_over_users(_ndcg(hits, n_rel)),
        "map": mean_over_users(_average_precision(hits, n_rel)),
        "mrr": mean_over_users(_reciprocal_rank(hits, n_rel)),
        "hit_rate": mean_over_users(_hit(hits, n_rel)),
        "users": float((n_rel > 0).sum()),
    }
