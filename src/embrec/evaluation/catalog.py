"""The metric catalogue: every metric the evaluation reports, in table order, in one place.

Each :class:`Metric` names a metric, says what the tables show for it and whether it is a
per-user value (summarised by a mean and a bootstrap interval) or one figure of the whole set of
lists, and computes it from a :class:`~embrec.evaluation.context.ScoringContext` with a pure
function of :mod:`embrec.metrics`. A metric that needs item vectors, genres or predicted ratings
is NaN where they are missing.

The runner's tables, summaries, writers and comparisons, the re-ranking sweep, the report and the
CLI all iterate :data:`METRICS`. Adding a metric takes a pure function in :mod:`embrec.metrics`,
one entry here and one row in ``docs/metrics.md`` (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.errors import ConfigError
from embrec.evaluation.context import ScoringContext
from embrec.metrics import (
    average_precision,
    average_recommendation_popularity,
    catalog_coverage,
    exercise_diversity,
    expected_popularity_complement,
    gini_index,
    hit,
    intra_list_diversity,
    mae,
    ndcg,
    novelty,
    personalization,
    precision,
    recall,
    reciprocal_rank,
    rmse,
)

__all__ = [
    "MetricKind",
    "Metric",
    "METRICS",
    "PER_USER_METRICS",
    "LIST_METRICS",
    "get_metric",
    "check_metric_names",
    "per_user_table",
    "list_figures",
]

MetricKind = Literal["per_user", "list"]


@dataclass(frozen=True)
class Metric:
    """One entry of the catalogue.

    Attributes:
        name: the column and key in every table, such as ``"ndcg"``.
        kind: ``"per_user"`` (one value per evaluated user) or ``"list"`` (one figure of all lists).
        description: what the tables show beside the name, such as ``"NDCG@k"``.
        function: computes the metric from a :class:`ScoringContext`: a float array of one value
            per user for ``"per_user"``, a float for ``"list"``.
        needs_vectors: needs the model's item vectors (NaN without them).
        needs_genres: needs item genres (NaN without them).
        needs_ratings: needs predicted and true test ratings (NaN without them).
        label: axis label of figures; defaults to ``description``.
        goal: ``"maximize"`` or ``"minimize"`` for the accuracy metrics, the ones a study may
            optimise (``embrec tune --metric``); ``None`` for the beyond-accuracy figures, whose
            best value depends on what a list is for.
    """

    name: str
    kind: MetricKind
    description: str
    function: Callable[[ScoringContext], NDArray[np.float64] | float]
    needs_vectors: bool = False
    needs_genres: bool = False
    needs_ratings: bool = False
    label: str | None = None
    goal: Literal["maximize", "minimize"] | None = None

    @property
    def axis_label(self) -> str:
        return self.label or self.description

    def is_defined(self, ctx: ScoringContext) -> bool:
        """Whether ``ctx`` holds what the metric needs."""
        return not (
            (self.needs_vectors and ctx.item_vectors is None)
            or (self.needs_genres and ctx.genres is None)
            or (self.needs_ratings and (ctx.predictions is None or ctx.ratings is None))
        )

    def per_user(self, ctx: ScoringContext) -> NDArray[np.float64]:
        """One value per user of ``ctx.recs`` (all NaN when the metric is not defined for ``ctx``)."""
        if self.kind != "per_user":
            raise ConfigError(f"metric {self.name!r} is a list figure, not a per-user metric.")
        if not self.is_defined(ctx):
            return np.full(ctx.n_users, np.nan)
        return np.asarray(self.function(ctx), dtype=np.float64)

    def figure(self, ctx: ScoringContext) -> float:
        """The list figure of ``ctx`` (NaN when the metric is not defined for ``ctx``)."""
        if self.kind != "list":
            raise ConfigError(f"metric {self.name!r} is a per-user metric, not a list figure.")
        if not self.is_defined(ctx):
            return float("nan")
        return float(self.function(ctx))


def _in_catalog(c: ScoringContext) -> NDArray[np.int64]:
    """``c.recs`` without the items outside the catalogue (later items move up, padding at the end).

    A model may still rank an item that has no training data (from its untrained parameters);
    such an item is neither covered nor exposed in the catalogue of items with training data.
    """
    keep = np.isin(c.recs, c.catalog)  # padding (-1) is never in the catalogue
    if keep.all():
        return c.recs
    order = np.argsort(~keep, axis=1, kind="stable")
    return np.take_along_axis(np.where(keep, c.recs, -1), order, axis=1)


def _coverage(c: ScoringContext) -> float:
    catalog = c.catalog
    return catalog_coverage(_in_catalog(c), catalog, k=c.k) if catalog.size else float("nan")


def _gini(c: ScoringContext) -> float:
    # The Gini index needs two items to compare; a one-item catalogue has no inequality to show.
    catalog = c.catalog
    return gini_index(_in_catalog(c), catalog, k=c.k) if catalog.size >= 2 else float("nan")


#: Every metric, in table order: the per-user metrics, then the list figures.
METRICS: tuple[Metric, ...] = (
    Metric("ndcg", "per_user", "NDCG@k", lambda c: ndcg(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric("recall", "per_user", "recall@k", lambda c: recall(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric("precision", "per_user", "precision@k", lambda c: precision(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric("map", "per_user", "MAP@k", lambda c: average_precision(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric("mrr", "per_user", "MRR@k", lambda c: reciprocal_rank(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric("hit", "per_user", "hit rate@k", lambda c: hit(c.recs, c.truth, k=c.k), goal="maximize"),
    Metric(
        "diversity",
        "per_user",
        "ILD, embedding cosine distance",
        lambda c: intra_list_diversity(c.recs, c.item_vectors, metric="cosine", k=c.k),
        needs_vectors=True,
        label="diversity (ILD, embedding cosine distance)",
    ),
    Metric(
        "genre_diversity",
        "per_user",
        "ILD, genre Jaccard distance",
        lambda c: intra_list_diversity(c.recs, c.genres, metric="jaccard", k=c.k),
        needs_genres=True,
        label="genre diversity (ILD, Jaccard distance)",
    ),
    Metric(
        "novelty",
        "per_user",
        "self-information (bits)",
        lambda c: novelty(c.recs, c.item_user_counts, c.n_training_users, k=c.k),
        label="novelty (self-information, bits)",
    ),
    Metric(
        "epc",
        "per_user",
        "expected popularity complement",
        lambda c: expected_popularity_complement(c.recs, c.item_user_counts, c.n_training_users, truth=c.truth, k=c.k),
        label="EPC (expected popularity complement)",
    ),
    Metric(
        "exercise_diversity",
        "per_user",
        "exercise's scaled diversity",
        lambda c: exercise_diversity(c.recs, c.item_vectors, k=c.k),
        needs_vectors=True,
        label="the exercise's scaled diversity",
    ),
    # Coverage and Gini: over the items with training data (ScoringContext.catalog).
    Metric("coverage", "list", "catalogue coverage, items with training data", _coverage),
    Metric("gini", "list", "Gini index of exposure, items with training data", _gini),
    Metric(
        "arp",
        "list",
        "average recommendation popularity",
        lambda c: average_recommendation_popularity(c.recs, c.item_user_counts, k=c.k),
    ),
    Metric("personalization", "list", "personalization", lambda c: personalization(c.recs, k=c.k)),
    # needs_ratings: called only with predictions and ratings present (test pairs with training data).
    Metric(
        "rmse",
        "list",
        "RMSE (stars), test pairs with training data",
        lambda c: rmse(c.predictions, c.ratings),  # type: ignore[arg-type]
        needs_ratings=True,
        label="RMSE (stars)",
        goal="minimize",
    ),
    Metric(
        "mae",
        "list",
        "MAE (stars), test pairs with training data",
        lambda c: mae(c.predictions, c.ratings),  # type: ignore[arg-type]
        needs_ratings=True,
        label="MAE (stars)",
        goal="minimize",
    ),
)

_BY_NAME = {m.name: m for m in METRICS}

#: Names of the per-user metrics, in table order (each summarised by a mean and a bootstrap interval).
PER_USER_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.kind == "per_user")
#: Names of the figures of the whole set of lists (or of all test ratings), without an interval.
LIST_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.kind == "list")


def get_metric(name: str) -> Metric:
    """The catalogue entry called ``name`` (a :class:`ConfigError` naming the choices otherwise)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(_BY_NAME)}.") from None


def check_metric_names(names: Iterable[str], kind: MetricKind = "per_user") -> tuple[str, ...]:
    """``names`` as a tuple, each checked to be a catalogue metric of ``kind``.

    Raises:
        ConfigError: a name is not in the catalogue, or is of another kind.
    """
    chosen = tuple(names)
    allowed = PER_USER_METRICS if kind == "per_user" else LIST_METRICS
    for name in chosen:
        if name not in allowed:
            raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(allowed)}.")
    return chosen


def per_user_table(ctx: ScoringContext, user_ids: np.ndarray) -> pd.DataFrame:
    """One row per user of ``ctx``: ``user``, every per-user metric, and ``relevant`` (relevant
    test items of the user)."""
    columns: dict[str, object] = {"user": user_ids}
    for metric in METRICS:
        if metric.kind == "per_user":
            columns[metric.name] = metric.per_user(ctx)
    columns["relevant"] = np.diff(ctx.truth.indptr).astype(np.int64)
    return pd.DataFrame(columns)


def list_figures(ctx: ScoringContext) -> dict[str, float]:
    """Every list figure of ``ctx``, by name (NaN where not defined)."""
    return {metric.name: metric.figure(ctx) for metric in METRICS if metric.kind == "list"}
