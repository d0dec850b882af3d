"""Turn raw columns into a validated :class:`Interactions`.

Every loader (MovieLens editions, your own CSV/TSV/Parquet, in-memory frames) ends here, so the
checks on ratings, the duplicate policy and the id vocabularies are the same for all of them.
"""

from __future__ import annotations

import contextlib
import decimal
import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embrec.data.choices import DuplicatePolicy
from embrec.data.interactions import Interactions
from embrec.data.quoting import clipped, quoted
from embrec.errors import DataError

__all__ = [
    "DuplicatePolicy",
    "DuplicateRatingsWarning",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "build_interactions",
    "checked_ids",
    "scale_from_ratings",
]

log = logging.getLogger(__name__)

#: The earliest and latest timestamp, in Unix seconds: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z,
#: the years every date/time type (Python's ``datetime``, ISO 8601 text) can write.
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799
_TIME_RANGE = f"from {MIN_SECONDS:,} to {MAX_SECONDS:,} Unix seconds (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
# ratings are stored as float32: anything larger in size is infinite there
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_MAX = np.iinfo(np.int64).max
_ID_KINDS = "whole numbers (that fit in 64 bits) or text"


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
        else:
            parts.append(f"row {row + 1}")
        if column:
            parts.append(f"column {quoted(column)}")
        return ", ".join(parts)


def _first(mask: np.ndarray) -> int | None:
    """The first row where ``mask`` holds, or ``None``."""
    return int(np.flatnonzero(mask)[0]) if mask.any() else None


def _is_boolean(value: Any) -> bool:
    """``True``/``False`` as Python or NumPy booleans, or as the text ``true``/``false`` (any case)."""
    if isinstance(value, (bool, np.bool_)):
        return True
    return isinstance(value, str) and value.strip().lower() in ("true", "false")


def _first_boolean(series: pd.Series) -> int | None:
    """The first row holding a boolean in a column of mixed Python objects, or ``None``."""
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "integer", "floating", "decimal", "empty"):
        return None
    return _first(series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool))


def _no_booleans(label: str, value: Any, column: str, rows: _Rows, row: int) -> DataError:
    fix = {
        "rating": (
            "booleans are not ratings: load likes or clicks as implicit feedback (without a rating column, keeping "
            "the rows that are true), or write the ratings as numbers"
        ),
        "timestamp": "write Unix seconds or ISO date/times instead",
    }[label]
    return DataError(f"{rows.at(row, column)}: {label} {quoted(value)} is a boolean (true/false); {fix}.")


def _as_float(value: Any) -> float:
    """A float of a real number (an integer too large for one is infinite there); NaN for anything else."""
    if isinstance(value, (int, np.integer)):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, (float, np.floating, decimal.Decimal)):
        return float(value)
    return math.nan


def _numeric(values: Any, label: str, column: str, rows: _Rows, keep: tuple[str, ...] = ()) -> np.ndarray:
    """Values as float64, or a NumPy array whose dtype is in ``keep`` as it is (no 25M-row float64 copy).

    Booleans, complex numbers, dates and text that is no number are refused with the row they are in.
    """
    if isinstance(values, np.ndarray) and values.dtype.name in keep:
        return values
    series = pd.Series(values, copy=False)
    kind = series.dtype.kind
    if kind == "b":
        raise _no_booleans(label, series.iloc[0], column, rows, 0)
    if kind in "fiu":
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind in "cmMV" or isinstance(series.dtype, pd.CategoricalDtype) and series.cat.categories.dtype.kind in "cmM":
        raise DataError(
            f"{rows.at(0, column)}: every {label} must be a number, and this column holds {series.dtype} values "
            f"(such as {quoted(series.iloc[0])}); convert the column to numbers."
        )
    row = _first_boolean(series) if kind == "O" else None
    if row is not None:
        raise _no_booleans(label, series.iloc[row], column, rows, row)
    coerced = pd.to_numeric(series, errors="coerce")
    if coerced.dtype.kind not in "fiu":  # Python complex numbers, or integers beyond every NumPy type
        coerced = coerced.map(_as_float).astype(np.float64)
    row = _first((coerced.isna() & series.notna() & (series.astype(str).str.strip() != "")).to_numpy())
    if row is not None:
        value = series.iloc[row]
        if _is_boolean(value):
            raise _no_booleans(label, value, column, rows, row)
        raise DataError(
            f"{rows.at(row, column)}: {label} {quoted(value)} is not a number; "
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
        users, items: the dataset's own ids per row: whole numbers or text. A column of whole
            numbers is kept as integers when all of them fit in ``int64`` (floats such as ``3.0``
            included) and turned into text ids otherwise (``10**30`` becomes ``"1000...0"``),
            as are columns that mix numbers and text, so each vocabulary holds one kind of id.
            Booleans, fractions, dates, lists and other objects are refused.
        ratings: ratings per row, or ``None`` for implicit feedback. Every rating must be a
            finite number that ``float32`` can hold (within about ±3.4e38). Booleans are not
            ratings and are refused: likes and clicks are implicit feedback (load the rows that
            are true without a rating column).
        timestamps: Unix seconds per row (fractions are cut to whole seconds), datetimes, or
            ``None``; from 0001-01-01 to 9999-12-31 UTC (:data:`MIN_SECONDS` to :data:`MAX_SECONDS`).
        source: file name used in error messages.
        first_line: line number of the first data row in ``source`` (for messages), if known;
            without one, messages count rows from 1.
        columns: the source's column names for user, item, rating and timestamp (for messages).
        rating_scale: allowed ``(lowest, highest)``; ratings outside it are an error. ``None``
            takes the scale from the data.
        duplicates: policy for repeated (user, item) pairs.
        item_metadata: a frame indexed by item id with columns such as ``title``, ``year``,
            ``genres``; rows for items without ratings are dropped, and the result's
            :attr:`Interactions.item_metadata` has one row per item, indexed by item id.
        name: a label for summaries.
        copy: ``False`` lets the result share a ``float32`` ratings array and an integer
            timestamps array given as NumPy arrays, instead of converting them through float64
            copies; loaders that hand over fresh arrays use it to halve their peak memory.

    Raises:
        DataError: a missing or unusable id, rating or timestamp (named with its row, column
            and value), a bad ``rating_scale``, or duplicates under ``duplicates="error"``.
    """
    policy = DuplicatePolicy(duplicates)
    user_col, item_col, rating_col, ts_col = columns
    rows = _Rows(source, first_line)
    users = pd.Series(users, copy=False)
    items = pd.Series(items, copy=False)
    if len(users) == 0:
        raise DataError(f"{source}: no ratings found (the file has no data rows); give a file with at least one row.")
    users = _id_values(users, "user id", user_col, rows)
    items = _id_values(items, "item id", item_col, rows)
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
def checked_ids(
    ids: Any, label: str = "item id", *, source: str, column: str, first_line: int | None = None
) -> pd.Series:
    """Ids as :func:`build_interactions` takes them (none missing; integers, or text), for other
    files that name items by id, such as item metadata; a :class:`DataError` naming the first bad one."""
    return _id_values(pd.Series(ids, copy=False), label, column, _Rows(source, first_line))


def _id_values(ids: pd.Series, label: str, column: str, rows: _Rows) -> pd.Series:
    """The ids with none missing, as integers (``int64`` or narrower) or as text; anything else refused."""
    if len(ids) == 0:  # no value to judge: whole numbers unless text (float16 cannot even index a frame)
        return ids if ids.dtype.kind in "iuOU" or isinstance(ids.dtype, pd.CategoricalDtype) else ids.astype(np.int64)
    row = _first(ids.isna().to_numpy())
    if row is not None:
        raise DataError(f"{rows.at(row, column)}: {label} is empty; every row needs {_an(label)} {label}.")
    dtype = ids.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.categories.dtype.kind in "iuO" and pd.api.types.infer_dtype(dtype.categories) in ("integer", "string"):
            return ids  # the loaders' text ids: factorised by their categories
        ids = ids.astype(dtype.categories.dtype)
        dtype = ids.dtype
    kind = dtype.kind
    if kind in "iu":
        if kind == "u" and dtype.itemsize == 8 and len(ids) and ids.max() > _INT64_MAX:
            return ids.astype(str)
        return ids
    if kind == "U":
        return ids
    if kind == "f":
        return _whole_ids(ids, label, column, rows)
    if kind == "O":
        return _object_ids(ids, label, column, rows)
    raise _bad_id(ids.iloc[0], label, column, rows, 0, "a boolean" if kind == "b" else f"of type {dtype}")


def _an(label: str) -> str:
    return "an" if label.startswith("item") else "a"


def _bad_id(value: Any, label: str, column: str, rows: _Rows, row: int, what: str) -> DataError:
    return DataError(
        f"{rows.at(row, column)}: {label} {quoted(value)} is {what}; {label}s must be {_ID_KINDS}: "
        f"fix the value or choose another {label} column."
    )


def _whole_ids(ids: pd.Series, label: str, column: str, rows: _Rows, given: pd.Series | None = None) -> pd.Series:
    """Float ids (as pandas makes of integer columns with gaps) as ``int64`` when every one is whole."""
    values = ids.to_numpy(dtype=np.float64)
    whole = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2.0**63)
    row = _first(~whole)
    if row is not None:
        raise _bad_id((ids if given is None else given).iloc[row], label, column, rows, row, "not a whole number")
    return pd.Series(values.astype(np.int64), index=ids.index, copy=False)


def _object_ids(ids: pd.Series, label: str, column: str, rows: _Rows) -> pd.Series:
    """Python objects as ids: text stays text, integers become ``int64`` or (when one is too large) text."""
    inferred = pd.api.types.infer_dtype(ids, skipna=False)
    if inferred == "string":
        return ids
    if inferred == "integer":
        try:
            return ids.astype(np.int64)
        except OverflowError:  # beyond int64: ids are names, so text keeps every one exact
            return ids.astype(str)
    if inferred in ("floating", "mixed-integer-float", "decimal"):
        row = _first(ids.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool))
        if row is not None:
            raise _bad_id(ids.iloc[row], label, column, rows, row, "a boolean")
        return _whole_ids(pd.Series(ids.map(_as_float), index=ids.index), label, column, rows, given=ids)
    usable = ids.map(lambda v: isinstance(v, (str, int, np.integer)) and not isinstance(v, (bool, np.bool_)))
    row = _first(~usable.to_numpy(dtype=bool))
    if row is not None:
        value = ids.iloc[row]
        what = "a boolean" if isinstance(value, (bool, np.bool_)) else f"of type {type(value).__name__}"
        raise _bad_id(value, label, column, rows, row, what)
    return ids.astype(str)  # numbers and text mixed: text ids, as a text file would give


def _rating_values(
    ratings: Any | None, scale: tuple[float, float] | None, column: str | None, rows: _Rows, copy: bool
) -> tuple[np.ndarray | None, tuple[float, float] | None]:
    """The ratings as finite numbers, none missing, and the scale they are all in (``None`` without ratings).

    A ``float32`` array is kept as it is unless ``copy``.
    """
    scale = _valid_scale(scale)
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
    # bool temporaries only: no full-length float copy of 25M ratings (NaN is refused above)
    row = _first(
        ~np.isfinite(values) if values.dtype == np.float32 else (values < -_FLOAT32_MAX) | (values > _FLOAT32_MAX)
    )
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: rating {_shown(ratings, values, row)} is "
            f"{'infinite' if np.isinf(values[row]) else 'too large to store'}; every rating must be a finite number "
            f"within ±{_FLOAT32_MAX:.4g} (float32): fix or drop that row."
        )
    return values, _check_scale(values, scale, column, rows)


def _shown(raw: Any, values: np.ndarray, row: int) -> str:
    """The value at ``row`` as the caller gave it (text as written), else as the number it was read as."""
    if not (isinstance(raw, np.ndarray) and raw.dtype.kind in "fiu"):
        with contextlib.suppress(Exception):  # anything unusual: show the number instead
            given = pd.Series(raw, copy=False).iloc[row]
            if isinstance(given, str):
                return quoted(given.strip())
            if isinstance(given, (int, np.integer)) and not isinstance(given, (bool, np.bool_)):
                return clipped(str(int(given)))
    value = values[row]
    if values.dtype.kind in "iu" or (np.isfinite(value) and float(value).is_integer() and abs(value) < 1e17):
        return str(int(value))
    return repr(float(value))


def _valid_scale(scale: tuple[float, float] | None) -> tuple[float, float] | None:
    """``scale`` as two finite floats, lowest first."""
    if scale is None:
        return None
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataError(
            f"rating_scale={quoted(scale)} is not two numbers; give rating_scale=(LOW, HIGH) such as (1, 5)."
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > _FLOAT32_MAX:
        raise DataError(f"rating_scale=({lo:g}, {hi:g}) is not finite; give rating_scale=(LOW, HIGH) such as (1, 5).")
    if lo >= hi:
        raise DataError(
            f"rating_scale=({lo:g}, {hi:g}) is empty; give rating_scale=(LOW, HIGH) with LOW < HIGH, such as (1, 5)."
        )
    return lo, hi


def _check_scale(
    ratings: np.ndarray, scale: tuple[float, float] | None, column: str | None, rows: _Rows
) -> tuple[float, float]:
    """``scale`` once every rating is inside it; without one, the data's own range."""
    if scale is None:
        return scale_from_ratings(ratings)
    lo, hi = scale
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
    """Unix seconds as ``int64``, none missing, all in range; an integer array is kept as it is unless ``copy``."""
    if timestamps is None:
        return None
    label = column or "timestamp"
    given = timestamps
    if not (isinstance(timestamps, np.ndarray) and timestamps.dtype.kind in "fiu"):
        timestamps = _iso_as_datetimes(pd.Series(timestamps, copy=False), label, rows)
    if _is_datetime(timestamps):
        timestamps = _datetime_seconds(pd.Series(timestamps, copy=False))
    if isinstance(timestamps, (np.ndarray, pd.Series)) and timestamps.dtype.kind in "iu":
        seconds = np.array(timestamps, copy=copy or None)  # integers stay exact: no float64 round trip
    else:
        seconds = _numeric(timestamps, "timestamp", label, rows)
    if seconds.dtype.kind == "f":
        row = _first(np.isnan(seconds))
        if row is not None:
            raise DataError(
                f"{rows.at(row, column)}: timestamp is missing; fill it or load without a timestamp column."
            )
        outside = ~((seconds >= MIN_SECONDS) & (seconds < MAX_SECONDS + 1))
    elif seconds.dtype.itemsize >= 8 or seconds.dtype.kind == "u":
        outside = (seconds < MIN_SECONDS) | (seconds > MAX_SECONDS)
    else:  # 32 bits or fewer: always in range
        outside = None
    row = None if outside is None else _first(outside)
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: timestamp {_shown(given, seconds, row)} is out of range"
            f"{_unit_hint(float(seconds[row]))}; timestamps must lie {_TIME_RANGE}: fix the value or load without "
            "a timestamp column."
        )
    return seconds.astype(np.int64, copy=False)


def _unit_hint(value: float) -> str:
    """A guess at the unit of a timestamp too large to be seconds."""
    for unit, per_second in (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9)):
        if MIN_SECONDS <= value / per_second <= MAX_SECONDS and abs(value) > MAX_SECONDS:
            return f" (it looks like {unit}: divide by {per_second:,.0f} to get seconds)"
    return ""


def _is_datetime(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    return dtype is not None and (pd.api.types.is_datetime64_any_dtype(dtype))


def _iso_as_datetimes(stamps: pd.Series, column: str, rows: _Rows) -> Any:
    """Text holding ISO date/times as UTC datetimes (naive ones read as UTC); other values as they are.

    Text that is all numbers stays for :func:`_numeric`, which also refuses what is neither.
    """
    if isinstance(stamps.dtype, pd.CategoricalDtype):
        stamps = stamps.astype(object)
    if stamps.dtype.kind not in "OUS" or pd.api.types.infer_dtype(stamps, skipna=True) != "string":
        return stamps
    numeric = pd.to_numeric(stamps, errors="coerce")
    if numeric.notna().sum() == stamps.notna().sum():
        return stamps  # Unix seconds written as text
    try:
        parsed = pd.to_datetime(stamps, utc=True, format="ISO8601", errors="coerce")
    except (TypeError, ValueError, OverflowError):  # pandas refuses outright: name the value below
        parsed = pd.Series(pd.NaT, index=stamps.index, dtype="datetime64[s, UTC]")
    row = _first((parsed.isna() & stamps.notna() & numeric.isna()).to_numpy())
    if row is not None:
        raise DataError(
            f"{rows.at(row, column)}: timestamp {quoted(stamps.iloc[row])} is neither Unix seconds nor an ISO "
            "date/time (such as 2015-03-01 or 2015-03-01T12:30:00Z); fix the value or load without a timestamp "
            "column."
        )
    if numeric.notna().any():  # some Unix seconds, some ISO text: one kind per column
        row = int(np.flatnonzero(numeric.notna().to_numpy())[0])
        raise DataError(
            f"{rows.at(row, column)}: timestamp {quoted(stamps.iloc[row])} is Unix seconds, but the column also "
            "holds ISO date/times; write every timestamp of a column the same way."
        )
    return parsed  # empty cells are NaT: named as missing by the check after this


def _datetime_seconds(stamps: pd.Series) -> np.ndarray:
    """Unix seconds of datetimes (naive ones read as UTC); missing ones left as NaN for the check above."""
    if getattr(stamps.dtype, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = stamps.isna().to_numpy()
    seconds = stamps.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT")).astype(np.int64)
    if missing.any():
        out = seconds.astype(np.float64)
        out[missing] = np.nan
        return out
    return seconds


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
    """One row per item id, in item-index order and indexed by item id (named ``item``); NaN rows where none was given."""
    if meta is None:
        return None
    if not isinstance(meta, pd.DataFrame):
        raise DataError(
            f"item_metadata is a {type(meta).__name__}, not a DataFrame; give a frame indexed by item id "
            "(for example read_item_metadata(path))."
        )
    index = meta.index
    if index.dtype.kind in "iu" and item_ids.dtype.kind not in "iu":
        index = index.astype(str)
    elif index.dtype.kind not in "iu" and item_ids.dtype.kind in "iu":
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            index = pd.Index(pd.to_numeric(index))
    return meta.set_axis(index).loc[~index.duplicated(keep="first")].reindex(item_ids).rename_axis("item")
