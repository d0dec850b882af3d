"""The public model methods the service is built on: fold-in scoring, new-user top-N, similar items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embrec.errors import ConfigError, DataError, UnknownIdError
from embrec.models import load
from embrec.models.base import Recommender
from embrec.models.embedding import EmbeddingRecommender
from service.helpers import N_ITEMS

SCI_FI_FAN = ([10, 11, 14, 30], [5.0, 4.5, 5.0, 1.0])


@pytest.fixture(scope="module", params=["ranking", "rating"])
def model(request: pytest.FixtureRequest, runs: dict[str, Path]) -> Recommender:
    return load(str(runs[request.param]))


@pytest.fixture(scope="module")
def popularity(runs: dict[str, Path]) -> Recommender:
    return load(str(runs["popularity"]))


def test_fold_in_is_a_class_flag() -> None:
    from embrec.models.baselines.popularity import PopularityRecommender

    assert Recommender.can_fold_in is False and PopularityRecommender.can_fold_in is False
    assert EmbeddingRecommender.can_fold_in is True


def test_models_that_cannot_fold_in_say_so(popularity: Recommender) -> None:
    vector = np.zeros(4, dtype=np.float32)
    calls = [
        lambda: popularity.fold_in([10], [5.0]),
        lambda: popularity.score_new_user(vector, 0.0),
        lambda: popularity.predict_new_user(vector, 0.0, [10]),
        lambda: popularity.recommend_new_user_indexes(vector, 0.0, 5),
        lambda: popularity.recommend_new_user([10], [5.0]),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="'popularity' cannot fold new users in"):
            call()


def test_new_user_scores_are_the_training_users_kernel(model: EmbeddingRecommender) -> None:
    vector, bias = model.fold_in(*SCI_FI_FAN)
    scores = model.score_new_user(vector, bias)
    assert scores.shape == (N_ITEMS,) and np.isfinite(scores).all()
    # a training user's own vector, scored as a new user's, gets that user's ranking scores
    u = int(model.user_index(500)[0])
    np.testing.assert_allclose(
        model.score_new_user(model.user_vectors()[u]), model.score([500])[0], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(DataError, match="pass the vector fold_in"):
        model.score_new_user(np.zeros(3), bias)


def test_new_user_top_n_ranks_by_those_scores_without_the_rated_films(model: EmbeddingRecommender) -> None:
    vector, bias = model.fold_in(*SCI_FI_FAN)
    rated = model.item_index(SCI_FI_FAN[0])
    items, shown = model.recommend_new_user_indexes(vector, bias, 6, exclude=rated)
    scores = model.score_new_user(vector, bias)
    scores[rated] = -np.inf
    assert items.tolist() == np.argsort(-scores, kind="stable")[:6].tolist()
    assert set(items.tolist()).isdisjoint(rated.tolist())
    if model.predicts_ratings:  # stars, as recommend() shows them
        np.testing.assert_allclose(shown, model.predict_new_user(vector, bias, model.item_ids_[items]), atol=1e-5)
        assert ((shown >= 0.5) & (shown <= 5.0)).all()
    else:
        np.testing.assert_allclose(shown, scores[items], rtol=1e-6)
    # more than there is to recommend: padded as recommend_indexes pads
    items, shown = model.recommend_new_user_indexes(vector, bias, N_ITEMS, exclude=rated)
    assert (items[-len(rated) :] == -1).all() and np.isneginf(shown[-len(rated) :]).all()
    with pytest.raises(ConfigError, match="n=0"):
        model.recommend_new_user_indexes(vector, bias, 0)
    with pytest.raises(UnknownIdError, match="out of range"):
        model.recommend_new_user_indexes(vector, bias, 5, exclude=[N_ITEMS])


def test_recommend_new_user_is_the_fold_in_then_the_index_methods(model: EmbeddingRecommender) -> None:
    frame = model.recommend_new_user(*SCI_FI_FAN, n=6)
    vector, bias = model.fold_in(*SCI_FI_FAN)
    items, shown = model.recommend_new_user_indexes(vector, bias, 6, exclude=model.item_index(SCI_FI_FAN[0]))
    assert list(frame.columns) == ["rank", "item", "score", "title"]
    assert frame["item"].tolist() == model.item_ids_[items].tolist()
    np.testing.assert_array_equal(frame["score"].to_numpy(), shown.astype(np.float64))
    everything = model.recommend_new_user(*SCI_FI_FAN, n=N_ITEMS, exclude_rated=False)
    assert len(everything) == N_ITEMS and everything["score"].is_monotonic_decreasing


def test_new_user_predictions_need_a_rating_model(model: EmbeddingRecommender) -> None:
    vector, bias = model.fold_in(*SCI_FI_FAN)
    if not model.predicts_ratings:
        with pytest.raises(ConfigError, match="does not predict ratings"):
            model.predict_new_user(vector, bias, [12])
        return
    stars = model.predict_new_user(vector, bias, model.item_ids_)
    assert stars.shape == (N_ITEMS,) and ((stars >= 0.5) & (stars <= 5.0)).all()
    # the stars rank as the scores do (one kernel, a monotone map)
    order = np.argsort(-model.score_new_user(vector, bias), kind="stable")
    assert (np.diff(stars[order]) <= 1e-6).all()
    frame = model.recommend_new_user(*SCI_FI_FAN, n=N_ITEMS).set_index("item")
    np.testing.assert_allclose(frame["score"], model.predict_new_user(vector, bias, frame.index.to_numpy()), atol=1e-6)
    with pytest.raises(UnknownIdError, match="4242"):
        model.predict_new_user(vector, bias, [4242])


def test_similar_indexes_is_what_similar_items_shows(model: EmbeddingRecommender) -> None:
    i = int(model.item_index(12)[0])
    idx, sims = model.similar_indexes(i, 5)
    frame = model.similar_items(12, n=5)
    assert model.item_ids_[idx].tolist() == frame["item"].tolist() and i not in idx.tolist()
    np.testing.assert_array_equal(sims, frame["similarity"].to_numpy())
    vectors = model.item_vectors()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(sims, unit[idx] @ unit[i], atol=1e-5)
    assert len(model.similar_indexes(i, 1000)[0]) == N_ITEMS - 1
    with pytest.raises(UnknownIdError, match="out of range"):
        model.similar_indexes(N_ITEMS, 5)
    with pytest.raises(ConfigError, match="n=0"):
        model.similar_indexes(i, 0)


def test_similar_indexes_needs_item_vectors(popularity: Recommender) -> None:
    with pytest.raises(ConfigError, match="no item vectors"):
        popularity.similar_indexes(0, 5)


def test_top_n_of_one_training_user_leaves_out_what_they_rated(model: EmbeddingRecommender) -> None:
    u = int(model.user_index(500)[0])
    items, shown = model.recommend_indexes(np.array([u]), 5)
    expected = model.recommend(500, 5)
    assert model.item_ids_[items[0]].tolist() == expected["item"].tolist()
    np.testing.assert_allclose(shown[0], expected["score"], rtol=1e-6)
    assert set(items[0].tolist()).isdisjoint(model.seen_[u].indices.tolist())
