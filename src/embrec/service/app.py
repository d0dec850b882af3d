"""The web service: a saved run behind a small JSON API, and the page that uses it.

:func:`create_app` builds the FastAPI app; the model is loaded in the app's lifespan (never at
import) together with what the hot paths need precomputed: id lookups, titles, genres, the film
map (:func:`embrec.viz.maps.pca_layout`, as ``embrec plot map``). Scores, similar films and
new users come from the model's public methods. :func:`run_server` serves it with uvicorn
(``embrec serve``). Endpoints that compute are plain functions, so FastAPI runs them in its
thread pool and the event loop stays free.

Every id in a path or body is the dataset's own id. Unknown ids answer 404, ratings off the
model's scale and malformed bodies 422, things the loaded model cannot do 409, and a failing
database 503, always as ``{"detail": "..."}`` naming what was wrong.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import torch
from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embrec.errors import EmbrecError, UnknownIdError
from embrec.evaluation.genres import genre_matrix
from embrec.evaluation.rerank import mmr_rerank
from embrec.models.base import Recommender
from embrec.service import schemas as s
from embrec.service.storage import NewUser, Storage, StorageError, default_db_url
from embrec.viz.maps import pca_layout

__all__ = ["MAX_N", "Catalog", "ServiceConflict", "create_app", "run_server"]

log = logging.getLogger(__name__)

#: Longest list any endpoint returns.
MAX_N = 100
#: Candidates (model's top items) the MMR diversity re-ranking picks from.
MMR_CANDIDATES = 100
_NO_GENRES = {"", "(no genres listed)"}
# FastAPI's interactive docs load Swagger UI / ReDoc from a CDN, which the page's policy forbids
_DOCS_PAGES = {"/docs", "/docs/oauth2-redirect", "/redoc"}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ServiceConflict(EmbrecError):
    """The loaded model cannot answer this request (for example ratings from a ranking model)."""


# --------------------------------------------------------------------------- the model, precomputed
class Catalog:
    """A loaded model with what every request needs computed once: lookups, metadata, the map.

    Everything here is read-only after construction, so request threads share it freely.
    """

    def __init__(self, model: Recommender) -> None:
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
            raise ServiceConflict(f"model {self.model.name!r} has no item vectors, so it cannot find similar films.")
        idx, sims = self.model.similar_indexes(i, n)
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
        items, scores = self.model.recommend_indexes(np.asarray([user], dtype=np.int64), self._width(n, diversity))
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
            raise ServiceConflict("this new user has rated nothing yet; rate a film first, then ask for predictions.")
        vector, bias = self._folded_in(ratings)
        return float(self.model.predict_new_user(vector, bias, self.model.item_ids_[[item]])[0])

    def require_ratings(self) -> tuple[float, float]:
        """The rating scale, or 409 when the model does not predict ratings."""
        if not self.predicts_ratings or self.rating_scale is None:
            objective = getattr(self.model.config, "objective", None)
            kind = f"a {objective} model" if objective else f"model {self.model.name!r}"
            raise ServiceConflict(
                f"the service runs {kind}, which ranks films but does not predict ratings; serve a rating model "
                "(embrec train --objective rating) for predicted ratings, or ask for recommendations."
            )
        return self.rating_scale

    def check_ratings(self, body: s.RatingsIn, *, single: bool = False) -> list[tuple[int, float]]:
        """(item index, rating) pairs of a request, or 404/422 before anything is written."""
        pairs: list[tuple[int, float]] = []
        where: Callable[[int], tuple[Any, ...]] = (
            (lambda k: ("body",)) if single else (lambda k: ("body", "ratings", k))
        )
        errors: list[dict[str, Any]] = []
        seen: set[int] = set()
        for k, r in enumerate(body.ratings):
            pos = self.item_pos(r.item)
            if self.rating_scale is not None and not self.rating_scale[0] <= r.rating <= self.rating_scale[1]:
                lo, hi = self.rating_scale
                errors.append(
                    _error(
                        (*where(k), "rating"),
                        r.rating,
                        f"rating {r.rating:g} of item {r.item!r} is outside the model's scale {lo:g}-{hi:g}; "
                        f"give a rating from {lo:g} to {hi:g}.",
                    )
                )
            if pos in seen:
                errors.append(
                    _error(
                        (*where(k), "item"),
                        r.item,
                        f"item {r.item!r} is rated twice in one request; send each film once.",
                    )
                )
            seen.add(pos)
            pairs.append((pos, float(r.rating)))
        if errors:
            raise RequestValidationError(errors)
        return pairs

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


def _error(loc: tuple[Any, ...], value: Any, message: str) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": message, "input": value}


# --------------------------------------------------------------------------- app state and helpers
@dataclass
class ServiceState:
    catalog: Catalog
    storage: Storage

    def stored_pairs(self, user: NewUser) -> list[tuple[int, float]]:
        """(item index, rating) of a new user's stored ratings; films the model does not know are skipped."""
        pairs = []
        for r in user.ratings:
            pos = self.catalog.known_item(r.item)
            if pos is None:
                log.warning("new user %s rated item %r, which the loaded model does not know; skipped", user.id, r.item)
                continue
            pairs.append((pos, r.rating))
        return pairs

    def user_state(self, user: NewUser) -> dict[str, Any]:
        rated = []
        for r in user.ratings:
            pos = self.catalog.known_item(r.item)
            if pos is not None:
                rated.append(s.RatedFilm(**self.catalog.film(pos), rating=r.rating, rated_at=r.rated_at))
        return {"user_id": user.id, "created_at": user.created_at, "ratings": rated}

    def with_recommendations(self, user: NewUser, n: int, diversity: float) -> s.NewUserRatings:
        recs = self.catalog.recommend_new_user(self.stored_pairs(user), n, diversity)
        return s.NewUserRatings(**self.user_state(user), n=n, diversity=diversity, recommendations=recs)


def _state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(_state)]
ItemId = Annotated[str, PathParam(min_length=1, max_length=200, description="A film's id, e.g. 260.")]
UserId = Annotated[str, PathParam(min_length=1, max_length=200, description="A user id of the training data.")]
NewUserId = Annotated[str, PathParam(min_length=1, max_length=64, description="An id from POST /api/new-users.")]
N = Annotated[int, Query(ge=1, le=MAX_N, description=f"List length, 1 to {MAX_N}.")]
Diversity = Annotated[
    float,
    Query(
        alias="lambda",
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="MMR diversity weight from 0 (the model's order) to 1.",
    ),
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": s.ErrorMessage, "description": "An id is unknown."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": s.ErrorMessage, "description": "The loaded model cannot do this."}
}
_STORAGE: dict[int | str, dict[str, Any]] = {503: {"model": s.ErrorMessage, "description": "The database failed."}}


class _SecurityHeaders:
    """Headers that keep the page's data from ever running as code (CSP) or being sniffed as HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _DOCS_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", _CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # a NaN sent as a rating comes back as "nan", not as invalid JSON
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, status_code=422)


def _message(status: int) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


# --------------------------------------------------------------------------- the app
def create_app(run_path: str | Path, *, db_url: str | None = None) -> FastAPI:
    """The FastAPI app serving the run in ``run_path``.

    Nothing is read until the app starts: its lifespan loads the model, precomputes the
    :class:`Catalog` and opens the database (``db_url``; default a SQLite file beside the run,
    see :func:`~embrec.service.storage.default_db_url`).
    """
    run_path = Path(run_path)
    url = db_url or default_db_url(run_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from embrec.runs import Run

        model = Run.open(run_path).model
        catalog = Catalog(model)
        storage = Storage(url)
        app.state.service = ServiceState(catalog, storage)
        app.state.index_html = (resources.files("embrec.service") / "static" / "index.html").read_text(encoding="utf-8")
        log.info(
            "serving %s (%s, %d items) with new users in %s",
            run_path,
            model.name,
            len(catalog.item_ids),
            storage.describe(),
        )
        try:
            yield
        finally:
            storage.close()

    app = FastAPI(
        title="embrec",
        summary="Recommendations, similar films, and new users rating their way in.",
        version=_version(),
        lifespan=lifespan,
    )
    app.add_middleware(_SecurityHeaders)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UnknownIdError, _message(404))
    app.add_exception_handler(ServiceConflict, _message(409))
    app.add_exception_handler(StorageError, _message(503))
    app.add_exception_handler(EmbrecError, _message(400))
    app.mount("/static", StaticFiles(packages=[("embrec.service", "static")]), name="static")

    @app.get("/", include_in_schema=False)
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(request.app.state.index_html)

    @app.get("/api/health", response_model=s.Health, tags=["service"])
    async def health(state: State) -> s.Health:
        """What the service runs, and what it can answer."""
        c = state.catalog
        return s.Health(
            status="ok",
            model=c.model.name,
            objective=getattr(c.model.config, "objective", None),
            n_users=len(c.user_ids),
            n_items=len(c.item_ids),
            rating_scale=c.rating_scale,
            predicts_ratings=c.predicts_ratings,
            can_fold_in=c.can_fold_in,
            has_map=c.map_json is not None,
            max_n=MAX_N,
            storage=state.storage.dialect,
        )

    # ------------------------------------------------------------------ films
    @app.get("/api/films", response_model=s.SearchResults, tags=["films"])
    def search_films(
        state: State,
        q: Annotated[
            str, Query(max_length=200, description="Part of a title, any case; empty: the most rated films.")
        ] = "",
        limit: Annotated[int, Query(ge=1, le=MAX_N, description=f"Most results, 1 to {MAX_N}.")] = 20,
    ) -> s.SearchResults:
        """Films whose title contains ``q`` (case-insensitive), most rated first."""
        return state.catalog.search(q, limit)

    @app.get("/api/films/{item_id}", response_model=s.FilmDetails, responses=_NOT_FOUND, tags=["films"])
    def film(state: State, item_id: ItemId) -> s.FilmDetails:
        """A film's title, year, genres and number of training ratings."""
        return state.catalog.details(state.catalog.item_pos(item_id))

    @app.get(
        "/api/films/{item_id}/similar",
        response_model=s.SimilarFilms,
        responses={**_NOT_FOUND, **_CONFLICT},
        tags=["films"],
    )
    def similar_films(state: State, item_id: ItemId, n: N = 10) -> s.SimilarFilms:
        """The ``n`` films closest to this one (cosine similarity of item vectors)."""
        return state.catalog.similar(state.catalog.item_pos(item_id), n)

    @app.get("/api/map", response_model=s.FilmMap, responses=_CONFLICT, tags=["films"])
    async def film_map(state: State) -> Response:
        """2-D coordinates of every film: the first two principal components of the unit-length item vectors
        (fitted on the films with at least ``min_ratings`` training ratings), as ``embrec plot map`` draws them."""
        if state.catalog.map_json is None:
            raise ServiceConflict(f"model {state.catalog.model.name!r} has no item vectors, so there is no film map.")
        return Response(state.catalog.map_json, media_type="application/json")

    # ------------------------------------------------------------------ users of the training data
    @app.get(
        "/api/users/{user_id}/recommendations",
        response_model=s.Recommendations,
        responses={**_NOT_FOUND, **_CONFLICT},
        tags=["users"],
    )
    def recommend(state: State, user_id: UserId, n: N = 10, diversity: Diversity = 0.0) -> s.Recommendations:
        """Top-``n`` films for a user of the training data, films they rated left out."""
        c = state.catalog
        u = c.user_pos(user_id)
        return s.Recommendations(
            user=c.user_ids[u], n=n, diversity=diversity, recommendations=c.recommend(u, n, diversity)
        )

    @app.get(
        "/api/users/{user_id}/predictions/{item_id}",
        response_model=s.Prediction,
        responses={**_NOT_FOUND, **_CONFLICT},
        tags=["users"],
    )
    def predict(state: State, user_id: UserId, item_id: ItemId) -> s.Prediction:
        """The rating the model predicts this user gives this film (rating models only)."""
        c = state.catalog
        u, i = c.user_pos(user_id), c.item_pos(item_id)
        scale = c.require_ratings()
        rating = c.predict(u, i)
        return s.Prediction(
            user=c.user_ids[u], item=c.item_ids[i], title=c.titles[i], rating=rating, rating_scale=scale
        )

    # ------------------------------------------------------------------ new users
    @app.post(
        "/api/new-users",
        response_model=s.NewUserState,
        status_code=201,
        responses={**_CONFLICT, **_STORAGE},
        tags=["new users"],
    )
    def create_new_user(state: State) -> s.NewUserState:
        """Create a new user (no ratings yet); keep the returned ``user_id``."""
        state.catalog.require_fold_in()
        return s.NewUserState(**state.user_state(state.storage.create_user()))

    @app.get(
        "/api/new-users/{user_id}",
        response_model=s.NewUserState,
        responses={**_NOT_FOUND, **_STORAGE},
        tags=["new users"],
    )
    def get_new_user(state: State, user_id: NewUserId) -> s.NewUserState:
        """A new user's stored ratings, newest first."""
        return s.NewUserState(**state.user_state(state.storage.get_user(user_id)))

    @app.post(
        "/api/new-users/{user_id}/ratings",
        response_model=s.NewUserRatings,
        responses={**_NOT_FOUND, **_CONFLICT, **_STORAGE},
        tags=["new users"],
    )
    def rate(
        state: State,
        user_id: NewUserId,
        body: Annotated[s.RatingsBody, Body(description='One rating, or {"ratings": [...]} for several.')],
        n: N = 10,
        diversity: Diversity = 0.0,
    ) -> s.NewUserRatings:
        """Store ratings (all or none; rating a film again replaces it) and return recommendations folded in
        from every rating the user has stored."""
        state.catalog.require_fold_in()
        many = s.RatingsIn(ratings=[body]) if isinstance(body, s.RatingIn) else body
        pairs = state.catalog.check_ratings(many, single=isinstance(body, s.RatingIn))
        user = state.storage.add_ratings(user_id, [(state.catalog.item_key(i), r) for i, r in pairs])
        return state.with_recommendations(user, n, diversity)

    @app.delete(
        "/api/new-users/{user_id}/ratings/{item_id}",
        response_model=s.NewUserRatings,
        responses={**_NOT_FOUND, **_CONFLICT, **_STORAGE},
        tags=["new users"],
    )
    def unrate(
        state: State, user_id: NewUserId, item_id: ItemId, n: N = 10, diversity: Diversity = 0.0
    ) -> s.NewUserRatings:
        """Forget one rating and return the recommendations from the ratings left."""
        state.catalog.require_fold_in()
        key = state.catalog.item_key(state.catalog.item_pos(item_id))
        return state.with_recommendations(state.storage.delete_rating(user_id, key), n, diversity)

    @app.get(
        "/api/new-users/{user_id}/recommendations",
        response_model=s.NewUserRatings,
        responses={**_NOT_FOUND, **_CONFLICT, **_STORAGE},
        tags=["new users"],
    )
    def recommend_new_user(state: State, user_id: NewUserId, n: N = 10, diversity: Diversity = 0.0) -> s.NewUserRatings:
        """Recommendations folded in from every rating the new user has stored."""
        state.catalog.require_fold_in()
        return state.with_recommendations(state.storage.get_user(user_id), n, diversity)

    @app.get(
        "/api/new-users/{user_id}/predictions/{item_id}",
        response_model=s.Prediction,
        responses={**_NOT_FOUND, **_CONFLICT, **_STORAGE},
        tags=["new users"],
    )
    def predict_new_user(state: State, user_id: NewUserId, item_id: ItemId) -> s.Prediction:
        """The rating a rating model predicts for a new user, from the ratings they stored."""
        c = state.catalog
        i = c.item_pos(item_id)
        scale = c.require_ratings()
        user = state.storage.get_user(user_id)
        rating = c.predict_new_user(state.stored_pairs(user), i)
        return s.Prediction(user=user.id, item=c.item_ids[i], title=c.titles[i], rating=rating, rating_scale=scale)

    return app


def _version() -> str:
    from embrec import __version__

    return str(__version__)


def run_server(
    run_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    db_url: str | None = None,
    threads: int = 1,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve ``run_path`` with uvicorn until interrupted (what ``embrec serve`` runs).

    ``threads`` caps torch's and numpy's CPU threads: one request's small matrix products gain
    nothing from more, and requests served side by side would fight over the cores.
    """
    import uvicorn

    torch.set_num_threads(threads)
    try:  # numpy's BLAS too: its idle threads spinning for cores other work holds cost whole milliseconds
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    uvicorn.run(
        create_app(run_path, db_url=db_url),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        server_header=False,
    )
