"""The contract every registered model keeps, run against each of them.

A model registered with ``@register`` joins this suite on its own (``embrec.models.available()``);
give it small, fast settings in ``FAST`` (and, if it needs more training to see a pattern, in
``CHECKERBOARD``), and list it in ``NOT_PERSONALISED`` if every user gets the same list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from embrec import models
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, NotFittedError, UnknownIdError
from embrec.models.base import Recommender

#: Small, fast settings per model for the tiny data (models not listed use their defaults).
FAST: dict[str, dict[str, Any]] = {
    "embedding": dict(epochs=3, embedding_dim=8),
    "als": dict(embedding_dim=8, epochs=5, regularization=0.1),
    "bpr": dict(embedding_dim=8, epochs=20, learning_rate=0.05),
    "ease": dict(regularization=10.0),
}
#: Settings that learn the checkerboard (models not listed use FAST). The pattern has rank 2:
#: ALS with more factors than that fits each user's own items and guesses at the rest.
CHECKERBOARD: dict[str, dict[str, Any]] = {
    "embedding": dict(embedding_dim=8, epochs=60, learning_rate=0.05, early_stopping=False),
    "als": dict(embedding_dim=2, epochs=5, regularization=0.1),
}
#: Models that give every user the same ranking, so cannot learn the checkerboard.
NOT_PERSONALISED = {"popularity", "biases"}

NAMES = models.available()
UNKNOWN_USER = 999_999
UNKNOWN_ITEM = 888_888


def make(name: str, settings: dict[str, dict[str, Any]] = FAST) -> Recommender:
    return models.create(name, **settings.get(name, FAST.get(name, {})))


def all_scores(model: Recommender) -> np.ndarray:
    return model.score(model.user_ids_)


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
    return (item - 500) // 10


def group_of_user(user: str) -> int:
    return int(user.removeprefix("user-")) // 20


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fitted(name: str, tiny: Interactions) -> Recommender:
    return make(name).fit(tiny)


def test_every_builtin_model_is_registered() -> None:
    assert {"embedding", "popularity", "biases", "ease", "als", "bpr"} <= set(NAMES)


def test_fit_returns_self(name: str, tiny: Interactions) -> None:
    model = make(name)
    assert model.fit(tiny) is model
    assert model.is_fitted
    scores = all_scores(model)
    assert scores.shape == (tiny.n_users, tiny.n_items)
    assert np.isfinite(scores).all()


def test_not_fitted_error_before_fit(name: str, tmp_path: Path, tiny: Interactions) -> None:
    model = make(name)
    user = tiny.user_ids[0]
    with pytest.raises(NotFittedError):
        model.recommend(user)
    with pytest.raises(NotFittedError):
        model.score([user])
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "run")


def test_save_load_round_trip_gives_identical_scores(fitted: Recommender, tmp_path: Path) -> None:
    fitted.save(tmp_path / "run")
    loaded = models.load(str(tmp_path / "run"))
    assert type(loaded) is type(fitted)
    assert loaded.config == fitted.config
    np.testing.assert_array_equal(all_scores(loaded), all_scores(fitted))
    pd.testing.assert_frame_equal(loaded.recommend(n=5), fitted.recommend(n=5))
    before, after = fitted.item_vectors(), loaded.item_vectors()
    assert (before is None) == (after is None)
    if before is not None:
        np.testing.assert_array_equal(after, before)


def test_batch_recommend_equals_one_by_one(fitted: Recommender) -> None:
    users = list(fitted.user_ids_[[3, 0, 17, 29]])
    batch = fitted.recommend(users, n=5)
    single = pd.concat([fitted.recommend(u, n=5) for u in users], ignore_index=True)
    pd.testing.assert_frame_equal(batch.drop(columns="score"), single.drop(columns="score"))
    np.testing.assert_allclose(batch["score"], single["score"], rtol=1e-5, atol=1e-6)


def test_unknown_ids_raise_naming_the_id(fitted: Recommender) -> None:
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


def test_seen_items_excluded_unless_asked(fitted: Recommender, tiny: Interactions) -> None:
    frame = tiny.to_frame()
    for user in tiny.user_ids[:5]:
        seen = set(frame.loc[frame["user"] == user, "item"])
        unseen = fitted.recommend(user, n=tiny.n_items)
        assert not seen & set(unseen["item"])
        assert len(unseen) == tiny.n_items - len(seen)
        everything = fitted.recommend(user, n=tiny.n_items, exclude_seen=False)
        assert set(everything["item"]) == set(tiny.item_ids)
        assert everything["score"].is_monotonic_decreasing


def test_same_seed_same_model(name: str, tiny: Interactions) -> None:
    first = make(name).fit(tiny)
    second = make(name).fit(tiny)
    np.testing.assert_array_equal(all_scores(first), all_scores(second))


def test_config_round_trip(name: str) -> None:
    model = make(name)
    config = model.config
    values = json.loads(json.dumps(config.to_dict()))  # as stored in embrec.json
    assert type(model).config_class.from_dict(values) == config
    assert models.get(name)(config).config == config
    with pytest.raises(ConfigError, match="no_such_setting"):
        type(model).config_class.from_dict({**values, "no_such_setting": 1})


def test_rating_predictions_inside_the_scale(fitted: Recommender, tiny: Interactions) -> None:
    if not fitted.predicts_ratings:
        with pytest.raises(ConfigError):
            fitted.predict([tiny.user_ids[0]], [tiny.item_ids[0]])
        return
    users = np.repeat(tiny.user_ids, tiny.n_items)
    items = np.tile(tiny.item_ids, tiny.n_users)
    pred = fitted.predict(users, items)
    lo, hi = tiny.rating_scale  # type: ignore[misc]
    assert pred.shape == (len(users),)
    assert np.isfinite(pred).all()
    assert (pred >= lo).all() and (pred <= hi).all()


def test_similar_items_when_the_model_has_vectors(fitted: Recommender, tiny: Interactions) -> None:
    vectors = fitted.item_vectors()
    item = tiny.item_ids[0]
    if vectors is None:
        with pytest.raises(ConfigError):
            fitted.similar_items(item)
        return
    assert vectors.shape[0] == tiny.n_items
    similar = fitted.similar_items(item, n=5)
    assert len(similar) == 5
    assert item not in set(similar["item"])


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NOT_PERSONALISED])
def test_checkerboard_users_get_their_groups_items_first(name: str) -> None:
    # models in NOT_PERSONALISED give every user the same list, so they cannot tell the groups apart
    model = make(name, CHECKERBOARD).fit(checkerboard())
    top = model.recommend(n=3)
    assert len(top) == 3 * 40
    right = np.array([group_of_item(i) == group_of_user(u) for u, i in zip(top["user"], top["item"])])
    first = (top["rank"] == 1).to_numpy()
    wrong_first = sorted(top["user"][first & ~right])
    assert not wrong_first, f"{name}: the first item of {wrong_first} is from the other group"
    assert right.mean() >= 0.9, f"{name}: only {right.mean():.0%} of the top-3 items are from the user's group"
