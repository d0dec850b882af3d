"""Item vectors to 2-D: PCA, t-SNE or UMAP (:func:`project`) and a model's PCA map (:func:`pca_layout`).

Vectors are scaled to unit length first (``normalize=True``), so a map shows the cosine
geometry that ``similar_items`` uses. PCA's axes can be fitted on some rows (the films with
enough ratings) and every row placed on them; t-SNE and UMAP are fitted on the rows given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from embrec.errors import ConfigError, DataError
from embrec.extras import require
from embrec.models.base import Recommender

__all__ = ["MapMethod", "METHODS", "METHOD_NAMES", "PcaLayout", "project", "pca_layout", "train_counts"]

MapMethod = Literal["pca", "tsne", "umap"]
METHODS: tuple[str, ...] = ("pca", "tsne", "umap")
#: How each method is written in titles and axis labels.
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: Fewer films than this with enough ratings to shape PCA's axes, and every film shapes them.
_MIN_AXIS_FILMS = 3


def check_method(method: str) -> None:
    """Raise :class:`ConfigError` unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise ConfigError(f"map method {method!r} is not allowed; use one of {', '.join(METHODS)}.")


def check_min_ratings(min_ratings: Any) -> None:
    """Raise :class:`ConfigError` unless ``min_ratings`` is an integer >= 0."""
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, (int, np.integer)) or min_ratings < 0:
        raise ConfigError(f"min_ratings must be an integer >= 0, got {min_ratings!r}.")


def model_vectors(model: Recommender, *, caller: str) -> NDArray[Any]:
    """The item vectors of a fitted embedding model; ``caller`` names the function in errors."""
    if not isinstance(model, Recommender):
        raise ConfigError(f"{caller} takes a fitted Recommender, got {type(model).__name__}.")
    model._check_fitted()
    vectors = model.item_vectors()
    if vectors is None:
        raise ConfigError(f"model {model.name!r} has no item embeddings to map; train an embedding model.")
    return np.asarray(vectors)


def train_counts(model: Recommender) -> NDArray[Any]:
    """Training ratings per item of a fitted model, in its item order."""
    return np.asarray(model.seen_.sum(axis=0)).ravel()


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
    check_method(method)
    x = _prepared(vectors, normalize)
    n = x.shape[0]
    if method == "pca":
        mask = np.ones(n, dtype=bool) if fit is None else np.asarray(fit, dtype=bool)
        if mask.shape != (n,):
            raise DataError(f"fit must be a boolean mask of the {n} vectors, got shape {mask.shape}.")
        return _pca(x, mask)
    if fit is not None:
        raise ConfigError(f"fit= shapes PCA's axes only; leave it out for method {method!r}.")
    if n < 4:
        raise DataError(f"{METHOD_NAMES[method]} needs at least 4 films, got {n}; use method 'pca'.")
    if method == "tsne":
        return _tsne(x, seed, perplexity)
    return _umap(x, seed, n_neighbors)


def _prepared(vectors: Any, normalize: bool) -> NDArray[np.float64]:
    """Checked float vectors, unit length when ``normalize``, at least two columns wide."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise DataError(f"a map needs at least 2 vectors in a 2-D array, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise DataError("the item vectors hold NaN or infinite values; retrain the model.")
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms > 0, norms, 1.0)
    if x.shape[1] < 2:
        x = np.hstack([x, np.zeros((x.shape[0], 2 - x.shape[1]))])
    return x


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


def _tsne(x: NDArray[np.float64], seed: int, perplexity: float | None) -> tuple[NDArray[np.float64], dict[str, Any]]:
    from sklearn.manifold import TSNE

    perp = float(perplexity) if perplexity is not None else min(30.0, (len(x) - 1) / 3.0)
    tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto", random_state=seed)
    return np.asarray(tsne.fit_transform(x), dtype=np.float64), {"perplexity": perp}


def _umap(x: NDArray[np.float64], seed: int, n_neighbors: int | None) -> tuple[NDArray[np.float64], dict[str, Any]]:
    require("viz", "an embedding map by UMAP (or use method 'tsne' or 'pca')", ("umap",))
    with warnings.catch_warnings():
        # umap and numba announce deprecations of their own dependencies on import
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import umap
    k = int(n_neighbors) if n_neighbors is not None else min(15, len(x) - 1)
    reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=0.1, metric="euclidean", random_state=seed, n_jobs=1)
    with warnings.catch_warnings():
        # small inputs make UMAP fall back to exact neighbours and say so; spectral init may warn too
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        coords = reducer.fit_transform(x)
    return np.asarray(coords, dtype=np.float64), {"n_neighbors": k}


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
    vectors = model_vectors(model, caller="pca_layout")
    check_min_ratings(min_ratings)
    fit = train_counts(model) >= min_ratings
    if fit.sum() < _MIN_AXIS_FILMS:
        fit[:], min_ratings = True, 0
    coords, info = project(vectors, "pca", normalize=normalize, fit=fit)
    ev = info["explained_variance"]
    return PcaLayout(coords=coords, explained_variance=(ev[0], ev[1]), min_ratings=int(min_ratings))
