"""RMSE and MAE: hand-computed values, properties, and input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from embrec.errors import DataError
from embrec.metrics import mae, rmse


def test_hand_computed() -> None:
    pred = [3.0, 4.0, 5.0]
    truth = [4.0, 4.0, 3.0]
    # errors -1, 0, 2 -> squares 1, 0, 4 -> mean 5/3 -> RMSE sqrt(5/3); MAE (1 + 0 + 2) / 3 = 1
    assert rmse(pred, truth) == pytest.approx(math.sqrt(5 / 3))
    assert mae(pred, truth) == pytest.approx(1.0)


def test_perfect_prediction_is_zero() -> None:
    ratings = np.array([1.0, 2.5, 5.0])
    assert rmse(ratings, ratings) == 0.0
    assert mae(ratings, ratings) == 0.0


def test_returns_python_float() -> None:
    assert type(rmse(np.float32([1]), np.float32([2]))) is float
    assert type(mae([1], [2])) is float


ratings = st.floats(min_value=0.5, max_value=5.0, allow_nan=False)


@given(st.lists(st.tuples(ratings, ratings), min_size=1, max_size=30))
def test_properties(pairs: list[tuple[float, float]]) -> None:
    pred = np.array([p for p, _ in pairs])
    truth = np.array([t for _, t in pairs])
    err = np.abs(pred - truth)
    r, m = rmse(pred, truth), mae(pred, truth)
    # MAE <= RMSE <= max |error| (power-mean inequality), and both are symmetric.
    assert m <= r + 1e-12
    assert r <= err.max() + 1e-12
    assert r == pytest.approx(rmse(truth, pred))
    assert m == pytest.approx(mae(truth, pred))
    # Order of the pairs does not matter.
    order = np.argsort(truth, kind="stable")[::-1]
    assert r == pytest.approx(rmse(pred[order], truth[order]))


@pytest.mark.parametrize(
    ("pred", "truth", "message"),
    [
        ([1.0, 2.0], [1.0], "pred has 2 ratings but truth has 1"),
        ([], [], "empty"),
        ([1.0, float("nan")], [1.0, 2.0], r"pred\[1\] is nan"),
        ([1.0, 2.0], [1.0, float("inf")], r"truth\[1\] is inf"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
    ],
)
def test_bad_input(pred: list, truth: list, message: str) -> None:
    for metric in (rmse, mae):
        with pytest.raises(DataError, match=message):
            metric(pred, truth)
