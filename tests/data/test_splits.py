"""Splits: exact agreement with scikit-learn, per-user counts, no leakage, clear errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from conftest import real_dataset
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.data.splits import Split, SplitMethod, make_split
from embrec.errors import SplitError

PER_USER = (SplitMethod.user, SplitMethod.temporal, SplitMethod.loo)


def synthetic(n_users: int = 50, n_items: int = 40, rows_per_user: int = 12, seed: int = 1) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        k = int(rng.integers(1, rows_per_user + 1))
        users += [f"u{u}"] * k
        items += [int(i) for i in rng.choice(n_items, size=k, replace=False)]
    n = len(users)
    ratings = rng.integers(1, 11, size=n) / 2
    ts = 1_400_000_000 + rng.integers(0, 500, size=n)  # few distinct times: many ties
    return build_interactions(users, items, ratings, ts, name="synthetic")


def rows_of(data: Interactions, rows: np.ndarray) -> pd.DataFrame:
    return data.take(rows).to_frame().reset_index(drop=True)


def per_user(data: Interactions) -> np.ndarray:
    return np.bincount(data.users, minlength=data.n_users)


# ---------------------------------------------------------------------------- random = scikit-learn
@pytest.mark.realdata
def test_random_90_10_seed_42_matches_sklearn_on_ml_latest_small_2016() -> None:
    frame = pd.read_csv(real_dataset("ml-latest-small-2016") / "ratings.csv")
    data = build_interactions(frame.userId, frame.movieId, frame.rating, frame.timestamp, name="ml-2016")
    assert len(data) == 100_004  # the file's rows, in file order

    split = make_split(data, "random", test_fraction=0.1, seed=42)

    train_idx, test_idx = train_test_split(np.arange(len(frame)), test_size=0.1, random_state=42)
    np.testing.assert_array_equal(split.train_rows, train_idx)
    np.testing.assert_array_equal(split.test_rows, test_idx)
    expected_test = frame.iloc[test_idx].reset_index(drop=True)
    got_test = split.test.to_frame()
    np.testing.assert_array_equal(got_test["user"].to_numpy(), expected_test["userId"].to_numpy())
    np.testing.assert_array_equal(got_test["item"].to_numpy(), expected_test["movieId"].to_numpy())
    np.testing.assert_array_equal(got_test["rating"].to_numpy(), expected_test["rating"].to_numpy())
    np.testing.assert_array_equal(got_test["timestamp"].to_numpy(), expected_test["timestamp"].to_numpy())
    assert (len(split.train), len(split.test)) == (90_003, 10_001)


def test_default_split_is_random_90_10_seed_42() -> None:
    data = synthetic()
    split = make_split(data)
    train_idx, test_idx = train_test_split(np.arange(len(data)), test_size=0.1, random_state=42)
    assert split.method is SplitMethod.random
    assert (split.test_fraction, split.seed) == (0.1, 42)
    np.testing.assert_array_equal(split.train_rows, train_idx)
    np.testing.assert_array_equal(split.test_rows, test_idx)


@pytest.mark.parametrize(("size", "seed"), [(0.1, 42), (0.25, 0), (0.5, 7), (0.05, 123), (17, 42), (1, 3)])
def test_random_matches_sklearn_on_synthetic(size: float, seed: int) -> None:
    data = synthetic(seed=seed + 5)
    kwargs = {"test_count": size} if isinstance(size, int) else {"test_fraction": size}
    split = make_split(data, "random", seed=seed, **kwargs)
    train_idx, test_idx = train_test_split(np.arange(len(data)), test_size=size, random_state=seed)
    np.testing.assert_array_equal(split.train_rows, train_idx)
    np.testing.assert_array_equal(split.test_rows, test_idx)
    pd.testing.assert_frame_equal(split.train.to_frame(), rows_of(data, train_idx))
    pd.testing.assert_frame_equal(split.test.to_frame(), rows_of(data, test_idx))


# ---------------------------------------------------------------------------- per-user splits
def test_subsets_share_the_vocabulary(tiny: Interactions) -> None:
    split = make_split(tiny, "user", test_count=2)
    for part in (split.train, split.test):
        assert part.user_ids is tiny.user_ids
        assert part.item_ids is tiny.item_ids
        assert part.rating_scale == tiny.rating_scale


@pytest.mark.parametrize("method", ["user", "temporal"])
def test_per_user_count_on_tiny(tiny: Interactions, method: str) -> None:
    split = make_split(tiny, method, test_count=3)
    assert (per_user(split.test) == 3).all()  # every tiny user has 8 rows
    assert (per_user(split.train) == 5).all()
    assert split.test_count == 3 and split.test_fraction is None


def test_users_with_too_few_rows_keep_a_training_row() -> None:
    data = build_interactions(["a", "b", "b", "c", "c", "c"], [1, 1, 2, 1, 2, 3], timestamps=[5, 1, 2, 3, 2, 1])
    for method in ("user", "temporal"):
        split = make_split(data, method, test_count=2)  # the most any user can give: c's 3 rows less one
        assert per_user(split.train).tolist() == [1, 1, 1]
        assert per_user(split.test).tolist() == [0, 1, 2]
    loo = make_split(data, "loo")
    assert per_user(loo.test).tolist() == [0, 1, 1]  # the one-row user stays in train


def test_temporal_takes_latest_rows_and_breaks_ties_by_row_order() -> None:
    data = build_interactions(["a"] * 5, [1, 2, 3, 4, 5], timestamps=[10, 30, 20, 30, 5])
    split = make_split(data, "temporal", test_count=2)
    assert sorted(split.test.to_frame()["item"].tolist()) == [2, 4]
    one = make_split(data, "temporal", test_count=1)
    assert one.test.to_frame()["item"].tolist() == [4]  # the later row of the tie at t=30
    loo = make_split(data, "loo")
    assert loo.test.to_frame()["item"].tolist() == [4]


def test_fraction_per_user_rounds_half_up(tiny: Interactions) -> None:
    split = make_split(tiny, "temporal", test_fraction=0.3)  # 0.3 * 8 = 2.4 -> 2
    assert (per_user(split.test) == 2).all()
    split = make_split(tiny, "user", test_fraction=0.5625)  # 4.5 -> 5
    assert (per_user(split.test) == 5).all()


def test_loo_without_timestamps_is_random_and_seeded() -> None:
    data = synthetic(n_users=40, rows_per_user=10)
    implicit = Interactions(data.users, data.items, None, None, data.user_ids, data.item_ids)
    a = make_split(implicit, "loo", seed=1)
    b = make_split(implicit, "loo", seed=1)
    c = make_split(implicit, "loo", seed=2)
    expected = (per_user(implicit) >= 2).astype(int)
    np.testing.assert_array_equal(per_user(a.test), expected)
    np.testing.assert_array_equal(a.test_rows, b.test_rows)
    assert not np.array_equal(a.test_rows, c.test_rows)


# ---------------------------------------------------------------------------- cutoff
def test_cutoff_as_seconds_and_as_iso_date() -> None:
    data = build_interactions(["a", "a", "b", "b"], [1, 2, 1, 2], timestamps=[100, 200, 300, 400])
    split = make_split(data, "cutoff", cutoff=300)
    assert split.test.to_frame()["timestamp"].tolist() == [300, 400]
    assert split.cutoff == 300
    assert make_split(data, "cutoff", cutoff="250").test_rows.tolist() == [2, 3]
    assert make_split(data, "cutoff", cutoff=299.5).test_rows.tolist() == [2, 3]

    day = int(dt.datetime(2015, 1, 1, tzinfo=dt.UTC).timestamp())
    dated = build_interactions(["a", "a", "a"], [1, 2, 3], timestamps=[day - 1, day, day + 86_400])
    for text in ("2015-01-01", "2015-01-01T00:00:00", "2015-01-01T00:00:00Z", "2015-01-01T01:00:00+01:00"):
        got = make_split(dated, "cutoff", cutoff=text)
        assert got.cutoff == day, text
        assert got.test_rows.tolist() == [1, 2]
    assert make_split(dated, "cutoff", cutoff=dt.date(2015, 1, 1)).cutoff == day
    assert make_split(dated, "cutoff", cutoff="2015-01-01").summary()["cutoff_utc"] == "2015-01-01T00:00:00Z"


def test_cutoff_from_fraction_is_the_time_quantile() -> None:
    ts = np.arange(1000, 1100)
    data = build_interactions(np.arange(100) % 7, np.arange(100), timestamps=ts[::-1])
    split = make_split(data, "cutoff", test_fraction=0.2)
    assert split.cutoff == 1080
    assert len(split.test) == 20
    default = make_split(data, "cutoff")
    assert (default.test_fraction, len(default.test)) == (0.1, 10)


# ---------------------------------------------------------------------------- drop_unseen
def test_drop_unseen_reports_what_it_removed() -> None:
    # user c and item 9 appear only after the cutoff, so they are unseen in train
    data = build_interactions(
        ["a", "a", "a", "b", "b", "c", "a", "b"],
        [1, 2, 3, 1, 2, 1, 9, 3],
        timestamps=[1, 2, 5, 3, 4, 10, 11, 12],
    )
    kept = make_split(data, "cutoff", cutoff=10)
    assert len(kept.test) == 3 and kept.dropped_rows == 0
    split = make_split(data, "cutoff", cutoff=10, drop_unseen=True)
    assert split.test.to_frame()[["user", "item"]].values.tolist() == [["b", 3]]
    summary = split.summary()
    assert (summary["dropped_rows"], summary["dropped_users"], summary["dropped_items"]) == (2, 1, 1)
    assert summary["test_rows"] == 1 and summary["drop_unseen"] is True


def test_drop_unseen_counts_on_tiny_temporal(tiny: Interactions) -> None:
    split = make_split(tiny, "temporal", test_count=4, drop_unseen=True)
    full = make_split(tiny, "temporal", test_count=4)
    train_items = set(split.train.items.tolist())
    unseen = ~np.isin(full.test.items, list(train_items))
    assert split.dropped_rows == int(unseen.sum())
    assert split.dropped_items == len(set(full.test.items[unseen].tolist()))
    assert split.dropped_users == 0
    assert set(split.test.items.tolist()) <= train_items


def test_drop_unseen_that_empties_test_is_an_error() -> None:
    data = build_interactions(["a", "b"], [1, 2], timestamps=[1, 2])
    with pytest.raises(SplitError, match="drop_unseen removed all 1 test rows"):
        make_split(data, "cutoff", cutoff=2, drop_unseen=True)


# ---------------------------------------------------------------------------- summary
def test_summary_is_plain_and_complete(tiny: Interactions) -> None:
    summary = make_split(tiny, "user", test_count=2, seed=3).summary()
    assert summary == {
        "method": "user",
        "test_fraction": None,
        "test_count": 2,
        "cutoff": None,
        "cutoff_utc": None,
        "seed": 3,
        "drop_unseen": False,
        "train_rows": 180,
        "train_users": 30,
        "train_items": summary["train_items"],
        "test_rows": 60,
        "test_users": 30,
        "test_items": summary["test_items"],
        "dropped_rows": 0,
        "dropped_users": 0,
        "dropped_items": 0,
    }
    assert all(type(v) in (str, int, float, bool, type(None)) for v in summary.values())
    assert "user" in repr(make_split(tiny, "user"))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "pieces"),
    [
        ({"method": "kfold"}, ["'kfold'", "random, user, temporal, cutoff, loo"]),
        ({"test_fraction": 1.5}, ["1.5", "(0, 1)"]),
        ({"test_fraction": 0}, ["0", "(0, 1)"]),
        ({"test_fraction": -0.1}, ["-0.1", "(0, 1)"]),
        ({"test_fraction": float("nan")}, ["nan", "(0, 1)"]),
        ({"test_fraction": "0.1"}, ["'0.1'", "not a number"]),
        ({"test_count": 0}, ["test_count=0", "1 or more"]),
        ({"test_count": -3}, ["test_count=-3", "1 or more"]),
        ({"test_count": 2.5}, ["2.5", "whole number"]),
        ({"test_fraction": 0.1, "test_count": 2}, ["0.1", "2", "not both"]),
        ({"seed": -1}, ["seed=-1", "0 to"]),
        ({"method": "user", "cutoff": "2015-01-01"}, ["'2015-01-01'", "only applies", "'cutoff'"]),
        ({"method": "loo", "test_count": 2}, ["test_count=2", "'loo'"]),
        ({"method": "loo", "test_fraction": 0.2}, ["test_fraction=0.2", "'loo'"]),
        ({"method": "cutoff", "test_count": 2}, ["test_count=2", "'cutoff'"]),
        ({"method": "cutoff", "cutoff": 5, "test_fraction": 0.2}, ["5", "0.2", "not both"]),
        ({"method": "cutoff", "cutoff": "next tuesday"}, ["'next tuesday'", "ISO date", "Unix seconds"]),
        ({"method": "cutoff", "cutoff": "2015-13-01"}, ["'2015-13-01'", "ISO date"]),
        ({"method": "cutoff", "cutoff": "inf"}, ["'inf'", "finite"]),
        ({"method": "cutoff", "cutoff": 1e300}, ["1e+300", "finite"]),
        ({"method": "cutoff", "cutoff": 10**12}, ["1000000000000", "test set empty", "timestamps run from"]),
        ({"method": "cutoff", "cutoff": "1970-01-01"}, ["'1970-01-01'", "train set empty"]),
        ({"method": "random", "test_count": 240}, ["test_count=240", "240 rows", "train set empty"]),
        ({"method": "user", "test_count": 10**12}, ["test_count=1000000000000", "largest possible is test_count="]),
        ({"method": "temporal", "test_count": 10**12}, ["test_count=1000000000000", "largest possible"]),
    ],
)
def test_bad_options_name_the_value_and_what_is_allowed(
    tiny: Interactions, kwargs: dict[str, object], pieces: list[str]
) -> None:
    method = kwargs.pop("method", "random")
    with pytest.raises(SplitError) as info:
        make_split(tiny, method, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    for piece in pieces:
        assert piece in message, (piece, message)
    assert "\n" not in message


@pytest.mark.parametrize("method", ["temporal", "cutoff"])
def test_time_splits_need_timestamps(method: str) -> None:
    data = build_interactions(["a", "a", "b"], [1, 2, 1], [3.0, 4.0, 5.0], name="no-times")
    with pytest.raises(SplitError, match=f"'{method}' needs timestamps but 'no-times' has none"):
        make_split(data, method)


def test_split_that_leaves_test_empty_is_an_error() -> None:
    data = build_interactions(["a", "b", "c"], [1, 1, 1], timestamps=[1, 2, 3])
    with pytest.raises(SplitError, match="leaves the test set empty"):
        make_split(data, "user", test_count=1)  # every user has one row, kept in train
    with pytest.raises(SplitError, match="leaves the test set empty"):
        make_split(data, "loo")
    one = data.take(np.array([0]))
    with pytest.raises(SplitError, match="has 1 row"):
        make_split(one)


def test_cutoff_fraction_with_all_times_tied_is_an_error() -> None:
    data = build_interactions(["a", "b", "c"], [1, 1, 1], timestamps=[7, 7, 7])
    with pytest.raises(SplitError, match="test_fraction=0.5 gives cutoff .* leaves the train set empty"):
        make_split(data, "cutoff", test_fraction=0.5)


def test_wrong_input_type() -> None:
    with pytest.raises(SplitError, match="takes an Interactions, not DataFrame"):
        make_split(pd.DataFrame({"user": [1]}))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- properties
@st.composite
def datasets(draw: st.DrawFn, *, timestamps: bool = True) -> Interactions:
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 10))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
            min_size=2,
            max_size=60,
            unique=True,
        )
    )
    users = np.array([p[0] for p in pairs], dtype=np.int32)
    items = np.array([p[1] for p in pairs], dtype=np.int32)
    times = None
    if timestamps:
        times = np.array(draw(st.lists(st.integers(0, 20), min_size=len(pairs), max_size=len(pairs))), dtype=np.int64)
    ratings = np.ones(len(pairs), dtype=np.float32)
    return Interactions(users, items, ratings, times, np.arange(n_users), np.arange(n_items))


def try_split(data: Interactions, method: str, **kwargs: object) -> Split | None:
    """The split, or None when it is refused because one side would be empty."""
    try:
        return make_split(data, method, **kwargs)  # type: ignore[arg-type]
    except SplitError as exc:
        refused = ("empty", "has 1 row", "more rows than any user can give")
        assert any(reason in str(exc) for reason in refused), str(exc)
        return None


def assert_partition(data: Interactions, split: Split) -> None:
    both = np.concatenate([split.train_rows, split.test_rows])
    np.testing.assert_array_equal(np.sort(both), np.arange(len(data)))  # disjoint and complete
    pd.testing.assert_frame_equal(split.train.to_frame(), rows_of(data, split.train_rows))
    pd.testing.assert_frame_equal(split.test.to_frame(), rows_of(data, split.test_rows))
    assert len(split.train) > 0 and len(split.test) > 0


def assert_test_not_before_train_per_user(split: Split) -> None:
    train_ts, test_ts = split.train.timestamps, split.test.timestamps
    assert train_ts is not None and test_ts is not None
    latest_train = np.full(split.train.n_users, np.iinfo(np.int64).min)
    np.maximum.at(latest_train, split.train.users, train_ts)
    assert (test_ts >= latest_train[split.test.users]).all()


split_options = st.one_of(
    st.builds(dict, test_fraction=st.floats(0.05, 0.95)),
    st.builds(dict, test_count=st.integers(1, 6)),
)

FAST = settings(max_examples=60, deadline=None)


@FAST
@given(
    data=datasets(),
    method=st.sampled_from(["random", "user", "temporal"]),
    options=split_options,
    seed=st.integers(0, 99),
)
def test_property_partition(data: Interactions, method: str, options: dict[str, object], seed: int) -> None:
    split = try_split(data, method, seed=seed, **options)
    if split is not None:
        assert_partition(data, split)
        assert split.dropped_rows == 0


@FAST
@given(data=datasets(), method=st.sampled_from(["user", "temporal"]), options=split_options, seed=st.integers(0, 99))
def test_property_per_user_holds_out_the_requested_number(
    data: Interactions, method: str, options: dict[str, object], seed: int
) -> None:
    split = try_split(data, method, seed=seed, **options)
    sizes = per_user(data)
    if "test_count" in options:
        wanted = np.minimum(int(options["test_count"]), sizes)  # type: ignore[call-overload]
    else:
        wanted = np.floor(sizes * float(options["test_fraction"]) + 0.5).astype(int)  # type: ignore[arg-type]
    wanted = np.clip(wanted, 0, np.maximum(sizes - 1, 0))
    if split is None:
        # nothing to hold out, or a count that no user can give (each keeps one training row)
        assert wanted.sum() == 0 or int(options.get("test_count", 0)) > sizes.max() - 1  # type: ignore[call-overload]
        return
    np.testing.assert_array_equal(per_user(split.test), wanted)
    assert (per_user(split.train) >= np.minimum(sizes, 1)).all()


@FAST
@given(data=datasets(), method=st.sampled_from(["temporal", "loo"]), count=st.integers(1, 4))
def test_property_time_splits_never_test_before_train(data: Interactions, method: str, count: int) -> None:
    kwargs = {"test_count": count} if method == "temporal" else {}
    split = try_split(data, method, **kwargs)
    if split is not None:
        assert_partition(data, split)
        assert_test_not_before_train_per_user(split)


@FAST
@given(data=datasets(), fraction=st.floats(0.05, 0.95), cut=st.integers(-2, 22), by_time=st.booleans())
def test_property_cutoff_puts_all_test_after_all_train(
    data: Interactions, fraction: float, cut: int, by_time: bool
) -> None:
    split = try_split(data, "cutoff", **({"cutoff": cut} if by_time else {"test_fraction": fraction}))
    if split is None:
        return
    assert_partition(data, split)
    assert split.cutoff is not None
    assert split.test.timestamps.min() >= split.cutoff > split.train.timestamps.max()  # type: ignore[union-attr]


@FAST
@given(data=datasets(timestamps=False))
def test_property_loo_without_timestamps(data: Interactions) -> None:
    split = try_split(data, "loo", seed=5)
    if split is None:
        assert (per_user(data) <= 1).all()
        return
    assert_partition(data, split)
    np.testing.assert_array_equal(per_user(split.test), (per_user(data) >= 2).astype(int))


@FAST
@given(data=datasets(), method=st.sampled_from(list(SplitMethod)), seed=st.integers(0, 99))
def test_property_drop_unseen_leaves_only_known_users_and_items(
    data: Interactions, method: SplitMethod, seed: int
) -> None:
    full = try_split(data, method, seed=seed)
    if full is None:
        return
    try:
        split = make_split(data, method, seed=seed, drop_unseen=True)
    except SplitError as exc:
        assert "drop_unseen removed all" in str(exc)
        return
    np.testing.assert_array_equal(split.train_rows, full.train_rows)
    assert np.isin(split.test_rows, full.test_rows).all()
    assert split.dropped_rows == len(full.test) - len(split.test)
    assert np.isin(split.test.users, split.train.users).all()
    assert np.isin(split.test.items, split.train.items).all()
    cold_users = set(full.test.users.tolist()) - set(full.train.users.tolist())
    cold_items = set(full.test.items.tolist()) - set(full.train.items.tolist())
    assert (split.dropped_users, split.dropped_items) == (len(cold_users), len(cold_items))


@pytest.mark.parametrize("method", ["random", "user", "loo"])
def test_same_seed_same_split_other_seed_other_split(method: str) -> None:
    frame = synthetic(n_users=80, rows_per_user=20).to_frame()
    data = build_interactions(frame["user"], frame["item"], frame["rating"])  # no timestamps: loo is random
    a = make_split(data, method, seed=11)
    b = make_split(data, method, seed=11)
    c = make_split(data, method, seed=12)
    np.testing.assert_array_equal(a.train_rows, b.train_rows)
    np.testing.assert_array_equal(a.test_rows, b.test_rows)
    assert not np.array_equal(np.sort(a.test_rows), np.sort(c.test_rows))


@pytest.mark.parametrize("method", ["temporal", "cutoff", "loo"])
def test_time_splits_ignore_the_seed(method: str) -> None:
    data = synthetic()
    a, b = make_split(data, method, seed=1), make_split(data, method, seed=2)
    np.testing.assert_array_equal(a.test_rows, b.test_rows)
