"""Evaluation metrics: pure functions of recommendation lists (or predictions) and truth.

* :mod:`~embrec.metrics.accuracy`: RMSE and MAE of predicted ratings.
* :mod:`~embrec.metrics.ranking`: precision, recall, NDCG, AP/MAP, RR/MRR and hit rate at k.
* :mod:`~embrec.metrics.beyond`: diversity, novelty, popularity, coverage, Gini, personalization,
  serendipity.

Recommendation lists are ``(n_users, k)`` integer arrays of item indexes padded with ``-1``;
truth is a scipy sparse ``(n_users, n_items)`` matrix with rows aligned to the lists. Per-user
functions return one float per user (NaN where undefined); :func:`mean_over_users` averages them.
Formulas, references and conventions: ``docs/metrics.md``.
"""

from embrec.metrics.accuracy import mae, rmse
from embrec.metrics.beyond import (
    DistanceMetric,
    average_popularity,
    average_recommendation_popularity,
    catalog_coverage,
    exercise_diversity,
    expected_popularity_complement,
    gini_index,
    intra_list_diversity,
    item_exposure,
    item_mean_ratings,
    item_popularity,
    mean_item_rating,
    novelty,
    personalization,
    serendipity,
)
from embrec.metrics.ranking import (
    average_precision,
    hit,
    hit_matrix,
    hit_rate,
    mean_average_precision,
    mean_over_users,
    mean_reciprocal_rank,
    ndcg,
    precision,
    ranking_report,
    recall,
    reciprocal_rank,
    relevant_items,
)

__all__ = [
    # accuracy
    "rmse",
    "mae",
    # ranking
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
    # beyond accuracy
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
