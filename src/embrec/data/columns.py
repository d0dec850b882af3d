"""Which column of a ratings file plays which role (user, item, rating, timestamp), and years from titles."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from embrec.data.quoting import quoted, quoted_list
from embrec.errors import DataError

__all__ = [
    "DEFAULT_ITEM",
    "refuse_repeated_names",
    "DEFAULT_RATING",
    "DEFAULT_TIMESTAMP",
    "DEFAULT_USER",
    "parse_year",
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


def _missing_column(path: Path, role: str, wanted: str, fields: Sequence[str], taken: Sequence[str] = ()) -> DataError:
    free = [f for f in fields if f not in taken] or list(fields)
    guess = _likeliest(free, wanted, role)
    extra = _WITHOUT_HINT.get(role, "")
    hint = ""
    if all(_NUMBER_RE.match(f) for f in fields):
        hint = " The first line looks like data, not column names: add a header line."
    return DataError(
        f"{path}: no {role} column {quoted(wanted, 80)}; the file's columns are {quoted_list(fields)}. Pass the "
        f"right one as {role}_col={quoted(guess, 80)}{extra} (in load_data: "
        f"columns=ColumnMapping({role}={quoted(guess, 80)})).{hint}"
    )


def _likeliest(free: Sequence[str], wanted: str, role: str) -> str:
    """The column a message suggests for a role: the closest name, else an alias or a name of its initial."""
    close = difflib.get_close_matches(wanted, free, n=1, cutoff=0.5)
    if close:
        return close[0]
    by_alias = [f for f in free if f.lower() in _ALIASES[role] or f.lower().startswith(role[0])]
    return by_alias[0] if by_alias else free[0]


def resolve_columns(
    path: Path, fields: Sequence[str], user: str, item: str, rating: str | None, timestamp: str | None
) -> dict[str, str]:
    """Map each role (user, item, rating, timestamp) to a column that exists in the file.

    Args:
        path: the file, for messages.
        fields: the file's column names.
        user, item, rating, timestamp: the wanted columns; ``None`` for no rating or timestamp.
            A default name that is absent is looked for under common aliases; a default
            ``timestamp`` may be absent, and a default ``rating`` may be absent when the file
            has no other columns (implicit feedback).

    Raises:
        DataError: a wanted column is absent (the message suggests the likeliest one), or one
            column is given two roles.
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
        _add_optional(chosen, path, fields, "rating", rating, may_lack=rating == DEFAULT_RATING and not unused)
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
    chosen: dict[str, str], path: Path, fields: Sequence[str], role: str, wanted: str, *, may_lack: bool
) -> None:
    """Map ``role`` to its column when the file has it; a DataError when it lacks one it may not lack."""
    found = _match(fields, wanted, role, wanted == _DEFAULTS[role])
    if found is not None:
        chosen[role] = found
    elif not may_lack:
        raise _missing_column(path, role, wanted, fields, list(chosen.values()))


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
