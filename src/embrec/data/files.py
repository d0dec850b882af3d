"""Your own ratings files: CSV, TSV or Parquet with a column mapping, plus item metadata.

Reading goes through pyarrow with explicit column types (``int32`` ids, ``float32`` ratings,
``int64`` timestamps), never row by row in Python (files over 64 MiB are parsed on all cores),
and each column is turned into a NumPy array and released before the next, so a 25-million-row
file peaks at about twice the memory of the loaded arrays (see ``docs/benchmarks.md``). Every
pyarrow error is translated into a :class:`~embrec.errors.DataError` that names the file, the
line or column where known, the bad value and the fix. Validation of the values themselves
(numbers, scale, duplicates, id vocabularies) is left to
:func:`~embrec.data.build.build_interactions`, which every loader ends with.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from embrec.data.build import DuplicatePolicy, build_interactions
from embrec.data.interactions import Interactions
from embrec.errors import DataError

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
_OPTION = {"user": "--user-col", "item": "--item-col", "rating": "--rating-col", "timestamp": "--timestamp-col"}
_CANDIDATE_SEPS = (",", "\t", ";", "|")
_SAMPLE_BYTES = 1 << 16
_COMPRESSED = {".gz", ".bz2", ".zst", ".lz4"}
_PARQUET_MAGIC = b"PAR1"
_CONVERSION_RE = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to ([^:]+): invalid value '(.*)'", re.S
)
_INT_RE = re.compile(r"^\s*[-+]?\d+\s*$")
_YEAR_RE = r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$"
_DICT_STRING = pa.dictionary(pa.int32(), pa.string())
# Files below this size are parsed on one thread in 1 MiB blocks: as fast, and without the
# tens of MB that parallel 16 MiB blocks keep in flight (which dominated peak memory at 1M rows).
_PARALLEL_FROM_BYTES = 64 << 20
_SMALL_BLOCK, _LARGE_BLOCK = 1 << 20, 16 << 20


# --------------------------------------------------------------------------- small helpers
def describe_sep(sep: str) -> str:
    """A delimiter as a user would type it on the command line."""
    return "'\\t' (tab)" if sep == "\t" else repr(sep)


def normalize_sep(sep: str | None) -> str | None:
    """Accept ``\\t``, ``tab`` and the like for a tab; refuse multi-character delimiters."""
    if sep is None:
        return None
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    sep = named.get(sep.lower(), sep)
    if len(sep) != 1:
        raise DataError(
            f"sep={sep!r} is not one character; pass a single-character delimiter such as ',', ';', '|' or "
            "'\\t' (MovieLens '::' files are read from their folder: pass the folder instead)."
        )
    if sep in "\r\n\"":
        raise DataError(f"sep={sep!r} cannot be a delimiter; pass one such as ',', ';', '|' or '\\t'.")
    return sep


def check_file(path: str | Path, what: str = "ratings file") -> Path:
    """The path as a :class:`Path` if it is an existing, non-empty file; else a clear :class:`DataError`."""
    path = Path(path).expanduser()
    if not path.exists():
        parent = path.parent
        hint = ""
        if parent.is_dir():
            close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir()], n=3, cutoff=0.6)
            if close:
                hint = f" Did you mean {', '.join(repr(str(parent / c)) for c in close)}?"
        else:
            hint = f" (the folder {str(parent)!r} does not exist either)."
        raise DataError(f"{what} {str(path)!r} does not exist; check the path.{hint}")
    if path.is_dir():
        raise DataError(f"{what} {str(path)!r} is a folder, not a file; pass a file inside it.")
    if path.stat().st_size == 0:
        raise DataError(f"{what} {str(path)!r} is empty (0 bytes); give a file with a header and data rows.")
    return path


def _compression_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}.get(suffix)


def _base_suffix(path: Path) -> str:
    """The format extension, looking through a compression suffix (``x.csv.gz`` -> ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _head(path: Path, n: int = _SAMPLE_BYTES) -> bytes:
    """The first ``n`` bytes of the (decompressed) file."""
    compression = _compression_of(path)
    try:
        if compression is None:
            with open(path, "rb") as fh:
                return fh.read(n)
        with pa.input_stream(str(path), compression=compression) as stream:
            return bytes(stream.read(n))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); check that it is a complete, readable file.") from None


def find_invalid_utf8(path: str | Path) -> tuple[int, int, bytes] | None:
    """Where a file stops being UTF-8: ``(byte offset, line number, the bad bytes)``, or ``None``.

    Reads in blocks, so it works on files larger than memory.
    """
    path = Path(path)
    compression = _compression_of(path)
    offset, line, carry = 0, 1, b""
    stream: Any = pa.input_stream(str(path), compression=compression) if compression else open(path, "rb")
    with stream:
        while True:
            chunk = stream.read(1 << 22)
            last = not chunk
            data = carry + bytes(chunk)
            if not data:
                return None
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and not last:
                    good = data[: exc.start]
                    offset += len(good)
                    line += good.count(b"\n")
                    carry = data[exc.start :]
                    continue
                return offset + exc.start, line + data[: exc.start].count(b"\n"), data[exc.start : exc.end]
            if last:
                return None
            offset += len(data)
            line += data.count(b"\n")
            carry = b""


def _utf8_error(path: Path) -> DataError | None:
    found = find_invalid_utf8(path)
    if found is None:
        return None
    offset, line, bad = found
    guess = "Latin-1 (ISO-8859-1) or Windows-1252" if bad and bad[0] >= 0x80 else "another encoding"
    return DataError(
        f"{path}, line {line}: not UTF-8 text: byte {bad[:4].hex(' ')} at byte offset {offset:,} cannot be "
        f"decoded (the file is probably {guess}); re-encode it as UTF-8, e.g. "
        f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`."
    )


def parse_year(titles: pd.Series) -> pd.Series:
    """Release year from titles that end in ``(1995)`` (or ``(1994-1998)``), as nullable ``Int64``."""
    years = titles.astype("string").str.extract(_YEAR_RE, expand=False)
    return pd.to_numeric(years, errors="coerce").astype("Int64")


# --------------------------------------------------------------------------- header sniffing
@dataclass(frozen=True)
class _Header:
    fields: list[str]
    sep: str


def _decode_sample(path: Path, sample: bytes) -> str:
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            f"{path}: the file is UTF-16 text; re-encode it as UTF-8, e.g. "
            f"`iconv -f utf-16 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        raise (_utf8_error(path) or DataError(f"{path}: not UTF-8 text; re-encode it as UTF-8.")) from None
    return text.lstrip("\ufeff")


def _sniff_sep(lines: list[str]) -> str | None:
    """The candidate delimiter that splits every sample line into the same number (>1) of fields."""
    best: tuple[int, str] | None = None
    for sep in _CANDIDATE_SEPS:
        counts = {len(next(csv.reader([ln], delimiter=sep))) for ln in lines if ln.strip()}
        if len(counts) == 1:
            n = counts.pop()
            if n > 1 and (best is None or n > best[0]):
                best = (n, sep)
    return None if best is None else best[1]


def _read_header(path: Path, sep: str | None) -> _Header:
    sample = _head(path)
    text = _decode_sample(path, sample)
    lines = text.splitlines()
    if len(sample) == _SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut short
    lines = lines[:20]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise DataError(f"{path}: holds only blank lines; give a file with a header and data rows.")
    if sep is None:
        suffix = _base_suffix(path)
        if suffix == ".csv":
            sep = ","
        elif suffix in (".tsv", ".tab"):
            sep = "\t"
        else:
            sep = _sniff_sep(lines) or ","
    fields = [f.strip() for f in next(csv.reader([lines[0]], delimiter=sep))]
    if len(fields) == 1:
        other = _sniff_sep(lines)
        if other is not None and other != sep:
            raise DataError(
                f"{path}: reading it as {describe_sep(sep)}-separated gives one column ({lines[0][:60]!r}), but "
                f"it looks like it is separated by {describe_sep(other)} — pass --sep {describe_sep(other).split()[0]} "
                f"(API: sep={other!r})."
            )
    return _Header(fields, sep)


# --------------------------------------------------------------------------- column mapping
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
    path: Path, role: str, wanted: str, fields: Sequence[str], taken: Sequence[str] = ()
) -> DataError:
    free = [f for f in fields if f not in taken] or list(fields)
    close = difflib.get_close_matches(wanted, free, n=1, cutoff=0.5)
    by_alias = [f for f in free if f.lower() in _ALIASES[role] or f.lower().startswith(role[0])]
    guess = close[0] if close else (by_alias[0] if by_alias else free[0])
    extra = ", or --rating-col none for implicit feedback" if role == "rating" else ""
    extra = ", or --timestamp-col none if it has none" if role == "timestamp" else extra
    hint = ""
    if all(_INT_RE.match(f) or re.match(r"^\s*[-+]?\d*\.\d+\s*$", f) for f in fields):
        hint = " The first line looks like data, not column names: add a header line."
    return DataError(
        f"{path}: no {role} column {wanted!r}; the file's columns are {list(fields)}. Pass the right one with "
        f"{_OPTION[role]} {guess}{extra} (API: columns=ColumnMapping({role}={guess!r})).{hint}"
    )


def _resolve_columns(
    path: Path, fields: Sequence[str], user: str, item: str, rating: str | None, timestamp: str | None
) -> dict[str, str]:
    """Map each role (user, item, rating, timestamp) to a column that exists in the file."""
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
        raise DataError(
            f"{path}: one column is mapped to two roles ({chosen}); give each role its own column."
        )
    return chosen


# --------------------------------------------------------------------------- arrow -> numpy
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
    if pa.types.is_dictionary(typ):
        text = text.astype(object)
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
            "date/time (such as 2015-03-01 or 2015-03-01T12:30:00Z); fix the value or pass --timestamp-col none."
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
            raise (_utf8_error(path) or DataError(f"{path}: column {name!r} is not text; re-encode the file as UTF-8."))
        if role == "timestamp":
            out[role] = _timestamps_to_seconds(col, path, name, first_line)
        else:
            out[role] = _chunked_to_values(col)
        del col
        pa.default_memory_pool().release_unused()
    del table
    return out


# --------------------------------------------------------------------------- CSV reading
@dataclass(frozen=True)
class _CsvSpec:
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
        return _DICT_STRING
    return pa.string()


def _read_options(spec: _CsvSpec, use_threads: bool = True) -> pacsv.ReadOptions:
    large = spec.path.stat().st_size >= _PARALLEL_FROM_BYTES or _compression_of(spec.path) is not None
    block = _LARGE_BLOCK if large else _SMALL_BLOCK
    names = None if spec.header else spec.names
    return pacsv.ReadOptions(use_threads=use_threads and large, block_size=block, column_names=names)


def _parse_options(spec: _CsvSpec, handler: Any = None) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=spec.sep,
        quote_char='"' if spec.quoting else False,
        newlines_in_values=False,
        invalid_row_handler=handler,
    )


def _locate_bad_row(spec: _CsvSpec) -> Any:
    """Re-read on one thread so pyarrow reports the physical line number of the first malformed row."""
    seen: list[Any] = []

    def handler(row: Any) -> str:
        seen.append(row)
        return "error"

    try:
        pacsv.read_csv(
            spec.path,
            read_options=_read_options(spec, use_threads=False),
            parse_options=_parse_options(spec, handler),
            convert_options=pacsv.ConvertOptions(include_columns=spec.include[:1], column_types={}),
        )
    except pa.ArrowException:
        pass
    return seen[0] if seen else None


def _parse_error(spec: _CsvSpec, exc: Exception) -> DataError:
    bad = _locate_bad_row(spec)
    if bad is None:
        msg = str(exc).splitlines()[0]
        return DataError(
            f"{spec.path}: cannot be parsed as {describe_sep(spec.sep)}-separated text ({msg}); check the "
            "delimiter (--sep) and the quoting."
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
        "delimiter or an unclosed quote?) or pass the right --sep."
    )


def _read_csv_table(spec: _CsvSpec) -> pa.Table:
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
            msg = str(exc)
            conv = _CONVERSION_RE.search(msg)
            if conv is not None:
                idx, value = int(conv.group(1)), conv.group(3)
                if "\ufffd" in value:
                    raise (_utf8_error(spec.path) or _generic(spec, msg)) from None
                name = spec.names[idx] if idx < len(spec.names) else None
                if name is None or name not in spec.roles:
                    raise _generic(spec, msg) from None
                new = _retry_type(types.get(name), spec.roles[name], value)
                if new == types.get(name):
                    raise DataError(
                        f"{spec.path}, column {spec.labels.get(name, name)!r}: value {value!r} cannot be read; "
                        "fix the value."
                    ) from None
                log.debug("re-reading column %r of %s as %s", name, spec.path, new)
                types[name] = new
                continue
            if "UTF8" in msg or "UTF-8" in msg or "utf8" in msg:
                raise (_utf8_error(spec.path) or _generic(spec, msg)) from None
            if msg.startswith("CSV parse error") or "Expected" in msg:
                raise _parse_error(spec, exc) from None
            raise _generic(spec, msg) from None
        except (OSError, pa.ArrowException) as exc:
            raise _generic(spec, str(exc)) from None
    raise _generic(spec, "the column types could not be settled")


def _generic(spec: _CsvSpec, msg: str) -> DataError:
    first = msg.splitlines()[0] if msg else "unknown error"
    return DataError(
        f"{spec.path}: cannot be read as {describe_sep(spec.sep)}-separated text ({first}); check the file, "
        "the delimiter (--sep) and the encoding (UTF-8)."
    )


def _guess_types(path: Path, sep: str, include: list[str], roles: Mapping[str, str]) -> dict[str, pa.DataType]:
    """Column types from the first rows: ``int32`` ids, ``float32`` ratings, ``int64`` timestamps."""
    sample = _head(path)
    cut = sample.rfind(b"\n")
    if cut > 0 and len(sample) == _SAMPLE_BYTES:
        sample = sample[: cut + 1]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(sample),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(include_columns=include),
        )
    except (pa.ArrowException, OSError):
        return {}  # the full read reports the problem with its line number
    types: dict[str, pa.DataType] = {}
    for name in include:
        typ = table.schema.field(name).type
        role = roles[name]
        if role == "id":
            if pa.types.is_integer(typ):
                types[name] = pa.int32()
            elif pa.types.is_string(typ) or pa.types.is_binary(typ):
                types[name] = _DICT_STRING
        elif role == "rating":
            if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_null(typ):
                types[name] = pa.float32()
            else:
                types[name] = pa.string()
        elif role == "timestamp":
            if pa.types.is_integer(typ):
                types[name] = pa.int64()
            elif pa.types.is_floating(typ):
                types[name] = pa.float64()
            elif not pa.types.is_null(typ):
                types[name] = pa.string()
    return types


# --------------------------------------------------------------------------- Parquet reading
def _is_parquet(path: Path) -> bool:
    if _compression_of(path) is not None:
        return False
    with open(path, "rb") as fh:
        return fh.read(4) == _PARQUET_MAGIC


def _open_parquet(path: Path) -> pq.ParquetFile:
    if not _is_parquet(path):
        head = _head(path, 16)
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


def _read_parquet_table(path: Path, columns: list[str]) -> pa.Table:
    pf = _open_parquet(path)
    try:
        return pf.read(columns=columns)
    except (pa.ArrowException, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise DataError(f"{path}: the Parquet data cannot be read ({first}); export the file again.") from None


# --------------------------------------------------------------------------- public API
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
    sep = normalize_sep(sep)
    label = name or path.name.split(".")[0] or path.name
    suffix = _base_suffix(path)
    if suffix in (".parquet", ".pq") or _is_parquet(path):
        pf = _open_parquet(path)
        fields = list(pf.schema_arrow.names)
        del pf
        chosen = _resolve_columns(path, fields, user_col, item_col, rating_col, timestamp_col)
        table = _read_parquet_table(path, list(dict.fromkeys(chosen.values())))
        first_line: int | None = None
    else:
        header = _read_header(path, sep)
        chosen = _resolve_columns(path, header.fields, user_col, item_col, rating_col, timestamp_col)
        include = list(chosen.values())
        roles = {chosen[r]: ("id" if r in ("user", "item") else r) for r in chosen}
        spec = _CsvSpec(
            path=path,
            sep=header.sep,
            header=True,
            names=header.fields,
            include=include,
            types=_guess_types(path, header.sep, include, roles),
            roles=roles,
            labels={c: c for c in include},
        )
        table = _read_csv_table(spec)
        first_line = 2
    meta = _metadata_arg(items, chosen["item"])
    owner = [table]
    del table
    return _build_from_table(
        owner,
        chosen,
        path=path,
        first_line=first_line,
        rating_scale=rating_scale,
        duplicates=duplicates,
        item_metadata=meta,
        name=label,
    )


def _metadata_arg(items: str | Path | pd.DataFrame | None, item_col: str) -> pd.DataFrame | None:
    if items is None or isinstance(items, pd.DataFrame):
        return items
    return read_item_metadata(items, id_col=None, preferred_id=item_col)


def _build_from_table(
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
    if _base_suffix(path) in (".parquet", ".pq") or _is_parquet(path):
        table = _read_parquet_table(path, list(_open_parquet(path).schema_arrow.names))
    else:
        header = _read_header(path, sep)
        spec = _CsvSpec(
            path=path,
            sep=header.sep,
            header=True,
            names=header.fields,
            include=header.fields,
            types={},
            roles={},
            labels={},
        )
        table = _read_csv_table(spec)
    for field in table.schema:
        if field.type in (pa.binary(), pa.large_binary()):
            raise (_utf8_error(path) or DataError(f"{path}: column {field.name!r} is not text; re-encode it as UTF-8."))
    frame = table.to_pandas()
    fields = list(frame.columns)
    if id_col is None:
        candidates = [c for c in (preferred_id, "item", "item_id", "itemId", "movieId", "id") if c]
        lowered = {f.lower(): f for f in fields}
        id_col = next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)
        if id_col is None:
            raise DataError(
                f"{path}: no item id column (looked for {candidates}); the file's columns are {fields}. "
                f"Rename the id column to 'item' (API: read_item_metadata(..., id_col=NAME))."
            )
    elif id_col not in fields:
        raise DataError(
            f"{path}: no item id column {id_col!r}; the file's columns are {fields}; pass one of them as id_col."
        )
    for wanted, default in ((title_col, "title"), (genres_col, "genres")):
        if wanted not in fields and wanted != default:
            raise DataError(
                f"{path}: no column {wanted!r}; the file's columns are {fields}; pass one of them or leave it out."
            )
    frame = frame.rename(columns={title_col: "title", genres_col: "genres"}).set_index(id_col)
    frame.index.name = "item"
    if "title" in frame.columns and "year" not in frame.columns:
        frame["year"] = parse_year(frame["title"])
    return frame
