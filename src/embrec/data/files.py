"""Your own ratings files: CSV, TSV or Parquet with a column mapping, plus item metadata.

The file is looked at first (:mod:`embrec.data.sniff`: existence, compression, UTF-8, header,
delimiter), its columns are matched to roles (:mod:`embrec.data.columns`), and it is read by the
pyarrow engine (:mod:`embrec.data.tables`), which ends in
:func:`~embrec.data.build.build_interactions`, so the checks are those of every loader.
"""

from __future__ import annotations

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
    "DEFAULT_ITEM",
    "DEFAULT_RATING",
    "DEFAULT_TIMESTAMP",
    "DEFAULT_USER",
    "check_file",
    "find_invalid_utf8",
    "load_ratings_file",
    "normalize_sep",
    "parse_year",
    "read_item_metadata",
]


def load_ratings_file(
    path: str | Path,
    *,
    user_col: str = DEFAULT_USER,
    item_col: str = DEFAULT_ITEM,
    rating_col: str | None = DEFAULT_RATING,
    timestamp_col: str | None = DEFAULT_TIMESTAMP,
    sep: str | None = None,
    items: str | Path | pd.DataFrame | None = None,
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
        item_metadata=_metadata_arg(items, chosen["item"]),
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
        chosen = resolve_columns(path, list(open_parquet(path).schema_arrow.names), *wanted)
        return [read_parquet_table(path, list(dict.fromkeys(chosen.values())))], chosen, None
    header = read_header(path, sep)
    chosen = resolve_columns(path, header.fields, *wanted)
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


def _is_parquet_file(path: Path) -> bool:
    """Parquet by its name, or by its first bytes whatever its name."""
    return base_suffix(path) in (".parquet", ".pq") or is_parquet(path)


def _metadata_arg(items: str | Path | pd.DataFrame | None, item_col: str) -> pd.DataFrame | None:
    if items is None or isinstance(items, pd.DataFrame):
        return items
    return read_item_metadata(items, id_col=None, preferred_id=item_col)


def read_item_metadata(
    path: str | Path,
    *,
    id_col: str | None = None,
    title_col: str = "title",
    genres_col: str = "genres",
    sep: str | None = None,
    preferred_id: str | None = None,
) -> pd.DataFrame:
    """Item metadata from a CSV, TSV or Parquet file, indexed by item id.

    Args:
        path: the metadata file.
        id_col: the item id column; default the first of ``preferred_id``, ``item``,
            ``item_id``, ``movieId``, ``id`` that exists.
        title_col, genres_col: renamed to ``title`` and ``genres`` when present (genres as a
            ``|``-joined string). Other columns are kept as they are.
        sep: delimiter of a text file (default by extension, else sniffed).
        preferred_id: an id column to try first (the ratings file's item column).

    Returns:
        A frame indexed by item id with ``title``, ``year`` (parsed from titles ending in
        ``(1995)`` when there is no year column) and ``genres`` where available.
    """
    path = check_file(path, "item metadata file")
    sep = normalize_sep(sep)
    header = None if _is_parquet_file(path) else read_header(path, sep)
    fields = list(open_parquet(path).schema_arrow.names) if header is None else header.fields
    refuse_repeated_names(path, fields)
    id_col = _id_column(path, fields, id_col, preferred_id)
    for wanted, default in ((title_col, "title"), (genres_col, "genres")):
        if wanted not in fields and wanted != default:
            raise DataError(
                f"{path}: no column {quoted(wanted)}; the file's columns are {quoted_list(fields)}; pass one of them "
                "or leave it out."
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
    table = _as_text(path, table, (title_col, genres_col))
    if not _is_any_id_type(table.schema.field(id_col).type):
        raise DataError(
            f"{path}: column {quoted(id_col)} has type {table.schema.field(id_col).type}, but item ids must be whole "
            "numbers or text; store it as integers or strings."
        )
    frame = table.to_pandas()
    ids = frame[id_col].astype(str) if isinstance(frame[id_col].dtype, pd.CategoricalDtype) else frame[id_col]
    ids = checked_ids(ids, source=str(path), column=id_col, first_line=None if header is None else 2)
    frame = frame.drop(columns=[id_col]).rename(columns={title_col: "title", genres_col: "genres"})
    frame.index = pd.Index(ids.to_numpy(), name="item")
    if "title" in frame.columns and "year" not in frame.columns:
        frame["year"] = parse_year(frame["title"])
    return frame


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


def _id_column(path: Path, fields: list[str], id_col: str | None, preferred_id: str | None) -> str:
    """``id_col`` when the file has it; without one, the first usual id column the file has."""
    if id_col is not None:
        if id_col not in fields:
            raise DataError(
                f"{path}: no item id column {quoted(id_col)}; the file's columns are {quoted_list(fields)}; pass one "
                "of them as id_col."
            )
        return id_col
    candidates = [c for c in (preferred_id, "item", "item_id", "itemId", "movieId", "id") if c]
    lowered = {f.lower(): f for f in fields}
    found = next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)
    if found is None:
        raise DataError(
            f"{path}: no item id column (looked for {quoted_list(candidates)}); the file's columns are "
            f"{quoted_list(fields)}. "
            "Rename the id column to 'item' or pass its name as id_col."
        )
    return found
