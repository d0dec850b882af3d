"""The four definitions an evaluation fixes (docs/metrics.md, "What an evaluation counts"):
the catalogue of coverage and Gini, cold test pairs in RMSE/MAE, cold test items in the ranking
metrics, and the order of tied scores."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from embrec.cli._common import console
from embrec.cli.evaluate_cmd import _print_tables
from embrec.data.build import build_interactions
from embrec.data.splits import Split, SplitMethod
from embrec.evaluation import evaluate, evaluate_lists, get_metric
from embrec.models import create
from embrec.models.base import Recommender
from embrec.ranking import top_k_rows, top_n

LOG3 = math.log2(3)


@dataclasses.dataclass(frozen=True)
class _Config:
    """No settings: the scores are given."""


class FixedModel(Recommender):
    """Scores from a fixed users x items table and, optionally, one constant predicted rating."""

    name = "fixed"
    config_class = _Config

    def __init__(self, table: np.ndarray, rating: float | None = None) -> None:
        super().__init__()
        self.table = np.asarray(table, dtype=np.float32)
        self.rating = rating

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        return self.rating is not None

    def _fit(self, train, progress) -> None:  # type: ignore[no-untyped-def]
        pass

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.table[users])

    def _predict_indexes(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(len(users), self.rating, dtype=np.float64)


# Users a, b, c, d and items 10..14. Items 10, 11, 12 have training data, 13 and 14 only test
# rows; user d has only test rows. So the catalogue is {10, 11, 12}, and of the six test pairs
# three are warm (a-12, b-11, c-10) and three cold (a-13: item, b-14: item, d-10: user).
TRAIN = [("a", 10, 4.0), ("a", 11, 2.0), ("b", 10, 5.0), ("b", 12, 3.0), ("c", 11, 4.0), ("c", 12, 2.0)]
TEST = [("a", 12, 5.0), ("a", 13, 4.0), ("b", 11, 4.0), ("b", 14, 1.0), ("c", 10, 5.0), ("d", 10, 4.0)]
# Top 2 of each user, training items left out: a 13, 14; b 11, 13; c 10, 14; d 10, 11.
TABLE = np.array(
    [
        [0, 0, 1, 9, 8],
        [0, 9, 0, 8, 1],
        [9, 0, 0, 1, 8],
        [9, 8, 1, 0, 0],
    ]
)


def cold_split() -> Split:
    users, items, ratings = zip(*(TRAIN + TEST), strict=True)
    data = build_interactions(list(users), list(items), list(ratings), rating_scale=(1.0, 5.0), name="cold")
    train_rows, test_rows = np.arange(len(TRAIN)), np.arange(len(TRAIN), len(TRAIN) + len(TEST))
    return Split(
        train=data.take(train_rows),
        test=data.take(test_rows),
        method=SplitMethod.random,
        test_fraction=None,
        test_count=len(TEST),
        cutoff=None,
        seed=0,
        drop_unseen=False,
        train_rows=train_rows,
        test_rows=test_rows,
    )


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    split = cold_split()
    model = FixedModel(TABLE, rating=3.0).fit(split.train)
    return evaluate(model, split, k=2, n_resamples=50)


# --------------------------------------------------------------------------- 1. the catalogue
def test_coverage_and_gini_divide_by_the_items_with_training_data(result) -> None:  # type: ignore[no-untyped-def]
    ev = result[0]
    np.testing.assert_array_equal(ev.recs, [[3, 4], [1, 3], [0, 4], [0, 1]])
    assert result.catalog_items == 3  # 10, 11, 12 (not the 5 items of the vocabulary)
    # Recommended catalogue items: 10 (c, d) and 11 (b, d); 13 and 14 have no training data and
    # count in neither figure (over the whole vocabulary coverage would be 4/5 and Gini 0.25).
    assert ev.lists["coverage"] == pytest.approx(2 / 3)
    assert ev.lists["gini"] == pytest.approx(0.5)  # exposures 0, 2, 2 over three items
    assert "items with training data" in get_metric("coverage").description
    assert "items with training data" in get_metric("gini").description


def test_the_outputs_name_the_catalogue(result) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(result.to_json())
    assert data["catalog_items"] == 3
    assert data["catalog_rule"] == "items with at least one training interaction"
    md = result.to_markdown()
    assert "Coverage and Gini over the 3 items with training data." in md
    assert "| coverage (catalogue coverage, items with training data) | 0.6667 |" in md
    with console.capture() as captured:
        _print_tables(result, "cold")
    assert "coverage and Gini over the 3 items with training data" in captured.get()


def test_saved_lists_use_the_same_catalogue(result) -> None:  # type: ignore[no-untyped-def]
    again = evaluate_lists(result.recommendations(), cold_split(), k=2, n_resamples=50)
    assert again.catalog_items == 3
    assert again[0].lists["coverage"] == result[0].lists["coverage"]
    assert again[0].lists["gini"] == result[0].lists["gini"]


# --------------------------------------------------------------------------- 2. cold pairs in RMSE/MAE
def test_rmse_and_mae_score_only_pairs_with_training_data(result) -> None:  # type: ignore[no-untyped-def]
    lists = result[0].lists
    # constant 3 stars on the warm pairs a-12 (5), b-11 (4), c-10 (5): errors 2, 1, 2
    assert lists["rmse"] == pytest.approx(math.sqrt(9 / 3))
    assert lists["mae"] == pytest.approx(5 / 3)
    assert lists["rated_pairs"] == 3 and lists["cold_pairs"] == 3  # together the six test rows
    assert "test pairs with training data" in get_metric("rmse").description


def test_the_outputs_report_both_counts(result) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(result.to_json())
    assert data["models"][0]["lists"]["rated_pairs"] == 3
    assert data["models"][0]["lists"]["cold_pairs"] == 3
    assert "cold_pairs" in data["rated_pairs_rule"]
    md = result.to_markdown()
    assert "| rated_pairs (test pairs scored by RMSE and MAE) | 3 |" in md
    assert "| cold_pairs (test pairs whose user or item has no training data, not scored) | 3 |" in md
    with console.capture() as captured:
        _print_tables(result, "cold")
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in captured.get().splitlines()
        if "_pairs" in line
    }
    assert rows == {"rated_pairs": "3", "cold_pairs": "3"}


def test_models_without_ratings_count_no_pairs() -> None:
    split = cold_split()
    res = evaluate([FixedModel(TABLE, rating=3.0).fit(split.train), FixedModel(TABLE).fit(split.train)], split, k=2)
    ranking_only = res[1].lists
    assert math.isnan(ranking_only["rmse"]) and ranking_only["rated_pairs"] == 0 and ranking_only["cold_pairs"] == 0
    assert "| rated_pairs (test pairs scored by RMSE and MAE) | 3 | - |" in res.to_markdown()


# --------------------------------------------------------------------------- 3. cold test items stay relevant
def test_test_items_and_users_without_training_data_stay_in_the_ranking_metrics(result) -> None:  # type: ignore[no-untyped-def]
    table = result[0].per_user.set_index("user")
    assert list(table.index) == ["a", "b", "c", "d"]  # d has no training rows and is evaluated
    # a's relevant items are 12 and 13 (13 has no training data); the hit on 13 at rank 1 counts
    assert table.loc["a", "relevant"] == 2
    assert table.loc["a", "recall"] == pytest.approx(1 / 2)
    assert table.loc["a", "ndcg"] == pytest.approx(1 / (1 + 1 / LOG3))
    assert table.loc["d", "ndcg"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- 4. ties
def _ranked(scores: np.ndarray, n: int, **options) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    table = torch.tensor(np.asarray(scores, dtype=np.float32))
    return top_n(lambda batch: table[batch].clone(), np.arange(table.shape[0]), n, **options)


def test_equal_scores_come_in_ascending_item_index() -> None:
    items, scores = _ranked([[1.0] * 5], 3)
    np.testing.assert_array_equal(items, [[0, 1, 2]])
    # ties inside the list and at the cut: 10 items at 5, 20 at 3, 10 at 2
    counts = np.repeat([5.0, 3.0, 3.0, 2.0], 10)
    items, scores = _ranked([counts], 12)
    np.testing.assert_array_equal(items, [list(range(12))])
    np.testing.assert_array_equal(scores, [[5.0] * 10 + [3.0] * 2])
    # the best item first, then the three items tied at 2 by index, then the first items tied at 1
    row = np.array([3.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 0])
    items, _ = _ranked([row, row[::-1].copy()], 5)
    np.testing.assert_array_equal(items, [[0, 11, 12, 13, 1], [14, 1, 2, 3, 4]])


def test_ties_with_seen_items_padding_and_nan() -> None:
    seen = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0]]))
    items, scores = _ranked([[1.0, 1, 1, 1, 1], [np.nan, 2, np.nan, 2, 0]], 5, seen=seen)
    # user 0: 0 and 2 are seen, the rest tie; user 1: NaN counts as -inf and is never recommended
    np.testing.assert_array_equal(items, [[1, 3, 4, -1, -1], [1, 3, 4, -1, -1]])
    assert np.isneginf(scores[:, 3:]).all()


def test_top_k_rows_equals_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        rows, cols = rng.integers(1, 8), rng.integers(1, 30)
        scores = rng.integers(0, rng.integers(1, 5), size=(rows, cols)).astype(np.float32)
        scores[rng.random(scores.shape) < 0.1] = -np.inf
        k = int(rng.integers(0, cols + 1))
        values, idx = top_k_rows(torch.from_numpy(scores.copy()), k)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(idx.numpy(), order)
        np.testing.assert_array_equal(values.numpy(), np.take_along_axis(scores, order, axis=1))


def test_popularity_ties_come_in_ascending_item_id() -> None:
    # Item 60 has two users, items 50, 40, 30, 20 and 10 one each. Ids are sorted into the
    # vocabulary, so the tied items come in ascending id whatever order the rows came in.
    rows = [("u1", 60), ("u2", 60), ("u3", 50), ("u4", 40), ("u5", 30), ("u6", 20), ("u7", 10)]
    users, items = zip(*rows, strict=True)
    model = create("popularity").fit(build_interactions(list(users), list(items), None, name="ties"))
    assert model.recommend("u1", n=4)["item"].tolist() == [10, 20, 30, 40]  # u1 has 60 already
    assert model.recommend("u3", n=3)["item"].tolist() == [60, 10, 20]
    lists = model.recommend(n=2).groupby("user")["item"].apply(list).to_dict()
    assert lists == {
        "u1": [10, 20],
        "u2": [10, 20],
        "u3": [60, 10],
        "u4": [60, 10],
        "u5": [60, 10],
        "u6": [60, 10],
        "u7": [60, 20],
    }


def test_similar_items_with_equal_similarity_come_in_index_order(tiny):
    from embrec.models.embedding import EmbeddingRecommender

    model = EmbeddingRecommender(epochs=1).fit(tiny)
    weight = model.net_.item_embedding.weight
    with torch.no_grad():
        weight[[11, 2, 7, 15]] = weight[4] * torch.tensor([[4.0], [1.0], [2.0], [0.5]])  # cosine exactly 1 with item 4
    idx, sims = model.similar_indexes(4, n=3)
    assert idx.tolist() == [2, 7, 11] and sims == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
