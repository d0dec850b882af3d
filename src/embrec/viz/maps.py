"""Maps of item embeddings in 2-D: PCA, t-SNE or UMAP, coloured by genre, with readable labels.

:func:`embedding_map` computes the layout once (an :class:`EmbeddingMap`); :func:`map_figure`
draws it with matplotlib (PNG/SVG) and :func:`map_html_figure` with plotly (an interactive,
self-contained HTML page whose points show title, genres, number of ratings and mean rating on
hover). :func:`save_map` picks by the file extension.

Which films are on the map: every film with at least ``min_ratings`` training ratings (films
rated once or twice have embeddings that barely moved from their random start), plus every
labelled film and, with ``user=``, the user's films and recommendations. Vectors are scaled
to unit length first (``normalize=True``), so the map shows the cosine geometry that
``similar_items`` uses. PCA's axes are fitted on every film with at least ``min_ratings``
training ratings and every film is placed on them (:func:`pca_layout`, which the web service's
map uses too); t-SNE and UMAP are fitted on the films shown.

This module is the home of every map name: the projection lives in
:mod:`~embrec.viz.projection`, the map's data type in :mod:`~embrec.viz.map_data` and the
drawing in :mod:`~embrec.viz.map_figures`; all are importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.data.interactions import Interactions
from embrec.errors import DataError
from embrec.models.base import Recommender
from embrec.viz.best_rated import BestRated, best_rated, item_rating_stats
from embrec.viz.labels import short_title
from embrec.viz.map_data import NO_GENRE, EmbeddingMap, main_genres
from embrec.viz.map_figures import map_figure, map_html_figure, save_map
from embrec.viz.projection import (
    METHOD_NAMES,
    MapMethod,
    PcaLayout,
    check_method,
    check_min_ratings,
    model_vectors,
    pca_layout,
    project,
    train_counts,
)

__all__ = [
    "MapMethod",
    "EmbeddingMap",
    "PcaLayout",
    "project",
    "pca_layout",
    "NO_GENRE",
    "main_genres",
    "embedding_map",
    "map_figure",
    "map_html_figure",
    "save_map",
]


class _UserMarks(NamedTuple):
    """What ``user=`` adds to a map: the films to label and a note for the subtitle."""

    labels: list[int]
    note: str


class _Labels(NamedTuple):
    """The films labelled on a map, most important first, and what they are in words."""

    items: list[int]
    what: str
    best: BestRated | None  # set when the labels are these best-rated films


def embedding_map(
    model: Recommender,
    *,
    data: Interactions | None = None,
    method: MapMethod = "pca",
    label: Sequence[Any] | None = None,
    n_best: int = 30,
    best: BestRated | None = None,
    user: Any = None,
    n_recs: int = 10,
    n_liked: int = 6,
    min_ratings: int = 10,
    max_points: int = 3000,
    seed: int = 0,
    normalize: bool = True,
    genre_rule: Literal["rarest", "first"] = "rarest",
) -> EmbeddingMap:
    """Lay a model's item embeddings out in 2-D, with the films to label.

    Args:
        model: a fitted model with item vectors (``model.item_vectors()``).
        data: the ratings the model was trained on (or all of them); gives each film's number
            of ratings and mean on hover and the best-rated films. Without it, counts come from
            the model's training matrix and the most-rated films are labelled.
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        label: item ids to label, most important first (default: the ``n_best`` best-rated
            films by damped mean, see :func:`~embrec.viz.best_rated.best_rated`; with
            ``user=``, that user's recommendations and best-liked films instead).
        n_best: how many best-rated films to label by default.
        best: a :class:`BestRated` already computed from ``data`` (its films are labelled).
        user: a user id: mark the user's training films and recommendations.
        n_recs: recommendations shown for ``user``.
        n_liked: the user's highest-rated films that get a label.
        min_ratings: films with fewer training ratings are left off the map (unless labelled or
            the user's).
        max_points: at most this many background films (the most-rated), to keep t-SNE/UMAP fast.
        seed: random state of t-SNE/UMAP.
        normalize: unit-length vectors first (cosine geometry).
        genre_rule: how a film's main genre is chosen (see :func:`main_genres`).
    """
    vectors = model_vectors(model, caller="embedding_map")
    check_method(method)
    check_min_ratings(min_ratings)
    stats, has_ratings = _stats_for_model(model, data)
    stats["main_genre"] = main_genres(stats["genres"].tolist(), rule=genre_rule)
    role = np.array(["film"] * len(stats), dtype=object)
    marks = None if user is None else _mark_user(model, data, user, role, n_recs=n_recs, n_liked=n_liked)
    labels = _labels(model, data, stats, label=label, marks=marks, best=best, n_best=n_best)
    order = np.full(len(stats), -1, dtype=np.int64)
    order[labels.items] = np.arange(len(labels.items))
    role[labels.items] = np.where(role[labels.items] == "film", "labelled", role[labels.items])

    keep = _shown(stats["train_ratings"].to_numpy(), role, min_ratings=min_ratings, max_points=max_points)
    if method == "pca":  # the axes of every film with enough ratings, whichever films are shown
        layout = pca_layout(model, min_ratings=int(min_ratings), normalize=normalize)
        coords, info = layout.coords[keep], {"explained_variance": list(layout.explained_variance)}
    else:
        coords, info = project(vectors[keep], method, seed=seed, normalize=normalize)
    points = _points(stats.iloc[keep].reset_index(drop=True), coords, role[keep], order[keep])
    shown = f"{len(points):,} films with >= {max(min_ratings, 1)} training ratings, coloured by main genre"
    subtitle = f"{shown}; {labels.what}" if marks is None else f"{shown}; {labels.what}; {marks.note}"
    return EmbeddingMap(
        points=points,
        method=method,
        info=info,
        title=_title(METHOD_NAMES[method], user, labels),
        subtitle=subtitle,
        user=user,
        has_ratings=has_ratings,
        genre_order=list(stats["main_genre"].value_counts().index),
    )


def _stats_for_model(model: Recommender, data: Interactions | None) -> tuple[pd.DataFrame, bool]:
    """Per model item: title, genres, counts and means (means NaN without ratings in ``data``)."""
    counts = train_counts(model).astype(np.int64)
    if data is not None and data.ratings is not None:
        frame = _stats_from_data(model, data)
        frame["train_ratings"] = counts
        return frame, True
    items = np.asarray(model.item_ids_)
    meta = model.item_metadata_
    genres = [""] * len(items)
    if meta is not None and "genres" in meta.columns:
        genres = ["" if not isinstance(g, str) else g for g in meta["genres"].tolist()]
    frame = pd.DataFrame(
        {
            "item": items,
            "title": model.titles(range(len(items))),
            "genres": genres,
            "n_ratings": counts,
            "mean_rating": np.full(len(items), np.nan),
            "train_ratings": counts,
        }
    )
    return frame, False


def _stats_from_data(model: Recommender, data: Interactions) -> pd.DataFrame:
    """:func:`item_rating_stats` of ``data``, one row per model item in the model's order."""
    items = np.asarray(model.item_ids_)
    pos = pd.Index(data.item_ids).get_indexer(items)
    if (pos < 0).any():
        missing = items[pos < 0]
        raise DataError(
            f"the data does not hold {missing.size:,} of the model's items (such as {missing[0]!r}); "
            "pass the data the model was trained on."
        )
    return item_rating_stats(data).iloc[pos].reset_index(drop=True)


def _mark_user(
    model: Recommender, data: Interactions | None, user: Any, role: NDArray[Any], *, n_recs: int, n_liked: int
) -> _UserMarks:
    """Mark the user's training films and recommendations in ``role``; label the
    recommendations, then the user's best-liked films."""
    u = int(model.user_index(user)[0])
    rated = model.seen_[u].indices.astype(np.int64)
    recs, _ = model.recommend_indexes(np.array([u]), n_recs)
    rec_idx = [int(i) for i in recs[0] if i >= 0]
    liked = _liked(model, data, user, rated)[:n_liked]
    role[rated] = "rated"
    role[rec_idx] = "recommended"
    note = f"user {user}: {len(rated):,} rated films (black rings), top {len(rec_idx)} recommendations (red stars)"
    return _UserMarks(rec_idx + [i for i in liked if i not in rec_idx], note)


def _liked(model: Recommender, data: Interactions | None, user: Any, rated: NDArray[np.int64]) -> list[int]:
    """The user's training films, highest rated first (most-rated first without ratings)."""
    counts = train_counts(model)
    if data is None or data.ratings is None or not data.has_user(user):
        return [int(i) for i in rated[np.argsort(-counts[rated], kind="stable")]]
    rows = data.users == int(data.user_index(user)[0])
    frame = pd.DataFrame({"item": data.item_ids[data.items[rows]], "rating": data.ratings[rows]})
    pos = pd.Index(np.asarray(model.item_ids_)).get_indexer(frame["item"].to_numpy())
    frame["idx"] = pos
    frame = frame[(pos >= 0) & np.isin(pos, rated)]
    frame = frame.assign(pop=counts[frame["idx"].to_numpy()])
    frame = frame.sort_values(["rating", "pop"], ascending=[False, False], kind="stable")
    return [int(i) for i in frame["idx"]]


def _labels(
    model: Recommender,
    data: Interactions | None,
    stats: pd.DataFrame,
    *,
    label: Sequence[Any] | None,
    marks: _UserMarks | None,
    best: BestRated | None,
    n_best: int,
) -> _Labels:
    """The films to label: those asked for, else the user's, else the best-rated (the most-rated
    without ratings)."""
    if label is not None:
        items = [int(i) for i in model.item_index(list(label))]
        return _Labels(items, f"{len(items)} chosen films labelled", None)
    if marks is not None:
        return _Labels(marks.labels, "recommendations and best-liked films labelled", None)
    if best is None and data is not None and data.ratings is not None:
        best = best_rated(data, n=n_best)
    if best is None:
        items = [int(i) for i in np.argsort(-stats["train_ratings"].to_numpy(), kind="stable")[:n_best]]
        return _Labels(items, f"the {len(items)} most-rated films labelled", None)
    items = [int(i) for i in model.item_index(best.item_ids)]
    return _Labels(items, f"the {len(items)} best-rated films (damped mean, m = {best.m:g}) labelled", best)


def _shown(counts: NDArray[Any], role: NDArray[Any], *, min_ratings: int, max_points: int) -> NDArray[np.int64]:
    """The films on the map: the ``max_points`` most-rated with enough ratings, and every marked one."""
    background = np.flatnonzero(counts >= max(min_ratings, 1))
    if len(background) > max_points:
        background = background[np.argsort(-counts[background], kind="stable")[:max_points]]
    keep = np.union1d(background, np.flatnonzero(role != "film"))
    if len(keep) < 2:
        raise DataError(
            f"only {len(keep)} film(s) have at least {min_ratings} training ratings; lower min_ratings to map more films."
        )
    return keep


def _points(
    points: pd.DataFrame, coords: NDArray[np.float64], role: NDArray[Any], order: NDArray[np.int64]
) -> pd.DataFrame:
    """The shown films' stats (a frame of their own) with their place, role and label added."""
    points["x"] = coords[:, 0]
    points["y"] = coords[:, 1]
    points["role"] = role
    points["order"] = order
    points["labelled"] = points["order"] >= 0
    points["label"] = [short_title(t) for t in points["title"]]
    return points


def _title(method_name: str, user: Any, labels: _Labels) -> str:
    if user is not None:
        return f"User {user}'s films and recommendations on the {method_name} map of item embeddings"
    if labels.best is not None:
        return f"The {len(labels.items)} best-rated films on the {method_name} map of item embeddings"
    return f"Item embeddings ({method_name})"
