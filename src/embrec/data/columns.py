"""Which column of a ratings file plays which role (user, item, rating, timestamp), and years from titles."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from embrec.data.quoting import quoted, quoted_list
from embrec.errors import DataError

__all__ = [
    "DEFAULT_ITEM",
    "DEFAULT_RATING",
    "DEFAULT_TIMESTAMP",
    "DEFAULT_USER",
    "Sampler",
    "parse_year",
    "refuse_repeated_names",
    "resolve_columns",
]

log = logging.getLogger(__name__)

DEFAULT_USER = "user"
DEFAULT_ITEM = "item"
DEFAULT_RATING = "rating"
DEFAULT_TIMESTAMP = "timestamp"

# Only consulted when the default column names are missing from the file.
_ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "userid", "user_id", "users"),
    "item": ("item", "itemid", "item_id", "movieid", "movie_id", "movie", "items"),
    "rating": ("rating", "ratings", "score", "stars"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date"),
}
_DEFAULTS = {"rating": DEFAULT_RATING, "timestamp": DEFAULT_TIMESTAMP}
# how a message says a role can be left out
_WITHOUT_HINT = {
    "rating": ", or rating_col=None for implicit feedback",
    "timestamp": ", or timestamp_col=None if it has none",
}
_NUMBER_RE = re.compile(r"^\s*[-+]?(\d+|\d*\.\d+)\s*$")
# words of a column name that say it holds times (``created_at``, ``eventTime``, ``ts``), never ratings
_TIME_WORDS = frozenset(
    {"time", "times", "timestamp", "timestamps", "datetime", "date", "dates", "ts", "epoch", "when", "unix", "seconds"}
    | {"created", "updated", "modified", "day"}
)
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_TIME_KINDS = frozenset({"datetime", "datetime64", "date", "time", "timedelta", "timedelta64"})
#: Whole numbers all at least this large are Unix times (seconds since March 1973, or milliseconds), not ratings.
_UNIX_TIME_FROM = 1e8

#: The first rows of some columns of a file, read only when a message needs them: names -> values.
Sampler = Callable[[Sequence[str]], Mapping[str, pd.Series]]
_YEAR_RE = r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$"


def _match(fields: Sequence[str], wanted: str, role: str, is_default: bool) -> str | None:
    if wanted in fields:
        return wanted
    if not is_default:
        return None
    lowered = {f.lower(): f for f in fields}
    for alias in _ALIASES[role]:
        if alias in lowered:
            log.info("using column %r as the %s column (no column named %r)", lowered[alias], role, wanted)
            return lowered[alias]
    return None


def _missing_column(
    path: Path,
    role: str,
    wanted: str,
    fields: Sequence[str],
    taken: Sequence[str] = (),
    sample: Sampler | None = None,
    *,
    suggest_timestamp: bool = False,
) -> DataError:
    free = [f for f in fields if f not in taken]
    hint = ""
    if all(_NUMBER_RE.match(f) for f in fields):
        hint = " The first line looks like data, not column names: add a header line."
    head = f"{path}: no {role} column {quoted(wanted, 80)}; the file's columns are {quoted_list(fields)}."
    if role == "rating":
        return DataError(head + _rating_hint(free, wanted, sample, suggest_timestamp) + hint)
    guess = _likeliest(free or list(fields), wanted, role)
    extra = _WITHOUT_HINT.get(role, "")
    return DataError(
        f"{head} Pass the right one as {role}_col={quoted(guess, 80)}{extra} (in load_data: "
        f"columns=ColumnMapping({role}={quoted(guess, 80)})).{hint}"
    )


def _likeliest(free: Sequence[str], wanted: str, role: str) -> str:
    """The column a message suggests for a role: the closest name, else an alias or a name of its initial."""
    close = difflib.get_close_matches(wanted, free, n=1, cutoff=0.5)
    if close:
        return close[0]
    by_alias = [f for f in free if f.lower() in _ALIASES[role] or f.lower().startswith(role[0])]
    return by_alias[0] if by_alias else free[0]


def _rating_hint(free: Sequence[str], wanted: str, sample: Sampler | None, suggest_timestamp: bool) -> str:
    """What to pass for a missing rating column: a column that may hold ratings, else implicit feedback.

    A column of times (by its name, or by values that look like Unix seconds) or of ids is never
    suggested: loading it as ratings would fail, or worse, succeed.
    """
    values = _sampled(free, sample)
    times = [f for f in free if _looks_like_time(f, values.get(f))]
    ratings = [f for f in free if f not in times and _may_hold_ratings(f, values.get(f))]
    if ratings:
        guess = quoted(_likeliest(ratings, wanted, "rating"), 80)
        return (
            f" Pass the right one as rating_col={guess}, or rating_col=None for implicit feedback (in load_data: "
            f"columns=ColumnMapping(rating={guess}))."
        )
    text = " No column looks like ratings"
    if times:
        text += f" ({quoted(times[0], 80)} holds times)" if len(times) == 1 else f" ({quoted_list(times)} hold times)"
    text += (
        ": pass rating_col=None for implicit feedback, where every row counts as one interaction (in load_data: "
        "columns=ColumnMapping(rating=None))"
    )
    if times and suggest_timestamp:
        text += f", and timestamp_col={quoted(times[0], 80)} to keep its times"
    return text + "."


def _sampled(free: Sequence[str], sample: Sampler | None) -> Mapping[str, pd.Series]:
    """The first rows of ``free``, or nothing when there is no sampler or the sample cannot be read."""
    if sample is None or not free:
        return {}
    try:
        return sample(list(free))
    except Exception:  # a hint is never worth an error of its own: judge by the names alone
        log.debug("could not sample %s for a rating column hint", list(free), exc_info=True)
        return {}


def _words(name: str) -> list[str]:
    """The words of a column name, lower case: ``eventTime`` -> event, time; ``created_at`` -> created, at."""
    return [w.lower() for w in _WORD_RE.findall(name)]


def _looks_like_time(name: str, values: pd.Series | None) -> bool:
    """A column named like a time, holding dates, or holding whole numbers as large as Unix seconds."""
    if any(w in _TIME_WORDS for w in _words(name)) or name.lower() in _ALIASES["timestamp"]:
        return True
    if values is None:
        return False
    if pd.api.types.infer_dtype(values, skipna=True) in _TIME_KINDS:
        return True
    numbers = _numbers(values)
    return (
        numbers is not None
        and len(numbers) > 0
        and bool((numbers == numbers.round()).all())
        and float(numbers.min()) >= _UNIX_TIME_FROM
    )


def _may_hold_ratings(name: str, values: pd.Series | None) -> bool:
    """A column whose name does not end in ``id`` and which (where sampled) holds numbers."""
    words = _words(name)
    if words and words[-1] in ("id", "ids"):
        return False
    return values is None or _numbers(values) is not None


def _numbers(values: pd.Series) -> pd.Series | None:
    """The sampled values as numbers (blanks left out), or ``None`` when some are not numbers."""
    present = values.dropna()
    kind = pd.api.types.infer_dtype(present, skipna=True)
    if kind == "string":
        present = present[present.str.strip() != ""]
    elif kind not in ("integer", "floating", "mixed-integer-float", "decimal", "empty"):
        return None  # booleans, bytes, dates, lists...: not ratings
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return None
    return numbers.astype(float)


def resolve_columns(
    path: Path,
    fields: Sequence[str],
    user: str,
    item: str,
    rating: str | None,
    timestamp: str | None,
    *,
    sample: Sampler | None = None,
) -> dict[str, str]:
    """Map each role (user, item, rating, timestamp) to a column that exists in the file.

    Args:
        path: the file, for messages.
        fields: the file's column names.
        user, item, rating, timestamp: the wanted columns; ``None`` for no rating or timestamp.
            A default name that is absent is looked for under common aliases; a default
            ``timestamp`` may be absent, and a default ``rating`` may be absent when the file
            has no other columns (implicit feedback).
        sample: reads the first rows of some columns, for the message of a missing rating
            column (a column of times is never suggested as ratings).

    Raises:
        DataError: a wanted column is absent (the message suggests the likeliest one, or
            ``rating_col=None`` when no column looks like ratings), or one column is given two roles.
    """
    chosen: dict[str, str] = {}
    for role, wanted, default in (("user", user, DEFAULT_USER), ("item", item, DEFAULT_ITEM)):
        found = _match(fields, wanted, role, wanted == default)
        if found is None:
            raise _missing_column(path, role, wanted, fields, list(chosen.values()))
        chosen[role] = found
    if timestamp is not None:
        _add_optional(chosen, path, fields, "timestamp", timestamp, may_lack=timestamp == DEFAULT_TIMESTAMP)
    if rating is not None:
        # a default rating column may be absent only when no other column is left to be it
        unused = [f for f in fields if f not in chosen.values()]
        _add_optional(
            chosen,
            path,
            fields,
            "rating",
            rating,
            may_lack=rating == DEFAULT_RATING and not unused,
            sample=sample,
            suggest_timestamp=timestamp is not None and "timestamp" not in chosen,
        )
        if "rating" not in chosen:
            log.info("%s has no rating column: loading it as implicit feedback", path)
    for role, name in chosen.items():
        if list(fields).count(name) > 1:
            raise _twice(path, name, list(fields).count(name), f"the {role} column")
    if len(set(chosen.values())) < len(chosen):
        raise DataError(f"{path}: one column is mapped to two roles ({quoted(chosen)}); give each role its own column.")
    return chosen


def _twice(path: Path, name: str, times: int, what: str) -> DataError:
    return DataError(
        f"{path}: {times} columns are named {quoted(name, 80)}, so {what} is ambiguous; give each column of the "
        "header its own name."
    )


def _add_optional(
    chosen: dict[str, str],
    path: Path,
    fields: Sequence[str],
    role: str,
    wanted: str,
    *,
    may_lack: bool,
    sample: Sampler | None = None,
    suggest_timestamp: bool = False,
) -> None:
    """Map ``role`` to its column when the file has it; a DataError when it lacks one it may not lack."""
    found = _match(fields, wanted, role, wanted == _DEFAULTS[role])
    if found is not None:
        chosen[role] = found
    elif not may_lack:
        raise _missing_column(
            path, role, wanted, fields, list(chosen.values()), sample, suggest_timestamp=suggest_timestamp
        )


def refuse_repeated_names(path: Path, fields: Sequence[str]) -> None:
    """A DataError naming the first column name that ``fields`` has more than once."""
    seen: set[str] = set()
    for name in fields:
        if name in seen:
            raise _twice(path, name, list(fields).count(name), "the file's columns are ambiguous")
        seen.add(name)


def parse_year(titles: pd.Series) -> pd.Series:
    """Release year from titles that end in ``(1995)`` (or ``(1994-1998)``), as nullable ``Int64``."""
    years = titles.astype("string").str.extract(_YEAR_RE, expand=False)
    return pd.to_numeric(years, errors="coerce").astype("Int64")
