"""Planted synthetic data: shapes, skew, seeds, the noise floor, the truth's rankings, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import embrec
from embrec.data import synthetic
from embrec.data.interactions import Interactions
from embrec.data.synthetic import SHAPES, Truth, planted, read_truth, save_planted, truth_figures, write_planted
from embrec.errors import ConfigError, EmbrecError, UnknownIdError
from embrec.metrics.ranking import mean_over_users, ndcg
from embrec.ranking import top_n

SMALL = 20_000  # rows of the small ml-100k-shaped data most tests use


@pytest.fixture(scope="module")
def small() -> tuple[Interactions, Truth]:
    return planted("ml-100k", rows=SMALL, seed=0)


@pytest.fixture(scope="module")
def full() -> tuple[Interactions, Truth]:
    """ml-100k's shape with its 100,000 rows: enough for a model to learn the factors."""
    return planted("ml-100k", seed=0)


def _rmse(pred: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred.astype(np.float64) - actual) ** 2)))


# ---------------------------------------------------------------------------- shapes and counts
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_has_the_editions_users_and_items(shape: str) -> None:
    edition = SHAPES[shape]
    rows = edition.n_users + 2 * edition.n_items  # small, but enough for every item to get a row
    data, truth = planted(shape, rows=rows, seed=1, figures=False)

    assert (data.n_users, data.n_items, data.n_ratings) == (edition.n_users, edition.n_items, rows)
    assert data.items_per_user().min() >= 1 and data.users_per_item().min() >= 1
    assert data.rating_scale == edition.rating_scale
    assert data.ratings is not None and data.ratings.min() >= edition.rating_scale[0]
    assert data.ratings.max() <= edition.rating_scale[1]
    steps = (data.ratings - edition.rating_scale[0]) / edition.rating_step
    assert np.array_equal(steps, np.round(steps))  # on the edition's half or whole stars
    assert data.timestamps is not None
    assert edition.start <= data.timestamps.min() and data.timestamps.max() <= edition.end
    assert truth.user_factors.shape == (edition.n_users, 16) and truth.item_factors.shape == (edition.n_items, 16)


def test_rows_default_to_the_editions_count(full: tuple[Interactions, Truth]) -> None:
    data, truth = full
    assert data.n_ratings == 100_000 == truth.settings.rows
    assert data.items_per_user().min() >= 20  # MovieLens's minimum per user


def test_fewer_rows_than_items_keep_the_items_that_got_rows() -> None:
    data, truth = planted("ml-100k", rows=1_000, seed=0, figures=False)
    assert data.n_users == 943 and data.n_ratings == 1_000
    assert data.n_items < 1_682 and data.users_per_item().min() >= 1
    assert np.array_equal(truth.item_ids, data.item_ids) and len(truth.item_factors) == data.n_items
    # the truth stays aligned with the data's item indexes, whose ids are the planted ones
    assert np.array_equal(
        truth.predict(data.user_ids[data.users], data.item_ids[data.items]),
        truth.noiseless_rating(data.users, data.items),
    )


def test_no_user_rates_an_item_twice(full: tuple[Interactions, Truth]) -> None:
    data, _ = full
    pairs = data.users.astype(np.int64) * data.n_items + data.items
    assert len(np.unique(pairs)) == data.n_ratings


def test_popularity_and_activity_are_skewed(full: tuple[Interactions, Truth]) -> None:
    data, _ = full
    per_item = np.sort(data.users_per_item())[::-1]
    top_1pct = per_item[: len(per_item) // 100].sum() / data.n_ratings
    assert top_1pct > 0.03  # the top 1% of items hold several times 1% of the rows
    assert per_item[0] > 10 * np.median(per_item)
    per_user = np.sort(data.items_per_user())[::-1]
    assert per_user[: len(per_user) // 10].sum() / data.n_ratings > 0.25  # top 10% of users: over a quarter
    assert per_user[0] > 8 * np.median(per_user) and per_user[-1] >= 20


def test_each_users_timestamps_increase(small: tuple[Interactions, Truth]) -> None:
    data, _ = small
    assert data.timestamps is not None
    same_user = data.users[1:] == data.users[:-1]
    assert np.all(np.diff(data.users) >= 0)  # users one after another
    assert np.all(data.timestamps[1:][same_user] > data.timestamps[:-1][same_user])
    split = embrec.make_split(data, "temporal", test_count=2)
    assert split.test.n_ratings == 2 * data.n_users


# ---------------------------------------------------------------------------- seeds
def test_a_seed_repeats_exactly_and_seeds_differ(small: tuple[Interactions, Truth]) -> None:
    data, truth = small
    again, truth_again = planted("ml-100k", rows=SMALL, seed=0)
    other, _ = planted("ml-100k", rows=SMALL, seed=1, figures=False)
    assert again.fingerprint() == data.fingerprint()
    assert np.array_equal(truth_again.user_factors, truth.user_factors)
    assert truth_again.figures == truth.figures
    assert other.fingerprint() != data.fingerprint()
    assert not np.array_equal(other.items, data.items)


def test_implicit_data_is_the_same_rows_without_ratings(small: tuple[Interactions, Truth]) -> None:
    data, _ = small
    implicit, truth = planted("ml-100k", rows=SMALL, seed=0, implicit=True)
    assert implicit.ratings is None and implicit.is_implicit and implicit.rating_scale is None
    assert np.array_equal(implicit.users, data.users) and np.array_equal(implicit.items, data.items)
    assert "noise_floor_rmse" not in truth.figures
    assert truth.figures["ranking"]["protocol"]["relevant"] == "every test item"


# ---------------------------------------------------------------------------- the noise floor
def test_the_noise_floor_is_what_the_true_parameters_reach(small: tuple[Interactions, Truth]) -> None:
    data, truth = small
    assert data.ratings is not None
    floor = _rmse(truth.noiseless_rating(data.users, data.items), data.ratings)
    best = _rmse(truth.expected_rating(data.users, data.items), data.ratings)
    assert truth.figures["noise_floor_rmse"] == pytest.approx(floor, rel=1e-6)
    assert truth.figures["best_rmse"] == pytest.approx(best, rel=1e-6)
    assert best < floor < 0.9  # noise 0.8 plus rounding, less what clipping takes off

    # computed by hand from the arrays: the global mean, the biases and the factors
    u, i = data.users, data.items
    score = truth.global_mean + truth.user_bias[u] + truth.item_bias[i]
    score = score + np.sum(truth.user_factors[u] * truth.item_factors[i], axis=1)
    assert _rmse(np.clip(score, 1, 5), data.ratings) == pytest.approx(floor, rel=1e-5)

    test = embrec.make_split(data, "random", test_fraction=0.1, seed=42).test
    assert test.ratings is not None
    test_floor = _rmse(truth.noiseless_rating(test.users, test.items), test.ratings)
    assert truth.figures["noise_floor_rmse_test"] == pytest.approx(test_floor, rel=1e-6)
    assert truth.figures["test_rows"] == test.n_ratings


def test_less_noise_lowers_the_floor() -> None:
    _, quiet = planted("ml-100k", rows=SMALL, seed=0, noise=0.3)
    _, silent = planted("ml-100k", rows=SMALL, seed=0, noise=0.0)
    assert 0.3 < quiet.figures["noise_floor_rmse"] < 0.5
    assert silent.figures["best_rmse"] == 0.0  # no noise: the expected rating is the rating
    assert silent.figures["noise_floor_rmse"] < 0.3  # only rounding to whole stars is left


def test_a_trained_model_lands_between_the_floor_and_the_biases(full: tuple[Interactions, Truth]) -> None:
    data, truth = full
    split = embrec.make_split(data, "random", test_fraction=0.1, seed=42)
    test = split.test
    assert test.ratings is not None
    ids = (test.user_ids[test.users], test.item_ids[test.items])

    biases = _rmse(embrec.create("biases").fit(split.train).predict(*ids), test.ratings)
    model = _rmse(embrec.create("embedding", epochs=20, seed=0).fit(split.train).predict(*ids), test.ratings)

    assert truth.figures["noise_floor_rmse_test"] < model < biases


# ---------------------------------------------------------------------------- the truth's rankings
def test_the_truths_ranking_beats_trained_models_on_the_same_protocol(full: tuple[Interactions, Truth]) -> None:
    data, truth = full
    ranking = truth.figures["ranking"]
    assert ranking["protocol"]["users"] == ranking["protocol"]["users_with_relevant_test_items"]
    assert ranking["protocol"]["user_sample"] is None
    split = embrec.make_split(data, "random", test_fraction=0.1, seed=42)
    for name in ("popularity", "ease"):
        result = embrec.evaluate(embrec.create(name).fit(split.train), split, k=10)
        assert ranking["relevance"]["ndcg@10"] > float(result.summary_frame()["ndcg"].iloc[0]), name
    # a perfect rating model, ranking by the score alone, misses which items users choose
    assert ranking["score"]["ndcg@10"] < ranking["relevance"]["ndcg@10"] / 2


def test_the_truths_ranking_is_embrecs_top_n_and_ndcg(small: tuple[Interactions, Truth]) -> None:
    data, truth = small
    split = embrec.make_split(data, "random", test_fraction=0.1, seed=42)
    users = np.unique(split.test.users[split.test.ratings >= 4])  # type: ignore[operator]
    seen = split.train.to_csr()[users]
    recs, _ = top_n(lambda batch: truth.relevance(users[batch]), np.arange(len(users)), 10, seen=seen)
    value = mean_over_users(ndcg(recs, split.test.to_csr("ratings")[users], threshold=4.0, k=10))
    assert truth.figures["ranking"]["relevance"]["ndcg@10"] == pytest.approx(value)


def test_large_shapes_rank_a_seeded_sample_of_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synthetic, "MAX_RANKED_USERS", 100)
    _, first = planted("ml-100k", rows=SMALL, seed=0)
    _, second = planted("ml-100k", rows=SMALL, seed=0)
    protocol = first.figures["ranking"]["protocol"]
    assert protocol["users"] == 100 < protocol["users_with_relevant_test_items"]
    assert "default_rng(42)" in protocol["user_sample"]
    assert first.figures == second.figures


def test_truth_predicts_by_external_ids(small: tuple[Interactions, Truth]) -> None:
    data, truth = small
    got = truth.predict(data.user_ids[data.users[:5]], data.item_ids[data.items[:5]])
    assert np.array_equal(got, truth.noiseless_rating(data.users[:5], data.items[:5]))
    with pytest.raises(UnknownIdError, match="unknown user id"):
        truth.predict([99_999], [1])


# ---------------------------------------------------------------------------- files
def test_the_folder_loads_as_it_is(tmp_path: Path, small: tuple[Interactions, Truth]) -> None:
    data, truth = small
    out = save_planted(tmp_path / "planted", data, truth)
    assert sorted(p.name for p in out.iterdir()) == sorted(synthetic.PLANTED_FILES)
    assert pq.read_schema(out / "ratings.parquet").names == ["user", "item", "rating", "timestamp"]

    loaded = embrec.load_data(out / "ratings.parquet")
    assert loaded.fingerprint() == data.fingerprint()

    meta = json.loads((out / "truth.json").read_text())
    assert meta["shape"] == "ml-100k" and meta["seed"] == 0 and meta["rows"] == SMALL
    assert meta["noise_floor_rmse"] == truth.figures["noise_floor_rmse"]

    back = read_truth(out)
    assert back.settings == truth.settings and back.figures == truth.figures
    assert np.array_equal(back.item_factors, truth.item_factors)
    assert np.array_equal(back.noiseless_rating(data.users, data.items), truth.noiseless_rating(data.users, data.items))
    again = truth_figures(loaded, back)  # the figures, measured again from the files
    assert again["noise_floor_rmse"] == pytest.approx(truth.figures["noise_floor_rmse"], rel=1e-9)
    assert again["ranking"] == truth.figures["ranking"]


def test_implicit_files_have_no_rating_column(tmp_path: Path) -> None:
    out, truth = write_planted(tmp_path / "implicit", "ml-100k", rows=SMALL, implicit=True)
    assert pq.read_schema(out / "ratings.parquet").names == ["user", "item", "timestamp"]
    loaded = embrec.load_data(out / "ratings.parquet")
    assert loaded.is_implicit and loaded.n_ratings == SMALL
    assert read_truth(out).settings.implicit


def test_a_non_empty_folder_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "planted"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(EmbrecError, match=r"not empty \(it holds keep.txt\).*force=True"):
        write_planted(out, "ml-100k", rows=SMALL)
    assert (out / "keep.txt").exists()

    write_planted(out, "ml-100k", rows=SMALL, force=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(synthetic.PLANTED_FILES)


def test_read_truth_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(EmbrecError, match="truth.json' is missing"):
        read_truth(tmp_path)


# ---------------------------------------------------------------------------- bad settings
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(shape="ml-10m"), r"shape='ml-10m' is not allowed; use one of ml-25m, ml-20m, ml-1m, ml-100k"),
        (dict(rows=100), r"rows=100 is fewer than the 943 users of the ml-100k shape; give rows=943 or more"),
        (dict(rows=10**9), r"rows=1000000000 is not allowed; give a whole number from 943 to 793063"),
        (dict(rows=2.5), r"rows=2.5 is not allowed"),
        (dict(rows=True), r"rows=True is not allowed"),
        (dict(seed=-1), r"seed=-1 is not allowed"),
        (dict(rank=0), r"rank=0 is not allowed; give a whole number from 1"),
        (dict(noise=-0.1), r"noise=-0.1 is not allowed; give a finite number 0 or more"),
        (dict(noise=float("nan")), r"noise=nan is not allowed"),
        (dict(temperature=0), r"temperature=0 is not allowed; give a finite number above 0"),
        (dict(implicit=True, noise=0.5), r"noise=0.5 applies to ratings, and implicit=True draws none"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        planted(**kwargs)  # type: ignore[arg-type]


def test_shape_names_are_case_insensitive() -> None:
    _, truth = planted("ML-100K", rows=1_000, figures=False)
    assert truth.settings.shape == "ml-100k" and truth.figures == {}
