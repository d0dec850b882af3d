"""Shared fixtures: tiny synthetic data, and the real MovieLens copies when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions


def _shared_data_dir() -> Path | None:
    env = os.environ.get("EMBREC_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real MovieLens copies ($EMBREC_DATA_DIR); skips when it is absent."""
    path = _shared_data_dir()
    if path is None:
        pytest.skip("real MovieLens copies not found: set EMBREC_DATA_DIR=../shared/data (as .ci/run does)")
    return path


def real_dataset(name: str) -> Path:
    """Path of one real dataset folder under $EMBREC_DATA_DIR, or skip with the reason."""
    base = _shared_data_dir()
    if base is None or not (base / name).is_dir():
        pytest.skip(f"real dataset {name!r} not found under EMBREC_DATA_DIR (set EMBREC_DATA_DIR=../shared/data)")
    return base / name


@pytest.fixture
def tiny() -> Interactions:
    """A small explicit-feedback dataset: 30 users, 20 items, ratings 1-5, timestamps, titles and genres."""
    rng = np.random.default_rng(0)
    users, items, ratings, ts = [], [], [], []
    for u in range(30):
        chosen = rng.choice(20, size=8, replace=False)
        for i in chosen:
            users.append(100 + u)
            items.append(1000 + int(i))
            ratings.append(float(rng.integers(1, 6)))
            ts.append(1_000_000 + int(rng.integers(0, 10_000)))
    import pandas as pd

    meta = pd.DataFrame(
        {
            "title": [f"Film {i} ({1990 + i})" for i in range(20)],
            "year": [1990 + i for i in range(20)],
            "genres": ["Sci-Fi|Action" if i % 2 else "Drama|Romance" for i in range(20)],
        },
        index=pd.Index([1000 + i for i in range(20)], name="item"),
    )
    return build_interactions(users, items, ratings, ts, rating_scale=(1.0, 5.0), item_metadata=meta, name="tiny")
