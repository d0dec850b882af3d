"""Evaluate one or more fitted models on a split: per-user tables, summaries with intervals.

:func:`evaluate` ranks every item for every evaluated user at once (``recommend_indexes`` scores
users in chunks; no Python loop per user), leaves out each user's training items, and scores
the top ``k`` with every metric of the catalogue (:mod:`embrec.evaluation.catalog`). Saved or
external lists are scored the same way by :func:`~embrec.evaluation.lists.evaluate_lists`.

Which users are evaluated: those with at least one *relevant* test item, i.e. a test rating
``>= threshold`` (for implicit data, or ``threshold=None``, every test item is relevant). A user
with nothing relevant to find would get NaN in every ranking metric anyway (see
``docs/metrics.md``); restricting all metrics to the same users keeps every per-user table, every
mean and every paired test over one population. Users with test rows but no training rows are
evaluated too (with a ``drop_unseen`` split they have no test rows).

Candidates are all items of the data's vocabulary except the user's training items, and a test
item without training data stays relevant: the user did go on to rate it, a deployed system
that cannot surface new items misses it just the same, and dropping it would flatter every model
(most of all on time-based splits, where new items are common). The catalogue of coverage and
Gini is the items with at least one training interaction, the items a model has learned
something about; an item outside it that a model still ranks (from untrained parameters)
counts in neither. Popularity (novelty, EPC, ARP) comes from the training data only.
RMSE and MAE (in stars) are computed, for models that predict ratings, over the test pairs whose
user and item both have training data (``rated_pairs``); the other test pairs (``cold_pairs``)
are counted and left out, because the model's rating for them would come from untrained
parameters. Ties between equal scores are broken by lower item index (:mod:`embrec.ranking`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from embrec.data.splits import Split
from embrec.errors import ConfigError
from embrec.evaluation.catalog import LIST_METRICS, PER_USER_METRICS
from embrec.evaluation.context import EvaluationContext, ModelView, ScoringContext
from embrec.evaluation.labels import unique_labels
from embrec.evaluation.rerank import Reranker, parse_reranker
from embrec.evaluation.results import EvaluationResult, ModelEvaluation, check_labels
from embrec.evaluation.stats import DEFAULT_LEVEL, DEFAULT_RESAMPLES, check_bootstrap
from embrec.models.base import Recommender

__all__ = [
    "PER_USER_METRICS",
    "LIST_METRICS",
    "ModelEvaluation",
    "EvaluationResult",
    "evaluate",
]


def _labels(models: Sequence[Recommender], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        return check_labels(names, len(models), "model")
    return unique_labels(str(getattr(m, "name", type(m).__name__)) for m in models)


# --------------------------------------------------------------------------- the entry point
def evaluate(
    models: Sequence[Recommender] | Recommender,
    split: Split,
    *,
    k: int = 10,
    threshold: float | None = 4.0,
    rerank: Reranker | str | None = None,
    names: Sequence[str] | None = None,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> EvaluationResult:
    """Score fitted models on ``split.test``: per-user tables, means with intervals, list figures.

    Every evaluated user (one with at least one relevant test item) gets a top-``k`` list from
    all items except their training items, ranked for all users at once. The lists are scored
    with every metric of the catalogue (:data:`~embrec.evaluation.catalog.METRICS`, tabled in
    ``docs/metrics.md``): per-user metrics (NDCG, recall, ..., ``diversity`` from the model's item
    vectors, ``genre_diversity`` from genre sets; NaN where those are missing), each summarised by
    its mean over users and a bootstrap percentile interval, and list figures (coverage and Gini
    over the items with training data, ARP, personalization, and RMSE/MAE in stars over the test
    pairs whose user and item have training data, for models that predict ratings; each model's
    ``lists`` counts those ``rated_pairs`` and the ``cold_pairs`` left out).

    Args:
        models: fitted recommenders (or one), trained on ``split.train``'s vocabulary.
        split: the split to evaluate on.
        k: list length.
        threshold: lowest relevant test rating; ``None`` (or implicit data) makes every test
            item relevant.
        rerank: a :class:`~embrec.evaluation.rerank.Reranker` (or text such as ``"mmr:0.3"``)
            applied to each model's top ``rerank.candidates`` before cutting to ``k``.
        names: labels of the models in reports (default: their registry names, numbered when
            repeated).
        level: confidence level of the intervals.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed (same seed, same intervals).

    Returns:
        An :class:`EvaluationResult`.

    Raises:
        DataError: no test user has a relevant item, or a model does not know the data's users
            or items (it was trained on other data).
        ConfigError: a bad ``k``, ``threshold``, ``rerank`` or bootstrap setting.
    """
    model_list = [models] if isinstance(models, Recommender) else list(models)
    if not model_list:
        raise ConfigError("no model to evaluate; pass one fitted model or a list of them.")
    for m in model_list:
        if not isinstance(m, Recommender):
            raise ConfigError(f"evaluate takes Recommender models, got {type(m).__name__}.")
    labels = _labels(model_list, names)
    reranker = parse_reranker(rerank) if isinstance(rerank, str) else rerank
    if reranker is not None and not isinstance(reranker, Reranker):
        raise ConfigError(f"rerank must be a Reranker or text such as 'mmr:0.3', got {type(reranker).__name__}.")
    check_bootstrap(level, n_resamples, seed)
    ctx = EvaluationContext.build(split, k=k, threshold=threshold)
    return EvaluationResult.from_context(
        ctx,
        _score_models(ctx, labels, model_list, reranker),
        rerank=reranker,
        level=level,
        n_resamples=n_resamples,
        seed=seed,
    )


def _score_models(
    ctx: EvaluationContext, labels: Sequence[str], models: Sequence[Recommender], reranker: Reranker | None
) -> Iterator[tuple[str, str, ScoringContext, NDArray[np.float64]]]:
    """Each model's label, name, top-``k`` lists (re-ranked if asked) with what they are scored on, and scores."""
    for label, model in zip(labels, models, strict=True):
        view = ctx.align(model)
        recs, scores = _top_k(ctx, model, view, reranker)
        yield (
            label,
            str(model.name),
            ctx.scoring(recs, item_vectors=view.vectors, predictions=ctx.predictions(model)),
            scores,
        )


def _top_k(
    ctx: EvaluationContext, model: Recommender, view: ModelView, reranker: Reranker | None
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``model``'s top-``k`` items of every evaluated user, re-ranked by ``reranker`` if given, and their scores."""
    if reranker is None:
        return ctx.rank(model, ctx.k, view)
    cand, cand_scores = ctx.rank(model, reranker.width(ctx.k, ctx.n_items), view)
    recs = ctx.rerank(reranker, model, view, cand, cand_scores)
    return recs, _scores_of(recs, cand, cand_scores)


def _scores_of(recs: NDArray[np.int64], cand: NDArray[np.int64], scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's score of each re-ranked item (``-inf`` for padding)."""
    out = np.full(recs.shape, -np.inf)
    step = max(1, (1 << 22) // max(1, recs.shape[1] * cand.shape[1]))
    for start in range(0, recs.shape[0], step):
        r, c = recs[start : start + step], cand[start : start + step]
        pos = (r[:, :, None] == c[:, None, :]).argmax(axis=2)
        picked = np.take_along_axis(scores[start : start + step], pos, axis=1)
        out[start : start + step] = np.where(r >= 0, picked, -np.inf)
    return out
