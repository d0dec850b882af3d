"""Rating-prediction accuracy: RMSE and MAE, in the units of the ratings (stars).

Both take the predicted and the true rating of the same test (user, item) pairs, in the same
order; they are pure functions of those two arrays and never see a model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from embrec.errors import DataError

__all__ = ["rmse", "mae"]


def _errors(pred: ArrayLike, truth: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if p.ndim != 1 or t.ndim != 1:
        raise DataError(
            f"pred and truth must be 1-D arrays of ratings, got shapes {p.shape} and {t.shape}; "
            "pass one predicted and one true rating per test pair."
        )
    if p.shape != t.shape:
        raise DataError(
            f"pred has {p.size:,} ratings but truth has {t.size:,}; pass one prediction per test rating, in the same order."
        )
    if p.size == 0:
        raise DataError("pred and truth are empty; there is no test rating to score.")
    for label, arr in (("pred", p), ("truth", t)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(
                f"{label}[{int(np.nonzero(bad)[0][0])}] is {arr[bad][0]} ({int(bad.sum()):,} NaN or infinite values); "
                "every rating must be a finite number (give unknown users or items a fallback prediction)."
            )
    return p - t


def rmse(pred: ArrayLike, truth: ArrayLike) -> float:
    """Root mean squared error: ``RMSE = sqrt( (1/N) sum_n (pred_n - truth_n)^2 )``.

    Reference: Herlocker, Konstan, Terveen & Riedl, "Evaluating collaborative filtering
    recommender systems", ACM TOIS 22(1), 2004.

    Args:
        pred: predicted ratings, one per test pair.
        truth: true ratings of the same pairs, in the same order.

    Returns:
        The RMSE in rating units (stars).
    """
    err = _errors(pred, truth)
    return float(np.sqrt(np.mean(err * err)))


def mae(pred: ArrayLike, truth: ArrayLike) -> float:
    """Mean absolute error: ``MAE = (1/N) sum_n |pred_n - truth_n|``.

    Reference: Herlocker et al., ACM TOIS 22(1), 2004 (see :func:`rmse`).

    Args: as :func:`rmse`.

    Returns:
        The MAE in rating units (stars).
    """
    return float(np.mean(np.abs(_errors(pred, truth))))
