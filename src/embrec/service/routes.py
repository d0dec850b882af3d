"""The service's endpoints: the page, health, films, users of the training data and new users.

Every id in a path or body is the dataset's own id. Endpoints that compute are plain functions,
so FastAPI runs them in its thread pool and the event loop stays free. :func:`add_routes` puts
them on the app: the whole API at a glance, with the error answers each endpoint can give
(:mod:`embrec.service.middleware` maps the errors to those statuses). A new endpoint is a
function here and a line in :func:`add_routes`, and a new body is a model in
:mod:`embrec.service.schemas`.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from embrec.service import schemas as s
from embrec.service.catalog import ServiceConflict
from embrec.service.middleware import answers
from embrec.service.state import State

__all__ = ["MAX_N", "add_routes"]

#: Longest list any endpoint returns.
MAX_N = 100

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


# --------------------------------------------------------------------------- the service
async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(request.app.state.index_html)


async def health(state: State) -> s.Health:
    """What the service runs, and what it can answer."""
    c = state.catalog
    return s.Health(
        status="ok",
        model=c.model.name,
        objective=_trained_objective(c.model),
        n_users=len(c.user_ids),
        n_items=len(c.item_ids),
        rating_scale=c.rating_scale,
        predicts_ratings=c.predicts_ratings,
        can_fold_in=c.can_fold_in,
        has_map=c.map_json is not None,
        max_n=MAX_N,
        storage=state.storage.dialect,
        data=c.data,
    )


# --------------------------------------------------------------------------- films
def search_films(
    state: State,
    q: Annotated[
        str, Query(max_length=200, description="Part of a title, any case; empty: the most rated films.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_N, description=f"Most results, 1 to {MAX_N}.")] = 20,
) -> s.SearchResults:
    """Films whose title contains ``q`` (case-insensitive), most rated first."""
    return state.catalog.search(q, limit)


def film(state: State, item_id: ItemId) -> s.FilmDetails:
    """A film's title, year, genres and number of training ratings."""
    return state.catalog.details(state.catalog.item_pos(item_id))


def similar_films(state: State, item_id: ItemId, n: N = 10) -> s.SimilarFilms:
    """The ``n`` films closest to this one (cosine similarity of item vectors)."""
    return state.catalog.similar(state.catalog.item_pos(item_id), n)


async def film_map(state: State) -> Response:
    """2-D coordinates of every film: the first two principal components of the unit-length item vectors
    (fitted on the films with at least ``min_ratings`` training ratings), as ``embrec plot map`` draws them."""
    if state.catalog.map_json is None:
        raise ServiceConflict(
            f"model {state.catalog.model.name!r} has no item vectors, so there is no map of its {state.catalog.data.items}."
        )
    return Response(state.catalog.map_json, media_type="application/json")


# --------------------------------------------------------------------------- users of the training data
def recommend(state: State, user_id: UserId, n: N = 10, diversity: Diversity = 0.0) -> s.Recommendations:
    """Top-``n`` films for a user of the training data, films they rated left out."""
    c = state.catalog
    u = c.user_pos(user_id)
    return s.Recommendations(user=c.user_ids[u], n=n, diversity=diversity, recommendations=c.recommend(u, n, diversity))


def predict(state: State, user_id: UserId, item_id: ItemId) -> s.Prediction:
    """The rating the model predicts this user gives this film (rating models only)."""
    c = state.catalog
    u, i = c.user_pos(user_id), c.item_pos(item_id)
    scale = c.require_ratings()
    rating = c.predict(u, i)
    return s.Prediction(user=c.user_ids[u], item=c.item_ids[i], title=c.titles[i], rating=rating, rating_scale=scale)


# --------------------------------------------------------------------------- new users
def create_new_user(state: State) -> s.NewUserState:
    """Create a new user (no ratings yet); keep the returned ``user_id``."""
    state.catalog.require_fold_in()
    return s.NewUserState(**state.user_state(state.storage.create_user()))


def get_new_user(state: State, user_id: NewUserId) -> s.NewUserState:
    """A new user's stored ratings, newest first."""
    return s.NewUserState(**state.user_state(state.storage.get_user(user_id)))


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


def unrate(
    state: State, user_id: NewUserId, item_id: ItemId, n: N = 10, diversity: Diversity = 0.0
) -> s.NewUserRatings:
    """Forget one rating and return the recommendations from the ratings left."""
    state.catalog.require_fold_in()
    key = state.catalog.item_key(state.catalog.item_pos(item_id))
    return state.with_recommendations(state.storage.delete_rating(user_id, key), n, diversity)


def recommend_new_user(state: State, user_id: NewUserId, n: N = 10, diversity: Diversity = 0.0) -> s.NewUserRatings:
    """Recommendations folded in from every rating the new user has stored."""
    state.catalog.require_fold_in()
    return state.with_recommendations(state.storage.get_user(user_id), n, diversity)


def predict_new_user(state: State, user_id: NewUserId, item_id: ItemId) -> s.Prediction:
    """The rating a rating model predicts for a new user, from the ratings they stored."""
    c = state.catalog
    i = c.item_pos(item_id)
    scale = c.require_ratings()
    user = state.storage.get_user(user_id)
    rating = c.predict_new_user(state.stored_pairs(user), i)
    return s.Prediction(user=user.id, item=c.item_ids[i], title=c.titles[i], rating=rating, rating_scale=scale)


def add_routes(app: FastAPI) -> None:
    """Put every endpoint on ``app``, with its tag and the error answers it can give declared in the schema."""
    add = app.add_api_route
    add("/", page, include_in_schema=False)
    add("/api/health", health, response_model=s.Health, tags=["service"])

    films = partial(add, tags=["films"])
    films("/api/films", search_films, response_model=s.SearchResults)
    films("/api/films/{item_id}", film, response_model=s.FilmDetails, responses=answers(404))
    films("/api/films/{item_id}/similar", similar_films, response_model=s.SimilarFilms, responses=answers(404, 409))
    films("/api/map", film_map, response_model=s.FilmMap, responses=answers(409))

    users = partial(add, tags=["users"], responses=answers(404, 409))
    users("/api/users/{user_id}/recommendations", recommend, response_model=s.Recommendations)
    users("/api/users/{user_id}/predictions/{item_id}", predict, response_model=s.Prediction)

    # every new-user endpoint reads or writes the database (503); all but the first name a user (404)
    new_users = partial(add, tags=["new users"])
    new_users(
        "/api/new-users",
        create_new_user,
        methods=["POST"],
        status_code=201,
        response_model=s.NewUserState,
        responses=answers(409, 503),
    )
    new_users("/api/new-users/{user_id}", get_new_user, response_model=s.NewUserState, responses=answers(404, 503))
    folded = partial(new_users, responses=answers(404, 409, 503))
    folded("/api/new-users/{user_id}/ratings", rate, methods=["POST"], response_model=s.NewUserRatings)
    folded("/api/new-users/{user_id}/ratings/{item_id}", unrate, methods=["DELETE"], response_model=s.NewUserRatings)
    folded("/api/new-users/{user_id}/recommendations", recommend_new_user, response_model=s.NewUserRatings)
    folded("/api/new-users/{user_id}/predictions/{item_id}", predict_new_user, response_model=s.Prediction)


def _trained_objective(model: object) -> str | None:
    """The objective the model trained (the resolved one: asked for, or chosen from the data)."""
    resolved = getattr(model, "resolved_config_", None)
    return getattr(resolved, "objective", None) or getattr(getattr(model, "config", None), "objective", None)
