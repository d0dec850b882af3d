"""Bad input refused at its root: each class of bad value is checked once, where every loader passes
(``build_interactions`` and the pyarrow engine), so CSV, Parquet and in-memory data all get the
same one-line DataError naming the file, the line (or row), the value and the fix."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embrec.data.build import MAX_SECONDS, MIN_SECONDS, build_interactions
from embrec.data.interactions import Interactions
from embrec.data.load import ColumnMapping, load_data
from embrec.data.quoting import MAX_QUOTED, clipped, quoted, quoted_list
from embrec.data.splits import make_split
from embrec.errors import DataError, SplitError, UnknownIdError


def _csv(tmp_path: Path, text: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _parquet(tmp_path: Path, table: pa.Table, name: str = "mine.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def _refused(*needles: str, **load: object) -> str:
    """The message of the DataError ``load_data(**load)`` raises, checked to be one line holding every needle."""
    with pytest.raises(DataError) as info:
        load_data(**load)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


# --------------------------------------------------------------------------- infinite and float32-overflowing ratings
@pytest.mark.parametrize(
    ("value", "shown", "what"),
    [
        ("inf", "'inf'", "infinite"),
        ("-Infinity", "'-Infinity'", "infinite"),
        ("1e39", "'1e39'", "too large"),
        ("-1e39", "'-1e39'", "too large"),
        ("1e400", "'1e400'", "infinite"),
    ],
)
def test_infinite_or_overflowing_ratings_are_refused_without_a_scale(
    tmp_path: Path, value: str, shown: str, what: str
) -> None:
    path = _csv(tmp_path, f"user,item,rating\n1,1,4\n1,2,{value}\n")
    _refused(f"mine.csv, line 3, column 'rating': rating {shown} is {what}", "finite number", data=path)


def test_infinite_ratings_in_parquet_and_in_memory(tmp_path: Path) -> None:
    path = _parquet(tmp_path, pa.table({"user": [1, 2], "item": [1, 1], "rating": [2.0, 1e39]}))
    _refused("mine.parquet, row 2, column 'rating': rating 1e+39 is too large", data=path)
    path = _parquet(tmp_path, pa.table({"user": [1, 2], "item": [1, 1], "rating": pa.array([np.inf, 2], pa.float32())}))
    _refused("row 1, column 'rating': rating inf is infinite", data=path)
    with pytest.raises(DataError, match=r"row 2, column 'rating': rating '-inf' is infinite"):
        build_interactions([1, 2], [1, 1], ["4", "-inf"])
    with pytest.raises(DataError, match=r"rating 1e\+39 is too large"):
        build_interactions([1, 2], [1, 1], np.array([4.0, 1e39]))


def test_the_largest_float32_rating_is_still_a_rating() -> None:
    top = float(np.finfo(np.float32).max)
    data = build_interactions([1, 2], [1, 1], [-top, top])
    assert np.isfinite(data.ratings).all()  # type: ignore[arg-type]


def test_a_rating_scale_that_is_not_finite_is_refused() -> None:
    with pytest.raises(DataError, match=r"rating_scale=\(1, inf\) is not finite; give rating_scale=\(LOW, HIGH\)"):
        build_interactions([1], [1], [3.0], rating_scale=(1, float("inf")))
    with pytest.raises(DataError, match=r"rating_scale=\(5, 1\) is empty"):
        build_interactions([1], [1], [3.0], rating_scale=(5, 1))


# --------------------------------------------------------------------------- timestamps out of range
RANGE = "from -62,135,596,800 to 253,402,300,799 Unix seconds (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"


@pytest.mark.parametrize(
    ("value", "shown", "hint"),
    [
        (str(MAX_SECONDS + 1), str(MAX_SECONDS + 1), ""),
        (str(MIN_SECONDS - 1), str(MIN_SECONDS - 1), ""),
        ("1700000000000", "1700000000000", "it looks like milliseconds: divide by 1,000"),
        ("1700000000000000000", "1700000000000000000", "it looks like nanoseconds"),
        ("100000000000000000000", "'100000000000000000000'", ""),  # beyond int64: read as text, shown as written
        ("1e30", "'1e30'", ""),
        ("inf", "'inf'", ""),
    ],
)
def test_timestamps_out_of_range_are_refused_with_the_range(tmp_path: Path, value: str, shown: str, hint: str) -> None:
    path = _csv(tmp_path, f"user,item,rating,timestamp\n1,1,4,1000\n1,2,5,{value}\n")
    message = _refused(f"mine.csv, line 3, column 'timestamp': timestamp {shown} is out of range", RANGE, data=path)
    assert hint in message


def test_iso_timestamps_far_back_are_read_exactly_and_offsets_past_the_range_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, "user,item,rating,timestamp\n1,1,4,1500-01-01\n1,2,5,9999-12-31T23:59:59Z\n")
    data = load_data(path)
    expected = [int(dt.datetime(1500, 1, 1, tzinfo=dt.UTC).timestamp()), MAX_SECONDS]
    assert data.timestamps is not None and data.timestamps.tolist() == expected
    path = _csv(tmp_path, "user,item,rating,timestamp\n1,1,4,2015-01-01\n1,2,5,0001-01-01T00:00:00+01:00\n")
    _refused("line 3, column 'timestamp': timestamp '0001-01-01T00:00:00+01:00' is out of range", RANGE, data=path)


def test_timestamps_out_of_range_in_parquet_and_in_memory(tmp_path: Path) -> None:
    big = pa.table(
        {"user": [1, 2], "item": [1, 1], "rating": [3.0, 4.0], "timestamp": pa.array([5, 2**62], pa.int64())}
    )
    _refused(
        "mine.parquet, row 2, column 'timestamp': timestamp 4611686018427387904 is out of range",
        data=_parquet(tmp_path, big),
    )
    unsigned = big.set_column(3, "timestamp", pa.array([5, 2**64 - 1], pa.uint64()))
    _refused(
        "row 2, column 'timestamp': timestamp 18446744073709551615 is out of range", data=_parquet(tmp_path, unsigned)
    )
    with pytest.raises(DataError, match=r"row 1, column 'timestamp': timestamp 1e\+30 is out of range"):
        build_interactions([1], [1], [3.0], [1e30])
    old = np.array(["1500-01-01", "2000-01-01"], dtype="datetime64[s]")
    data = build_interactions([1, 2], [1, 1], [3.0, 4.0], old)  # datetimes of any unit become Unix seconds
    assert data.timestamps is not None and data.timestamps.tolist() == [-14_831_769_600, 946_684_800]
    with pytest.raises(DataError, match="out of range"):
        build_interactions([1], [1], [3.0], np.array(["10000-01-01"], dtype="datetime64[s]"))


# --------------------------------------------------------------------------- ids too large for int64: text ids
def test_ids_too_large_for_int64_are_read_as_text_everywhere(tmp_path: Path) -> None:
    huge = 10**30
    csv = load_data(_csv(tmp_path, f"user,item,rating\n{huge},1,4\n7,1,3\n"))
    assert csv.user_ids.tolist() == [str(huge), "7"]  # the whole column is text, each id as written
    late = "user,item,rating\n" + "".join(f"{u},1,4\n" for u in range(5000)) + f"{huge},2,3\n"  # past the sample
    assert str(huge) in load_data(_csv(tmp_path, late, "late.csv")).user_ids.tolist()
    table = pa.table({"user": pa.array([2**64 - 1, 7], pa.uint64()), "item": [1, 1], "rating": [4.0, 3.0]})
    assert load_data(_parquet(tmp_path, table)).user_ids.tolist() == ["18446744073709551615", "7"]  # sorted as text
    memory = build_interactions([huge, 7], [1, 1], [4.0, 3.0])
    assert memory.user_ids.tolist() == ["1000000000000000000000000000000", "7"]
    # looked up by the int or by its text, as a command line gives it
    assert memory.user_index(huge).tolist() == [0] and memory.user_index(7).tolist() == [1]
    assert memory.user_index(str(huge)).tolist() == [0]


def test_ids_that_fit_stay_integers_and_mixed_ids_become_text(tmp_path: Path) -> None:
    assert build_interactions([2**62, 1], [1, 1]).user_ids.dtype.kind == "i"
    assert build_interactions(np.array([3.0, 4.0]), [1, 1]).user_ids.tolist() == [3, 4]  # whole floats: integers
    assert build_interactions([1, "a"], [1, 1]).user_ids.tolist() == ["1", "a"]
    text = load_data(_csv(tmp_path, "user,item\n007,1\n1.5,1\n"))
    assert text.user_ids.tolist() == ["007", "1.5"]  # a text file's ids as written


def test_ids_of_no_usable_kind_are_refused() -> None:
    with pytest.raises(DataError, match=r"row 2, column 'user': user id 1.5 is not a whole number"):
        build_interactions(np.array([1.0, 1.5]), [1, 1])
    with pytest.raises(DataError, match=r"row 1, column 'item': item id True is a boolean"):
        build_interactions([1, 2], [True, False])
    with pytest.raises(DataError, match=r"row 2, column 'user': user id \[3\] is of type list"):
        build_interactions([1, [3]], [1, 1])


def test_a_huge_id_on_a_lookup_is_unknown_not_an_overflow(tiny: Interactions) -> None:
    with pytest.raises(UnknownIdError, match="unknown user id '1000000000000000000000000000000'"):
        tiny.user_index(str(10**30))
    with pytest.raises(UnknownIdError, match="unknown user id 1000000000000000000000000000000"):
        tiny.user_index(10**30)


# --------------------------------------------------------------------------- Parquet columns of unusable types
@pytest.mark.parametrize(
    ("column", "array", "typ"),
    [
        ("user", pa.array([[1], [2]]), "list<element: int64>"),
        ("item", pa.array([{"a": 1}, {"a": 2}]), "struct<a: int64>"),
        ("user", pa.array([b"x", b"y"]), "binary"),
        ("item", pa.array([dt.date(2020, 1, 1), dt.date(2020, 1, 2)]), "date32[day]"),
        ("rating", pa.array([[1.0], [2.0]]), "list<element: double>"),
        ("timestamp", pa.array([1, 2], pa.duration("s")), "duration[s]"),
    ],
)
def test_parquet_columns_of_unusable_types_name_column_and_type(
    tmp_path: Path, column: str, array: pa.Array, typ: str
) -> None:
    columns = {
        "user": pa.array([1, 2]),
        "item": pa.array([1, 1]),
        "rating": pa.array([3.0, 4.0]),
        "timestamp": pa.array([1, 2]),
    }
    columns[column] = array
    path = _parquet(tmp_path, pa.table(columns))
    _refused(f"mine.parquet: column '{column}' has type {typ}, but", "must be", f"another {column} column", data=path)


# --------------------------------------------------------------------------- messages quote at most ~200 characters
def test_quoting_helpers_cut_long_values() -> None:
    assert quoted("abc") == "'abc'" and quoted(4.5) == "4.5" and quoted(np.float64(1.5)) == "1.5"
    long = quoted("\0" * 1_000_000)
    assert len(long) < MAX_QUOTED + 40 and long.endswith("... (1,000,000 characters)") and long.startswith("'\\x00")
    assert quoted(b"x" * 500).endswith("... (500 bytes)")
    names = quoted_list([f"column{i}" for i in range(5000)])
    assert len(names) < MAX_QUOTED + 30 and names.endswith(", ...] (5,000 in all)")
    assert quoted_list(["a", "b"]) == "['a', 'b']"
    assert clipped("x" * 1000).endswith("...") and len(clipped("x" * 1000)) == MAX_QUOTED + 3
    assert clipped("a\0b\nc") == "a\\x00b\\nc"


def _longest_quote(message: str) -> int:
    return max((len(m) for m in re.findall(r"'[^']*'", message)), default=0)


def test_a_file_of_nul_bytes_gives_a_short_message(tmp_path: Path) -> None:
    path = tmp_path / "zeros.csv"
    with open(path, "wb") as fh:
        fh.truncate(8 << 20)  # 8 MiB of NUL bytes, as a 2 GB one begins
    message = _refused("zeros.csv: holds NUL bytes (the first at byte offset 0, line 1)", "binary data", data=path)
    assert len(message) < 400


@pytest.mark.parametrize(
    "text",
    [
        "user,item,rating\n1,2," + "x" * 100_000 + "\n",  # a long value
        "user,item,rating\n1,2,3\n" + "9," * 50_000 + "\n",  # a long malformed line
        ",".join(f"c{i}" for i in range(20_000)) + "\n1\n",  # a long header
        "user,item,rating,timestamp\n1,2,3," + "y" * 50_000 + "\n",  # a long timestamp
    ],
)
def test_no_message_quotes_more_than_about_200_characters(tmp_path: Path, text: str) -> None:
    path = _csv(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_data(path)
    message = str(info.value)
    assert len(message) < 4 * MAX_QUOTED + 400, len(message)
    assert _longest_quote(message) <= MAX_QUOTED + 2, message
    assert "..." in message


# --------------------------------------------------------------------------- your own file called ratings.csv
def test_your_own_ratings_csv_loads_with_the_column_options(tmp_path: Path) -> None:
    own = _csv(tmp_path / "mine", "user,item,rating\nu1,i1,4\nu2,i1,5\n", "ratings.csv")
    data = load_data(own)  # a ratings.csv without MovieLens's columns is read as your own file
    assert data.name == "ratings" and data.user_ids.tolist() == ["u1", "u2"]
    other = _csv(tmp_path / "other", "uid,sku,stars\n1,2,3\n", "ratings.csv")
    # each hint works: the folder's says to pass the file, the file's names the columns to map
    _refused("not a MovieLens ratings.csv", "['uid', 'sku', 'stars']", f"data={str(other)!r}", data=other.parent)
    _refused("no user column 'user'", "user_col='uid'", "ColumnMapping(user='uid')", data=other)
    mapped = load_data(other, columns=ColumnMapping(user="uid", item="sku", rating="stars"))
    assert mapped.n_ratings == 1 and mapped.ratings is not None and mapped.ratings.tolist() == [3.0]


def test_movielens_ratings_csv_is_still_read_as_movielens(tmp_path: Path) -> None:
    folder = tmp_path / "ml-latest-small"
    path = _csv(folder, "userId,movieId,rating,timestamp\n1,10,4.5,964982703\n", "ratings.csv")
    assert load_data(path).name == "ml-latest-small"


# --------------------------------------------------------------------------- boolean ratings
def test_boolean_ratings_are_refused_everywhere(tmp_path: Path) -> None:
    _refused(
        "line 2, column 'rating': rating 'true' is a boolean",
        "implicit feedback",
        data=_csv(tmp_path, "user,item,rating\n1,1,true\n1,2,false\n"),
    )
    _refused(
        "line 3, column 'rating': rating 'TRUE' is a boolean",
        data=_csv(tmp_path, "user,item,rating\n1,1,4\n1,2,TRUE\n"),
    )
    table = pa.table({"user": [1, 2], "item": [1, 1], "rating": [True, False]})
    _refused("row 1, column 'rating': rating True is a boolean", data=_parquet(tmp_path, table))
    with pytest.raises(DataError, match="rating True is a boolean"):
        build_interactions([1, 2], [1, 1], np.array([True, False]))
    with pytest.raises(DataError, match="row 2, column 'rating': rating False is a boolean"):
        build_interactions([1, 2], [1, 1], [4.0, False])


# --------------------------------------------------------------------------- a test count no user can give
def test_a_test_count_no_user_can_give_is_refused() -> None:
    data = build_interactions(["a", "b", "b", "c", "c", "c"], [1, 1, 2, 1, 2, 3], timestamps=[5, 1, 2, 3, 2, 1])
    for method in ("user", "temporal"):
        with pytest.raises(SplitError) as info:
            make_split(data, method, test_count=10**12)
        message = str(info.value)
        assert "test_count=1000000000000" in message and "largest possible is test_count=2" in message
        assert make_split(data, method, test_count=2).test.n_ratings == 3  # the largest works


# --------------------------------------------------------------------------- item metadata indexed by item id
def test_item_metadata_is_indexed_by_item_id() -> None:
    meta = pd.DataFrame({"title": ["Ten", "Twenty", "Unrated"]}, index=[10, 20, 99])
    data = build_interactions([1, 1, 2], [20, 10, 20], [4.0, 3.0, 5.0], item_metadata=meta)
    assert data.item_metadata is not None
    assert data.item_metadata.index.tolist() == data.item_ids.tolist() == [10, 20]
    assert data.item_metadata.loc[20, "title"] == "Twenty" and data.item_metadata.index.name == "item"
    assert data.titles([0, 1]) == ["Ten", "Twenty"]  # row i is item index i
    assert data.take(np.array([0])).item_metadata.loc[10, "title"] == "Ten"


def test_item_metadata_given_directly_is_indexed_by_item_id_too() -> None:
    ids = np.array([0], np.int32)
    by_position = pd.DataFrame({"title": ["A", "B"]})  # 0..n-1, one row per item index
    data = Interactions(ids, ids, None, None, np.array([1]), np.array([7, 9]), item_metadata=by_position)
    assert data.item_metadata is not None and data.item_metadata.loc[9, "title"] == "B"
    by_id = pd.DataFrame({"title": ["B", "A"]}, index=[9, 7])  # the item ids, in another order
    data = Interactions(ids, ids, None, None, np.array([1]), np.array([7, 9]), item_metadata=by_id)
    assert data.item_metadata is not None and data.item_metadata["title"].tolist() == ["A", "B"]


# --------------------------------------------------------------------------- messages name parameters, not flags
def test_messages_name_parameters_never_command_line_flags(tmp_path: Path) -> None:
    path = _csv(tmp_path, "user,item,rating\n1,1,3\n1,2,11\n")
    message = _refused("rating_scale=(LOW, HIGH)", data=path, rating_scale=(1, 10))
    assert "--" not in message
    data = build_interactions(["a", "a", "b"], [1, 2, 1], timestamps=[1, 2, 3])
    for kwargs in ({"test_count": 0}, {"test_fraction": 2.0}, {"seed": -1}, {"test_count": 99}):
        with pytest.raises(SplitError) as info:
            make_split(data, "user", **kwargs)  # type: ignore[arg-type]
        name = next(iter(kwargs))
        assert f"{name}=" in str(info.value) and "--" not in str(info.value)
