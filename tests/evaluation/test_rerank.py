"""Re-ranking: MMR and novelty by hand, λ = 0 changes nothing, large λ diversifies, the sweep."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from embrec.data.build import build_interactions
from embrec.data.splits import make_split
from embrec.errors import ConfigError, DataError
from embrec.evaluation import Reranker, evaluate, genre_matrix, mmr_rerank, novelty_rerank, parse_reranker, sweep
from embrec.metrics import intra_list_diversity, novelty
from embrec.models.base import Recommender


@dataclasses.dataclass(frozen=True)
class _Config:
    """No settings: the scores are given."""


class TableModel(Recommender):
    """Scores from a fixed users x items table, with optional item vectors."""

    name = "table"
    config_class = _Config

    def __init__(self, table: np.ndarray, vectors: np.ndarray | None = None) -> None:
        super().__init__()
        self.table = np.asarray(table, dtype=np.float32)
        self.vectors = vectors

    def _fit(self, train, progress) -> None:  # type: ignore[no-untyped-def]
        pass

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.table[users])

    def item_vectors(self) -> np.ndarray | None:
        return self.vectors


def ranked(n_users: int, width: int, n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cand = np.stack([rng.choice(n_items, size=width, replace=False) for _ in range(n_users)])
    scores = -np.sort(-rng.normal(size=(n_users, width)), axis=1)
    return cand, scores


def test_mmr_by_hand() -> None:
    cand = np.array([[0, 1, 2]])
    scores = np.array([[1.0, 0.9, 0.0]])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # 0 and 1 are twins
    # λ = 0.5, step 2: item 1 gives 0.5*0.9 - 0.5*1 = -0.05, item 2 gives 0.5*0 - 0.5*0 = 0.
    np.testing.assert_array_equal(mmr_rerank(cand, scores, vectors, lam=0.5, k=2), [[0, 2]])
    np.testing.assert_array_equal(mmr_rerank(cand, scores, vectors, lam=0.0, k=2), [[0, 1]])
    # A low λ keeps relevance in charge: 0.9*0.9 - 0.1*1 = 0.71 > 0.
    np.testing.assert_array_equal(mmr_rerank(cand, scores, vectors, lam=0.1, k=3), [[0, 1, 2]])


def test_mmr_lambda_zero_leaves_lists_unchanged() -> None:
    cand, scores = ranked(40, 30, 200, seed=0)
    vectors = np.random.default_rng(1).normal(size=(200, 8))
    np.testing.assert_array_equal(mmr_rerank(cand, scores, vectors, lam=0.0, k=10), cand[:, :10])
    genres = (np.random.default_rng(2).random((200, 6)) < 0.3).astype(float)
    np.testing.assert_array_equal(mmr_rerank(cand, scores, genres, lam=0.0, k=10, metric="jaccard"), cand[:, :10])


def test_mmr_large_lambda_increases_intra_list_diversity() -> None:
    rng = np.random.default_rng(3)
    # The model's favourites are near-duplicates; the rest point everywhere.
    base = rng.normal(size=8)
    vectors = np.r_[base + rng.normal(scale=0.05, size=(20, 8)), rng.normal(size=(80, 8))]
    cand = np.tile(np.arange(100), (25, 1))
    scores = np.tile(np.linspace(1.0, 0.0, 100), (25, 1)) + rng.normal(scale=1e-3, size=(25, 100))
    order = np.argsort(-scores, axis=1)
    cand, scores = np.take_along_axis(cand, order, 1), np.take_along_axis(scores, order, 1)
    before = intra_list_diversity(cand[:, :10], vectors).mean()
    after = intra_list_diversity(mmr_rerank(cand, scores, vectors, lam=0.8, k=10), vectors).mean()
    assert after > before + 0.3
    out = mmr_rerank(cand, scores, vectors, lam=0.8, k=10)
    assert (np.sort(out, axis=1)[:, 1:] != np.sort(out, axis=1)[:, :-1]).all()  # no repeats
    np.testing.assert_array_equal(out[:, 0], cand[:, 0])  # the first pick is the most relevant


def test_mmr_short_candidate_lists_are_padded() -> None:
    cand = np.array([[3, 1, -1, -1], [0, 2, 1, 3]])
    scores = np.array([[2.0, 1.0, -np.inf, -np.inf], [4.0, 3.0, 2.0, 1.0]])
    out = mmr_rerank(cand, scores, np.eye(4), lam=0.5, k=3)
    np.testing.assert_array_equal(out[0], [3, 1, -1])
    assert sorted(out[1]) == sorted(set(out[1])) and -1 not in out[1]


def test_novelty_rerank_by_hand() -> None:
    counts = np.array([8, 4, 1, 0])  # items 2 and 3 are rare
    cand = np.array([[0, 1, 2, 3]])
    scores = np.array([[4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(novelty_rerank(cand, scores, counts, 8, lam=0.0, k=3), [[0, 1, 2]])
    # λ = 1: self-information only; items 2 and 3 tie (3 counts as 1) and keep the model's order.
    np.testing.assert_array_equal(novelty_rerank(cand, scores, counts, 8, lam=1.0, k=4), [[2, 3, 1, 0]])
    # λ = 0.5: rel = [1, 2/3, 1/3, 0], nov = [0, 1/3, 1, 1] -> blends [.5, .5, .667, .5].
    np.testing.assert_array_equal(novelty_rerank(cand, scores, counts, 8, lam=0.5, k=4), [[2, 0, 1, 3]])


def test_novelty_rerank_raises_mean_novelty() -> None:
    cand, scores = ranked(30, 50, 120, seed=4)
    counts = np.random.default_rng(5).integers(0, 60, size=120)
    plain = novelty(cand[:, :10], counts, 60).mean()
    reranked = novelty(novelty_rerank(cand, scores, counts, 60, lam=0.7, k=10), counts, 60).mean()
    assert reranked > plain


def test_bad_settings_are_named() -> None:
    cand, scores = ranked(2, 5, 10, seed=0)
    with pytest.raises(ConfigError, match="lambda"):
        mmr_rerank(cand, scores, np.eye(10), lam=1.5, k=3)
    with pytest.raises(DataError, match="binary"):
        mmr_rerank(cand, scores, np.eye(10) * 0.5, lam=0.5, k=3, metric="jaccard")
    with pytest.raises(DataError, match="one score per candidate"):
        mmr_rerank(cand, scores[:, :2], np.eye(10), lam=0.5, k=3)
    with pytest.raises(DataError, match="not an item index"):
        novelty_rerank(cand + 10, scores, np.ones(10), 5, lam=0.5, k=3)


def test_parse_reranker() -> None:
    assert parse_reranker("mmr:0.3") == Reranker("mmr", 0.3)
    assert parse_reranker("mmr:0.3:genres", candidates=50) == Reranker("mmr", 0.3, candidates=50, similarity="genres")
    assert parse_reranker("novelty:0.2").method == "novelty"
    assert str(parse_reranker("mmr:0.25:embedding")) == "mmr:0.25:embedding"
    for bad, match in (
        ("mmr", "not understood"),
        ("mmr:x", "not a number"),
        ("mmr:2", "outside 0..1"),
        ("novelty:0.2:genres", "only mmr"),
        ("xquad:0.1", "not understood"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_reranker(bad)


def test_genre_matrix_ignores_missing_genres() -> None:
    meta = pd.DataFrame({"genres": ["A|B", "(no genres listed)", "", None, "B"]})
    mat = genre_matrix(meta)
    assert mat is not None
    np.testing.assert_array_equal(mat.toarray(), [[1, 1], [0, 0], [0, 0], [0, 0], [0, 1]])
    assert genre_matrix(pd.DataFrame({"title": ["x"]})) is None
    assert genre_matrix(None) is None


@pytest.fixture
def split_and_model():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    users, items, ratings = [], [], []
    for u in range(40):
        for i in rng.choice(30, size=10, replace=False):
            users.append(u)
            items.append(int(i))
            ratings.append(float(rng.integers(3, 6)))
    meta = pd.DataFrame(
        {"genres": [["A", "B", "C|A", "D"][i % 4] for i in range(30)]}, index=pd.Index(range(30), name="item")
    )
    data = build_interactions(users, items, ratings, rating_scale=(1.0, 5.0), item_metadata=meta)
    split = make_split(data, "user", test_fraction=0.3, seed=0)
    table = rng.normal(size=(data.n_users, data.n_items))
    vectors = rng.normal(size=(data.n_items, 4))
    return split, TableModel(table, vectors).fit(split.train), TableModel(table).fit(split.train)


def test_sweep_has_one_row_per_lambda_and_starts_at_the_plain_model(split_and_model) -> None:  # type: ignore[no-untyped-def]
    split, model, _ = split_and_model
    lambdas = [0.0, 0.3, 0.6, 0.9]
    frame = sweep(model, split, lambdas, k=5, candidates=20)
    assert list(frame["lambda"]) == lambdas
    assert {"ndcg", "recall", "diversity", "genre_diversity", "novelty", "coverage"} <= set(frame.columns)
    plain = evaluate(model, split, k=5)
    assert frame.loc[0, "ndcg"] == pytest.approx(plain[0].summary["ndcg"].mean)
    assert frame.loc[0, "diversity"] == pytest.approx(plain[0].summary["diversity"].mean)
    assert frame["diversity"].iloc[-1] > frame["diversity"].iloc[0]
    nov = sweep(model, split, [0.0, 1.0], method="novelty", k=5, candidates=20)
    assert len(nov) == 2 and nov["novelty"].iloc[1] > nov["novelty"].iloc[0]


def test_reranked_evaluation_uses_genres_without_vectors(split_and_model) -> None:  # type: ignore[no-untyped-def]
    split, _, no_vectors = split_and_model
    plain = evaluate(no_vectors, split, k=5)
    diverse = evaluate(no_vectors, split, k=5, rerank="mmr:0.9")
    assert np.isnan(plain[0].summary["diversity"].mean)  # no item vectors, no embedding ILD
    assert diverse[0].summary["genre_diversity"].mean > plain[0].summary["genre_diversity"].mean
    # Scores stay the model's own scores of the chosen items.
    frame = diverse.recommendations()
    table = no_vectors.table
    uidx = split.train.user_index(frame["user"].to_numpy())
    iidx = split.train.item_index(frame["item"].to_numpy())
    np.testing.assert_allclose(frame["score"].to_numpy(), table[uidx, iidx], rtol=1e-6)
    with pytest.raises(ConfigError, match="no item vectors"):
        evaluate(no_vectors, split, k=5, rerank="mmr:0.5:embedding")


def test_rerank_errors_name_parameters_not_flags(split_and_model) -> None:  # type: ignore[no-untyped-def]
    split, _, no_vectors = split_and_model
    with pytest.raises(ConfigError, match=r"similarity='genres' \(rerank='mmr:0.5:genres'\)") as info:
        evaluate(no_vectors, split, k=5, rerank="mmr:0.5:embedding")
    assert "--" not in str(info.value)
    plain = dataclasses.replace(split.train, item_metadata=None)
    with pytest.raises(ConfigError, match=r"rerank='novelty:0.3'.*item_metadata") as info:
        Reranker("mmr", 0.3).similarity_source(no_vectors, plain)
    assert "--" not in str(info.value)
