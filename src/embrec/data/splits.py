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
How each method picks its rows is in :mod:`embrec.data.split_methods`; writing a split to a
folder and reading it back is :mod:`embrec.data.split_files`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from embrec.data.choices import SplitMethod
from embrec.data.interactions import Interactions
from embrec.data.quoting import quoted
from embrec.data.split_methods import (
    DEFAULT_TEST_FRACTION,
    Held,
    split_cutoff,
    split_loo,
    split_random,
    split_temporal,
    split_user,
    utc_iso,
)
from embrec.errors import SplitError

__all__ = ["DEFAULT_TEST_FRACTION", "Split", "SplitMethod", "make_split"]

_MAX_SEED = 2**32 - 1  # what numpy's legacy RandomState (used by scikit-learn) accepts


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
            "cutoff_utc": None if self.cutoff is None else utc_iso(self.cutoff),
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
        raise SplitError(f"split method {quoted(method)} is not allowed; use one of {_allowed_methods()}.") from None


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SplitError(
            f"test_fraction={quoted(value)} is not a number; give a share between 0 and 1 such as test_fraction=0.1."
        )
    frac = float(value)
    if not 0.0 < frac < 1.0:  # NaN fails too
        raise SplitError(
            f"test_fraction={value!r} is outside (0, 1); give a share strictly between 0 and 1 such as "
            "test_fraction=0.1."
        )
    return frac


def _check_count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SplitError(f"test_count={quoted(value)} is not a whole number; give a count of 1 or more.")
    count = int(value)
    if count < 1:
        raise SplitError(f"test_count={count} is below 1; give a count of 1 or more.")
    return count


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= _MAX_SEED:
        raise SplitError(f"seed={quoted(value)} is not allowed; give a whole number from 0 to {_MAX_SEED}.")
    return int(value)


def _check_shared(
    data: Any, method: SplitMethod, test_fraction: Any, test_count: Any, cutoff: Any
) -> tuple[float | None, int | None]:
    """The checks every method shares; the fraction and the count as a float and an int."""
    if not isinstance(data, Interactions):
        raise SplitError(
            f"make_split takes an Interactions, not {type(data).__name__}; build one with build_interactions."
        )
    if test_fraction is not None and test_count is not None:
        raise SplitError(f"give test_fraction={quoted(test_fraction)} or test_count={quoted(test_count)}, not both.")
    fraction = None if test_fraction is None else _check_fraction(test_fraction)
    count = None if test_count is None else _check_count(test_count)
    if cutoff is not None and method is not SplitMethod.cutoff:
        raise SplitError(
            f"cutoff={quoted(cutoff)} only applies to the 'cutoff' split, not {method.value!r}; drop it or use "
            "method='cutoff'."
        )
    if data.n_ratings < 2:
        raise SplitError(f"{quoted(data.name)} has {data.n_ratings} row(s); a split needs at least 2.")
    return fraction, count


# ---------------------------------------------------------------------------- the split
# one function per method, each in split_methods.py; all take (data, fraction, count, cutoff, seed)
_METHODS: dict[SplitMethod, Callable[[Interactions, float | None, int | None, Any, int], Held]] = {
    SplitMethod.random: split_random,
    SplitMethod.user: split_user,
    SplitMethod.temporal: split_temporal,
    SplitMethod.cutoff: split_cutoff,
    SplitMethod.loo: split_loo,
}


def _drop_unseen(data: Interactions, train_rows: np.ndarray, test_rows: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """The test rows whose user and item both have a training row; and how many rows, users, items went."""
    seen_users = np.bincount(data.users[train_rows], minlength=data.n_users) > 0
    seen_items = np.bincount(data.items[train_rows], minlength=data.n_items) > 0
    test_users = data.users[test_rows]
    test_items = data.items[test_rows]
    keep = seen_users[test_users] & seen_items[test_items]
    dropped_users = len(np.unique(test_users[~seen_users[test_users]]))
    dropped_items = len(np.unique(test_items[~seen_items[test_items]]))
    return test_rows[keep], int((~keep).sum()), dropped_users, dropped_items


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
    fraction, count = _check_shared(interactions, method, test_fraction, test_count, cutoff)
    held = _METHODS[method](interactions, fraction, count, cutoff, seed)
    if len(held.test_rows) == 0:
        size = f"test_count={held.count}" if held.count is not None else f"test_fraction={held.fraction!r}"
        raise SplitError(
            f"the {method.value!r} split of {quoted(interactions.name)} leaves the test set empty "
            f"(every user has too few rows for {size}, as one row of each user stays in train); "
            "hold out a larger share or use method='random'."
        )
    test_rows, dropped_rows, dropped_users, dropped_items = held.test_rows, 0, 0, 0
    if drop_unseen:
        test_rows, dropped_rows, dropped_users, dropped_items = _drop_unseen(interactions, held.train_rows, test_rows)
        if len(test_rows) == 0:
            raise SplitError(
                f"drop_unseen removed all {dropped_rows:,} test rows of the {method.value!r} split: none has both "
                "its user and its item in train; keep unseen rows (drop_unseen=False) or use another split."
            )

    return Split(
        train=interactions.take(held.train_rows),
        test=interactions.take(test_rows),
        method=method,
        test_fraction=held.fraction,
        test_count=held.count,
        cutoff=held.cutoff,
        seed=seed,
        drop_unseen=bool(drop_unseen),
        train_rows=held.train_rows.astype(np.int64, copy=False),
        test_rows=test_rows.astype(np.int64, copy=False),
        dropped_rows=dropped_rows,
        dropped_users=dropped_users,
        dropped_items=dropped_items,
    )
