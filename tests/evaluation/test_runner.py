"""The evaluation runner: hand-checked figures on a tiny split, users, outputs, and real data."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import real_dataset
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.data.splits import Split, SplitMethod, make_split
from embrec.errors import ConfigError, DataError, EmbrecError
from embrec.evaluation import PER_USER_METRICS, evaluate, sweep
from embrec.models.base import Recommender

LOG3 = math.log2(3)


@dataclasses.dataclass(frozen=True)
class _Config:
    """No settings: the scores are given."""


class FixedModel(Recommender):
    """Scores from a fixed users x items table; optional item vectors and a constant rating."""

    name = "fixed"
    config_class = _Config

    def __init__(self, table: np.ndarray, vectors: np.ndarray | None = None, rating: float | None = None) -> None:
        super().__init__()
        self.table = np.asarray(table, dtype=np.float32)
        self.vectors = vectors
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

    def item_vectors(self) -> np.ndarray | None:
        return self.vectors


# Users a, b, c and items 10..14. Train: a-10, b-11, c-10, c-11.
# Test: a-12 (5), a-13 (2), b-14 (4), c-12 (3): with threshold 4, c has nothing relevant.
ROWS = [
    ("a", 10, 4.0),
    ("b", 11, 3.0),
    ("c", 10, 5.0),
    ("c", 11, 4.0),
    ("a", 12, 5.0),
    ("a", 13, 2.0),
    ("b", 14, 4.0),
    ("c", 12, 3.0),
]
TABLE = np.array(
    [
        [9, 1, 2, 3, 0],  # a: 10 is seen -> 13, 12
        [5, 9, 0, 1, 8],  # b: 11 is seen -> 14, 10
        [0, 0, 0, 0, 0],
    ]
)
VECTORS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
GENRES = ["A", "B", "A|B", "A", "(no genres listed)"]


def tiny_split(*, implicit: bool = False) -> Split:
    users, items, ratings = zip(*ROWS, strict=True)
    meta = pd.DataFrame(
        {"title": [f"film {i}" for i in range(10, 15)], "genres": GENRES}, index=pd.Index(range(10, 15), name="item")
    )
    data = build_interactions(
        list(users),
        list(items),
        None if implicit else list(ratings),
        rating_scale=None if implicit else (1.0, 5.0),
        item_metadata=meta,
        name="hand",
    )
    train_rows, test_rows = np.arange(4), np.arange(4, 8)
    return Split(
        train=data.take(train_rows),
        test=data.take(test_rows),
        method=SplitMethod.user,
        test_fraction=None,
        test_count=1,
        cutoff=None,
        seed=0,
        drop_unseen=False,
        train_rows=train_rows,
        test_rows=test_rows,
    )


def test_hand_checked_figures() -> None:
    split = tiny_split()
    model = FixedModel(TABLE, VECTORS, rating=3.0).fit(split.train)
    result = evaluate(model, split, k=2)
    assert list(result.user_ids) == ["a", "b"]  # c has no test rating >= 4
    ev = result[0]
    np.testing.assert_array_equal(ev.recs, [[3, 2], [4, 0]])  # items 13, 12 and 14, 10
    table = ev.per_user.set_index("user")
    expected = {
        #          a: hit at rank 2          b: hit at rank 1
        "ndcg": [1 / LOG3, 1.0],
        "recall": [1.0, 1.0],
        "precision": [0.5, 0.5],
        "map": [0.5, 1.0],
        "mrr": [0.5, 1.0],
        "hit": [1.0, 1.0],
        # cosine distance: 13 vs 12 is 1 - 1/sqrt(2); 14 vs 10 is orthogonal
        "diversity": [1 - 1 / math.sqrt(2), 1.0],
        # Jaccard: {A} vs {A, B} is 1 - 1/2; no genre vs {A} is 1 - 0/1
        "genre_diversity": [0.5, 1.0],
        # 3 training users; 12, 13, 14 unseen (count 1), 10 seen by 2
        "novelty": [LOG3, (LOG3 + math.log2(3 / 2)) / 2],
        # relevance-aware EPC with discounts 1 and 1/log2(3)
        "epc": [(1 / LOG3) / (1 + 1 / LOG3), 1 / (1 + 1 / LOG3)],
        # a two-item list always scores 0.5 in the exercise's scaled measure
        "exercise_diversity": [0.5, 0.5],
    }
    for metric, values in expected.items():
        np.testing.assert_allclose(table[metric].to_numpy(), values, err_msg=metric)
    assert list(table["relevant"]) == [1, 1]
    assert ev.summary["ndcg"].mean == pytest.approx((1 / LOG3 + 1) / 2)
    lists = ev.lists
    # The catalogue is the items with training data, 10 and 11: 12, 13 and 14 are recommended but
    # have no training data, so they count in neither coverage nor Gini.
    assert result.catalog_items == 2
    assert lists["coverage"] == pytest.approx(1 / 2)  # 10 of 10 and 11
    assert lists["gini"] == pytest.approx(1.0)  # exposures 0 (11) and 1 (10): all on one item
    assert lists["arp"] == pytest.approx((0 + 1) / 2)  # a: 0 and 0 ratings; b: 0 and 2
    assert lists["personalization"] == pytest.approx(1.0)
    # Every test item (12, 13, 14) lacks training data: no pair is scored, all four are cold.
    assert math.isnan(lists["rmse"]) and math.isnan(lists["mae"])
    assert lists["rated_pairs"] == 0 and lists["cold_pairs"] == 4


def test_threshold_none_and_implicit_data_make_every_test_item_relevant() -> None:
    split = tiny_split()
    everyone = evaluate(FixedModel(TABLE).fit(split.train), split, k=2, threshold=None)
    assert list(everyone.user_ids) == ["a", "b", "c"] and everyone.threshold is None
    implicit = tiny_split(implicit=True)
    res = evaluate(FixedModel(TABLE).fit(implicit.train), implicit, k=2, threshold=4.0)
    assert list(res.user_ids) == ["a", "b", "c"] and res.threshold is None
    a = res[0].per_user.set_index("user").loc["a"]
    assert a["recall"] == pytest.approx(1.0) and a["precision"] == pytest.approx(1.0)  # 13 and 12 both relevant
    assert math.isnan(res[0].lists["rmse"])  # no ratings to predict


def test_models_without_vectors_or_genres_get_nan_columns() -> None:
    split = tiny_split()
    plain = Interactions(
        split.train.users,
        split.train.items,
        split.train.ratings,
        None,
        split.train.user_ids,
        split.train.item_ids,
        None,
        (1.0, 5.0),
    )
    no_meta = dataclasses.replace(split, train=plain, test=split.test)
    res = evaluate(FixedModel(TABLE).fit(no_meta.train), no_meta, k=2)
    for metric in ("diversity", "genre_diversity", "exercise_diversity"):
        assert res[0].per_user[metric].isna().all()
        assert math.isnan(res[0].summary[metric].mean)
    md = res.to_markdown()
    assert "| ndcg (" in md and "| diversity (" not in md and "| genre_diversity (" not in md  # undefined rows left out
    assert math.isnan(res[0].lists["rmse"])  # does not predict ratings


def test_two_models_are_compared_over_the_same_users() -> None:
    split = tiny_split()
    good = FixedModel(TABLE, VECTORS).fit(split.train)
    worse = FixedModel(-TABLE, VECTORS).fit(split.train)
    res = evaluate([good, worse], split, k=1, n_resamples=200)
    assert [m.label for m in res.models] == ["fixed", "fixed#2"]
    cmp = res.compare()
    assert set(cmp["metric"]) <= set(PER_USER_METRICS) and (cmp["model"] == "fixed#2").all()
    ndcg = cmp.set_index("metric").loc["ndcg"]
    assert ndcg["n"] == 2 and ndcg["difference"] < 0
    assert 0 < ndcg["p_bootstrap"] <= 1 and 0 < ndcg["p_wilcoxon"] <= 1
    with pytest.raises(ConfigError, match="one name per model"):
        evaluate([good, worse], split, names=["x"])


def test_outputs_json_csv_markdown_and_recommendations(tmp_path: Path) -> None:
    split = tiny_split()
    res = evaluate(
        [FixedModel(TABLE, VECTORS, rating=3.0).fit(split.train), FixedModel(-TABLE).fit(split.train)],
        split,
        k=2,
        names=["good", "bad|model"],
        n_resamples=100,
    )
    data = json.loads(res.to_json())
    assert data["k"] == 2 and data["users"] == 2 and data["threshold"] == 4.0
    assert data["models"][0]["metrics"]["ndcg"]["mean"] == pytest.approx(res[0].summary["ndcg"].mean)
    assert data["models"][1]["metrics"]["diversity"]["mean"] is None  # NaN becomes null
    assert data["models"][1]["lists"]["rmse"] is None
    assert {"p_bootstrap", "p_wilcoxon"} <= set(data["comparisons"][0])

    files = res.write_csv(tmp_path / "csv")
    names = sorted(p.name for p in files)
    assert names == ["comparisons.csv", "per_user_bad_model.csv", "per_user_good.csv", "summary.csv"]
    summary = pd.read_csv(tmp_path / "csv" / "summary.csv")
    assert list(summary["model"]) == ["good", "bad|model"]
    assert {"ndcg", "ndcg_low", "ndcg_high", "coverage", "rmse"} <= set(summary.columns)
    per_user = pd.read_csv(tmp_path / "csv" / "per_user_good.csv")
    assert list(per_user["user"]) == ["a", "b"] and per_user["ndcg"].iloc[1] == pytest.approx(1.0)

    md = res.to_markdown()
    assert "| metric | good | bad\\|model |" in md
    ci = res[0].summary["ndcg"]
    assert f"{ci.mean:.4f} [{ci.low:.4f}, {ci.high:.4f}]" in md
    assert "Paired comparison" in md
    res.write_markdown(tmp_path / "report.md")
    assert (tmp_path / "report.md").read_text() == md

    recs = res.recommendations("good")
    assert list(recs.columns) == ["user", "item", "rank", "score"]
    assert recs.values.tolist() == [["a", 13, 1, 3.0], ["a", 12, 2, 2.0], ["b", 14, 1, 8.0], ["b", 10, 2, 5.0]]
    both = res.recommendations()
    assert list(both.columns) == ["model", "user", "item", "rank", "score"] and len(both) == 8
    res.write_recommendations(tmp_path / "recs.csv", "good")
    assert pd.read_csv(tmp_path / "recs.csv").values.tolist() == recs.values.tolist()
    assert not [p.name for p in tmp_path.rglob(".*")]  # no temporary files left


def test_errors_name_the_problem() -> None:
    split = tiny_split()
    model = FixedModel(TABLE).fit(split.train)
    with pytest.raises(DataError, match="no test user has a relevant item.*threshold=6"):
        evaluate(model, split, threshold=6.0)
    with pytest.raises(ConfigError, match="threshold must be a finite rating"):
        evaluate(model, split, threshold="4")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        evaluate(model, split, k=0)
    with pytest.raises(ConfigError, match="not understood"):
        evaluate(model, split, rerank="best:1")
    with pytest.raises(DataError, match="not fitted"):
        evaluate(FixedModel(TABLE), split)
    other = build_interactions(["a", "b"], [10, 99], [4.0, 5.0], rating_scale=(1.0, 5.0))
    with pytest.raises(DataError, match="trained on other data"):
        evaluate(FixedModel(np.zeros((2, 2))).fit(other), split)


def test_item_order_of_the_model_may_differ_from_the_data() -> None:
    split = tiny_split()
    # The same rows as a model would see them if its vocabulary listed the items in reverse.
    order = np.arange(5)[::-1]
    reordered = Interactions(
        split.train.users,
        (4 - split.train.items).astype(np.int32),
        split.train.ratings,
        None,
        split.train.user_ids,
        split.train.item_ids[order],
        split.train.item_metadata.iloc[order],
        (1.0, 5.0),
    )
    direct = evaluate(FixedModel(TABLE, VECTORS).fit(split.train), split, k=2)
    moved = evaluate(FixedModel(TABLE[:, order], VECTORS[order]).fit(reordered), split, k=2)
    pd.testing.assert_frame_equal(direct[0].per_user, moved[0].per_user)
    np.testing.assert_array_equal(direct[0].recs, moved[0].recs)


@pytest.mark.slow
def test_real_movielens_embedding_and_popularity_like_models() -> None:
    from embrec.data.load import load_data
    from embrec.models.embedding import EmbeddingRecommender

    data = load_data(real_dataset("ml-latest-small"))
    split = make_split(data, "random", test_fraction=0.1, seed=42)
    model = EmbeddingRecommender(epochs=3, embedding_dim=16, batch_size=4096).fit(split.train)
    counts = np.bincount(split.train.items, minlength=data.n_items).astype(np.float32)
    popular = FixedModel(np.tile(counts, (data.n_users, 1))).fit(split.train)
    res = evaluate([popular, model], split, k=10, names=["popular", "embedding"], n_resamples=200)
    assert res[0].lists["coverage"] < res[1].lists["coverage"]
    assert len(res.user_ids) > 400
    for m in res.models:
        ci = m.summary["ndcg"]
        assert 0 <= ci.low <= ci.mean <= ci.high < 1 and ci.mean > 0
        assert m.per_user["genre_diversity"].notna().all()
    assert res[1].per_user["diversity"].notna().all() and res[0].per_user["diversity"].isna().all()
    assert len(res.compare()) > 0
    assert 0.5 < res[1].lists["rmse"] < 2.0 and math.isnan(res[0].lists["rmse"])  # stars, rating model only
    frame = sweep(model, split, [0.0, 0.5], k=10, candidates=50)
    assert len(frame) == 2 and frame["diversity"].iloc[1] > frame["diversity"].iloc[0]


def test_writer_errors_name_the_parameter(tmp_path: Path) -> None:
    split = tiny_split()
    res = evaluate(FixedModel(TABLE).fit(split.train), split, k=2, n_resamples=20)
    (tmp_path / "taken").write_text("x")
    with pytest.raises(EmbrecError, match="folder=.*taken' is a file, not a folder") as info:
        res.write_csv(tmp_path / "taken")
    assert "--" not in str(info.value)
    with pytest.raises(
        DataError, match=r"threshold=6.0 \(they run from 2 to 5\); pass a lower threshold, such as threshold=5"
    ):
        evaluate(FixedModel(TABLE).fit(split.train), split, threshold=6.0)
