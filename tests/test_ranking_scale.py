"""Exact top-N at scale (:mod:`embrec.ranking`): every path equals a stable sort, in bounded memory.

The paths: scores from a function (ranked through group maxima), a model's factors scored into
one buffer in float32, and the same factors found through bfloat16 first. Small thresholds
(``GROUP``, the small-catalogue cut) are patched down so that tiny data takes the paths large
catalogues take.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from embrec import ranking
from embrec.data.build import build_interactions
from embrec.errors import ConfigError
from embrec.models.embedding import EmbeddingRecommender
from embrec.ranking import BLOCK_BYTES, Factors, block_size_for, iter_top_n, top_n

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups of 4 items and no small-catalogue shortcut: tiny data takes the large catalogues' path."""
    monkeypatch.setattr(ranking, "GROUP", 4)
    monkeypatch.setattr(ranking, "_SMALL_CATALOGUE", 0)


def stable_sort(scores: np.ndarray, seen: sp.csr_matrix | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition: NaN and seen items to -inf, a stable sort by descending score, -1 where not finite."""
    s = np.where(np.isnan(scores), -np.inf, scores).astype(np.float32)
    if seen is not None:
        s[seen.toarray() > 0] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :n]
    values = np.take_along_axis(s, order, axis=1)
    return np.where(np.isfinite(values), order, -1), values


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, sp.csr_matrix, int]:
    n_users, n_items = int(rng.integers(1, 25)), int(rng.integers(1, 260))
    if rng.random() < 0.5:  # few distinct values: ties everywhere, at the cut and inside the list
        scores = rng.integers(0, rng.integers(1, 5), size=(n_users, n_items)).astype(np.float32)
    else:
        scores = rng.standard_normal((n_users, n_items)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    seen = (rng.random((n_users, n_items)) < rng.random() * 0.5).astype(np.float32)
    seen[0] = 1.0  # a user who has seen every item
    return scores, sp.csr_matrix(seen), int(rng.integers(1, 20))


def padded(items: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = items.shape[1]
    out_i = np.full((items.shape[0], n), -1)
    out_s = np.full((items.shape[0], n), -np.inf, dtype=np.float32)
    out_i[:, :k], out_s[:, :k] = items, scores
    return out_i, out_s


@pytest.mark.parametrize("groups", [False, True], ids=["plain", "groups"])
def test_top_n_of_scores_equals_a_stable_sort(groups: bool, request: pytest.FixtureRequest) -> None:
    if groups:
        request.getfixturevalue("small_groups")
    rng = np.random.default_rng(11)
    for _ in range(150):
        scores, seen, n = random_case(rng)
        table = torch.from_numpy(scores)
        got = top_n(lambda batch, t=table: t[batch].clone(), np.arange(len(scores)), n, seen=seen, chunk_size=3)
        want = padded(*stable_sort(scores, seen, n), n)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bfloat16-first"])
def test_top_n_of_factors_equals_a_stable_sort_of_their_scores(bf16: bool, small_groups: None) -> None:
    rng = np.random.default_rng(5)
    for trial in range(60):
        n_users, n_items, dim = int(rng.integers(1, 30)), int(rng.integers(1, 300)), int(rng.integers(1, 6))
        if trial % 2:  # small whole numbers: exact products, so ties are real ties
            users, items = rng.integers(-2, 3, (n_users, dim)), rng.integers(-2, 3, (n_items, dim))
            bias = rng.integers(-2, 3, n_items)
        else:
            users, items, bias = rng.standard_normal((n_users, dim)), rng.standard_normal((n_items, dim)), None
        factors = Factors.from_numpy(users, items, bias)
        seen = sp.csr_matrix((rng.random((n_users, n_items)) < 0.3).astype(np.float32))
        n = int(rng.integers(1, 15))
        got = top_n(factors, np.arange(n_users), n, seen=seen, bf16_filter=bf16, chunk_size=int(rng.integers(1, 9)))
        want = padded(*stable_sort(factors.scores(np.arange(n_users)).numpy(), seen, n), n)
        np.testing.assert_array_equal(got[0], want[0])
        # blocks of other sizes may round a product differently in its last bit
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)


def near_ties(seed: int, bias_shift: float = 0.0) -> Factors:
    """Items whose scores differ by far less than bfloat16 can tell: only the float32 step can rank them."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(16)
    items = base + 1e-4 * rng.standard_normal((6000, 16))
    bias = 1e-4 * rng.standard_normal(6000) + bias_shift
    return Factors.from_numpy(rng.standard_normal((50, 16)), items, bias)


@pytest.mark.parametrize("shift", [0.0, -1000.0], ids=["mixed-sign", "all-negative"])
def test_bfloat16_first_gives_the_float32_lists_where_bfloat16_cannot_tell_items_apart(shift: float) -> None:
    rng = np.random.default_rng(0)
    for seed in range(2):
        factors = near_ties(seed, shift)
        seen = sp.csr_matrix((rng.random((50, 6000)) < 0.1).astype(np.float32))
        exact = top_n(factors, np.arange(50), 10, seen=seen, bf16_filter=False, chunk_size=50)
        first = top_n(factors, np.arange(50), 10, seen=seen, bf16_filter=True, chunk_size=50)
        want = stable_sort(factors.scores(np.arange(50)).numpy(), seen, 10)
        np.testing.assert_array_equal(first[0], want[0])
        np.testing.assert_array_equal(first[0], exact[0])
        np.testing.assert_array_equal(first[1], exact[1])


def test_non_finite_factors_rank_as_their_scores() -> None:
    rng = np.random.default_rng(2)
    users, items = rng.standard_normal((20, 4)), rng.standard_normal((5000, 4))
    items[7] = np.nan
    users[3] = np.inf
    factors = Factors.from_numpy(users, items)
    got = top_n(factors, np.arange(20), 10, bf16_filter=True)
    want = stable_sort(factors.scores(np.arange(20)).numpy(), None, 10)
    np.testing.assert_array_equal(got[0], want[0])


def test_candidates_mask_and_lists_longer_than_the_catalogue() -> None:
    table = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    items, scores = top_n(lambda b: table[b].clone(), np.zeros(1, dtype=np.int64), 6, candidates=np.array([1, 0, 1, 1]))
    np.testing.assert_array_equal(items, [[0, 2, 3, -1, -1, -1]])
    assert np.isneginf(scores[0, 3:]).all()


# ---------------------------------------------------------------------------- bounded memory
def test_blocks_are_the_size_asked_and_scored_no_larger() -> None:
    rng = np.random.default_rng(4)
    table = torch.from_numpy(rng.standard_normal((103, 50)).astype(np.float32))
    asked: list[int] = []

    def score(batch: np.ndarray) -> torch.Tensor:
        asked.append(len(batch))
        return table[batch].clone()

    blocks = list(iter_top_n(score, np.arange(103), 5, block_size=10))
    assert [b.start for b in blocks] == list(range(0, 103, 10))
    assert max(asked) == 10 and sum(asked) == 103 and len(asked) == 11
    whole = top_n(lambda b: table[b].clone(), np.arange(103), 5)
    np.testing.assert_array_equal(np.concatenate([b.items for b in blocks]), whole[0])


def test_default_blocks_fit_the_memory_budget_whatever_the_number_of_users() -> None:
    for n_items in (10, 1000, 59_047, 1_000_000):
        for itemsize in (2, 4):
            size = block_size_for(n_items, itemsize)
            assert size >= 16 and (size * n_items * itemsize <= BLOCK_BYTES or size == 16)
    factors = Factors.from_numpy(np.ones((600, 2)), np.ones((40_000, 2)))
    sizes = {len(b.items) for b in iter_top_n(factors, np.arange(600), 3, bf16_filter=False)}
    assert max(sizes) == block_size_for(40_000)  # one buffer of that many rows, reused for every block


def test_bad_block_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="block_size=0"):
        list(iter_top_n(lambda b: torch.zeros(len(b), 3), np.arange(3), 2, block_size=0))


# ---------------------------------------------------------------------------- through a model
def many_users(seed: int = 0) -> object:
    rng = np.random.default_rng(seed)
    pairs = np.unique(rng.integers(0, 300, 8000) * 400 + np.minimum(rng.zipf(1.3, 8000), 400) - 1)
    users, items = pairs // 400, pairs % 400
    return build_interactions(users, items, rng.integers(1, 6, len(pairs)).astype(np.float32), name="many-users")


@pytest.fixture(scope="module")
def embedding_model() -> EmbeddingRecommender:
    return EmbeddingRecommender(epochs=2, embedding_dim=8).fit(many_users())  # type: ignore[arg-type]


def test_a_models_factors_rank_as_its_own_scores(embedding_model: EmbeddingRecommender) -> None:
    model = embedding_model
    factors = model._ranking_factors()
    assert factors is not None and factors.item_bias is not None
    users = np.arange(len(model.user_ids_))
    via_factors, shown = model.recommend_indexes(users, 10)  # many users: the factors' path
    scores = model.score(model.user_ids_)
    want = stable_sort(scores, model.seen_, 10)[0]
    np.testing.assert_array_equal(via_factors, want)
    one_by_one = np.concatenate([model.recommend_indexes(users[i : i + 1], 10)[0] for i in range(0, 300, 37)])
    np.testing.assert_array_equal(one_by_one, via_factors[::37])
    assert np.isfinite(shown).all()


def test_a_model_without_factors_ranks_through_its_scores() -> None:
    from embrec.models.baselines.popularity import PopularityRecommender

    model = PopularityRecommender().fit(many_users())  # type: ignore[arg-type]
    assert model._ranking_factors() is None
    items, _ = model.recommend_indexes(np.arange(len(model.user_ids_)), 5)
    want = stable_sort(model.score(model.user_ids_), model.seen_, 5)[0]
    np.testing.assert_array_equal(items, want)


def test_iter_recommend_frames_make_up_recommend(embedding_model: EmbeddingRecommender) -> None:
    frames: Iterator[object] = embedding_model.iter_recommend(n=4, block_size=64)
    import pandas as pd

    parts = list(frames)
    assert len(parts) == -(-len(embedding_model.user_ids_) // 64)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), embedding_model.recommend(n=4))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- CUDA
@CUDA
def test_factors_on_cuda_rank_as_on_the_cpu() -> None:
    rng = np.random.default_rng(9)
    factors = Factors.from_numpy(rng.standard_normal((300, 16)), rng.standard_normal((20_000, 16)), rng.random(20_000))
    seen = sp.csr_matrix((rng.random((300, 20_000)) < 0.01).astype(np.float32))
    cpu = top_n(factors, np.arange(300), 10, seen=seen, bf16_filter=False)
    gpu = top_n(factors.to("cuda"), np.arange(300), 10, seen=seen)
    np.testing.assert_array_equal(gpu[0], cpu[0])
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=1e-5, atol=1e-5)


@CUDA
def test_scores_on_cuda_stay_there_and_rank_as_on_the_cpu() -> None:
    rng = np.random.default_rng(10)
    table = torch.from_numpy(rng.integers(0, 4, (40, 9000)).astype(np.float32))
    table[0, 5] = torch.nan
    seen = sp.csr_matrix((rng.random((40, 9000)) < 0.05).astype(np.float32))
    on_gpu = table.cuda()
    got = top_n(lambda b: on_gpu[torch.from_numpy(b).cuda()].clone(), np.arange(40), 10, seen=seen)
    want = top_n(lambda b: table[b].clone(), np.arange(40), 10, seen=seen)
    np.testing.assert_array_equal(got[0], want[0])
