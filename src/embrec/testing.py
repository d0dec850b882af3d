"""The contract every embrec model keeps, importable so that a plugin's model runs it too.

Subclass :class:`ModelContract` in a test module, under a name pytest collects, and say how to
make the model::

    from embrec.testing import ModelContract

    class TestMyModel(ModelContract):
        def make_model(self):
            return MyRecommender(epochs=3)     # small, fast settings

pytest then runs every check on it: ``fit`` returns ``self`` and keeps the config as given,
a save/load round trip gives identical scores, a batch equals one user at a time, unknown ids
raise :class:`~embrec.errors.UnknownIdError` naming the id, seen items are left out, the same
seed gives the same model, the config survives a JSON round trip, ratings stay on the scale,
and on a checkerboard whose answer is known each user gets their own group's items first.

The model must be registered (``embrec.models.register("my-model", MyRecommender)``) for the
round trip through a run folder. Set ``personalised = False`` for a model that gives every user
the same list, and override :meth:`ModelContract.make_checkerboard_model` if it needs more
training to learn the checkerboard. Only tests import this module (it imports pytest).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, NotFittedError, UnknownIdError
from embrec.models import load
from embrec.models.base import Recommender

__all__ = [
    "ModelContract",
    "UNKNOWN_ITEM",
    "UNKNOWN_USER",
    "checkerboard",
    "group_of_item",
    "group_of_user",
    "tiny_interactions",
]

#: Ids that are in neither :func:`tiny_interactions` nor :func:`checkerboard`.
UNKNOWN_USER = 999_999
UNKNOWN_ITEM = 888_888


def tiny_interactions() -> Interactions:
    """A small explicit-feedback dataset: 30 users (ids 100-129), 20 items (ids 1000-1019), 8
    ratings of 1-5 stars each, timestamps, and titles, years and genres."""
    rng = np.random.default_rng(0)
    users, items, ratings, ts = [], [], [], []
    for u in range(30):
        chosen = rng.choice(20, size=8, replace=False)
        for i in chosen:
            users.append(100 + u)
            items.append(1000 + int(i))
            ratings.append(float(rng.integers(1, 6)))
            ts.append(1_000_000 + int(rng.integers(0, 10_000)))
    meta = pd.DataFrame(
        {
            "title": [f"Film {i} ({1990 + i})" for i in range(20)],
            "year": [1990 + i for i in range(20)],
            "genres": ["Sci-Fi|Action" if i % 2 else "Drama|Romance" for i in range(20)],
        },
        index=pd.Index([1000 + i for i in range(20)], name="item"),
    )
    return build_interactions(users, items, ratings, ts, rating_scale=(1.0, 5.0), item_metadata=meta, name="tiny")


def checkerboard(seed: int = 0) -> Interactions:
    """Two groups of 20 users and of 10 items: each user rates 7 of their group's items 5 stars
    and 1 item of the other group 1 star. The right top-3 for a user is the 3 unrated items
    of their own group (the pattern has rank 2)."""
    rng = np.random.default_rng(seed)
    users, items, ratings = [], [], []
    for u in range(40):
        group = u // 20
        own = rng.choice(10, size=7, replace=False) + 10 * group
        other = rng.choice(10, size=1, replace=False) + 10 * (1 - group)
        for i, r in [(i, 5.0) for i in own] + [(i, 1.0) for i in other]:
            users.append(f"user-{u}")
            items.append(500 + int(i))
            ratings.append(r)
    return build_interactions(users, items, ratings, rating_scale=(1.0, 5.0), name="checkerboard")


def group_of_item(item: int) -> int:
    """The checkerboard group (0 or 1) of an item id."""
    return (item - 500) // 10


def group_of_user(user: str) -> int:
    """The checkerboard group (0 or 1) of a user id."""
    return int(user.removeprefix("user-")) // 20


def _all_scores(model: Recommender) -> np.ndarray:
    return model.score(model.user_ids_)


def _resolved(model: Recommender) -> object:
    return getattr(model, "resolved_config_", model.config)


class ModelContract:
    """The shared checks; subclass it as ``Test...`` and define :meth:`make_model`."""

    #: False for a model that gives every user the same list (it cannot learn the checkerboard).
    personalised: bool = True

    def make_model(self) -> Recommender:
        """A new, unfitted model with small, fast settings (called once per check, or twice)."""
        raise NotImplementedError(f"{type(self).__name__} must define make_model() to run the model contract")

    def make_checkerboard_model(self) -> Recommender:
        """The model for the checkerboard check (default: :meth:`make_model`)."""
        return self.make_model()

    @pytest.fixture
    def contract_data(self) -> Interactions:
        return tiny_interactions()

    @pytest.fixture
    def fitted(self, contract_data: Interactions) -> Recommender:
        return self.make_model().fit(contract_data)

    def test_fit_returns_self(self, contract_data: Interactions) -> None:
        model = self.make_model()
        asked = model.config
        assert model.fit(contract_data) is model
        assert model.is_fitted
        assert model.config == asked, "fit must keep the config as given (what it decides goes to resolved_config_)"
        scores = _all_scores(model)
        assert scores.shape == (contract_data.n_users, contract_data.n_items)
        assert np.isfinite(scores).all()

    def test_not_fitted_error_before_fit(self, tmp_path: Path, contract_data: Interactions) -> None:
        model = self.make_model()
        user = contract_data.user_ids[0]
        with pytest.raises(NotFittedError):
            model.recommend(user)
        with pytest.raises(NotFittedError):
            model.score([user])
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "run")

    def test_save_load_round_trip_gives_identical_scores(self, fitted: Recommender, tmp_path: Path) -> None:
        fitted.save(tmp_path / "run")
        loaded = load(str(tmp_path / "run"))
        assert type(loaded) is type(fitted)
        assert loaded.config == fitted.config
        assert _resolved(loaded) == _resolved(fitted)
        np.testing.assert_array_equal(_all_scores(loaded), _all_scores(fitted))
        pd.testing.assert_frame_equal(loaded.recommend(n=5), fitted.recommend(n=5))
        before, after = fitted.item_vectors(), loaded.item_vectors()
        assert (before is None) == (after is None)
        if before is not None:
            np.testing.assert_array_equal(after, before)

    def test_batch_recommend_equals_one_by_one(self, fitted: Recommender) -> None:
        users = list(fitted.user_ids_[[3, 0, 17, 29]])
        batch = fitted.recommend(users, n=5)
        single = pd.concat([fitted.recommend(u, n=5) for u in users], ignore_index=True)
        pd.testing.assert_frame_equal(batch.drop(columns="score"), single.drop(columns="score"))
        np.testing.assert_allclose(batch["score"], single["score"], rtol=1e-5, atol=1e-6)

    def test_unknown_ids_raise_naming_the_id(self, fitted: Recommender) -> None:
        with pytest.raises(UnknownIdError, match=str(UNKNOWN_USER)):
            fitted.recommend(UNKNOWN_USER)
        with pytest.raises(UnknownIdError, match=str(UNKNOWN_USER)):
            fitted.score([fitted.user_ids_[0], UNKNOWN_USER])
        with pytest.raises(UnknownIdError, match=str(UNKNOWN_ITEM)):
            fitted.item_index([UNKNOWN_ITEM])
        if fitted.item_vectors() is not None:
            with pytest.raises(UnknownIdError, match=str(UNKNOWN_ITEM)):
                fitted.similar_items(UNKNOWN_ITEM)
        if fitted.predicts_ratings:
            with pytest.raises(UnknownIdError, match=str(UNKNOWN_ITEM)):
                fitted.predict([fitted.user_ids_[0]], [UNKNOWN_ITEM])

    def test_seen_items_excluded_unless_asked(self, fitted: Recommender, contract_data: Interactions) -> None:
        frame = contract_data.to_frame()
        for user in contract_data.user_ids[:5]:
            seen = set(frame.loc[frame["user"] == user, "item"])
            unseen = fitted.recommend(user, n=contract_data.n_items)
            assert not seen & set(unseen["item"])
            assert len(unseen) == contract_data.n_items - len(seen)
            everything = fitted.recommend(user, n=contract_data.n_items, exclude_seen=False)
            assert set(everything["item"]) == set(contract_data.item_ids)
            assert everything["score"].is_monotonic_decreasing

    def test_same_seed_same_model(self, contract_data: Interactions) -> None:
        first = self.make_model().fit(contract_data)
        second = self.make_model().fit(contract_data)
        np.testing.assert_array_equal(_all_scores(first), _all_scores(second))

    def test_config_round_trip(self) -> None:
        model = self.make_model()
        config = model.config
        values = json.loads(json.dumps(config.to_dict()))  # as stored in embrec.json
        assert type(model).config_class.from_dict(values) == config
        assert type(model)(config).config == config
        with pytest.raises(ConfigError, match="no_such_setting"):
            type(model).config_class.from_dict({**values, "no_such_setting": 1})
        with pytest.raises(ConfigError, match="no_such_setting"):
            type(model)(no_such_setting=1)

    def test_rating_predictions_inside_the_scale(self, fitted: Recommender, contract_data: Interactions) -> None:
        if not fitted.predicts_ratings:
            with pytest.raises(ConfigError):
                fitted.predict([contract_data.user_ids[0]], [contract_data.item_ids[0]])
            return
        users = np.repeat(contract_data.user_ids, contract_data.n_items)
        items = np.tile(contract_data.item_ids, contract_data.n_users)
        pred = fitted.predict(users, items)
        lo, hi = contract_data.rating_scale  # type: ignore[misc]
        assert pred.shape == (len(users),)
        assert np.isfinite(pred).all()
        assert (pred >= lo).all() and (pred <= hi).all()

    def test_similar_items_when_the_model_has_vectors(self, fitted: Recommender, contract_data: Interactions) -> None:
        vectors = fitted.item_vectors()
        item = contract_data.item_ids[0]
        if vectors is None:
            with pytest.raises(ConfigError):
                fitted.similar_items(item)
            return
        assert vectors.shape[0] == contract_data.n_items
        similar = fitted.similar_items(item, n=5)
        assert len(similar) == 5
        assert item not in set(similar["item"])

    def test_checkerboard_users_get_their_groups_items_first(self) -> None:
        if not self.personalised:
            # it cannot tell the groups apart: what it promises instead is one ranking for everyone
            same = self.make_checkerboard_model().fit(checkerboard()).recommend(n=3, exclude_seen=False)
            lists = same.groupby("user")["item"].apply(tuple)
            assert lists.nunique() == 1, f"a model with personalised = False gave {lists.nunique()} different lists"
            return
        model = self.make_checkerboard_model().fit(checkerboard())
        top = model.recommend(n=3)
        assert len(top) == 3 * 40
        right = np.array([group_of_item(i) == group_of_user(u) for u, i in zip(top["user"], top["item"])])
        first = (top["rank"] == 1).to_numpy()
        wrong_first = sorted(top["user"][first & ~right])
        assert not wrong_first, f"{model.name}: the first item of {wrong_first} is from the other group"
        assert right.mean() >= 0.9, (
            f"{model.name}: only {right.mean():.0%} of the top-3 items are from the user's group"
        )
