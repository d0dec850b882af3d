"""Best-rated films by damped mean: the formula by hand, the choice of m, filters, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import real_dataset
from embrec.data.build import build_interactions
from embrec.errors import ConfigError, DataError
from embrec.viz.best_rated import (
    best_rated,
    credibility_strength,
    damped_mean,
    damping_strength,
    item_rating_stats,
    perfect_score_films,
)


def small():
    """Film 10: one 5; film 11: four ratings (5, 5, 4, 4); film 12: ten 3s; film 13: 1 and 2."""
    users = [1, 2, 3, 4, 5] + list(range(1, 11)) + [1, 2]
    items = [10, 11, 11, 11, 11] + [12] * 10 + [13, 13]
    ratings = [5.0, 5.0, 5.0, 4.0, 4.0] + [3.0] * 10 + [1.0, 2.0]
    meta = pd.DataFrame(
        {
            "title": ["Once (2001)", "Four (2002)", "Ten (2003)", "Two (2004)"],
            "year": [2001, 2002, 2003, 2004],
            "genres": ["Drama", "Comedy", "Drama|Comedy", "Horror"],
        },
        index=pd.Index([10, 11, 12, 13], name="item"),
    )
    return build_interactions(users, items, ratings, None, rating_scale=(0.5, 5.0), item_metadata=meta, name="small")


def test_stats_per_item():
    stats = item_rating_stats(small())
    row = stats.set_index("item").loc[11]
    assert row["n_ratings"] == 4 and row["mean_rating"] == pytest.approx(4.5)
    assert row["title"] == "Four (2002)" and row["genres"] == "Comedy" and row["year"] == 2002


def test_damped_mean_by_hand():
    c = 3.0
    got = damped_mean([1, 4, 0], [5.0, 4.5, np.nan], 2.0, c)
    assert got[0] == pytest.approx((1 * 5 + 2 * 3) / 3)
    assert got[1] == pytest.approx((4 * 4.5 + 2 * 3) / 6)
    assert got[2] == pytest.approx(3.0)  # no ratings: the prior alone
    assert math.isnan(damped_mean([0], [np.nan], 0.0, c)[0])  # nothing at all


def test_best_rated_with_given_m_by_hand():
    data = small()
    c = float(np.mean(data.ratings))
    result = best_rated(data, n=4, m=2)
    table = result.table
    assert list(table["item"]) == [11, 10, 12, 13]
    assert table.loc[0, "damped_mean"] == pytest.approx((4 * 4.5 + 2 * c) / 6)
    assert table.loc[1, "damped_mean"] == pytest.approx((5 + 2 * c) / 3)
    assert result.m == 2 and result.m_rule == "given" and result.global_mean == pytest.approx(c)
    assert list(table["rank"]) == [1, 2, 3, 4]


def test_raw_mean_would_put_the_single_five_first_but_damping_does_not():
    data = small()
    raw_first = item_rating_stats(data).sort_values("mean_rating", ascending=False)["item"].iloc[0]
    assert raw_first == 10
    assert best_rated(data, n=1).table["item"].iloc[0] != 10


def test_default_m_is_the_quantile_of_ratings_per_film():
    data = small()
    expected = float(np.quantile([1, 4, 10, 2], 0.9))
    assert damping_strength(data) == pytest.approx(expected)
    result = best_rated(data, n=2)
    assert result.m == pytest.approx(expected) and "0.9 quantile" in result.m_rule
    assert best_rated(data, n=2, quantile=0.5).m == pytest.approx(float(np.quantile([1, 4, 10, 2], 0.5)))


def test_min_ratings_filters_without_changing_m():
    data = small()
    result = best_rated(data, n=10, m=2, min_ratings=3)
    assert set(result.table["item"]) == {11, 12}
    assert result.candidates == 2 and result.m == 2
    with pytest.raises(DataError, match="min_ratings=50"):
        best_rated(data, min_ratings=50)


def test_ties_are_broken_by_more_ratings_then_id():
    data = build_interactions([1, 2, 3, 1], [7, 8, 8, 9], [4.0, 4.0, 4.0, 4.0], None, rating_scale=(1.0, 5.0))
    assert list(best_rated(data, n=3, m=0).table["item"]) == [8, 7, 9]


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "5", True])
def test_bad_m_is_refused(bad):
    with pytest.raises(ConfigError, match="m must be"):
        best_rated(small(), m=bad)


def test_bad_n_and_quantile_are_refused():
    with pytest.raises(ConfigError, match="n must be"):
        best_rated(small(), n=0)
    with pytest.raises(ConfigError, match="quantile"):
        best_rated(small(), quantile=1.5)


def test_implicit_data_is_refused_with_a_reason():
    data = build_interactions([1, 2], [3, 4], None, None)
    with pytest.raises(DataError, match="implicit"):
        best_rated(data)


def test_perfect_score_films():
    frame = perfect_score_films(small())
    assert frame.to_dict(orient="list") == {"n_ratings": [1], "films": [1]}


def test_credibility_constant_recovers_the_simulated_ratio():
    # true film means with variance 0.25, rating noise with variance 1.0: k = 1.0 / 0.25 = 4
    rng = np.random.default_rng(0)
    n_items, per_item = 3000, 12
    means = 3.0 + rng.normal(0, 0.5, n_items)
    items = np.repeat(np.arange(n_items), per_item)
    ratings = means[items] + rng.normal(0, 1.0, items.size)
    users = np.tile(np.arange(per_item), n_items)
    data = build_interactions(users, items, ratings, None, rating_scale=(-10.0, 20.0))
    assert credibility_strength(data) == pytest.approx(4.0, rel=0.15)


def test_to_dict_is_plain_json():
    import json

    out = best_rated(small(), n=2).to_dict()
    json.dumps(out, allow_nan=False)
    assert out["films"][0]["title"] == "Four (2002)"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 500),
    st.floats(0.5, 5.0),
    st.floats(0.0, 200.0),
    st.floats(0.5, 5.0),
)
def test_damped_mean_lies_between_the_film_mean_and_the_global_mean(v, r, m, c):
    d = float(damped_mean([v], [r], m, c)[0])
    assert min(r, c) - 1e-9 <= d <= max(r, c) + 1e-9
    # more ratings, closer to the film's own mean
    d2 = float(damped_mean([v + 10], [r], m, c)[0])
    assert abs(d2 - r) <= abs(d - r) + 1e-9


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "films", "once", "m"),
    [("ml-latest-small", 296, 289, 27.0), ("ml-latest-small-2016", 315, 303, 28.0)],
)
def test_real_data_perfect_scores_and_damped_top(name, films, once, m):
    from embrec.data.load import load_data

    data = load_data(real_dataset(name))
    perfect = perfect_score_films(data)
    assert int(perfect["films"].sum()) == films
    assert int(perfect.loc[perfect["n_ratings"] == 1, "films"].sum()) == once
    best = best_rated(data, n=30)
    assert best.m == m
    assert best.table["title"].iloc[0] in ("Shawshank Redemption, The (1994)", "Godfather, The (1972)")
    assert best.table["n_ratings"].min() >= 50  # no film rated by a handful made it
