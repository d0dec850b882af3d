"""summarize: hand-checked numbers on tiny data, and the real ml-100k counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import real_dataset
from embrec.data.build import MAX_SECONDS, build_interactions
from embrec.data.interactions import Interactions
from embrec.data.load import load_data
from embrec.data.split_methods import utc_iso
from embrec.data.summary import count_stats, summarize

KEYS = {
    "name",
    "n_ratings",
    "n_users",
    "n_items",
    "density",
    "implicit",
    "rating_scale",
    "rating_histogram",
    "ratings_per_user",
    "ratings_per_item",
    "first_timestamp",
    "last_timestamp",
    "n_items_with_metadata",
    "metadata_columns",
}


def test_hand_computed() -> None:
    meta = pd.DataFrame({"title": ["A (2000)", None]}, index=pd.Index([10, 20]))
    data = build_interactions(
        [1, 1, 1, 2],
        [10, 20, 30, 10],
        [4.0, 4.0, 2.5, 5.0],
        [0, 86_400, 60, 3_600],
        rating_scale=(0.5, 5.0),
        item_metadata=meta,
        name="hand",
    )
    info = summarize(data)
    assert set(info) == KEYS
    assert (info["n_ratings"], info["n_users"], info["n_items"]) == (4, 2, 3)
    assert info["density"] == pytest.approx(4 / 6)
    assert info["implicit"] is False and info["rating_scale"] == [0.5, 5.0]
    assert info["rating_histogram"] == {2.5: 1, 4.0: 2, 5.0: 1}
    assert info["ratings_per_user"] == {
        "min": 1,
        "q25": 1.5,
        "median": 2.0,
        "q75": 2.5,
        "q90": 2.8,
        "max": 3,
        "mean": 2.0,
    }
    assert info["ratings_per_item"]["max"] == 2 and info["ratings_per_item"]["mean"] == pytest.approx(4 / 3)
    assert info["first_timestamp"] == "1970-01-01T00:00:00Z"
    assert info["last_timestamp"] == "1970-01-02T00:00:00Z"
    assert info["n_items_with_metadata"] == 1
    json.dumps(info)  # JSON-ready


def test_implicit_without_timestamps_or_metadata() -> None:
    data = build_interactions(["a", "b"], ["x", "x"], name="clicks")
    info = summarize(data)
    assert info["implicit"] is True and info["rating_scale"] is None and info["rating_histogram"] == {}
    assert info["first_timestamp"] is None and info["last_timestamp"] is None
    assert info["n_items_with_metadata"] == 0 and info["metadata_columns"] == []


def test_timestamps_without_a_calendar_date_are_shown_as_seconds() -> None:
    # the same text as a split's cutoff_utc: one formatter for both; data timestamps beyond year
    # 9999 are refused when loaded, so only a cutoff can be one
    data = build_interactions([1, 2], [10, 20], [4.0, 5.0], [-86_400, MAX_SECONDS])
    info = summarize(data)
    assert info["first_timestamp"] == "1969-12-31T00:00:00Z"
    assert info["last_timestamp"] == "9999-12-31T23:59:59Z"
    assert utc_iso(10**15) == f"{10**15} s"


def test_many_distinct_ratings_are_binned() -> None:
    n = 200
    data = build_interactions(np.arange(n), np.zeros(n, dtype=int), np.linspace(0, 1, n))
    hist = summarize(data)["rating_histogram"]
    assert len(hist) == 10 and sum(hist.values()) == n and all(isinstance(k, str) for k in hist)


def test_count_stats_empty() -> None:
    assert count_stats(np.array([], dtype=int))["max"] == 0


def test_tiny_fixture(tiny: Interactions) -> None:
    info = summarize(tiny)
    assert info["n_ratings"] == 240 and info["ratings_per_user"]["min"] == 8 == info["ratings_per_user"]["max"]
    assert sum(info["rating_histogram"].values()) == 240
    assert info["n_items_with_metadata"] == 20


@pytest.mark.realdata
def test_ml100k_summary() -> None:
    info = summarize(load_data(real_dataset("ml-100k")))
    assert (info["n_ratings"], info["n_users"], info["n_items"]) == (100_000, 943, 1_682)
    assert info["rating_histogram"] == {1.0: 6_110, 2.0: 11_370, 3.0: 27_145, 4.0: 34_174, 5.0: 21_201}
    assert info["ratings_per_user"]["min"] == 20
    assert info["first_timestamp"].startswith("1997-09-20") and info["last_timestamp"].startswith("1998-04-22")
    assert info["n_items_with_metadata"] == 1_682
