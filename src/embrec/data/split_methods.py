"""How each split method picks its test rows: one function per :class:`~embrec.data.options.SplitMethod`.

Every function takes ``(data, fraction, count, cutoff, seed)``, already checked by
:func:`~embrec.data.splits.make_split`, and returns the :class:`Held` rows with the fraction,
count and cutoff that describe them; ``make_split`` picks the function from its table.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.data.interactions import Interactions
from embrec.data.quoting import quoted
from embrec.errors import SplitError

__all__ = [
    "DEFAULT_TEST_FRACTION",
    "Held",
    "split_cutoff",
    "split_loo",
    "split_random",
    "split_temporal",
    "split_user",
    "utc_iso",
]

DEFAULT_TEST_FRACTION = 0.1


def utc_iso(seconds: int) -> str:
    """UTC ISO text of Unix seconds, or the seconds themselves when no calendar date fits."""
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        return f"{seconds} s"


def _parse_cutoff(value: Any) -> int:
    """Unix seconds from seconds (number or numeric text), an ISO date string or a datetime.

    Rows at or after the cutoff are test rows; timestamps are whole seconds, so a fractional
    cutoff is rounded up to the first whole second it admits.
    """
    if isinstance(value, bool):
        raise SplitError(f"cutoff={value!r} is not a time; give Unix seconds or an ISO date such as 2015-01-01.")
    seconds = _seconds_of(value)
    if not math.isfinite(seconds) or abs(seconds) >= 2.0**62:
        raise SplitError(
            f"cutoff={quoted(value)} is not a finite time in range; give Unix seconds or an ISO date such as "
            "2015-01-01."
        )
    return int(math.ceil(seconds))


def _seconds_of(value: Any) -> float:
    """Unix seconds of a number, a date or datetime (naive ones read as UTC), or their text."""
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dt.datetime):
        return _as_utc(value).timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if isinstance(value, str):
        return _text_seconds(value)
    raise SplitError(
        f"cutoff={quoted(value)} of type {type(value).__name__} is not a time; give Unix seconds or an ISO date string."
    )


def _text_seconds(value: str) -> float:
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SplitError(
            f"cutoff={quoted(value)} is neither Unix seconds nor an ISO date; give e.g. 1420070400 or "
            "2015-01-01 (or 2015-01-01T12:00:00, read as UTC unless it has an offset)."
        ) from None
    return _as_utc(stamp).timestamp()


def _as_utc(stamp: dt.datetime) -> dt.datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def _need_timestamps(data: Interactions, method: str) -> np.ndarray:
    if data.timestamps is None:
        raise SplitError(
            f"split method {method!r} needs timestamps but {quoted(data.name)} has none; load a timestamp column or use "
            "method='random', 'user' or 'loo' (which picks a random row per user)."
        )
    return data.timestamps


# ---------------------------------------------------------------------------- row choosers
def _random_rows(n: int, test_size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``train_test_split`` of the row positions (an int ``test_size`` is a count)."""
    from sklearn.model_selection import train_test_split

    n_test = test_size if isinstance(test_size, int) else math.ceil(test_size * n)
    if n_test >= n or n_test < 1:
        raise SplitError(
            f"{_describe_size(test_size)} of {n:,} rows leaves the {'train' if n_test >= n else 'test'} set empty; "
            f"hold out between 1 and {n - 1:,} rows (the largest possible is test_count={n - 1})."
        )
    try:
        train, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed)
    except ValueError as exc:  # a size we did not foresee; keep scikit-learn's reason
        raise SplitError(f"cannot hold out {test_size!r} of {n:,} rows: {quoted(str(exc))}") from None
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


def _per_user_test_counts(users: np.ndarray, n_users: int, test_size: float | int) -> tuple[np.ndarray, np.ndarray]:
    """Rows per user and how many of them go to test (always leaving one for train)."""
    sizes = np.bincount(users, minlength=n_users).astype(np.int64)
    if isinstance(test_size, int):
        wanted = np.full(n_users, test_size, dtype=np.int64)
    else:
        # round half up, not numpy's half-to-even, so 2.5 rows is 3 just as 1.5 rows is 2
        wanted = np.floor(sizes * test_size + 0.5).astype(np.int64)
    return sizes, np.clip(wanted, 0, np.maximum(sizes - 1, 0))


def _rank_within_user(users: np.ndarray, order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank among its user's rows in ``order`` (which groups users)."""
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users), dtype=np.int64) - starts[users[order]]
    return rank


def _per_user_mask(data: Interactions, test_size: float | int, *, keys: np.ndarray, latest: bool) -> np.ndarray:
    """Test mask: per user, the ``wanted`` rows with the highest (latest) or lowest keys.

    ``keys`` orders rows within a user; ties go by row position, so the result is deterministic.
    """
    users = data.users.astype(np.int64)
    sizes, wanted = _per_user_test_counts(users, data.n_users, test_size)
    positions = np.arange(len(users), dtype=np.int64)
    order = np.lexsort((positions, keys, users))
    rank = _rank_within_user(users, order, sizes)
    if latest:
        return rank >= (sizes - wanted)[users]
    return rank < wanted[users]


# ---------------------------------------------------------------------------- one function per method
@dataclass(frozen=True, eq=False)
class Held:
    """The rows a method chose, and the fraction, count and cutoff time that describe them."""

    train_rows: np.ndarray
    test_rows: np.ndarray
    fraction: float | None
    count: int | None
    cutoff: int | None = None

    @classmethod
    def sized(cls, train_rows: np.ndarray, test_rows: np.ndarray, test_size: float | int) -> Held:
        """Rows described by ``test_size``: an int is a count, a float a fraction."""
        if isinstance(test_size, int):
            return cls(train_rows, test_rows, None, test_size)
        return cls(train_rows, test_rows, test_size, None)

    @classmethod
    def from_mask(cls, mask: np.ndarray, test_size: float | int) -> Held:
        """Test rows where ``mask`` is true, the others train rows."""
        return cls.sized(np.flatnonzero(~mask), np.flatnonzero(mask), test_size)


def _test_size(fraction: float | None, count: int | None) -> float | int:
    """A count, else a fraction (the default one when neither is given), as scikit-learn's ``test_size``."""
    if count is not None:
        return count
    return DEFAULT_TEST_FRACTION if fraction is None else fraction


def _describe_size(test_size: float | int) -> str:
    return f"test_count={test_size}" if isinstance(test_size, int) else f"test_fraction={test_size}"


def _check_count_fits(data: Interactions, count: int | None) -> None:
    """Refuse a per-user test count that no user can give (each keeps one row in train)."""
    if count is None:
        return
    largest = int(data.items_per_user().max(initial=0)) - 1
    if largest >= 1 and count > largest:
        raise SplitError(
            f"test_count={count} is more rows than any user can give: the most rows one user has is "
            f"{largest + 1:,}, and one of them stays in train, so the largest possible is test_count={largest}; "
            "give that or less, or hold out a share of each user's rows such as test_fraction=0.2."
        )


def split_random(data: Interactions, fraction: float | None, count: int | None, cutoff: Any, seed: int) -> Held:
    """A random holdout of all rows: exactly the rows (and order) of scikit-learn's ``train_test_split``."""
    size = _test_size(fraction, count)
    return Held.sized(*_random_rows(data.n_ratings, size, seed), size)


def split_user(data: Interactions, fraction: float | None, count: int | None, cutoff: Any, seed: int) -> Held:
    """A random holdout of each user's rows, a share or a count per user."""
    _check_count_fits(data, count)
    size = _test_size(fraction, count)
    keys = np.random.default_rng(seed).random(data.n_ratings)
    return Held.from_mask(_per_user_mask(data, size, keys=keys, latest=False), size)


def split_temporal(data: Interactions, fraction: float | None, count: int | None, cutoff: Any, seed: int) -> Held:
    """Each user's latest rows, a share or a count per user."""
    timestamps = _need_timestamps(data, "temporal")
    _check_count_fits(data, count)
    size = _test_size(fraction, count)
    return Held.from_mask(_per_user_mask(data, size, keys=timestamps, latest=True), size)


def split_loo(data: Interactions, fraction: float | None, count: int | None, cutoff: Any, seed: int) -> Held:
    """Leave one out: each user's latest row, or a random one when there are no timestamps."""
    if fraction is not None or count is not None:
        given = f"test_fraction={fraction!r}" if fraction is not None else f"test_count={count!r}"
        raise SplitError(
            f"{given} does not apply to the 'loo' split, which holds out one row per user; "
            "drop it or use method='temporal' or method='user'."
        )
    if data.timestamps is not None:
        return Held.from_mask(_per_user_mask(data, 1, keys=data.timestamps, latest=True), 1)
    keys = np.random.default_rng(seed).random(data.n_ratings)
    return Held.from_mask(_per_user_mask(data, 1, keys=keys, latest=False), 1)


def split_cutoff(data: Interactions, fraction: float | None, count: int | None, cutoff: Any, seed: int) -> Held:
    """Every row at or after one time: given, or the time that leaves ``fraction`` of the rows after it."""
    if count is not None:
        raise SplitError(
            f"test_count={count!r} does not apply to the 'cutoff' split; give a cutoff time or a test_fraction."
        )
    if cutoff is not None and fraction is not None:
        raise SplitError(
            f"give cutoff={quoted(cutoff)} or test_fraction={fraction!r} for the 'cutoff' split, not both."
        )
    ts = _need_timestamps(data, "cutoff")
    n = data.n_ratings
    if cutoff is not None:
        at = _parse_cutoff(cutoff)
    else:
        fraction = DEFAULT_TEST_FRACTION if fraction is None else fraction
        n_test = max(1, math.floor(fraction * n + 0.5))
        at = int(np.partition(ts, n - n_test)[n - n_test])
    mask = ts >= at
    n_test = int(mask.sum())
    if n_test == 0 or n_test == n:
        span = f"timestamps run from {utc_iso(int(ts.min()))} to {utc_iso(int(ts.max()))}"
        if cutoff is not None:
            raise SplitError(
                f"cutoff={quoted(cutoff)} ({utc_iso(at)}) leaves the {'test' if n_test == 0 else 'train'} set empty: "
                f"{span}; "
                "pick a time after the first and no later than the last."
            )
        raise SplitError(
            f"test_fraction={fraction!r} gives cutoff {utc_iso(at)}, which leaves the train set empty ({span}, and "
            "too many rows share the latest times); use a smaller test_fraction or method='temporal'."
        )
    return Held(np.flatnonzero(~mask), np.flatnonzero(mask), fraction, None, at)
