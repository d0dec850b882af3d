"""Train/test splits of an :class:`Interactions`, with no leakage between the two.

Five methods, all chosen by :class:`SplitMethod` and made by :func:`make_split`:

* ``random``: a random holdout of rows. With ``test_fraction`` and ``seed`` it picks exactly
  the rows (in the same order) that ``sklearn.model_selection.train_test_split(np.arange(n),
  test_size=test_fraction, random_state=seed)`` picks, because it calls it.
* ``user``: a random holdout of each user's rows (a fraction or a count per user).
* ``temporal``: each user's latest rows (a fraction or a count per user).
* ``cutoff``: every row at or after one global time goes to test; the time is given, or is the
  quantile of time that leaves ``test_fraction`` of the rows after it.
* ``loo``: leave one out, each user's latest row (a random one when there are no timestamps).

Per-user methods always leave a user at least one training row, so a user with a single row
stays in train. Train and test share the input's vocabulary (see :meth:`Interactions.take`).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from embrec.data.interactions import Interactions
from embrec.errors import SplitError

__all__ = ["DEFAULT_TEST_FRACTION", "Split", "SplitMethod", "make_split"]

DEFAULT_TEST_FRACTION = 0.1
_MAX_SEED = 2**32 - 1  # what numpy's legacy RandomState (used by scikit-learn) accepts


class SplitMethod(str, Enum):
    """How test rows are chosen."""

    random = "random"  #: a random share (or number) of all rows
    user = "user"  #: a random share (or number) of each user's rows
    temporal = "temporal"  #: each user's latest share (or number) of rows
    cutoff = "cutoff"  #: every row at or after a global time
    loo = "loo"  #: each user's latest row (a random one without timestamps)


@dataclass(frozen=True, eq=False)
class Split:
    """A train and a test set drawn from one :class:`Interactions`, and how they were drawn.

    Attributes:
        train: the training rows (sharing the input's vocabulary).
        test: the test rows (sharing the input's vocabulary), after ``drop_unseen``.
        method: the split method.
        test_fraction: the share held out, or ``None`` when a count (or a cutoff time) was used.
        test_count: the number held out (per user for per-user methods; in all for ``random``),
            or ``None`` when a fraction was used.
        cutoff: for ``cutoff`` splits, the Unix second from which rows are test rows; else ``None``.
        seed: the random seed (unused by ``temporal``, ``cutoff`` and timestamped ``loo``).
        drop_unseen: whether test rows with a user or item unseen in train were dropped.
        train_rows: positions in the input of the training rows, in ``train``'s order.
        test_rows: positions in the input of the test rows, in ``test``'s order.
        dropped_rows: test rows dropped by ``drop_unseen``.
        dropped_users: users that had test rows but no training row (all their test rows dropped).
        dropped_items: items that had test rows but no training row (all their test rows dropped).
    """

    train: Interactions
    test: Interactions
    method: SplitMethod
    test_fraction: float | None
    test_count: int | None
    cutoff: int | None
    seed: int
    drop_unseen: bool
    train_rows: np.ndarray
    test_rows: np.ndarray
    dropped_rows: int = 0
    dropped_users: int = 0
    dropped_items: int = 0

    def summary(self) -> dict[str, Any]:
        """Plain (JSON-ready) counts and parameters of the split."""
        out: dict[str, Any] = {
            "method": self.method.value,
            "test_fraction": self.test_fraction,
            "test_count": self.test_count,
            "cutoff": self.cutoff,
            "cutoff_utc": None if self.cutoff is None else _iso(self.cutoff),
            "seed": self.seed,
            "drop_unseen": self.drop_unseen,
        }
        for label, part in (("train", self.train), ("test", self.test)):
            out[f"{label}_rows"] = int(part.n_ratings)
            out[f"{label}_users"] = int(len(np.unique(part.users)))
            out[f"{label}_items"] = int(len(np.unique(part.items)))
        out["dropped_rows"] = int(self.dropped_rows)
        out["dropped_users"] = int(self.dropped_users)
        out["dropped_items"] = int(self.dropped_items)
        return out

    def __repr__(self) -> str:
        return (
            f"<Split {self.method.value}: {self.train.n_ratings:,} train rows, "
            f"{self.test.n_ratings:,} test rows, {self.dropped_rows:,} dropped>"
        )


# ---------------------------------------------------------------------------- validation
def _allowed_methods() -> str:
    return ", ".join(m.value for m in SplitMethod)


def _method(method: SplitMethod | str) -> SplitMethod:
    try:
        return SplitMethod(method)
    except ValueError:
        raise SplitError(f"split method {method!r} is not allowed; use one of {_allowed_methods()}.") from None


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SplitError(f"test fraction {value!r} is not a number; give a share between 0 and 1 such as 0.1.")
    frac = float(value)
    if not 0.0 < frac < 1.0:  # NaN fails too
        raise SplitError(
            f"test fraction {value!r} is outside (0, 1); give a share strictly between 0 and 1 such as 0.1."
        )
    return frac


def _check_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SplitError(f"test count {value!r} is not a whole number; give a count of 1 or more.")
    count = int(value)
    if count < 1:
        raise SplitError(f"test count {count} is below 1; give a count of 1 or more.")
    return count


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= _MAX_SEED:
        raise SplitError(f"seed {value!r} is not allowed; give a whole number from 0 to {_MAX_SEED}.")
    return int(value)


def _iso(seconds: int) -> str:
    """UTC ISO text of Unix seconds, or the seconds themselves when no calendar date fits."""
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        return f"{seconds} s"


def _parse_cutoff(value: Any) -> int:
    """Unix seconds from seconds (number or numeric text), an ISO date string or a datetime.

    Rows at or after the cutoff are test rows; timestamps are whole seconds, so a fractional
    cutoff is rounded up to the first whole second it admits.
    """
    if isinstance(value, bool):
        raise SplitError(f"cutoff {value!r} is not a time; give Unix seconds or an ISO date such as 2015-01-01.")
    seconds: float
    if isinstance(value, numbers.Real):
        seconds = float(value)
    elif isinstance(value, dt.datetime):
        stamp = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
        seconds = stamp.timestamp()
    elif isinstance(value, dt.date):
        seconds = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                stamp = dt.datetime.fromisoformat(text)
            except ValueError:
                raise SplitError(
                    f"cutoff {value!r} is neither Unix seconds nor an ISO date; give e.g. 1420070400 or "
                    "2015-01-01 (or 2015-01-01T12:00:00, read as UTC unless it has an offset)."
                ) from None
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.timezone.utc)
            seconds = stamp.timestamp()
    else:
        raise SplitError(
            f"cutoff {value!r} of type {type(value).__name__} is not a time; give Unix seconds or an ISO date string."
        )
    if not math.isfinite(seconds) or abs(seconds) >= 2.0**62:
        raise SplitError(
            f"cutoff {value!r} is not a finite time in range; give Unix seconds or an ISO date such as 2015-01-01."
        )
    return int(math.ceil(seconds))


def _need_timestamps(data: Interactions, method: SplitMethod) -> np.ndarray:
    if data.timestamps is None:
        other = "random, user or loo (which picks a random row per user)"
        raise SplitError(
            f"split method {method.value!r} needs timestamps but {data.name!r} has none; "
            f"load a timestamp column or use --split {other}."
        )
    return data.timestamps


# ---------------------------------------------------------------------------- row choosers
def _random_rows(n: int, fraction: float | None, count: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    size: float | int = count if count is not None else fraction  # type: ignore[assignment]
    n_test = count if count is not None else math.ceil(fraction * n)  # type: ignore[operator]
    if n_test >= n or n_test < 1:
        what = f"test count {count}" if count is not None else f"test fraction {fraction}"
        raise SplitError(
            f"{what} of {n:,} rows leaves the {'train' if n_test >= n else 'test'} set empty; "
            f"hold out between 1 and {n - 1:,} rows."
        )
    try:
        train, test = train_test_split(np.arange(n), test_size=size, random_state=seed)
    except ValueError as exc:  # a size we did not foresee; keep scikit-learn's reason
        raise SplitError(f"cannot hold out {size!r} of {n:,} rows: {exc}") from None
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


def _per_user_test_counts(
    users: np.ndarray, n_users: int, fraction: float | None, count: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows per user and how many of them go to test (always leaving one for train)."""
    sizes = np.bincount(users, minlength=n_users).astype(np.int64)
    if count is not None:
        wanted = np.full(n_users, count, dtype=np.int64)
    else:
        # round half up, not numpy's half-to-even, so 2.5 rows is 3 just as 1.5 rows is 2
        wanted = np.floor(sizes * fraction + 0.5).astype(np.int64)
    return sizes, np.clip(wanted, 0, np.maximum(sizes - 1, 0))


def _rank_within_user(users: np.ndarray, order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank among its user's rows in ``order`` (which groups users)."""
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users), dtype=np.int64) - starts[users[order]]
    return rank


def _per_user_mask(
    data: Interactions, fraction: float | None, count: int | None, *, keys: np.ndarray, latest: bool
) -> np.ndarray:
    """Test mask: per user, the ``wanted`` rows with the highest (latest) or lowest keys.

    ``keys`` orders rows within a user; ties go by row position, so the result is deterministic.
    """
    users = data.users.astype(np.int64)
    sizes, wanted = _per_user_test_counts(users, data.n_users, fraction, count)
    positions = np.arange(len(users), dtype=np.int64)
    order = np.lexsort((positions, keys, users))
    rank = _rank_within_user(users, order, sizes)
    if latest:
        return rank >= (sizes - wanted)[users]
    return rank < wanted[users]


# ---------------------------------------------------------------------------- the split
def make_split(
    interactions: Interactions,
    method: SplitMethod | str = SplitMethod.random,
    *,
    test_fraction: float | None = None,
    test_count: int | None = None,
    cutoff: str | int | float | None = None,
    seed: int = 42,
    drop_unseen: bool = False,
) -> Split:
    """Split ``interactions`` into train and test.

    Args:
        interactions: the rows to split.
        method: a :class:`SplitMethod` or its name.
        test_fraction: share held out: of all rows (``random``), of each user's rows
            (``user``, ``temporal``), or of rows after the cutoff time (``cutoff``).
            Defaults to 0.1 when neither it, ``test_count`` nor ``cutoff`` is given.
        test_count: rows held out per user (``user``, ``temporal``) or in all (``random``),
            instead of a fraction.
        cutoff: for ``cutoff`` only: Unix seconds or an ISO date (UTC unless it has an offset);
            rows at or after it are test rows.
        seed: random seed (``random``, ``user``, and ``loo`` without timestamps).
        drop_unseen: drop test rows whose user or item has no training row.

    Returns:
        A :class:`Split`; train rows keep the input's order except for ``random``, which keeps
        scikit-learn's shuffled order.

    Raises:
        SplitError: a bad or conflicting option, a time split without timestamps, or a split
            that would leave train or test empty.
    """
    method = _method(method)
    seed = _check_seed(seed)
    if not isinstance(interactions, Interactions):
        raise SplitError(
            f"make_split takes an Interactions, not {type(interactions).__name__}; build one with build_interactions."
        )
    if test_fraction is not None and test_count is not None:
        raise SplitError(
            f"give a test fraction ({test_fraction!r}) or a test count ({test_count!r}), not both."
        )
    fraction = None if test_fraction is None else _check_fraction(test_fraction)
    count = None if test_count is None else _check_count(test_count)
    if cutoff is not None and method is not SplitMethod.cutoff:
        raise SplitError(f"cutoff {cutoff!r} only applies to the 'cutoff' split, not {method.value!r}; drop it or use --split cutoff.")
    n = interactions.n_ratings
    if n < 2:
        raise SplitError(f"{interactions.name!r} has {n} row(s); a split needs at least 2.")

    cutoff_used: int | None = None
    if method is SplitMethod.random:
        if fraction is None and count is None:
            fraction = DEFAULT_TEST_FRACTION
        train_rows, test_rows = _random_rows(n, fraction, count, seed)
    elif method in (SplitMethod.user, SplitMethod.temporal):
        if fraction is None and count is None:
            fraction = DEFAULT_TEST_FRACTION
        if method is SplitMethod.user:
            keys = np.random.default_rng(seed).random(n)
            mask = _per_user_mask(interactions, fraction, count, keys=keys, latest=False)
        else:
            ts = _need_timestamps(interactions, method)
            mask = _per_user_mask(interactions, fraction, count, keys=ts, latest=True)
        train_rows, test_rows = np.flatnonzero(~mask), np.flatnonzero(mask)
    elif method is SplitMethod.loo:
        if fraction is not None or count is not None:
            given = f"test fraction {fraction!r}" if fraction is not None else f"test count {count!r}"
            raise SplitError(
                f"{given} does not apply to the 'loo' split, which holds out one row per user; "
                "drop it or use --split temporal/user."
            )
        if interactions.timestamps is not None:
            mask = _per_user_mask(interactions, None, 1, keys=interactions.timestamps, latest=True)
        else:
            keys = np.random.default_rng(seed).random(n)
            mask = _per_user_mask(interactions, None, 1, keys=keys, latest=False)
        count = 1
        train_rows, test_rows = np.flatnonzero(~mask), np.flatnonzero(mask)
    else:  # cutoff
        if count is not None:
            raise SplitError(
                f"test count {count!r} does not apply to the 'cutoff' split; give a cutoff time or a test fraction."
            )
        if cutoff is not None and fraction is not None:
            raise SplitError(f"give a cutoff ({cutoff!r}) or a test fraction ({fraction!r}) for the 'cutoff' split, not both.")
        ts = _need_timestamps(interactions, method)
        if cutoff is not None:
            cutoff_used = _parse_cutoff(cutoff)
        else:
            share = DEFAULT_TEST_FRACTION if fraction is None else fraction
            fraction = share
            n_test = max(1, math.floor(share * n + 0.5))
            cutoff_used = int(np.partition(ts, n - n_test)[n - n_test])
        mask = ts >= cutoff_used
        n_test = int(mask.sum())
        if n_test == 0 or n_test == n:
            side = "test" if n_test == 0 else "train"
            span = f"timestamps run from {_iso(int(ts.min()))} to {_iso(int(ts.max()))}"
            if cutoff is not None:
                raise SplitError(
                    f"cutoff {cutoff!r} ({_iso(cutoff_used)}) leaves the {side} set empty: {span}; "
                    "pick a time after the first and no later than the last."
                )
            raise SplitError(
                f"test fraction {fraction!r} gives cutoff {_iso(cutoff_used)}, which leaves the train set empty "
                f"({span}, and too many rows share the latest times); use a smaller fraction or --split temporal."
            )
        train_rows, test_rows = np.flatnonzero(~mask), np.flatnonzero(mask)

    if len(test_rows) == 0:
        raise SplitError(
            f"the {method.value!r} split of {interactions.name!r} leaves the test set empty "
            f"(every user has too few rows for test fraction {fraction!r} / test count {count!r}); "
            "hold out a larger share or use --split random."
        )

    dropped_rows = dropped_users = dropped_items = 0
    if drop_unseen:
        seen_users = np.bincount(interactions.users[train_rows], minlength=interactions.n_users) > 0
        seen_items = np.bincount(interactions.items[train_rows], minlength=interactions.n_items) > 0
        test_users = interactions.users[test_rows]
        test_items = interactions.items[test_rows]
        keep = seen_users[test_users] & seen_items[test_items]
        dropped_rows = int((~keep).sum())
        dropped_users = int(len(np.unique(test_users[~seen_users[test_users]])))
        dropped_items = int(len(np.unique(test_items[~seen_items[test_items]])))
        test_rows = test_rows[keep]
        if len(test_rows) == 0:
            raise SplitError(
                f"drop_unseen removed all {dropped_rows:,} test rows of the {method.value!r} split: none has both "
                "its user and its item in train; keep unseen rows (--keep-unseen) or use another split."
            )

    return Split(
        train=interactions.take(train_rows),
        test=interactions.take(test_rows),
        method=method,
        test_fraction=fraction,
        test_count=count,
        cutoff=cutoff_used,
        seed=seed,
        drop_unseen=bool(drop_unseen),
        train_rows=train_rows.astype(np.int64, copy=False),
        test_rows=test_rows.astype(np.int64, copy=False),
        dropped_rows=dropped_rows,
        dropped_users=dropped_users,
        dropped_items=dropped_items,
    )
