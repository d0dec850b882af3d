"""The loaded model as the service sees it: :class:`Catalog`, the one place the service talks to the model.

The catalog computes once what every request needs (id lookups, titles, genres, the film map as
``embrec plot map`` draws it) and answers with the model's public methods: top-N, similar films,
fold-in of new users, predicted ratings. What the loaded model cannot do is a
:class:`ServiceConflict` (409).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from fastapi.exceptions import RequestValidationError

from embrec.errors import EmbrecError, UnknownIdError
from embrec.evaluation.genres import genre_matrix
from embrec.evaluation.rerank import mmr_rerank
from embrec.models.base import Recommender
from embrec.service import schemas as s
from embrec.service.words import describe_data
from embrec.viz.maps import pca_layout

if TYPE_CHECKING:
    from embrec.data.options import DataOptions

__all__ = ["MMR_CANDIDATES", "Catalog", "ServiceConflict"]

log = logging.getLogger(__name__)

#: Candidates (model's top items) the MMR diversity re-ranking picks from.
MMR_CANDIDATES = 100
_NO_GENRES = {"", "(no genres listed)"}


class ServiceConflict(EmbrecError):
    """The loaded model cannot answer this request (for example ratings from a ranking model)."""


class Catalog:
    """A loaded model with what every request needs computed once: lookups, metadata, the map.

    Everything here is read-only after construction, so request threads share it freely.
    """

    def __init__(self, model: Recommender, *, data: DataOptions | None = None) -> None:
        """``data``: the options the run was trained with (:attr:`embrec.runs.Run.data_options`), which tell
        MovieLens films from other items (:func:`~embrec.service.words.describe_data`)."""
        self.model = model
        self.item_ids: list[int | str] = _native_ids(model.item_ids_)
        self.user_ids: list[int | str] = _native_ids(model.user_ids_)
        self._item_pos = {str(x): i for i, x in enumerate(self.item_ids)}
        self._user_pos = {str(x): i for i, x in enumerate(self.user_ids)}
        self.titles = model.titles(range(len(self.item_ids)))
        self._folded = [t.casefold() for t in self.titles]
        self._read_metadata(model.item_metadata_)
        self.n_ratings = np.bincount(model.seen_.tocsr().indices, minlength=len(self.item_ids)).astype(np.int64)
        self._popular = np.argsort(-self.n_ratings, kind="stable").tolist()
        self.data = describe_data(data, self.titles, self._popular[0])
        scale = model.rating_scale_
        self.rating_scale: tuple[float, float] | None = (float(scale[0]), float(scale[1])) if scale else None
        self.predicts_ratings = bool(model.predicts_ratings)
        self.can_fold_in = bool(model.can_fold_in)
        vectors = model.item_vectors()
        self.has_vectors = vectors is not None
        self._mmr = _diversity_features(vectors, model.item_metadata_, len(self.item_ids))
        self._fold_in_cached = lru_cache(maxsize=1024)(self._fold_in)
        self.map_json = self._map_json() if self.has_vectors else None
        if self.can_fold_in:
            self._warm_up_fold_in()

    def _read_metadata(self, meta: pd.DataFrame | None) -> None:
        years, genres, means = (
            _metadata_column(meta, name, len(self.item_ids)) for name in ("year", "genres", "mean_rating")
        )
        self.years: list[int | None] = [None if _missing(y) else int(y) for y in years]
        self.genres: list[list[str]] = [_split_genres(g) for g in genres]
        self.mean_ratings: list[float | None] = [None if _missing(m) else float(m) for m in means]

    def _warm_up_fold_in(self) -> None:
        # the optimiser's first run imports and sets up much of torch: spend that here, not on a user
        try:
            self._fold_in(((int(self._popular[0]), self.rating_scale[1] if self.rating_scale else 1.0),))
        except EmbrecError as exc:  # pragma: no cover - a model that cannot fold in says so per request
            log.warning("warming up the fold-in failed: %s", exc)

    # ------------------------------------------------------------------ ids
    def item_pos(self, item: Any) -> int:
        """Index of a film id (text or number); :class:`UnknownIdError` naming it when unknown."""
        pos = self._item_pos.get(str(item))
        if pos is None:  # "007" for 7, say: the model's own lookup converts, or words the error
            pos = int(self.model.item_index([item])[0])
        return pos

    def user_pos(self, user: Any) -> int:
        pos = self._user_pos.get(str(user))
        if pos is None:
            try:
                pos = int(self.model.user_index([user])[0])
            except UnknownIdError as exc:
                raise UnknownIdError(
                    f"{exc} Users created through this service are under /api/new-users/{{id}}."
                ) from None
        return pos

    def known_item(self, key: str) -> int | None:
        """Index of a film stored by its id text, or ``None`` when the model does not know it."""
        return self._item_pos.get(key)

    def item_key(self, pos: int) -> str:
        """How a film is stored in the database: its id as text."""
        return str(self.item_ids[pos])

    # ------------------------------------------------------------------ films
    def film(self, i: int) -> dict[str, Any]:
        return {
            "item": self.item_ids[i],
            "title": self.titles[i],
            "year": self.years[i],
            "genres": self.genres[i],
            "n_ratings": int(self.n_ratings[i]),
        }

    def details(self, i: int) -> s.FilmDetails:
        return s.FilmDetails(**self.film(i), mean_rating=self.mean_ratings[i])

    def search(self, query: str, limit: int) -> s.SearchResults:
        needle = query.strip().casefold()
        order = self._popular if not needle else [i for i in self._popular if needle in self._folded[i]]
        return s.SearchResults(query=query, total=len(order), results=[s.Film(**self.film(i)) for i in order[:limit]])

    def similar(self, i: int, n: int) -> s.SimilarFilms:
        if not self.has_vectors:
            raise ServiceConflict(
                f"model {self.model.name!r} has no item vectors, so it cannot find similar {self.data.items}."
            )
        idx, sims = self.model.similar_indexes(i, n, retrieval="auto")
        results = [
            s.SimilarFilm(**self.film(j), rank=r + 1, similarity=v)
            for r, (j, v) in enumerate(zip(idx.tolist(), sims.tolist()))
        ]
        return s.SimilarFilms(item=self.item_ids[i], title=self.titles[i], results=results)

    # ------------------------------------------------------------------ recommendations
    def _ranked(self, items: np.ndarray, scores: np.ndarray, n: int, diversity: float) -> list[s.Recommendation]:
        keep = (items >= 0) & np.isfinite(scores)
        items, scores = items[keep], scores[keep]
        if diversity > 0 and len(items) > 1:
            if self._mmr is None:
                raise ServiceConflict(
                    f"model {self.model.name!r} has neither item vectors nor genres, so lambda={diversity:g} "
                    "(diversity) cannot be applied; leave lambda at 0."
                )
            features, metric = self._mmr
            # MMR over the candidates' own rows: the similarity work stays (candidates x candidates)
            picked = mmr_rerank(
                np.arange(len(items))[None, :],
                scores[None, :].astype(np.float64),
                features[items],
                lam=diversity,
                k=n,
                metric=metric,
            )[0]
            picked = picked[picked >= 0]
            items, scores = items[picked], scores[picked]
        return [
            s.Recommendation(**self.film(int(i)), rank=r + 1, score=float(v))
            for r, (i, v) in enumerate(zip(items[:n].tolist(), scores[:n].tolist()))
        ]

    def _width(self, n: int, diversity: float) -> int:
        return n if diversity == 0 else max(n, MMR_CANDIDATES)

    def recommend(self, user: int, n: int, diversity: float) -> list[s.Recommendation]:
        """Top-``n`` for a training user, films they rated left out, scored as ``model.recommend`` shows them."""
        # retrieval="auto": an approximate index for catalogues large enough that it pays (embrec.retrieval)
        items, scores = self.model.recommend_indexes(
            np.asarray([user], dtype=np.int64), self._width(n, diversity), retrieval="auto"
        )
        return self._ranked(items[0], scores[0], n, diversity)

    def _fold_in(self, ratings: tuple[tuple[int, float], ...]) -> tuple[np.ndarray, float]:
        items = self.model.item_ids_[np.asarray([i for i, _ in ratings], dtype=np.int64)]
        vector, bias = self.model.fold_in(items, [r for _, r in ratings])
        return vector, float(bias)

    def _folded_in(self, ratings: Sequence[tuple[int, float]]) -> tuple[np.ndarray, float]:
        # the same ratings give the same vector: a page changing lambda does not fold in again
        return self._fold_in_cached(tuple(sorted(ratings)))

    def require_fold_in(self) -> None:
        if not self.can_fold_in:
            raise ServiceConflict(
                f"model {self.model.name!r} cannot fold new users in; serve an embedding model "
                "(embrec train --model embedding) for new-user recommendations."
            )

    def recommend_new_user(
        self, ratings: Sequence[tuple[int, float]], n: int, diversity: float
    ) -> list[s.Recommendation]:
        """Top-``n`` for a new user folded in from (item index, rating) pairs, their films left out."""
        self.require_fold_in()
        if not ratings:
            return []
        vector, bias = self._folded_in(ratings)
        items, scores = self.model.recommend_new_user_indexes(
            vector, bias, self._width(n, diversity), exclude=[i for i, _ in ratings]
        )
        return self._ranked(items, scores, n, diversity)

    def predict(self, user: int, item: int) -> float:
        self.require_ratings()
        return float(self.model.predict(self.model.user_ids_[[user]], self.model.item_ids_[[item]])[0])

    def predict_new_user(self, ratings: Sequence[tuple[int, float]], item: int) -> float:
        self.require_ratings()
        self.require_fold_in()
        if not ratings:
            raise ServiceConflict(
                f"this new user has rated nothing yet; rate {_a(self.data.item)} first, then ask for predictions."
            )
        vector, bias = self._folded_in(ratings)
        return float(self.model.predict_new_user(vector, bias, self.model.item_ids_[[item]])[0])

    def require_ratings(self) -> tuple[float, float]:
        """The rating scale, or 409 when the model does not predict ratings."""
        if not self.predicts_ratings or self.rating_scale is None:
            objective = getattr(getattr(self.model, "resolved_config_", None), "objective", None)
            kind = f"a {objective} model" if objective else f"model {self.model.name!r}"
            raise ServiceConflict(
                f"the service runs {kind}, which ranks {self.data.items} but does not predict ratings; serve a rating model "
                "(embrec train --objective rating) for predicted ratings, or ask for recommendations."
            )
        return self.rating_scale

    def check_ratings(self, body: s.RatingsIn, *, single: bool = False) -> list[tuple[int, float]]:
        """(item index, rating) pairs of a request, or 404/422 before anything is written."""
        pairs: list[tuple[int, float]] = []
        errors: list[dict[str, Any]] = []
        seen: set[int] = set()
        for k, r in enumerate(body.ratings):
            loc = ("body",) if single else ("body", "ratings", k)
            pos = self.item_pos(r.item)
            errors += self._rating_errors(loc, r, twice=pos in seen)
            seen.add(pos)
            pairs.append((pos, float(r.rating)))
        if errors:
            raise RequestValidationError(errors)
        return pairs

    def _rating_errors(self, loc: tuple[Any, ...], r: s.RatingIn, *, twice: bool) -> list[dict[str, Any]]:
        errors = []
        if self.rating_scale is not None and not self.rating_scale[0] <= r.rating <= self.rating_scale[1]:
            lo, hi = self.rating_scale
            message = (
                f"rating {r.rating:g} of item {r.item!r} is outside the model's scale {lo:g}-{hi:g}; "
                f"give a rating from {lo:g} to {hi:g}."
            )
            errors.append(_error((*loc, "rating"), r.rating, message))
        if twice:
            message = f"item {r.item!r} is rated twice in one request; send each {self.data.item} once."
            errors.append(_error((*loc, "item"), r.item, message))
        return errors

    # ------------------------------------------------------------------ the map
    def _map_json(self) -> bytes:
        # the same projection as `embrec plot map --method pca`: one function, one set of axes
        layout = pca_layout(self.model)
        xs, ys = np.round(layout.coords[:, 0], 4).tolist(), np.round(layout.coords[:, 1], 4).tolist()
        points = [
            s.MapPoint(
                item=self.item_ids[i],
                title=self.titles[i],
                genres=self.genres[i],
                n_ratings=int(self.n_ratings[i]),
                x=xs[i],
                y=ys[i],
            )
            for i in range(len(xs))
        ]
        film_map = s.FilmMap(
            explained_variance=layout.explained_variance, min_ratings=layout.min_ratings, points=points
        )
        return film_map.model_dump_json(by_alias=True).encode()


def _diversity_features(
    vectors: np.ndarray | None, meta: pd.DataFrame | None, n_items: int
) -> tuple[Any, Literal["cosine", "jaccard"]] | None:
    """What MMR measures similarity by: item vectors, or shared genres for models without them."""
    if vectors is not None:
        return np.ascontiguousarray(vectors, dtype=np.float32), "cosine"
    genres = genre_matrix(meta) if meta is not None and len(meta) == n_items else None
    return None if genres is None else (genres.toarray(), "jaccard")


def _metadata_column(meta: pd.DataFrame | None, name: str, n_items: int) -> list[Any]:
    """A metadata column as Python objects; ``None`` for every item when the metadata lacks it."""
    if meta is None or len(meta) != n_items or name not in meta.columns:
        return [None] * n_items
    return list(meta[name].to_numpy(dtype=object))


def _native_ids(ids: np.ndarray) -> list[int | str]:
    return [int(x) for x in ids] if ids.dtype.kind in "iu" else [str(x) for x in ids]


def _missing(value: Any) -> bool:
    return value is None or value is np.nan or (isinstance(value, float) and math.isnan(value)) or str(value) == "<NA>"


def _split_genres(value: Any) -> list[str]:
    if _missing(value):
        return []
    return [g for g in str(value).split("|") if g.strip() not in _NO_GENRES]


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _error(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": message, "input": value}
