"""Turn raw columns into a validated :class:`Interactions`.

Every loader (MovieLens editions, your own CSV/TSV/Parquet, in-memory frames) ends here, so the
checks on ratings, the duplicate policy and the id vocabularies are the same for all of them.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.choices import DuplicatePolicy
from embrec.data.interactions import Interactions
from embrec.errors import DataError

__all__ = ["DuplicatePolicy", "DuplicateRatingsWarning", "build_interactions", "scale_from_ratings"]

log = logging.getLogger(__name__)

# timestamps of these dtypes are Unix seconds already: used as they are when the caller allows
_INTEGER_DTYPES = ("int64", "int32", "uint32", "int16", "uint16", "int8", "uint8")


class DuplicateRatingsWarning(UserWarning):
    """Repeated (user, item) pairs were merged by the duplicate policy."""


@dataclass(frozen=True)
class _Rows:
    """Where the rows come from, so that messages name the source, the line and the column."""

    source: str
    first_line: int | None

    def at(self, row: int, column: str | None) -> str:
        parts = [self.source]
        if self.first_line is not None:
            parts.append(f"line {self.first_line + row}")
        if column:
            parts.append(f"column {column!r}")
        return ", ".join(parts)


def _first(mask: np.ndarray) -> int | None:
    """The first row where ``mask`` holds, or ``None``."""
    return int(np.flatnonzero(mask)[0]) if mask.any() else None


def _numeric(values: Any, label: str, column: str, rows: _Rows, keep: tuple[str, ...] = ()) -> np.ndarray:
    """Values as float64, or a NumPy array whose dtype is in ``keep`` as it is (no 25M-row float64 copy)."""
    if isinstance(values, np.ndarray) and values.dtype.name in keep:
        return values
    series = pd.Series(values, copy=False)
    if series.dtype.kind in "fiub":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    coerced = pd.to_numeric(series, errors="coerce")
    row = _first((coerced.isna() & series.notna() & (series.astype(str).str.strip() != "")).to_numpy())
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: {label} {series.iloc[row]!r} is not a number; "
            f"every {label} must be numeric (check the delimiter and the column mapping)."
        )
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


def scale_from_ratings(ratings: np.ndarray) -> tuple[float, float]:
    """The rating scale implied by the data: its lowest and highest rating."""
    return float(np.min(ratings)), float(np.max(ratings))


def build_interactions(
    users: Any,
    items: Any,
    ratings: Any | None = None,
    timestamps: Any | None = None,
    *,
    source: str = "<data>",
    first_line: int | None = None,
    columns: tuple[str, str, str | None, str | None] = ("user", "item", "rating", "timestamp"),
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | str = DuplicatePolicy.last,
    item_metadata: pd.DataFrame | None = None,
    name: str = "ratings",
    copy: bool = True,
) -> Interactions:
    """Validate raw per-row columns and build the container.

    Args:
        users, items: the dataset's own ids per row (ints or strings).
        ratings: ratings per row, or ``None`` for implicit feedback.
        timestamps: Unix seconds per row, or ``None``.
        source: file name used in error messages.
        first_line: line number of the first data row in ``source`` (for messages), if known.
        columns: the source's column names for user, item, rating and timestamp (for messages).
        rating_scale: allowed ``(lowest, highest)``; ratings outside it are an error. ``None``
            takes the scale from the data.
        duplicates: policy for repeated (user, item) pairs.
        item_metadata: a frame indexed by item id with columns such as ``title``, ``year``,
            ``genres``; rows for items without ratings are dropped.
        name: a label for summaries.
        copy: ``False`` lets the result share a ``float32`` ratings array and an integer
            timestamps array given as NumPy arrays, instead of converting them through float64
            copies; loaders that hand over fresh arrays use it to halve their peak memory.
    """
    policy = DuplicatePolicy(duplicates)
    user_col, item_col, rating_col, ts_col = columns
    rows = _Rows(source, first_line)
    users = pd.Series(users, copy=False)
    items = pd.Series(items, copy=False)
    if len(users) == 0:
        raise DataError(f"{source}: no ratings found (the file has no data rows); give a file with at least one row.")
    _require_ids(users, "user id", user_col, rows)
    _require_ids(items, "item id", item_col, rows)
    rating_arr, rating_scale = _rating_values(ratings, rating_scale, rating_col, rows, copy)
    ts_arr = _timestamp_values(timestamps, ts_col, rows, copy)

    # factorise one column at a time and drop each raw column at once: on 25M rows every
    # full-length temporary is 100-200 MB
    user_codes, user_ids = _factorize_sorted(users)
    del users
    item_codes, item_ids = _factorize_sorted(items)
    del items

    keep = _resolve_duplicates(user_codes, item_codes, ts_arr, len(item_ids), policy, source)
    if keep is not None:
        if policy is DuplicatePolicy.mean and rating_arr is not None:
            rating_arr = _mean_duplicates(user_codes, item_codes, rating_arr, len(item_ids), keep)
        user_codes, item_codes = user_codes[keep], item_codes[keep]
        rating_arr = _take(rating_arr, keep)
        ts_arr = _take(ts_arr, keep)
        # users or items whose every row was a duplicate stay; all still have one row
    return Interactions(
        users=user_codes,
        items=item_codes,
        ratings=None if rating_arr is None else rating_arr.astype(np.float32, copy=False),
        timestamps=ts_arr,
        user_ids=np.asarray(user_ids),
        item_ids=np.asarray(item_ids),
        item_metadata=_align_metadata(item_metadata, np.asarray(item_ids)),
        rating_scale=rating_scale,
        name=name,
    )


# --------------------------------------------------------------------------- the checks, one column each
def _require_ids(ids: pd.Series, label: str, column: str, rows: _Rows) -> None:
    row = _first(ids.isna().to_numpy())
    if row is not None:
        raise DataError(f"{rows.at(row, column)}: {label} is empty; every row needs a {label}.")


def _rating_values(
    ratings: Any | None, scale: tuple[float, float] | None, column: str | None, rows: _Rows, copy: bool
) -> tuple[np.ndarray | None, tuple[float, float] | None]:
    """The ratings as numbers, none missing, and the scale they are all in (``None`` without ratings).

    A ``float32`` array is kept as it is unless ``copy``.
    """
    if ratings is None:
        return None, scale
    values = _numeric(ratings, "rating", column or "rating", rows, keep=() if copy else ("float32",))
    nan = np.isnan(values)
    row = _first(nan)
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: rating is missing (NaN) in {int(nan.sum()):,} "
            "row(s); fill or drop those rows, or load without a rating column for implicit feedback."
        )
    return values, _check_scale(values, scale, column, rows)


def _check_scale(
    ratings: np.ndarray, scale: tuple[float, float] | None, column: str | None, rows: _Rows
) -> tuple[float, float]:
    """``scale`` once every rating is inside it; without one, the data's own range."""
    if scale is None:
        return scale_from_ratings(ratings)
    lo, hi = scale
    if lo >= hi:
        raise DataError(f"rating scale {scale} is empty; give (lowest, highest) with lowest < highest.")
    out = (ratings < lo) | (ratings > hi)
    row = _first(out)
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: rating {ratings[row]:g} is outside the "
            f"scale {lo:g}-{hi:g} ({int(out.sum()):,} row(s) outside); fix the data or pass the right "
            "rating_scale=(LOW, HIGH)."
        )
    return scale


def _timestamp_values(timestamps: Any | None, column: str | None, rows: _Rows, copy: bool) -> np.ndarray | None:
    """Unix seconds as ``int64``, none missing; an integer array is kept as it is unless ``copy``."""
    if timestamps is None:
        return None
    seconds = _numeric(timestamps, "timestamp", column or "timestamp", rows, keep=() if copy else _INTEGER_DTYPES)
    row = _first(np.isnan(seconds)) if seconds.dtype.kind == "f" else None
    if row is not None:
        raise DataError(f"{rows.at(row, column)}: timestamp is missing; fill it or load without a timestamp column.")
    return seconds.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- ids and duplicates
def _take(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _factorize_sorted(values: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(values, sort=True)`` with ``int32`` codes, made without its second int64 code array."""
    codes, uniques = pd.factorize(values, sort=False)
    try:
        order = np.asarray(uniques.argsort())
    except TypeError:  # ids of mixed types: let pandas order them its own way
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int32, copy=False), uniques
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[codes], uniques.take(order)


def _pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    keys = users.astype(np.int64)  # in place from here: one full-length int64 array, no temporaries
    keys *= np.int64(max(n_items, 1))
    keys += items
    return keys


def _resolve_duplicates(
    users: np.ndarray,
    items: np.ndarray,
    timestamps: np.ndarray | None,
    n_items: int,
    policy: DuplicatePolicy,
    source: str,
) -> np.ndarray | None:
    """Row indexes to keep, or None when there are no duplicates."""
    keys = _pair_keys(users, items, n_items)
    # most data has no duplicates: test that by sorting the (fresh) key array in place, which
    # needs no extra full-length memory, unlike a hash table of every key
    keys.sort()
    if not (keys[1:] == keys[:-1]).any():
        return None
    keys = _pair_keys(users, items, n_items)  # back in row order for the policy below
    n_rows = len(keys)
    rows = np.arange(n_rows)  # ties keep file order, so "last" is the later line
    order = np.lexsort((rows, keys)) if timestamps is None else np.lexsort((rows, timestamps, keys))
    sorted_keys = keys[order]
    boundary = np.empty(n_rows, dtype=bool)
    if policy in (DuplicatePolicy.first,):
        boundary[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=boundary[1:])
    else:
        boundary[-1] = True
        np.not_equal(sorted_keys[:-1], sorted_keys[1:], out=boundary[:-1])
    keep = np.sort(order[boundary])
    n_dropped = n_rows - len(keep)
    if policy is DuplicatePolicy.error:
        first_dup = int(order[~boundary][0])
        raise DataError(
            f"{source}: {n_dropped:,} duplicate (user, item) rows, the first at data row {first_dup + 1}; "
            "remove them or choose a policy with duplicates='last' (or 'first' or 'mean')."
        )
    msg = f"{source}: {n_dropped:,} duplicate (user, item) rows merged with policy '{policy.value}'"
    warnings.warn(msg, DuplicateRatingsWarning, stacklevel=3)
    return keep


def _mean_duplicates(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, n_items: int, keep: np.ndarray
) -> np.ndarray:
    keys = _pair_keys(users, items, n_items)
    codes, uniq = pd.factorize(keys)
    sums = np.bincount(codes, weights=ratings, minlength=len(uniq))
    counts = np.bincount(codes, minlength=len(uniq))
    out = ratings.copy()
    out[keep] = (sums / counts)[codes[keep]]
    return out


def _align_metadata(meta: pd.DataFrame | None, item_ids: np.ndarray) -> pd.DataFrame | None:
    if meta is None:
        return None
    index = meta.index
    if index.dtype.kind in "iu" and item_ids.dtype.kind not in "iu":
        index = index.astype(str)
    elif index.dtype.kind not in "iu" and item_ids.dtype.kind in "iu":
        with contextlib.suppress(ValueError, TypeError):
            index = pd.Index(pd.to_numeric(index))
    aligned = meta.set_axis(index).loc[~index.duplicated(keep="first")].reindex(item_ids)
    return aligned.reset_index(drop=True)
