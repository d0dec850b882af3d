"""Your own ratings files: CSV, TSV or Parquet with a column mapping, plus item metadata.

The file is looked at first (:mod:`embrec.data.sniff`: existence, compression, UTF-8, header,
delimiter), its columns are matched to roles (:mod:`embrec.data.columns`), and it is read by the
pyarrow engine (:mod:`embrec.data.tables`), which ends in
:func:`~embrec.data.build.build_interactions`, so the checks are those of every loader.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from embrec.data.build import DuplicatePolicy, checked_ids
from embrec.data.columns import (
    DEFAULT_ITEM,
    DEFAULT_RATING,
    DEFAULT_TIMESTAMP,
    DEFAULT_USER,
    parse_year,
    refuse_repeated_names,
    resolve_columns,
)
from embrec.data.interactions import Interactions
from embrec.data.quoting import quoted, quoted_list
from embrec.data.sniff import (
    Header,
    base_suffix,
    check_file,
    find_invalid_utf8,
    guess_types,
    normalize_sep,
    read_header,
    read_sample,
    utf8_error,
)
from embrec.data.tables import (
    CsvSpec,
    build_from_table,
    is_parquet,
    open_parquet,
    read_csv_table,
    read_parquet_table,
)
from embrec.errors import DataError

# check_file, find_invalid_utf8, normalize_sep, parse_year and the DEFAULT_* names live in
# sniff.py and columns.py; they stay importable from here, where they were first published.
__all__ = [
    "DEFAULT_GENRES",
    "DEFAULT_GENRES_SEP",
    "DEFAULT_ITEM",
    "DEFAULT_RATING",
    "DEFAULT_TIMESTAMP",
    "DEFAULT_TITLE",
    "DEFAULT_USER",
    "check_file",
    "find_invalid_utf8",
    "load_ratings_file",
    "normalize_sep",
    "parse_year",
    "read_item_metadata",
]

#: The item metadata columns read by default, and what separates one item's genres.
DEFAULT_TITLE, DEFAULT_GENRES, DEFAULT_GENRES_SEP = "title", "genres", "|"
# how a message suggests a metadata column by its name, when the file has no column of the wanted name
_META_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "name", "movie_title", "item_name", "product_name", "label", "movie", "film", "book"),
    "genres": ("genres", "genre", "categories", "category", "tags", "tag", "subjects", "subject", "keywords"),
}
_ROWS_SAMPLED = 200


def load_ratings_file(
    path: str | Path,
    *,
    user_col: str = DEFAULT_USER,
    item_col: str = DEFAULT_ITEM,
    rating_col: str | None = DEFAULT_RATING,
    timestamp_col: str | None = DEFAULT_TIMESTAMP,
    sep: str | None = None,
    items: str | Path | pd.DataFrame | None = None,
    items_id_col: str | None = None,
    title_col: str | None = DEFAULT_TITLE,
    genres_col: str | None = DEFAULT_GENRES,
    genres_sep: str = DEFAULT_GENRES_SEP,
    rating_scale: tuple[float, float] | None = None,
    duplicates: DuplicatePolicy | str = DuplicatePolicy.last,
    name: str | None = None,
) -> Interactions:
    """Load your own ratings from a CSV, TSV or Parquet file.

    Args:
        path: the ratings file. ``.parquet``/``.pq`` (or any file starting with the Parquet
            marker) is read as Parquet; ``.csv`` as comma-, ``.tsv``/``.tab`` as tab-separated;
            other names have their delimiter sniffed. ``.gz``/``.bz2``/``.zst`` are decompressed.
        user_col, item_col: the user and item id columns (ints or text).
        rating_col: the rating column, or ``None`` for implicit feedback. When the default
            ``"rating"`` is absent and the file has no other columns, it loads as implicit.
        timestamp_col: Unix seconds or ISO date/times, or ``None``. The default
            ``"timestamp"`` is optional: when absent the data has no timestamps.
        sep: the delimiter of a text file (one character; ``"\\t"`` or ``"tab"`` for tab).
        items: an item metadata file (see :func:`read_item_metadata`) or a frame indexed by item id.
        items_id_col, title_col, genres_col, genres_sep: how to read the metadata file (its
            ``id_col``, ``title_col``, ``genres_col`` and ``genres_sep`` in :func:`read_item_metadata`);
            its id column is by default the ratings file's item column, else a usual id name.
        rating_scale: allowed ``(lowest, highest)``; default from the data.
        duplicates: what to do with repeated (user, item) pairs.
        name: label of the data; default the file name without extension.

    Raises:
        DataError: the file is missing, empty, not UTF-8, not Parquet, has no such column, is
            separated by another delimiter, or holds bad values (named with their line).
    """
    path = check_file(path)
    wanted = (user_col, item_col, rating_col, timestamp_col)
    owner, chosen, first_line = _read_ratings_table(path, normalize_sep(sep), wanted)
    return build_from_table(
        owner,
        chosen,
        path=path,
        first_line=first_line,
        rating_scale=rating_scale,
        duplicates=duplicates,
        item_metadata=_metadata_arg(
            items,
            preferred_id=chosen["item"],
            items_id_col=items_id_col,
            title_col=title_col,
            genres_col=genres_col,
            genres_sep=genres_sep,
        ),
        name=name or path.name.split(".")[0] or path.name,
    )


def _read_ratings_table(
    path: Path, sep: str | None, wanted: tuple[str, str, str | None, str | None]
) -> tuple[list[pa.Table], dict[str, str], int | None]:
    """The wanted columns (role -> column) of a ratings file, and the line of its first data row.

    The table comes in a one-element list that :func:`build_from_table` empties, so that no
    name here keeps the Arrow memory alive while it is turned into NumPy arrays.
    """
    if _is_parquet_file(path):
        names = list(open_parquet(path).schema_arrow.names)
        chosen = resolve_columns(path, names, *wanted, sample=lambda columns: _parquet_sample(path, columns))
        return [read_parquet_table(path, list(dict.fromkeys(chosen.values())))], chosen, None
    header = read_header(path, sep)
    chosen = resolve_columns(path, header.fields, *wanted, sample=lambda columns: _text_sample(path, header, columns))
    include = list(chosen.values())
    roles = {chosen[r]: ("id" if r in ("user", "item") else r) for r in chosen}
    spec = CsvSpec(
        path=path,
        sep=header.sep,
        header=True,
        names=header.fields,
        include=include,
        types=guess_types(path, header.sep, include, roles),
        roles=roles,
        labels={c: c for c in include},
    )
    return [read_csv_table(spec)], chosen, 2


def _text_sample(path: Path, header: Header, columns: Sequence[str]) -> Mapping[str, pd.Series]:
    """The first rows of some columns of a text file, for messages."""
    table = read_sample(path, header.sep, list(columns)).slice(0, _ROWS_SAMPLED)
    return {name: table.column(name).to_pandas() for name in columns}


def _parquet_sample(path: Path, columns: Sequence[str]) -> Mapping[str, pd.Series]:
    """The first rows of some columns of a Parquet file, for messages."""
    batch = next(open_parquet(path).iter_batches(batch_size=_ROWS_SAMPLED, columns=list(columns)), None)
    if batch is None:
        return {}
    return {name: batch.column(name).to_pandas() for name in columns}


def _is_parquet_file(path: Path) -> bool:
    """Parquet by its name, or by its first bytes whatever its name."""
    return base_suffix(path) in (".parquet", ".pq") or is_parquet(path)


def _metadata_arg(
    items: str | Path | pd.DataFrame | None,
    *,
    preferred_id: str,
    items_id_col: str | None,
    title_col: str | None,
    genres_col: str | None,
    genres_sep: str,
) -> pd.DataFrame | None:
    if items is None or isinstance(items, pd.DataFrame):
        return items
    return metadata_from_file(
        items,
        id_col=items_id_col,
        title_col=title_col,
        genres_col=genres_col,
        genres_sep=genres_sep,
        preferred_id=preferred_id,
        id_param="items_id_col",
    )


def read_item_metadata(
    path: str | Path,
    *,
    id_col: str | None = None,
    title_col: str | None = DEFAULT_TITLE,
    genres_col: str | None = DEFAULT_GENRES,
    genres_sep: str = DEFAULT_GENRES_SEP,
    sep: str | None = None,
    preferred_id: str | None = None,
) -> pd.DataFrame:
    """Item metadata from a CSV, TSV or Parquet file, indexed by item id.

    Args:
        path: the metadata file.
        id_col: the item id column; default the first of ``preferred_id``, ``item``,
            ``item_id``, ``itemId``, ``movieId``, ``id`` that exists (in any case).
        title_col: the titles, read as ``title``. The default ``"title"`` (in any case) must
            exist; ``None`` for a file without titles.
        genres_col: the genres, read as ``genres``. The default ``"genres"`` (in any case) is
            optional; a name you give must exist; ``None`` to read no genres.
        genres_sep: what separates one item's genres in ``genres_col`` (default ``"|"``); they
            are kept ``|``-joined, as every reader of genres expects.
        sep: delimiter of a text file (default by extension, else sniffed).
        preferred_id: an id column to try first (the ratings file's item column).

    Returns:
        A frame indexed by item id (named ``item``) with ``title``, ``year`` (parsed from titles
        ending in ``(1995)`` when there is no year column) and ``genres`` where available, and
        the file's other columns as they are.

    Raises:
        DataError: the file is unreadable, has no such id column, no title column (unless
            ``title_col=None``), no genres column you named, or ids or text of the wrong type.
    """
    return metadata_from_file(
        path,
        id_col=id_col,
        title_col=title_col,
        genres_col=genres_col,
        genres_sep=genres_sep,
        sep=sep,
        preferred_id=preferred_id,
        id_param="id_col",
    )


def metadata_from_file(
    path: str | Path,
    *,
    id_col: str | None,
    title_col: str | None,
    genres_col: str | None,
    genres_sep: str,
    sep: str | None = None,
    preferred_id: str | None = None,
    id_param: str,
) -> pd.DataFrame:
    """:func:`read_item_metadata`, whose messages name the id column's option as ``id_param``
    (``id_col`` there, ``items_id_col`` in ``load_data`` and on the command line)."""
    path = check_file(path, "item metadata file")
    sep = normalize_sep(sep)
    if not isinstance(genres_sep, str) or not genres_sep:
        raise DataError(
            f"genres_sep={quoted(genres_sep)} is not a separator; give the text between two genres of an item, "
            "such as '|', ',' or ';'."
        )
    if title_col is None and genres_col is None:
        raise DataError(
            f"title_col=None and genres_col=None leave nothing to read from the item metadata file {path}; name its "
            "title or genres column, or load without it."
        )
    header = None if _is_parquet_file(path) else read_header(path, sep)
    fields = list(open_parquet(path).schema_arrow.names) if header is None else header.fields
    refuse_repeated_names(path, fields)
    id_col = _id_column(path, fields, id_col, preferred_id, id_param)
    title = _meta_column(path, fields, "title", title_col, id_col)
    genres = _meta_column(path, fields, "genres", genres_col, id_col, other=title)
    if title is None and title_col is not None:
        raise _no_title(path, fields, title_col, id_col, genres, genres_col)
    if title is None and genres is None:
        guess = _meta_guess(fields, "genres", DEFAULT_GENRES, (id_col,))
        raise DataError(
            f"{path} has no {quoted(genres_col, 80)} column (its columns: {quoted_list(fields)}), and title_col=None "
            f"leaves nothing to read; name its genres with genres_col={quoted(guess, 80) if guess else 'COLUMN'}, "
            "or load without the metadata file."
        )
    table = _read_whole_table(path, header, id_col)
    for field in table.schema:
        if field.type in (pa.binary(), pa.large_binary()):
            if header is not None:
                raise (
                    utf8_error(path)
                    or DataError(f"{path}: column {quoted(field.name)} is not text; re-encode it as UTF-8.")
                )
            raise DataError(
                f"{path}: column {quoted(field.name)} holds bytes (type {field.type}), not text; store it as strings."
            )
    chosen = {role: name for role, name in (("title", title), ("genres", genres)) if name is not None}
    table = _as_text(path, table, tuple(name for name in dict.fromkeys(chosen.values()) if name != id_col))
    if not _is_any_id_type(table.schema.field(id_col).type):
        raise DataError(
            f"{path}: column {quoted(id_col)} has type {table.schema.field(id_col).type}, but item ids must be whole "
            "numbers or text; store it as integers or strings."
        )
    frame = table.to_pandas()
    ids = frame[id_col].astype(str) if isinstance(frame[id_col].dtype, pd.CategoricalDtype) else frame[id_col]
    ids = checked_ids(ids, source=str(path), column=id_col, first_line=None if header is None else 2)
    # the chosen columns become title and genres; a column already of that name that was not chosen is left out
    out = pd.DataFrame(
        {role: (ids.astype(str) if name == id_col else frame[name]).to_numpy() for role, name in chosen.items()},
        index=frame.index,
    )
    if "genres" in out.columns:
        out["genres"] = _joined_genres(out["genres"], genres_sep)
    rest = [c for c in frame.columns if c not in (id_col, DEFAULT_TITLE, DEFAULT_GENRES, *chosen.values())]
    out = pd.concat([out, frame[rest]], axis=1) if rest else out
    out.index = pd.Index(ids.to_numpy(), name="item")
    if "title" in out.columns and "year" not in out.columns:
        out["year"] = parse_year(out["title"])
    return out


def _meta_column(
    path: Path, fields: list[str], role: str, wanted: str | None, id_col: str, other: str | None = None
) -> str | None:
    """The column of ``fields`` holding ``role`` (title or genres), or ``None`` where there is none.

    The default name is matched in any case; a name given otherwise must be there as written.
    """
    if wanted is None:
        return None
    found = wanted if wanted in fields else None
    if found is None and wanted == role:
        found = next((f for f in fields if f.lower() == role), None)
    if found is None:
        if wanted != role:
            guess = _meta_guess(fields, role, wanted, (id_col, other))
            raise DataError(
                f"{path} has no {quoted(wanted, 80)} column (its columns: {quoted_list(fields)}); pass its {role} "
                f"column as {role}_col={quoted(guess, 80) if guess else 'COLUMN'}, or {role}_col=None for none."
            )
        return None
    if found == other:
        raise DataError(
            f"{path}: column {quoted(found, 80)} is named as both titles and genres; give each its own column "
            "(title_col=..., genres_col=...)."
        )
    return found


def _no_title(
    path: Path, fields: list[str], wanted: str, id_col: str, genres: str | None, genres_col: str | None
) -> DataError:
    """The message for a metadata file without a title column: the column to name instead, or ``title_col=None``."""
    guess = _meta_guess(fields, "title", wanted, (id_col, genres))
    text = (
        f"{path} has no {quoted(wanted, 80)} column (its columns: {quoted_list(fields)}); name yours with "
        f"title_col={quoted(guess, 80) if guess else 'COLUMN'}"
    )
    genres_guess = (
        None if genres is not None or genres_col is None else _meta_guess(fields, "genres", genres_col, (id_col, guess))
    )
    if genres_guess is not None:
        text += f" (and genres_col={quoted(genres_guess, 80)} for its genres)"
    return DataError(text + ", or pass title_col=None if it has no titles.")


def _meta_guess(fields: list[str], role: str, wanted: str, taken: tuple[str | None, ...]) -> str | None:
    """The column a message suggests for titles or genres: a close or usual name, or the one column left."""
    free = [f for f in fields if f not in taken]
    close = difflib.get_close_matches(wanted, free, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {f.lower(): f for f in free}
    usual = next((lowered[a] for a in _META_ALIASES[role] if a in lowered), None)
    if usual is not None:
        return usual
    if role == "title" and len(free) == 1:
        return free[0]
    return None


def _joined_genres(genres: pd.Series, sep: str) -> pd.Series:
    """Each item's genres split at ``sep``, stripped, blanks dropped and joined by ``|``; missing stays missing."""

    def join(value: object) -> object:
        if not isinstance(value, str):
            return value
        return "|".join(part for part in (g.strip() for g in value.split(sep)) if part)

    return genres.map(join)


def _is_any_id_type(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        return _is_any_id_type(typ.value_type)
    return (
        any(
            check(typ)
            for check in (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string, pa.types.is_floating)
        )
        or pa.types.is_decimal(typ)
        or pa.types.is_null(typ)
        or pa.types.is_boolean(typ)
    )


def _as_text(path: Path, table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """``table`` with the named columns (titles, genres) as text, whatever type they were read as."""
    for name in names:
        idx = table.schema.get_field_index(name)
        if idx < 0 or pa.types.is_string(table.schema.field(idx).type):
            continue
        try:
            table = table.set_column(idx, name, pc.cast(table.column(idx), pa.string()))
        except pa.ArrowException:
            typ = table.schema.field(idx).type
            raise DataError(
                f"{path}: column {quoted(name)} has type {typ}, but it must hold text (a title or '|'-joined genres "
                "per item); store it as strings."
            ) from None
    return table


def _read_whole_table(path: Path, header: Header | None, id_col: str) -> pa.Table:
    """Every column of a Parquet (``header`` None) or delimited text file, as pyarrow types them.

    The id column of a text file is read as the ratings loaders read ids: integers when every
    one is, else the text as written (so ``10**30`` or ``007`` stay exact).
    """
    if header is None:
        return read_parquet_table(path, list(open_parquet(path).schema_arrow.names))
    guessed = guess_types(path, header.sep, [id_col], {id_col: "id"})
    spec = CsvSpec(
        path=path,
        sep=header.sep,
        header=True,
        names=header.fields,
        include=header.fields,
        types={id_col: guessed.get(id_col, pa.string())},
        roles={id_col: "id"},
        labels={},
    )
    return read_csv_table(spec)


def _id_column(path: Path, fields: list[str], id_col: str | None, preferred_id: str | None, id_param: str) -> str:
    """``id_col`` when the file has it; without one, the first usual id column the file has."""
    if id_col is not None:
        if id_col not in fields:
            raise DataError(
                f"{path}: no item id column {quoted(id_col)}; the file's columns are {quoted_list(fields)}; pass one "
                f"of them as {id_param}=COLUMN."
            )
        return id_col
    candidates = [c for c in (preferred_id, "item", "item_id", "itemId", "movieId", "id") if c]
    lowered = {f.lower(): f for f in fields}
    found = next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)
    if found is None:
        raise DataError(
            f"{path}: no item id column (looked for {quoted_list(candidates)}); the file's columns are "
            f"{quoted_list(fields)}. "
            f"Rename the id column to 'item' or pass its name as {id_param}=COLUMN."
        )
    return found
