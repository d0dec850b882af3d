"""The choices data loading and splitting offer, as enums (no NumPy, no pandas: ``--help`` reads them)."""

from __future__ import annotations

from enum import Enum

__all__ = ["DuplicatePolicy", "SplitMethod"]


class DuplicatePolicy(str, Enum):
    """What to do with repeated (user, item) pairs."""

    last = "last"  #: keep the latest (by timestamp, then by file order)
    first = "first"  #: keep the earliest
    mean = "mean"  #: average their ratings, keep the latest timestamp
    error = "error"  #: refuse the data


class SplitMethod(str, Enum):
    """How test rows are chosen."""

    random = "random"  #: a random share (or number) of all rows
    user = "user"  #: a random share (or number) of each user's rows
    temporal = "temporal"  #: each user's latest share (or number) of rows
    cutoff = "cutoff"  #: every row at or after a global time
    loo = "loo"  #: each user's latest row (a random one without timestamps)
