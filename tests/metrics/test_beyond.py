"""Beyond-accuracy metrics: hand-computed values, naive references, properties, input errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import MinMaxScaler

import embrec.metrics._common as common
from embrec.errors import ConfigError, DataError
from embrec.metrics import (
    average_popularity,
    average_recommendation_popularity,
    catalog_coverage,
    exercise_diversity,
    expected_popularity_complement,
    gini_index,
    intra_list_diversity,
    item_exposure,
    item_mean_ratings,
    item_popularity,
    mean_item_rating,
    novelty,
    personalization,
    serendipity,
)

# Four 2-D embeddings: 0 -> (1, 0), 1 -> (0, 1), 2 -> (1, 1), 3 -> (-1, 0).
EMB = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
A = 1 - 1 / math.sqrt(2)  # cosine distance between (1, 0) and (1, 1), also between (0, 1) and (1, 1)

# Genres over (A, B, C): 0 -> {A}, 1 -> {A, B}, 2 -> {B, C}, 3 -> {}, 4 -> {}.
GENRES = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 0], [0, 0, 0]])


# ---------------------------------------------------------------- diversity
def test_ild_cosine_hand_computed() -> None:
    recs = np.array([[0, 1, 2], [0, 3, -1], [1, -1, -1]])
    # list 0: d(0,1) = 1 - 0 = 1, d(0,2) = d(1,2) = 1 - 1/sqrt(2) -> mean (1 + 2A) / 3
    # list 1: d(0,3) = 1 - (-1) = 2 -> one pair -> 2
    # list 2: a single item has no pair -> NaN
    np.testing.assert_allclose(intra_list_diversity(recs, EMB), [(1 + 2 * A) / 3, 2.0, np.nan])


def test_ild_jaccard_hand_computed() -> None:
    recs = np.array([[0, 1, 2], [0, 3, -1], [3, 4, -1]])
    # list 0: J(0,1) = |{A}| / |{A,B}| = 1/2 -> d 1/2; J(0,2) = 0 -> d 1; J(1,2) = |{B}| / |{A,B,C}| -> d 2/3
    #         mean (1/2 + 1 + 2/3) / 3 = 13/18
    # list 1: {A} vs {} -> intersection 0, union 1 -> d 1
    # list 2: {} vs {} -> treated as identical -> d 0
    got = intra_list_diversity(recs, GENRES, metric="jaccard")
    np.testing.assert_allclose(got, [13 / 18, 1.0, 0.0])
    # a sparse genre matrix gives the same
    np.testing.assert_allclose(intra_list_diversity(recs, sp.csr_matrix(GENRES), metric="jaccard"), got)


def test_exercise_diversity_hand_computed() -> None:
    # list [0, 1, 2]: D = 1 - S = [[0, 1, A], [1, 0, A], [A, A, 0]]
    # columns min-max scaled: col 0 -> [0, 1, A], col 1 -> [1, 0, A], col 2 -> [A/A, A/A, 0] = [1, 1, 0]
    # mean of all 9 cells, diagonal included: (1 + A + 1 + A + 2) / 9 = (4 + 2A) / 9
    recs = np.array([[0, 1, 2], [0, 3, -1], [2, 3, -1]])
    got = exercise_diversity(recs, EMB)
    # any two items give [[0, 1], [1, 0]] -> 0.5, whether nearly alike or opposite: the scaling hides distance
    np.testing.assert_allclose(got, [(4 + 2 * A) / 9, 0.5, 0.5])
    assert intra_list_diversity(recs, EMB)[1] == 2.0  # the standard measure tells them apart


def test_exercise_diversity_matches_the_exercise_code() -> None:
    # The exercise: cosine_similarity per list, 1 - S, MinMaxScaler().fit_transform, .mean().
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(40, 16))
    recs = np.array([rng.choice(40, size=10, replace=False) for _ in range(25)])
    expected = [MinMaxScaler().fit_transform(1 - cosine_similarity(emb[row])).mean() for row in recs]
    np.testing.assert_allclose(exercise_diversity(recs, emb), expected, rtol=1e-10)


def naive_ild(recs: np.ndarray, vectors: np.ndarray, metric: str) -> list[float]:
    out = []
    for row in recs:
        items = [int(i) for i in row if i >= 0]
        dists = []
        for a, b in itertools.combinations(items, 2):
            va, vb = vectors[a], vectors[b]
            if metric == "cosine":
                dists.append(1 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
            else:
                union = np.logical_or(va, vb).sum()
                dists.append(0.0 if union == 0 else 1 - np.logical_and(va, vb).sum() / union)
        out.append(float(np.mean(dists)) if dists else np.nan)
    return out


@st.composite
def lists(draw: st.DrawFn, n_items: int, max_k: int = 6, max_users: int = 8) -> np.ndarray:
    """Random recommendation lists over n_items: distinct items, -1 padding at the end."""
    k = draw(st.integers(1, max_k))
    n_users = draw(st.integers(1, max_users))
    rows = []
    for _ in range(n_users):
        perm = draw(st.permutations(range(n_items)))
        length = draw(st.integers(0, min(k, n_items)))
        rows.append(list(perm[:length]) + [-1] * (k - length))
    return np.array(rows, dtype=np.int64).reshape(n_users, k)


@settings(max_examples=100, deadline=None)
@given(lists(n_items=8), st.integers(0, 2**32 - 1))
def test_ild_matches_double_loop(recs: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(8, 5))
    genres = rng.integers(0, 2, size=(8, 4))
    got_cos = intra_list_diversity(recs, emb)
    got_jac = intra_list_diversity(recs, genres, metric="jaccard")
    np.testing.assert_allclose(got_cos, naive_ild(recs, emb, "cosine"), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_jac, naive_ild(recs, genres, "jaccard"), rtol=1e-12)
    # bounds: cosine distance in [0, 2], Jaccard distance in [0, 1]; NaN exactly for lists under two items
    short = (recs >= 0).sum(axis=1) < 2
    assert (np.isnan(got_cos) == short).all() and (np.isnan(got_jac) == short).all()
    assert ((got_cos[~short] >= 0) & (got_cos[~short] <= 2)).all()
    assert ((got_jac[~short] >= 0) & (got_jac[~short] <= 1)).all()
    ex = exercise_diversity(recs, emb)[~short]
    assert ((ex >= 0) & (ex <= 1)).all()


def test_diversity_chunking_gives_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(30, 4))
    recs = np.array([rng.choice(30, size=5, replace=False) for _ in range(50)])
    whole = intra_list_diversity(recs, emb), exercise_diversity(recs, emb)
    monkeypatch.setattr(common, "_CHUNK_ELEMENTS", 40)  # two users per chunk
    np.testing.assert_allclose(intra_list_diversity(recs, emb), whole[0], rtol=1e-12)
    np.testing.assert_allclose(exercise_diversity(recs, emb), whole[1], rtol=1e-12)


def test_zero_embedding_has_similarity_zero() -> None:
    emb = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert intra_list_diversity(np.array([[0, 1]]), emb)[0] == 1.0


# ---------------------------------------------------------------- training statistics, novelty, popularity
# Training matrix, 5 users x 4 items (user 4 has no rating):
#   item 0: users 0, 1, 2, 3 (ratings 5, 4, 3, 4) -> 4 users, mean 4
#   item 1: users 0, 1       (ratings 2, 3)       -> 2 users, mean 2.5
#   item 2: user 2           (rating 1)           -> 1 user,  mean 1
#   item 3: nobody                                -> 0 users, mean NaN
TRAIN = sp.csr_matrix(
    np.array(
        [
            [5, 2, 0, 0],
            [4, 3, 0, 0],
            [3, 0, 1, 0],
            [4, 0, 0, 0],
            [0, 0, 0, 0],
        ],
        dtype=np.float64,
    )
)
COUNTS = np.array([4, 2, 1, 0])


def test_item_popularity_and_means() -> None:
    counts, n = item_popularity(TRAIN)
    np.testing.assert_array_equal(counts, COUNTS)
    assert n == 4  # user 4 has no training rating
    np.testing.assert_allclose(item_mean_ratings(TRAIN), [4.0, 2.5, 1.0, np.nan])


def test_novelty_hand_computed() -> None:
    # self-information -log2(users(i) / 4): item 0 -> 0, item 1 -> 1, item 2 -> 2, item 3 (unseen, as 1 user) -> 2
    recs = np.array([[0, 1, 2], [3, -1, -1], [-1, -1, -1]])
    np.testing.assert_allclose(novelty(recs, COUNTS, 4), [1.0, 2.0, np.nan])  # (0 + 1 + 2) / 3, 2, empty


def test_popularity_and_mean_rating_hand_computed() -> None:
    recs = np.array([[0, 1, 2], [3, -1, -1], [0, 3, -1]])
    # the exercise's "mean number of ratings": (4 + 2 + 1) / 3, 0, (4 + 0) / 2
    np.testing.assert_allclose(average_popularity(recs, COUNTS), [7 / 3, 0.0, 2.0])
    assert average_recommendation_popularity(recs, COUNTS) == pytest.approx((7 / 3 + 0 + 2) / 3)
    # mean of the items' average rating, skipping item 3 which has none: (4 + 2.5 + 1) / 3, NaN, 4
    np.testing.assert_allclose(mean_item_rating(recs, item_mean_ratings(TRAIN)), [2.5, np.nan, 4.0])


def test_epc_hand_computed() -> None:
    # 1 - users(i) / 4 = [0, 0.5, 0.75, 1]; discounts 1, 1/log2(3), 1/log2(4) = 0.5
    recs = np.array([[0, 1, 2], [3, -1, -1]])
    l2 = 1 / math.log2(3)
    flat = expected_popularity_complement(recs, COUNTS, 4, discount="none")
    np.testing.assert_allclose(flat, [(0 + 0.5 + 0.75) / 3, 1.0])
    logd = expected_popularity_complement(recs, COUNTS, 4)
    np.testing.assert_allclose(logd, [(0.5 * l2 + 0.75 * 0.5) / (1 + l2 + 0.5), 1.0])
    # relevance-aware: user 0 finds only item 1 relevant, user 1 nothing (NaN)
    truth = sp.csr_matrix(np.array([[0, 5, 2, 0], [0, 0, 0, 0]], dtype=np.float64))
    aware = expected_popularity_complement(recs, COUNTS, 4, truth=truth, threshold=4.0)
    np.testing.assert_allclose(aware, [(0.5 * l2) / (1 + l2 + 0.5), np.nan])


@settings(max_examples=100, deadline=None)
@given(lists(n_items=6), hnp.arrays(np.int64, 6, elements=st.integers(0, 20)), st.randoms(use_true_random=False))
def test_novelty_and_popularity_properties(recs: np.ndarray, counts: np.ndarray, rnd) -> None:
    n = 20
    empty = ~(recs >= 0).any(axis=1)
    nov = novelty(recs, counts, n)
    epc = expected_popularity_complement(recs, counts, n)
    for values in (nov, epc, average_popularity(recs, counts)):
        assert (np.isnan(values) == empty).all()
    assert ((nov[~empty] >= 0) & (nov[~empty] <= math.log2(n) + 1e-12)).all()
    assert ((epc[~empty] >= 0) & (epc[~empty] <= 1 + 1e-12)).all()
    # order within a list does not change the set-based means
    shuffled = recs.copy()
    for row in shuffled:
        m = int((row >= 0).sum())
        part = row[:m].tolist()
        rnd.shuffle(part)
        row[:m] = part
    np.testing.assert_allclose(novelty(shuffled, counts, n), nov)
    np.testing.assert_allclose(
        expected_popularity_complement(shuffled, counts, n, discount="none"),
        expected_popularity_complement(recs, counts, n, discount="none"),
    )


# ---------------------------------------------------------------- catalogue-level
def test_coverage_hand_computed() -> None:
    recs = np.array([[0, 1], [1, 2]])
    # recommended {0, 1, 2} out of a catalogue of 5 items
    assert catalog_coverage(recs, np.arange(5)) == pytest.approx(3 / 5)
    assert catalog_coverage(recs, np.array([True, True, True, True, True, False])) == pytest.approx(3 / 5)
    assert catalog_coverage(recs, np.array([2, 1, 0])) == 1.0
    with pytest.raises(DataError, match="item 2 .* not in the catalog"):
        catalog_coverage(recs, np.array([0, 1, 4]))


def test_gini_hand_computed() -> None:
    # exposures over the catalogue {0, 1, 2, 3}: item 0 in 3 lists, items 1 and 2 in one, item 3 never
    # sorted [0, 1, 1, 3], total 5, weights 2j - n - 1 = [-3, -1, 1, 3]:
    # G = (0*-3 + 1*-1 + 1*1 + 3*3) / ((4 - 1) * 5) = 9 / 15
    recs = np.array([[0, 1], [0, 2], [0, -1]])
    assert gini_index(recs, np.arange(4)) == pytest.approx(0.6)
    # item 3 is never recommended but still counts: without it, sorted [1, 1, 3] -> (1*-2 + 1*0 + 3*2) / (2 * 5)
    assert gini_index(recs, np.arange(3)) == pytest.approx(0.4)
    assert gini_index(np.array([[0, 1], [2, 3]]), np.arange(4)) == 0.0  # equal exposure
    assert gini_index(np.array([[0], [0]]), np.arange(4)) == pytest.approx(1.0)  # all on one item
    assert math.isnan(gini_index(np.array([[-1]]), np.arange(4)))
    with pytest.raises(DataError, match="at least two"):
        gini_index(np.array([[0]]), np.array([0]))


def test_item_exposure() -> None:
    np.testing.assert_array_equal(item_exposure(np.array([[0, 1], [0, 2], [0, -1]]), 5), [3, 1, 1, 0, 0])


def test_personalization_hand_computed() -> None:
    # overlaps: |L0 ∩ L1| = 2 ({0, 1}), the other pairs 0 -> mean of q/k = (2/3 + 0 + 0) / 3 = 2/9
    # (by exposure counts: items 0 and 1 in two lists -> C(2,2) + C(2,2) = 2 shared over 3 pairs x k=3)
    recs = np.array([[0, 1, 2], [0, 1, 3], [4, 5, 6]])
    assert personalization(recs) == pytest.approx(7 / 9)
    assert personalization(np.array([[0, 1], [0, 1], [1, 0]])) == 0.0  # identical lists
    assert personalization(np.array([[0, 1], [2, 3]])) == 1.0  # disjoint lists
    # users with an empty list are left out; one list left is not enough
    assert math.isnan(personalization(np.array([[0, 1], [-1, -1]])))


def brute_personalization(recs: np.ndarray) -> float:
    sets = [{int(i) for i in row if i >= 0} for row in recs]
    sets = [s for s in sets if s]
    pairs = list(itertools.combinations(sets, 2))
    if not pairs:
        return float("nan")
    return 1 - float(np.mean([len(a & b) / recs.shape[1] for a, b in pairs]))


@settings(max_examples=150, deadline=None)
@given(lists(n_items=7, max_users=10), st.permutations(range(10)))
def test_personalization_matches_brute_force(recs: np.ndarray, perm: list[int]) -> None:
    got = personalization(recs)
    want = brute_personalization(recs)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(want, abs=1e-12)
        assert 0 <= got <= 1
        # the order of users does not matter
        order = np.array([p for p in perm if p < recs.shape[0]])
        assert personalization(recs[order]) == pytest.approx(got, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(lists(n_items=7, max_users=10), st.randoms(use_true_random=False))
def test_catalogue_metrics_bounds_and_invariance(recs: np.ndarray, rnd) -> None:
    catalog = np.arange(7)
    cov = catalog_coverage(recs, catalog)
    gini = gini_index(recs, catalog)
    exposure = item_exposure(recs, 7)
    assert 0 <= cov <= 1
    assert cov == pytest.approx((exposure > 0).sum() / 7)
    if exposure.sum() == 0:
        assert math.isnan(gini)
    else:
        assert -1e-12 <= gini <= 1 + 1e-12
    # permuting users and the order within lists changes none of them
    shuffled = recs[rnd.sample(range(recs.shape[0]), recs.shape[0])].copy()
    for row in shuffled:
        m = int((row >= 0).sum())
        part = row[:m].tolist()
        rnd.shuffle(part)
        row[:m] = part
    assert catalog_coverage(shuffled, catalog) == cov
    np.testing.assert_allclose(gini_index(shuffled, catalog), gini)
    np.testing.assert_allclose(personalization(shuffled), personalization(recs))


# ---------------------------------------------------------------- serendipity
def test_serendipity_hand_computed() -> None:
    # 0 -> (1, 0), 1 -> (0, 1), 2 -> (1, 0.1) (almost item 0), 3 -> (-1, 0)
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [-1.0, 0.0]])
    history = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float64))
    truth = sp.csr_matrix(np.array([[0, 5, 5, 0], [0, 0, 0, 4], [0, 0, 0, 0]], dtype=np.float64))
    recs = np.array([[1, 2, 3], [3, -1, -1], [0, 1, 2]])
    # user 0 (history {0}): item 1 relevant, distance 1 - 0 = 1 >= 0.5 -> serendipitous;
    #   item 2 relevant but distance 1 - 1/sqrt(1.01) ~ 0.005 -> expected; item 3 not relevant -> 1/3
    # user 1: no history, item 3 relevant -> unexpected -> 1/3
    # user 2: nothing relevant -> NaN
    got = serendipity(recs, truth, history, emb, min_distance=0.5, threshold=4.0)
    np.testing.assert_allclose(got, [1 / 3, 1 / 3, np.nan])
    # with a lower bar item 2 becomes unexpected too
    assert serendipity(recs, truth, history, emb, min_distance=0.001, threshold=4.0)[0] == pytest.approx(2 / 3)


def naive_serendipity(recs, rel, hist, vectors, min_distance, metric) -> list[float]:
    out = []
    for row, r, h in zip(recs, rel, hist, strict=True):
        if not r.any():
            out.append(np.nan)
            continue
        good = 0
        for i in (int(i) for i in row if i >= 0):
            if not r[i]:
                continue
            dists = []
            for j in np.flatnonzero(h):
                if metric == "cosine":
                    dists.append(
                        1 - vectors[i] @ vectors[j] / (np.linalg.norm(vectors[i]) * np.linalg.norm(vectors[j]))
                    )
                else:
                    union = np.logical_or(vectors[i], vectors[j]).sum()
                    dists.append(0.0 if union == 0 else 1 - np.logical_and(vectors[i], vectors[j]).sum() / union)
            if not dists or min(dists) >= min_distance:
                good += 1
        out.append(good / recs.shape[1])
    return out


@settings(max_examples=100, deadline=None)
@given(lists(n_items=8), st.integers(0, 2**32 - 1), st.floats(0.05, 1.5))
def test_serendipity_matches_naive(recs: np.ndarray, seed: int, min_distance: float) -> None:
    rng = np.random.default_rng(seed)
    n_users = recs.shape[0]
    emb = rng.normal(size=(8, 3))
    genres = rng.integers(0, 2, size=(8, 3))
    rel = rng.random((n_users, 8)) < 0.4
    hist = rng.random((n_users, 8)) < 0.3
    for vectors, metric in ((emb, "cosine"), (genres, "jaccard")):
        got = serendipity(
            recs, sp.csr_matrix(rel), sp.csr_matrix(hist), vectors, min_distance=min_distance, metric=metric
        )
        want = naive_serendipity(recs, rel, hist, vectors, min_distance, metric)
        # distances equal to the bar up to rounding could flip; random floats make that vanishingly rare
        np.testing.assert_allclose(got, want, atol=1e-12)
        defined = got[~np.isnan(got)]
        assert ((defined >= 0) & (defined <= 1)).all()


def test_serendipity_chunking_gives_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    emb = rng.normal(size=(30, 4))
    recs = np.array([rng.choice(30, size=6, replace=False) for _ in range(40)])
    truth = sp.csr_matrix(rng.random((40, 30)) < 0.3)
    hist = sp.csr_matrix(rng.random((40, 30)) < 0.2)
    whole = serendipity(recs, truth, hist, emb, min_distance=0.6)
    monkeypatch.setattr(common, "_CHUNK_ELEMENTS", 12)  # 3 history pairs per chunk
    np.testing.assert_allclose(serendipity(recs, truth, hist, emb, min_distance=0.6), whole)


# ---------------------------------------------------------------- input errors
def test_bad_inputs() -> None:
    recs = np.array([[0, 1]])
    with pytest.raises(ConfigError, match="metric must be one of"):
        intra_list_diversity(recs, EMB, metric="euclid")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="binary item vectors"):
        intra_list_diversity(recs, EMB, metric="jaccard")
    with pytest.raises(DataError, match="NaN"):
        intra_list_diversity(recs, np.array([[np.nan, 1.0], [1.0, 0.0]]))
    with pytest.raises(DataError, match="not an item index"):
        intra_list_diversity(np.array([[0, 9]]), EMB)
    with pytest.raises(ConfigError, match="n_training_users"):
        novelty(recs, COUNTS, 0)
    with pytest.raises(DataError, match="outside 0..n_training_users"):
        novelty(recs, COUNTS, 3)
    with pytest.raises(ConfigError, match="discount"):
        expected_popularity_complement(recs, COUNTS, 4, discount="exp")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="without truth"):
        expected_popularity_complement(recs, COUNTS, 4, threshold=4.0)
    with pytest.raises(DataError, match="more than once"):
        catalog_coverage(recs, np.array([0, 1, 1]))
    with pytest.raises(DataError, match="empty"):
        catalog_coverage(recs, np.array([], dtype=np.int64))
    with pytest.raises(DataError, match="negative"):
        average_popularity(recs, np.array([1.0, -1.0]))
    with pytest.raises(DataError, match="history has shape"):
        serendipity(recs, sp.csr_matrix((1, 4)), sp.csr_matrix((2, 4)), EMB, min_distance=0.5)
    with pytest.raises(ConfigError, match="min_distance"):
        serendipity(recs, sp.csr_matrix((1, 4)), sp.csr_matrix((1, 4)), EMB, min_distance=float("nan"))
