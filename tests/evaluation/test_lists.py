"""Scoring saved or external lists: the same numbers as `evaluate`, and clear errors on bad tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embrec.data.build import build_interactions
from embrec.data.splits import Split, make_split
from embrec.errors import ConfigError, DataError
from embrec.evaluation import METRICS, evaluate, evaluate_lists, read_recommendations
from embrec.models import create

# Every per-user metric that saved lists can be scored on (item vectors do not travel with them).
WITHOUT_VECTORS = [m.name for m in METRICS if m.kind == "per_user" and not m.needs_vectors]
LIST_FIGURES = [m.name for m in METRICS if m.kind == "list" and not m.needs_ratings]


@pytest.fixture(scope="module")
def split() -> Split:
    rng = np.random.default_rng(11)
    users, items, ratings = [], [], []
    for u in range(60):
        for i in rng.choice(40, size=12, replace=False):
            users.append(f"u{u}")
            items.append(int(i) + 100)
            ratings.append(float(rng.integers(1, 6)))
    genres = ["Drama", "Comedy|Drama", "Action", "(no genres listed)", "Comedy|Action"]
    meta = pd.DataFrame({"genres": [genres[i % 5] for i in range(40)]}, index=pd.Index(range(100, 140), name="item"))
    data = build_interactions(users, items, ratings, rating_scale=(1.0, 5.0), item_metadata=meta, name="synthetic")
    return make_split(data, "user", test_fraction=0.25, seed=0)


@pytest.fixture(scope="module")
def models(split: Split) -> list:  # type: ignore[type-arg]
    embedding = create("embedding", epochs=2, embedding_dim=8, seed=0).fit(split.train)
    return [embedding, create("popularity").fit(split.train)]


def test_saved_lists_score_exactly_as_the_model(split: Split, models: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    result = evaluate(models, split, k=5, n_resamples=100)
    path = result.write_recommendations(tmp_path / "recs.csv")
    again = evaluate_lists(path, split, k=5, n_resamples=100)
    assert [m.label for m in again.models] == [m.label for m in result.models]  # the model column
    np.testing.assert_array_equal(again.user_ids, result.user_ids)
    for direct, saved in zip(result.models, again.models, strict=True):
        columns = ["user", *WITHOUT_VECTORS, "relevant"]
        pd.testing.assert_frame_equal(saved.per_user[columns], direct.per_user[columns], check_exact=True)
        for metric in WITHOUT_VECTORS:
            assert saved.summary[metric] == direct.summary[metric], metric
        for metric in LIST_FIGURES:
            assert saved.lists[metric] == direct.lists[metric], metric
        np.testing.assert_array_equal(saved.recs, direct.recs)
        assert saved.per_user["diversity"].isna().all() and saved.per_user["exercise_diversity"].isna().all()
        assert math.isnan(saved.lists["rmse"]) and saved.lists["rated_pairs"] == 0
    assert result[0].per_user["diversity"].notna().any()  # the model itself has vectors
    assert again[0].per_user["genre_diversity"].notna().any()
    # A frame scores the same as the file; one model's lists need no model column.
    one = evaluate_lists(result.recommendations(0), split, k=5, n_resamples=100, names=["mine"])
    assert one[0].label == "mine"
    pd.testing.assert_frame_equal(one[0].per_user, again[0].per_user)
    np.testing.assert_allclose(one[0].scores, result[0].scores)


def test_parquet_and_column_aliases(split: Split, models: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    result = evaluate(models[1], split, k=5, n_resamples=50)
    frame = result.recommendations().rename(columns={"user": "userId", "item": "movieId"}).drop(columns="score")
    frame.to_parquet(tmp_path / "popular.parquet")
    assert list(read_recommendations(tmp_path / "popular.parquet").columns) == ["userId", "movieId", "rank"]
    again = evaluate_lists(tmp_path / "popular.parquet", split, k=5, n_resamples=50)
    assert again[0].label == "popular"  # the file's name
    pd.testing.assert_frame_equal(again[0].per_user[WITHOUT_VECTORS], result[0].per_user[WITHOUT_VECTORS])
    assert np.isnan(again[0].scores[again[0].recs >= 0]).all()  # no scores were given
    # Item ids read back as text still match the data's numeric ids.
    as_text = frame.astype({"movieId": str})
    pd.testing.assert_frame_equal(evaluate_lists(as_text, split, k=5, n_resamples=50)[0].per_user, again[0].per_user)


def test_users_ranks_and_the_cut_at_k(split: Split) -> None:
    first = evaluate(create("popularity").fit(split.train), split, k=3, n_resamples=20)
    users = list(first.user_ids)
    item = split.train.item_ids
    # u0's list is long and out of order; nobody else has a list; a user who is not evaluated is left out.
    others = [u for u in split.train.user_ids if u not in set(users)]
    rows = [(users[0], item[i], rank) for i, rank in ((0, 30), (1, 10), (2, 20), (3, 40), (4, 50))]
    rows += [(u, item[0], 1) for u in others[:1]]
    frame = pd.DataFrame(rows, columns=["user", "item", "rank"])
    res = evaluate_lists(frame, split, k=3, n_resamples=20)
    recs = res[0].recs
    np.testing.assert_array_equal(recs[0], [1, 2, 0])  # ordered by rank, cut at k = 3
    assert (recs[1:] == -1).all()  # an evaluated user without rows gets an empty list
    assert list(res.user_ids) == users
    table = res[0].per_user
    assert (table["ndcg"].iloc[1:] == 0).all() and (table["recall"].iloc[1:] == 0).all()
    assert res[0].lists["coverage"] == pytest.approx(3 / split.train.n_items)


def test_bad_tables_get_clear_errors(split: Split, tmp_path: Path) -> None:
    user = split.test.user_ids[split.test.users[0]]
    items = split.train.item_ids
    good = pd.DataFrame({"user": [user, user], "item": [items[0], items[1]], "rank": [1, 2]})
    with pytest.raises(DataError, match=r"item id\(s\) not among the split's 40 items, such as 9999.*drop those rows"):
        evaluate_lists(good.assign(item=[items[0], 9999]), split)
    with pytest.raises(DataError, match="user id.*such as 'nobody'"):
        evaluate_lists(good.assign(user=[user, "nobody"]), split)
    with pytest.raises(DataError, match=f"gives rank 1 to two items for user {user!r}"):
        evaluate_lists(good.assign(rank=[1, 1]), split)
    with pytest.raises(DataError, match=f"holds item {int(items[0])} twice for user {user!r}"):
        evaluate_lists(good.assign(item=[items[0], items[0]]), split)
    two = pd.concat([good.assign(model="a"), good.assign(model="b", rank=[2, 2])])
    with pytest.raises(DataError, match="in list 'b'"):
        evaluate_lists(two, split)
    with pytest.raises(DataError, match="no 'rank' column"):
        evaluate_lists(good.drop(columns="rank"), split)
    with pytest.raises(DataError, match="every rank must be a finite number"):
        evaluate_lists(good.assign(rank=["first", "second"]), split)
    with pytest.raises(DataError, match="no rows"):
        evaluate_lists(good.iloc[:0], split)
    with pytest.raises(ConfigError, match="one name per list"):
        evaluate_lists(two.assign(rank=[1, 2, 1, 2]), split, names=["x"])
    with pytest.raises(ConfigError, match="recs must be a DataFrame"):
        evaluate_lists([1, 2], split)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no recommendation file"):
        evaluate_lists(tmp_path / "missing.csv", split)
    (tmp_path / "recs.json").write_text("{}")
    with pytest.raises(DataError, match="neither CSV"):
        read_recommendations(tmp_path / "recs.json")
    with pytest.raises(DataError, match="threshold=9.0"):
        evaluate_lists(good, split, threshold=9.0)
    original = good.copy()
    evaluate_lists(good.rename(columns={"user": "user_id"}), split, n_resamples=10)
    pd.testing.assert_frame_equal(good, original)  # the caller's frame is left alone
