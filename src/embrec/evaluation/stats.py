"""Uncertainty of evaluation figures: bootstrap confidence intervals and paired tests.

Per-user metric values are treated as a sample of users. :func:`bootstrap_ci` gives a
percentile interval for their mean; :func:`paired_comparison` compares two models over the
*same* users, with a paired bootstrap of the mean difference (interval and p-value) and the
Wilcoxon signed-rank test. NaN values (users for whom a metric is undefined) are left out;
a pair is left out when either of its values is NaN.

Resampling is vectorised: each batch of resamples is one ``(n_resamples, n_users)`` index draw
from a seeded :class:`numpy.random.Generator`, in chunks so memory stays bounded. Same seed, same
result.

References: Efron & Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993
(percentile interval §13.3, bootstrap test of a mean §16.4); Wilcoxon, "Individual comparisons by
ranking methods", Biometrics Bulletin 1(6), 1945; Sakai, "Statistical significance, power, and
sample sizes: a systematic review of SIGIR and TOIS, 2006-2015", SIGIR 2016.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from embrec.errors import ConfigError, DataError

__all__ = [
    "ConfidenceInterval",
    "DEFAULT_RESAMPLES",
    "MAX_RESAMPLES",
    "PairedComparison",
    "bootstrap_ci",
    "bootstrap_means",
    "check_bootstrap",
    "format_interval",
    "format_p_value",
    "paired_bootstrap",
    "paired_comparison",
    "wilcoxon_p",
]

DEFAULT_RESAMPLES = 1000
#: Most bootstrap resamples allowed: at 100,000 an interval's ends move by well under 1% of its
#: width from one seed to another; more only takes longer (a typo such as 10**9 would run for days).
MAX_RESAMPLES = 100_000
DEFAULT_LEVEL = 0.95
# Largest index matrix one chunk of resamples may draw (32 MiB of int64).
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class ConfidenceInterval:
    """A mean and its bootstrap percentile interval.

    Attributes:
        mean: the sample mean (NaN when no value is defined).
        low: lower end of the interval.
        high: upper end of the interval.
        n: number of values used (NaN values left out).
        level: confidence level, such as 0.95.
    """

    mean: float
    low: float
    high: float
    n: int
    level: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return format_interval(self.mean, self.low, self.high)


@dataclass(frozen=True)
class PairedComparison:
    """Model B against model A over the same users: ``difference = mean(B - A)``.

    Attributes:
        n: number of users with a value for both models.
        mean_a: mean of A over those users.
        mean_b: mean of B over those users.
        difference: mean of the per-user differences ``B - A``.
        low: lower end of the bootstrap percentile interval of ``difference``.
        high: upper end of that interval.
        p_bootstrap: two-sided paired bootstrap p-value of ``difference = 0``.
        p_wilcoxon: two-sided Wilcoxon signed-rank p-value (1.0 when every difference is 0).
        level: confidence level of the interval.
    """

    n: int
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    p_bootstrap: float
    p_wilcoxon: float
    level: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_interval(mean: float, low: float, high: float, digits: int = 4) -> str:
    """``mean [low, high]`` with ``digits`` decimals; ``-`` for an undefined mean."""
    if not math.isfinite(mean):
        return "-"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def format_p_value(value: float) -> str:
    """A p-value with three decimals, ``< 0.001`` below that; ``-`` when undefined."""
    if not math.isfinite(value):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


# --------------------------------------------------------------------------- checks
def _values(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D array of per-user values, got shape {arr.shape}.")
    if np.isinf(arr).any():
        raise DataError(
            f"{name} holds an infinite value at position {int(np.argmax(np.isinf(arr)))}; per-user values must be finite or NaN."
        )
    return arr


def _check_resamples(n_resamples: Any) -> int:
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, numbers.Integral)
        or not 1 <= int(n_resamples) <= MAX_RESAMPLES
    ):
        raise ConfigError(
            f"n_resamples={n_resamples!r} is not allowed; give a whole number from 1 to {MAX_RESAMPLES:,} "
            "(the number of bootstrap resamples, for example 1000)."
        )
    return int(n_resamples)


def check_bootstrap(level: Any, n_resamples: Any, seed: Any) -> None:
    """Check the bootstrap settings before any model ranks: a :class:`ConfigError` for a bad one."""
    _check_level(level)
    _check_resamples(n_resamples)
    _generator(seed)


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.0 < float(level) < 1.0:
        raise ConfigError(
            f"level must be a confidence level strictly between 0 and 1, got {level!r}; pass for example 0.95."
        )
    return float(level)


def _generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer or a numpy Generator, got {seed!r}.")
    return np.random.default_rng(seed)


def _chunks(n_resamples: int, n: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, n_resamples, step):
        yield slice(start, min(start + step, n_resamples))


# --------------------------------------------------------------------------- bootstrap
def bootstrap_means(
    values: ArrayLike, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int | np.random.Generator | None = 0
) -> NDArray[np.float64]:
    """Means of ``n_resamples`` bootstrap resamples (with replacement, same size) of ``values``.

    ``values`` must hold no NaN (drop undefined users first). Returns an array of length
    ``n_resamples``; empty input gives an array of NaN.
    """
    arr = _values(values, "values")
    if np.isnan(arr).any():
        raise DataError(f"values holds {int(np.isnan(arr).sum())} NaN; drop undefined users before resampling.")
    b = _check_resamples(n_resamples)
    rng = _generator(seed)
    out = np.full(b, np.nan)
    n = arr.size
    if n == 0:
        return out
    for rows in _chunks(b, n):
        idx = rng.integers(0, n, size=(rows.stop - rows.start, n))
        out[rows] = arr[idx].mean(axis=1)
    return out


def _percentiles(means: NDArray[np.float64], level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    values: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> ConfidenceInterval:
    """Bootstrap percentile confidence interval of the mean of ``values`` (NaN left out).

    With ``m*_b`` the means of ``B`` resamples of the ``n`` defined values (drawn with
    replacement), the interval is ``[q_{(1-level)/2}(m*), q_{(1+level)/2}(m*)]``
    (Efron & Tibshirani 1993, §13.3).

    Args:
        values: per-user values; NaN marks users for whom the metric is undefined.
        level: confidence level, e.g. 0.95.
        n_resamples: number of bootstrap resamples ``B``.
        seed: seed or :class:`numpy.random.Generator`; same seed, same interval.

    Returns:
        A :class:`ConfidenceInterval`; all NaN when no value is defined, and ``low == high ==
        mean`` for a single value.
    """
    arr = _values(values, "values")
    lvl = _check_level(level)
    defined = arr[~np.isnan(arr)]
    if defined.size == 0:
        return ConfidenceInterval(float("nan"), float("nan"), float("nan"), 0, lvl)
    mean = float(defined.mean())
    low, high = _percentiles(bootstrap_means(defined, n_resamples=n_resamples, seed=seed), lvl)
    # Resampled means can differ from the sample mean by rounding alone; keep it inside.
    return ConfidenceInterval(mean, min(low, mean), max(high, mean), int(defined.size), lvl)


def _pairs(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    x = _values(a, "a")
    y = _values(b, "b")
    if x.shape != y.shape:
        raise DataError(
            f"a has {x.size:,} values but b has {y.size:,}; a paired comparison needs one value per user "
            "for both models, in the same user order."
        )
    both = ~(np.isnan(x) | np.isnan(y))
    return np.stack([x[both], y[both]])


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> tuple[float, float, float, float]:
    """Paired bootstrap of the mean difference ``mean(b - a)`` over users defined in both.

    Users are resampled with replacement, keeping each user's pair together. The interval is the
    percentile interval of the resampled mean differences. The two-sided p-value tests
    ``mean(b - a) = 0`` by resampling the differences shifted to mean zero (the null) and counting
    resampled means at least as far from 0 as the observed one:
    ``p = (1 + #{|m*_0| >= |d|}) / (B + 1)`` (Efron & Tibshirani 1993, §16.4).

    Returns:
        ``(difference, low, high, p_value)``; all NaN when no pair is defined. When every
        difference is 0 the p-value is 1.
    """
    pairs = _pairs(a, b)
    lvl = _check_level(level)
    d = pairs[1] - pairs[0]
    if d.size == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    rng = _generator(seed)
    b_count = _check_resamples(n_resamples)
    observed = float(d.mean())
    means = bootstrap_means(d, n_resamples=b_count, seed=rng)
    low, high = _percentiles(means, lvl)
    null_means = means - observed  # resampling d - mean(d) gives exactly these means
    # Rounding in the shift must not make an all-equal difference look significant.
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    extreme = int((np.abs(null_means) >= abs(observed) - tol).sum())
    p = (1 + extreme) / (b_count + 1)
    return observed, min(low, observed), max(high, observed), float(min(p, 1.0))


def wilcoxon_p(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the per-user differences ``b - a``.

    Zero differences are dropped (``scipy.stats.wilcoxon`` with ``zero_method="wilcox"``); the
    p-value is 1 when every difference is zero and NaN when no pair is defined.

    Reference: Wilcoxon, Biometrics Bulletin 1(6), 1945.
    """
    pairs = _pairs(a, b)
    d = pairs[1] - pairs[0]
    if d.size == 0:
        return float("nan")
    if not np.any(d != 0):
        return 1.0
    result = sps.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return float(result.pvalue)


def paired_comparison(
    a: ArrayLike,
    b: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> PairedComparison:
    """Compare model B with model A over the same users (values aligned by user).

    Combines :func:`paired_bootstrap` (mean difference, its interval and p-value) and
    :func:`wilcoxon_p`. Users with NaN in either model are left out of both.

    Args:
        a: per-user values of the reference model.
        b: per-user values of the other model, same users in the same order.
        level: confidence level of the interval.
        n_resamples: bootstrap resamples.
        seed: seed or :class:`numpy.random.Generator`.
    """
    pairs = _pairs(a, b)
    diff, low, high, p_boot = paired_bootstrap(pairs[0], pairs[1], level=level, n_resamples=n_resamples, seed=seed)
    n = pairs.shape[1]
    nan = float("nan")
    return PairedComparison(
        n=int(n),
        mean_a=float(pairs[0].mean()) if n else nan,
        mean_b=float(pairs[1].mean()) if n else nan,
        difference=diff,
        low=low,
        high=high,
        p_bootstrap=p_boot,
        p_wilcoxon=wilcoxon_p(pairs[0], pairs[1]),
        level=_check_level(level),
    )
