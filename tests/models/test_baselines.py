"""Hand-checkable values of the baselines, and their quality on ml-100k."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from conftest import real_dataset
from embrec import models
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.data.load import load_data
from embrec.data.splits import make_split
from embrec.errors import ConfigError
from embrec.metrics import mean_over_users, ndcg
from embrec.models.baselines import (
    ALSConfig,
    ALSRecommender,
    BiasConfig,
    BiasRecommender,
    BPRRecommender,
    EASEConfig,
    EASERecommender,
    PopularityRecommender,
)
from embrec.models.baselines.ease import _inverse_torch, _mirror_lower, ease_weights


def naive_ease(x: sp.spmatrix, regularization: float) -> np.ndarray:
    """Steck's formula with a float64 dense inverse, as in the paper's listing."""
    gram = (x.T @ x).toarray().astype(np.float64) + regularization * np.eye(x.shape[1])
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return b


def random_binary(n_users: int, n_items: int, density: float, seed: int) -> sp.csr_matrix:
    x = sp.random(n_users, n_items, density=density, random_state=seed, format="csr", dtype=np.float32)
    x.data[:] = 1.0
    return x


def hand_made() -> Interactions:
    """u1 rates a 5 and b 3; u2 rates a 4; u3 rates b 1 and c 2; u4 rates a 5 and d 4."""
    rows = [
        ("u1", "a", 5),
        ("u1", "b", 3),
        ("u2", "a", 4),
        ("u3", "b", 1),
        ("u3", "c", 2),
        ("u4", "a", 5),
        ("u4", "d", 4),
    ]
    users, items, ratings = zip(*rows)
    return build_interactions(list(users), list(items), [float(r) for r in ratings], rating_scale=(1.0, 5.0))


def checkerboard_implicit() -> Interactions:
    """Users 0-9 have items 0-4 but one, users 10-19 items 5-9 but one; implicit feedback."""
    users, items = [], []
    for u in range(20):
        group = u // 10
        for i in range(5):
            if i != u % 5:
                users.append(u)
                items.append(i + 5 * group)
    return build_interactions(users, items, None)


# ---------------------------------------------------------------------------- popularity
def test_popularity_ranks_by_distinct_users() -> None:
    model = PopularityRecommender().fit(hand_made())
    # a: 3 users, b: 2, c and d: 1 each (in either order)
    everything = model.recommend("u2", n=4, exclude_seen=False)
    assert list(everything["item"][:2]) == ["a", "b"] and set(everything["item"][2:]) == {"c", "d"}
    assert list(everything["score"]) == [3.0, 2.0, 1.0, 1.0]
    unseen = model.recommend("u2", n=4)
    assert unseen["item"].iloc[0] == "b" and set(unseen["item"]) == {"b", "c", "d"}
    np.testing.assert_array_equal(model.score(["u1", "u3"])[0], model.score(["u1", "u3"])[1])


# ---------------------------------------------------------------------------- biases
def test_damped_biases_match_hand_computation() -> None:
    model = BiasRecommender(item_damping=1.0, user_damping=1.0).fit(hand_made())
    mu = 24 / 7
    b_a = ((5 - mu) + (4 - mu) + (5 - mu)) / 4
    b_b = ((3 - mu) + (1 - mu)) / 3
    b_c = (2 - mu) / 2
    b_d = (4 - mu) / 2
    b_u1 = ((5 - mu - b_a) + (3 - mu - b_b)) / 3
    b_u3 = ((1 - mu - b_b) + (2 - mu - b_c)) / 3
    b_u4 = ((5 - mu - b_a) + (4 - mu - b_d)) / 3
    item = dict(zip(model.item_ids_, model.item_bias_))
    user = dict(zip(model.user_ids_, model.user_bias_))
    assert model.global_mean_ == pytest.approx(mu)
    assert [item[k] for k in "abcd"] == pytest.approx([b_a, b_b, b_c, b_d], abs=1e-6)
    assert [user["u1"], user["u3"], user["u4"]] == pytest.approx([b_u1, b_u3, b_u4], abs=1e-6)
    pred = model.predict(["u1", "u3"], ["c", "d"])
    assert pred == pytest.approx([mu + b_u1 + b_c, mu + b_u3 + b_d], abs=1e-6)
    # ranking scores are the same predictions, so every user gets the items in item-bias order
    assert list(model.recommend("u2", n=4, exclude_seen=False)["item"]) == ["a", "d", "c", "b"]


def test_undamped_biases_are_plain_means_and_predictions_are_clipped() -> None:
    data = build_interactions(["x", "x", "y"], ["a", "b", "a"], [5.0, 5.0, 1.0], rating_scale=(1.0, 5.0))
    model = BiasRecommender(item_damping=0.0, user_damping=0.0).fit(data)
    mu = 11 / 3
    assert model.item_bias_[list(model.item_ids_).index("b")] == pytest.approx(5 - mu)
    raw = model.score(["x"])[0]
    assert raw.max() > 5.0  # unclipped ranking score
    assert model.predict(["x"], ["b"])[0] == 5.0


def test_biases_need_ratings() -> None:
    with pytest.raises(ConfigError, match="no ratings"):
        BiasRecommender().fit(checkerboard_implicit())


@pytest.mark.parametrize("bad", [dict(item_damping=-1.0), dict(user_damping=float("nan")), dict(item_damping="5")])
def test_bias_config_rejects_bad_values(bad: dict[str, object]) -> None:
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=name):
        BiasConfig(**bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- EASE
def test_ease_weights_match_the_float64_inverse_and_have_zero_diagonal() -> None:
    x = random_binary(60, 35, 0.2, seed=3)
    weights = ease_weights(x, 7.0)
    assert weights.dtype == np.float32 and weights.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(np.diag(weights), 0.0)
    np.testing.assert_allclose(weights, naive_ease(x, 7.0), atol=1e-6)


def test_ease_torch_path_matches_lapack_path() -> None:
    # the GPU path, run here on the CPU
    x = random_binary(50, 20, 0.3, seed=4)
    inverse = _inverse_torch(x, 3.0, torch.device("cpu"), chunk=7)
    gram = (x.T @ x).toarray().astype(np.float64) + 3.0 * np.eye(20)
    np.testing.assert_allclose(inverse, np.linalg.inv(gram), atol=1e-6)


def test_mirror_lower_over_several_bands() -> None:
    rng = np.random.default_rng(0)
    sym = rng.normal(size=(10, 10))
    sym = sym + sym.T
    a = np.asfortranarray(np.tril(sym) + np.triu(rng.normal(size=(10, 10)), 1))  # junk above
    _mirror_lower(a, block=3)
    np.testing.assert_array_equal(a, sym)


def test_ease_scores_are_user_rows_times_weights() -> None:
    data = checkerboard_implicit()
    model = EASERecommender(weight_decay=2.0).fit(data)
    x = data.to_csr()
    np.testing.assert_allclose(model.score([0, 13]), (x[[0, 13]] @ model.weights_), rtol=1e-6)
    np.testing.assert_allclose(model.weights_, naive_ease(x, 2.0), atol=1e-6)
    # each user's missing item of their own block comes first
    top = model.recommend([0, 13], n=1)
    assert list(top["item"]) == [0, 8]


def test_ease_refuses_catalogues_above_max_items() -> None:
    with pytest.raises(ConfigError, match=r"10 items.*max_items=5.*'als'"):
        EASERecommender(max_items=5).fit(checkerboard_implicit().with_name("big"))


@pytest.mark.parametrize("bad", [dict(weight_decay=0.0), dict(max_items=0), dict(device="gpu"), dict(threads=0)])
def test_ease_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        EASEConfig(**bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- implicit
@pytest.mark.parametrize(
    "model",
    [
        ALSRecommender(embedding_dim=2, weight_decay=0.1, epochs=10),
        BPRRecommender(embedding_dim=4, epochs=50, learning_rate=0.05),
    ],
    ids=["als", "bpr"],
)
def test_implicit_models_rank_the_obvious_item_first(model: ALSRecommender | BPRRecommender) -> None:
    model.fit(checkerboard_implicit())
    top = model.recommend(list(range(20)), n=1)
    expected = [u % 5 + 5 * (u // 10) for u in range(20)]
    assert list(top["item"]) == expected
    assert model.item_vectors().shape[0] == 10
    assert model.device_ == "cpu"


def test_implicit_models_report_each_epoch() -> None:
    seen: list[tuple[int, int]] = []
    model = ALSRecommender(embedding_dim=2, epochs=3).fit(
        checkerboard_implicit(), progress=lambda epoch, total, record: seen.append((epoch, total))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [r["epoch"] for r in model.history_] == [1.0, 2.0, 3.0]


def test_bpr_factors_carry_a_bias_column() -> None:
    model = BPRRecommender(embedding_dim=4, epochs=5).fit(checkerboard_implicit())
    assert model.item_vectors().shape == (10, 5)
    np.testing.assert_array_equal(model.user_vectors()[:, -1], 1.0)


def test_als_cuda_without_implicit_cuda_is_a_config_error() -> None:
    import implicit.gpu

    if implicit.gpu.HAS_CUDA:
        pytest.skip("this implicit has CUDA support")
    with pytest.raises(ConfigError, match="device='cuda'"):
        ALSRecommender(device="cuda").fit(checkerboard_implicit())


@pytest.mark.parametrize(
    "bad",
    [dict(embedding_dim=0), dict(seed=-1), dict(threads=0), dict(alpha=0.0), dict(device="tpu"), dict(epochs=1.5)],
)
def test_als_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        ALSConfig(**bad)  # type: ignore[arg-type]


def test_registry_knows_the_baselines() -> None:
    assert isinstance(models.create("ease", weight_decay=10.0), EASERecommender)
    assert models.get("popularity") is PopularityRecommender


# ---------------------------------------------------------------------------- real data
@pytest.mark.slow
@pytest.mark.realdata
def test_ndcg_on_ml100k() -> None:
    """Random 90/10 split, seed 42; relevant = test rating >= 4; seen items left out."""
    data = load_data(real_dataset("ml-100k"))
    split = make_split(data, "random", test_fraction=0.1, seed=42)
    truth = split.test.to_csr("ratings")
    users = np.arange(data.n_users)

    def ndcg_at_10(name: str) -> float:
        model = models.create(name).fit(split.train)
        recs, _ = model.recommend_indexes(users, 10)
        return mean_over_users(ndcg(recs, truth, threshold=4.0, k=10))

    assert ndcg_at_10("popularity") == pytest.approx(0.131, abs=0.002)
    assert ndcg_at_10("ease") >= 0.29
    assert ndcg_at_10("als") >= 0.28


def test_a_history_is_scored_as_the_same_training_user_would_be():
    from embrec.testing import tiny_interactions

    data = tiny_interactions()
    frame = data.to_frame()
    user = data.user_ids[0]
    given = frame[frame["user"] == user]
    for name, settings in (("ease", {"weight_decay": 5.0}), ("popularity", {})):
        model = models.create(name, **settings).fit(data)
        expected = model.score(np.array([user]))[0]
        np.testing.assert_allclose(model.score_history(given["item"].tolist()), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="cannot score a user who is not in its training data"):
        models.create("biases").fit(data).score_history(given["item"].tolist())
