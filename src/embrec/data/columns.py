"""Which column of a ratings file plays which role (user, item, rating, timestamp), and years from titles."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from embrec.errors import DataError

__all__ = [
    "DEFAULT_ITEM",
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
    close = difflib.get_close_matches(wanted, free, n=1, cutoff=0.5)
    by_alias = [f for f in free if f.lower() in _ALIASES[role] or f.lower().startswith(role[0])]
    guess = close[0] if close else (by_alias[0] if by_alias else free[0])
    extra = ", or rating_col=None for implicit feedback" if role == "rating" else ""
    extra = ", or timestamp_col=None if it has none" if role == "timestamp" else extra
    hint = ""
    if all(_NUMBER_RE.match(f) for f in fields):
        hint = " The first line looks like data, not column names: add a header line."
    return DataError(
        f"{path}: no {role} column {wanted!r}; the file's columns are {list(fields)}. Pass the right one as "
        f"{role}_col={guess!r}{extra} (in load_data: columns=ColumnMapping({role}={guess!r})).{hint}"
    )


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
        found = _match(fields, timestamp, "timestamp", timestamp == DEFAULT_TIMESTAMP)
        if found is not None:
            chosen["timestamp"] = found
        elif timestamp != DEFAULT_TIMESTAMP:
            raise _missing_column(path, "timestamp", timestamp, fields, list(chosen.values()))
    if rating is not None:
        found = _match(fields, rating, "rating", rating == DEFAULT_RATING)
        if found is not None:
            chosen["rating"] = found
        else:
            unused = [f for f in fields if f not in chosen.values()]
            if rating != DEFAULT_RATING or unused:
                raise _missing_column(path, "rating", rating, fields, list(chosen.values()))
            log.info("%s has no rating column: loading it as implicit feedback", path)
    if len(set(chosen.values())) < len(chosen):
        raise DataError(f"{path}: one column is mapped to two roles ({chosen}); give each role its own column.")
    return chosen


def parse_year(titles: pd.Series) -> pd.Series:
    """Release year from titles that end in ``(1995)`` (or ``(1994-1998)``), as nullable ``Int64``."""
    years = titles.astype("string").str.extract(_YEAR_RE, expand=False)
    return pd.to_numeric(years, errors="coerce").astype("Int64")
