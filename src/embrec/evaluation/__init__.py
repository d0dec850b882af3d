"""Evaluating fitted models: the runner, uncertainty, and re-ranking for diversity or novelty.

* :func:`evaluate` scores one or more models on a :class:`~embrec.data.splits.Split` and returns
  an :class:`EvaluationResult` (per-user tables, means with bootstrap intervals, list-level
  figures, paired comparisons, JSON/CSV/Markdown writers).
* :mod:`~embrec.evaluation.stats`: :func:`bootstrap_ci`, :func:`paired_comparison` (paired
  bootstrap and Wilcoxon signed-rank).
* :mod:`~embrec.evaluation.rerank`: :func:`mmr_rerank`, :func:`novelty_rerank`,
  :class:`Reranker` and the trade-off :func:`sweep`.
"""

from embrec.evaluation.rerank import (
    Reranker,
    genre_matrix,
    mmr_rerank,
    novelty_rerank,
    parse_reranker,
    sweep,
)
from embrec.evaluation.runner import (
    LIST_METRICS,
    PER_USER_METRICS,
    EvaluationResult,
    ModelEvaluation,
    evaluate,
)
from embrec.evaluation.stats import (
    ConfidenceInterval,
    PairedComparison,
    bootstrap_ci,
    paired_bootstrap,
    paired_comparison,
    wilcoxon_p,
)

__all__ = [
    # runner
    "evaluate",
    "EvaluationResult",
    "ModelEvaluation",
    "PER_USER_METRICS",
    "LIST_METRICS",
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
