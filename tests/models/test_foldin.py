"""Folding new users into a ranking model: likes pull films up, dislikes push them (and films like them) down."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import real_dataset
from embrec.models.embedding import EmbeddingRecommender
from embrec.models.foldin import fold_in_ranking, ranking_evidence
from embrec.testing import checkerboard, group_of_item

STAR_WARS, EMPIRE, JEDI = 50, 172, 181  # ml-100k item ids


# ---------------------------------------------------------------------------- reading the ratings
def test_ratings_split_into_likes_weighted_as_training_and_dislikes():
    ratings = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    ev = ranking_evidence(ratings, 5, rating_scale=(1.0, 5.0), liked_rating=4.0, low_rating_weight=0.5)
    assert ev.liked.tolist() == [0, 1, 2] and ev.liked_weights.tolist() == [1.0, 1.0, 0.5]
    assert ev.disliked.tolist() == [3, 4] and ev.disliked_weights.tolist() == [0.5, 1.0]


def test_implicit_feedback_has_no_dislikes():
    ev = ranking_evidence(None, 3, rating_scale=(1.0, 5.0), liked_rating=4.0, low_rating_weight=0.5)
    assert ev.liked.tolist() == [0, 1, 2] and ev.liked_weights.tolist() == [1.0, 1.0, 1.0]
    assert len(ev.disliked) == 0
    ev = ranking_evidence(np.array([1.0, 1.0]), 2, rating_scale=None, liked_rating=4.0, low_rating_weight=0.5)
    assert len(ev.liked) == 2 and len(ev.disliked) == 0


def test_a_rating_trained_as_a_full_like_is_never_a_dislike():
    # liked_rating below the middle of the scale: a 2 of 5 was a positive in training
    ev = ranking_evidence(np.array([2.0, 1.0]), 2, rating_scale=(1.0, 5.0), liked_rating=2.0, low_rating_weight=0.5)
    assert ev.liked.tolist() == [0] and ev.disliked.tolist() == [1]


def test_a_dislike_lowers_the_disliked_items_probability():
    gen = torch.Generator().manual_seed(0)
    q, b = torch.randn(50, 4, generator=gen), torch.zeros(50)
    none = torch.zeros(0, dtype=torch.int64)
    p = fold_in_ranking(q, b, none, torch.zeros(0), prior_variance=1.0, disliked=torch.tensor([7]), picks=10.0).numpy()
    assert np.linalg.norm(p) > 0
    scores = q.numpy() @ p
    assert scores[7] == scores.min()  # the disliked item falls to the bottom
    nothing = fold_in_ranking(q, b, none, torch.zeros(0), prior_variance=1.0)
    assert torch.equal(nothing, torch.zeros(4))


# ---------------------------------------------------------------------------- a pattern whose answer is known
@pytest.fixture(scope="module")
def board_model() -> EmbeddingRecommender:
    return EmbeddingRecommender(
        objective="ranking", embedding_dim=8, epochs=60, learning_rate=0.05, early_stopping=False
    ).fit(checkerboard())


def test_disliking_one_groups_items_ranks_the_other_group_first(board_model):
    disliked = [500, 501, 502]  # group 0
    recs = board_model.recommend_new_user(disliked, [1.0, 1.0, 1.0], n=10)
    assert [group_of_item(i) for i in recs["item"]] == [1] * 10
    liked = board_model.recommend_new_user(disliked, [5.0, 5.0, 5.0], n=7)
    assert [group_of_item(i) for i in liked["item"]] == [0] * 7  # the same films liked: their own group


def test_a_dislike_beside_a_like_pushes_its_group_down(board_model):
    alone = board_model.fold_in([500], [5.0])
    with_dislike = board_model.fold_in([500, 510], [5.0, 1.0])
    other_group = board_model.item_index(list(range(511, 520)))
    before = board_model.score_new_user(*alone)[other_group]
    after = board_model.score_new_user(*with_dislike)[other_group]
    assert after.mean() < before.mean()


# ---------------------------------------------------------------------------- real films (ml-100k)
@pytest.fixture(scope="module")
def ml100k_model() -> EmbeddingRecommender:
    from embrec.data.load import load_data

    return EmbeddingRecommender(objective="ranking").fit(load_data(real_dataset("ml-100k")))


@pytest.mark.slow
def test_one_star_for_star_wars_keeps_its_sequels_out(ml100k_model):
    hated = set(ml100k_model.recommend_new_user([STAR_WARS], [1.0], n=10)["item"])
    loved = set(ml100k_model.recommend_new_user([STAR_WARS], [5.0], n=10)["item"])
    assert not hated & {EMPIRE, JEDI}, hated
    assert JEDI in loved, loved


@pytest.mark.slow
def test_the_same_films_liked_and_disliked_give_different_lists(ml100k_model):
    films = [STAR_WARS, EMPIRE]
    hated = ml100k_model.recommend_new_user(films, [1.0, 1.0], n=10)["item"].tolist()
    loved = ml100k_model.recommend_new_user(films, [5.0, 5.0], n=10)["item"].tolist()
    assert hated != loved
    assert len(set(hated) & set(loved)) <= 5, (hated, loved)
    assert loved[0] == JEDI and JEDI not in hated


@pytest.mark.slow
def test_a_user_with_only_dislikes_gets_popular_well_rated_films_unlike_them(ml100k_model):
    from embrec.data.load import load_data

    data = load_data(real_dataset("ml-100k"))
    disliked = [STAR_WARS, EMPIRE, JEDI]
    recs = ml100k_model.recommend_new_user(disliked, [1.0, 1.0, 1.0], n=10)
    got = set(recs["item"])
    assert len(recs) == 10 and not got & set(disliked)
    neighbours = set().union(*(set(ml100k_model.similar_items(d, n=5)["item"]) for d in disliked))
    assert not got & neighbours, got & neighbours
    counts = data.users_per_item()
    mean = np.bincount(data.items, weights=data.ratings, minlength=data.n_items) / np.maximum(counts, 1)
    top = data.item_index(list(got))
    popular = np.argsort(-counts)[:300]
    assert set(top) <= set(popular)  # films many have seen ...
    assert mean[top].mean() > mean[counts >= 20].mean()  # ... and liked more than most
