"""The service's request and response bodies (pydantic), which its OpenAPI schema describes.

Films and users are named by the dataset's own ids (``item``, ``user``): whole numbers for
MovieLens, text for datasets whose ids are text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictInt, StringConstraints, Tag

__all__ = [
    "DataInfo",
    "ErrorMessage",
    "ExternalId",
    "Film",
    "FilmDetails",
    "Health",
    "MapPoint",
    "FilmMap",
    "NewUserRatings",
    "NewUserState",
    "Prediction",
    "RatedFilm",
    "RatingIn",
    "RatingsIn",
    "RatingsBody",
    "Recommendation",
    "Recommendations",
    "SearchResults",
    "SimilarFilm",
    "SimilarFilms",
]

#: A dataset's own id: an integer (MovieLens) or text.
ExternalId = int | str
#: An id sent by a client: a whole number (not true/false or 1.0) or non-empty text.
ExternalIdIn = StrictInt | Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: A rating as sent by a client: a finite number (checked against the model's scale by the service).
Stars = Annotated[float, Field(allow_inf_nan=False, description="Stars on the model's rating scale (see /api/health).")]


class ErrorMessage(BaseModel):
    """Why a request failed, in one sentence that names the bad value."""

    detail: str


class DataInfo(BaseModel):
    """The data the model was trained on, and what the page calls its items."""

    name: str | None = Field(
        description="The built-in dataset or the file trained on; null when the run did not record it."
    )
    movielens: bool = Field(description="Whether it is MovieLens data, whose items are films.")
    item: str = Field(description="What one item is called: 'film' for MovieLens, else 'item'.")
    items: str = Field(description="What several are called: 'films' for MovieLens, else 'items'.")
    search_example: str = Field(
        description="A search to suggest: 'star wars' for MovieLens, else the most rated item's title, lower-cased."
    )


class Health(BaseModel):
    """What the service runs."""

    status: str = Field(description="'ok' once the model is loaded.")
    model: str = Field(description="Registry name of the model, e.g. 'embedding'.")
    objective: str | None = Field(description="'rating' or 'ranking' for the embedding model.")
    n_users: int
    n_items: int
    rating_scale: tuple[float, float] | None = Field(description="Lowest and highest rating the model knows.")
    predicts_ratings: bool = Field(description="Whether the prediction endpoints answer.")
    can_fold_in: bool = Field(description="Whether new users get recommendations.")
    has_map: bool = Field(description="Whether the film map has coordinates (the model has item vectors).")
    max_n: int = Field(description="Longest list any endpoint returns.")
    storage: str = Field(description="Database backend of new users: 'sqlite' or 'postgresql'.")
    data: DataInfo


class Film(BaseModel):
    """A film (item) with its metadata."""

    item: ExternalId
    title: str
    year: int | None
    genres: list[str]
    n_ratings: int = Field(description="Ratings of the film in the model's training data.")


class FilmDetails(Film):
    """A film with what the service knows about it."""

    mean_rating: float | None = Field(description="Mean training rating, when the run recorded it.")


class SearchResults(BaseModel):
    """Films whose title contains the query (case-insensitive), most rated first."""

    query: str
    total: int = Field(description="Matches before the limit was applied.")
    results: list[Film]


class SimilarFilm(Film):
    rank: int
    similarity: float = Field(description="Cosine similarity of the two films' item vectors.")


class SimilarFilms(BaseModel):
    item: ExternalId
    title: str
    results: list[SimilarFilm]


class Recommendation(Film):
    rank: int
    score: float = Field(description="The model's score (predicted stars for a rating model, a logit for ranking).")


class Recommendations(BaseModel):
    """Top-n films for a user of the training data, films they rated left out."""

    model_config = ConfigDict(populate_by_name=True)

    user: ExternalId
    n: int
    diversity: float = Field(
        serialization_alias="lambda", description="MMR diversity weight used (0: the model's order)."
    )
    recommendations: list[Recommendation]


class Prediction(BaseModel):
    """A predicted rating for a (user, film) pair."""

    user: ExternalId
    item: ExternalId
    title: str
    rating: float
    rating_scale: tuple[float, float]


class RatingIn(BaseModel):
    """One rating sent by a new user."""

    model_config = ConfigDict(extra="forbid")

    item: ExternalIdIn = Field(description="The film's id, as in /api/films.")
    rating: Stars


class RatingsIn(BaseModel):
    """Several ratings sent at once; stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    ratings: list[RatingIn] = Field(min_length=1, max_length=1000)


def _body_kind(value: Any) -> str:
    many = isinstance(value, RatingsIn) or (isinstance(value, dict) and "ratings" in value)
    return "many" if many else "one"


#: What POST .../ratings takes: one rating, or ``{"ratings": [...]}``; errors name only the shape sent.
RatingsBody = Annotated[Annotated[RatingsIn, Tag("many")] | Annotated[RatingIn, Tag("one")], Discriminator(_body_kind)]


class RatedFilm(Film):
    rating: float
    rated_at: datetime


class NewUserState(BaseModel):
    """A user created through the service, with every rating they stored (newest first)."""

    user_id: str
    created_at: datetime
    ratings: list[RatedFilm]


class NewUserRatings(NewUserState):
    """A new user's ratings and the recommendations folded in from all of them."""

    n: int
    diversity: float = Field(
        serialization_alias="lambda", description="MMR diversity weight used (0: the model's order)."
    )
    recommendations: list[Recommendation] = Field(description="Empty while the user has rated nothing.")


class MapPoint(BaseModel):
    item: ExternalId
    title: str
    genres: list[str]
    n_ratings: int
    x: float
    y: float


class FilmMap(BaseModel):
    """Every film placed in 2-D by the first two principal components of its item vector.

    The vectors are scaled to unit length (the cosine geometry of similar films) and the
    components fitted on the films with at least ``min_ratings`` training ratings (the vectors of
    rarely rated films are mostly noise; 0 when fewer than three films have that many, and every
    film shaped them); every film is then projected. ``embrec plot map --method pca`` draws the
    same coordinates (:func:`embrec.viz.maps.pca_layout`).
    """

    explained_variance: tuple[float, float] = Field(description="Share of the fitted vectors' variance along x and y.")
    min_ratings: int = Field(description="Training ratings a film needs to shape the axes.")
    points: list[MapPoint]
