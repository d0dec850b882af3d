"""Evaluating fitted models or saved lists: the metric catalogue, the runner, uncertainty, re-ranking.

* :func:`evaluate` scores one or more models on a :class:`~embrec.data.splits.Split` and returns
  an :class:`EvaluationResult` (per-user tables, means with bootstrap intervals, list-level
  figures, paired comparisons, JSON/CSV/Markdown writers).
* :func:`evaluate_lists` scores saved or external recommendation lists (a frame or a CSV/Parquet
  file of ``user, item, rank``) the same way; :func:`read_recommendations` reads such a file.
* :mod:`~embrec.evaluation.catalog`: :data:`METRICS`, the one list of metrics every table uses.
* :mod:`~embrec.evaluation.stats`: :func:`bootstrap_ci`, :func:`paired_comparison` (paired
  bootstrap and Wilcoxon signed-rank).
* :mod:`~embrec.evaluation.rerank`: :func:`mmr_rerank`, :func:`novelty_rerank`,
  :class:`Reranker`; :mod:`~embrec.evaluation.tradeoff`: the trade-off :func:`sweep`.
"""

from embrec.evaluation.catalog import LIST_METRICS, METRICS, PER_USER_METRICS, Metric, get_metric
from embrec.evaluation.genres import genre_matrix
from embrec.evaluation.lists import evaluate_lists, read_recommendations
from embrec.evaluation.rerank import (
    Reranker,
    mmr_rerank,
    novelty_rerank,
    parse_reranker,
)
from embrec.evaluation.results import EvaluationResult, ModelEvaluation
from embrec.evaluation.runner import evaluate
from embrec.evaluation.stats import (
    ConfidenceInterval,
    PairedComparison,
    bootstrap_ci,
    paired_bootstrap,
    paired_comparison,
    wilcoxon_p,
)
from embrec.evaluation.tradeoff import sweep

__all__ = [
    # the metric catalogue
    "METRICS",
    "Metric",
    "get_metric",
    "PER_USER_METRICS",
    "LIST_METRICS",
    # runner and results
    "evaluate",
    "evaluate_lists",
    "read_recommendations",
    "EvaluationResult",
    "ModelEvaluation",
    # stats
    "ConfidenceInterval",
    "PairedComparison",
    "bootstrap_ci",
    "paired_bootstrap",
    "paired_comparison",
    "wilcoxon_p",
    # re-ranking
    "Reranker",
    "parse_reranker",
    "mmr_rerank",
    "novelty_rerank",
    "genre_matrix",
    "sweep",
]
