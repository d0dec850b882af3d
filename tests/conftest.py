"""Shared fixtures: tiny synthetic data, and the real MovieLens copies when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embrec.data.interactions import Interactions
from embrec.testing import tiny_interactions


def _shared_data_dir() -> Path | None:
    env = os.environ.get("EMBREC_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    return None


def real_dataset(name: str) -> Path:
    """Path of one real dataset folder under $EMBREC_DATA_DIR, or skip with the reason."""
    base = _shared_data_dir()
    if base is None or not (base / name).is_dir():
        pytest.skip(f"real dataset {name!r} not found under EMBREC_DATA_DIR (set EMBREC_DATA_DIR=../shared/data)")
    return base / name


@pytest.fixture
def tiny() -> Interactions:
    """A small explicit-feedback dataset: 30 users, 20 items, ratings 1-5, timestamps, titles and genres."""
    return tiny_interactions()
