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
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError
from embrec.models.base import Recommender
from embrec.viz.best_rated import BestRated, best_rated, item_rating_stats
from embrec.viz.labels import Box, label_points, place_boxes, short_title
from embrec.viz.save import new_figure, save_figure

__all__ = [
    "MapMethod",
    "EmbeddingMap",
    "PcaLayout",
    "project",
    "pca_layout",
    "main_genres",
    "embedding_map",
    "map_figure",
    "map_html_figure",
    "save_map",
]

MapMethod = Literal["pca", "tsne", "umap"]
METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
_METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: Genres that describe a format or nothing, never chosen as a film's main genre.
_NOT_GENRES = frozenset({"", "IMAX", "(no genres listed)"})
NO_GENRE = "(no genre)"
OTHER = "other"
_PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
]
_GREY = "#a8a8a8"
#: Fewer films than this with enough ratings to shape PCA's axes, and every film shapes them.
_MIN_AXIS_FILMS = 3
#: Share of the data range left free on each side, room for labels of points at the edge.
_PAD = 0.1


# --------------------------------------------------------------------------- genres
def main_genres(genres: Sequence[str], *, rule: Literal["rarest", "first"] = "rarest") -> list[str]:
    """One genre per film from ``|``-joined genre lists.

    MovieLens lists genres alphabetically, so the first one says little (``Action`` and
    ``Adventure`` would colour a third of the catalogue). The default ``rule="rarest"`` takes
    the film's genre that is rarest in the catalogue: the most specific one (``Toy Story``:
    Animation; ``The Godfather``: Crime; ``Star Wars``: Sci-Fi). ``IMAX`` is a format and is
    skipped; a film without genres gets ``"(no genre)"``.
    """
    if rule not in ("rarest", "first"):
        raise ConfigError(f"rule {rule!r} is not allowed; use 'rarest' or 'first'.")
    lists = [[g for g in (s.split("|") if isinstance(s, str) else []) if g not in _NOT_GENRES] for s in genres]
    if rule == "first":
        return [gs[0] if gs else NO_GENRE for gs in lists]
    counts: dict[str, int] = {}
    for gs in lists:
        for g in gs:
            counts[g] = counts.get(g, 0) + 1
    return [min(gs, key=lambda g: (counts[g], g)) if gs else NO_GENRE for gs in lists]


# --------------------------------------------------------------------------- projection
def project(
    vectors: Any,
    method: MapMethod = "pca",
    *,
    seed: int = 0,
    normalize: bool = True,
    perplexity: float | None = None,
    n_neighbors: int | None = None,
    fit: Any | None = None,
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """2-D coordinates of ``vectors`` and facts about the projection.

    Args:
        vectors: ``(n, dim)`` item vectors.
        method: ``"pca"``, ``"tsne"`` (scikit-learn) or ``"umap"`` (umap-learn).
        seed: random state of t-SNE and UMAP (PCA is deterministic: each axis's largest
            loading is positive).
        normalize: scale rows to unit length first (cosine geometry).
        perplexity: t-SNE's perplexity (default ``min(30, (n - 1) / 3)``).
        n_neighbors: UMAP's neighbourhood size (default ``min(15, n - 1)``).
        fit: PCA only: boolean mask of the rows that shape the axes (default all); every row
            is placed on them.

    Returns:
        ``(coords, info)``; ``info`` holds ``explained_variance`` (PCA: share of variance per
        axis) or the t-SNE/UMAP settings used.
    """
    if method not in METHODS:
        raise ConfigError(f"map method {method!r} is not allowed; use one of {', '.join(METHODS)}.")
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise DataError(f"a map needs at least 2 vectors in a 2-D array, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise DataError("the item vectors hold NaN or infinite values; retrain the model.")
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    n = x.shape[0]
    if x.shape[1] < 2:
        x = np.hstack([x, np.zeros((n, 2 - x.shape[1]))])
    if method == "pca":
        mask = np.ones(n, dtype=bool) if fit is None else np.asarray(fit, dtype=bool)
        if mask.shape != (n,):
            raise DataError(f"fit must be a boolean mask of the {n} vectors, got shape {mask.shape}.")
        return _pca(x, mask)
    if fit is not None:
        raise ConfigError(f"fit= shapes PCA's axes only; leave it out for method {method!r}.")
    if n < 4:
        raise DataError(f"{_METHOD_NAMES[method]} needs at least 4 films, got {n}; use method 'pca'.")
    if method == "tsne":
        from sklearn.manifold import TSNE

        perp = float(perplexity) if perplexity is not None else min(30.0, (n - 1) / 3.0)
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto", random_state=seed)
        return np.asarray(tsne.fit_transform(x), dtype=np.float64), {"perplexity": perp}
    try:
        with warnings.catch_warnings():
            # umap and numba announce deprecations of their own dependencies on import
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            import umap
    except ImportError:  # pragma: no cover - umap-learn is a dependency
        raise ConfigError(
            "method 'umap' needs the umap-learn package (pip install umap-learn); or use 'tsne'."
        ) from None
    k = int(n_neighbors) if n_neighbors is not None else min(15, n - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=0.1, metric="euclidean", random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        # small inputs make UMAP fall back to exact neighbours and say so; spectral init may warn too
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        coords = reducer.fit_transform(x)
    return np.asarray(coords, dtype=np.float64), {"n_neighbors": k}


def _pca(x: NDArray[np.float64], fit: NDArray[np.bool_]) -> tuple[NDArray[np.float64], dict[str, Any]]:
    if fit.sum() < 2:
        fit = np.ones(len(x), dtype=bool)
    x = x - x[fit].mean(axis=0)
    # PCA from the (dim x dim) covariance: as exact as an SVD of the vectors, and far cheaper
    eigval, eigvec = np.linalg.eigh(x[fit].T @ x[fit])
    order = np.argsort(eigval)[::-1]
    eigval, axes = np.clip(eigval[order], 0.0, None), eigvec[:, order[:2]].T
    # an axis's sign is arbitrary: fix it (largest loading positive) so every run draws the same map
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(eigval.sum())
    share = [float(v / total) if total > 0 else 0.0 for v in eigval[:2]]
    return x @ axes.T, {"explained_variance": share}


@dataclass(frozen=True)
class PcaLayout:
    """Every item of a model on the first two principal components of its vector.

    Attributes:
        coords: ``(n_items, 2)``, in the model's item order.
        explained_variance: share of the fitted vectors' variance along each axis.
        min_ratings: films with at least this many training ratings shaped the axes (0: every
            film did, because fewer than three had that many).
    """

    coords: NDArray[np.float64]
    explained_variance: tuple[float, float]
    min_ratings: int


def pca_layout(model: Recommender, *, min_ratings: int = 10, normalize: bool = True) -> PcaLayout:
    """The PCA map of a model's items: the web page's map and ``embrec plot map --method pca``.

    The axes are fitted on the films with at least ``min_ratings`` training ratings (the
    vectors of rarely rated films barely moved from their random start; fitted on them, the
    first axis would mostly tell rare from popular films), or on every film when fewer than
    three have that many; every film is then placed on them.
    """
    if not isinstance(model, Recommender):
        raise ConfigError(f"pca_layout takes a fitted Recommender, got {type(model).__name__}.")
    model._check_fitted()
    vectors = model.item_vectors()
    if vectors is None:
        raise ConfigError(f"model {model.name!r} has no item embeddings to map; train an embedding model.")
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 0:
        raise ConfigError(f"min_ratings must be an integer >= 0, got {min_ratings!r}.")
    counts = np.asarray(model.seen_.sum(axis=0)).ravel()
    fit = counts >= min_ratings
    if fit.sum() < _MIN_AXIS_FILMS:
        fit[:], min_ratings = True, 0
    coords, info = project(vectors, "pca", normalize=normalize, fit=fit)
    ev = info["explained_variance"]
    return PcaLayout(coords=coords, explained_variance=(ev[0], ev[1]), min_ratings=int(min_ratings))


# --------------------------------------------------------------------------- the layout
@dataclass
class EmbeddingMap:
    """A computed map.

    Attributes:
        points: one row per film on the map: ``item``, ``title``, ``label`` (short title),
            ``genres``, ``main_genre``, ``n_ratings``, ``mean_rating``, ``x``, ``y``, ``role``
            (``"film"``, ``"labelled"``, ``"rated"`` or ``"recommended"``), ``labelled``
            (bool) and ``order`` (label priority, smaller first; -1 when unlabelled).
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        info: facts about the projection (see :func:`project`).
        title: the figure title.
        subtitle: what the points are, in words.
        user: the user whose films are shown, if any.
        has_ratings: whether ``mean_rating`` is known (the data was given).
        genre_order: main genres by how common they are in the model's whole catalogue (fixes
            the colours, so every map of one model colours a genre alike).
    """

    points: pd.DataFrame
    method: str
    info: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    subtitle: str = ""
    user: Any = None
    has_ratings: bool = True
    genre_order: list[str] = field(default_factory=list)

    def axis_labels(self) -> tuple[str, str]:
        name = _METHOD_NAMES[self.method]
        if self.method == "pca" and "explained_variance" in self.info:
            ev = self.info["explained_variance"]
            return (f"PC 1 ({ev[0]:.0%} of variance)", f"PC 2 ({ev[1]:.0%} of variance)")
        return (f"{name} 1", f"{name} 2")

    def genre_colors(self, max_genres: int = len(_PALETTE)) -> dict[str, str]:
        """Colour of each main genre on the map, most common first: the ``max_genres`` most
        common in the model's catalogue get the palette (so maps of one model agree), the rest grey."""
        ranking = self.genre_order or list(self.points["main_genre"].value_counts().index)
        rank = {g: i for i, g in enumerate(ranking)}
        named = [g for g in ranking if g != NO_GENRE][:max_genres]
        palette = {g: _PALETTE[i % len(_PALETTE)] for i, g in enumerate(named)}
        present = sorted(set(self.points["main_genre"]), key=lambda g: (g not in palette, rank.get(g, len(rank)), g))
        return {g: palette.get(g, _GREY) for g in present}


def _stats_for_model(model: Recommender, data: Interactions | None) -> tuple[pd.DataFrame, bool]:
    """Per model item: title, genres, counts and means (means NaN without ``data``)."""
    items = np.asarray(model.item_ids_)
    counts = np.asarray(model.seen_.sum(axis=0)).ravel().astype(np.int64)
    if data is not None and data.ratings is not None:
        stats = item_rating_stats(data)
        pos = pd.Index(data.item_ids).get_indexer(items)
        if (pos < 0).any():
            missing = items[pos < 0]
            raise DataError(
                f"the data does not hold {missing.size:,} of the model's items (such as {missing[0]!r}); "
                "pass the data the model was trained on."
            )
        frame = stats.iloc[pos].reset_index(drop=True)
        frame["train_ratings"] = counts
        return frame, True
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
    if not isinstance(model, Recommender):
        raise ConfigError(f"embedding_map takes a fitted Recommender, got {type(model).__name__}.")
    model._check_fitted()
    vectors = model.item_vectors()
    if vectors is None:
        raise ConfigError(f"model {model.name!r} has no item embeddings to map; train an embedding model.")
    if method not in METHODS:
        raise ConfigError(f"map method {method!r} is not allowed; use one of {', '.join(METHODS)}.")
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 0:
        raise ConfigError(f"min_ratings must be an integer >= 0, got {min_ratings!r}.")
    stats, has_ratings = _stats_for_model(model, data)
    stats["main_genre"] = main_genres(stats["genres"].tolist(), rule=genre_rule)
    n_items = len(stats)
    role = np.array(["film"] * n_items, dtype=object)
    order = np.full(n_items, -1, dtype=np.int64)
    subtitle_parts = []

    labelled: list[int] = []
    if user is not None:
        u = int(model.user_index(user)[0])
        rated = model.seen_[u].indices.astype(np.int64)
        recs, _ = model.recommend_indexes(np.array([u]), n_recs)
        rec_idx = [int(i) for i in recs[0] if i >= 0]
        liked = _liked(model, data, user, rated)[:n_liked]
        role[rated] = "rated"
        role[rec_idx] = "recommended"
        labelled = rec_idx + [i for i in liked if i not in rec_idx]
        subtitle_parts.append(
            f"user {user}: {len(rated):,} rated films (black rings), top {len(rec_idx)} recommendations (red stars)"
        )
    if label is not None:
        labelled = [int(i) for i in model.item_index(list(label))]
        what = f"{len(labelled)} chosen films labelled"
    elif user is None:
        if best is None and has_ratings and data is not None:
            best = best_rated(data, n=n_best)
        if best is not None:
            labelled = [int(i) for i in model.item_index(best.item_ids)]
            what = f"the {len(labelled)} best-rated films (damped mean, m = {best.m:g}) labelled"
        else:
            labelled = [int(i) for i in np.argsort(-stats["train_ratings"].to_numpy(), kind="stable")[:n_best]]
            what = f"the {len(labelled)} most-rated films labelled"
    else:
        what = "recommendations and best-liked films labelled"
    order[labelled] = np.arange(len(labelled))
    role[labelled] = np.where(role[labelled] == "film", "labelled", role[labelled])

    counts = stats["train_ratings"].to_numpy()
    background = np.flatnonzero(counts >= max(min_ratings, 1))
    if len(background) > max_points:
        background = background[np.argsort(-counts[background], kind="stable")[:max_points]]
    keep = np.union1d(background, np.flatnonzero(role != "film"))
    if len(keep) < 2:
        raise DataError(
            f"only {len(keep)} film(s) have at least {min_ratings} training ratings; lower min_ratings to map more films."
        )
    if method == "pca":  # the axes of every film with enough ratings, whichever films are shown
        layout = pca_layout(model, min_ratings=int(min_ratings), normalize=normalize)
        coords, info = layout.coords[keep], {"explained_variance": list(layout.explained_variance)}
    else:
        coords, info = project(np.asarray(vectors)[keep], method, seed=seed, normalize=normalize)
    points = stats.iloc[keep].reset_index(drop=True)
    points["x"] = coords[:, 0]
    points["y"] = coords[:, 1]
    points["role"] = role[keep]
    points["order"] = order[keep]
    points["labelled"] = points["order"] >= 0
    points["label"] = [short_title(t) for t in points["title"]]
    name = _METHOD_NAMES[method]
    subtitle_parts.insert(
        0, f"{len(points):,} films with >= {max(min_ratings, 1)} training ratings, coloured by main genre; {what}"
    )
    if user is not None:
        title = f"User {user}'s films and recommendations on the {name} map of item embeddings"
    elif label is None and best is not None:
        title = f"The {len(labelled)} best-rated films on the {name} map of item embeddings"
    else:
        title = f"Item embeddings ({name})"
    genre_order = list(stats["main_genre"].value_counts().index)
    return EmbeddingMap(
        points=points,
        method=method,
        info=info,
        title=title,
        subtitle="; ".join(subtitle_parts),
        user=user,
        has_ratings=has_ratings,
        genre_order=genre_order,
    )


def _liked(model: Recommender, data: Interactions | None, user: Any, rated: NDArray[np.int64]) -> list[int]:
    """The user's training films, highest rated first (most-rated first without ratings)."""
    if data is not None and data.ratings is not None and data.has_user(user):
        u = int(data.user_index(user)[0])
        rows = data.users == u
        frame = pd.DataFrame({"item": data.item_ids[data.items[rows]], "rating": data.ratings[rows]})
        pos = pd.Index(np.asarray(model.item_ids_)).get_indexer(frame["item"].to_numpy())
        frame["idx"] = pos
        frame = frame[(pos >= 0) & np.isin(pos, rated)]
        counts = np.asarray(model.seen_.sum(axis=0)).ravel()
        frame = frame.assign(pop=counts[frame["idx"].to_numpy()])
        frame = frame.sort_values(["rating", "pop"], ascending=[False, False], kind="stable")
        return [int(i) for i in frame["idx"]]
    counts = np.asarray(model.seen_.sum(axis=0)).ravel()
    return [int(i) for i in rated[np.argsort(-counts[rated], kind="stable")]]


# --------------------------------------------------------------------------- matplotlib
def map_figure(
    emap: EmbeddingMap,
    *,
    figsize: tuple[float, float] = (13.0, 9.5),
    max_genres: int = len(_PALETTE),
    fontsize: float = 8.0,
) -> Any:
    """The map as a matplotlib ``Figure`` (never shown): genre colours with a legend outside the
    plot, labelled films ringed in black with non-overlapping titles."""
    from matplotlib.lines import Line2D

    pts = emap.points
    colors = emap.genre_colors(max_genres)
    fig = new_figure(figsize, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    col = pts["main_genre"].map(colors).to_numpy()
    is_bg = (pts["role"] == "film").to_numpy()
    ax.scatter(
        pts["x"][is_bg], pts["y"][is_bg], c=col[is_bg], s=11, alpha=0.55, linewidths=0, zorder=1, rasterized=True
    )
    rated = (pts["role"] == "rated").to_numpy()
    if rated.any():
        ax.scatter(pts["x"][rated], pts["y"][rated], c=col[rated], s=26, edgecolors="black", linewidths=0.8, zorder=3)
    lab = (pts["role"] == "labelled").to_numpy()
    if lab.any():
        ax.scatter(pts["x"][lab], pts["y"][lab], c=col[lab], s=46, edgecolors="black", linewidths=1.0, zorder=4)
    rec = (pts["role"] == "recommended").to_numpy()
    if rec.any():
        ax.scatter(
            pts["x"][rec], pts["y"][rec], c="#d62728", marker="*", s=190, edgecolors="black", linewidths=0.6, zorder=4
        )

    # room for labels: pad the limits, then fix them before placing text in pixels
    x0, x1 = float(pts["x"].min()), float(pts["x"].max())
    y0, y1 = float(pts["y"].min()), float(pts["y"].max())
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    ax.set_xlim(x0 - _PAD * dx, x1 + _PAD * dx)
    ax.set_ylim(y0 - _PAD * dy, y1 + _PAD * dy)
    xlabel, ylabel = emap.axis_labels()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if emap.method != "pca":
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(emap.title, fontsize=13, loc="left", pad=22)
    ax.text(0.0, 1.008, emap.subtitle, transform=ax.transAxes, fontsize=8.5, color="#555555", va="bottom", ha="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    shown = [g for g in colors if colors[g] != _GREY]
    handles = [Line2D([], [], marker="o", ls="", color=colors[g], markersize=7, label=g) for g in shown]
    if any(c == _GREY for c in colors.values()):
        handles.append(Line2D([], [], marker="o", ls="", color=_GREY, markersize=7, label="other genres"))
    role_handles = []
    if lab.any():
        role_handles.append(
            Line2D([], [], marker="o", ls="", mfc="white", mec="black", markersize=7, label="labelled film")
        )
    if rated.any():
        role_handles.append(
            Line2D(
                [], [], marker="o", ls="", mfc="white", mec="black", markersize=6, label=f"rated by user {emap.user}"
            )
        )
    if rec.any():
        role_handles.append(
            Line2D([], [], marker="*", ls="", color="#d62728", mec="black", markersize=12, label="recommended")
        )
    legend = ax.legend(
        handles=handles,
        title="main genre",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        title_fontsize=9.5,
        alignment="left",
    )
    if role_handles:
        ax.add_artist(legend)
        ax.legend(handles=role_handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False, fontsize=9)

    fig.canvas.draw()  # the constrained layout settles the axes size before labels are placed
    labelled = pts[pts["labelled"]].sort_values("order")
    if len(labelled):
        others = pts[(~pts["labelled"]) & (pts["role"] != "film")]
        label_points(
            ax,
            labelled["x"],
            labelled["y"],
            labelled["label"].tolist(),
            avoid_x=others["x"],
            avoid_y=others["y"],
            fontsize=fontsize,
        )
    fig.set_layout_engine("none")  # keep the axes where the labels were placed
    return fig


# --------------------------------------------------------------------------- plotly
def _fmt_mean(value: float) -> str:
    return "-" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}"


def map_html_figure(
    emap: EmbeddingMap,
    *,
    width: int = 1100,
    height: int = 780,
    max_genres: int = len(_PALETTE),
    fontsize: int = 10,
) -> Any:
    """The map as an interactive plotly ``Figure``: hover shows title, genres, number of ratings
    and mean; click a genre in the legend to hide it. Titles are HTML-escaped (they are data)."""
    import plotly.graph_objects as go

    pts = emap.points
    colors = emap.genre_colors(max_genres)
    fig = go.Figure()
    hover = (
        "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
        + "%{customdata[2]} ratings, mean %{customdata[3]}<extra></extra>"
    )

    def custom(frame: pd.DataFrame) -> list[list[str]]:
        return [
            [html.escape(str(t)), html.escape(str(g).replace("|", ", ") or "no genres"), f"{int(n):,}", _fmt_mean(m)]
            for t, g, n, m in zip(frame["title"], frame["genres"], frame["n_ratings"], frame["mean_rating"])
        ]

    plain = pts[pts["role"].isin(["film", "labelled"])]
    groups = [(g, [g], colors[g]) for g in colors if colors[g] != _GREY]
    grey = [g for g in colors if colors[g] == _GREY]
    if grey:
        groups.append(("other genres", grey, _GREY))
    for name, members, color in groups:
        sub = plain[plain["main_genre"].isin(members)]
        if sub.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                name=html.escape(name),
                marker=dict(color=color, size=7, opacity=0.6),
                customdata=custom(sub),
                hovertemplate=hover,
            )
        )
    for role, name, marker in (
        ("labelled", "labelled film", dict(symbol="circle-open", size=13, color="black", line=dict(width=2))),
        (
            "rated",
            f"rated by user {html.escape(str(emap.user))}",
            dict(symbol="circle-open", size=10, color="black", line=dict(width=1.5)),
        ),
        (
            "recommended",
            "recommended",
            dict(symbol="star", size=16, color="#d62728", line=dict(color="black", width=1)),
        ),
    ):
        sub = pts[pts["role"] == role]
        if len(sub):
            fig.add_trace(
                go.Scatter(
                    x=sub["x"],
                    y=sub["y"],
                    mode="markers",
                    name=name,
                    marker=marker,
                    customdata=custom(sub),
                    hovertemplate=hover,
                )
            )

    margin = dict(l=70, r=230, t=90, b=60)
    x0, x1 = float(pts["x"].min()), float(pts["x"].max())
    y0, y1 = float(pts["y"].min()), float(pts["y"].max())
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    xr = (x0 - _PAD * dx, x1 + _PAD * dx)
    yr = (y0 - _PAD * dy, y1 + _PAD * dy)
    plot_w = width - margin["l"] - margin["r"]
    plot_h = height - margin["t"] - margin["b"]
    labelled = pts[pts["labelled"]].sort_values("order")
    annotations = []
    if len(labelled):

        def to_px(x: Any, y: Any) -> NDArray[np.float64]:
            px = (np.asarray(x, dtype=np.float64) - xr[0]) / (xr[1] - xr[0]) * plot_w
            py = (np.asarray(y, dtype=np.float64) - yr[0]) / (yr[1] - yr[0]) * plot_h
            return np.column_stack([px, py])

        anchors = to_px(labelled["x"], labelled["y"])
        # plotly measures text in the browser; 0.56 em per character is close for its sans-serif
        lines = [str(t).split("\n") for t in labelled["label"]]
        sizes = np.array(
            [[0.56 * fontsize * max(len(x) for x in ls) + 6, fontsize * 1.3 * len(ls) + 4] for ls in lines]
        )
        others = pts[(~pts["labelled"]) & (pts["role"] != "film")]
        boxes = place_boxes(
            anchors,
            sizes,
            Box(0, 0, plot_w, plot_h),
            obstacles=to_px(others["x"], others["y"]) if len(others) else None,
            point_radius=6,
        )
        for (px, py), box, text, x, y in zip(anchors, boxes, labelled["label"], labelled["x"], labelled["y"]):
            cx, cy = box.x0 + box.width / 2, box.y0 + box.height / 2
            far = box.distance_to(px, py) > 9
            annotations.append(
                dict(
                    x=x,
                    y=y,
                    xref="x",
                    yref="y",
                    text="<br>".join(html.escape(t) for t in str(text).split("\n")),
                    showarrow=True,
                    ax=cx - px,
                    ay=-(cy - py),
                    axref="pixel",
                    ayref="pixel",
                    arrowhead=0,
                    arrowwidth=0.8,
                    arrowcolor="#555555" if far else "rgba(0,0,0,0)",
                    font=dict(size=fontsize, color="#222222"),
                    bgcolor="rgba(255,255,255,0.75)",
                    borderpad=1,
                )
            )
    xlabel, ylabel = emap.axis_labels()
    axis = dict(showgrid=False, zeroline=False, linecolor="#888888", showticklabels=emap.method == "pca")
    fig.update_layout(
        width=width,
        height=height,
        margin=margin,
        template="plotly_white",
        title=dict(
            text=f"{html.escape(emap.title)}<br><sup>{html.escape(emap.subtitle)}</sup>", x=0.01, xanchor="left"
        ),
        xaxis=dict(range=list(xr), title=xlabel, **axis),
        yaxis=dict(range=list(yr), title=ylabel, **axis),
        legend=dict(title=dict(text="main genre"), itemsizing="constant", x=1.02, y=1.0, xanchor="left"),
        annotations=annotations,
        hovermode="closest",
    )
    return fig


def save_map(emap: EmbeddingMap, path: str | Path, *, dpi: int = 150) -> Path:
    """Write the map to ``path``: ``.png``/``.svg`` (matplotlib) or ``.html`` (interactive, offline)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".html":
        return save_figure(map_html_figure(emap), path)
    if suffix in (".png", ".svg"):
        return save_figure(map_figure(emap), path, dpi=dpi)
    raise ConfigError(f"cannot write a map as {suffix or 'a file without extension'!r}; use .png, .svg or .html.")
