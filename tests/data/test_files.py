"""Your own ratings files: CSV/TSV/Parquet, column mapping, metadata, timestamps, and every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embrec.data.build import DuplicateRatingsWarning
from embrec.data.files import load_ratings_file, read_item_metadata
from embrec.data.sniff import find_invalid_utf8, normalize_sep
from embrec.errors import DataError


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --------------------------------------------------------------------------- good input
def test_csv_with_mapping_and_string_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "uid,sku,stars,when\nalice,A1,4,100\nbob,A1,2.5,200\nalice,B2,5,300\n")
    data = load_ratings_file(path, user_col="uid", item_col="sku", rating_col="stars", timestamp_col="when")
    assert data.name == "r"
    assert data.user_ids.tolist() == ["alice", "bob"]
    assert data.item_ids.tolist() == ["A1", "B2"]
    frame = data.to_frame()
    assert frame.values.tolist() == [["alice", "A1", 4.0, 100], ["bob", "A1", 2.5, 200], ["alice", "B2", 5.0, 300]]
    assert data.rating_scale == (2.5, 5.0)


def test_tsv_by_extension_and_sniffed_txt(tmp_path: Path) -> None:
    tsv = _write(tmp_path / "r.tsv", "user\titem\trating\n1\t2\t3\n")
    assert load_ratings_file(tsv).n_ratings == 1
    txt = _write(tmp_path / "r.txt", "user|item|rating\n1|2|3\n2|2|4\n")
    assert load_ratings_file(txt).n_ratings == 2
    semi = _write(tmp_path / "semi.csv", "user;item;rating\n1;2;3\n")
    assert load_ratings_file(semi, sep=";").n_ratings == 1
    assert normalize_sep("\\t") == "\t" and normalize_sep("tab") == "\t"


def test_implicit_without_rating_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "clicks.csv", "user,item\n1,10\n1,11\n2,10\n")
    data = load_ratings_file(path)
    assert data.is_implicit and data.rating_scale is None and data.timestamps is None
    explicit_none = _write(tmp_path / "clicks2.csv", "user,item,score\n1,10,3\n")
    assert load_ratings_file(explicit_none, rating_col=None).is_implicit


def test_movielens_style_names_found_with_default_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path / "copy.csv", "userId,movieId,rating,timestamp\n1,10,4.5,964982703\n")
    data = load_ratings_file(path)
    assert data.to_frame().values.tolist() == [[1, 10, 4.5, 964982703]]


def test_iso_timestamps(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "iso.csv",
        "user,item,rating,timestamp\n1,2,3,2020-01-01\n1,3,4,2020-01-02T10:00:00Z\n2,3,4,2020-01-02 12:00:00+02:00\n",
    )
    data = load_ratings_file(path)
    assert data.timestamps is not None
    assert data.timestamps.tolist() == [1577836800, 1577959200, 1577959200]
    assert data.timestamps.dtype == np.int64


def test_parquet_with_timestamp_type_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    table = pa.table(
        {
            "u": pa.array(["x", "y", "x"]),
            "i": pa.array([7, 7, 8], pa.int64()),
            "r": pa.array([1.0, 2.0, 3.0]),
            "t": pa.array(pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]).values),
        }
    )
    pq.write_table(table, path)
    items = _write(tmp_path / "items.csv", 'id,name,tags\n7,"Seven, The (1995)",A|B\n8,Eight,C\n9,Unused,D\n')
    meta = read_item_metadata(items, title_col="name", genres_col="tags")
    assert meta.loc[7, "title"] == "Seven, The (1995)" and meta.loc[7, "year"] == 1995
    data = load_ratings_file(path, user_col="u", item_col="i", rating_col="r", timestamp_col="t", items=meta)
    assert data.timestamps is not None and data.timestamps.tolist() == [1577836800, 1577923200, 1578009600]
    assert data.titles([0, 1]) == ["Seven, The (1995)", "Eight"]
    assert data.item_metadata is not None and data.item_metadata["genres"].tolist() == ["A|B", "C"]


def test_parquet_by_magic_bytes_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "ratings.data"
    pq.write_table(pa.table({"user": [1, 2], "item": [3, 3], "rating": [4.0, 5.0]}), path)
    assert load_ratings_file(path).n_ratings == 2


def test_large_and_text_ids_widen(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{i % 7},3" for i in range(20_000))
    path = _write(tmp_path / "wide.csv", f"user,item,rating\n{rows}\n99999999999,5,4\nu-x,5,2\n")
    data = load_ratings_file(path)
    assert data.n_ratings == 20_002
    assert "99999999999" in set(data.user_ids.astype(str)) and "u-x" in set(data.user_ids.astype(str))


def test_gzip_csv(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "r.csv.gz"
    path.write_bytes(gzip.compress(b"user,item,rating\n1,2,3\n"))
    assert load_ratings_file(path).n_ratings == 1


def test_duplicates_warn_and_keep_latest(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.csv", "user,item,rating,timestamp\n1,2,3,20\n1,2,4,10\n1,3,5,30\n")
    with pytest.warns(DuplicateRatingsWarning, match="1 duplicate"):
        data = load_ratings_file(path)
    assert data.to_frame().values.tolist() == [[1, 2, 3.0, 20], [1, 3, 5.0, 30]]
    with pytest.raises(DataError, match="duplicate"):
        load_ratings_file(path, duplicates="error")


# --------------------------------------------------------------------------- bad input
def test_missing_file_suggests_close_name(tmp_path: Path) -> None:
    _write(tmp_path / "ratings.csv", "user,item\n1,2\n")
    with pytest.raises(DataError, match=r"'.*ratngs.csv' does not exist.*Did you mean '.*ratings.csv'"):
        load_ratings_file(tmp_path / "ratngs.csv")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"empty.csv' is empty \(0 bytes\)"):
        load_ratings_file(_write(tmp_path / "empty.csv", ""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data rows"):
        load_ratings_file(_write(tmp_path / "h.csv", "user,item,rating\n"))


def test_misnamed_column_lists_columns_and_option(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "uid,iid,rating\n1,2,3\n")
    with pytest.raises(
        DataError, match=r"no user column 'user'; the file's columns are \['uid', 'iid', 'rating'\].*user_col='uid'"
    ):
        load_ratings_file(path)
    with pytest.raises(DataError, match=r"no item column 'item'.*item_col='iid'"):
        load_ratings_file(path, user_col="uid")
    with pytest.raises(DataError, match=r"no rating column 'stars'.*rating_col=None for implicit"):
        load_ratings_file(path, user_col="uid", item_col="iid", rating_col="stars")
    with pytest.raises(DataError, match=r"no timestamp column 'when'"):
        load_ratings_file(path, user_col="uid", item_col="iid", timestamp_col="when")


def test_default_rating_missing_with_other_columns_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,value\n1,2,3\n")
    with pytest.raises(DataError, match=r"no rating column 'rating'.*rating_col='value'"):
        load_ratings_file(path)
    aliased = _write(tmp_path / "s.csv", "user,item,score\n1,2,3\n")  # a common name is taken as the rating
    assert load_ratings_file(aliased).ratings is not None


def test_headerless_file_hint(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "1,2,3.5\n4,5,1\n")
    with pytest.raises(DataError, match="looks like data, not column names"):
        load_ratings_file(path)


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\\\t'"), ("|", "'\\|'")])
def test_wrong_delimiter(tmp_path: Path, sep: str, shown: str) -> None:
    path = _write(tmp_path / "r.csv", f"user{sep}item{sep}rating\n1{sep}2{sep}3\n")
    with pytest.raises(DataError, match=rf"looks like it is separated by {shown}.* — pass sep={shown}"):
        load_ratings_file(path)


def test_bad_sep_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"sep='::' is not one character"):
        load_ratings_file(_write(tmp_path / "r.csv", "user,item\n1,2\n"), sep="::")


def test_non_utf8_names_line_and_offset(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", "user,item,rating\n1,2,3\n1,Caf\xe9,4\n".encode("latin-1"))
    with pytest.raises(
        DataError, match=r"latin.csv, line 3: not UTF-8 text: byte e9 at byte offset 28.*re-encode it as UTF-8"
    ):
        load_ratings_file(path)
    assert find_invalid_utf8(path) == (28, 3, b"\xe9")


def test_non_utf8_in_numeric_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", b"user,item,rating\n1,2,3\n\xff1,3,4\n")
    with pytest.raises(DataError, match=r"line 3: not UTF-8 text: byte ff at byte offset 23"):
        load_ratings_file(path)


def test_non_utf8_header_and_utf16(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"line 1: not UTF-8"):
        load_ratings_file(_write(tmp_path / "h.csv", b"us\xe9r,item\n1,2\n"))
    with pytest.raises(DataError, match="UTF-16"):
        load_ratings_file(_write(tmp_path / "u16.csv", "user,item\n1,2\n".encode("utf-16")))


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.csv", "\ufeffuser,item,rating\n1,2,3\n")
    assert load_ratings_file(path).n_ratings == 1


def test_non_numeric_rating_names_line_and_value(tmp_path: Path) -> None:
    rows = "".join(f"{i},1,3\n" for i in range(5000))
    path = _write(tmp_path / "r.csv", f"user,item,rating\n{rows}9,9,four\n")
    with pytest.raises(DataError, match=r"r.csv, line 5002, column 'rating': rating 'four' is not a number"):
        load_ratings_file(path)


def test_nan_rating(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\n1,2,3\n1,3,\n1,4,NaN\n")
    with pytest.raises(DataError, match=r"line 3, column 'rating': rating is missing \(NaN\) in 2 row"):
        load_ratings_file(path)


def test_rating_outside_scale(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\n1,2,3\n1,3,7\n")
    with pytest.raises(
        DataError, match=r"line 3, column 'rating': rating 7 is outside the scale 1-5.*rating_scale=\(LOW, HIGH\)"
    ):
        load_ratings_file(path, rating_scale=(1, 5))


def test_missing_user_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\n1,2,3\n,3,4\n")
    with pytest.raises(DataError, match=r"line 3, column 'user': user id is empty"):
        load_ratings_file(path)


def test_malformed_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\n1,2,3\n1,3\n")
    with pytest.raises(DataError, match=r"r.csv, line 3: malformed row '1,3': expected 3 fields separated by ','"):
        load_ratings_file(path)


def test_bad_iso_timestamp(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating,timestamp\n1,2,3,2020-01-01\n1,3,4,yesterday\n")
    with pytest.raises(
        DataError, match=r"line 3, column 'timestamp': timestamp 'yesterday' is neither Unix seconds nor an ISO"
    ):
        load_ratings_file(path)


def test_not_parquet(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.parquet", "user,item,rating\n1,2,3\n")
    with pytest.raises(DataError, match=r"r.parquet: is not a Parquet file \(it starts with b'user,item,rating'"):
        load_ratings_file(path)


def test_truncated_parquet(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"user": [1], "item": [2]}), path)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match=r"not a readable Parquet file.*truncated or corrupt"):
        load_ratings_file(path)


def test_parquet_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"uid": [1], "item": [2]}), path)
    with pytest.raises(DataError, match=r"no user column 'user'; the file's columns are \['uid', 'item'\]"):
        load_ratings_file(path)


def test_item_metadata_without_id_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "code,title\n1,A\n")
    with pytest.raises(DataError, match=r"no item id column.*columns are \['code', 'title'\]"):
        read_item_metadata(path)
    assert read_item_metadata(path, id_col="code").loc[1, "title"] == "A"


def test_text_ids_get_sorted_vocabularies(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating\nzed,y,1\nbob,x,2\namy,y,3\n")
    data = load_ratings_file(path)
    assert data.user_ids.tolist() == ["amy", "bob", "zed"] and data.item_ids.tolist() == ["x", "y"]
    assert data.to_frame()["user"].tolist() == ["zed", "bob", "amy"]


def test_loaded_arrays_are_writable_and_typed(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", "user,item,rating,timestamp\n1,2,3,10\n2,2,4,20\n")
    data = load_ratings_file(path)
    assert data.ratings is not None and data.timestamps is not None
    for arr, dtype in (
        (data.users, np.int32),
        (data.items, np.int32),
        (data.ratings, np.float32),
        (data.timestamps, np.int64),
    ):
        assert arr.dtype == dtype and arr.flags.writeable
