"""What every request reaches: the :class:`Catalog` and the :class:`Storage` of new users, joined.

The app's lifespan puts one :class:`ServiceState` on ``app.state.service``; routes take it as
the :data:`State` dependency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from embrec.service import schemas as s
from embrec.service.catalog import Catalog
from embrec.service.storage import NewUser, Storage

__all__ = ["ServiceState", "State"]

log = logging.getLogger(__name__)


@dataclass
class ServiceState:
    """The loaded model and the database, with what new users need from both."""

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
