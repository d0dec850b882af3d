"""One entry point for every kind of ratings data: :func:`load_data`.

``load_data("path/to/ml-100k")`` loads a MovieLens folder of any edition;
``load_data("ratings.csv", columns=ColumnMapping(user="uid", item="sku", rating=None))`` loads
your own file; ``load_data(dataset="ml-latest-small")`` loads a built-in dataset, downloading it
when missing. All of them end in :func:`~embrec.data.build.build_interactions`, so the checks
are the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embrec.data.build import DuplicatePolicy
from embrec.data.columns import DEFAULT_ITEM, DEFAULT_RATING, DEFAULT_TIMESTAMP, DEFAULT_USER
from embrec.data.editions import MovieLensEdition, movielens_edition, movielens_ratings_file
from embrec.data.files import (
    DEFAULT_GENRES,
    DEFAULT_GENRES_SEP,
    DEFAULT_TITLE,
    load_ratings_file,
    metadata_from_file,
)
from embrec.data.interactions import Interactions
from embrec.data.movielens import has_ratings_layout, load_movielens
from embrec.data.quoting import quoted, quoted_list
from embrec.data.sniff import normalize_sep
from embrec.errors import DataError

__all__ = ["ColumnMapping", "load_data"]


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of your own ratings file hold what.

    The defaults are lenient: when ``user``/``item`` are missing, common names such as
    ``userId``/``movieId`` are tried; a missing ``timestamp`` column means no timestamps; a
    missing ``rating`` column in a file with no other columns means implicit feedback. Names you
    change must exist.
    """

    user: str = DEFAULT_USER
    """The user id column."""
    item: str = DEFAULT_ITEM
    """The item id column."""
    rating: str | None = DEFAULT_RATING
    """The rating column; ``None`` for implicit feedback (every row is one interaction)."""
    timestamp: str | None = DEFAULT_TIMESTAMP
    """The timestamp column (Unix seconds or ISO date/times); ``None`` if there is none."""


def load_data(
    data: str | Path | None = None,
    *,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    columns: ColumnMapping | None = None,
    sep: str | None = None,
    items: str | Path | None = None,
    items_id_col: str | None = None,
    title_col: str | None = DEFAULT_TITLE,
    genres_col: str | None = DEFAULT_GENRES,
    genres_sep: str = DEFAULT_GENRES_SEP,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | str = "last",
    download: bool = True,
) -> Interactions:
    """Load ratings from a MovieLens folder, your own file, or a built-in dataset.

    Args:
        data: a MovieLens folder (any edition, recognised by its files), a MovieLens ratings
            file inside one (``u.data``, ``u1.base``, ``ratings.csv``, ``ratings.dat``), or your
            own CSV/TSV/Parquet ratings file.
        dataset: a built-in dataset name such as ``"ml-100k"``; give this or ``data``, not both.
        data_dir: where built-in datasets live (else ``$EMBREC_DATA_DIR``, else the user cache).
        columns: the column mapping of your own file (ignored for MovieLens data).
        sep: the delimiter of your own text file (default by extension, else sniffed).
        items: an item metadata file (CSV/TSV/Parquet with an id column, ``title`` and
            optionally ``genres``); for MovieLens data it replaces the folder's movies.
        items_id_col: the id column of ``items``; default the ratings' item column (``movieId``
            for MovieLens), else the first of ``item``, ``item_id``, ``itemId``, ``movieId``, ``id``.
        title_col: the title column of ``items`` (default ``title``, which must then exist);
            ``None`` for a file without titles.
        genres_col: the genres column of ``items`` (default ``genres``, optional); ``None`` for none.
        genres_sep: what separates one item's genres (default ``|``).
        rating_scale: allowed ``(lowest, highest)`` rating. Default: the edition's known scale
            for MovieLens, the data's own range otherwise.
        duplicates: repeated (user, item) pairs: ``"last"`` (default, with a
            :class:`~embrec.data.build.DuplicateRatingsWarning`), ``"first"``, ``"mean"`` or ``"error"``.
        download: whether a missing built-in dataset may be downloaded.

    Returns:
        The validated :class:`Interactions`, named after the edition, dataset or file.

    Raises:
        DataError: bad input, named with the file, line, value and fix.
        DatasetNotFoundError: a built-in dataset is missing and cannot be downloaded.
    """
    if (data is None) == (dataset is None):
        given = "both" if data is not None else "neither"
        raise DataError(
            f"give exactly one of data (data=PATH: a MovieLens folder or a ratings file) or dataset "
            f"(dataset=NAME, e.g. ml-100k); {given} was given."
        )
    policy = _policy(duplicates)
    scale = None if rating_scale is None else (float(rating_scale[0]), float(rating_scale[1]))
    meta = _ItemsFile(items, items_id_col, title_col, genres_col, genres_sep)
    if dataset is not None:
        from embrec.data.datasets import find_dataset  # the registry imports heavier modules

        return _movielens(find_dataset(dataset, data_dir, download=download), None, meta, scale, policy)
    path = Path(data).expanduser()  # type: ignore[arg-type]
    if path.is_dir():
        if movielens_edition(path) is None:
            raise _not_movielens(path)
        return _movielens(path, None, meta, scale, policy)
    mapping = columns or ColumnMapping()
    edition = _as_movielens_file(path, mapping, sep)
    if edition is not None:
        return _movielens(edition.folder, path, meta, scale, policy)
    return load_ratings_file(
        path,
        user_col=mapping.user,
        item_col=mapping.item,
        rating_col=mapping.rating,
        timestamp_col=mapping.timestamp,
        sep=normalize_sep(sep),
        items=items,
        items_id_col=items_id_col,
        title_col=title_col,
        genres_col=genres_col,
        genres_sep=genres_sep,
        rating_scale=scale,
        duplicates=policy,
    )


def _as_movielens_file(path: Path, mapping: ColumnMapping, sep: str | None) -> MovieLensEdition | None:
    """The edition of a MovieLens ratings file, unless a column mapping or a delimiter says to read it as
    your own, or the file only has a MovieLens name (a ``ratings.csv`` with other columns)."""
    if mapping != ColumnMapping() or sep is not None or not path.is_file():
        return None
    edition = movielens_ratings_file(path)
    if edition is None or not has_ratings_layout(path, edition.layout):
        return None
    return edition


def _policy(duplicates: DuplicatePolicy | str) -> DuplicatePolicy:
    try:
        return DuplicatePolicy(duplicates)
    except ValueError:
        allowed = ", ".join(p.value for p in DuplicatePolicy)
        raise DataError(f"duplicates={quoted(duplicates)} is not a duplicate policy; use one of {allowed}.") from None


@dataclass(frozen=True)
class _ItemsFile:
    """An item metadata file and how to read it."""

    path: str | Path | None
    id_col: str | None
    title_col: str | None
    genres_col: str | None
    genres_sep: str


def _movielens(
    folder: Path,
    ratings_file: Path | None,
    items: _ItemsFile,
    rating_scale: tuple[float, float] | None,
    policy: DuplicatePolicy,
) -> Interactions:
    """A MovieLens folder (or one ratings file of it), with ``items`` instead of its movies when given."""
    meta = None
    if items.path is not None:
        meta = metadata_from_file(
            items.path,
            id_col=items.id_col,
            title_col=items.title_col,
            genres_col=items.genres_col,
            genres_sep=items.genres_sep,
            preferred_id="movieId",
            id_param="items_id_col",
        )
    return load_movielens(
        folder, ratings_file=ratings_file, rating_scale=rating_scale, duplicates=policy, item_metadata=meta
    )


def _not_movielens(folder: Path) -> DataError:
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if movielens_edition(child) is not None:
            return DataError(
                f"{folder} is not a MovieLens folder, but {child} is; pass data={quoted(str(child), 1000)}."
            )
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    data_files = [n for n in files if n.lower().endswith((".csv", ".tsv", ".parquet", ".pq", ".txt", ".gz"))]
    hint = f" To load your own file, pass it: data={quoted(str(folder / data_files[0]), 1000)}." if data_files else ""
    return DataError(
        f"{folder} is a folder but not a MovieLens one (no u.data, ratings.csv or ratings.dat; it holds "
        f"{quoted_list(files)}).{hint}"
    )
