"""The pyarrow reading engine behind every ratings loader: CSV and Parquet to NumPy columns.

Reading goes through pyarrow with explicit column types (``int32`` ids, ``float32`` ratings,
``int64`` timestamps), never row by row in Python (files over 64 MiB are parsed on all cores),
and each column is turned into a NumPy array and released before the next, so a 25-million-row
file peaks at about twice the memory of the loaded arrays (see ``docs/benchmarks.md``). Every
pyarrow error is translated into a :class:`~embrec.errors.DataError` that names the file, the
line or column where known, the bad value and the fix, and a column whose type its role cannot
be read from (a list, struct, binary or date column of ids, say) is refused naming the column
and its type. Validation of the values themselves
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

from embrec.data.build import MAX_SECONDS, MIN_SECONDS, DuplicatePolicy, build_interactions
from embrec.data.interactions import Interactions
from embrec.data.quoting import clipped, quoted
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
        msg = _first_message_line(exc)
        return DataError(
            f"{spec.path}: cannot be parsed as {describe_sep(spec.sep)}-separated text ({msg}); check the "
            "delimiter (sep) and the quoting."
        )
    line = f", line {bad.number}" if bad.number is not None else ""
    if spec.row_format:
        return DataError(
            f"{spec.path}{line}: malformed row {quoted(bad.text)}: expected rows like {spec.row_format}; fix "
            "that line or get a fresh copy of the file."
        )
    return DataError(
        f"{spec.path}{line}: malformed row {quoted(bad.text)}: expected {bad.expected_columns} fields separated "
        f"by {describe_sep(spec.sep)} (as in the header) but found {bad.actual_columns}; fix that line (a stray "
        "delimiter or an unclosed quote?) or pass the right delimiter as sep."
    )


def read_csv_table(spec: CsvSpec) -> pa.Table:
    """Read the wanted columns with their types, turning every pyarrow error into a DataError.

    A column whose values do not fit the type guessed from the first rows is read again as
    something wider (``int64`` or text), and a float column whose bad value a float cannot show
    as written (an infinite rating: ``inf``, or ``1e39``, which ``float32`` cannot hold; a
    timestamp out of range) is read again as text, so the checks in ``build_interactions`` can
    name the exact row and value.
    """
    types = dict(spec.types)
    for _attempt in range(2 * len(spec.include) + 1):
        try:
            table = pacsv.read_csv(
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
            continue
        except (OSError, pa.ArrowException) as exc:
            raise _generic(spec, str(exc)) from None
        inexact = _inexact_column(spec, table)
        if inexact is None:
            return table
        del table
        log.debug("re-reading column %r of %s as text to quote its bad value as written", inexact, spec.path)
        types[inexact] = pa.string()
    raise _generic(spec, "the column types could not be settled")


def _inexact_column(spec: CsvSpec, table: pa.Table) -> str | None:
    """The first column read as floats whose bad value a float cannot show as the file writes it, or ``None``.

    ``"1e39"`` and ``"inf"`` both read as an infinite float32 rating, and a timestamp such as
    ``100000000000000000000`` (beyond int64) reads as ``1e+20``: as text, build_interactions
    refuses them quoting the file's own spelling.
    """
    for name in spec.include:
        role = spec.roles.get(name)
        if role not in ("rating", "timestamp") or name not in table.column_names:
            continue
        col = table.column(name)
        if not pa.types.is_floating(col.type) or col.null_count == len(col):
            continue
        if role == "rating" and pc.any(pc.is_inf(col)).as_py():
            return name
        if role == "timestamp":
            low, high = pc.min_max(col).values()
            if not (low.as_py() >= MIN_SECONDS and high.as_py() <= MAX_SECONDS):  # NaN fails too
                return name
    return None


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
            f"{spec.path}, column {quoted(spec.labels.get(name, name))}: value {quoted(value)} cannot be read; "
            "fix the value."
        )
    return name, wider


def _invalid(spec: CsvSpec, exc: Exception) -> DataError:
    """What an ArrowInvalid other than a failed conversion says about the file."""
    msg = str(exc)
    if "UTF8" in msg or "UTF-8" in msg or "utf8" in msg:
        return utf8_error(spec.path) or _generic(spec, msg)
    if "Empty CSV file" in msg:  # a header line without a line break after it, and nothing more
        return DataError(f"{spec.path}: no data rows (only a header); give a file with at least one rating.")
    if msg.startswith("CSV parse error") or "Expected" in msg:
        return _parse_error(spec, exc)
    return _generic(spec, msg)


def _first_message_line(exc: BaseException | str) -> str:
    """The first line of another library's message, cut short (it may quote a whole line of the file)."""
    text = str(exc)
    return next((clipped(line.strip()) for line in text.splitlines() if line.strip()), "unknown error")


def _generic(spec: CsvSpec, msg: str) -> DataError:
    first = _first_message_line(msg)
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
            f"{path}: is not a Parquet file (it starts with {quoted(head)}, {looks}, not the Parquet marker b'PAR1'); "
            "if it is CSV or TSV, give it a .csv or .tsv name, else re-export it as Parquet."
        )
    try:
        pf = pq.ParquetFile(path)
        _ = pf.schema_arrow  # decodes the column names: a damaged footer fails here, not later
        return pf
    except Exception as exc:  # a damaged footer raises anything from OSError to UnicodeDecodeError
        raise DataError(
            f"{path}: is not a readable Parquet file ({_first_message_line(exc)}); it may be truncated or corrupt: "
            "export it again."
        ) from None


def read_parquet_table(path: Path, columns: list[str]) -> pa.Table:
    """The given columns of a Parquet file, with pyarrow's errors as :class:`DataError`."""
    pf = open_parquet(path)
    try:
        return pf.read(columns=columns)
    except Exception as exc:  # damaged pages raise anything from OSError to UnicodeDecodeError
        raise DataError(
            f"{path}: the Parquet data cannot be read ({_first_message_line(exc)}); export the file again."
        ) from None


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


def _timestamps_to_seconds(col: pa.ChunkedArray) -> Any:
    """Unix seconds from numbers or Arrow dates/timestamps; text as it is (``build_interactions`` reads
    Unix seconds or ISO date/times from it, and checks the range of every kind)."""
    typ = col.type
    if pa.types.is_timestamp(typ):
        return _writable_numpy(pc.cast(pc.cast(col, pa.timestamp("s", typ.tz), safe=False), pa.int64()))
    if pa.types.is_date(typ):
        return _writable_numpy(pc.cast(pc.cast(col, pa.timestamp("s")), pa.int64()))
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        return _writable_numpy(col)
    return col.to_pandas()


# the Arrow types each role can be read from; booleans pass, for build_interactions to refuse with their row
def _id_type_ok(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        return _id_type_ok(typ.value_type)
    return _is_any(typ, "integer", "string", "large_string", "floating", "decimal", "null", "boolean")


def _rating_type_ok(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        return _rating_type_ok(typ.value_type)
    return _is_any(typ, "integer", "floating", "decimal", "string", "large_string", "null", "boolean")


def _timestamp_type_ok(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        return _timestamp_type_ok(typ.value_type)
    return _is_any(typ, "integer", "floating", "timestamp", "date", "string", "large_string", "null", "boolean")


def _is_any(typ: pa.DataType, *kinds: str) -> bool:
    return any(getattr(pa.types, f"is_{kind}")(typ) for kind in kinds)


# role -> (can it be read from this type, what the role's values are called, what they must be, how to store them)
_ROLE_TYPES: dict[str, tuple[Any, str, str, str]] = {
    "user": (_id_type_ok, "user ids", "whole numbers or text", "integers or strings"),
    "item": (_id_type_ok, "item ids", "whole numbers or text", "integers or strings"),
    "rating": (_rating_type_ok, "ratings", "numbers", "integers or floats"),
    "timestamp": (_timestamp_type_ok, "timestamps", "Unix seconds or date/times", "integers, timestamps or ISO text"),
}


def _check_column_type(path: Path, role: str, name: str, typ: pa.DataType) -> None:
    """A DataError naming the column and its type when ``role`` cannot be read from it."""
    if typ in (pa.binary(), pa.large_binary()) and not is_parquet(path):
        raise (
            utf8_error(path) or DataError(f"{path}: column {quoted(name)} is not text; re-encode the file as UTF-8.")
        )
    ok, what, allowed, store = _ROLE_TYPES[role]
    if ok(typ):
        return
    raise DataError(
        f"{path}: column {quoted(name)} has type {clipped(str(typ), 80)}, but {what} must be {allowed}, one per row; "
        f"choose another {role} column or store this one as {store}."
    )


def _table_to_columns(owner: list[pa.Table], chosen: Mapping[str, str], path: Path) -> dict[str, Any]:
    """Convert the chosen columns one at a time, dropping each from the table as soon as it is copied.

    The table comes in a one-element list that is emptied here, so no caller's frame keeps the
    Arrow buffers alive while the NumPy copies are made (on 25M rows that is ~500 MB).
    """
    table = owner.pop()
    for role in ("user", "item", "rating", "timestamp"):
        name = chosen.get(role)
        if name is not None:
            _check_column_type(path, role, name, table.schema.field(name).type)
    out: dict[str, Any] = {}
    for role in ("user", "item", "rating", "timestamp"):
        name = chosen.get(role)
        if name is None:
            continue
        idx = table.schema.get_field_index(name)
        col = table.column(idx)
        table = table.remove_column(idx)
        try:
            out[role] = _timestamps_to_seconds(col) if role == "timestamp" else _chunked_to_values(col)
        except (pa.ArrowException, UnicodeDecodeError) as exc:  # text that is not UTF-8, in a damaged file
            raise DataError(
                f"{path}: column {quoted(name)} cannot be read ({_first_message_line(exc)}); the file may be damaged: "
                "export it again."
            ) from None
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
    cols = _table_to_columns(owner, chosen, path)
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
