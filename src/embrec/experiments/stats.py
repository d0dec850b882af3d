"""The two statistics an experiment adds to :mod:`embrec.evaluation.stats`: a t-interval over cells, Holm's correction.

* :func:`t_interval`: the mean of a metric over an experiment's cells (seeds x folds) and its
  Student-t interval, ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``. It measures how much the
  figure moves from one seed (and fold) to the next: training randomness and split randomness,
  not the sampling of users, which the paired per-user tests take care of.
* :func:`paired_t`: the paired t-test of a difference over a few cells (a bootstrap of two or five
  values says nothing: every resample of two negative differences is negative).
* :func:`holm`: Holm–Bonferroni adjusted p-values for the comparisons of one table, so that the
  chance of any false "significant" in the table stays at most ``alpha``.

References: Student (W. S. Gosset), "The probable error of a mean", Biometrika 6(1), 1908;
Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
Statistics 6(2), 65-70, 1979.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from embrec.errors import DataError

__all__ = ["CellInterval", "holm", "paired_t", "t_interval"]


@dataclass(frozen=True)
class CellInterval:
    """The mean of one figure over cells, and its t-interval.

    Attributes:
        mean: the mean of the defined values (NaN when none is).
        low: lower end of the interval (NaN with fewer than two values).
        high: upper end of the interval (NaN with fewer than two values).
        sd: the sample standard deviation (``ddof=1``; NaN with fewer than two values).
        n: how many values were defined (NaN left out).
    """

    mean: float
    low: float
    high: float
    sd: float
    n: int


def t_interval(values: ArrayLike, level: float = 0.95) -> CellInterval:
    """Mean of ``values`` (NaN left out) and its Student-t confidence interval.

    ``mean ± t_{(1+level)/2, n-1} · s / sqrt(n)``, ``s`` the sample standard deviation. With one
    value the interval is undefined (NaN); with equal values it is the value itself.

    Raises:
        DataError: ``level`` is not strictly between 0 and 1.
    """
    if not 0.0 < level < 1.0:
        raise DataError(f"level={level!r} is not allowed; give a confidence level strictly between 0 and 1.")
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    nan = float("nan")
    if n == 0:
        return CellInterval(nan, nan, nan, nan, 0)
    mean = float(arr.mean())
    if n == 1:
        return CellInterval(mean, nan, nan, nan, 1)
    sd = float(arr.std(ddof=1))
    half = float(sps.t.ppf((1.0 + level) / 2.0, n - 1)) * sd / math.sqrt(n)
    return CellInterval(mean, mean - half, mean + half, sd, n)


def paired_t(a: ArrayLike, b: ArrayLike, level: float = 0.95) -> tuple[float, float, float, float, int]:
    """Paired t-test of ``mean(b - a) = 0`` over the pairs defined in both (NaN left out).

    Returns ``(difference, low, high, p_value, n)``: the mean difference, its t-interval
    (:func:`t_interval`), the two-sided p-value of ``t = d / (s_d / sqrt(n))`` with ``n - 1``
    degrees of freedom, and the number of pairs. The p-value is NaN with fewer than two pairs or
    when every difference is the same non-zero value (the test is undefined), and 1 when every
    difference is 0.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise DataError(f"a has {x.size} values but b has {y.size}; a paired test needs one pair per cell.")
    d = (y - x)[~(np.isnan(x) | np.isnan(y))]
    ci = t_interval(d, level)
    nan = float("nan")
    if ci.n < 2:
        return ci.mean, ci.low, ci.high, nan, ci.n
    if ci.sd == 0.0:
        return ci.mean, ci.low, ci.high, (1.0 if ci.mean == 0.0 else nan), ci.n
    t = ci.mean / (ci.sd / math.sqrt(ci.n))
    p = float(2.0 * sps.t.sf(abs(t), ci.n - 1))
    return ci.mean, ci.low, ci.high, min(p, 1.0), ci.n


def holm(p_values: Sequence[float] | ArrayLike) -> NDArray[np.float64]:
    """Holm–Bonferroni adjusted p-values (Holm 1979), in the order given.

    With the ``m`` defined p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of the
    ``i``-th is ``max_{j <= i} min(1, (m - j + 1) p_(j))``; a hypothesis is rejected at level
    ``alpha`` when its adjusted value is at most ``alpha``. This controls the family-wise error
    rate under any dependence between the tests, and rejects everything Bonferroni rejects.
    NaN (a comparison that could not be made) stays NaN and does not count in ``m``.

    Example:
        ``holm([0.01, 0.04, 0.03, 0.005])`` is ``[0.03, 0.06, 0.06, 0.02]``.

    Raises:
        DataError: a p-value outside [0, 1].
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    bad = ~np.isnan(p) & ((p < 0) | (p > 1))
    if bad.any():
        raise DataError(f"p-value {float(p[bad][0])!r} is outside [0, 1]; pass p-values (or NaN for a missing one).")
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = int(defined.size)
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out
