"""Loading every MovieLens edition: :func:`load_movielens` reads its ratings, with its movies as item metadata.

The edition and its layout are told from the folder's files (see :mod:`embrec.data.editions`).
Ratings are parsed by pyarrow with fixed column types; ``::`` files are read with ``:`` as the
delimiter and every second (empty) field skipped, so nothing is copied or split in Python. The
movies, links, tags and users are read by :mod:`embrec.data.movielens_meta`; their loaders are
importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from embrec.data.build import DuplicatePolicy
from embrec.data.editions import (
    Layout,
    MovieLensEdition,
    is_movielens_folder,
    movielens_edition,
    movielens_ratings_file,
    require_edition,
)
from embrec.data.interactions import Interactions
from embrec.data.movielens_meta import load_links, load_movies, load_movies_if_present, load_tags, load_users
from embrec.data.quoting import quoted, quoted_list
from embrec.data.sniff import check_file, read_head, read_header
from embrec.data.tables import CsvSpec, build_from_table, read_csv_table
from embrec.errors import DataError

# the edition names live in embrec.data.editions and the metadata loaders in
# embrec.data.movielens_meta; they stay importable from here, where they were first published
__all__ = [
    "MovieLensEdition",
    "is_movielens_folder",
    "load_links",
    "load_movielens",
    "load_movies",
    "load_tags",
    "load_users",
    "movielens_edition",
    "movielens_ratings_file",
    "has_ratings_layout",
]

_ROLES = ("user", "item", "rating", "timestamp")
_CSV_RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")
# the type each role's column is read as, and its kind (how read_csv_table widens a value that does not fit)
_ROLE_TYPES = dict(zip(_ROLES, (pa.int32(), pa.int32(), pa.float32(), pa.int64()), strict=True))
_ROLE_KINDS = dict(zip(_ROLES, ("id", "id", "rating", "timestamp"), strict=True))

# how to read a ratings file: the spec, role -> column and role -> label in messages
_RatingsSpec = tuple[CsvSpec, dict[str, str], dict[str, str]]


def _typed_spec(
    path: Path,
    chosen: dict[str, str],
    labels: dict[str, str],
    *,
    sep: str,
    header: bool,
    names: list[str],
    first_line: int,
    row_format: str | None = None,
    quoting: bool = True,
) -> _RatingsSpec:
    """A spec reading the four chosen columns with the types and roles every edition shares."""
    spec = CsvSpec(
        path=path,
        sep=sep,
        header=header,
        names=names,
        include=list(chosen.values()),
        types={chosen[r]: _ROLE_TYPES[r] for r in _ROLES},
        roles={chosen[r]: _ROLE_KINDS[r] for r in _ROLES},
        labels={chosen[r]: labels[r] for r in _ROLES},
        row_format=row_format,
        quoting=quoting,
        first_line=first_line,
    )
    return spec, chosen, labels


def has_ratings_layout(path: Path, layout: Layout) -> bool:
    """Whether the first line of ``path`` is laid out as a MovieLens ratings file of ``layout``.

    A ``ratings.csv`` must have the columns ``userId``, ``movieId``, ``rating`` and
    ``timestamp``; a ``u.data``-like file four tab-separated numbers; a ``ratings.dat`` four
    ``::``-separated fields. A file that only has the name (your own ``ratings.csv`` with other
    columns) is not one, and is read as your own file.
    """
    if layout == "csv":
        try:
            return all(c in read_header(path, ",").fields for c in _CSV_RATING_COLUMNS)
        except DataError:
            return False
    try:
        first = read_head(path, 4096).split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    except DataError:
        return False
    fields = first.split("\t") if layout == "100k" else first.split("::")
    return len(fields) == 4 and all(f.strip().lstrip("-").replace(".", "", 1).isdigit() for f in fields)


def _csv_spec(path: Path) -> _RatingsSpec:
    header = read_header(path, ",")
    missing = [c for c in _CSV_RATING_COLUMNS if c not in header.fields]
    if missing:
        raise DataError(
            f"{path}: not a MovieLens ratings.csv: columns {quoted_list(missing)} are missing (it has "
            f"{quoted_list(header.fields)}); to read it as your own ratings file, pass the file itself: "
            f"data={quoted(str(path), 1000)} (with its column names where they are not user, item, rating)."
        )
    chosen = dict(zip(_ROLES, _CSV_RATING_COLUMNS, strict=True))
    return _typed_spec(path, chosen, chosen, sep=",", header=True, names=header.fields, first_line=2)


def _100k_spec(path: Path) -> _RatingsSpec:
    chosen = {r: r for r in _ROLES}
    return _typed_spec(
        path,
        chosen,
        chosen,
        sep="\t",
        header=False,
        names=list(_ROLES),
        first_line=1,
        row_format="user<TAB>item<TAB>rating<TAB>timestamp",
        quoting=False,
    )


def _dat_spec(path: Path) -> _RatingsSpec:
    # '::' files: read with ':' so that every second field is empty, and skip those
    chosen = {"user": "f0", "item": "f2", "rating": "f4", "timestamp": "f6"}
    labels = {"user": "UserID", "item": "MovieID", "rating": "Rating", "timestamp": "Timestamp"}
    return _typed_spec(
        path,
        chosen,
        labels,
        sep=":",
        header=False,
        names=[f"f{i}" for i in range(7)],
        first_line=1,
        row_format="UserID::MovieID::Rating::Timestamp",
        quoting=False,
    )


_RATINGS_SPECS: dict[Layout, Callable[[Path], _RatingsSpec]] = {"csv": _csv_spec, "100k": _100k_spec, "dat": _dat_spec}


def load_movielens(
    folder: str | Path,
    *,
    ratings_file: str | Path | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | str = DuplicatePolicy.last,
    item_metadata: pd.DataFrame | None = None,
    name: str | None = None,
) -> Interactions:
    """Load a MovieLens folder of any edition, with titles, years and genres as item metadata.

    Args:
        folder: the folder the MovieLens zip extracts to (``ml-100k``, ``ml-latest-small``,
            ``ml-1m``, ``ml-10M100K``, ``ml-25m``, ...).
        ratings_file: another ratings file of the same layout inside the folder (for ml-100k:
            ``u1.base``, ``ua.test``, ...); default the edition's full ratings file.
        rating_scale: override the edition's known scale (1-5 or 0.5-5).
        duplicates: what to do with repeated (user, item) pairs.
        item_metadata: use this frame (indexed by item id) instead of the folder's movies.
        name: label; default the edition's name.

    Raises:
        DataError: the folder is not a MovieLens folder, or a file in it is malformed.
    """
    edition = require_edition(folder)
    path = _ratings_path(edition, ratings_file)
    spec, chosen, labels = _RATINGS_SPECS[edition.layout](path)
    owner = [read_csv_table(spec)]  # build_from_table empties it: no name here keeps the table alive
    return build_from_table(
        owner,
        chosen,
        path=path,
        first_line=spec.first_line,
        rating_scale=rating_scale if rating_scale is not None else edition.rating_scale,
        duplicates=duplicates,
        item_metadata=item_metadata if item_metadata is not None else load_movies_if_present(edition),
        name=name or (edition.name if path == edition.ratings_file else f"{edition.name}/{path.name}"),
        labels=labels,
    )


def _ratings_path(edition: MovieLensEdition, ratings_file: str | Path | None) -> Path:
    """The ratings file to read: the edition's own, or ``ratings_file`` (a name inside the folder or a path)."""
    path = edition.ratings_file if ratings_file is None else Path(ratings_file)
    if not path.is_absolute() and not path.exists():
        path = edition.folder / path
    return check_file(path)
