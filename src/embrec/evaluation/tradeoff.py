"""The re-ranking trade-off: every metric of a model's re-ranked lists at several ``λ``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from embrec.errors import ConfigError
from embrec.evaluation.catalog import METRICS, list_figures, per_user_table
from embrec.evaluation.context import EvaluationContext
from embrec.evaluation.rerank import DEFAULT_CANDIDATES, Reranker, RerankMethod, Similarity

if TYPE_CHECKING:
    from embrec.data.splits import Split
    from embrec.models.base import Recommender

__all__ = ["sweep"]


def sweep(
    model: Recommender,
    split: Split,
    lambdas: Sequence[float],
    *,
    method: RerankMethod = "mmr",
    k: int = 10,
    threshold: float | None = 4.0,
    candidates: int = DEFAULT_CANDIDATES,
    similarity: Similarity = "auto",
) -> pd.DataFrame:
    """Accuracy, diversity and novelty of ``model``'s re-ranked lists at each ``λ``.

    The model ranks once (its top ``candidates`` per evaluated user); each ``λ`` re-ranks those
    candidates and scores the lists as :func:`~embrec.evaluation.runner.evaluate` does (same
    users, relevance and popularity from training data).

    Args:
        model: a fitted recommender trained on ``split.train``.
        split: the split to evaluate on.
        lambdas: the ``λ`` values, each in [0, 1].
        method: ``"mmr"`` or ``"novelty"``.
        k: list length.
        threshold: lowest relevant test rating (ignored for implicit data).
        candidates: top items per user the lists are re-ranked from.
        similarity: MMR's similarity (see :class:`~embrec.evaluation.rerank.Reranker`).

    Returns:
        One row per ``λ`` (in the order given): ``lambda``, the mean over users of every per-user
        metric of the catalogue (``ndcg``, ``recall``, ..., ``diversity`` NaN without item
        vectors), every list figure except those of predicted ratings (re-ranking does not change
        them), and ``users`` (users averaged over).
    """
    lambdas = list(lambdas)
    if not lambdas:
        raise ConfigError("lambdas is empty; pass the λ values to try, e.g. lambdas=[0, 0.25, 0.5, 0.75, 1].")
    ctx = EvaluationContext.build(split, k=k, threshold=threshold)
    # Every setting is checked before the model ranks.
    rerankers = [Reranker(method, lam, candidates=candidates, similarity=similarity) for lam in lambdas]
    width = rerankers[0].width(ctx.k, ctx.n_items)
    view = ctx.align(model)
    cand, scores = ctx.rank(model, width, view)
    rows = []
    for reranker in rerankers:
        scoring = ctx.scoring(ctx.rerank(reranker, model, view, cand, scores), item_vectors=view.vectors)
        table = per_user_table(scoring, ctx.user_ids)
        figures = list_figures(scoring)
        row: dict[str, float] = {"lambda": reranker.lam}
        for metric in METRICS:
            if metric.kind == "per_user":
                row[metric.name] = float(table[metric.name].mean())
            elif not metric.needs_ratings:
                row[metric.name] = figures[metric.name]
        row["users"] = len(table)
        rows.append(row)
    return pd.DataFrame(rows)
