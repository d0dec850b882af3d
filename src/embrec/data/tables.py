"""The pyarrow reading engine behind every ratings loader: CSV and Parquet to NumPy columns.

Reading goes through pyarrow with explicit column types (``int32`` ids, ``float32`` ratings,
``int64`` timestamps), never row by row in Python (files over 64 MiB are parsed on all cores),
and each column is turned into a NumPy array and released before the next, so a 25-million-row
file peaks at about twice the memory of the loaded arrays (see ``docs/benchmarks.md``). Every
pyarrow error is translated into a :class:`~embrec.errors.DataError` that names the file, the
line or column where known, the bad value and the fix. Validation of the values themselves
(numbers, scale, duplicates, id vocabularies) is left to
:func:`~embrec.data.build.build_interactions`, which :func:`build_from_table` ends with.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from embrec.data.build import DuplicatePolicy, build_interactions
from embrec.data.interactions import Interactions
from embrec.data.sniff import DICT_STRING, compression_of, describe_sep, read_head, utf8_error
from embrec.errors import DataError

__all__ = [
    "CsvSpec",
    "build_from_table",
    "is_parquet",
    "open_parquet",
    "read_csv_table",
    "read_parquet_table",
]

log = logging.getLogger(__name__)

_PARQUET_MAGIC = b"PAR1"
_CONVERSION_RE = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+): invalid value '(.*)'", re.S
)
_INT_RE = re.compile(r"^\s*[-+]?\d+\s*$")
# Files below this size are parsed on one thread in 1 MiB blocks: as fast, and without the
# tens of MB that parallel 16 MiB blocks keep in flight (which dominated peak memory at 1M rows).
_PARALLEL_FROM_BYTES = 64 << 20
_SMALL_BLOCK, _LARGE_BLOCK = 1 << 20, 16 << 20


# --------------------------------------------------------------------------- CSV reading
@dataclass(frozen=True)
class CsvSpec:
    """How to read one delimited file: its delimiter, names, wanted columns and their types."""

    path: Path
    sep: str
    header: bool
    names: list[str]  # every column of the file, in order
    include: list[str]  # the columns to read
    types: dict[str, pa.DataType]
    roles: dict[str, str]  # column name -> "id" | "rating" | "timestamp" | "text"
    labels: dict[str, str]  # column name -> name used in messages
    row_format: str | None = None  # e.g. "UserID::MovieID::Rating::Timestamp" for messages
    quoting: bool = True
    first_line: int = 2


def _retry_type(current: pa.DataType | None, role: str, value: str) -> pa.DataType:
    if role == "id":
        if current == pa.int32() and _INT_RE.match(value):
            return pa.int64()
        return DICT_STRING
    return pa.string()


def _read_options(spec: CsvSpec, use_threads: bool = True) -> pacsv.ReadOptions:
    large = spec.path.stat().st_size >= _PARALLEL_FROM_BYTES or compression_of(spec.path) is not None
    block = _LARGE_BLOCK if large else _SMALL_BLOCK
    names = None if spec.header else spec.names
    return pacsv.ReadOptions(use_threads=use_threads and large, block_size=block, column_names=names)


def _parse_options(spec: CsvSpec, handler: Any = None) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=spec.sep,
        quote_char='"' if spec.quoting else False,
        newlines_in_values=False,
        invalid_row_handler=handler,
    )


def _locate_bad_row(spec: CsvSpec) -> Any:
    """Re-read on one thread so pyarrow reports the physical line number of the first malformed row."""
    seen: list[Any] = []

    def handler(row: Any) -> str:
        seen.append(row)
        return "error"

    with contextlib.suppress(pa.ArrowException):  # the handler has seen the row by then
        pacsv.read_csv(
            spec.path,
            read_options=_read_options(spec, use_threads=False),
            parse_options=_parse_options(spec, handler),
            convert_options=pacsv.ConvertOptions(include_columns=spec.include[:1], column_types={}),
        )
    return seen[0] if seen else None


def _parse_error(spec: CsvSpec, exc: Exception) -> DataError:
    bad = _locate_bad_row(spec)
    if bad is None:
        msg = str(exc).splitlines()[0]
        return DataError(
            f"{spec.path}: cannot be parsed as {describe_sep(spec.sep)}-separated text ({msg}); check the "
            "delimiter (sep) and the quoting."
        )
    line = f", line {bad.number}" if bad.number is not None else ""
    if spec.row_format:
        return DataError(
            f"{spec.path}{line}: malformed row {bad.text[:80]!r}: expected rows like {spec.row_format}; fix "
            "that line or get a fresh copy of the file."
        )
    return DataError(
        f"{spec.path}{line}: malformed row {bad.text[:80]!r}: expected {bad.expected_columns} fields separated "
        f"by {describe_sep(spec.sep)} (as in the header) but found {bad.actual_columns}; fix that line (a stray "
        "delimiter or an unclosed quote?) or pass the right delimiter as sep."
    )


def read_csv_table(spec: CsvSpec) -> pa.Table:
    """Read the wanted columns with their types, turning every pyarrow error into a DataError.

    A column whose values do not fit the type guessed from the first rows is read again as
    something wider (``int64`` or text), so the checks in ``build_interactions`` can name the
    exact row.
    """
    types = dict(spec.types)
    for _attempt in range(2 * len(spec.include) + 1):
        try:
            return pacsv.read_csv(
                spec.path,
                read_options=_read_options(spec),
                parse_options=_parse_options(spec),
                convert_options=pacsv.ConvertOptions(
                    include_columns=spec.include,
                    column_types=types,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            conversion = _CONVERSION_RE.search(str(exc))
            retry = _invalid(spec, exc) if conversion is None else _wider_type(spec, types, conversion, str(exc))
            if isinstance(retry, DataError):
                raise retry from None
            name, wider = retry
            log.debug("re-reading column %r of %s as %s", name, spec.path, wider)
            types[name] = wider
        except (OSError, pa.ArrowException) as exc:
            raise _generic(spec, str(exc)) from None
    raise _generic(spec, "the column types could not be settled")


def _wider_type(
    spec: CsvSpec, types: Mapping[str, pa.DataType], conversion: re.Match[str], msg: str
) -> tuple[str, pa.DataType] | DataError:
    """The column a value did not convert in and the type to read it as next, or the error when there is none."""
    idx, value = int(conversion.group(1)), conversion.group(3)
    if "\ufffd" in value:
        return utf8_error(spec.path) or _generic(spec, msg)
    name = spec.names[idx] if idx < len(spec.names) else None
    if name is None or name not in spec.roles:
        return _generic(spec, msg)
    wider = _retry_type(types.get(name), spec.roles[name], value)
    if wider == types.get(name):
        return DataError(
            f"{spec.path}, column {spec.labels.get(name, name)!r}: value {value!r} cannot be read; fix the value."
        )
    return name, wider


def _invalid(spec: CsvSpec, exc: Exception) -> DataError:
    """What an ArrowInvalid other than a failed conversion says about the file."""
    msg = str(exc)
    if "UTF8" in msg or "UTF-8" in msg or "utf8" in msg:
        return utf8_error(spec.path) or _generic(spec, msg)
    if msg.startswith("CSV parse error") or "Expected" in msg:
        return _parse_error(spec, exc)
    return _generic(spec, msg)


def _generic(spec: CsvSpec, msg: str) -> DataError:
    first = msg.splitlines()[0] if msg else "unknown error"
    return DataError(
        f"{spec.path}: cannot be read as {describe_sep(spec.sep)}-separated text ({first}); check the file, "
        "the delimiter (sep) and the encoding (UTF-8)."
    )


# --------------------------------------------------------------------------- Parquet reading
def is_parquet(path: Path) -> bool:
    """True if the (uncompressed) file starts with the Parquet marker, whatever its name."""
    if compression_of(path) is not None:
        return False
    with open(path, "rb") as fh:
        return fh.read(4) == _PARQUET_MAGIC


def open_parquet(path: Path) -> pq.ParquetFile:
    """The Parquet file, or a :class:`DataError` saying what the file is instead."""
    if not is_parquet(path):
        head = read_head(path, 16)
        looks = "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data"
        raise DataError(
            f"{path}: is not a Parquet file (it starts with {head!r}, {looks}, not the Parquet marker b'PAR1'); "
            "if it is CSV or TSV, give it a .csv or .tsv name, else re-export it as Parquet."
        )
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise DataError(
            f"{path}: is not a readable Parquet file ({first}); it may be truncated or corrupt: export it again."
        ) from None


def read_parquet_table(path: Path, columns: list[str]) -> pa.Table:
    """The given columns of a Parquet file, with pyarrow's errors as :class:`DataError`."""
    pf = open_parquet(path)
    try:
        return pf.read(columns=columns)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise DataError(f"{path}: the Parquet data cannot be read ({first}); export the file again.") from None


# --------------------------------------------------------------------------- Arrow -> NumPy
def _writable_numpy(col: pa.ChunkedArray) -> np.ndarray:
    """A column as one NumPy array that owns its memory (a one-chunk column would be a read-only view)."""
    arr = col.to_numpy()
    return arr if arr.flags.writeable else arr.copy()


def _chunked_to_values(col: pa.ChunkedArray) -> Any:
    """One column as NumPy (numbers) or a pandas Categorical (text), converted in one pass."""
    typ = col.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        col = col.dictionary_encode()
        typ = col.type
    if pa.types.is_dictionary(typ):
        text = col.unify_dictionaries().to_pandas()
        # build_interactions sorts a categorical's vocabulary by category order, and the Arrow
        # dictionary is in order of first appearance: sort it so text ids come out sorted
        return text.cat.reorder_categories(text.cat.categories.sort_values())
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
        return _writable_numpy(col)
    return col.to_pandas()


def _timestamps_to_seconds(col: pa.ChunkedArray, path: Path, column: str, first_line: int | None) -> Any:
    """Unix seconds from numbers, Arrow dates/timestamps, or ISO text."""
    typ = col.type
    if pa.types.is_timestamp(typ):
        return _writable_numpy(pc.cast(pc.cast(col, pa.timestamp("s", typ.tz), safe=False), pa.int64()))
    if pa.types.is_date(typ):
        return _writable_numpy(pc.cast(pc.cast(col, pa.timestamp("s")), pa.int64()))
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        return _writable_numpy(col)
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_dictionary(typ)):
        return col.to_pandas()
    text = col.to_pandas()
    return _text_to_seconds(text.astype(object) if pa.types.is_dictionary(typ) else text, path, column, first_line)


def _text_to_seconds(text: pd.Series, path: Path, column: str, first_line: int | None) -> Any:
    """Unix seconds from numbers or ISO date/times stored as text; a DataError naming the first that is neither."""
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().sum() == text.notna().sum():
        return numeric.to_numpy()  # numbers stored as text; build_interactions checks them
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = (parsed.isna() & text.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        where = f"{path}" + (f", line {first_line + row}" if first_line is not None else f", row {row + 1}")
        raise DataError(
            f"{where}, column {column!r}: timestamp {text.iloc[row]!r} is neither Unix seconds nor an ISO "
            "date/time (such as 2015-03-01 or 2015-03-01T12:30:00Z); fix the value or pass timestamp_col=None."
        )
    delta = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    if delta.isna().any():
        return delta.to_numpy(dtype=np.float64, na_value=np.nan)  # empty cells: build_interactions names them
    return delta.to_numpy(dtype=np.int64)


def _table_to_columns(
    owner: list[pa.Table], chosen: Mapping[str, str], path: Path, first_line: int | None
) -> dict[str, Any]:
    """Convert the chosen columns one at a time, dropping each from the table as soon as it is copied.

    The table comes in a one-element list that is emptied here, so no caller's frame keeps the
    Arrow buffers alive while the NumPy copies are made (on 25M rows that is ~500 MB).
    """
    table = owner.pop()
    out: dict[str, Any] = {}
    for role in ("user", "item", "rating", "timestamp"):
        name = chosen.get(role)
        if name is None:
            continue
        idx = table.schema.get_field_index(name)
        col = table.column(idx)
        table = table.remove_column(idx)
        if col.type == pa.binary() or col.type == pa.large_binary():
            raise (utf8_error(path) or DataError(f"{path}: column {name!r} is not text; re-encode the file as UTF-8."))
        if role == "timestamp":
            out[role] = _timestamps_to_seconds(col, path, name, first_line)
        else:
            out[role] = _chunked_to_values(col)
        del col
        pa.default_memory_pool().release_unused()
    del table
    return out


def build_from_table(
    owner: list[pa.Table],
    chosen: Mapping[str, str],
    *,
    path: Path,
    first_line: int | None,
    rating_scale: tuple[float, float] | None,
    duplicates: DuplicatePolicy | str,
    item_metadata: pd.DataFrame | None,
    name: str,
    labels: Mapping[str, str] | None = None,
) -> Interactions:
    """Hand the columns to ``build_interactions`` without keeping references to them here.

    ``owner`` is a one-element list holding the table; it is emptied, so the Arrow memory is
    freed column by column as the NumPy arrays are made.
    """
    if owner[0].num_rows == 0:
        raise DataError(f"{path}: no data rows (only a header); give a file with at least one rating.")
    cols = _table_to_columns(owner, chosen, path, first_line)
    labels = labels or chosen
    return build_interactions(
        cols.pop("user"),
        cols.pop("item"),
        cols.pop("rating", None),
        cols.pop("timestamp", None),
        source=str(path),
        first_line=first_line,
        columns=(labels["user"], labels["item"], labels.get("rating"), labels.get("timestamp")),
        rating_scale=rating_scale,
        duplicates=duplicates,
        item_metadata=item_metadata,
        name=name,
        copy=False,  # the arrays are fresh and ours: no float64 round trips
    )
