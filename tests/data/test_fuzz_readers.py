"""Fuzzing the readers: whatever a CSV or Parquet file holds, ``load_data`` returns a valid
Interactions or raises DataError, never another exception.

The generators: random bytes (after a few telling prefixes), small CSV texts built from odd
values (infinities, huge numbers, booleans, dates out of range, quotes, long cells, stray
delimiters), Parquet tables whose columns have odd Arrow types (lists, structs, binary, dates,
durations, unsigned 64-bit ints, half floats, dictionaries, nulls), a good Parquet file cut
short or with bytes changed, and item metadata files of both kinds. Each example is a file of
a few rows, so the whole module runs in seconds even on a slow two-core machine. Any warning
other than the duplicate-rows one fails the test (the suite turns warnings into errors).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embrec.data.build import MAX_SECONDS, MIN_SECONDS, DuplicateRatingsWarning
from embrec.data.interactions import Interactions
from embrec.data.load import ColumnMapping, load_data
from embrec.data.quoting import MAX_QUOTED
from embrec.data.summary import summarize
from embrec.errors import DataError

FUZZ = settings(
    max_examples=100,
    deadline=dt.timedelta(seconds=10),  # generous: a slow machine, and pyarrow's first call warms up
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# the longest message a bad file may give: a path, a few quoted values of about MAX_QUOTED each, the fix
MAX_MESSAGE = 6 * MAX_QUOTED + 600


def assert_valid(data: Interactions) -> None:
    """Everything an Interactions promises, and a summary that is valid JSON."""
    n = data.n_ratings
    assert n >= 1 and len(data.items) == n
    assert data.users.dtype == np.int32 and data.items.dtype == np.int32
    assert data.users.min() >= 0 and data.users.max() < data.n_users
    assert data.items.min() >= 0 and data.items.max() < data.n_items
    assert len(set(data.user_ids.tolist())) == data.n_users
    assert len(set(data.item_ids.tolist())) == data.n_items
    for ids in (data.user_ids, data.item_ids):  # integers, or text: one kind per vocabulary
        assert ids.dtype.kind in "iu" or all(isinstance(x, str) for x in ids)
    if data.ratings is not None:
        assert data.ratings.dtype == np.float32 and len(data.ratings) == n
        assert np.isfinite(data.ratings).all()
        assert data.rating_scale is not None
        assert data.rating_scale[0] <= data.ratings.min() and data.ratings.max() <= data.rating_scale[1]
    if data.timestamps is not None:
        assert data.timestamps.dtype == np.int64 and len(data.timestamps) == n
        assert data.timestamps.min() >= MIN_SECONDS and data.timestamps.max() <= MAX_SECONDS
    json.dumps(summarize(data), allow_nan=False)


def load_or_refuse(path: Path, **kwargs: Any) -> None:
    """``load_data`` gives a valid Interactions or a short, one-line DataError; nothing else escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateRatingsWarning)  # merged duplicates are fine; any other warning fails
        try:
            data = load_data(path, **kwargs)
        except DataError as exc:
            message = str(exc)
            assert message and "\n" not in message and len(message) <= MAX_MESSAGE, message[:2000]
            return
    assert_valid(data)


# --------------------------------------------------------------------------- random bytes
PREFIXES = [b"", b"user,item,rating\n", b"user,item,rating,timestamp\n1,2,", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe"]


@FUZZ
@given(
    prefix=st.sampled_from(PREFIXES),
    blob=st.binary(min_size=1, max_size=400),
    suffix=st.sampled_from([".csv", ".tsv", ".txt", ".parquet", ".csv.gz"]),
)
def test_random_bytes(tmp_path: Path, prefix: bytes, blob: bytes, suffix: str) -> None:
    path = tmp_path / f"blob{suffix}"
    path.write_bytes(prefix + blob)
    load_or_refuse(path)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


GOOD_PARQUET = _parquet_bytes(
    pa.table({"user": [1, 2, 2], "item": ["a", "b", "a"], "rating": [4.0, 3.5, 5.0], "timestamp": [1, 2, 3]})
)


@FUZZ
@given(
    cut=st.one_of(st.just(len(GOOD_PARQUET)), st.integers(0, len(GOOD_PARQUET))),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD_PARQUET) - 1), st.integers(1, 255)), max_size=4),
)
def test_damaged_parquet_files(tmp_path: Path, cut: int, flips: list[tuple[int, int]]) -> None:
    """A good Parquet file cut short or with bytes changed: refused (or, when the damage misses
    every byte that matters, still loaded), never a pyarrow exception."""
    data = bytearray(GOOD_PARQUET)
    for at, mask in flips:
        data[at] ^= mask
    path = tmp_path / "damaged.parquet"
    path.write_bytes(bytes(data[: max(cut, 1)]))
    load_or_refuse(path)


# --------------------------------------------------------------------------- small CSV texts
ODD_VALUES = [
    "1",
    "2",
    "3",
    "-1",
    "0",
    "4.5",
    "1e39",
    "-1e39",
    "1e400",
    "inf",
    "-Infinity",
    "nan",
    "NaN",
    "",
    " ",
    "true",
    "False",
    "10" + "0" * 30,
    str(2**63),
    str(2**64),
    "-" + str(2**63 + 1),
    "1.0",
    "007",
    "2015-03-01",
    "2015-03-01T12:30:00Z",
    "1500-01-01",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "10000-01-01",
    "300000000000",
    "1e20",
    '"a,b"',
    '"unclosed',
    "x" * 300,
    "é",
    "\u2603",
    "\\N",
    "a;b",
    "a\tb",
    "|",
]
HEADER_NAMES = ["user", "item", "rating", "timestamp", "userId", "movieId", "score", "x", "user"]


@st.composite
def csv_texts(draw: st.DrawFn) -> tuple[str, str | None]:
    """A header that mostly names the usual columns, and a few rows of odd values (now and then one
    field too many or too few)."""
    sep = draw(st.sampled_from([",", ",", "\t", ";", "|"]))
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=1, max_size=5))
    else:
        extra = draw(st.lists(st.sampled_from(["rating", "timestamp", "x"]), unique=True, max_size=3))
        header = draw(st.permutations(["user", "item", *extra]))
    width = len(header)
    row = st.lists(st.sampled_from(ODD_VALUES), min_size=width, max_size=width)
    ragged = st.lists(st.sampled_from(ODD_VALUES), min_size=max(1, width - 1), max_size=width + 1)
    rows = draw(st.lists(st.one_of(row, row, row, ragged), min_size=0, max_size=6))
    lines = [sep.join(header), *(sep.join(r) for r in rows)]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    ending = draw(st.sampled_from([newline, ""]))
    given_sep = draw(st.sampled_from([None, None, sep]))
    return newline.join(lines) + ending, given_sep


@FUZZ
@given(text_and_sep=csv_texts(), implicit=st.booleans(), name=st.sampled_from(["mine.csv", "mine.tsv", "mine.txt"]))
def test_small_csv_texts(tmp_path: Path, text_and_sep: tuple[str, str | None], implicit: bool, name: str) -> None:
    text, sep = text_and_sep
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    columns = ColumnMapping(rating=None) if implicit else None
    load_or_refuse(path, sep=sep, columns=columns)


# --------------------------------------------------------------------------- Parquet tables of odd types
def _values(draw: st.DrawFn, n: int, elements: st.SearchStrategy[Any]) -> list[Any]:
    """``n`` values, with missing ones (None) in a quarter of the columns."""
    with_gaps = draw(st.integers(0, 3)) == 0
    return draw(st.lists(st.one_of(st.none(), elements) if with_gaps else elements, min_size=n, max_size=n))


KINDS = [
    "int8",
    "int64",
    "uint64",
    "float16",
    "float32",
    "float64",
    "bool",
    "string",
    "large_string",
    "dictionary",
    "binary",
    "list",
    "struct",
    "date32",
    "timestamp_ns",
    "timestamp_s_tz",
    "duration",
    "time32",
    "decimal",
    "null",
]
# the type a column of each role usually has: drawn half of the time, so that one odd column at a
# time meets otherwise ordinary data
USUAL = {"user": "int64", "item": "string", "rating": "float32", "timestamp": "int64", "other": "string"}


@st.composite
def odd_columns(draw: st.DrawFn, n: int, role: str) -> pa.Array:
    kind = USUAL[role] if draw(st.booleans()) else draw(st.sampled_from(KINDS))
    small = draw(st.booleans())  # small values, as ids and ratings are, or anything the type holds
    if kind == "int8":
        return pa.array(_values(draw, n, st.integers(-128, 127)), pa.int8())
    if kind == "int64":
        ints = st.integers(1, 5) if small else st.integers(-(2**63), 2**63 - 1)
        return pa.array(_values(draw, n, ints), pa.int64())
    if kind == "uint64":
        return pa.array(_values(draw, n, st.integers(0, 5) if small else st.integers(0, 2**64 - 1)), pa.uint64())
    if kind in ("float16", "float32", "float64"):
        floats = st.sampled_from([0.5, 1.0, 3.0, 5.0]) if small else st.floats(allow_nan=True, allow_infinity=True)
        values = _values(draw, n, floats)
        if kind == "float16":
            with np.errstate(over="ignore"):  # large floats become infinities, as a float16 column would hold
                return pa.array(np.array([np.nan if v is None else v for v in values], dtype=np.float16))
        return pa.array(values, pa.float32() if kind == "float32" else pa.float64(), from_pandas=False)
    if kind == "bool":
        return pa.array(_values(draw, n, st.booleans()), pa.bool_())
    if kind in ("string", "large_string", "dictionary"):
        text = (
            st.sampled_from(["a", "b", "c"]) if small else st.one_of(st.sampled_from(ODD_VALUES), st.text(max_size=8))
        )
        arr = pa.array(_values(draw, n, text), pa.large_string() if kind == "large_string" else pa.string())
        return arr.dictionary_encode() if kind == "dictionary" else arr
    if kind == "binary":
        return pa.array(_values(draw, n, st.binary(max_size=6)), pa.binary())
    if kind == "list":
        return pa.array(_values(draw, n, st.lists(st.integers(0, 9), max_size=3)), pa.list_(pa.int64()))
    if kind == "struct":
        return pa.array(_values(draw, n, st.fixed_dictionaries({"a": st.integers(0, 9)})))
    if kind == "date32":
        return pa.array(_values(draw, n, st.dates()), pa.date32())
    if kind == "timestamp_ns":
        return pa.array(_values(draw, n, st.integers(-(2**62), 2**62)), pa.timestamp("ns"))
    if kind == "timestamp_s_tz":
        return pa.array(_values(draw, n, st.integers(-(10**13), 10**13)), pa.timestamp("s", tz="Europe/Paris"))
    if kind == "duration":
        return pa.array(_values(draw, n, st.integers(0, 10**6)), pa.duration("s"))
    if kind == "time32":
        return pa.array(_values(draw, n, st.integers(0, 86_399)), pa.time32("s"))
    if kind == "decimal":
        amounts = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
        return pa.array(_values(draw, n, amounts), pa.decimal128(7, 2))
    return pa.nulls(n)


@st.composite
def parquet_tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 6))
    if draw(st.integers(0, 9)) == 0:
        names = draw(st.lists(st.sampled_from(list(USUAL)), min_size=1, max_size=5, unique=True))
    else:
        names = ["user", "item", *draw(st.lists(st.sampled_from(["rating", "timestamp", "other"]), unique=True))]
    return pa.table({name: draw(odd_columns(n, name)) for name in names})


@FUZZ
@given(table=parquet_tables())
def test_parquet_tables_of_odd_types(tmp_path: Path, table: pa.Table) -> None:
    path = tmp_path / "mine.parquet"
    pq.write_table(table, path)
    load_or_refuse(path)


# --------------------------------------------------------------------------- item metadata files


@st.composite
def metadata_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """An item metadata file: CSV text (the ratings generator's, with a title column) or a Parquet table."""
    if draw(st.booleans()):
        text, _sep = draw(csv_texts())
        return ".csv", text.replace("user", "title", 1).encode("utf-8")
    n = draw(st.integers(0, 5))
    names = ["item", *draw(st.lists(st.sampled_from(["title", "genres", "year", "other"]), unique=True))]
    columns = {}
    for name in names:
        role = "item" if name == "item" else "other"
        column = draw(odd_columns(n, role))
        usual = {"item": pa.string(), "title": pa.string(), "genres": pa.string()}.get(name)
        columns[name] = column if usual is None or draw(st.booleans()) else pa.array([f"{name}{i}" for i in range(n)])
    return ".parquet", _parquet_bytes(pa.table(columns))


@FUZZ
@given(items=metadata_files())
def test_item_metadata_files(tmp_path: Path, items: tuple[str, bytes]) -> None:
    """``items=`` with odd ids and columns: metadata indexed by item id, or a DataError."""
    ratings = tmp_path / "ratings_mine.csv"
    ratings.write_text(f"user,item,rating\n1,a,4\n2,{10**30},3\n2,item1,5\n")
    suffix, blob = items
    path = tmp_path / f"items{suffix}"
    path.write_bytes(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DuplicateRatingsWarning)
        try:
            data = load_data(ratings, items=path)
        except DataError as exc:
            assert "\n" not in str(exc) and len(str(exc)) <= MAX_MESSAGE
            return
    assert_valid(data)
    assert data.item_metadata is not None and data.item_metadata.index.tolist() == data.item_ids.tolist()


# --------------------------------------------------------------------------- the checks above can fail
def _one_row(ratings: np.ndarray | None, scale: tuple[float, float] | None) -> Interactions:
    ids = np.array([0], np.int32)
    return Interactions(ids, ids, ratings, None, np.array([1]), np.array([2]), rating_scale=scale)


def test_assert_valid_notices_broken_data() -> None:
    assert_valid(_one_row(np.array([4.0], np.float32), (1.0, 5.0)))
    for broken in (
        _one_row(np.array([math.inf], np.float32), (1.0, 5.0)),  # an infinite rating
        _one_row(np.array([4.0], np.float32), None),  # ratings without a scale
        _one_row(np.array([9.0], np.float32), (1.0, 5.0)),  # outside its scale
    ):
        with pytest.raises(AssertionError):
            assert_valid(broken)
